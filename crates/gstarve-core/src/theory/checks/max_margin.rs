//! The rows of the max-margin limit λ → 0 (docs/theory.md §11), on L2 systems with r = n and
//! every strength > 0. The numerical side: the QP solution of `solvers::max_margin` on the exact
//! system (its accuracy from its own margins: ẑ − Uᵀ1 = Uᵀ(Uẑ − 1) for orthogonal U), the zero of
//! the general SD flow (Newton), and Newton steady states of L2 at λ = 1e-2, 1e-4, 1e-8. The
//! predicted side: the closed forms (Uᵀ1) and the QP on the predicted side's system.

use lambert_w::lambert_w0;
use nalgebra::DVector;

use super::spectral_decoupling::flow_zero;
use super::{Entry, PredictionCheck, Sides};
use crate::error::Result;
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::solvers::max_margin::max_margin;
use crate::solvers::steady::steady_state;

/// The λ of the regularisation-path rows; the first calibrates the 1/log(1/λ) rate.
pub const PATH_LAMBDAS: [f64; 3] = [1e-2, 1e-4, 1e-8];

/// Largest n for these rows (three Newton solves and one QP, each O(n³)).
pub const MAX_EXAMPLES: usize = 2000;

/// The allowed direction error at λ is `RATE_SLACK`·d(λ₀)·W₀(1/λ₀)/W₀(1/λ): the 1/log(1/λ)
/// approach of §11.1 (margins grow like W₀(1/λ)), with the constant measured at λ₀ = 1e-2.
/// d(λ)·W₀(1/λ) tends to its limit from below and is not yet there at λ₀ (docs/theory.md §11.1:
/// for every example a support vector the limit is ‖P⊥Uᵀlog(K⁻¹1)‖/‖Uᵀ1‖; on the toy at l = 4
/// d·W₀ is 0.25, 0.37, 0.49 at λ = 1e-2, 1e-4, 1e-8 against the limit 0.55), hence the slack.
const RATE_SLACK: f64 = 3.0;

pub(super) fn max_margin_checks(
    sides: &Sides,
    lambda: f64,
    rows: &mut Vec<PredictionCheck>,
) -> Result<()> {
    let system = sides.system;
    let applies = system.rank() == system.examples()
        && system.examples() <= MAX_EXAMPLES
        && system.strengths().iter().all(|&s| s > 0.0);
    if !applies {
        return Ok(());
    }
    let exact = max_margin(system)?;
    let theory = max_margin(&sides.theory)?;
    let n = system.examples() as f64;
    // |ẑ − Uᵀ1|∞ ≤ ‖Uẑ − 1‖₂ ≤ √n·max|m_i − 1| on the support set, plus rounding.
    let qp_accuracy = n.sqrt()
        * exact
            .kkt
            .support_margin_error
            .max(exact.kkt.primal_infeasibility)
        + 16.0 * f64::EPSILON * (1.0 + n.sqrt()) * exact.z_hat.amax();

    if exact.support.iter().all(|&s| s) {
        let sums = sides.theory.coupling_column_sums();
        rows.push(PredictionCheck::entrywise(
            |(j, _)| {
                format!(
                    "ẑ = Uᵀ1 when every example is a support vector (worst ẑ{})",
                    j + 1
                )
            },
            "§11.2",
            "r = n, all s > 0, K⁻¹1 > 0 (every α̂_i > 0); QP by block principal pivoting",
            (0..sums.len()).map(|j| Entry {
                index: (j, 0),
                predicted: Some(sums[j]),
                numerical: exact.z_hat[j],
                tolerance: 10.0 * qp_accuracy,
            }),
            sides.scale,
        ));
        let (sd, sd_accuracy) =
            flow_zero(system, Regulariser::SpectralDecoupling { lambda }, None)?;
        let predicted = &sums / sums.norm();
        let norm = sd.norm();
        let direction = &sd / norm;
        rows.push(PredictionCheck::entrywise(
            |(j, _)| {
                format!(
                    "SD's direction z*/‖z*‖ equals ẑ/‖ẑ‖ = Uᵀ1/‖Uᵀ1‖ (worst component {})",
                    j + 1
                )
            },
            "§11.2",
            "every example a support vector; SD zero of the general F (Newton), same λ",
            (0..sd.len()).map(|j| Entry {
                index: (j, 0),
                predicted: Some(predicted[j]),
                numerical: direction[j],
                tolerance: 10.0 * (sd_accuracy / norm + 4.0 * f64::EPSILON),
            }),
            sides.scale,
        ));
    }

    // The regularisation path approaches ẑ/‖ẑ‖ like 1/log(1/λ).
    let directions: Vec<(f64, DVector<f64>, f64)> = PATH_LAMBDAS
        .iter()
        .map(|&lambda| -> Result<(f64, DVector<f64>, f64)> {
            let d = PrimalDynamics::new(system, Loss::Logistic, Regulariser::L2 { lambda })?;
            let fp = steady_state(&d)?;
            let norm = fp.responses.norm();
            // Newton's residual is in units of z (relative to ‖z‖∞ ≤ ‖z‖₂).
            let accuracy = fp.residual / norm + 8.0 * f64::EPSILON;
            Ok((lambda, fp.responses / norm, accuracy))
        })
        .collect::<Result<_>>()?;
    let reference = (&directions[0].1 - &exact.direction).amax();
    let w0 = lambert_w0(1.0 / PATH_LAMBDAS[0]);
    let direction_accuracy = qp_accuracy / exact.z_hat.norm() + 8.0 * f64::EPSILON;
    for (lambda, direction, accuracy) in &directions {
        let allowed = RATE_SLACK * reference * w0 / lambert_w0(1.0 / lambda);
        rows.push(PredictionCheck::entrywise(
            |(j, _)| {
                format!(
                    "L2 direction at λ = {lambda:e} approaches ẑ/‖ẑ‖ like 1/log(1/λ) \
                     (worst component {})",
                    j + 1
                )
            },
            "§11.1",
            format!(
                "r = n, all s > 0; Newton at λ = {lambda:e}; allowed {RATE_SLACK}·d(1e-2)·\
                 W₀(1e2)/W₀(1/λ), d(1e-2) = {reference:.3e}"
            ),
            (0..direction.len()).map(|j| Entry {
                index: (j, 0),
                predicted: Some(theory.direction[j]),
                numerical: direction[j],
                tolerance: allowed + accuracy + direction_accuracy,
            }),
            sides.scale,
        ));
    }
    Ok(())
}
