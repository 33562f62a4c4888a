//! The squared loss with L2, the closed-form comparison with no starvation (docs/theory.md §2.1,
//! §4.3).
//!
//! Because UᵀU = I the flow F(z) = S²Uᵀ(1 − Uz) − λz is linear and diagonal:
//!
//! ```text
//! F(z) = S²Uᵀ1 − S²z − λz = (S² + λI)(z* − z),     z_j* = s_j² (Uᵀ1)_j / (s_j² + λ)
//! ```
//!
//! so each mode relaxes on its own at rate s_j² + λ, and z_j* depends on s_j alone.
//!
//! - [`steady_state`] gives z*.
//! - [`trajectory`] gives z(τ) from any z(0).

use nalgebra::DVector;

use crate::error::{Error, InputError, Result};
use crate::systems::FeatureSystem;

fn nonnegative_lambda(lambda: f64) -> Result<f64> {
    if lambda.is_finite() && lambda >= 0.0 {
        Ok(lambda)
    } else {
        Err(Error::Input(InputError::InvalidParameter {
            name: "λ",
            value: lambda,
            rule: "the regularisation strength must be finite and ≥ 0",
        }))
    }
}

/// The squared-loss + L2 steady state (docs/theory.md §4.3):
///
/// ```text
/// z_j* = s_j² (Uᵀ1)_j / (s_j² + λ)
/// ```
///
/// λ ≥ 0. A mode with s_j² + λ = 0 (s_j = 0 without regulariser) never moves; its entry is the 0
/// that the flow from z = 0 keeps, as in [`crate::solvers::steady::steady_state`].
pub fn steady_state(system: &FeatureSystem, lambda: f64) -> Result<DVector<f64>> {
    let lambda = nonnegative_lambda(lambda)?;
    let sums = system.coupling_column_sums();
    Ok(DVector::from_fn(system.rank(), |j, _| {
        let s2 = system.strengths()[j].powi(2);
        let rate = s2 + lambda;
        if rate > 0.0 {
            s2 * sums[j] / rate
        } else {
            0.0
        }
    }))
}

/// The closed-form squared-loss + L2 trajectory (docs/theory.md §4.3, derived from
/// F(z) = S²(Uᵀ1 − z) − λz, valid because UᵀU = I):
///
/// ```text
/// z_j(τ) = z_j* + (z_j(0) − z_j*) e^{−(s_j² + λ) τ}
/// ```
///
/// evaluated as z_j(0) − (z_j* − z_j(0))·expm1(−(s_j² + λ)τ), accurate at small and large τ.
pub fn trajectory(
    system: &FeatureSystem,
    lambda: f64,
    initial: &DVector<f64>,
    tau: f64,
) -> Result<DVector<f64>> {
    if initial.len() != system.rank() {
        return Err(Error::Input(InputError::Length {
            what: "initial responses z₀",
            found: initial.len(),
            expected: system.rank(),
            rule: "one per feature",
        }));
    }
    if !(tau.is_finite() && tau >= 0.0) {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "τ",
            value: tau,
            rule: "the learning time must be finite and ≥ 0",
        }));
    }
    let target = steady_state(system, lambda)?;
    Ok(DVector::from_fn(system.rank(), |j, _| {
        let rate = system.strengths()[j].powi(2) + lambda;
        initial[j] - (target[j] - initial[j]) * (-rate * tau).exp_m1()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Loss, PrimalDynamics, Regulariser};
    use crate::ode::{FlowMethod, FlowOptions};
    use crate::solvers::flow::primal_flow;
    use crate::solvers::steady::steady_state as numerical_steady_state;
    use crate::systems::Spectrum;

    #[test]
    fn closed_form_steady_state_matches_newton() {
        for (sys, lambda) in [
            (FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap(), 0.01),
            (
                FeatureSystem::random(6, Spectrum::Linear { from: 3.0, to: 0.2 }, 5).unwrap(),
                0.3,
            ),
            (FeatureSystem::decoupled(&[2.0, 0.5]).unwrap(), 0.0),
        ] {
            let closed = steady_state(&sys, lambda).unwrap();
            let dynamics =
                PrimalDynamics::new(&sys, Loss::Squared, Regulariser::L2 { lambda }).unwrap();
            let newton = numerical_steady_state(&dynamics).unwrap();
            assert!(
                (&closed - &newton.responses).amax() < 1e-12,
                "{closed} vs {}",
                newton.responses
            );
        }
    }

    #[test]
    fn closed_form_trajectory_matches_numerical_flow() {
        let sys = FeatureSystem::random(4, Spectrum::Geometric { from: 3.0, to: 0.5 }, 2).unwrap();
        let lambda = 0.1;
        let z0 = DVector::from_vec(vec![0.3, -0.5, 1.0, 0.0]);
        let dynamics =
            PrimalDynamics::new(&sys, Loss::Squared, Regulariser::L2 { lambda }).unwrap();
        // The last grid point (τ = 5.5) is not compared: ode_solvers 0.6.2's Dop853 dense output
        // extrapolates it from a step that ends before τ_end.
        let options = FlowOptions::new(5.5, 12, 1e-12, 1e-12, FlowMethod::Dop853).unwrap();
        let sol = primal_flow(&dynamics, &z0, &options).unwrap();
        for (tau, state) in sol.tau.iter().zip(&sol.states).take(11) {
            let closed = trajectory(&sys, lambda, &z0, *tau).unwrap();
            let err = (&closed - DVector::from_column_slice(state)).amax();
            assert!(err < 1e-8, "τ = {tau}: error {err:e}");
        }
        // The limit τ → ∞ is the steady state.
        let late = trajectory(&sys, lambda, &z0, 1e3).unwrap();
        assert!((late - steady_state(&sys, lambda).unwrap()).amax() < 1e-14);
        assert!(trajectory(&sys, lambda, &DVector::zeros(3), 1.0).is_err());
        assert!(trajectory(&sys, -1.0, &z0, 1.0).is_err());
    }
}
