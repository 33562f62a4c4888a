//! Figures and sweeps: every kind of figure renders to PNG (the requested size, not blank) and
//! SVG (axis labels as text) with its CSV beside it; phase-diagram CSV values equal direct
//! steady-state computations; bad grids and options are errors before any work.

use std::path::Path;

use gstarve_core::error::{InputError, OutputError};
use gstarve_core::model::{Loss, PrimalDynamics, Regulariser};
use gstarve_core::reference::paper_toy;
use gstarve_core::simulation::figures::{
    FlowVsGdData, FlowVsGdSpec, GalleryData, GallerySpec, PhasePlaneData, PhasePlaneSpec,
    ResponsesData, ResponsesSpec, ToyFigureData, ToySpec,
};
use gstarve_core::solvers::steady::steady_state;
use gstarve_core::sweeps::{
    phase_diagram, starvation_matrix, Axis, GdGapOptions, Grid, Measure, Parameter,
    PhaseDiagramSpec, Progress, RotationFamily,
};
use gstarve_core::systems::{FeatureSystem, Spectrum};
use gstarve_core::theory::sensitivity::l2_sensitivity;
use gstarve_core::Error;
use gstarve_plot::{
    flow_vs_gd, gallery, phase_diagram_figure, phase_plane, responses, starvation_matrix_figure,
    toy_figure, FigureSize, FlowVsGdOptions, Formats, PhaseDiagramOptions, PhasePlaneOptions,
    ResponsesOptions, StarvationMatrixOptions, ToyFigureOptions, Written,
};

/// Decode the PNG, check its size, and check that it is not blank (luminance variance).
fn check_png(path: &Path, size: FigureSize) {
    let img = image::open(path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (size.width, size.height), "{path:?}");
    let lum: Vec<f64> = img
        .pixels()
        .map(|p| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64)
        .collect();
    let mean = lum.iter().sum::<f64>() / lum.len() as f64;
    let var = lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lum.len() as f64;
    assert!(var > 100.0, "{path:?} looks blank (variance {var})");
    let coloured = img
        .pixels()
        .filter(|p| p[0].abs_diff(p[1]) > 40 || p[1].abs_diff(p[2]) > 40)
        .count();
    assert!(
        coloured > 500,
        "{path:?} has almost no colour ({coloured} pixels)"
    );
}

/// Check every file of a figure: PNG, SVG with the labels as text, CSV with a header.
fn check_written(written: &Written, size: FigureSize, labels: &[&str]) {
    assert_eq!(written.images.len(), 2);
    check_png(&written.images[0], size);
    let svg = std::fs::read_to_string(&written.images[1]).unwrap();
    assert!(svg.starts_with("<svg"), "not an SVG");
    for label in labels {
        assert!(svg.contains(label), "SVG lacks the text {label:?}");
    }
    let csv = std::fs::read_to_string(&written.data).unwrap();
    assert!(csv.lines().count() > 2);
    // Every file was renamed into place: no temporary files are left behind.
    let dir = written.data.parent().unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(!name.ends_with(".tmp"), "temporary file {name} left behind");
    }
}

fn small_grid(measure: Measure) -> PhaseDiagramSpec {
    PhaseDiagramSpec {
        grid: Grid {
            x: Axis::linear(Parameter::Ratio, 1.0, 5.0, 14),
            y: Axis::linear(Parameter::Coupling, 0.05, 0.95, 11),
            fixed: RotationFamily {
                lambda: 0.01,
                weak_strength: 2.0,
                ..Default::default()
            },
        },
        measure,
        learning: Default::default(),
    }
}

#[test]
fn phase_plane_renders_with_field_and_nullclines() {
    let dir = tempfile::tempdir().unwrap();
    let spec = PhasePlaneSpec {
        t_end: 40.0,
        ..Default::default()
    };
    let data = PhasePlaneData::compute(&paper_toy(4.0), &spec).unwrap();
    let options = PhasePlaneOptions {
        formats: Formats::BOTH,
        ..Default::default()
    };
    let w = phase_plane(&data, dir.path(), &options).unwrap();
    check_written(
        &w,
        FigureSize::COLUMN,
        &["response z₁", "response z₂", "nullcline"],
    );
    let csv = std::fs::read_to_string(&w.data).unwrap();
    for series in [
        "flow,",
        "gd,",
        "dual,",
        "sd,",
        "steady-l2,",
        "nullcline-a,",
        "field,",
    ] {
        assert!(csv.contains(series), "CSV lacks {series}");
    }
    // The marked L2 steady state is docs/theory.md §6.2's.
    let line = csv.lines().find(|l| l.starts_with("steady-l2,")).unwrap();
    let cols: Vec<&str> = line.split(',').collect();
    assert!((cols[4].parse::<f64>().unwrap() - 7.812049).abs() < 1e-6);
    assert!((cols[5].parse::<f64>().unwrap() - 1.466814).abs() < 1e-6);
}

#[test]
fn phase_plane_field_needs_two_features() {
    let dir = tempfile::tempdir().unwrap();
    let sys = FeatureSystem::random(3, Spectrum::Geometric { from: 3.0, to: 1.0 }, 2).unwrap();
    // Compute, then draw: a spec the system cannot satisfy fails before anything is drawn.
    let render = |spec: &PhasePlaneSpec| {
        PhasePlaneData::compute(&sys, spec)
            .and_then(|data| phase_plane(&data, dir.path(), &PhasePlaneOptions::default()))
    };
    let err = render(&PhasePlaneSpec::default()).unwrap_err();
    assert!(matches!(
        err,
        Error::Input(InputError::NotTwoFeatures { rank: 3, .. })
    ));
    let err = render(&PhasePlaneSpec {
        responses: (0, 5),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        Error::Input(InputError::ResponseOutOfRange { index: 6, rank: 3 })
    ));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn responses_render_in_log_time() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ResponsesSpec {
        t_end: 30.0,
        log_time: true,
        ..Default::default()
    };
    let data = ResponsesData::compute(&paper_toy(3.0), &spec).unwrap();
    let options = ResponsesOptions {
        formats: Formats::BOTH,
        ..Default::default()
    };
    let w = responses(&data, dir.path(), &options).unwrap();
    check_written(&w, FigureSize::COLUMN, &["learning time τ", "response z"]);
}

#[test]
fn phase_diagram_renders_and_its_csv_matches_direct_steady_states() {
    let dir = tempfile::tempdir().unwrap();
    let diagram = phase_diagram(&small_grid(Measure::Elasticity), Progress::Hidden).unwrap();
    let options = PhaseDiagramOptions {
        formats: Formats::BOTH,
        ..Default::default()
    };
    let w = phase_diagram_figure(&diagram, dir.path(), &options).unwrap();
    check_written(
        &w,
        FigureSize::COLUMN,
        &["strength ratio r", "coupling δ", "E₂₁"],
    );
    let csv = std::fs::read_to_string(&w.data).unwrap();
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('r'))
        .map(|l| {
            l.split(',')
                .map(|c| c.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 14 * 11);
    for &k in &[0, 17, 60, 99, 153] {
        let row = &rows[k];
        let (r, delta) = (row[0], row[1]);
        let sys = FeatureSystem::rotation(2.0 * r, 2.0, delta).unwrap();
        let d =
            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let z = steady_state(&d).unwrap().responses;
        assert!((row[4] - z[0]).abs() < 1e-10 && (row[5] - z[1]).abs() < 1e-10);
        let e = l2_sensitivity(&sys, 0.01).unwrap().elasticities[(1, 0)].unwrap();
        assert!(
            (row[2] - e).abs() < 1e-10 * e.abs().max(1.0),
            "{} vs {e}",
            row[2]
        );
    }
}

#[test]
fn starvation_ratio_diagram_matches_scipy_baseline_corners() {
    // scipy_baseline.py phase (fsolve, xtol 1e-12): ρ at (r, δ) = (5, 0.05) and (5, 0.95).
    let spec = PhaseDiagramSpec {
        grid: Grid {
            x: Axis::linear(Parameter::Ratio, 1.0, 5.0, 2),
            y: Axis::linear(Parameter::Coupling, 0.05, 0.95, 2),
            fixed: RotationFamily {
                lambda: 0.01,
                weak_strength: 2.0,
                ..Default::default()
            },
        },
        measure: Measure::StarvationRatio,
        learning: Default::default(),
    };
    let d = phase_diagram(&spec, Progress::Hidden).unwrap();
    assert!((d.value(0, 0) - 1.0).abs() < 1e-12);
    assert!((d.value(1, 0) - 0.9754362094953115).abs() < 1e-9);
    assert!((d.value(1, 1) - 0.5442436816038804).abs() < 1e-9);
}

#[test]
fn learning_time_diagram_renders_with_sequential_colours() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = small_grid(Measure::LearningTime);
    spec.grid.x.points = 4;
    spec.grid.y.points = 3;
    let diagram = phase_diagram(&spec, Progress::Hidden).unwrap();
    assert!(diagram
        .points
        .iter()
        .all(|p| p.value > 0.0 && p.resolution > 0.0));
    let w = phase_diagram_figure(
        &diagram,
        dir.path(),
        &PhaseDiagramOptions {
            formats: Formats::BOTH,
            log_colour: true,
            ..Default::default()
        },
    )
    .unwrap();
    check_written(&w, FigureSize::COLUMN, &["τ₉₀"]);
}

#[test]
fn starvation_matrix_renders() {
    let dir = tempfile::tempdir().unwrap();
    let sys = FeatureSystem::random(4, Spectrum::Geometric { from: 4.0, to: 0.5 }, 3).unwrap();
    let m = starvation_matrix(&sys, 0.05).unwrap();
    let options = StarvationMatrixOptions {
        formats: Formats::BOTH,
        ..Default::default()
    };
    let w = starvation_matrix_figure(&m, dir.path(), &options).unwrap();
    check_written(
        &w,
        FigureSize::COLUMN,
        &["response zⱼ", "feature i made stronger"],
    );
}

#[test]
fn flow_vs_gd_renders() {
    let dir = tempfile::tempdir().unwrap();
    let spec = FlowVsGdSpec {
        etas: Some(vec![0.004, 0.02, 0.1]),
        gap: GdGapOptions {
            t_end: 10.0,
            samples: 51,
            ..Default::default()
        },
        ..Default::default()
    };
    let data = FlowVsGdData::compute(&paper_toy(4.0), &spec).unwrap();
    let options = FlowVsGdOptions {
        formats: Formats::BOTH,
        ..Default::default()
    };
    let w = flow_vs_gd(&data, dir.path(), &options).unwrap();
    check_written(&w, FigureSize::COLUMN, &["step size η"]);
}

#[test]
fn toy_figure_renders_both_panels() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ToySpec {
        ls: vec![2.0, 5.0],
        steps: 400,
        ..Default::default()
    };
    let data = ToyFigureData::compute(&spec).unwrap();
    let options = ToyFigureOptions {
        formats: Formats::BOTH,
        ..Default::default()
    };
    let w = toy_figure(&data, dir.path(), &options).unwrap();
    check_written(
        &w,
        FigureSize::PAGE,
        &[
            "|z₁| (strong feature)",
            "|z₂| (weak feature)",
            "dual (dotted)",
            "SD (dashed)",
        ],
    );
}

#[test]
fn gallery_writes_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let spec = GallerySpec {
        grid_points: 12,
        seed: 1,
    };
    let data = GalleryData::compute(&spec).unwrap();
    let written = gallery(&data, dir.path(), Formats::PNG).unwrap();
    assert_eq!(written.len(), 7);
    for w in &written {
        assert!(w.images[0].exists() && w.data.exists());
    }
}

#[test]
fn no_format_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let diagram = phase_diagram(&small_grid(Measure::StarvationRatio), Progress::Hidden).unwrap();
    let options = PhaseDiagramOptions {
        formats: Formats {
            png: false,
            svg: false,
            pdf: false,
        },
        ..Default::default()
    };
    let err = phase_diagram_figure(&diagram, dir.path(), &options).unwrap_err();
    assert!(matches!(
        err,
        Error::Output(OutputError::NoOutputFormat { .. })
    ));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert_eq!("png,svg".parse::<Formats>().unwrap(), Formats::BOTH);
    assert!("gif".parse::<Formats>().is_err());
}

#[test]
fn bad_grids_are_rejected_before_any_work() {
    let base = small_grid(Measure::Elasticity);
    let with = |x: Axis, y: Axis| PhaseDiagramSpec {
        grid: Grid { x, y, ..base.grid },
        ..base
    };
    let r = |a, b, n| Axis::linear(Parameter::Ratio, a, b, n);
    let d = |a, b, n| Axis::linear(Parameter::Coupling, a, b, n);
    let cases = [
        (with(r(5.0, 1.0, 10), d(0.1, 0.9, 10)), "empty"),
        (with(r(1.0, 5.0, 0), d(0.1, 0.9, 10)), "zero"),
        (with(r(1.0, 5.0, 5000), d(0.1, 0.9, 5000)), "large"),
        (with(r(1.0, 5.0, 10), d(0.1, 1.5, 10)), "domain"),
        (with(r(1.0, 5.0, 10), r(1.0, 5.0, 10)), "duplicate"),
    ];
    for (spec, what) in cases {
        let start = std::time::Instant::now();
        let err = phase_diagram(&spec, Progress::Hidden).unwrap_err();
        assert!(
            start.elapsed().as_millis() < 50,
            "{what}: validation did work"
        );
        let ok = match what {
            "empty" => matches!(err, Error::Input(InputError::EmptyRange { .. })),
            "zero" => matches!(
                err,
                Error::Input(InputError::TooFewPoints { points: 0, .. })
            ),
            "large" => matches!(
                err,
                Error::Input(InputError::GridTooLarge {
                    points: 25_000_000,
                    ..
                })
            ),
            "domain" => matches!(err, Error::Input(InputError::InvalidParameter { .. })),
            _ => matches!(err, Error::Input(InputError::DuplicateAxis { .. })),
        };
        assert!(ok, "{what}: {err}");
    }
}

#[test]
fn progress_callback_counts_every_row() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = AtomicUsize::new(0);
    let last_total = AtomicUsize::new(0);
    let callback = |_done: usize, total: usize| {
        calls.fetch_add(1, Ordering::Relaxed);
        last_total.store(total, Ordering::Relaxed);
    };
    phase_diagram(
        &small_grid(Measure::Elasticity),
        Progress::Callback(&callback),
    )
    .unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 11);
    assert_eq!(last_total.load(Ordering::Relaxed), 11);
}
