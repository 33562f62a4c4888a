//! What the interface tests share: running the binary and asserting a clean rejection.

use std::path::Path;
use std::process::{Command, Output};

/// Run the `gstarve` binary with `args`.
pub fn gstarve(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gstarve"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Assert a clean failure: exit code 2, one line on stderr containing every `needles`, no
/// panic.
pub fn assert_rejected(args: &[&str], needles: &[&str]) {
    let out = gstarve(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: stderr {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{args:?}: one line expected, got {stderr}"
    );
    for n in needles {
        assert!(stderr.contains(n), "{args:?}: '{n}' not in: {stderr}");
    }
}

/// Write `text` to `dir/name` and return the path.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// max(m, e) that propagates NaN, for the folds of gaps: a fold with `f64::max` would skip a
/// NaN difference, so a NaN result would pass `gap < tol`.
pub fn nan_max(m: f64, e: f64) -> f64 {
    if m.is_nan() || e.is_nan() {
        f64::NAN
    } else {
        m.max(e)
    }
}
