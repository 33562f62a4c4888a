//! The rows of the squared loss with L2 or without a regulariser (λ = 0): the closed-form steady
//! state and trajectory of a linear flow (docs/theory.md §4.3).

use nalgebra::DVector;

use super::{flow_end, flow_error, Entry, PredictionCheck, Sides};
use crate::error::Result;
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::solvers::steady::steady_state;
use crate::theory::squared;

pub(super) fn squared_checks(
    sides: &Sides,
    reg: Regulariser,
    rows: &mut Vec<PredictionCheck>,
) -> Result<()> {
    let system = sides.system;
    let lambda = reg.lambda();
    let theory_lambda = match reg {
        Regulariser::None => 0.0,
        _ => sides.theory_lambda,
    };
    let r = system.rank();
    // A mode with s_j² + λ = 0 never moves (§4.3); the steady state needs every rate > 0.
    let s2 = system.strengths_squared();
    let slowest = s2.min() + lambda;
    if slowest > 0.0 {
        let predicted = squared::steady_state(&sides.theory, theory_lambda)?;
        let d = PrimalDynamics::new(system, Loss::Squared, reg)?;
        let fp = steady_state(&d)?;
        // Newton on a quadratic: one step, accurate to the residual / (smallest rate) + rounding.
        let accuracy = fp.residual * (1.0 + s2.max() / slowest);
        rows.push(PredictionCheck::entrywise(
            |(j, _)| format!("z_j* = s_j²(Uᵀ1)_j/(s_j² + λ) (worst z{}*)", j + 1),
            "§4.3",
            "squared loss, L2 or λ = 0; Newton steady state",
            (0..r).map(|j| Entry {
                index: (j, 0),
                predicted: Some(predicted[j]),
                numerical: fp.responses[j],
                tolerance: 10.0 * accuracy + 64.0 * f64::EPSILON * predicted[j].abs().max(1.0),
            }),
            sides.scale,
        ));
    }
    // One relaxation time of the slowest moving mode.
    let moving = s2.iter().map(|&v| v + lambda).filter(|&k| k > 0.0);
    let rate = moving.fold(f64::INFINITY, f64::min);
    if rate.is_finite() {
        let t = 1.0 / rate;
        let end = flow_end(system, Loss::Squared, reg, t)?;
        let closed = squared::trajectory(&sides.theory, theory_lambda, &DVector::zeros(r), t)?;
        rows.push(PredictionCheck::entrywise(
            |(j, _)| {
                format!(
                    "closed-form trajectory at one slowest relaxation time (worst z{})",
                    j + 1
                )
            },
            "§4.3",
            "squared loss (linear flow); flow error 100·(atol + rtol·|z|)",
            (0..r).map(|j| Entry {
                index: (j, 0),
                predicted: Some(closed[j]),
                numerical: end[j],
                tolerance: flow_error(closed[j]),
            }),
            sides.scale,
        ));
    }
    Ok(())
}
