//! The checker passes on the paper's toy, fails when its tolerances are tiny, and fails a
//! broken prediction.

use super::*;
use crate::model::sigmoid_prime;
use crate::reference::paper_toy;
use crate::theory::sensitivity;

#[test]
fn toy_passes_every_l2_and_sd_check() {
    for l in [2.0, 3.0, 4.0, 5.0, 6.0] {
        let sys = paper_toy(l);
        for reg in [
            Regulariser::L2 { lambda: 0.01 },
            Regulariser::SpectralDecoupling { lambda: 0.002 },
        ] {
            let rows = check_system(&sys, Loss::Logistic, reg, &CheckOptions::default()).unwrap();
            assert!(rows.len() >= 4, "{reg:?}: {rows:?}");
            // The first row is the flow settling at the steady state of §4.1 (L2) or §4.2 (SD).
            let settles = match reg {
                Regulariser::L2 { .. } => "§4.1",
                _ => "§4.2",
            };
            assert_eq!(rows[0].section, settles, "{reg:?}: {:?}", rows[0]);
            for row in &rows {
                assert_ne!(row.verdict, Verdict::Fail, "l = {l} {reg:?}: {row:?}");
                assert!(is_subsection(row.section), "{row:?}");
            }
        }
    }
}

#[test]
fn a_tiny_tolerance_makes_the_checker_fail() {
    let rows = check_system(
        &paper_toy(4.0),
        Loss::Logistic,
        Regulariser::L2 { lambda: 0.01 },
        &CheckOptions {
            tolerance_scale: 1e-14,
        },
    )
    .unwrap();
    assert!(!all_passed(&rows));
}

#[test]
fn a_broken_prediction_fails() {
    // The sensitivity formula with the sign of the coupling term flipped (J = I − λ⁻¹S²M
    // instead of I + λ⁻¹S²M) must not pass the finite-difference comparison.
    let sys = paper_toy(4.0);
    let lambda = 0.01;
    let sens = sensitivity::l2_sensitivity(&sys, lambda).unwrap();
    let fd = steady_state_differences(&sys, Regulariser::L2 { lambda }).unwrap();
    let m = &sens.steady_state.margins;
    let u = sys.coupling();
    let s2 = sys.strengths_squared();
    let mut broken_j = DMatrix::<f64>::identity(2, 2);
    for a in 0..2 {
        for b in 0..2 {
            let mab: f64 = (0..2)
                .map(|i| u[(i, a)] * u[(i, b)] * sigmoid_prime(m[i]))
                .sum();
            broken_j[(a, b)] -= s2[a] * mab / lambda;
        }
    }
    let z = &sens.steady_state.responses;
    let broken = broken_j.try_inverse().unwrap()[(1, 0)] * z[0] / s2[0];
    let row = PredictionCheck::compare(
        "broken",
        "§5.3",
        "test",
        broken,
        fd[(1, 0)],
        1e-5 * fd.amax(),
    );
    assert_eq!(row.verdict, Verdict::Fail);
    let good = PredictionCheck::compare(
        "good",
        "§5.3",
        "test",
        sens.derivatives[(1, 0)],
        fd[(1, 0)],
        1e-5 * fd.amax(),
    );
    assert_eq!(good.verdict, Verdict::Pass);
}

/// A label of the form §n.m: a numbered subsection of docs/theory.md, not a whole section.
fn is_subsection(label: &str) -> bool {
    let number = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
    match label
        .strip_prefix('§')
        .and_then(|rest| rest.split_once('.'))
    {
        Some((section, subsection)) => number(section) && number(subsection),
        None => false,
    }
}
