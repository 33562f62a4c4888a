//! The figure subcommands on the command line: every one writes its images and data, and bad
//! arguments are refused in one line before any work.

use super::support::{assert_rejected, gstarve};
use std::process::Command;

#[test]
fn figure_subcommands_write_images_and_data() {
    let d = tempfile::tempdir().unwrap();
    let o = d.path().to_string_lossy().into_owned();
    for args in [
        vec!["phase-diagram", "--grid", "12", "--out", &o, "--name", "pd"],
        vec![
            "phase-diagram",
            "--measure",
            "ratio",
            "--x",
            "ratio:1:4",
            "--y",
            "lambda:1e-3:1e-1:log",
            "--grid",
            "8",
            "--out",
            &o,
            "--name",
            "pd2",
            "--format",
            "png,svg",
        ],
        vec![
            "phase-plane",
            "--strengths",
            "5,2",
            "--coupling",
            "0.3",
            "--out",
            &o,
            "--name",
            "pp",
        ],
        vec!["reproduce", "toy", "--out", &o],
    ] {
        let out = gstarve(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for f in [
        "pd.png",
        "pd.csv",
        "pd2.png",
        "pd2.svg",
        "pd2.csv",
        "pp.png",
        "pp.csv",
        "toy-figure.png",
        "toy-figure.csv",
    ] {
        let meta = std::fs::metadata(d.path().join(f)).unwrap_or_else(|_| panic!("{f} missing"));
        assert!(meta.len() > 100, "{f} is empty");
    }
}

#[test]
fn bad_figure_arguments() {
    assert_rejected(
        &[
            "phase-diagram",
            "--x",
            "ratio:5:1",
            "--grid",
            "8",
            "--out",
            "/tmp/x",
        ],
        &["ratio"],
    );
    assert_rejected(
        &["phase-diagram", "--x", "bogus:1:2", "--grid", "8"],
        &["bogus"],
    );
    assert_rejected(&["phase-diagram", "--grid", "0"], &["0"]);
    assert_rejected(
        &["phase-plane", "--random", "3", "--responses", "1,4"],
        &["4"],
    );
}

/// Figures render with the bundled DejaVu Sans: the binary links no font library
/// (no fontconfig or freetype), so it works on a machine with no system fonts.
#[test]
#[cfg(target_os = "linux")]
fn binary_links_no_font_libraries() {
    let Ok(out) = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_gstarve"))
        .output()
    else {
        eprintln!("ldd not available; skipped");
        return;
    };
    let libs = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(libs.contains("libc"), "ldd output looks wrong: {libs}");
    for bad in ["fontconfig", "freetype", "expat"] {
        assert!(!libs.contains(bad), "the binary links {bad}: {libs}");
    }
}

#[test]
fn more_figure_subcommands() {
    let d = tempfile::tempdir().unwrap();
    let o = d.path().to_string_lossy().into_owned();
    for args in [
        vec![
            "responses",
            "--random",
            "3",
            "--seed",
            "2",
            "--spectrum",
            "3:0.5",
            "--log-time",
            "--out",
            &o,
        ],
        vec![
            "starvation-matrix",
            "--random",
            "4",
            "--seed",
            "1",
            "--spectrum",
            "4:0.5",
            "--lambda",
            "0.05",
            "--out",
            &o,
        ],
        vec![
            "flow-vs-gd",
            "--strengths",
            "5,2",
            "--coupling",
            "0.3",
            "--etas",
            "0.02,0.01,0.005",
            "--out",
            &o,
        ],
    ] {
        let out = gstarve(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for f in [
        "responses.png",
        "responses.csv",
        "starvation-matrix.png",
        "starvation-matrix.csv",
        "flow-vs-gd.png",
        "flow-vs-gd.csv",
    ] {
        assert!(d.path().join(f).exists(), "{f} missing");
    }
    assert_rejected(
        &["starvation-matrix", "--lambda", "-1", "--out", &o],
        &["λ = -1"],
    );
}

/// On a stiff system (ρ = λ + s₁²/4 = 900, so the default η = 0.05 is unstable, docs/theory.md
/// §3.6) the figures still render: responses and the phase plane leave GD out with a note that
/// names a stable η, the phase plane of a three-feature system drops the two-feature direction
/// field with a note, and flow-vs-gd takes its default step sizes below the stability limit,
/// over a learning time shortened to 10⁵ of the smallest.
#[test]
fn figures_render_on_stiff_and_many_feature_systems() {
    let d = tempfile::tempdir().unwrap();
    let o = d.path().to_string_lossy().into_owned();
    let run = |args: &[&str]| {
        let out = gstarve(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        stderr
    };
    // Each run replaces the previous one's files (another configuration): --force.
    let stiff = ["--strengths", "60,1", "--out", &o, "--force"];
    let note = run(&[&["responses", "--name", "r"][..], &stiff].concat());
    assert!(
        note.contains("GD left out") && note.contains("below 0.002222"),
        "{note}"
    );
    let csv = std::fs::read_to_string(d.path().join("r.csv")).unwrap();
    assert!(csv.lines().any(|l| l.starts_with("flow,")), "{csv}");
    assert!(!csv.lines().any(|l| l.starts_with("gd,")), "{csv}");
    // With a stable η given, GD is drawn.
    run(&[&["responses", "--name", "r", "--eta", "0.002"][..], &stiff].concat());
    let csv = std::fs::read_to_string(d.path().join("r.csv")).unwrap();
    assert!(csv.lines().any(|l| l.starts_with("gd,")));

    let note = run(&[&["phase-plane", "--name", "p"][..], &stiff].concat());
    assert!(note.contains("GD left out"), "{note}");
    let note = run(&[
        "phase-plane",
        "--random",
        "3",
        "--spectrum",
        "2:1",
        "--name",
        "p3",
        "--out",
        &o,
    ]);
    assert!(note.contains("has 3 features"), "{note}");

    let note = run(&[&["flow-vs-gd", "--name", "g"][..], &stiff].concat());
    assert!(note.contains("a stiff system"), "{note}");
    let csv = std::fs::read_to_string(d.path().join("g.csv")).unwrap();
    let etas: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(etas.len(), 9);
    // top = min(0.1, 0.5/ρ) with ρ = 900.01; the smallest two decades below.
    let top = 0.5 / 900.01;
    assert!((etas[8] / top - 1.0).abs() < 1e-12 && (etas[0] / (top / 100.0) - 1.0).abs() < 1e-12);
}
