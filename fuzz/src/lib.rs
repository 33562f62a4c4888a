//! What the fuzz targets share: feeding an input to gstarve exactly as a user's file reaches it
//! (written to a file, read through the public `load`/`read_*` functions), and the invariants a
//! successful parse must hold.
//!
//! Every target asserts, for every input: no panic (libFuzzer reports one as a crash), no hang
//! (`-timeout` in fuzz/run.sh), bounded memory (`-rss_limit_mb`), a rejection that is an
//! [`Error::Input`] printed on one line, and, for an accepted input, the invariants of the type
//! it produced ([`assert_system`], and the checks in each target).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use gstarve_core::error::one_line;
use gstarve_core::systems::{orthonormality_deviation, FeatureSystem, ORTHOGONALITY_TOLERANCE};
use gstarve_core::Error;
use nalgebra::DVector;

/// A private folder for this fuzzing process (under `TMPDIR`; fuzz/run.sh points it at
/// /dev/shm when it exists), created once.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("gstarve-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        dir
    })
}

/// Write `bytes` to a scratch file called `name` (its extension picks the parser) and run `f`
/// on its path.
pub fn with_file<T>(name: &str, bytes: &[u8], f: impl FnOnce(&Path) -> T) -> T {
    let path = scratch().join(name);
    std::fs::write(&path, bytes).expect("the scratch file is written");
    f(&path)
}

/// A rejection of user input: an [`Error::Input`] (exit status 2 on the command line) whose
/// message, as the command line prints it (`{:#}`, with its sources), is one non-empty line.
pub fn assert_input_rejection(err: &Error) {
    assert!(
        matches!(err, Error::Input(_)),
        "bad input must be an input error: {err:?}"
    );
    assert_one_line(err);
}

/// An error message as the command line prints it (`{:#}`, control characters from quoted user
/// input escaped by `one_line`) is one non-empty line.
pub fn assert_one_line(err: &Error) {
    let text = format!("{err:#}");
    assert!(!text.trim().is_empty(), "empty message: {err:?}");
    let printed = one_line(&text);
    assert!(
        !printed.contains('\n') && !printed.contains('\r'),
        "the message is not one line: {printed:?}"
    );
}

/// The invariants of a validated [`FeatureSystem`] (and its initial responses): r ≥ 1 strengths,
/// finite and ≥ 0, one per column of U; r ≤ n; max |UᵀU − I| ≤ the tolerance; V (if present)
/// p × r with orthonormal columns; z(0) (if present) one finite value per feature.
pub fn assert_system(system: &FeatureSystem, z0: Option<&DVector<f64>>) {
    let (n, r) = system.coupling().shape();
    assert!(r >= 1, "a system has at least one feature");
    assert!(r <= n, "r = {r} > n = {n}");
    assert_eq!(system.strengths().len(), r);
    assert!(
        system
            .strengths()
            .iter()
            .all(|s| s.is_finite() && *s >= 0.0),
        "strengths {:?}",
        system.strengths()
    );
    assert!(system.coupling().iter().all(|u| u.is_finite()));
    let deviation = orthonormality_deviation(system.coupling());
    assert!(
        deviation <= ORTHOGONALITY_TOLERANCE,
        "max |UᵀU − I| = {deviation:e}"
    );
    if let Some(v) = system.features() {
        assert_eq!(v.ncols(), r);
        assert!(v.iter().all(|x| x.is_finite()));
        assert!(orthonormality_deviation(v) <= ORTHOGONALITY_TOLERANCE);
    }
    if let Some(z0) = z0 {
        assert_eq!(z0.len(), r, "one z(0) per feature");
        assert!(z0.iter().all(|z| z.is_finite()));
    }
}

/// Load a system file (JSON, TOML or NPZ by the extension of `name`) from `bytes`: an accepted
/// file holds the system invariants, a refused one is a one-line input error.
pub fn check_system_file(name: &str, bytes: &[u8]) {
    match with_file(name, bytes, FeatureSystem::load_with_initial) {
        Ok((system, z0)) => assert_system(&system, z0.as_ref()),
        Err(e) => assert_input_rejection(&e),
    }
}
