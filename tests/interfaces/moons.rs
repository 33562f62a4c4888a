//! The two-moons experiment and the width sweep: their numbers on small
//! configurations, their CSVs and figures, and the command line's rejections. (The network core
//! — Jacobian, trainer, one width's linearisation gap — is tested in [`super::network`].)

use super::support::gstarve;
use std::path::Path;

use gstarve_core::sweeps::Progress;
use gstarve_net::experiments::{
    linearisation_sweep, moons_experiment, LinearisationSpec, MoonsExperiment, MoonsSetting,
    MoonsSpec,
};
use gstarve_net::network::{NetworkOptions, Parameterisation, TrainOptions, TwoLayerRelu};
use gstarve_plot::{moons_figures, width_figures, Formats, MoonsFigureOptions, Written};

/// Width 100, 3 seeds, 1500 epochs of the paper's optimiser: 9 runs, about a second; the
/// boundaries at epochs 0 and 1500 on a 41² grid.
fn small_experiment() -> MoonsExperiment {
    let spec = MoonsSpec {
        boundary_epochs: vec![0, 1500],
        settings: MoonsSetting::paper(0.003),
        seeds: 3,
        network: NetworkOptions {
            width: 100,
            parameterisation: Parameterisation::PyTorch,
            seed: 0,
            zero_output: false,
        },
        training: TrainOptions {
            epochs: 1500,
            record_every: 50,
            ..TrainOptions::default()
        },
        grid_points: 41,
        ..MoonsSpec::default()
    };
    moons_experiment(&spec, Progress::Hidden).unwrap()
}

fn small_sweep(widths: Vec<usize>) -> gstarve_net::experiments::LinearisationSweep {
    let spec = LinearisationSpec {
        widths,
        epochs: 300,
        record_every: 10,
        ..LinearisationSpec::default()
    };
    linearisation_sweep(&spec, Progress::Hidden).unwrap()
}

/// Decode the PNG: the expected size, not blank, some colour.
fn check_png(path: &Path, size: (u32, u32)) {
    let img = image::open(path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), size, "{path:?}");
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
    assert!(coloured > 2000, "{path:?}: {coloured} coloured pixels");
}

/// The CSV's data lines (after `#` comments), split into fields, and its header.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

/// Equal to the 7 significant digits the CSVs keep.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * (1e-12 + b.abs())
}

#[test]
fn moons_experiment_shows_starvation_by_margin_and_sd_uses_the_curved_axis() {
    let exp = small_experiment();
    let [minus, plus, sd] = [&exp.settings[0], &exp.settings[1], &exp.settings[2]];
    assert_eq!(plus.setting.margin, 0.1);
    assert_eq!(sd.setting.spectral_decoupling, 0.003);
    // Every response ends positive (orientation), every run fits its data.
    for s in &exp.settings {
        assert_eq!(s.runs.len(), 3);
        assert_eq!(s.epochs.first(), Some(&0));
        assert_eq!(s.epochs.last(), Some(&1500));
        for r in &s.runs {
            assert!(r.responses.last().unwrap().iter().all(|&z| z >= 0.0));
            assert!(
                r.accuracy > 0.95,
                "{}: accuracy {}",
                s.setting.name,
                r.accuracy
            );
        }
    }
    let z = |s: &gstarve_net::experiments::SettingResult| s.final_means();
    let (zm, zp, zs) = (z(minus), z(plus), z(sd));
    eprintln!("final means: Δ−: {zm:.3?}\nΔ+: {zp:.3?}\nSD: {zs:.3?}");
    // Δ = +0.1: one feature (the most label-aligned of the leading five, feature 2; feature 1
    // is the mean-output mode, with (Uᵀ1)₁ ≈ 0) dominates every other response.
    let top = (0..5).max_by(|&a, &b| zp[a].total_cmp(&zp[b])).unwrap();
    assert_eq!(top, 1, "{zp:?}");
    for j in (0..5).filter(|&j| j != top) {
        assert!(zp[top] > 2.0 * zp[j], "feature {}: {zp:?}", j + 1);
    }
    let alignment = plus.mean_alignments();
    assert!(
        alignment[0].abs() < 0.3 && alignment[1] > 0.6,
        "{alignment:?}"
    );
    // Starvation by the margin: with the wider margin the dominant feature grows and the
    // runner-up (feature 3) falls behind it.
    assert!(zp[1] > zm[1], "{zp:?} vs {zm:?}");
    assert!(zp[2] / zp[1] < 0.8 * (zm[2] / zm[1]), "{zp:?} vs {zm:?}");
    // SD bounds the outputs: the dominant response is several times smaller ...
    assert!(zs[1] < 0.6 * zp[1], "{zs:?} vs {zp:?}");
    // ... while the weakest followed features (4 and 5, the starved ones) gain relative to it ...
    for j in [3, 4] {
        assert!(
            zs[j] / zs[1] > zp[j] / zp[1],
            "feature {}: SD {zs:?}, no SD {zp:?}",
            j + 1
        );
    }
    // ... and the network relies more on the curved axis x₂ (the starved feature).
    let (share_plus, share_sd) = (plus.mean_curved_share(), sd.mean_curved_share());
    eprintln!("x₂ share: no SD {share_plus:.3}, SD {share_sd:.3}");
    assert!(share_sd > 1.5 * share_plus, "{share_sd} vs {share_plus}");
    // The boundaries average the seeds' networks: at epoch 0 they are the mean of the three
    // initial networks (seed s draws the initialisation), evaluated here directly.
    let b0 = &plus.boundaries[0];
    assert_eq!((b0.epoch, b0.seeds, b0.x.len()), (0, 3, 41));
    let mut mean = nalgebra::DMatrix::<f64>::zeros(41, 41);
    for seed in 0..3 {
        let net = TwoLayerRelu::init(
            2,
            &NetworkOptions {
                width: 100,
                parameterisation: Parameterisation::PyTorch,
                seed,
                zero_output: false,
            },
        )
        .unwrap();
        mean += net.evaluate_grid((-2.0, 2.0), (-2.0, 2.0), 41, 41).unwrap() / 3.0;
    }
    assert!((&mean - &b0.output).amax() <= 1e-12 * mean.amax());
    // The last boundary is the end of training.
    let last = plus.final_boundary().unwrap();
    assert_eq!(last.epoch, 1500);
    // Bands are the statistics of the runs.
    let last = plus.bands.last().unwrap();
    let values: Vec<f64> = plus
        .runs
        .iter()
        .map(|r| *r.responses.last().unwrap().get(1).unwrap())
        .collect();
    let mean = values.iter().sum::<f64>() / 3.0;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0;
    assert!(close(last[1].mean, mean) && close(last[1].std, var.sqrt()));
    assert!(last[1].min <= last[1].mean && last[1].mean <= last[1].max);

    // Figures: decoded, sized, not blank; CSVs with the documented columns and the numbers.
    let dir = tempfile::tempdir().unwrap();
    let written = moons_figures(
        &exp,
        dir.path(),
        &MoonsFigureOptions {
            formats: Formats::BOTH,
            ..Default::default()
        },
    )
    .unwrap();
    // responses, boundary, features (Figure 2), and the reversal CSV.
    assert_eq!(written.len(), 4);
    check_png(&written[0].images[0], (3 * 640 + 330, 700));
    check_png(&written[1].images[0], (3 * 640 + 330, 2 * 660 + 40));
    check_png(&written[2].images[0], (1000 + 520, 720));
    assert!(written[3].images.is_empty());
    let svg = std::fs::read_to_string(&written[0].images[1]).unwrap();
    assert!(svg.contains("epoch") && svg.contains("mean ± 1 std"));
    let (header, rows) = read_csv(&written[0].data);
    let expected =
        "setting,margin,sd,epoch,tau,feature,strength_mean,alignment_mean,mean,std,min,max";
    assert_eq!(header.join(","), expected);
    assert_eq!(rows.len(), 3 * 5 * plus.epochs.len());
    let text = std::fs::read_to_string(&written[0].data).unwrap();
    // Plain CSV: the header first (the orientation note goes to the sidecar, written when the
    // command line installs a provenance).
    assert!(text.starts_with(expected), "{}", &text[..80]);
    let (c_set, c_ep, c_f, c_mean, c_std) = (
        column(&header, "setting"),
        column(&header, "epoch"),
        column(&header, "feature"),
        column(&header, "mean"),
        column(&header, "std"),
    );
    for (i, k) in [(0usize, 0usize), (10, 1), (plus.epochs.len() - 1, 3)] {
        let epoch = plus.epochs[i].to_string();
        let feature = (k + 1).to_string();
        let row = rows
            .iter()
            .find(|r| r[c_set] == plus.setting.name && r[c_ep] == epoch && r[c_f] == feature)
            .unwrap();
        let b = plus.bands[i][k];
        assert!(close(row[c_mean].parse().unwrap(), b.mean));
        assert!(close(row[c_std].parse().unwrap(), b.std));
    }
    let (header, rows) = read_csv(&written[1].data);
    assert_eq!(
        header.join(","),
        "setting,seed,kind,x1,x2,output,epoch,seeds"
    );
    // Three settings, each with 41² grid values at two epochs and its 300 points.
    assert_eq!(rows.len(), 3 * (2 * 41 * 41 + 300));
    let b = &sd.boundaries[1];
    assert_eq!((b.epoch, b.seeds), (1500, 3));
    let row = rows
        .iter()
        .filter(|r| r[0] == sd.setting.name && r[2] == "grid" && r[6] == "1500")
        .nth(41 * 20 + 7)
        .unwrap();
    let near = |text: &str, v: f64| (text.parse::<f64>().unwrap() - v).abs() < 1e-4;
    assert!(near(&row[3], b.x[7]) && near(&row[4], b.y[20]));
    let v: f64 = row[5].parse().unwrap();
    assert!((v - b.output[(20, 7)]).abs() <= 1e-5 * (1.0 + v.abs()));
}

#[test]
fn linearisation_gap_falls_with_width_and_the_table_matches() {
    let sweep = small_sweep(vec![50, 1000]);
    let (narrow, wide) = (&sweep.widths[0], &sweep.widths[1]);
    eprintln!(
        "gaps m=50: {:.3e} {:.3e} {:.3e}; m=1000: {:.3e} {:.3e} {:.3e}",
        narrow.response_gap_flow,
        narrow.response_gap_gd,
        narrow.output_gap_flow,
        wide.response_gap_flow,
        wide.response_gap_gd,
        wide.output_gap_flow
    );
    assert_eq!((narrow.parameters, narrow.rank), (201, 201));
    assert_eq!((wide.parameters, wide.rank), (4001, 300));
    assert!(wide.response_gap_flow < 0.25 * narrow.response_gap_flow);
    assert!(wide.response_gap_gd < 0.25 * narrow.response_gap_gd);
    assert!(wide.output_gap_flow < 0.25 * narrow.output_gap_flow);
    assert!(wide.response_gap_flow < 0.05);
    // Zero-output start: z(0) = 0 and the flow and GD start there too.
    assert!(wide.real[0].iter().all(|z| z.abs() < 1e-12));
    assert_eq!(wide.flow[0], wide.gd[0]);
    // The recorded τ is η·k/n.
    let last = wide.tau.len() - 1;
    assert!(close(wide.tau[last], 0.5 * 300.0 / 300.0));

    let dir = tempfile::tempdir().unwrap();
    let written: Vec<Written> =
        width_figures(&sweep, dir.path(), &MoonsFigureOptions::default()).unwrap();
    check_png(&written[0].images[0], (2 * 680 + 330, 700));
    check_png(&written[1].images[0], (900 + 330, 700));
    let (header, rows) = read_csv(&written[1].data);
    assert_eq!(
        header.join(","),
        "width,parameters,rank,s1,response_gap_flow,response_gap_gd,output_gap_flow,output_gap_gd,output_scale,final_loss,wall_s"
    );
    assert_eq!(rows.len(), 2);
    for (row, w) in rows.iter().zip(&sweep.widths) {
        assert_eq!(row[0], w.width.to_string());
        let at = |name| row[column(&header, name)].parse::<f64>().unwrap();
        assert!(close(at("response_gap_flow"), w.response_gap_flow));
        assert!(close(at("output_gap_gd"), w.output_gap_gd));
    }
    let (header, rows) = read_csv(&written[0].data);
    assert_eq!(header.join(","), "width,epoch,tau,feature,real,flow,gd");
    assert_eq!(rows.len(), 2 * wide.epochs.len() * 5);
    let row = rows
        .iter()
        .find(|r| r[0] == "1000" && r[1] == "150" && r[3] == "2")
        .unwrap();
    let i = wide.epochs.iter().position(|&e| e == 150).unwrap();
    assert!(close(row[4].parse().unwrap(), wide.real[i][1]));
    assert!(close(row[5].parse().unwrap(), wide.flow[i][1]));
}

#[test]
fn moons_commands_reject_bad_input_in_one_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["moons", "--seeds", "0"], "--seeds = 0"),
        (vec!["moons", "--width", "0"], "--width = 0"),
        (vec!["moons", "--epochs", "-5"], "--epochs = -5"),
        (vec!["moons", "--format", "bmp"], "unknown format 'bmp'"),
        (vec!["moons", "--responses", "0"], "--responses = 0"),
        (vec!["moons", "--responses", "400"], "z_400 does not exist"),
        (vec!["moons", "--lr", "-1"], "--lr = -1"),
        (vec!["moons", "--sd", "0"], "--sd = 0"),
        (vec!["moons-width", "--widths", "50,0"], "--widths = 0"),
        (vec!["moons-width", "--widths", "51"], "--widths = 51"),
        (vec!["moons-width", "--epochs", "-1"], "--epochs = -1"),
        (
            vec!["moons-width", "--format", "gif"],
            "unknown format 'gif'",
        ),
    ];
    for (args, needle) in cases {
        let mut full = vec!["reproduce"];
        full.extend(&args);
        full.extend(["--out", o]);
        let res = gstarve(&full);
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{full:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{full:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{full:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{full:?}: '{needle}' not in {stderr}"
        );
        assert!(!out.exists(), "{full:?} wrote {o}");
    }
}

#[test]
fn moons_width_command_prints_the_table_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().to_str().unwrap();
    let res = gstarve(&[
        "reproduce",
        "moons-width",
        "--widths",
        "20,100",
        "--epochs",
        "50",
        "--n",
        "60",
        "--json",
        "--out",
        o,
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    let widths = v["widths"].as_array().unwrap();
    assert_eq!(widths.len(), 2);
    assert_eq!(widths[1]["width"], 100);
    assert!(widths[1]["response_gap_flow"].as_f64().unwrap() >= 0.0);
    assert_eq!(v["settings"]["momentum"], 0.0);
    assert!(dir.path().join("moons-width.png").exists());
    assert!(dir.path().join("moons-width.csv").exists());
}
