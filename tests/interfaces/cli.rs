//! The command line: bad input never panics (one clear line, non-zero exit, no output file), and
//! the JSON contracts of `simulate` and `fixed-point` hold.

use super::support::{assert_rejected, gstarve, write};

#[test]
fn malformed_system_file() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "bad.json",
        "{\"strengths\": [1, 2], \"u\": [[1, 0], [0, 1]",
    );
    assert_rejected(&["fixed-point", "--system", &f], &["bad.json", "EOF"]);
    let f = write(d.path(), "typo.json", "{\"strength\": [1], \"u\": [[1]]}");
    assert_rejected(&["fixed-point", "--system", &f], &["typo.json", "strength"]);
}

#[test]
fn missing_file() {
    assert_rejected(
        &["fixed-point", "--system", "/nonexistent/sys.json"],
        &["/nonexistent/sys.json"],
    );
}

#[test]
fn non_finite_numbers() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "nan.toml",
        "strengths = [nan, 1.0]\nu = [[1.0, 0.0], [0.0, 1.0]]\n",
    );
    assert_rejected(&["fixed-point", "--system", &f], &["s_1 = NaN", "finite"]);
    let phi = write(d.path(), "phi.csv", "1,0,2\n0,inf,1\n");
    let y = write(d.path(), "y.csv", "1\n-1\n");
    assert_rejected(
        &["fixed-point", "--features", &phi, "--labels", &y],
        &["features Φ", "inf", "row 2"],
    );
    assert_rejected(&["fixed-point", "--strengths", "4,NaN"], &["s_2 = NaN"]);
}

#[test]
fn wrong_shapes() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "shape.json",
        "{\"strengths\": [1, 2, 3], \"u\": [[1, 0], [0, 1]]}",
    );
    assert_rejected(
        &["fixed-point", "--system", &f],
        &["strengths: 3 given, 2 expected", "coupling U"],
    );
    let f = write(
        d.path(),
        "ragged.json",
        "{\"strengths\": [1, 2], \"u\": [[1, 0], [0]]}",
    );
    assert_rejected(&["fixed-point", "--system", &f], &["row 2"]);
    let phi = write(d.path(), "phi.csv", "1,0,2\n0,1,1\n");
    let y = write(d.path(), "y.csv", "1\n-1\n1\n");
    assert_rejected(
        &["fixed-point", "--features", &phi, "--labels", &y],
        &["labels: 3 given, 2 expected", "row"],
    );
    assert_rejected(
        &["fixed-point", "--strengths", "1,2,3", "--coupling", "0.5"],
        &["exactly 2 strengths"],
    );
    assert_rejected(
        &[
            "simulate",
            "--strengths",
            "4,2",
            "--coupling",
            "0.5",
            "--z0",
            "1,2,3",
        ],
        &["--z0", "3 entries"],
    );
}

#[test]
fn non_orthogonal_coupling() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "skew.json",
        "{\"strengths\": [1, 2], \"u\": [[1, 0.2], [0, 1]]}",
    );
    assert_rejected(
        &["fixed-point", "--system", &f],
        &["not orthonormal", "2.000e-1"],
    );
    assert_rejected(
        &["fixed-point", "--strengths", "4,2", "--coupling", "1.5"],
        &["δ = 1.5", "|δ| ≤ 1"],
    );
}

#[test]
fn labels_not_plus_minus_one() {
    let d = tempfile::tempdir().unwrap();
    let phi = write(d.path(), "phi.csv", "x1,x2\n1,0\n0,1\n");
    let y = write(d.path(), "y.csv", "y\n-1\n0\n");
    assert_rejected(
        &["fixed-point", "--features", &phi, "--labels", &y],
        &["y_2 = 0", "−1/+1"],
    );
    // Labels beyond {−1, 0, 1} are class indices (docs/theory.md §9.1): 2.5 is none.
    let y = write(d.path(), "y25.csv", "y\n1\n2.5\n");
    assert_rejected(
        &["fixed-point", "--features", &phi, "--labels", &y],
        &["y_2 = 2.5", "integer labels"],
    );
}

#[test]
fn negative_lambda_and_bad_numbers() {
    assert_rejected(&["fixed-point", "--lambda", "-0.1"], &["λ = -0.1", "≥ 0"]);
    assert_rejected(
        &["simulate", "--t-end", "-5", "--methods", "flow"],
        &["--t-end = -5", "> 0"],
    );
    assert_rejected(
        &["simulate", "--rtol", "0", "--methods", "flow"],
        &["--rtol = 0"],
    );
    assert_rejected(&["simulate", "--points", "1"], &["--points = 1"]);
    assert_rejected(&["simulate", "--eta", "0"], &["--eta = 0"]);
    assert_rejected(
        &[
            "system",
            "--random",
            "3",
            "--spectrum",
            "10:-1",
            "--out",
            "x.json",
        ],
        &["spectrum end = -1"],
    );
}

#[test]
fn unstable_learning_rate() {
    // s₁ = 6, λ = 0.01: the bound λ + s₁²/4 = 9.01, so η must be < 0.222.
    assert_rejected(
        &[
            "simulate",
            "--strengths",
            "6,2",
            "--coupling",
            "0.5",
            "--eta",
            "0.5",
            "--methods",
            "gd",
        ],
        &["η = 0.5", "unstable", "curvature bound 9.01", "η < 0.2219"],
    );
}

#[test]
fn no_steady_state_without_regulariser() {
    assert_rejected(&["fixed-point", "--reg", "none"], &["no steady state"]);
}

#[test]
fn failed_runs_leave_no_output_file() {
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join("sys.json");
    let t = target.to_string_lossy().into_owned();
    assert_rejected(
        &["system", "--strengths", "1,-2", "--out", &t],
        &["s_2 = -2"],
    );
    assert!(!target.exists());
    // A good run writes the file and leaves no temporary behind.
    let out = gstarve(&["system", "--random", "4", "--seed", "3", "--out", &t]);
    assert!(out.status.success());
    let names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["sys.json".to_string()]);
}

#[test]
fn simulate_json_contract() {
    let d = tempfile::tempdir().unwrap();
    let out_dir = d.path().join("run");
    let o = out_dir.to_string_lossy().into_owned();
    let out = gstarve(&[
        "simulate",
        "--strengths",
        "4,2",
        "--coupling",
        "0.5",
        "--methods",
        "gd,flow,dual",
        "--eta",
        "0.05",
        "--steps",
        "200",
        "--points",
        "11",
        "--json",
        "--out",
        &o,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fp = &v["fixed_point"];
    assert!((fp["z"][0].as_f64().unwrap() - 7.812049).abs() < 1e-6);
    assert!(fp["margins"].is_array() && fp["alpha"].is_array());
    let runs = v["runs"].as_array().unwrap();
    let methods: Vec<&str> = runs.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["gd", "flow", "dual"]);
    for r in runs {
        assert_eq!(r["tau"].as_array().unwrap().len(), 11);
        assert_eq!(r["z"].as_array().unwrap().len(), 11);
        assert_eq!(r["z_final"].as_array().unwrap().len(), 2);
        for key in [
            "wall_s",
            "rhs_evals",
            "jacobian_evals",
            "steps_accepted",
            "steps_rejected",
            "solver",
        ] {
            assert!(!r["stats"][key].is_null(), "stats.{key} missing");
        }
    }
    // GD ends at τ = ηK = 10, and so does the flow (default τ_end = η·steps).
    assert!((runs[0]["tau"][10].as_f64().unwrap() - 10.0).abs() < 1e-12);
    assert!((runs[1]["tau"][10].as_f64().unwrap() - 10.0).abs() < 1e-12);
    let csv = std::fs::read_to_string(out_dir.join("trajectories.csv")).unwrap();
    assert!(csv.starts_with("method,step,tau,z1,z2\n"));
    assert_eq!(csv.lines().count(), 1 + 33);
    assert!(csv.contains("\ngd,200,"));
}

#[test]
fn fixed_point_json_contract() {
    let out = gstarve(&[
        "fixed-point",
        "--strengths",
        "6,2",
        "--coupling",
        "0.5",
        "--json",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // docs/theory.md §6.2, l = 6.
    assert!((v["z"][0].as_f64().unwrap() - 9.071019).abs() < 1e-6);
    assert!((v["z"][1].as_f64().unwrap() - 1.185344).abs() < 1e-6);
    assert!(v["residual"].as_f64().unwrap() < 1e-10);
    assert!(v["iterations"].as_u64().unwrap() > 0);
    assert_eq!(v["alpha"].as_array().unwrap().len(), 2);
}

#[test]
fn check_passes_on_random_systems_and_fails_on_a_wrong_tolerance() {
    for seed in ["1", "2", "3"] {
        let out = gstarve(&[
            "check",
            "--random",
            "4",
            "--seed",
            seed,
            "--spectrum",
            "3:0.5",
            "--lambda",
            "0.05",
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "seed {seed}: {v}");
        assert_eq!(v["passed"], true);
        assert!(v["checks"].as_array().unwrap().len() >= 3);
    }
    for l in ["2", "3", "4", "5", "6"] {
        let s = format!("{l},2");
        let out = gstarve(&["check", "--strengths", &s, "--coupling", "0.5"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "toy l = {l}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let out = gstarve(&[
        "check",
        "--strengths",
        "4,2",
        "--coupling",
        "0.5",
        "--tolerance-scale",
        "1e-14",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("some predictions failed"));
}

#[test]
fn simulate_can_skip_the_fixed_point() {
    let out = gstarve(&[
        "simulate",
        "--random",
        "3",
        "--seed",
        "1",
        "--methods",
        "gd",
        "--steps",
        "10",
        "--no-fixed-point",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["fixed_point"].is_null());
    assert!(v["fixed_point_note"]
        .as_str()
        .unwrap()
        .contains("not computed"));
    assert_eq!(v["runs"][0]["z_final"].as_array().unwrap().len(), 3);
}

/// Arguments clap itself rejects (a negative count, a non-number, an unknown flag, a missing
/// value) also get one line and exit 2, not clap's usage block.
#[test]
fn argument_errors_are_one_line() {
    assert_rejected(
        &["network", "--width", "-3", "--out", "x.json"],
        &["--width = -3", "whole number ≥ 0", "--help"],
    );
    assert_rejected(
        &["reproduce", "moons-width", "--widths", "50,abc"],
        &["'abc'", "--widths"],
    );
    assert_rejected(&["simulate", "--bogus"], &["--bogus"]);
    assert_rejected(&["system", "--random"], &["--random"]);
    assert_rejected(
        &["simulate", "--reg", "l3"],
        &["'l3'", "possible values: l2, sd, none"],
    );
    // Help and version still print and succeed.
    assert_eq!(gstarve(&["--version"]).status.code(), Some(0));
    assert_eq!(gstarve(&["simulate", "--help"]).status.code(), Some(0));
}

/// The method names of the removed diffsol dependency still run (the CLI contract): the
/// nearest hand-written method, a warning on stderr, and `stats.solver` naming what ran.
#[test]
fn removed_diffsol_methods_run_their_replacements() {
    for (name, ran) in [("diffsol-bdf", "bdf"), ("sdirk", "rodas4")] {
        let out = gstarve(&[
            "simulate",
            "--methods",
            "flow",
            "--method",
            name,
            "--t-end",
            "10",
            "--points",
            "3",
            "--json",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
        assert!(
            stderr.contains("warning") && stderr.contains(ran),
            "{stderr}"
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let solver = report["runs"][0]["stats"]["solver"].as_str().unwrap();
        assert!(solver.starts_with(ran), "{name} ran {solver}");
    }
    assert_rejected(
        &["simulate", "--methods", "flow", "--method", "radau"],
        &["radau", "bdf"],
    );
}

/// Rejections name the user's flag, also for parameters the library renames or derives, and
/// are checked before anything is computed from them.
#[test]
fn rejections_name_the_flag_the_user_gave() {
    // An output folder that can be created (outputs are checked before the input is used).
    let d = tempfile::tempdir().unwrap();
    let never = d.path().join("never");
    let never = never.to_str().unwrap();
    assert_rejected(
        &["network", "--moons", "--angle", "inf", "--out", "x.json"],
        &["--angle = inf"],
    );
    assert_rejected(
        &["responses", "--log-time", "--eta", "nan", "--out", never],
        &["--eta = NaN"],
    );
    assert_rejected(
        &[
            "phase-plane",
            "--random",
            "3",
            "--responses",
            "2,2",
            "--out",
            never,
        ],
        &["--responses = 2", "a ≠ b"],
    );
    assert_rejected(
        &["phase-plane", "--eta", "1e-300", "--out", never],
        &["at most 10⁹ steps"],
    );
    assert_rejected(
        &[
            "reproduce",
            "moons",
            "--top",
            "100000000000",
            "--out",
            never,
        ],
        &["--top = 100000000000", "--n = 300"],
    );
    // A tolerance the margin integration scales below 10ε runs at 10ε instead of failing.
    let out = gstarve(&[
        "simulate",
        "--methods",
        "flow",
        "--rtol",
        "1e-14",
        "--t-end",
        "1",
        "--points",
        "3",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A stiffness failure of a forced explicit method says which flag avoids it.
    let out = gstarve(&[
        "simulate",
        "--random",
        "3",
        "--seed",
        "1",
        "--methods",
        "dual",
        "--method",
        "dop853",
        "--t-end",
        "100",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("stiffness") && stderr.contains("--method bdf"),
        "{stderr}"
    );
}

/// `--max-steps` bounds the work of the flow and the dual: a budget too small for the run stops
/// it with exit 1 and a line naming the method, the time reached and the budget; a zero budget
/// is refused as input (exit 2); the default budget completes the same run.
#[test]
fn the_step_budget_is_a_named_failure() {
    for method in ["flow", "dual"] {
        let out = gstarve(&["simulate", "--methods", method, "--max-steps", "20"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{method}: {stderr}");
        assert!(
            stderr.contains("failed at τ = ") && stderr.contains("step budget"),
            "{method}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{method}: {stderr}");
        let out = gstarve(&["simulate", "--methods", method, "--no-fixed-point"]);
        assert_eq!(out.status.code(), Some(0), "{method}");
    }
    assert_rejected(
        &["simulate", "--max-steps", "0"],
        &["--max-steps", "at least 1"],
    );
}
