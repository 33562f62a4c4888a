//! Systems from a researcher's own network: `.npy` features and labels, an NTK Gram matrix
//! (`--kernel`), negligible strengths (`--strength-floor`), and bad files refused in one line.

use std::path::Path;

use gstarve_core::systems::npy_bytes;
use nalgebra::DMatrix;
use serde_json::Value;

use super::support::{assert_rejected, gstarve};

/// Run `gstarve` and parse its JSON output (exit status 0 required).
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

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, crate::support::nan_max)
}

/// The network's system file, its NTK Gram matrix and its labels describe the same system:
/// the same margins and steady state, and the same starvation matrix (E does not depend on the
/// orientation of the features).
#[test]
fn kernel_input_matches_the_network_system() {
    let d = tempfile::tempdir().unwrap();
    let p = |name: &str| d.path().join(name).to_string_lossy().into_owned();
    let out = gstarve(&[
        "network",
        "--moons",
        "--n",
        "24",
        "--width",
        "40",
        "--param",
        "ntk",
        "--out",
        &p("net.json"),
        "--out-kernel",
        &p("k.npy"),
        "--out-labels",
        &p("y.npy"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = json(&[
        "fixed-point",
        "--system",
        &p("net.json"),
        "--lambda",
        "0.05",
        "--json",
    ]);
    let b = json(&[
        "fixed-point",
        "--kernel",
        &p("k.npy"),
        "--labels",
        &p("y.npy"),
        "--lambda",
        "0.05",
        "--json",
    ]);
    assert_eq!(b["dropped_features"], 0);
    assert!(a.get("dropped_features").is_none());
    let (ma, mb) = (numbers(&a["margins"]), numbers(&b["margins"]));
    assert!(
        max_diff(&ma, &mb) < 1e-9,
        "margins differ by {}",
        max_diff(&ma, &mb)
    );
    let (za, zb) = (numbers(&a["z"]), numbers(&b["z"]));
    assert!(
        max_diff(&za, &zb) < 1e-9,
        "z* differs by {}",
        max_diff(&za, &zb)
    );
    let rows = |v: &Value| -> Vec<f64> {
        v["elasticity"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap_or(f64::NAN))
            })
            .collect()
    };
    let (ea, eb) = (rows(&a), rows(&b));
    let worst = ea
        .iter()
        .zip(&eb)
        .filter(|(x, _)| x.is_finite())
        .map(|(x, y)| (x - y).abs() / (1.0 + x.abs()))
        .fold(0.0, crate::support::nan_max);
    assert!(worst < 1e-6, "elasticities differ by {worst}");
}

/// A zero-output network's kernel has zero eigenvalues: they are dropped, counted, and their
/// share of Σs² is rounding; the steady state keeps the same margins as the full system's.
#[test]
fn zero_strengths_are_dropped_and_reported() {
    let d = tempfile::tempdir().unwrap();
    let p = |name: &str| d.path().join(name).to_string_lossy().into_owned();
    let out = gstarve(&[
        "network",
        "--moons",
        "--n",
        "30",
        "--width",
        "8",
        "--zero-output",
        "--param",
        "ntk",
        "--out",
        &p("net.json"),
        "--out-kernel",
        &p("k.npy"),
        "--out-labels",
        &p("y.npy"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = json(&[
        "fixed-point",
        "--kernel",
        &p("k.npy"),
        "--labels",
        &p("y.npy"),
        "--json",
    ]);
    let dropped = b["dropped_features"].as_u64().unwrap();
    // Paired units share their Jacobian columns up to sign: rank ≤ (m/2)(d + 2) + 1 = 17, so at
    // least 13 of the 30 eigenvalues vanish.
    assert!(dropped >= 13, "dropped {dropped}");
    assert!(b["dropped_strength_share"].as_f64().unwrap() < 1e-10);
    assert_eq!(numbers(&b["z"]).len() as u64, 30 - dropped);
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_string_lossy().into_owned()
}

/// A `.npy` file with the given header dict and data (format 1.0).
fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let header = format!("{dict}\n");
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

#[test]
fn bad_kernels_labels_and_npy_files_are_refused_in_one_line() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let phi = DMatrix::from_fn(4, 3, |i, j| ((i * 5 + j * 3) % 7) as f64 - 3.0);
    let theta = &phi * phi.transpose();
    let k = write(dir, "k.npy", &npy_bytes(&theta));
    let y = write(
        dir,
        "y.npy",
        &npy_bytes(&DMatrix::from_column_slice(4, 1, &[1.0, -1.0, 1.0, -1.0])),
    );
    let mut asym = theta.clone();
    asym[(0, 1)] += 1.0;
    let asym = write(dir, "asym.npy", &npy_bytes(&asym));
    let mut neg = theta.clone();
    neg[(2, 2)] -= 1e3;
    let neg = write(dir, "neg.npy", &npy_bytes(&neg));
    let y3 = write(
        dir,
        "y3.npy",
        &npy_bytes(&DMatrix::from_column_slice(3, 1, &[1.0, -1.0, 1.0])),
    );
    let y2 = write(
        dir,
        "y2.npy",
        &npy_bytes(&DMatrix::from_column_slice(4, 1, &[1.0, 2.0, 1.0, -1.0])),
    );
    let object = write(
        dir,
        "obj.npy",
        &npy(
            "{'descr': '|O', 'fortran_order': False, 'shape': (4, 4), }",
            &[0; 16],
        ),
    );
    let rank3 = write(
        dir,
        "r3.npy",
        &npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 1), }",
            &[0; 32],
        ),
    );
    let mut truncated = npy_bytes(&theta);
    truncated.truncate(truncated.len() - 8);
    let truncated = write(dir, "trunc.npy", &truncated);
    let huge = write(
        dir,
        "huge.npy",
        &npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000, 100000000), }",
            &[0; 8],
        ),
    );
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--kernel", &asym, "--labels", &y],
            vec!["not symmetric"],
        ),
        (
            vec!["--kernel", &neg, "--labels", &y],
            vec!["not positive semi-definite"],
        ),
        (
            vec!["--kernel", &k, "--labels", &y3],
            vec!["labels: 3 given, 4 expected"],
        ),
        // A label ≥ 2 makes a multi-class system (docs/theory.md §9.1), where −1 is no class.
        (
            vec!["--kernel", &k, "--labels", &y2],
            vec!["y_4 = -1", "integer labels in 0..2"],
        ),
        (
            vec!["--kernel", &object, "--labels", &y],
            vec!["obj.npy", "object arrays"],
        ),
        (
            vec!["--kernel", &rank3, "--labels", &y],
            vec!["r3.npy", "3 dimensions"],
        ),
        (
            vec!["--kernel", &truncated, "--labels", &y],
            vec!["trunc.npy", "truncated"],
        ),
        (
            vec!["--kernel", &huge, "--labels", &y],
            vec!["huge.npy", "declares"],
        ),
        (vec!["--features", &object, "--labels", &y], vec!["obj.npy"]),
        (
            vec!["--labels", &y],
            vec!["--labels goes with --features or --kernel"],
        ),
        (
            vec!["--kernel", &k, "--labels", &y, "--strength-floor", "2"],
            vec!["--strength-floor = 2"],
        ),
    ];
    for (args, needles) in cases {
        let mut full = vec!["fixed-point"];
        full.extend(args);
        assert_rejected(&full, &needles);
    }
}

/// A network's system written as .npz reads back bit for bit: `fixed-point` prints the same JSON
/// from it as from the JSON system file, and `simulate` starts from the same stored z(0).
#[test]
fn npz_system_files_match_json_ones() {
    let d = tempfile::tempdir().unwrap();
    let npz = d.path().join("s.npz").to_string_lossy().into_owned();
    let js = d.path().join("s.json").to_string_lossy().into_owned();
    for out in [&npz, &js] {
        let o = gstarve(&["network", "--width", "20", "--n", "40", "--out", out]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    for cmd in [
        &["fixed-point", "--json"][..],
        &[
            "simulate",
            "--methods",
            "flow",
            "--t-end",
            "5",
            "--points",
            "3",
            "--json",
        ],
    ] {
        let from_npz = gstarve(&[cmd, &["--system", &npz]].concat());
        let from_json = gstarve(&[cmd, &["--system", &js]].concat());
        assert!(from_npz.status.success());
        let strip = |o: &std::process::Output| {
            // wall_s differs from run to run.
            let mut v: Value = serde_json::from_slice(&o.stdout).unwrap();
            // The provenance names the system file.
            v.as_object_mut().unwrap().remove("gstarve");
            if let Some(runs) = v.get_mut("runs").and_then(Value::as_array_mut) {
                for r in runs {
                    r["stats"]["wall_s"] = Value::Null;
                }
            }
            v
        };
        assert_eq!(strip(&from_npz), strip(&from_json), "{cmd:?}");
    }
}
