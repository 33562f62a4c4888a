//! Reference values of docs/theory.md §6.2 (the paper's toy, its Figure 6), copied into
//! `gstarve_core::reference` with their source, checked against the solvers.

use gstarve_core::model::{Loss, PrimalDynamics, Regulariser};
use gstarve_core::reference::*;
use gstarve_core::solvers::gd::{gradient_descent, GdOptions};
use gstarve_core::solvers::steady::{sd_margin, steady_state};
use gstarve_core::systems::FeatureSystem;
use nalgebra::DVector;

fn l2(sys: &FeatureSystem, lambda: f64) -> PrimalDynamics<'_> {
    PrimalDynamics::new(sys, Loss::Logistic, Regulariser::L2 { lambda }).unwrap()
}

#[test]
fn toy_l2_steady_states_match_theory_table() {
    for (l, z_ref, m_ref) in TOY_L2_STEADY_STATES {
        let sys = paper_toy(l);
        let fp = steady_state(&l2(&sys, TOY_LAMBDA_L2)).unwrap();
        for j in 0..2 {
            assert!(
                (fp.responses[j] - z_ref[j]).abs() < 1e-6,
                "l = {l}: z{} = {} vs {}",
                j + 1,
                fp.responses[j],
                z_ref[j]
            );
            // The table gives margins to 5 decimals.
            assert!(
                (fp.margins[j] - m_ref[j]).abs() < 1e-5,
                "l = {l}: m{}",
                j + 1
            );
        }
        assert!(fp.residual < 1e-10, "residual {}", fp.residual);
    }
}

#[test]
fn toy_sd_steady_state_is_the_same_for_every_l() {
    let (mu, _) = sd_margin(TOY_LAMBDA_SD).unwrap();
    assert!((mu - TOY_SD_MARGIN).abs() < 1e-6);
    for l in [2.0, 3.0, 4.0, 5.0, 6.0] {
        let sys = paper_toy(l);
        let d = PrimalDynamics::new(
            &sys,
            Loss::Logistic,
            Regulariser::SpectralDecoupling {
                lambda: TOY_LAMBDA_SD,
            },
        )
        .unwrap();
        let fp = steady_state(&d).unwrap();
        for (j, expected) in TOY_SD_RESPONSES.iter().enumerate() {
            assert!((fp.responses[j] - expected).abs() < 1e-6);
            assert!(
                (fp.margins[j] - TOY_SD_MARGIN).abs() < 1e-6,
                "equal margins μ*"
            );
        }
    }
}

#[test]
fn decoupled_roots_match_theory_table() {
    for (s, exact, _lambert) in DECOUPLED_ROOTS {
        let sys = FeatureSystem::decoupled(&[s]).unwrap();
        let fp = steady_state(&l2(&sys, 0.01)).unwrap();
        assert!(
            (fp.responses[0] - exact).abs() < 1e-6,
            "s = {s}: {}",
            fp.responses[0]
        );
        let z = fp.responses[0];
        assert!((z * (1.0 + z.exp()) - s * s / 0.01).abs() < 1e-9 * s * s / 0.01);
    }
}

/// The paper's Figure 6: GD (η = 0.05, 5000 steps from 0) ends near the L2 steady state, with
/// a gap that grows with l (the slow mode slows as s₁ grows, so the finite runs, τ = 250, have
/// not converged for s₁ ≥ 5: docs/theory.md §5.6), and z₂ at the endpoint falls as l grows
/// (starvation is visible at the endpoints).
#[test]
fn toy_gd_endpoints_reproduce_the_figure() {
    let mut gaps = Vec::new();
    let mut z2_end = Vec::new();
    for (l, z_ref, _) in TOY_L2_STEADY_STATES {
        let sys = paper_toy(l);
        let d = l2(&sys, TOY_LAMBDA_L2);
        let run = gradient_descent(
            &d,
            &DVector::zeros(2),
            &GdOptions::new(TOY_ETA, TOY_STEPS, 2, false).unwrap(),
        )
        .unwrap();
        let end = run.states.last().unwrap();
        let gap = (DVector::from_column_slice(end) - DVector::from_column_slice(&z_ref)).amax();
        gaps.push(gap);
        z2_end.push(end[1]);
    }
    // Converged to plotting accuracy for l ≤ 3, visibly not yet for l = 6.
    assert!(gaps[0] < 1e-4 && gaps[1] < 1e-3, "{gaps:?}");
    assert!(gaps[4] > 1e-3 && gaps[4] < 1e-2, "{gaps:?}");
    assert!(
        gaps.windows(2).all(|w| w[1] > w[0]),
        "gap grows with l: {gaps:?}"
    );
    assert!(
        z2_end.windows(2).all(|w| w[1] < w[0]),
        "z₂ falls with l: {z2_end:?}"
    );
}
