//! `gstarve check` on a multi-class softmax system (docs/theory.md §9.3): the flow from 0
//! settles at the Newton steady state, and (L2) the sensitivities equal central differences of
//! Newton steady states. The binary reduction (§9.4) is checked on binary systems
//! (`softmax_reduction`); SD's vanishing sensitivities hold by construction (no row).
//!
//! | row | numerical side | tolerance per entry |
//! |---|---|---|
//! | flow settles (§9.3) | flow from 0 to min(40/k, 10⁶), k = λ (L2) or λ·s_min² (SD) | [`flow_error`] + e^{−kτ}‖z*‖∞ + κ(residual + 16ε·max(1, ‖z*‖∞)), κ = 1 + s₁²/(2λ) (L2), 1 + 1/(2λ) (SD) |
//! | ∂z*/∂s² (§9.3) | central differences at h = 10⁻⁴s_i² | 10·(\|D(h) − D(2h)\| + 2κ(residual + 16ε·max(1, ‖z*‖∞))/h) |

use nalgebra::{DMatrix, DVector};

use super::{
    flow_error, CheckOptions, Entry, PredictionCheck, Sides, FLOW_TOLERANCES, MAX_SETTLE_TIME,
};
use crate::error::{Error, InputError, Result};
use crate::model::{Regulariser, SoftmaxDynamics};
use crate::ode::{FlowMethod, FlowOptions};
use crate::solvers::softmax_flow::softmax_flow;
use crate::solvers::steady::NewtonParams;
use crate::solvers::steady_softmax::{softmax_steady_state, SoftmaxSteadyState};
use crate::systems::MulticlassSystem;
use crate::theory::softmax::softmax_sensitivity;

fn steady(system: &MulticlassSystem, reg: Regulariser) -> Result<SoftmaxSteadyState> {
    softmax_steady_state(
        &SoftmaxDynamics::new(system, reg)?,
        &NewtonParams::default(),
    )
}

/// Every prediction of docs/theory.md §9.3 for `system` under `regulariser` (L2 or SD with
/// λ > 0; anything else has no steady state and nothing to check: no rows).
pub fn check_multiclass(
    system: &MulticlassSystem,
    regulariser: Regulariser,
    options: &CheckOptions,
) -> Result<Vec<PredictionCheck>> {
    let scale = options.tolerance_scale;
    if !(scale.is_finite() && scale > 0.0) {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "tolerance_scale",
            value: scale,
            rule: "the tolerance scale must be finite and > 0",
        }));
    }
    let lambda = regulariser.lambda();
    if matches!(regulariser, Regulariser::None) || lambda <= 0.0 {
        return Ok(Vec::new());
    }
    let sides = Sides::new(system.system(), lambda, options)?;
    let theory = system.with_system(sides.theory.clone())?;
    let theory_reg = sides.theory_reg(regulariser);
    let predicted = steady(&theory, theory_reg)?;
    let exact = steady(system, regulariser)?;
    let s2 = system.system().strengths_squared();
    let s1_squared = s2.max();
    let sd = matches!(regulariser, Regulariser::SpectralDecoupling { .. });
    let kappa = if sd {
        1.0 + 1.0 / (2.0 * lambda)
    } else {
        1.0 + s1_squared / (2.0 * lambda)
    };
    let eps = 16.0 * f64::EPSILON * exact.responses.amax().max(1.0);
    let accuracy = kappa * (exact.residual.max(predicted.residual) + eps);
    let mut rows = Vec::new();

    // The flow settles: rate ≥ λ (L2) or λ·min s_j² over the moving features (SD).
    let rate = if sd {
        lambda
            * s2.iter()
                .copied()
                .filter(|&s| s > 0.0)
                .fold(f64::INFINITY, f64::min)
    } else {
        lambda
    };
    let t_end = (40.0 / rate).min(MAX_SETTLE_TIME);
    let (rtol, atol) = FLOW_TOLERANCES;
    let d = SoftmaxDynamics::new(system, regulariser)?;
    let sol = softmax_flow(
        &d,
        &DVector::zeros(system.rank()),
        &FlowOptions::new(t_end, 2, rtol, atol, FlowMethod::Auto)?,
    )?;
    let end = DVector::from_column_slice(sol.states.last().unwrap_or(&[]));
    let left = (-rate * t_end).exp();
    let z = &predicted.responses;
    let transient = left * z.amax();
    let mut row = PredictionCheck::entrywise(
        |(j, _)| {
            format!(
                "softmax flow settles at the steady state (worst z{}*)",
                j + 1
            )
        },
        "§9.3",
        format!("any multi-class system; flow to τ = {t_end:.3e} (k ≥ {rate:.3e})"),
        (0..z.len()).map(|j| Entry {
            index: (j, 0),
            predicted: Some(z[j]),
            numerical: end.get(j).copied().unwrap_or(f64::NAN),
            tolerance: flow_error(z[j]) + transient + accuracy,
        }),
        scale,
    );
    if left > 1e-6 {
        row = row.info();
    }
    rows.push(row);

    if !sd {
        rows.push(sensitivity_row(
            system,
            &theory,
            theory_reg,
            regulariser,
            kappa,
            scale,
        )?);
    }
    Ok(rows)
}

/// The analytic ∂z*/∂s² of the predicted side against central differences on the exact system.
fn sensitivity_row(
    system: &MulticlassSystem,
    theory: &MulticlassSystem,
    theory_reg: Regulariser,
    reg: Regulariser,
    kappa: f64,
    scale: f64,
) -> Result<PredictionCheck> {
    let analytic = softmax_sensitivity(theory, theory_reg)?.derivatives;
    let s2 = system.system().strengths_squared();
    let r = system.rank();
    let at = |i: usize, h: f64| -> Result<(DVector<f64>, f64)> {
        let mut t = s2.clone();
        t[i] += h;
        let shifted = system.with_system(system.system().with_strengths(t.map(f64::sqrt))?)?;
        let fp = steady(&shifted, reg)?;
        Ok((fp.responses, fp.residual))
    };
    let mut numeric = DMatrix::zeros(r, r);
    let mut bound = DMatrix::zeros(r, r);
    for i in (0..r).filter(|&i| s2[i] > 0.0) {
        let h = 1e-4 * s2[i];
        let (p1, r1) = at(i, h)?;
        let (m1, r2) = at(i, -h)?;
        let (p2, r3) = at(i, 2.0 * h)?;
        let (m2, r4) = at(i, -2.0 * h)?;
        let d1 = (&p1 - &m1) / (2.0 * h);
        let d2 = (&p2 - &m2) / (4.0 * h);
        let residual = r1.max(r2).max(r3).max(r4);
        let noise = 2.0 * kappa * (residual + 16.0 * f64::EPSILON * p1.amax().max(1.0)) / h;
        for j in 0..r {
            numeric[(j, i)] = d1[j];
            bound[(j, i)] = 10.0 * ((d1[j] - d2[j]).abs() + noise);
        }
    }
    Ok(PredictionCheck::entrywise(
        |(j, i)| {
            format!(
                "softmax ∂z*/∂s² equals central differences (worst ∂z{}/∂s{}²)",
                j + 1,
                i + 1
            )
        },
        "§9.3",
        "L2, s_i > 0; J = I + λ⁻¹S²UᵀHU",
        (0..r)
            .flat_map(|i| (0..r).map(move |j| (j, i)))
            .filter(|&(_, i)| s2[i] > 0.0)
            .map(|(j, i)| Entry {
                index: (j, i),
                predicted: Some(analytic[(j, i)]),
                numerical: numeric[(j, i)],
                tolerance: bound[(j, i)],
            }),
        scale,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::multiclass::random_multiclass;
    use crate::theory::checks::{Perturbation, Verdict};

    /// Both rows pass on a random 3-class system and fail when the predicted side gets λ off by
    /// 1e-3 or one sign of U flipped.
    #[test]
    fn rows_pass_and_fail_a_wrong_input() {
        let sys = random_multiclass(4, 3, 8, 17);
        let reg = Regulariser::L2 { lambda: 0.05 };
        let rows = check_multiclass(&sys, reg, &CheckOptions::default()).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.verdict == Verdict::Pass), "{rows:?}");
        for p in [
            Perturbation::LambdaRelative(1e-3),
            Perturbation::CouplingSign { row: 1, column: 0 },
        ] {
            let options = CheckOptions {
                perturbation: Some(p),
                ..CheckOptions::default()
            };
            let wrong = check_multiclass(&sys, reg, &options).unwrap();
            assert!(
                wrong.iter().all(|r| r.verdict == Verdict::Fail),
                "{p:?}: {wrong:?}"
            );
        }
        let sd = Regulariser::SpectralDecoupling { lambda: 0.05 };
        let rows = check_multiclass(&sys, sd, &CheckOptions::default()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].verdict, Verdict::Pass, "{rows:?}");
        assert!(
            check_multiclass(&sys, Regulariser::None, &CheckOptions::default())
                .unwrap()
                .is_empty()
        );
    }
}
