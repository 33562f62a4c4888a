//! Solvers: methods that take a problem from [`crate::dynamics`] and return a solution with
//! statistics. The problem side ([`OdeProblem`]) knows only its right-hand side and Jacobian; the
//! method side (explicit Dormand–Prince, implicit BDF/SDIRK, gradient descent, Newton) never
//! depends on which dynamics it runs.

pub mod dp45;
pub mod explicit;
pub mod flow;
pub mod gd;
pub mod implicit;
pub mod rkc;
pub mod rosenbrock;
pub mod steady;

pub use flow::{integrate, FlowMethod, FlowOptions};

use nalgebra::{DMatrix, DVector};

use crate::error::{Error, Result};
use serde::Serialize;

/// An autonomous ODE dy/dτ = f(y) with an analytic Jacobian.
pub trait OdeProblem: Sync {
    /// State dimension.
    fn dim(&self) -> usize;
    /// f(y) into `dy`.
    fn rhs(&self, y: &[f64], dy: &mut [f64]);
    /// ∂f/∂y into `jac` (dim × dim).
    fn jacobian(&self, y: &[f64], jac: &mut DMatrix<f64>);
    /// An upper bound on the spectral radius of ∂f/∂y over the region the flow visits
    /// (∞ if unbounded). Used to choose between explicit and implicit methods.
    fn spectral_bound(&self) -> f64;
    /// Move a state back into the problem's domain (default: nothing to do).
    fn project(&self, _state: &mut [f64]) {}
}

/// Work done by a solver, reported with every solution.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SolverStats {
    /// The method that produced the solution (e.g. `dop853`, `bdf`, `gd`).
    pub solver: String,
    /// Wall-clock seconds of the solve alone.
    pub wall_s: f64,
    /// Right-hand-side evaluations.
    pub rhs_evals: u64,
    /// Jacobian evaluations.
    pub jacobian_evals: u64,
    /// Accepted steps.
    pub steps_accepted: u64,
    /// Rejected steps.
    pub steps_rejected: u64,
    /// LU factorisations (implicit methods).
    pub lu_factorisations: u64,
}

/// A solution on an output grid: `states[k]` is the state at `tau[k]`.
#[derive(Clone, Debug)]
pub struct OdeSolution {
    /// Output times.
    pub tau: Vec<f64>,
    /// State at each output time.
    pub states: Vec<DVector<f64>>,
    /// Work done.
    pub stats: SolverStats,
}

/// The output grid τ_k = k·τ_end/(points − 1), k = 0 … points − 1 (computed directly, no drift).
pub fn output_grid(t_end: f64, points: usize) -> Vec<f64> {
    let last = points.saturating_sub(1).max(1) as f64;
    (0..points)
        .map(|k| {
            if k + 1 == points {
                t_end
            } else {
                t_end * k as f64 / last
            }
        })
        .collect()
}

/// Check an initial-value problem's inputs: y₀ of the problem's dimension and finite, τ_end
/// finite and > 0, at least 2 output points, finite positive tolerances.
pub(crate) fn validate_inputs(
    n: usize,
    y0: &DVector<f64>,
    t_end: f64,
    points: usize,
    rtol: f64,
    atol: f64,
) -> Result<()> {
    if y0.len() != n {
        return Err(Error::Shape(format!(
            "initial state has {} entries but the problem has dimension {n}",
            y0.len()
        )));
    }
    if let Some(i) = y0.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: "initial state".into(),
            row: i + 1,
            col: 1,
            value: y0[i],
        });
    }
    if !(t_end.is_finite() && t_end > 0.0) {
        return Err(Error::InvalidParameter {
            name: "--t-end",
            value: t_end,
            rule: "the final time must be finite and > 0",
        });
    }
    if points < 2 {
        return Err(Error::InvalidParameter {
            name: "--points",
            value: points as f64,
            rule: "the output grid needs at least 2 points",
        });
    }
    for (name, v) in [("--rtol", rtol), ("--atol", atol)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(Error::InvalidParameter {
                name,
                value: v,
                rule: "tolerances must be finite and > 0",
            });
        }
    }
    Ok(())
}

/// Problems shared by the solvers' tests.
#[cfg(test)]
pub(crate) mod test_problems {
    use nalgebra::{DMatrix, DVector};

    use super::OdeProblem;

    /// dy/dt = A y (stiff when A has widely spread eigenvalues).
    pub(crate) struct Linear {
        pub(crate) a: DMatrix<f64>,
    }

    impl OdeProblem for Linear {
        fn dim(&self) -> usize {
            self.a.nrows()
        }
        fn rhs(&self, y: &[f64], dy: &mut [f64]) {
            let out = &self.a * DVector::from_column_slice(y);
            dy.copy_from_slice(out.as_slice());
        }
        fn jacobian(&self, _y: &[f64], jac: &mut DMatrix<f64>) {
            jac.copy_from(&self.a);
        }
        fn spectral_bound(&self) -> f64 {
            1000.0
        }
    }

    /// max_i |a_i − b_i|.
    pub(crate) fn max_abs_diff(a: &DVector<f64>, b: &DVector<f64>) -> f64 {
        (a - b).amax()
    }
}
