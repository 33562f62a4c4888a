//! The paper's two-moons claims on reduced runs: the reversal of its Figure 2, and Spectral
//! Decoupling with class targets on the real network settling each class at the steady margin
//! of docs/theory.md §10.1; the `reproduce moons-sd-classes` command's contract.

use super::support::gstarve;

use gstarve_core::sweeps::Progress;
use gstarve_net::experiments::{moons_experiment, reversal, MoonsSetting, MoonsSpec};
use gstarve_net::network::{ClassTargets, NetworkOptions, Parameterisation, TrainOptions};

fn network(width: usize) -> NetworkOptions {
    NetworkOptions {
        width,
        parameterisation: Parameterisation::PyTorch,
        seed: 0,
        zero_output: false,
    }
}

/// Width 100, 3 seeds, 6000 epochs of the paper's optimiser (9 runs, ~1.5 s of CPU): features 2
/// and 7 show the paper's reversal. At the full setting (width 500, 10 seeds, 10 000 epochs) the
/// committed plots/moons/moons-reversal.csv has margin 236 > overlap 136 > SD 56.2 and
/// overlap 24.5 > SD 15.4 > margin 5.3, in order at all 200 records; here (measured when the
/// test was written) margin 199 > overlap 136 > SD 58 and overlap 10.3 > SD 9.1 > margin 4.8,
/// the weak feature's order settling at epoch 4250 (at 2000–4000 epochs SD is still above the
/// overlap there: the overlap's z₇ keeps growing).
#[test]
fn figure_2_reversal_holds_on_a_reduced_run() {
    let spec = MoonsSpec {
        seeds: 3,
        network: network(100),
        training: TrainOptions {
            epochs: 6000,
            record_every: 50,
            ..TrainOptions::default()
        },
        boundary_epochs: vec![6000],
        grid_points: 11,
        ..MoonsSpec::default()
    };
    let exp = moons_experiment(&spec, Progress::Hidden).unwrap();
    let rev = reversal(&exp).expect("the paper's three settings and two overlay features");
    let [leading, weak] = &rev.features;
    eprintln!("{leading:?}\n{weak:?}");
    assert_eq!((leading.feature, weak.feature), (1, 6));
    assert_eq!(leading.observed, "margin > overlap > SD");
    assert_eq!(weak.observed, "overlap > SD > margin");
    assert!(rev.holds());
    // Not a photo finish: each gap is several percent of the smaller value.
    let gap = |a: f64, b: f64| (a - b) / b;
    let [o, m, s] = leading.finals;
    assert!(gap(m, o) > 0.2 && gap(o, s) > 0.5, "{:?}", leading.finals);
    let [o, m, s] = weak.finals;
    assert!(gap(o, s) > 0.04 && gap(s, m) > 0.3, "{:?}", weak.finals);
    // The leading feature's order is there from early on, the weak one's by the last third.
    assert!(leading.records_in_order as f64 >= 0.9 * leading.records as f64);
    assert!(weak.settled_from.is_some_and(|e| e <= 5000), "{weak:?}");
    // The finals are the mean |z| over the seeds.
    let sd = &exp.settings[2];
    let mean7 = sd
        .runs
        .iter()
        .map(|r| r.overlay.last().unwrap()[1])
        .sum::<f64>()
        / 3.0;
    assert!((mean7 - weak.finals[2]).abs() <= 1e-12 * mean7);
}

/// SD per class on the real network: with p = 401 > n = 60 parameters the network can zero every
/// example's residual, so without weight decay each example's margin settles where
/// σ(−m) = λ_c(m − γ_c), the r = n steady margin of docs/theory.md §10.1, computed independently
/// by gstarve-core; checked on each class's mean final margin (lr 0.1 so that the slow modes
/// settle within 6000 epochs). The authors' setting (λ = 0.4 each, γ = (−0.44, 2.5)) and an unequal one.
#[test]
fn class_targets_settle_each_class_at_its_steady_margin() {
    for targets in [
        ClassTargets::new([0.4, 0.4], [-0.44, 2.5]).unwrap(),
        ClassTargets::new([0.8, 0.2], [1.0, 0.5]).unwrap(),
    ] {
        let spec = MoonsSpec {
            settings: vec![MoonsSetting::with_class_targets(0.1, targets)],
            seeds: 2,
            n: 60,
            network: network(100),
            training: TrainOptions {
                epochs: 6000,
                learning_rate: 0.1,
                weight_decay: 0.0,
                spectral_decoupling: 0.0,
                record_every: 500,
                ..TrainOptions::default()
            },
            boundary_epochs: vec![6000],
            grid_points: 11,
            ..MoonsSpec::default()
        };
        let exp = moons_experiment(&spec, Progress::Hidden).unwrap();
        let steady = targets.steady_margins().map(Option::unwrap);
        for run in &exp.settings[0].runs {
            for (c, (&m, &s)) in run.class_margins.iter().zip(&steady).enumerate() {
                // Measured: within 1.2e-4–4.9e-4 (the slowest modes still settling; at lr 1e-2
                // and 4000 epochs the gap was 5e-3, at 16 000 epochs 2e-3).
                assert!((m - s).abs() < 1e-3, "{targets:?} class {c}: {m} vs {s}");
            }
        }
    }
}

#[test]
fn moons_sd_classes_writes_its_files_and_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().to_str().unwrap();
    let common = [
        "--seeds", "2", "--epochs", "300", "--width", "40", "--n", "60", "--grid", "11", "--out", o,
    ];
    let mut args = vec!["reproduce", "moons-sd-classes", "--json"];
    args.extend(common);
    let res = gstarve(&args);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    let settings = v["settings"].as_array().unwrap();
    assert_eq!(settings.len(), 2);
    assert_eq!(settings[1]["name"], "margin+0.1-sd-classes");
    // The authors' CelebA setting on 60 balanced points: λ_c = 2·0.1·60/30.
    let lambda: Vec<f64> = serde_json::from_value(settings[1]["class_lambda"].clone()).unwrap();
    assert!(lambda.iter().all(|l| (l - 0.4).abs() < 1e-12), "{lambda:?}");
    assert_eq!(settings[1]["class_target"], serde_json::json!([-0.44, 2.5]));
    assert!(settings[0]["class_lambda"].is_null());
    assert!(v["reversal"].is_null());
    for stem in ["responses", "boundary", "features"] {
        for ext in ["png", "csv"] {
            let f = dir.path().join(format!("moons-sd-classes-{stem}.{ext}"));
            assert!(f.exists(), "{f:?}");
        }
    }
    let text = std::fs::read_to_string(dir.path().join("moons-sd-classes-margins.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("setting,class,label,lambda,target,mean_margin,std_margin,steady_margin,accuracy")
    );
    assert_eq!(lines.count(), 4);

    let bad: [(&[&str], &str); 5] = [
        (&["--lambda", "0.1,0.2,0.3"], "--lambda has 3 values"),
        (&["--lambda", "-0.1"], "--lambda = -0.1"),
        (&["--sd-target", "nan"], "--sd-target = NaN"),
        (&["--sd", "0"], "--sd = 0"),
        (&["--boundary-epochs", "500"], "--boundary-epochs = 500"),
    ];
    let never = dir.path().join("never");
    for (extra, needle) in bad {
        let mut args = vec!["reproduce", "moons-sd-classes", "--epochs", "300"];
        args.extend(extra);
        args.extend(["--out", never.to_str().unwrap()]);
        let res = gstarve(&args);
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: '{needle}' not in {stderr}"
        );
        assert!(!never.exists());
    }
}
