//! The rows of the logistic loss with Spectral Decoupling (docs/theory.md §4.2, §5.1).
//!
//! The steady state used on both sides is the zero of the general flow F (Newton on G = F/c, see
//! `fixed_point`), never the scalar shortcut of `solvers::steady` for r = n, so that the closed
//! form z* = μ*Uᵀ1 is compared with a computation that does not assume it. "SD sensitivities
//! vanish" is no row: the fixed point S²(Uᵀσ(−Uz) − λz) = 0 ⇔ Uᵀσ(−Uz) = λz for s > 0 does not
//! contain S, so ∂z*/∂s² ≡ 0 holds by construction (docs/theory.md §4.2, §5.3).

use nalgebra::DVector;

use super::fixed_point::{unit_system, ScaledFlow};
use super::l2::corrected_tail;
use super::{flow_settles, Entry, PredictionCheck, Sides};
use crate::error::Result;
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::solvers::steady::steady_state;
use crate::systems::FeatureSystem;
use crate::theory::sd;

/// The zero of F for `system` under `reg`, by Newton from `start` (or, if that fails, from the
/// steady state of `solvers::steady`), and its accuracy.
pub(super) fn flow_zero(
    system: &FeatureSystem,
    reg: Regulariser,
    start: Option<&DVector<f64>>,
) -> Result<(DVector<f64>, f64)> {
    let unit = unit_system(system)?;
    let flow = ScaledFlow::new(&unit, reg)?;
    let s2 = system.strengths_squared();
    if let Some(start) = start {
        if let Ok(found) = flow.zero(&s2, start, None) {
            return Ok(found);
        }
    }
    let fp = steady_state(&PrimalDynamics::new(system, Loss::Logistic, reg)?)?;
    flow.zero(&s2, &fp.responses, None)
}

pub(super) fn sd_checks(sides: &Sides, lambda: f64, rows: &mut Vec<PredictionCheck>) -> Result<()> {
    let system = sides.system;
    let reg = Regulariser::SpectralDecoupling { lambda };
    let (predicted, accuracy) = flow_zero(&sides.theory, sides.theory_reg(reg), None)?;
    let (settles, _, end) = flow_settles(sides, reg, &predicted, 10.0 * accuracy)?;
    let settled = settles.verdict != super::Verdict::Info;
    rows.push(settles);

    let closed_form_applies =
        system.rank() == system.examples() && system.strengths().iter().all(|&s| s > 0.0);
    if closed_form_applies {
        let closed = sd::steady_state(&sides.theory, sides.theory_lambda)?;
        let (zero, acc) = flow_zero(system, reg, settled.then_some(&end))?;
        rows.push(PredictionCheck::entrywise(
            |(j, _)| format!("z* = μ*·Uᵀ1 equals the zero of F (worst z{}*)", j + 1),
            "§4.2",
            "r = n, all s > 0; Newton on the general fixed point",
            (0..zero.len()).map(|j| Entry {
                index: (j, 0),
                predicted: Some(closed[j]),
                numerical: zero[j],
                tolerance: 10.0 * acc + 16.0 * f64::EPSILON * zero[j].abs(),
            }),
            sides.scale,
        ));
    }

    let margin = sd::steady_margin(lambda)?;
    let theory_margin = sd::steady_margin(sides.theory_lambda)?;
    if theory_margin.lambert >= 1.0 {
        let (form, bound) = corrected_tail(theory_margin.lambert);
        rows.push(PredictionCheck::compare(
            "μ* ≈ W₀(1/λ) − ε, ε = we^(−w)/(1+w) (tail form)",
            "§5.1",
            "λ ≤ 1/e (W₀(1/λ) ≥ 1); error ≤ 2ε²",
            form,
            margin.exact,
            sides.scale * (bound + 16.0 * f64::EPSILON * margin.exact),
        ));
    }
    Ok(())
}
