//! Multi-class softmax systems on the command line (docs/theory.md §9): system files with
//! `classes` and `labels`, features and kernels with integer labels, `fixed-point --json`,
//! `simulate` (flow, GD; the dual refused), `check`'s binary reduction, and bad input refused in
//! one line.

use serde_json::Value;

use super::support::{assert_rejected, gstarve, write};

fn json(args: &[&str]) -> Value {
    let out = gstarve(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(numbers).collect()
}

/// The two-logit image of the paper's toy (U(δ = 0.5), s = (4, 2)), labels folded (class 1):
/// U_mc rows (i,0) = −U_i/√2, (i,1) = U_i/√2, S_mc = S/√2 (docs/theory.md §9.4).
fn toy_image_file(dir: &std::path::Path) -> String {
    let r = std::f64::consts::FRAC_1_SQRT_2;
    let c = (0.75f64).sqrt();
    let u = [[c, -0.5], [0.5, c]];
    let rows: Vec<String> = (0..2)
        .flat_map(|i| {
            [-1.0, 1.0].map(|side| format!("[{}, {}]", side * r * u[i][0], side * r * u[i][1]))
        })
        .collect();
    let text = format!(
        r#"{{"classes": 2, "labels": [1, 1], "strengths": [{}, {}], "u": [{}]}}"#,
        4.0 * r,
        2.0 * r,
        rows.join(", ")
    );
    write(dir, "image.json", &text)
}

/// `fixed-point --json` on the image gives z, logits and probabilities (n × c), sensitivities and
/// elasticities, and √2·z equals the binary toy's z* (L2), with equal elasticities.
#[test]
fn fixed_point_json_of_the_binary_image_reduces_to_the_binary_toy() {
    let d = tempfile::tempdir().unwrap();
    let image = toy_image_file(d.path());
    let mc = json(&[
        "fixed-point",
        "--system",
        &image,
        "--lambda",
        "0.01",
        "--json",
    ]);
    let bin = json(&[
        "fixed-point",
        "--strengths",
        "4,2",
        "--coupling",
        "0.5",
        "--lambda",
        "0.01",
        "--json",
    ]);
    let z_mc = numbers(&mc["z"]);
    let z = numbers(&bin["z"]);
    for j in 0..2 {
        let gap = (std::f64::consts::SQRT_2 * z_mc[j] - z[j]).abs();
        assert!(gap < 1e-9 * z[j].abs(), "z{j}: {gap:e}");
    }
    // docs/theory.md §6.2, l = 4: z* = (7.812049, 1.466814).
    assert!((z[0] - 7.812049).abs() < 1e-6 && (z[1] - 1.466814).abs() < 1e-6);
    let logits = matrix(&mc["logits"]);
    let probabilities = matrix(&mc["probabilities"]);
    assert_eq!((logits.len(), logits[0].len()), (2, 2));
    let margins = numbers(&mc["margins"]);
    for i in 0..2 {
        assert!((probabilities[i].iter().sum::<f64>() - 1.0).abs() < 1e-14);
        assert!((margins[i] - (logits[i][1] - logits[i][0])).abs() < 1e-12);
    }
    assert_eq!(mc["classes"], 2);
    assert!(mc["alpha"].is_null());
    assert!(mc["residual"].as_f64().unwrap() < 1e-10);
    assert!(mc["iterations"].as_u64().unwrap() > 0);
    let e_mc = matrix(&mc["elasticity"]);
    let e = matrix(&bin["elasticity"]);
    for j in 0..2 {
        for i in 0..2 {
            assert!((e_mc[j][i] - e[j][i]).abs() < 1e-8, "E_{j}{i}");
        }
    }
    assert!(e_mc[1][0] < 0.0, "the toy starves feature 2");
    assert_eq!(matrix(&mc["sensitivity"]).len(), 2);
}

/// Features with n rows and labels 0, 1, 2: a 3-class system (Φ ⊗ I_3); `simulate` runs the
/// flow to the Newton steady state and GD; the dual is refused; a class without examples is a
/// warning; `system` writes a multi-class file that reads back to the same steady state.
#[test]
fn features_with_integer_labels_make_a_softmax_system_that_simulates() {
    let d = tempfile::tempdir().unwrap();
    let phi = write(
        d.path(),
        "phi.csv",
        "1.0,0.2,0.0\n0.3,1.0,0.1\n0.0,0.4,1.2\n0.5,0.1,0.7\n",
    );
    let labels = write(d.path(), "y.csv", "0\n1\n2\n1\n");
    let src = ["--features", phi.as_str(), "--labels", labels.as_str()];
    let fp = json(&[&["fixed-point", "--json", "--lambda", "0.1"][..], &src].concat());
    assert_eq!(fp["classes"], 3);
    let z = numbers(&fp["z"]);
    assert_eq!(z.len(), 9, "3 features of Φ ⊗ I_3");
    let args = [
        &[
            "simulate",
            "--json",
            "--lambda",
            "0.1",
            "--methods",
            "flow,gd",
            "--t-end",
            "400",
            "--eta",
            "0.5",
            "--steps",
            "800",
            "--points",
            "3",
        ][..],
        &src,
    ]
    .concat();
    let sim = json(&args);
    let fixed = numbers(&sim["fixed_point"]["z"]);
    let flow = numbers(&sim["runs"][0]["z_final"]);
    for j in 0..9 {
        assert!((fixed[j] - z[j]).abs() < 1e-12 * z[j].abs().max(1.0));
        assert!(
            (flow[j] - z[j]).abs() < 1e-6 * z[j].abs().max(1.0),
            "flow z{j}"
        );
    }
    assert_eq!(sim["runs"][1]["method"], "gd");
    let dual = [&["simulate", "--methods", "flow,dual"][..], &src].concat();
    assert_rejected(&dual, &["dual", "not available", "softmax"]);

    // --classes 4: class 3 has no examples (a warning), the run succeeds.
    let out = gstarve(&[&["fixed-point", "--classes", "4"][..], &src].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("class 3 has no examples"), "{stderr}");

    let file = d.path().join("mc.json").to_string_lossy().into_owned();
    let out = gstarve(&[&["system", "--out", file.as_str()][..], &src].concat());
    assert_eq!(out.status.code(), Some(0));
    let back = json(&[
        "fixed-point",
        "--json",
        "--lambda",
        "0.1",
        "--system",
        &file,
    ]);
    let again = numbers(&back["z"]);
    for j in 0..9 {
        assert!((again[j] - z[j]).abs() < 1e-12 * z[j].abs().max(1.0));
    }
    // ±1 labels stay binary.
    let signs = write(d.path(), "s.csv", "1\n-1\n1\n-1\n");
    let bin = json(&[
        "fixed-point",
        "--json",
        "--features",
        &phi,
        "--labels",
        &signs,
    ]);
    assert!(bin.get("classes").is_none());
    assert_eq!(numbers(&bin["z"]).len(), 3);
}

#[test]
fn bad_multiclass_input_is_refused_in_one_line() {
    let d = tempfile::tempdir().unwrap();
    let phi = write(d.path(), "phi.csv", "1.0,0.2\n0.3,1.0\n0.1,0.4\n");
    let y = write(d.path(), "y.csv", "0\n3\n1\n");
    assert_rejected(
        &[
            "fixed-point",
            "--features",
            &phi,
            "--labels",
            &y,
            "--classes",
            "3",
        ],
        &["label y_2 = 3", "integer labels in 0..2"],
    );
    let y01 = write(d.path(), "y01.csv", "0\n1\n0\n");
    assert_rejected(
        &[
            "fixed-point",
            "--features",
            &phi,
            "--labels",
            &y01,
            "--classes",
            "1",
        ],
        &["classes = 1", "at least 2 classes"],
    );
    let y2 = write(d.path(), "y2.csv", "0\n2\n1\n");
    let wrong_rows = write(d.path(), "phi5.csv", "1,0\n0,1\n1,1\n0,2\n1,3\n");
    assert_rejected(
        &["fixed-point", "--features", &wrong_rows, "--labels", &y2],
        &["n·c rows"],
    );
    let file = write(
        d.path(),
        "bad.json",
        r#"{"classes": 2, "labels": [0, 1], "strengths": [1], "u": [[1], [0], [0]]}"#,
    );
    assert_rejected(
        &["fixed-point", "--system", &file],
        &["rows of u: 3 given, 4 expected"],
    );
    let image = toy_image_file(d.path());
    let out = d.path().to_string_lossy().into_owned();
    assert_rejected(
        &["flow-vs-gd", "--system", &image, "--out", &out],
        &["does not support multi-class systems yet"],
    );
    let both = write(
        d.path(),
        "both.json",
        r#"{"classes": 2, "labels": [0, 1], "strengths": [1, 2],
            "u": [[1, 0], [0, 1], [0, 0], [0, 0]]}"#,
    );
    assert_rejected(
        &["fixed-point", "--system", &both, "--loss", "squared"],
        &["softmax cross-entropy"],
    );
}

/// `check` on a 3-class system: the flow settles at the Newton steady state and the
/// sensitivities equal central differences (§9.3); on the binary toy, the §9.4 reduction row.
#[test]
fn check_covers_multiclass_systems_and_the_binary_reduction() {
    let d = tempfile::tempdir().unwrap();
    let phi = write(
        d.path(),
        "phi.csv",
        "1.0,0.2,0.0\n0.3,1.0,0.1\n0.0,0.4,1.2\n0.5,0.1,0.7\n",
    );
    let labels = write(d.path(), "y.csv", "0\n1\n2\n1\n");
    let report = json(&[
        "check",
        "--json",
        "--lambda",
        "0.1",
        "--features",
        &phi,
        "--labels",
        &labels,
    ]);
    assert_eq!(report["passed"], true);
    let rows = report["checks"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r["section"] == "§9.3" && r["verdict"] == "PASS"));
    let toy = json(&["check", "--json", "--strengths", "4,2", "--coupling", "0.5"]);
    let reduction = toy["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["section"] == "§9.4")
        .expect("a §9.4 row");
    assert_eq!(reduction["verdict"], "PASS");
    assert!(reduction["error"].as_f64().unwrap() < 1e-9);
}
