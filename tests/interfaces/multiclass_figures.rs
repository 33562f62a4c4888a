//! Figures of multi-class softmax systems (docs/theory.md §9): `phase-plane`, `responses` and
//! `starvation-matrix` on a 3-class system, their CSVs against `fixed-point --json` and
//! `simulate --json`; and `gstarve reproduce multiclass` (a reduced run), its numbers and files.

use std::path::Path;

use serde_json::Value;

use super::support::{assert_rejected, gstarve, write};

fn json(args: &[&str]) -> Value {
    let out = gstarve(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn run(args: &[&str]) -> String {
    let out = gstarve(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    stderr
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The CSV's data rows, split at commas (no comments: those are in the sidecar).
fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

fn num(s: &str) -> f64 {
    s.parse().unwrap()
}

/// A 3-class system from an n·c-row Jacobian (n = 4 examples, 12 rows, 6 parameters: r = 6).
fn system(dir: &Path) -> Vec<String> {
    let phi: String = (0..12)
        .map(|row| {
            (0..6)
                .map(|col| {
                    let v = ((row * 7 + col * 3) % 11) as f64 / 10.0 - 0.4
                        + if row % 6 == col { 1.0 } else { 0.0 };
                    format!("{v}")
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let phi = write(dir, "phi.csv", &phi);
    let labels = write(dir, "y.csv", "0\n1\n2\n1\n");
    vec!["--features".into(), phi, "--labels".into(), labels]
}

fn with<'a>(args: &[&'a str], src: &'a [String]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(src.iter().map(String::as_str));
    all
}

/// The phase plane of the top two features (--rank 2: direction field and nullclines drawn) ends
/// at the steady state `fixed-point --json` gives, and the softmax rates vanish there.
#[test]
fn phase_plane_of_a_softmax_system_marks_the_newton_steady_state() {
    let d = tempfile::tempdir().unwrap();
    let src = system(d.path());
    let out = d.path().to_string_lossy().into_owned();
    let fp = json(&with(
        &["fixed-point", "--json", "--lambda", "0.2", "--rank", "2"],
        &src,
    ));
    let z = numbers(&fp["z"]);
    let stderr = run(&with(
        &[
            "phase-plane",
            "--lambda",
            "0.2",
            "--rank",
            "2",
            "--t-end",
            "100",
            "--eta",
            "0.05",
            "--out",
            &out,
        ],
        &src,
    ));
    // The dual path has no softmax form: left out with a note.
    assert!(stderr.contains("dual path"), "{stderr}");
    let table = rows(&d.path().join("phase-plane.csv"));
    let steady = table.iter().find(|r| r[0] == "steady-l2").unwrap();
    assert!((num(&steady[4]) - z[0]).abs() < 1e-9 * z[0].abs().max(1.0));
    assert!((num(&steady[5]) - z[1]).abs() < 1e-9 * z[1].abs().max(1.0));
    // τ = 100 is 20 decay times 1/λ: the flow's last point is at z* to plotting accuracy.
    let last = table.iter().rfind(|r| r[0] == "flow").unwrap();
    assert!((num(&last[4]) - z[0]).abs() < 1e-6 && (num(&last[5]) - z[1]).abs() < 1e-6);
    for series in [
        "gd",
        "sd",
        "steady-sd",
        "field",
        "nullcline-a",
        "nullcline-b",
    ] {
        assert!(table.iter().any(|r| r[0] == series), "no {series} rows");
    }
    assert!(!table.iter().any(|r| r[0] == "dual"));
    let png = d.path().join("phase-plane.png");
    assert!(std::fs::metadata(png).unwrap().len() > 10_000);
    // A response out of range, and the squared loss, are refused in one line.
    assert_rejected(
        &with(&["phase-plane", "--responses", "1,9", "--out", &out], &src),
        &["9"],
    );
    assert_rejected(
        &with(&["phase-plane", "--loss", "squared", "--out", &out], &src),
        &["softmax"],
    );
}

/// `responses`: the flow and GD rows of the CSV against `simulate --json` (same η and steps:
/// GD to rounding, the flow to its tolerances), the steady row against `fixed-point --json`.
#[test]
fn responses_of_a_softmax_system_match_simulate() {
    let d = tempfile::tempdir().unwrap();
    let src = system(d.path());
    let out = d.path().to_string_lossy().into_owned();
    run(&with(
        &[
            "responses",
            "--lambda",
            "0.2",
            "--eta",
            "0.05",
            "--t-end",
            "20",
            "--out",
            &out,
        ],
        &src,
    ));
    let sim = json(&with(
        &[
            "simulate",
            "--json",
            "--lambda",
            "0.2",
            "--methods",
            "flow,gd",
            "--t-end",
            "20",
            "--eta",
            "0.05",
            "--steps",
            "400",
            "--points",
            "3",
        ],
        &src,
    ));
    let table = rows(&d.path().join("responses.csv"));
    let last = |method: &str| -> Vec<f64> {
        let row = table.iter().rfind(|r| r[0] == method).unwrap();
        row[3..].iter().map(|v| num(v)).collect()
    };
    let flow = numbers(&sim["runs"][0]["z_final"]);
    let gd = numbers(&sim["runs"][1]["z_final"]);
    let fixed = numbers(&sim["fixed_point"]["z"]);
    assert_eq!(flow.len(), 6);
    for j in 0..6 {
        let scale = fixed[j].abs().max(1.0);
        assert!(
            (last("flow")[j] - flow[j]).abs() < 1e-6 * scale,
            "flow z{j}"
        );
        assert!((last("gd")[j] - gd[j]).abs() < 1e-12 * scale, "gd z{j}");
        assert!((last("steady")[j] - fixed[j]).abs() < 1e-9 * scale, "z*{j}");
    }
}

/// `starvation-matrix`: every entry of the CSV is the elasticity `fixed-point --json` reports.
#[test]
fn starvation_matrix_of_a_softmax_system_is_the_fixed_point_elasticity() {
    let d = tempfile::tempdir().unwrap();
    let src = system(d.path());
    let out = d.path().to_string_lossy().into_owned();
    run(&with(
        &["starvation-matrix", "--lambda", "0.2", "--out", &out],
        &src,
    ));
    let fp = json(&with(&["fixed-point", "--json", "--lambda", "0.2"], &src));
    let e = fp["elasticity"].as_array().unwrap();
    let table = rows(&d.path().join("starvation-matrix.csv"));
    assert_eq!(table.len(), 36);
    let mut starving = 0;
    for r in &table {
        let (j, i) = (num(&r[0]) as usize - 1, num(&r[1]) as usize - 1);
        let reference = e[j][i].as_f64().unwrap();
        let value = num(&r[4]);
        assert!(
            (value - reference).abs() < 1e-9 * reference.abs().max(1.0),
            "E_{j}{i}: {value} vs {reference}"
        );
        starving += usize::from(i != j && value < 0.0);
    }
    assert!(starving > 0, "this system has starving pairs");
    let sidecar = std::fs::read_to_string(d.path().join("starvation-matrix.csv.json")).unwrap();
    assert!(
        sidecar.contains("softmax cross-entropy (3 classes)"),
        "{sidecar}"
    );
}

/// A reduced `reproduce multiclass`: the network follows its linearised softmax flow early in
/// training (gap < 5 % of the largest response up to epoch 30; measured 2.2 %), learns the training
/// set (≥ 85 %, chance 33 %; measured 91.7 %), and writes three figures whose CSVs hold the numbers
/// of the JSON.
#[test]
fn reproduce_multiclass_reduced_run() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().to_string_lossy().into_owned();
    let args = [
        "reproduce",
        "multiclass",
        "--n",
        "60",
        "--width",
        "200",
        "--epochs",
        "300",
        "--lr",
        "2",
        "--record-every",
        "10",
        "--grid",
        "24",
        "--json",
        "--out",
        &out,
    ];
    let report = json(&args);
    assert_eq!(report["classes"], 3);
    assert_eq!(report["rank"], 180);
    let early = report["early_gap"].as_f64().unwrap();
    assert!(early < 0.05, "early gap {early}");
    let accuracy = report["accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.85, "accuracy {accuracy}");
    let features: Vec<usize> = report["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(features.len(), 4);
    for stem in [
        "multiclass-responses",
        "multiclass-regions",
        "multiclass-starvation",
    ] {
        for ext in ["png", "csv", "csv.json"] {
            let p = d.path().join(format!("{stem}.{ext}"));
            assert!(p.exists(), "{}", p.display());
        }
    }
    // Responses start at z = 0 (zero-output network: F₀ = 0 up to the rounding of the paired
    // units' sum) for the network and the flow.
    let responses = rows(&d.path().join("multiclass-responses.csv"));
    for r in responses.iter().filter(|r| r[0] == "0") {
        assert!(num(&r[4]).abs() < 1e-12 && num(&r[5]) == 0.0, "{r:?}");
    }
    // The starvation CSV carries the JSON's elasticities, indexed by the chosen features.
    let e = report["elasticity"].as_array().unwrap();
    let table = rows(&d.path().join("multiclass-starvation.csv"));
    assert_eq!(table.len(), 16);
    for (k, r) in table.iter().enumerate() {
        let (a, b) = (k / 4, k % 4);
        assert_eq!(num(&r[0]) as usize, features[a]);
        assert_eq!(num(&r[1]) as usize, features[b]);
        if let Some(reference) = e[a][b].as_f64() {
            assert!((num(&r[4]) - reference).abs() < 1e-12 * reference.abs().max(1.0));
        }
    }
    // Bad input: one line, exit 2, no files.
    let bad = tempfile::tempdir().unwrap();
    let bad_out = bad.path().to_string_lossy().into_owned();
    assert_rejected(
        &[
            "reproduce",
            "multiclass",
            "--classes",
            "1",
            "--out",
            &bad_out,
        ],
        &["--classes", "2"],
    );
    assert_rejected(
        &[
            "reproduce",
            "multiclass",
            "--record-every",
            "7",
            "--out",
            &bad_out,
        ],
        &["--record-every", "divide"],
    );
    assert_eq!(std::fs::read_dir(bad.path()).unwrap().count(), 0);
}
