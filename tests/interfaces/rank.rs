//! `--rank R` (docs/theory.md §8.7): the top R features of every source, what was dropped in
//! the JSON, and bad ranks refused in one line (exit 2).

use gstarve_core::systems::npy_bytes;
use nalgebra::DMatrix;
use serde_json::Value;

use super::support::{assert_rejected, gstarve};

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

/// --random N --rank R keeps the R largest strengths with the first R Haar columns: its steady
/// state is that of the full system with the tail strengths set to zero (the kept features'
/// responses and the margins), and the dropped share is the spectrum's tail share.
#[test]
fn random_rank_is_the_top_of_the_full_system() {
    let top = json(&[
        "fixed-point",
        "--random",
        "12",
        "--rank",
        "4",
        "--seed",
        "3",
        "--spectrum",
        "5:0.5",
        "--lambda",
        "0.1",
        "--json",
    ]);
    assert_eq!(top["dropped_features"], 8);
    assert_eq!(top["rank"], 4);
    // The geometric spectrum 5 → 0.5 over 12 points: the tail share of Σs².
    let s2: Vec<f64> = (0..12)
        .map(|j| (5.0 * 0.1f64.powf(j as f64 / 11.0)).powi(2))
        .collect();
    let share = s2[4..].iter().sum::<f64>() / s2.iter().sum::<f64>();
    let got = top["dropped_strength_share"].as_f64().unwrap();
    assert!((got - share).abs() < 1e-12, "{got} vs {share}");
    let z = numbers(&top["z"]);
    assert_eq!(z.len(), 4);
    assert_eq!(numbers(&top["margins"]).len(), 12);
    // Full rank through --rank: nothing dropped, the same numbers as without it.
    let all = json(&[
        "fixed-point",
        "--random",
        "12",
        "--rank",
        "12",
        "--seed",
        "3",
        "--spectrum",
        "5:0.5",
        "--lambda",
        "0.1",
        "--json",
    ]);
    let plain = json(&[
        "fixed-point",
        "--random",
        "12",
        "--seed",
        "3",
        "--spectrum",
        "5:0.5",
        "--lambda",
        "0.1",
        "--json",
    ]);
    assert_eq!(all["dropped_features"], 0);
    let (za, zp) = (numbers(&all["z"]), numbers(&plain["z"]));
    let gap = za
        .iter()
        .zip(&zp)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, crate::support::nan_max);
    assert!(gap < 1e-12, "{gap}");
}

/// --features Φ --rank R (partial SVD) and --kernel ΦΦᵀ --rank R (partial eigendecomposition)
/// give the same top-R system (both partial at n = 100): the same steady state and dropped
/// share.
#[test]
fn features_and_kernel_rank_agree() {
    let d = tempfile::tempdir().unwrap();
    let (n, p) = (100, 120);
    let phi = DMatrix::from_fn(n, p, |i, j| {
        (((i * 37 + j * 11) % 29) as f64 / 14.0 - 1.0) * 0.9f64.powi(j as i32)
    });
    let y = DMatrix::from_fn(n, 1, |i, _| if i % 3 == 0 { -1.0 } else { 1.0 });
    let write = |name: &str, m: &DMatrix<f64>| {
        let path = d.path().join(name);
        std::fs::write(&path, npy_bytes(m)).unwrap();
        path.to_string_lossy().into_owned()
    };
    let (phi_path, y_path) = (write("phi.npy", &phi), write("y.npy", &y));
    let k_path = write("k.npy", &(&phi * phi.transpose()));
    let base = ["fixed-point", "--lambda", "0.05", "--rank", "5", "--json"];
    let mut fa = base.to_vec();
    fa.extend(["--features", &phi_path, "--labels", &y_path]);
    let mut ka = base.to_vec();
    ka.extend(["--kernel", &k_path, "--labels", &y_path]);
    let (a, b) = (json(&fa), json(&ka));
    assert_eq!(
        (
            a["dropped_features"].as_u64(),
            b["dropped_features"].as_u64()
        ),
        (Some(95), Some(95))
    );
    // n = 100 > max(64, 2·5): both spectra come from subspace iteration, which settled.
    for v in [&a, &b] {
        assert_eq!(v["decomposition"], "subspace_iteration");
    }
    let (sa, sb) = (
        a["dropped_strength_share"].as_f64().unwrap(),
        b["dropped_strength_share"].as_f64().unwrap(),
    );
    assert!(sa > 1e-3 && (sa - sb).abs() < 1e-9, "{sa} vs {sb}");
    let (ma, mb) = (numbers(&a["margins"]), numbers(&b["margins"]));
    let gap = ma
        .iter()
        .zip(&mb)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, crate::support::nan_max);
    assert!(gap < 1e-7, "margins differ by {gap}");
}

#[test]
fn bad_ranks_are_refused_in_one_line() {
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--random", "10", "--rank", "0"],
            vec!["--rank 0", "between 1 and n = 10"],
        ),
        (
            vec!["--random", "10", "--rank", "11"],
            vec!["--rank 11", "between 1 and n = 10"],
        ),
        (
            vec!["--strengths", "3,2,1", "--rank", "4"],
            vec!["--rank 4", "n = 3"],
        ),
        (vec!["--random", "10", "--rank", "two"], vec!["--rank"]),
        (vec!["--random", "10", "--rank", "-1"], vec!["-1"]),
        (vec!["--random", "10", "--rank", "1.5"], vec!["--rank"]),
        (
            vec!["--random", "1000000", "--rank", "500"],
            vec!["n·r", "4·10⁸"],
        ),
    ];
    for (args, needles) in cases {
        let mut full = vec!["fixed-point"];
        full.extend(args);
        assert_rejected(&full, &needles);
    }
}
