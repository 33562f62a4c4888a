//! The rows of two features (docs/theory.md §5.4, §5.5): the exact sign criterion, its rotation
//! form, the first-order sign rule and the first-order error, each against finite differences or
//! Newton steady states of the exact system.

use super::{rotation_delta, PredictionCheck, Sides, SteadyStateDifferences};
use crate::error::Result;
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::solvers::steady::steady_state;
use crate::systems::FeatureSystem;
use crate::theory::{perturbation, sensitivity};

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

pub(super) fn two_feature_checks(
    sides: &Sides,
    lambda: f64,
    fd: &SteadyStateDifferences,
    rows: &mut Vec<PredictionCheck>,
) -> Result<()> {
    let crit = sensitivity::two_feature_criterion(&sides.theory, sides.theory_lambda)?;
    let derivative = fd.derivatives[(1, 0)];
    // A sign is decidable when the difference stands 10× clear of its own error bound.
    let decidable = derivative.abs() > 10.0 * fd.error_bound[(1, 0)];
    let regime = if decidable {
        "two features, any coupling (exact)".to_string()
    } else {
        "two features; derivative within its finite-difference error of 0: sign undecidable"
            .to_string()
    };
    let mut row = PredictionCheck::compare(
        "sign ∂z₂*/∂s₁² = −sign(z₁*)·sign(M₂₁)",
        "§5.4",
        regime,
        f64::from(crit.predicted_sign),
        sign(derivative),
        0.0,
    );
    if !decidable {
        row = row.info();
    }
    rows.push(row);

    let system = sides.system;
    if let Some(delta) = rotation_delta(system.coupling()) {
        let theory_delta = rotation_delta(sides.theory.coupling());
        let m = &crit.steady_state.margins;
        let z = &crit.steady_state.responses;
        if z[0] > 0.0 && delta != 0.0 && decidable {
            // M₂₁ = δ√(1−δ²)(σ'(m₂*) − σ'(m₁*)) and σ' falls with |m|: with z₁* > 0,
            // sign ∂z₂*/∂s₁² = −sign(δ)·sign(|m₁*| − |m₂*|). A predicted side that is no
            // rotation has no such form: NaN fails the row.
            let predicted =
                theory_delta.map_or(f64::NAN, |td| -sign(td) * sign(m[0].abs() - m[1].abs()));
            rows.push(PredictionCheck::compare(
                "rotation form: sign ∂z₂*/∂s₁² = −sign(δ)·sign(|m₁*| − |m₂*|)",
                "§5.4",
                format!("rotation family, δ = {delta:.3}, z₁* > 0"),
                predicted,
                sign(derivative),
                0.0,
            ));
        }
        let s = system.strengths();
        let first_order_regime = delta.abs() <= 0.1 && (s[0] - s[1]).abs() > 1e-3 * s.amax();
        if first_order_regime && decidable {
            // A predicted side that is no rotation has no first-order sign: NaN fails the row.
            let predicted = match theory_delta {
                Some(td) => f64::from(
                    perturbation::first_order_starvation_signs(
                        sides.theory.strengths(),
                        &perturbation::rotation_generator(),
                        td,
                    )?[(1, 0)],
                ),
                None => f64::NAN,
            };
            rows.push(PredictionCheck::compare(
                "first order: sign ∂z₂*/∂s₁² = −sign(δ)·sign(s₁ − s₂)",
                "§5.5",
                format!("small coupling: |δ| = {:.3} ≤ 0.1, s₁ ≠ s₂", delta.abs()),
                predicted,
                sign(derivative),
                0.0,
            ));
        }
    }
    rows.extend(first_order_error_row(sides, lambda)?);
    Ok(())
}

/// The first-order expansion's error shrinks like δ² (at this system's s and λ): the ratio
/// e(δ)/e(δ/2) → 4, held to twice its change from δ to δ/2 (the O(δ) term) plus 1e-3. No row
/// when an error vanishes (e.g. s = 0: the expansion is exact).
fn first_order_error_row(sides: &Sides, lambda: f64) -> Result<Option<PredictionCheck>> {
    let s = sides.system.strengths();
    let error_at = |dl: f64| -> Result<f64> {
        let sys = FeatureSystem::rotation(s[0], s[1], dl)?;
        let exact = steady_state(&PrimalDynamics::new(
            &sys,
            Loss::Logistic,
            Regulariser::L2 { lambda },
        )?)?
        .responses;
        let pred = perturbation::first_order_steady_state(
            sides.theory.strengths(),
            sides.theory_lambda,
            &perturbation::rotation_generator(),
            dl,
        )?;
        Ok((exact - pred.prediction).amax())
    };
    let (e1, e2, e4) = (error_at(0.01)?, error_at(0.005)?, error_at(0.0025)?);
    if !(e1 > 0.0 && e2 > 0.0 && e4 > 0.0) {
        return Ok(None);
    }
    let (ratio, next) = (e1 / e2, e2 / e4);
    Ok(Some(PredictionCheck::compare(
        "first-order error ratio e(δ)/e(δ/2) = 4 (error O(δ²))",
        "§5.5",
        "δ → 0 at this system's s and λ (δ = 0.01, 0.005, 0.0025)",
        4.0,
        ratio,
        sides.scale * (2.0 * (ratio - next).abs() + 1e-3),
    )))
}
