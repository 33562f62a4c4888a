//! The row of the logistic loss without a regulariser: the decoupled closed-form trajectory
//! (docs/theory.md §5.2).

use nalgebra::DVector;

use super::{flow_end, is_identity, worst, PredictionCheck};
use crate::error::Result;
use crate::model::{Loss, Regulariser};
use crate::systems::FeatureSystem;
use crate::theory::decoupled;

pub(super) fn no_reg_checks(
    system: &FeatureSystem,
    scale: f64,
    rows: &mut Vec<PredictionCheck>,
) -> Result<()> {
    if !is_identity(system.coupling()) {
        return Ok(());
    }
    let t_end = 100.0;
    let end = flow_end(system, Loss::Logistic, Regulariser::None, t_end)?;
    let r = system.rank();
    let mut closed = DVector::zeros(r);
    for j in 0..r {
        closed[j] = decoupled::unregularised_trajectory(system.strengths()[j], 0.0, t_end)?;
    }
    let (j, p, n) = worst(&closed, &end);
    rows.push(PredictionCheck::compare(
        format!("z{}(τ) = log W₀(e^c) at τ = {t_end}", j + 1),
        "§5.2",
        "U = I, no regulariser",
        p,
        n,
        1e-7 * scale * n.abs().max(1.0),
    ));
    Ok(())
}
