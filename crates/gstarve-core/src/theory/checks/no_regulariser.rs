//! The row of the logistic loss without a regulariser: the decoupled closed-form trajectory
//! (docs/theory.md §5.2), for U = diag(±1) (z_j = ±the trajectory of strength s_j).

use nalgebra::DVector;

use super::{decoupled_signs, flow_end, flow_error, Entry, PredictionCheck, Sides};
use crate::error::Result;
use crate::model::{Loss, Regulariser};
use crate::theory::decoupled;

/// Time at which the trajectory is compared.
const T_END: f64 = 100.0;

pub(super) fn no_reg_checks(sides: &Sides, rows: &mut Vec<PredictionCheck>) -> Result<()> {
    let system = sides.system;
    let Some(signs) = decoupled_signs(system.coupling()) else {
        return Ok(());
    };
    let theory_signs = decoupled_signs(sides.theory.coupling()).unwrap_or(signs);
    let end = flow_end(system, Loss::Logistic, Regulariser::None, T_END)?;
    let r = system.rank();
    let mut closed = DVector::zeros(r);
    for j in 0..r {
        closed[j] = theory_signs[j]
            * decoupled::unregularised_trajectory(sides.theory.strengths()[j], 0.0, T_END)?;
    }
    rows.push(PredictionCheck::entrywise(
        |(j, _)| format!("z(τ) = log ω(s²τ + 1) at τ = {T_END} (worst z{})", j + 1),
        "§5.2",
        "U = diag(±1), no regulariser; flow error 100·(atol + rtol·|z|)",
        (0..r).map(|j| Entry {
            index: (j, 0),
            predicted: Some(closed[j]),
            numerical: end[j],
            tolerance: flow_error(closed[j]),
        }),
        sides.scale,
    ));
    Ok(())
}
