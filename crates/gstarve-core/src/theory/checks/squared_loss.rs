//! The rows of the squared loss with L2: the closed-form steady state and trajectory of a
//! linear flow (docs/theory.md §4.3).

use nalgebra::DVector;

use super::{flow_end, worst, PredictionCheck};
use crate::error::Result;
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::solvers::steady::steady_state;
use crate::systems::FeatureSystem;
use crate::theory::squared;

pub(super) fn squared_checks(
    system: &FeatureSystem,
    reg: Regulariser,
    scale: f64,
    rows: &mut Vec<PredictionCheck>,
) -> Result<()> {
    let Regulariser::L2 { lambda } = reg else {
        return Ok(());
    };
    let predicted = squared::steady_state(system, lambda)?;
    let d = PrimalDynamics::new(system, Loss::Squared, reg)?;
    let fp = steady_state(&d)?;
    let (j, p, n) = worst(&predicted, &fp.responses);
    rows.push(PredictionCheck::compare(
        format!("z{0}* = s{0}²(Uᵀ1){0}/(s{0}² + λ)", j + 1),
        "§4.3",
        "squared loss + L2",
        p,
        n,
        1e-10 * scale * predicted.amax().max(1.0),
    ));
    let slowest = system.strengths_squared().min() + lambda;
    let t = 1.0 / slowest;
    let end = flow_end(system, Loss::Squared, reg, t)?;
    let closed = squared::trajectory(system, lambda, &DVector::zeros(system.rank()), t)?;
    let (j, p, n) = worst(&closed, &end);
    rows.push(PredictionCheck::compare(
        format!(
            "closed-form trajectory z{}(τ) at one slowest relaxation time",
            j + 1
        ),
        "§4.3",
        "squared loss + L2 (linear flow)",
        p,
        n,
        1e-7 * scale * closed.amax().max(1.0),
    ));
    Ok(())
}
