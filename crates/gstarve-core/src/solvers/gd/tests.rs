//! The team and the fixed-size loop take the serial loop's steps bit for bit, and the team
//! reports divergence as the serial loop does.

use nalgebra::DVector;

use super::team::iterate_margins_team;
use super::*;
use crate::model::{Loss, MarginFlow, Regulariser};
use crate::systems::FeatureSystem;
use crate::systems::Spectrum;

fn margin_flow(n: usize, lambda: f64) -> (FeatureSystem, Loss, Regulariser) {
    let sys = FeatureSystem::random(
        n,
        Spectrum::Geometric {
            from: 10.0,
            to: 0.1,
        },
        3,
    )
    .unwrap();
    (sys, Loss::Logistic, Regulariser::L2 { lambda })
}

/// The two-thread team takes the same steps as the serial loop, bit for bit, at every
/// recorded point (n above the split size, both sweep directions, several segments).
#[test]
fn team_equals_the_serial_loop() {
    let n = crate::model::symmetric::PARALLEL_MIN_DIM + 9;
    let (sys, loss, reg) = margin_flow(n, 0.01);
    let dynamics = PrimalDynamics::new(&sys, loss, reg).unwrap();
    let flow = MarginFlow::new(&dynamics);
    let m0 = DVector::from_fn(n, |i, _| 0.1 * ((i * 7 % 13) as f64 - 6.0));
    let options = GdOptions::new(1e-3, 41, 5, false).unwrap();
    let serial = iterate_margins_serial(&flow, &m0, &options).unwrap();
    let team = iterate_margins_team(&flow, &m0, &options).unwrap();
    assert_eq!(team.tau, serial.tau);
    assert_eq!(team.states.len(), 5);
    if rayon::current_num_threads() >= 2 {
        assert_eq!(team.states.as_slice(), serial.states.as_slice());
    } else {
        // One-thread pool: the serial product does not split, so only rounding agrees.
        for (a, b) in team.states.as_slice().iter().zip(serial.states.as_slice()) {
            assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()));
        }
    }
    // And the run moved: the last state differs from the first.
    assert!(team.states[4] != team.states[0]);
}

/// Divergence on the team is reported like on the serial loop, with the same step.
#[test]
fn team_reports_divergence() {
    let n = crate::model::symmetric::PARALLEL_MIN_DIM;
    let (sys, loss, reg) = margin_flow(n, 0.01);
    let dynamics = PrimalDynamics::new(&sys, loss, reg).unwrap();
    let flow = MarginFlow::new(&dynamics);
    let m0 = DVector::zeros(n);
    // η far above the stability bound 2/(s₁²/4 + λ) ≈ 0.08: the λ term alone grows as
    // (1 − ηλ)^k with ηλ = 1e6.
    let options = GdOptions::new(1e8, 400, 11, true).unwrap();
    let serial = iterate_margins_serial(&flow, &m0, &options).unwrap_err();
    let team = iterate_margins_team(&flow, &m0, &options).unwrap_err();
    assert!(
        matches!(
            team,
            Error::Numerical(NumericalError::Diverged { method: "gd", .. })
        ),
        "{team}"
    );
    assert_eq!(team.to_string(), serial.to_string());
}

/// The fixed-size loop for n ≤ 4 takes the same steps as the general one, bit for bit.
#[test]
fn small_loop_equals_the_general_one() {
    for n in 1..=4 {
        let (sys, loss, reg) = margin_flow(n, 0.05);
        let dynamics = PrimalDynamics::new(&sys, loss, reg).unwrap();
        let m0 = DVector::from_fn(n, |i, _| 0.3 * i as f64 - 0.2);
        let options = GdOptions::new(0.01, 300, 7, false).unwrap();
        let general = iterate_margins(&MarginFlow::new(&dynamics), &m0, &options).unwrap();
        let small = match n {
            1 => iterate_small(&MarginFlowN::<1>::new(&dynamics).unwrap(), &m0, &options),
            2 => iterate_small(&MarginFlowN::<2>::new(&dynamics).unwrap(), &m0, &options),
            3 => iterate_small(&MarginFlowN::<3>::new(&dynamics).unwrap(), &m0, &options),
            _ => iterate_small(&MarginFlowN::<4>::new(&dynamics).unwrap(), &m0, &options),
        }
        .unwrap();
        assert_eq!(small.tau, general.tau);
        assert_eq!(
            small.states.as_slice(),
            general.states.as_slice(),
            "n = {n}"
        );
        assert!(small.states[6] != small.states[0]);
    }
}
