//! `reproduce remedies` (the paper's Figure 3): the claim "only SD curves the boundary" on a
//! reduced run, the command's files and JSON, and its rejections.

use super::support::{assert_rejected, gstarve};

use gstarve_core::sweeps::Progress;
use gstarve_net::experiments::remedies::{remedies_experiment, RemediesSpec, Remedy};

/// The paper's claim at the paper's setting (the defaults, seed 0: the run committed in
/// plots/remedies/, SD 0.226 against at most 0.122). Ignored by default: about 90 s of CPU
/// (`cargo test --release --test interfaces -- --ignored remedies`).
///
/// On a reduced run (2 seeds, width 100, the deeper network 5 × 100, 500 epochs) the claim does
/// **not** hold, measured 2026-12-05: SD 0.098 against Adam 10⁻⁴ 0.282 (not converged at 500
/// epochs), dropout 0.144, Adam 3·10⁻³ 0.135, deeper 0.127, weight decay 0.112, none 0.089,
/// rotation 0.087, BatchNorm 0.061, longer 0.057. So the claim is tested where it is made.
#[test]
#[ignore = "the paper's setting: about 90 s of CPU"]
fn only_sd_curves_the_boundary_at_the_papers_setting() {
    let spec = RemediesSpec {
        seeds: 1,
        grid_points: 11,
        ..RemediesSpec::default()
    };
    let exp = remedies_experiment(&spec, Progress::Hidden).unwrap();
    let shares: Vec<(String, f64)> = exp
        .panels
        .iter()
        .map(|p| (p.remedy.name(), p.share().0))
        .collect();
    let sd = exp
        .panels
        .iter()
        .find(|p| matches!(p.remedy, Remedy::SpectralDecoupling(_)))
        .unwrap()
        .share()
        .0;
    for (name, share) in &shares {
        if !name.starts_with("sd") {
            assert!(
                sd > *share,
                "SD's x₂ share {sd} is not above {name}'s {share}: {shares:?}"
            );
        }
    }
    for p in &exp.panels {
        assert!(
            p.accuracy().0 >= 0.99,
            "{}: {:?}",
            p.remedy.name(),
            p.accuracy()
        );
    }
}

/// All ten panels reduced (2 seeds, width 100, deeper 5 × 100, 500 epochs): every network nearly
/// fits the separable data (Adam at 10⁻⁴ is not converged at 500 epochs: 0.975, measured) and
/// every share is a fraction.
#[test]
fn every_remedy_runs_and_fits_on_a_reduced_run() {
    let spec = RemediesSpec {
        remedies: Remedy::paper()
            .into_iter()
            .map(|r| match r {
                Remedy::Deeper { layers, .. } => Remedy::Deeper { layers, width: 100 },
                r => r,
            })
            .collect(),
        seeds: 2,
        width: 100,
        epochs: 500,
        grid_points: 11,
        ..RemediesSpec::default()
    };
    let exp = remedies_experiment(&spec, Progress::Hidden).unwrap();
    assert_eq!(exp.panels.len(), 10);
    for p in &exp.panels {
        assert!(
            p.accuracy().0 >= 0.95,
            "{}: {:?}",
            p.remedy.name(),
            p.accuracy()
        );
        assert_eq!(p.runs.len(), 2);
        let (mean, _, min, max) = p.share();
        assert!(
            0.0 < min && max < 1.0 && min <= mean,
            "{}: {mean}",
            p.remedy.name()
        );
    }
}

#[test]
fn remedies_command_writes_the_figures_and_one_row_per_panel() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().to_str().unwrap();
    let res = gstarve(&[
        "reproduce",
        "remedies",
        "--panels",
        "a,h,i,j",
        "--seeds",
        "1",
        "--epochs",
        "60",
        "--width",
        "16",
        "--deep-layers",
        "3",
        "--deep-width",
        "8",
        "--n",
        "40",
        "--grid",
        "9",
        "--format",
        "png,svg",
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
    let panels = v["panels"].as_array().unwrap();
    let names: Vec<&str> = panels.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["none", "batchnorm", "deeper-3x8", "sd-0.003"]);
    assert_eq!(panels[2]["engine"], "candle");
    assert_eq!(panels[0]["engine"], "hand-written");
    assert_eq!(panels[1]["engine"], "hand-written-mlp");
    for stem in ["remedies", "remedies-boundary"] {
        for ext in ["png", "svg", "csv", "csv.json"] {
            let f = dir.path().join(format!("{stem}.{ext}"));
            assert!(f.exists(), "{f:?} missing");
        }
    }
    let text = std::fs::read_to_string(dir.path().join("remedies.csv")).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    let col = |name| header.iter().position(|h| *h == name).unwrap();
    for (row, panel) in rows.iter().zip(panels) {
        let share: f64 = row[col("x2_share_mean")].parse().unwrap();
        assert!(
            (share - panel["x2_share_mean"].as_f64().unwrap()).abs() < 1e-6 * share.abs().max(1e-3)
        );
        assert!((0.0..=1.0).contains(&share));
    }
    assert_eq!(rows[2][col("layers")], "3");
    assert_eq!(rows[1][col("batch_norm")], "true");
    // The boundary CSV: 9 × 9 grid values and 40 points per panel.
    let boundary = std::fs::read_to_string(dir.path().join("remedies-boundary.csv")).unwrap();
    let data = boundary.lines().filter(|l| !l.starts_with('#')).count() - 1;
    assert_eq!(data, 4 * (81 + 40));
}

#[test]
fn remedies_command_rejects_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    for (args, needle) in [
        (vec!["--panels", "z"], "'z' is not a panel"),
        (vec!["--panels", "a,a"], "'a' is given twice"),
        (vec!["--seeds", "0"], "--seeds = 0"),
        (vec!["--deep-layers", "1"], "layers"),
        (vec!["--lr", "-1"], "--lr = -1"),
        (vec!["--format", "bmp"], "unknown format 'bmp'"),
    ] {
        let mut full = vec!["reproduce", "remedies"];
        full.extend(&args);
        full.extend(["--out", o]);
        assert_rejected(&full, &[needle]);
        assert!(!out.exists(), "{full:?} wrote {o}");
    }
}
