//! `gstarve reproduce ood` on a reduced run: the files it promises, the shortcut ERM learns
//! (colour), and the colour feature's place in the feature system at initialisation.

use crate::support::gstarve;

#[test]
fn reduced_ood_run_learns_the_colour_shortcut_and_finds_the_colour_feature() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().to_str().unwrap();
    let res = gstarve(&[
        "reproduce",
        "ood",
        "--restarts",
        "2",
        "--methods",
        "erm,sd",
        "--steps-scale",
        "0.3",
        "--feature-examples",
        "120",
        "--format",
        "png",
        "--json",
        "--out",
        o,
    ]);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    let methods = v["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 2);
    let erm = &methods[0];
    assert_eq!(erm["method"], "erm");
    assert_eq!(erm["steps"], 300);
    let (train, test) = (
        erm["train_accuracy"].as_f64().unwrap(),
        erm["test_accuracy"].as_f64().unwrap(),
    );
    // ERM follows the colour: near the colour's training agreement (85 %) on the training
    // environments, far below chance on the test environment, where colour disagrees with the
    // label on 90 % of the examples.
    assert!(train > 0.8, "ERM train accuracy {train}");
    assert!(test < 0.35, "ERM test accuracy {test}");
    assert!(train - test > 0.45, "ERM: train {train}, test {test}");
    // The colour agreement the environments were built with (e = 0.1, 0.2 and 0.9).
    let agree = v["colour_agreement_test"].as_f64().unwrap();
    assert!((agree - 0.1).abs() < 0.04, "test colour agreement {agree}");
    // At initialisation the colour is one feature of the network's system, among the
    // strongest, and almost purely colour.
    let f = &v["features"];
    assert_eq!(f["examples"], 120);
    assert_eq!(f["parameters"], 128 * 100 + 100 + 100 * 100 + 100 + 100 + 1);
    let j = f["colour_feature"].as_u64().unwrap();
    assert!(j <= 3, "colour feature j = {j}");
    assert!(f["colour_share"].as_f64().unwrap() > 0.8, "{f}");
    // The hand-written Jacobian agrees with candle's backward pass (f32 against f64).
    assert!(f["jacobian_check"].as_f64().unwrap() < 1e-5, "{f}");
    // Under SD the starvation entries vanish (r = n: the steady state ignores S).
    assert!(f["sd_max_abs_elasticity"].as_f64().unwrap() < 1e-6, "{f}");
    for name in ["ood-accuracy.png", "ood-accuracy.csv", "ood-features.csv"] {
        assert!(dir.path().join(name).exists(), "{name} missing");
    }
    let csv = std::fs::read_to_string(dir.path().join("ood-accuracy.csv")).unwrap();
    assert!(csv.starts_with("method,train_accuracy,train_accuracy_std,test_accuracy,"));
    assert_eq!(csv.lines().count(), 3);
}

#[test]
fn bad_ood_options_are_one_line_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    for (args, needle) in [
        (vec!["--restarts", "0"], "--restarts = 0"),
        (vec!["--methods", "erm,gd"], "unknown method 'gd'"),
        (vec!["--steps-scale", "2"], "--steps-scale = 2"),
        (vec!["--class-targets", "1"], "takes two"),
        (
            vec!["--feature-examples", "5000"],
            "feature_examples = 5000",
        ),
    ] {
        let mut full = vec!["reproduce", "ood"];
        full.extend(&args);
        full.extend(["--out", o]);
        let res = gstarve(&full);
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{full:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{full:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{full:?}: '{needle}' not in {stderr}"
        );
        assert!(!out.exists(), "{full:?} wrote {o}");
    }
}
