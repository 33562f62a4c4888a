//! The command line of issue 15, item 5: missing arguments named, negative numbers without `=`,
//! messages that do not contradict themselves, refusals of meaningless figures, numbers printed
//! with sensible precision, `--reg`/`--loss` wherever `--lambda` is, and one meaning of
//! `--features`.

use super::support::{assert_rejected, gstarve};

/// A folder that does not exist but could be created: outputs are checked before the input is
/// used, so a rejection test needs an output that passes.
fn unused_out() -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("never").to_str().unwrap().to_string();
    (d, path)
}

/// Run a command that must succeed; `--force`, since these tests write one folder with several
/// configurations in turn.
fn run(args: &[&str]) -> (String, String) {
    let mut args = args.to_vec();
    args.push("--force");
    let args = &args[..];
    let out = gstarve(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// The rows of a CSV file (comment lines skipped), split on commas.
fn csv_rows(path: &std::path::Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn missing_required_arguments_are_named() {
    assert_rejected(
        &["network"],
        &["required arguments were not provided: --out <FILE>"],
    );
    assert_rejected(&["system", "--random", "3"], &["--out <FILE>"]);
}

/// `--z0 -1,2`, `--strengths -1,2`, `--coupling -0.5`: a value may start with a minus sign
/// without `=`; an unsigned option given a negative value says it must be ≥ 0.
#[test]
fn negative_values_need_no_equals_sign() {
    let (_dir, never) = unused_out();
    let (stdout, _) = run(&[
        "simulate",
        "--z0",
        "-1,2",
        "--methods",
        "gd",
        "--steps",
        "3",
        "--points",
        "2",
        "--no-fixed-point",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let z0 = &v["runs"][0]["z"][0];
    assert_eq!(z0[0].as_f64(), Some(-1.0));
    assert!((z0[1].as_f64().unwrap() - 2.0).abs() < 1e-15, "{z0}");
    let (stdout, _) = run(&["fixed-point", "--strengths", "4,2", "--coupling", "-0.5"]);
    assert!(stdout.contains("z*"), "{stdout}");
    assert_rejected(&["fixed-point", "--strengths", "-1,2"], &["s_1 = -1"]);
    assert_rejected(
        &["simulate", "--random", "3", "--seed", "-1"],
        &["--seed = -1 is invalid", "whole number ≥ 0"],
    );
    assert_rejected(
        &[
            "system",
            "--random",
            "3",
            "--spectrum",
            "-1:2",
            "--out",
            &never,
        ],
        &["spectrum", "-1"],
    );
    assert_rejected(
        &["simulate", "--steps", "-1"],
        &["--steps = -1 is invalid", "whole number ≥ 0"],
    );
    assert_rejected(
        &["flow-vs-gd", "--etas", "-0.1,0.01", "--out", &never],
        &["--etas: η = -0.1 is invalid"],
    );
    assert_rejected(
        &["phase-diagram", "--grid", "-3", "--out", &never],
        &["--grid = -3 is invalid"],
    );
}

/// One point per axis cannot span a range; the message says so, without calling it empty.
#[test]
fn the_grid_1_message_is_consistent() {
    let d = tempfile::tempdir().unwrap();
    let o = d.path().join("d");
    let o = o.to_str().unwrap();
    assert_rejected(
        &["phase-diagram", "--grid", "1", "--out", o],
        &["1 point cannot span the range [1, 5]", "at least 2 points"],
    );
    let out = gstarve(&["phase-diagram", "--grid", "1", "--out", o]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("empty"));
    assert_rejected(
        &[
            "phase-diagram",
            "--x",
            "ratio:5:1",
            "--grid",
            "8",
            "--out",
            o,
        ],
        &["[5, 1] is empty", "FROM must be < TO"],
    );
}

/// `--log-colour` is refused for a measure that changes sign (a blank figure before).
#[test]
fn log_colour_with_a_signed_measure_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let o = d.path().join("d");
    let o = o.to_str().unwrap();
    assert_rejected(
        &["phase-diagram", "--log-colour", "--grid", "8", "--out", o],
        &["--log-colour", "elasticity", "changes sign"],
    );
    assert!(!d.path().join("d").exists());
    // A positive measure draws.
    run(&[
        "phase-diagram",
        "--log-colour",
        "--measure",
        "ratio",
        "--grid",
        "8",
        "--out",
        o,
    ]);
}

#[test]
fn a_phase_plane_of_one_response_against_itself_is_refused() {
    let (_dir, never) = unused_out();
    assert_rejected(
        &["phase-plane", "--responses", "1,1", "--out", &never],
        &["--responses = 1", "a ≠ b"],
    );
}

/// Axis names in errors are those of `--help`.
#[test]
fn axis_names_match_the_help() {
    let (_dir, never) = unused_out();
    let help = String::from_utf8_lossy(&gstarve(&["phase-diagram", "--help"]).stdout).into_owned();
    assert!(help.contains("ratio, coupling, lambda, s2"), "{help}");
    assert_rejected(
        &["phase-diagram", "--x", "r2:1:2", "--out", &never],
        &["'r2'", "ratio, coupling, lambda or s2"],
    );
    assert_rejected(
        &[
            "phase-diagram",
            "--y",
            "s2:-1:1",
            "--grid",
            "4",
            "--out",
            &never,
        ],
        &["s2 (weak strength s₂) = -1"],
    );
}

/// Computed numbers print with 5 significant digits; typed ones as typed; no 300-digit numbers.
#[test]
fn numbers_print_with_sensible_precision() {
    let (_dir, never) = unused_out();
    // A failed flow: the time reached, short.
    let out = gstarve(&["simulate", "--methods", "flow", "--max-steps", "20"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tau = stderr.split("τ = ").nth(1).unwrap();
    let tau = tau.split(':').next().unwrap();
    let mantissa = tau.split('e').next().unwrap().replace('.', "");
    let significant = mantissa.trim_start_matches('0');
    assert!(
        significant.len() <= 5 && tau.parse::<f64>().is_ok(),
        "{stderr}"
    );
    // A diverged GD (squared loss, η·s₁² = 10.8): step and τ, short.
    let out = gstarve(&[
        "simulate",
        "--strengths",
        "6,2",
        "--coupling",
        "0.5",
        "--loss",
        "squared",
        "--eta",
        "0.3",
        "--allow-unstable",
        "--methods",
        "gd",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let tau = stderr.split("(τ = ").nth(1).unwrap();
    let tau = tau.split(')').next().unwrap();
    assert!(tau.len() <= 8 && tau.parse::<f64>().is_ok(), "{stderr}");
    // z0 = ±1e308: the table shows exponents, not 309 digits.
    let (stdout, _) = run(&[
        "simulate",
        "--z0",
        "1e308,-1e308",
        "--methods",
        "gd",
        "--steps",
        "10",
        "--no-fixed-point",
    ]);
    assert!(stdout.contains("e307"), "{stdout}");
    assert!(stdout.split_whitespace().all(|t| t.len() < 40), "{stdout}");
    // A typed tolerance is echoed as typed.
    assert_rejected(
        &["simulate", "--methods", "flow", "--rtol", "1e-20"],
        &["--rtol = 1e-20"],
    );
    assert_rejected(
        &["reproduce", "moons", "--sd", "-1e-300", "--out", &never],
        &["--sd = -1e-300"],
    );
}

/// `starvation-matrix --reg/--loss` change the numbers as the theory says: squared loss under
/// L2 decouples (E_jj = λ/(s_j² + λ), E_ji = 0), SD has no starvation (E ≡ 0).
#[test]
fn starvation_matrix_takes_reg_and_loss() {
    let d = tempfile::tempdir().unwrap();
    let o = d.path().to_str().unwrap();
    let entries = |extra: &[&str]| -> Vec<f64> {
        let mut args = vec!["starvation-matrix", "--out", o];
        args.extend(extra);
        run(&args);
        csv_rows(&d.path().join("starvation-matrix.csv"))[1..]
            .iter()
            .map(|r| r[4].parse().unwrap())
            .collect()
    };
    let l2 = entries(&[]);
    assert!(l2[1] < 0.0 && l2[2] < 0.0, "the toy starves: {l2:?}");
    let squared = entries(&["--loss", "squared"]);
    // The toy: s = (4, 2), λ = 0.01.
    let exact = [0.01 / 16.01, 0.0, 0.0, 0.01 / 4.01];
    for (e, x) in squared.iter().zip(exact) {
        assert!((e - x).abs() < 1e-12, "{squared:?}");
    }
    let sd = entries(&["--reg", "sd", "--lambda", "0.002"]);
    assert!(sd.iter().all(|e| e.abs() < 1e-10), "{sd:?}");
    assert_rejected(
        &["starvation-matrix", "--reg", "none", "--force", "--out", o],
        &["no steady state"],
    );
}

/// `phase-plane --reg/--loss` change the main runs and their steady state: under SD the marked
/// steady state is `fixed-point --reg sd`'s, under the squared loss its closed form.
#[test]
fn phase_plane_takes_reg_and_loss() {
    let d = tempfile::tempdir().unwrap();
    let o = d.path().to_str().unwrap();
    let steady = |extra: &[&str]| -> (f64, f64) {
        let mut args = vec![
            "phase-plane",
            "--curves",
            "flow",
            "--no-vector-field",
            "--no-nullclines",
            "--t-end",
            "10",
            "--out",
            o,
        ];
        args.extend(extra);
        run(&args);
        let rows = csv_rows(&d.path().join("phase-plane.csv"));
        let row = rows.iter().find(|r| r[0] == "steady-l2").unwrap();
        (row[4].parse().unwrap(), row[5].parse().unwrap())
    };
    let l2 = steady(&[]);
    // docs/theory.md §6.2, l = 4.
    assert!((l2.0 - 7.812049).abs() < 1e-6 && (l2.1 - 1.466814).abs() < 1e-6);
    let sd = steady(&["--reg", "sd", "--lambda", "0.002"]);
    let (stdout, _) = run(&["fixed-point", "--reg", "sd", "--lambda", "0.002", "--json"]);
    let fp: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!((sd.0 - fp["z"][0].as_f64().unwrap()).abs() < 1e-9, "{sd:?}");
    assert!((sd.1 - fp["z"][1].as_f64().unwrap()).abs() < 1e-9, "{sd:?}");
    // Squared loss, L2: z_j* = s_j²(Uᵀ1)_j/(s_j² + λ), U = U(0.5) of the toy.
    let c = (1.0f64 - 0.25).sqrt();
    let u1 = [c + 0.5, -0.5 + c];
    let sq = steady(&["--loss", "squared"]);
    assert!((sq.0 - 16.0 * u1[0] / 16.01).abs() < 1e-9, "{sq:?}");
    assert!((sq.1 - 4.0 * u1[1] / 4.01).abs() < 1e-9, "{sq:?}");
    // The dual exists for logistic L2 only: left out with a note otherwise.
    let (_, stderr) = run(&["phase-plane", "--reg", "sd", "--out", o]);
    assert!(stderr.contains("dual path left out"), "{stderr}");
}

/// `reproduce moons --responses` follows feature responses; the old `--features` still works,
/// with a deprecation warning naming the new flag.
#[test]
fn moons_follows_responses_and_warns_on_the_old_flag() {
    let d = tempfile::tempdir().unwrap();
    let o = d.path().to_str().unwrap();
    let tiny = [
        "--seeds", "1", "--epochs", "4", "--width", "6", "--n", "20", "--grid", "5", "--json",
        "--out", o,
    ];
    for flag in ["--responses", "--features"] {
        let mut args = vec!["reproduce", "moons", flag, "2,3"];
        args.extend(tiny);
        let (stdout, stderr) = run(&args);
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(v["features"], serde_json::json!([2, 3]));
        assert_eq!(
            stderr.contains("--features is deprecated") && stderr.contains("--responses"),
            flag == "--features",
            "{stderr}"
        );
    }
    let help =
        String::from_utf8_lossy(&gstarve(&["reproduce", "moons", "--help"]).stdout).into_owned();
    assert!(
        help.contains("--responses") && !help.contains("--features"),
        "{help}"
    );
}
