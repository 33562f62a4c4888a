//! The analytic results of docs/theory.md §4–§5, one function per result.
//!
//! The solvers of [`crate::solvers`] compute steady states and trajectories numerically for any
//! system; this module computes what the theory says in closed form (or by a one-dimensional root
//! or a small linear solve), so that every prediction can be checked against the numbers:
//!
//! - [`decoupled`]: U = I. The L2 root of z(1 + e^z) = s²/λ and its Lambert-W approximation; the
//!   closed-form no-regulariser trajectory through the Wright omega function (§5.1, §5.2).
//! - [`sd`]: Spectral Decoupling. The common margin μ*, its Lambert-W approximation, z* = μ*·Uᵀ1
//!   (§4.2, §5.1).
//! - [`sd_classes`]: Spectral Decoupling with a weight and a target per class; per-example
//!   steady margins (§10.1).
//! - [`max_margin`]: the limit λ → 0 of the L2 steady state (§11).
//! - [`squared`]: the squared loss with L2. Closed-form steady state and trajectory (§4.3).
//! - [`sensitivity`]: the starvation test. ∂z*/∂(s_i²) by the implicit-function theorem, the
//!   elasticity (starvation) matrix, the exact two-feature criterion (§5.3, §5.4).
//! - [`perturbation`]: first order in the coupling, U = I + δA (§5.5).
//! - [`linearisation`]: relaxation rates near z* and the GD step-size bounds (§3.6, §5.6).
//! - [`softmax`]: the starvation test of multi-class softmax systems, H in place of D (§9.3).
//! - [`surrogate`]: the uniform-point quadratic surrogate, a comparison that misses starvation
//!   (§5.7).
//!
//! Results that need the L2 steady state take it from [`crate::solvers::steady::steady_state`]
//! (logistic loss); everything else is closed form.

pub mod checks;
pub mod decoupled;
pub mod linearisation;
pub mod max_margin;
pub mod perturbation;
pub mod sd;
pub mod sd_classes;
pub mod sensitivity;
pub mod softmax;
pub mod squared;
pub mod surrogate;

use crate::error::{Error, InputError, Result};
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::solvers::steady::{steady_state, SteadyState};
use crate::systems::FeatureSystem;

/// Check that λ is finite and > 0 (every steady state of the logistic loss needs a regulariser,
/// docs/theory.md §2.2) and return it.
fn positive_lambda(lambda: f64) -> Result<f64> {
    if lambda.is_finite() && lambda > 0.0 {
        Ok(lambda)
    } else {
        Err(Error::Input(InputError::InvalidParameter {
            name: "λ",
            value: lambda,
            rule: "the regularisation strength must be finite and > 0 for a steady state",
        }))
    }
}

/// The L2 steady state of the logistic loss (docs/theory.md §4.1), from the Newton solver.
fn l2_steady_state(system: &FeatureSystem, lambda: f64) -> Result<SteadyState> {
    let lambda = positive_lambda(lambda)?;
    let dynamics = PrimalDynamics::new(system, Loss::Logistic, Regulariser::L2 { lambda })?;
    steady_state(&dynamics)
}

/// The sign of x as −1, 0 or +1 (0 for ±0 and NaN).
fn sign(x: f64) -> i8 {
    if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }
}
