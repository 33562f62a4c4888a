//! Phase plane: response z_a against z_b for a system under L2, with the exact flow, GD, the
//! dual path, the SD flow and the decoupled system's flow overlaid as chosen, steady states
//! marked, and for two features the direction field and the nullclines ż₁ = 0, ż₂ = 0.

use std::fmt::Write as _;
use std::path::Path;

use nalgebra::DVector;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Marker, Scale, Shape};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::contour::LabelledContour;
use super::direction_field::{
    draw_arrows, nullclines, sample, FieldSample, ARROW_GREY, FIELD_ARROWS,
};
use super::legend::{draw_legend, LegendEntry, Swatch};
use super::style::{okabe_ito, Dash, FigureSize};
use super::ticks::format_compact;
use gstarve_core::error::{Error, InputError, Result};
use gstarve_core::model::Regulariser;
use gstarve_core::reference::{TOY_ETA, TOY_LAMBDA_L2, TOY_LAMBDA_SD, TOY_STEPS};
use gstarve_core::simulation::paths as runs;
use gstarve_core::solvers::steady::steady_state;
use gstarve_core::systems::FeatureSystem;

/// Which runs to overlay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhasePlaneCurves {
    /// The exact L2 flow.
    pub flow: bool,
    /// Gradient descent under L2.
    pub gd: bool,
    /// The dual (Legendre) path of L2.
    pub dual: bool,
    /// The exact flow under Spectral Decoupling.
    pub sd: bool,
    /// The exact L2 flow of the decoupled system (U = I, same strengths); off by default, since
    /// its weak response is far larger than the coupled one and sets the scale.
    pub decoupled: bool,
}

impl Default for PhasePlaneCurves {
    fn default() -> Self {
        Self {
            flow: true,
            gd: true,
            dual: true,
            sd: true,
            decoupled: false,
        }
    }
}

/// Options of [`phase_plane`].
#[derive(Clone, Debug, PartialEq)]
pub struct PhasePlaneOptions {
    /// File stem (default `phase-plane`).
    pub name: String,
    /// The responses on the x and y axes, 0-based (default (0, 1): z₁ against z₂).
    pub responses: (usize, usize),
    /// L2 strength λ (default 0.01, the toy's).
    pub lambda: f64,
    /// SD strength λ (default 0.002, the toy's).
    pub sd_lambda: f64,
    /// Runs to overlay (default all but the decoupled system).
    pub curves: PhasePlaneCurves,
    /// GD step size η (default 0.05).
    pub eta: f64,
    /// Learning time of the flows and GD (default 250 = 5000 GD steps of 0.05, the toy's).
    pub t_end: f64,
    /// Own time of the dual flow (default 10; it converges long before).
    pub dual_t_end: f64,
    /// Draw the direction field (two-feature systems only; default true).
    pub vector_field: bool,
    /// Draw the nullclines ż₁ = 0 and ż₂ = 0 (two-feature systems only; default true).
    pub nullclines: bool,
    /// Plot window ((x₀, x₁), (y₀, y₁)) (default: the runs' extent, padded).
    pub window: Option<((f64, f64), (f64, f64))>,
    /// Pixel size (default one column).
    pub size: FigureSize,
    /// Image formats (default PNG).
    pub formats: Formats,
    /// Title (default: the strengths and λ).
    pub title: Option<String>,
}

impl Default for PhasePlaneOptions {
    fn default() -> Self {
        Self {
            name: "phase-plane".into(),
            responses: (0, 1),
            lambda: TOY_LAMBDA_L2,
            sd_lambda: TOY_LAMBDA_SD,
            curves: PhasePlaneCurves::default(),
            eta: TOY_ETA,
            t_end: TOY_ETA * TOY_STEPS as f64,
            dual_t_end: 10.0,
            vector_field: true,
            nullclines: true,
            window: None,
            size: FigureSize::COLUMN,
            formats: Formats::PNG,
            title: None,
        }
    }
}

const KEY_WIDTH: u32 = 290;

/// 1-based subscript digits: 12 → ₁₂.
pub(crate) fn subscript(n: usize) -> String {
    n.to_string()
        .bytes()
        .map(|d| char::from_u32(0x2080 + (d - b'0') as u32).unwrap_or('?'))
        .collect()
}

struct Series {
    name: &'static str,
    label: String,
    points: Vec<(f64, f64)>,
    tau: Vec<f64>,
    style: CurveStyle,
}

/// A steady state to mark: CSV name, legend label, position, marker.
struct SteadyMark {
    name: &'static str,
    label: String,
    at: (f64, f64),
    marker: Marker,
}

struct PhasePlanePlot {
    frame: Frame,
    title: String,
    series: Vec<Series>,
    steady: Vec<SteadyMark>,
    field: Vec<FieldSample>,
    nullclines: Vec<LabelledContour>,
}

impl Figure for PhasePlanePlot {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, _) = root.dim_in_pixel();
        let (plot, key) = root.split_horizontally(width - KEY_WIDTH);
        let mut chart = self.frame.chart(&plot, Some(&self.title), true)?;
        draw_arrows(&chart, &self.frame, &self.field)?;
        for n in &self.nullclines {
            for line in &n.lines {
                self.frame
                    .curve(&mut chart, line.iter().copied(), n.style)?;
            }
        }
        for s in &self.series {
            self.frame
                .curve(&mut chart, s.points.iter().copied(), s.style)?;
        }
        for s in &self.steady {
            self.frame.marker(&mut chart, s.at, s.marker)?;
        }
        let mut entries: Vec<LegendEntry> = self
            .series
            .iter()
            .map(|s| LegendEntry::new(s.label.clone(), Swatch::Line(s.style)))
            .collect();
        for s in &self.steady {
            entries.push(LegendEntry::new(s.label.clone(), Swatch::Marker(s.marker)));
        }
        for n in &self.nullclines {
            if !n.lines.is_empty() {
                entries.push(LegendEntry::new(n.label.clone(), Swatch::Line(n.style)));
            }
        }
        if !self.field.is_empty() {
            entries.push(LegendEntry::new(
                "direction of the L2 flow (equal-length arrows)",
                Swatch::Arrow(ARROW_GREY),
            ));
        }
        draw_legend(&key.margin(30, 10, 12, 6), &entries, 0)?;
        Ok(())
    }
}

fn pick(z: &[f64], (a, b): (usize, usize)) -> (f64, f64) {
    (z[a], z[b])
}

/// Draw the phase plane of `system` and write `<dir>/<name>.{png,svg,csv}` (CSV columns
/// `series,part,index,tau,z_a,z_b,dz_a,dz_b`: every run, steady state, nullcline point and
/// direction-field sample).
pub fn phase_plane(
    system: &FeatureSystem,
    dir: &Path,
    options: &PhasePlaneOptions,
) -> Result<Written> {
    let r = system.rank();
    let (a, b) = options.responses;
    for index in [a, b] {
        if index >= r {
            return Err(Error::Input(InputError::ResponseOutOfRange {
                index: index + 1,
                rank: r,
            }));
        }
    }
    if (options.vector_field || options.nullclines) && r != 2 {
        return Err(Error::Input(InputError::NotTwoFeatures {
            what: "the direction field and nullclines of the phase plane",
            rank: r,
        }));
    }
    let l2 = runs::logistic(
        system,
        Regulariser::L2 {
            lambda: options.lambda,
        },
    )?;
    let c = options.curves;
    let mut series = Vec::new();
    let mut add = |name, label: String, sol: gstarve_core::ode::OdeSolution, style| {
        series.push(Series {
            name,
            label,
            points: sol.states.iter().map(|z| pick(z, (a, b))).collect(),
            tau: sol.tau,
            style,
        });
    };
    let lam = format_compact(options.lambda);
    if c.flow {
        let sol = runs::flow(&l2, options.t_end, 2001, None)?;
        add(
            "flow",
            format!("L2 flow, λ\u{a0}=\u{a0}{lam}"),
            sol,
            CurveStyle::new(okabe_ito::BLUE, Dash::Solid),
        );
    }
    if c.gd {
        let sol = runs::gd(&l2, options.eta, options.t_end, 2001)?;
        let label = format!("L2 GD, η\u{a0}=\u{a0}{}", format_compact(options.eta));
        add(
            "gd",
            label,
            sol,
            CurveStyle::new(okabe_ito::VERMILLION, Dash::Dashed),
        );
    }
    if c.dual {
        let sol = runs::dual_path(&l2, options.dual_t_end)?;
        add(
            "dual",
            "L2 dual path".into(),
            sol,
            CurveStyle::new(okabe_ito::BLUISH_GREEN, Dash::Dotted),
        );
    }
    let sd_reg = Regulariser::SpectralDecoupling {
        lambda: options.sd_lambda,
    };
    let sd = runs::logistic(system, sd_reg)?;
    if c.sd {
        let sol = runs::flow(&sd, options.t_end, 2001, None)?;
        let label = format!(
            "SD flow, λ\u{a0}=\u{a0}{}",
            format_compact(options.sd_lambda)
        );
        add(
            "sd",
            label,
            sol,
            CurveStyle::new(okabe_ito::REDDISH_PURPLE, Dash::Sparse),
        );
    }
    let strengths: Vec<f64> = system.strengths().iter().copied().collect();
    let decoupled_system = FeatureSystem::decoupled(&strengths)?;
    let decoupled = runs::logistic(
        &decoupled_system,
        Regulariser::L2 {
            lambda: options.lambda,
        },
    )?;
    if c.decoupled {
        let sol = runs::flow(&decoupled, options.t_end, 2001, None)?;
        add(
            "decoupled",
            "decoupled system (U\u{a0}=\u{a0}I), L2 flow".into(),
            sol,
            CurveStyle::new(okabe_ito::ORANGE, Dash::Dashed),
        );
    }
    let mut steady = vec![SteadyMark {
        name: "steady-l2",
        label: "L2 steady state z*".to_string(),
        at: pick(steady_state(&l2)?.responses.as_slice(), (a, b)),
        marker: Marker::new(Shape::Circle, okabe_ito::BLACK, true),
    }];
    if c.sd {
        steady.push(SteadyMark {
            name: "steady-sd",
            label: "SD steady state".into(),
            at: pick(steady_state(&sd)?.responses.as_slice(), (a, b)),
            marker: Marker::new(Shape::Diamond, okabe_ito::REDDISH_PURPLE, true),
        });
    }
    if c.decoupled {
        steady.push(SteadyMark {
            name: "steady-decoupled",
            label: "decoupled steady state".into(),
            at: pick(steady_state(&decoupled)?.responses.as_slice(), (a, b)),
            marker: Marker::new(Shape::Square, okabe_ito::ORANGE, true),
        });
    }
    let window = options.window.unwrap_or_else(|| {
        let pts = series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .chain(steady.iter().map(|s| s.at))
            .chain(std::iter::once((0.0, 0.0)));
        padded_extent(pts)
    });
    let label = |k: usize| format!("response z{}", subscript(k + 1));
    let frame = Frame::new(
        AxisSpec::new(label(a), window.0 .0, window.0 .1, Scale::Linear),
        AxisSpec::new(label(b), window.1 .0, window.1 .1, Scale::Linear),
    );
    // F restricted to the plane of (z_a, z_b) (the whole state: the system has two features).
    let rhs = |x: f64, y: f64| {
        let mut z = DVector::zeros(2);
        z[a] = x;
        z[b] = y;
        let v = l2.rhs(&z);
        (v[a], v[b])
    };
    let field = if options.vector_field {
        sample(&frame, FIELD_ARROWS, rhs)
    } else {
        Vec::new()
    };
    let nullclines = if options.nullclines {
        nullclines(&frame, (a, b), rhs)
    } else {
        Vec::new()
    };
    let title = options.title.clone().unwrap_or_else(|| {
        let s: Vec<String> = strengths.iter().map(|&v| format_compact(v)).collect();
        format!("Phase plane, s\u{a0}=\u{a0}({})", s.join(", "))
    });
    let csv = phase_plane_csv(&series, &steady, &field, &nullclines);
    let plot = PhasePlanePlot {
        frame,
        title,
        series,
        steady,
        field,
        nullclines,
    };
    write_figure(
        &plot,
        dir,
        &options.name,
        options.size,
        options.formats,
        &csv,
    )
}

/// The bounding box of finite points, padded by 6 % on each side.
pub(crate) fn padded_extent(points: impl Iterator<Item = (f64, f64)>) -> ((f64, f64), (f64, f64)) {
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (x, y) in points.filter(|p| p.0.is_finite() && p.1.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let pad = |lo: f64, hi: f64| {
        let span = if hi > lo { hi - lo } else { 1.0 };
        (lo - 0.06 * span, hi + 0.06 * span)
    };
    (pad(x0, x1), pad(y0, y1))
}

fn phase_plane_csv(
    series: &[Series],
    steady: &[SteadyMark],
    field: &[FieldSample],
    nullclines: &[LabelledContour],
) -> String {
    let mut out = String::from("series,part,index,tau,z_a,z_b,dz_a,dz_b\n");
    for s in series {
        for (k, (p, t)) in s.points.iter().zip(&s.tau).enumerate() {
            let _ = writeln!(out, "{},0,{k},{t:e},{:e},{:e},,", s.name, p.0, p.1);
        }
    }
    for s in steady {
        let _ = writeln!(out, "{},0,0,,{:e},{:e},,", s.name, s.at.0, s.at.1);
    }
    for (k, n) in nullclines.iter().enumerate() {
        for (part, line) in n.lines.iter().enumerate() {
            for (i, p) in line.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "nullcline-{},{part},{i},,{:e},{:e},,",
                    ["a", "b"][k],
                    p.0,
                    p.1
                );
            }
        }
    }
    for (i, f) in field.iter().enumerate() {
        let (p, r) = (f.at, f.rate);
        let _ = writeln!(out, "field,0,{i},,{:e},{:e},{:e},{:e}", p.0, p.1, r.0, r.1);
    }
    out
}
