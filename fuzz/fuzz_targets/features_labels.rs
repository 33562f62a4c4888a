//! Features and labels (`--features PHI --labels Y`) and a kernel (`--kernel K --labels Y`), as
//! CSV: the input is PHI, a NUL byte, then Y. Both files are read as the command line reads them
//! and the system is built from Φ (SVD of YΦ) and from Φ taken as a kernel Θ
//! (eigendecomposition of YΘY). An accepted pair gives a system with the invariants of
//! `assert_system` (U orthonormal, strengths finite ≥ 0, in decreasing order); a refused one is a
//! one-line input error, or a one-line numerical error when a decomposition did not converge.
#![no_main]

use gstarve_core::systems::FeatureSystem;
use gstarve_core::systems::{read_matrix, read_vector, DEFAULT_KERNEL_STRENGTH_FLOOR};
use gstarve_core::Error;
use gstarve_fuzz::{assert_input_rejection, assert_one_line, assert_system, with_file};

fn assert_decreasing(system: &FeatureSystem) {
    let s = system.strengths();
    assert!(
        s.iter().zip(s.iter().skip(1)).all(|(a, b)| a >= b),
        "strengths not in decreasing order: {s:?}"
    );
}

fn refused(e: &Error) {
    match e {
        Error::Numerical(_) => assert_one_line(e),
        _ => assert_input_rejection(e),
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|&b| b == 0) else {
        return;
    };
    let phi = with_file("phi.csv", &data[..split], read_matrix);
    let labels = with_file("y.csv", &data[split + 1..], read_vector);
    let (phi, labels) = match (phi, labels) {
        (Ok(phi), Ok(labels)) => (phi, labels),
        (Err(e), _) | (_, Err(e)) => return assert_input_rejection(&e),
    };
    match FeatureSystem::from_features(&phi, &labels) {
        Ok(system) => {
            assert_system(&system, None);
            assert_eq!(system.examples(), phi.nrows());
            assert!(system.rank() <= phi.nrows().min(phi.ncols()));
            assert_decreasing(&system);
        }
        Err(e) => refused(&e),
    }
    match FeatureSystem::from_kernel(&phi, &labels, DEFAULT_KERNEL_STRENGTH_FLOOR) {
        Ok((system, truncation)) => {
            assert_system(&system, None);
            assert_eq!(system.examples(), phi.nrows());
            assert_decreasing(&system);
            let share = truncation.dropped_strength_share;
            assert!((0.0..=1.0).contains(&share), "dropped share {share}");
        }
        Err(e) => refused(&e),
    }
});
