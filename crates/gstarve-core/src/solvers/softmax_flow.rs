//! The softmax flow and its GD map (docs/theory.md §9.2, §3.1): the z-space
//! [`SoftmaxDynamics`] integrated by the automatic choice of [`super::auto`] with the analytic
//! Jacobian, and stepped by the one GD loop of [`super::gd`].

use nalgebra::DVector;

use crate::error::{Error, InputError, Result};
use crate::model::SoftmaxDynamics;
use crate::ode::{FlowOptions, OdeSolution};
use crate::solvers::gd::GdOptions;

fn check_start(dynamics: &SoftmaxDynamics, z0: &DVector<f64>) -> Result<()> {
    if z0.len() != dynamics.dim() {
        return Err(Error::Input(InputError::Length {
            what: "initial responses z₀",
            found: z0.len(),
            expected: dynamics.dim(),
            rule: "one per feature",
        }));
    }
    Ok(())
}

/// The gradient flow dz/dτ = F(z) from z₀ on the grid of `options` (the method as `options`
/// says; Auto chooses by size and the stiffness bound λ + s₁²/2 of docs/theory.md §9.3).
pub fn softmax_flow(
    dynamics: &SoftmaxDynamics,
    z0: &DVector<f64>,
    options: &FlowOptions,
) -> Result<OdeSolution> {
    check_start(dynamics, z0)?;
    super::auto::integrate(dynamics, z0.as_slice(), options)
}

/// GD z_{k+1} = z_k + ηF(z_k) from z₀, stable while η(λ + s₁²/2) < 2 (L2; docs/theory.md §9.3).
pub fn softmax_gradient_descent(
    dynamics: &SoftmaxDynamics,
    z0: &DVector<f64>,
    options: &GdOptions,
) -> Result<OdeSolution> {
    check_start(dynamics, z0)?;
    options.check_stability(dynamics.curvature_bound())?;
    super::gd::iterate(dynamics, z0, options, "gd")
}
