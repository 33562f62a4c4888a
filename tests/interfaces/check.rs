//! `gstarve check` on systems the other commands accept: a zero strength, a real network's
//! system; exit status 3 when nothing applies.

use crate::support::gstarve;

fn check_json(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = gstarve(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    let v =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stderr}"));
    (out.status.code(), v)
}

/// Every row of a passing run: finite numbers, error within tolerance unless INFO.
fn assert_rows_pass(v: &serde_json::Value) -> usize {
    let rows = v["checks"].as_array().unwrap();
    for row in rows {
        for key in ["predicted", "numerical", "error", "tolerance"] {
            assert!(
                row[key].as_f64().is_some_and(f64::is_finite),
                "{key}: {row}"
            );
        }
        assert!(
            row["compared"].as_u64().is_some() && row["masked"].as_u64().is_some(),
            "{row}"
        );
        if row["verdict"] == "PASS" {
            assert!(row["error"].as_f64() <= row["tolerance"].as_f64(), "{row}");
        } else {
            assert_eq!(row["verdict"], "INFO", "{row}");
        }
    }
    rows.len()
}

#[test]
fn zero_strength_is_checked_with_masked_elasticities() {
    let (code, v) = check_json(&["check", "--strengths", "3,0", "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert!(assert_rows_pass(&v) >= 8, "{v}");
    let rows = v["checks"].as_array().unwrap();
    let e = rows
        .iter()
        .find(|r| {
            r["prediction"]
                .as_str()
                .unwrap()
                .starts_with("starvation matrix")
        })
        .unwrap();
    // s₂ = 0 and z₂* = 0: only E₁₁ is defined.
    assert_eq!(
        (e["compared"].as_u64(), e["masked"].as_u64()),
        (Some(1), Some(3)),
        "{e}"
    );
    // The sensitivities are all compared, the s₂ column one-sidedly.
    let d = rows
        .iter()
        .find(|r| r["prediction"].as_str().unwrap().starts_with("∂z*/∂s²"))
        .unwrap();
    assert_eq!(d["compared"].as_u64(), Some(4), "{d}");
    assert_eq!(d["verdict"], "PASS");
}

#[test]
fn network_system_of_width_50_passes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w50.json");
    let file = file.to_str().unwrap();
    let out = gstarve(&["network", "--width", "50", "--out", file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, v) = check_json(&["check", "--system", file, "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["passed"], true);
    assert!(assert_rows_pass(&v) >= 5, "{v}");
    let e = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["prediction"]
                .as_str()
                .unwrap()
                .starts_with("starvation matrix")
        })
        .unwrap();
    // 201 features, some with strengths ~1e-15 (zero responses, masked rows).
    assert_eq!(
        e["compared"].as_u64().unwrap() + e["masked"].as_u64().unwrap(),
        201 * 201
    );
    assert!(e["masked"].as_u64().unwrap() > 0);
}

#[test]
fn nothing_to_check_exits_3_with_one_line() {
    for args in [
        &[
            "check",
            "--strengths",
            "4,2",
            "--coupling",
            "0.5",
            "--reg",
            "none",
        ][..],
        &[
            "check",
            "--strengths",
            "4,2",
            "--coupling",
            "0.5",
            "--loss",
            "squared",
            "--reg",
            "sd",
        ],
    ] {
        let out = gstarve(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("nothing to check"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    // Squared loss without a regulariser has its λ = 0 closed forms (docs/theory.md §4.3).
    let (code, v) = check_json(&[
        "check",
        "--strengths",
        "4,2",
        "--loss",
        "squared",
        "--reg",
        "none",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(assert_rows_pass(&v), 2);
}

/// SD with a zero strength: the pinned feature (ż = 0 under SD) does not set the settle time, so
/// the flow row is a claim that holds (it was INFO: the rate k = 0 of the pinned feature made
/// the flow's end time unbounded).
#[test]
fn sd_with_a_zero_strength_checks_the_free_features() {
    let out = gstarve(&[
        "check",
        "--strengths",
        "3,0",
        "--reg",
        "sd",
        "--lambda",
        "0.5",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("PASS  any system; flow to τ = 6.142e0"),
        "{stdout}"
    );
}
