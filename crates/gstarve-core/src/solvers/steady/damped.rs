//! The damped Newton update of the steady-state solvers on heap vectors: the binary one
//! (`steady::newton_general`) and the softmax one (`steady_softmax`), docs/theory.md §12.4.
//! `steady::small`, the rotation family's 2 × 2 Newton (`sweeps::rotation`) and the batched
//! lanes (`sweeps::batch::lanes`) follow the same rules on stack arrays.

use nalgebra::DVector;

/// The sufficient-decrease constant c of the Armijo condition L(x + tp) ≤ L(x) + c t gᵀp.
const ARMIJO: f64 = 1e-4;

/// How many times t is halved before backtracking gives up.
const HALVINGS: usize = 60;

/// x ← x + tp for the Newton step p at x, where L(x) = `value`, ∇L(x) = `gradient` and the
/// residual at x is `residual`.
///
/// While the predicted decrease −gᵀp is resolvable in floating point (−gᵀp > 10³ ε |L(x)|),
/// Armijo backtracking on the convex objective: t = 1, ½, ¼, … until
/// L(x + tp) ≤ L(x) + c t gᵀp. Below that, Newton is in its quadratic phase and L no longer
/// tells a better point from a worse one, so the full step is taken if it lowers the residual
/// (`residual_at`, which must round as `residual` did: a step below the rounding of x leaves it
/// unchanged and must not look like progress). Returns whether x moved; where it did not, the
/// caller tells stagnation at rounding level from failure.
pub(crate) fn damped_update(
    x: &mut DVector<f64>,
    value: &mut f64,
    step: &DVector<f64>,
    gradient: &DVector<f64>,
    residual: f64,
    objective: impl Fn(&DVector<f64>) -> f64,
    residual_at: impl Fn(&DVector<f64>) -> f64,
) -> bool {
    let slope = gradient.dot(step);
    let resolvable = -slope > 1e3 * f64::EPSILON * value.abs().max(f64::MIN_POSITIVE);
    if resolvable {
        let mut t = 1.0;
        for _ in 0..HALVINGS {
            let trial = &*x + step * t;
            let trial_value = objective(&trial);
            if trial_value <= *value + ARMIJO * t * slope {
                *x = trial;
                *value = trial_value;
                return true;
            }
            t *= 0.5;
        }
    }
    let trial = &*x + step;
    if residual_at(&trial) < residual {
        *value = objective(&trial);
        *x = trial;
        return true;
    }
    false
}
