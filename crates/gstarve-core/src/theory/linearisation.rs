//! The flow linearised at its steady state (docs/theory.md §5.6, "Linearisation near z*") and the
//! step-size bounds of gradient descent (docs/theory.md §3.6, "Stability of GD").
//!
//! - [`linearisation`]: eigenvalues of the Jacobian at z*, relaxation times, the slowest rate and
//!   the local GD step limit 2/ρ.
//! - [`gd_step_limit`]: the global GD stability bound on η.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::error::Result;
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::solvers::steady::{steady_state, SteadyState};
use crate::systems::FeatureSystem;

/// The linearised flow at the steady state.
#[derive(Clone, Debug, PartialEq)]
pub struct Linearisation {
    /// The steady state z*.
    pub steady_state: SteadyState,
    /// Eigenvalues of ∂F/∂z at z*, all real and negative, slowest (closest to 0) first.
    pub eigenvalues: DVector<f64>,
    /// Relaxation times 1/|eigenvalue|, in the same order (longest first).
    pub relaxation_times: DVector<f64>,
    /// The slowest rate min |eigenvalue|: ‖z(τ) − z*‖ ∝ e^{−rate·τ} late in the flow.
    pub slowest_rate: f64,
    /// 2/ρ(∂F/∂z at z*): GD with η below it is stable near z* (local information; sharper than
    /// [`gd_step_limit`], which holds everywhere).
    pub local_step_limit: f64,
}

/// The flow linearised at its steady state (docs/theory.md §5.6, "Linearisation near z*"; §3.2):
///
/// ```text
/// L2:  ż ≈ −(λI + S² Uᵀ D U)(z − z*)
/// SD:  ż ≈ −S²(Uᵀ D U + λI)(z − z*),        D = diag(σ'(U z*))
/// ```
///
/// (with class targets, docs/theory.md §10.1, D = diag(σ'(mᵢ*) + λᵢ) and no λ term).
///
/// S²M (M = UᵀDU) is similar to the symmetric S M S (AB and BA share eigenvalues), so the
/// eigenvalues are −(λ + eig(SMS)) for L2 and −eig(S(M + λI)S) for SD, computed with
/// `SymmetricEigen`: real, negative, sorted slowest first. Logistic loss; the steady state comes
/// from [`crate::solvers::steady::steady_state`] (no regulariser has none: an error).
pub fn linearisation(system: &FeatureSystem, regulariser: Regulariser) -> Result<Linearisation> {
    let dynamics = PrimalDynamics::new(system, Loss::Logistic, regulariser)?;
    let steady_state = steady_state(&dynamics)?;
    let rates = relaxation_rates(&dynamics, &steady_state.margins);
    let r = system.rank();
    let eigenvalues = DVector::from_iterator(r, rates.iter().map(|&k| -k));
    let relaxation_times = DVector::from_iterator(r, rates.iter().map(|&k| 1.0 / k));
    let spectral_radius = rates.iter().fold(0.0, |a: f64, &k| a.max(k.abs()));
    Ok(Linearisation {
        steady_state,
        eigenvalues,
        relaxation_times,
        slowest_rate: rates[0],
        local_step_limit: 2.0 / spectral_radius,
    })
}

/// The relaxation rates κ = −eigenvalues of [`linearisation`]'s Jacobian, ascending (slowest
/// first), at the steady state whose margins m* = U z* are `margins` (one per example): the
/// eigenvalues of S M S (+ λ_SD S² for SD) plus λ_L2, M = Uᵀ diag(σ'(m*)) U.
pub fn relaxation_rates(dynamics: &PrimalDynamics, margins: &DVector<f64>) -> Vec<f64> {
    let system = dynamics.system();
    let u = system.coupling();
    let s = system.strengths();
    let (lambda_l2, lambda_sd) = dynamics.regulariser().split();
    // SMS (+ λ_SD S² for SD), symmetric.
    let mut du = u.clone();
    for (i, mut row) in du.row_iter_mut().enumerate() {
        row *= dynamics.model().example_curvature(i, margins[i]);
    }
    let mut symmetric: DMatrix<f64> = u.tr_mul(&du);
    let r = system.rank();
    for j in 0..r {
        symmetric[(j, j)] += lambda_sd;
    }
    for j in 0..r {
        for i in 0..r {
            symmetric[(j, i)] *= s[j] * s[i];
        }
    }
    let mut rates: Vec<f64> = SymmetricEigen::new(symmetric)
        .eigenvalues
        .iter()
        .map(|&e| e + lambda_l2)
        .collect();
    rates.sort_by(f64::total_cmp);
    rates
}

/// The global stability bound of gradient descent on η (docs/theory.md §3.6, "Stability of GD"):
///
/// ```text
/// L2:  η < 2 / (λ + s₁²/4)        SD:  η < 2 / (s₁² (λ + 1/4))
/// ```
///
/// (the spectral radius of the Jacobian is at most λ + s₁²/4, resp. s₁²(λ + 1/4), everywhere,
/// since σ' ≤ 1/4). No regulariser is the L2 bound with λ = 0. Logistic loss; ∞ when every
/// strength and λ are 0.
pub fn gd_step_limit(system: &FeatureSystem, regulariser: Regulariser) -> Result<f64> {
    let bound = PrimalDynamics::new(system, Loss::Logistic, regulariser)?.curvature_bound();
    Ok(if bound > 0.0 {
        2.0 / bound
    } else {
        f64::INFINITY
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ode::{FlowMethod, FlowOptions};
    use crate::solvers::flow::primal_flow;
    use crate::systems::Spectrum;

    #[test]
    fn eigenvalues_match_the_jacobian_at_the_steady_state() {
        let sys = FeatureSystem::random(5, Spectrum::Geometric { from: 4.0, to: 0.5 }, 9).unwrap();
        for reg in [
            Regulariser::L2 { lambda: 0.05 },
            Regulariser::SpectralDecoupling { lambda: 0.01 },
        ] {
            let lin = linearisation(&sys, reg).unwrap();
            let d = PrimalDynamics::new(&sys, Loss::Logistic, reg).unwrap();
            let jac = d.jacobian(&lin.steady_state.responses);
            let mut direct: Vec<f64> = jac
                .complex_eigenvalues()
                .iter()
                .map(|c| {
                    assert!(c.im.abs() < 1e-10);
                    c.re
                })
                .collect();
            direct.sort_by(|a, b| b.total_cmp(a));
            for (a, b) in lin.eigenvalues.iter().zip(&direct) {
                assert!(
                    (a - b).abs() < 1e-10 * b.abs().max(1.0),
                    "{reg:?}: {a} vs {b}"
                );
            }
            assert!(lin.eigenvalues.iter().all(|&e| e < 0.0));
            assert!((lin.relaxation_times[0] * lin.slowest_rate - 1.0).abs() < 1e-15);
        }
    }

    #[test]
    fn late_flow_decays_at_the_slowest_rate() {
        // The paper's toy (docs/theory.md §6.1) at l = 4, λ = 0.01, flow from z = 0.
        let sys = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
        let reg = Regulariser::L2 { lambda: 0.01 };
        let lin = linearisation(&sys, reg).unwrap();
        let d = PrimalDynamics::new(&sys, Loss::Logistic, reg).unwrap();
        // The grid runs one interval past 6/rate: the last grid point of ode_solvers 0.6.2's
        // Dop853 dense output is extrapolated from a step that ends before τ_end.
        let t_end = 7.0 / lin.slowest_rate;
        let options = FlowOptions::new(t_end, 8, 1e-11, 1e-13, FlowMethod::Dop853).unwrap();
        let sol = primal_flow(&d, &DVector::zeros(2), &options).unwrap();
        let z_star = &lin.steady_state.responses;
        let dist = |k: usize| (sol.states.state(k) - z_star).norm();
        // Between 4/rate and 6/rate.
        let measured = -(dist(6).ln() - dist(4).ln()) / (sol.tau[6] - sol.tau[4]);
        assert!(
            (measured / lin.slowest_rate - 1.0).abs() < 0.1,
            "measured {measured}, predicted {}",
            lin.slowest_rate
        );
    }

    #[test]
    fn slow_mode_slows_as_the_strong_feature_grows() {
        // docs/theory.md §5.6: why the toy's finite GD runs are not converged for s₁ ≥ 5.
        let rates: Vec<f64> = [3.0, 4.0, 5.0, 6.0]
            .iter()
            .map(|&l| {
                let sys = FeatureSystem::rotation(l, 2.0, 0.5).unwrap();
                linearisation(&sys, Regulariser::L2 { lambda: 0.01 })
                    .unwrap()
                    .slowest_rate
            })
            .collect();
        assert!(rates.windows(2).all(|w| w[1] < w[0]), "{rates:?}");
    }

    #[test]
    fn gd_step_limits_follow_theory() {
        let sys = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
        // docs/theory.md §3.6: 2/(λ + s₁²/4) for L2, 2/(s₁²(λ + 1/4)) for SD.
        let l2 = gd_step_limit(&sys, Regulariser::L2 { lambda: 0.01 }).unwrap();
        assert!((l2 - 2.0 / (0.01 + 4.0)).abs() < 1e-15);
        let sd = gd_step_limit(&sys, Regulariser::SpectralDecoupling { lambda: 0.002 }).unwrap();
        assert!((sd - 2.0 / (16.0 * 0.252)).abs() < 1e-15);
        // The toy's η = 0.05 is well inside both; the local limit is looser than the global one.
        assert!(0.05 < l2.min(sd));
        for reg in [
            Regulariser::L2 { lambda: 0.01 },
            Regulariser::SpectralDecoupling { lambda: 0.002 },
        ] {
            let lin = linearisation(&sys, reg).unwrap();
            assert!(lin.local_step_limit >= gd_step_limit(&sys, reg).unwrap());
        }
        assert!(linearisation(&sys, Regulariser::None).is_err());
    }
}
