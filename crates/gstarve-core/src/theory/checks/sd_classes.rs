//! The rows of the logistic loss with Spectral Decoupling by class (docs/theory.md §10.1): the
//! per-example closed form σ(−mᵢ*) = λᵢ(mᵢ* − γᵢ), z* = Uᵀm*, against the Newton zero of the
//! general flow F = S²Uᵀ[σ(−Uz) − Λ(Uz − γ)] (which does not assume it) and against the flow's
//! end state.

use nalgebra::DVector;

use super::{flow_settles, Entry, PredictionCheck, Sides};
use crate::error::Result;
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::solvers::steady::steady_state;
use crate::systems::FeatureSystem;
use crate::theory::sd_classes;

/// The Newton steady state of `system` under `reg` and its accuracy per entry of z: Newton's
/// residual is the gradient of L = Σᵢ ℓᵢ(mᵢ) (docs/theory.md §10.1), whose Hessian UᵀD̃U has
/// D̃ ≥ min λ_c, so |Δz| ≤ residual / min λ_c; plus 16ε‖z‖∞ of rounding.
fn newton(system: &FeatureSystem, reg: Regulariser) -> Result<(DVector<f64>, f64)> {
    let fp = steady_state(&PrimalDynamics::new(system, Loss::Logistic, reg)?)?;
    let accuracy = fp.residual / reg.lambda() + 16.0 * f64::EPSILON * fp.responses.amax();
    Ok((fp.responses, accuracy))
}

pub(super) fn sd_classes_checks(
    sides: &Sides,
    reg: Regulariser,
    rows: &mut Vec<PredictionCheck>,
) -> Result<()> {
    let system = sides.system;
    let theory_reg = sides.theory_reg(reg);
    let closed_form_applies =
        system.rank() == system.examples() && system.strengths().iter().all(|&s| s > 0.0);
    // The closed form's own accuracy: each margin to 4ε, z = Uᵀm to nε‖m‖∞.
    let closed = |sys: &FeatureSystem| -> Result<(DVector<f64>, f64)> {
        let (m, z) = sd_classes::steady_state(sys, theory_reg)?;
        Ok((z, (sys.examples() as f64 + 4.0) * f64::EPSILON * m.amax()))
    };
    let (predicted, accuracy) = if closed_form_applies {
        closed(&sides.theory)?
    } else {
        newton(&sides.theory, theory_reg)?
    };
    let (settles, _, _) = flow_settles(sides, reg, &predicted, 10.0 * accuracy)?;
    rows.push(settles);
    if closed_form_applies {
        let (zero, newton_accuracy) = newton(system, reg)?;
        rows.push(PredictionCheck::entrywise(
            |(j, _)| {
                format!(
                    "z* = Uᵀm*, σ(−mᵢ*) = λᵢ(mᵢ* − γᵢ) per example, equals the zero of F \
                     (worst z{}*)",
                    j + 1
                )
            },
            "§10.1",
            "r = n, all s > 0, labels given; Newton on the general fixed point",
            (0..zero.len()).map(|j| Entry {
                index: (j, 0),
                predicted: Some(predicted[j]),
                numerical: zero[j],
                tolerance: 10.0 * (newton_accuracy + accuracy),
            }),
            sides.scale,
        ));
    }
    Ok(())
}
