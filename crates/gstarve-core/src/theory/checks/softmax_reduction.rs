//! The binary reduction of the softmax dynamics (docs/theory.md §9.4): the two-logit image of
//! a binary system has z* = z_mc*·√2 (L2 at the same λ; SD at λ_mc = 2λ, because the image's
//! ‖F‖² is half the binary ‖ŷ‖²).
//!
//! Predicted side: the image of the (possibly perturbed) predicted system at the predicted λ,
//! its softmax steady state by its own Newton solver (`solvers::steady_softmax`), times √2.
//! Numerical side: the binary Newton steady state of the exact system. Both sides are accurate
//! to κ·residual (κ = 1 + s₁²/(4λ) bounds the condition of both Newton systems: the image's
//! s_mc² = s²/2 with H ≤ ½ gives the same bound).

use super::l2::condition_bound;
use super::{Entry, PredictionCheck, Sides};
use crate::error::Result;
use crate::model::{Loss, PrimalDynamics, Regulariser, SoftmaxDynamics};
use crate::solvers::steady::{steady_state, NewtonParams};
use crate::solvers::steady_softmax::softmax_steady_state;
use crate::systems::MulticlassSystem;

/// The row: √2·z_mc* of the image against the binary z* (L2 or SD).
pub(super) fn binary_reduction_row(sides: &Sides, reg: Regulariser) -> Result<PredictionCheck> {
    let root2 = std::f64::consts::SQRT_2;
    let (image_reg, sd) = match sides.theory_reg(reg) {
        Regulariser::SpectralDecoupling { lambda } => (
            Regulariser::SpectralDecoupling {
                lambda: 2.0 * lambda,
            },
            true,
        ),
        other => (other, false),
    };
    let image = MulticlassSystem::binary_image(&sides.theory, None)?;
    let mc = softmax_steady_state(
        &SoftmaxDynamics::new(&image, image_reg)?,
        &NewtonParams::default(),
    )?;
    let binary = steady_state(&PrimalDynamics::new(sides.system, Loss::Logistic, reg)?)?;
    let z = &binary.responses;
    let lambda = reg.lambda();
    let kappa = match reg {
        Regulariser::SpectralDecoupling { .. } => 1.0 + 1.0 / (4.0 * lambda),
        _ => condition_bound(sides.system, lambda),
    };
    let eps = 16.0 * f64::EPSILON * z.amax().max(1.0);
    let accuracy = kappa * (binary.residual + root2 * mc.residual + 2.0 * eps);
    let regime = if sd {
        "any binary system; the image's SD at λ_mc = 2λ (its ‖F‖² is ½‖ŷ‖²)"
    } else {
        "any binary system; the image at the same λ"
    };
    Ok(PredictionCheck::entrywise(
        |(j, _)| {
            format!(
                "two-logit softmax image: √2·z_mc* equals the binary z* (worst z{}*)",
                j + 1
            )
        },
        "§9.4",
        regime,
        (0..z.len()).map(|j| Entry {
            index: (j, 0),
            predicted: Some(root2 * mc.responses[j]),
            numerical: z[j],
            tolerance: accuracy,
        }),
        sides.scale,
    ))
}
