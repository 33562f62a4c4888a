//! `gstarve max-margin` (docs/theory.md §11) and SD with class targets on the command line
//! (§10.1): the JSON contract, the KKT residuals, the phase-diagram measure and bad input (one
//! line, exit status 2).

use crate::support::gstarve;

fn json(args: &[&str]) -> serde_json::Value {
    let out = gstarve(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stderr}"))
}

fn numbers(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// docs/theory.md §11.4: at l = 6 example 1 leaves the support set, ẑ = (1.5, 0.288675).
#[test]
fn max_margin_json_on_the_toy() {
    let v = json(&[
        "max-margin",
        "--strengths",
        "6,2",
        "--coupling",
        "0.5",
        "--json",
    ]);
    let z = numbers(&v["z_hat"]);
    assert!(
        (z[0] - 1.5).abs() < 1e-12 && (z[1] - 0.288675).abs() < 1e-6,
        "{v}"
    );
    let d = numbers(&v["direction"]);
    assert!((d[0].hypot(d[1]) - 1.0).abs() < 1e-15);
    assert_eq!(v["support"], serde_json::json!([false, true]));
    let m = numbers(&v["margins"]);
    assert!((m[1] - 1.0).abs() < 1e-14 && m[0] > 1.0);
    assert_eq!(numbers(&v["alpha"])[0], 0.0);
    for key in [
        "primal_infeasibility",
        "dual_infeasibility",
        "complementarity",
        "stationarity",
    ] {
        assert!(v["kkt"][key].as_f64().unwrap() < 1e-14, "{key}: {v}");
    }
    assert!((v["elasticity"][1][0].as_f64().unwrap() + 0.75).abs() < 1e-12);
}

#[test]
fn class_targets_reach_their_margins_from_a_system_file_with_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sys.json");
    let c = 0.6f64;
    let s = (1.0 - c * c).sqrt();
    std::fs::write(
        &path,
        format!(
            r#"{{"strengths":[3,1],"u":[[{c},{}],[{s},{c}]],"labels":[1,0]}}"#,
            -s
        ),
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let v = json(&[
        "fixed-point",
        "--system",
        p,
        "--reg",
        "sd",
        "--lambda",
        "0.088,0.012",
        "--sd-target",
        "0.44,2.5",
        "--json",
    ]);
    let m = numbers(&v["margins"]);
    // Example 1 is class 1 (λ = 0.012, γ = 2.5), example 2 class 0 (λ = 0.088, γ = 0.44).
    for (mi, lambda, gamma) in [(m[0], 0.012, 2.5), (m[1], 0.088, 0.44)] {
        let residual = 1.0 / (1.0 + f64::exp(mi)) - lambda * (mi - gamma);
        assert!(residual.abs() < 1e-12, "{v}");
    }
    let out = gstarve(&[
        "check",
        "--system",
        p,
        "--reg",
        "sd",
        "--lambda",
        "0.088,0.012",
        "--sd-target",
        "0.44,2.5",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn bad_input_is_one_line_with_status_2() {
    let cases: [&[&str]; 5] = [
        &[
            "fixed-point",
            "--reg",
            "sd",
            "--lambda",
            "0.1,0.2,0.3",
            "--sd-target",
            "1",
        ],
        &["fixed-point", "--reg", "sd", "--sd-target", "1,2,3"],
        &[
            "fixed-point",
            "--strengths",
            "3,1",
            "--coupling",
            "0.3",
            "--reg",
            "sd",
            "--sd-target",
            "1",
        ],
        &["fixed-point", "--reg", "l2", "--sd-target", "1"],
        &["max-margin", "--random", "6", "--rank", "3"],
    ];
    for args in cases {
        let out = gstarve(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
    let out = gstarve(&[
        "fixed-point",
        "--reg",
        "sd",
        "--sd-target",
        "1",
        "--strengths",
        "2,1",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs the labels"));
}

/// The measure `max-margin` over (r, δ): 0 where every example is a support vector, negative
/// (starvation survives) beyond the boundary (at δ = 0.5, r = l*/2 = 2.54246).
#[test]
fn max_margin_phase_diagram() {
    let dir = tempfile::tempdir().unwrap();
    let out = gstarve(&[
        "phase-diagram",
        "--measure",
        "max-margin",
        "--x",
        "ratio:2:3",
        "--y",
        "coupling:0.4:0.6",
        "--grid",
        "3",
        "--format",
        "png,svg",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .unwrap();
    let text = std::fs::read_to_string(csv).unwrap();
    assert!(text.contains("value"), "{text}");
    let values: Vec<f64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .filter_map(|l| l.split(',').nth(2).and_then(|v| v.parse().ok()))
        .collect();
    assert!(
        values.iter().any(|&v| v == 0.0 || v.abs() < 1e-12),
        "{text}"
    );
    assert!(values.iter().any(|&v| v < -0.1), "{text}");
    // Both phases are in the key: the white one (E = 0) is a region here, not a line.
    let svg = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "svg"))
        .unwrap();
    let svg = std::fs::read_to_string(svg).unwrap();
    // (Key lines wrap into separate SVG text elements: match their beginnings.)
    for phase in [
        "blue: E₂₁\u{a0}&lt;\u{a0}0, starvation",
        "white: E₂₁\u{a0}=\u{a0}0, every",
    ] {
        assert!(svg.contains(phase), "the key lacks {phase:?}");
    }
}
