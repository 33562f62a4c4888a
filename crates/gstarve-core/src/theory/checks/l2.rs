//! The rows of the logistic loss with L2 (docs/theory.md §3.5, §4.1, §5.1, §5.3, §5.6, §5.7), with
//! those for two features and the rotation family in `two_features` (§5.4, §5.5).

use nalgebra::DVector;

use super::{
    decoupled_signs, flow_settles, steady_state_differences, two_features, Entry, PredictionCheck,
    Sides, SteadyStateDifferences,
};
use crate::error::{Error, Result};
use crate::model::{sigmoid_prime, DualDynamics, Loss, PrimalDynamics, Regulariser};
use crate::ode::{FlowMethod, FlowOptions};
use crate::solvers::flow::primal_flow;
use crate::solvers::integrate;
use crate::solvers::steady::{steady_state, SteadyState};
use crate::systems::FeatureSystem;
use crate::theory::{decoupled, linearisation, sensitivity, surrogate};

/// κ = 1 + s₁²/(4λ) ≥ cond(J), J = I + λ⁻¹S²UᵀDU (eigenvalues in [1, κ], σ' ≤ 1/4, §4.1).
pub(super) fn condition_bound(system: &FeatureSystem, lambda: f64) -> f64 {
    1.0 + system.max_strength().powi(2) / (4.0 * lambda)
}

/// The accuracy of a Newton steady state per entry: κ·(residual + 16ε·max(1, ‖z‖∞)).
pub(super) fn steady_accuracy(fp: &SteadyState, kappa: f64) -> f64 {
    kappa * (fp.residual + 16.0 * f64::EPSILON * fp.responses.amax().max(1.0))
}

pub(super) fn l2_checks(sides: &Sides, lambda: f64, rows: &mut Vec<PredictionCheck>) -> Result<()> {
    let system = sides.system;
    let reg = Regulariser::L2 { lambda };
    let theory_reg = sides.theory_reg(reg);
    let d = PrimalDynamics::new(system, Loss::Logistic, reg)?;
    let fp = steady_state(&d)?;
    let z = &fp.responses;
    let kappa = condition_bound(system, lambda);
    let accuracy = steady_accuracy(&fp, kappa);
    // The predicted steady state: Newton at the predicted side's inputs.
    let predicted = steady_state(&PrimalDynamics::new(
        &sides.theory,
        Loss::Logistic,
        theory_reg,
    )?)?
    .responses;

    let (settles, _, _) = flow_settles(sides, reg, &predicted, accuracy)?;
    rows.push(settles);

    // The dual flow reaches the same steady state (not integrated above its size limit).
    if system.examples() <= DualDynamics::MAX_EXAMPLES {
        // A dual solve that fails (its weights 2 + 2cosh β overflow past margins of ~710, or
        // BDF gives up) is reported as a comparison that could not be made, not as the
        // failure of the whole check: the primal rows stand on their own.
        match dual_row(sides, &d, lambda, &predicted, accuracy, rows) {
            Ok(()) => {}
            Err(Error::Numerical(failure)) => rows.push(
                PredictionCheck::compare(
                    format!("dual steady state equals primal z*: not integrated ({failure})"),
                    "§3.5",
                    "any system (Legendre duality)",
                    f64::NAN,
                    f64::NAN,
                    f64::NAN,
                )
                .info(),
            ),
            Err(other) => return Err(other),
        }
    }

    let fd = sensitivity_rows(sides, lambda, z, &fp, kappa, rows)?;

    if let Some(signs) = decoupled_signs(system.coupling()) {
        decoupled_rows(sides, &signs, z, accuracy, rows)?;
    }
    if system.rank() == 2 {
        two_features::two_feature_checks(sides, lambda, &fd, rows)?;
    }
    rows.extend(relaxation_row(sides, reg, z)?);

    // The surrogate, as a comparison only.
    let sur = surrogate::surrogate_steady_state(&sides.theory, sides.theory_lambda, 0.5)?;
    rows.push(
        PredictionCheck::entrywise(
            |(j, _)| {
                format!(
                    "uniform-point surrogate z* (misses starvation; worst z{})",
                    j + 1
                )
            },
            "§5.7",
            "comparison only: no claim to hold",
            (0..z.len()).map(|j| Entry {
                index: (j, 0),
                predicted: Some(sur[j]),
                numerical: z[j],
                tolerance: 0.0,
            }),
            sides.scale,
        )
        .info(),
    );
    Ok(())
}

/// ∂z*/∂s² and the elasticities E, every entry, against finite differences (docs/theory.md §5.3).
fn sensitivity_rows(
    sides: &Sides,
    lambda: f64,
    z: &DVector<f64>,
    fp: &SteadyState,
    kappa: f64,
    rows: &mut Vec<PredictionCheck>,
) -> Result<SteadyStateDifferences> {
    let system = sides.system;
    let r = system.rank();
    let sens = sensitivity::l2_sensitivity(&sides.theory, sides.theory_lambda)?;
    let fd = steady_state_differences(system, Regulariser::L2 { lambda })?;
    // The LU solve with J and the steady state it is taken at.
    let rtol = 10.0 * kappa * (fp.residual + 16.0 * f64::EPSILON);
    let tol =
        |j: usize, i: usize| 10.0 * fd.error_bound[(j, i)] + rtol * fd.derivatives[(j, i)].abs();
    let one_sided = if fd.one_sided > 0 {
        format!(", {} one-sided (s_i² < 4h)", fd.one_sided)
    } else {
        String::new()
    };
    let index = |k: usize| (k % r, k / r);
    // Entries whose tolerance reaches their own size: compared, but their sign is not resolved.
    let unresolved = (0..r * r)
        .filter(|&k| {
            let (j, i) = index(k);
            let q = fd.derivatives[(j, i)];
            q != 0.0 && sides.scale * tol(j, i) >= q.abs()
        })
        .count();
    rows.push(PredictionCheck::entrywise(
        |(j, i)| {
            format!(
                "∂z*/∂s² equals finite differences (worst ∂z{}*/∂s{}²)",
                j + 1,
                i + 1
            )
        },
        "§5.3",
        format!(
            "any system; Richardson-extrapolated differences, h = 1e-4·max(s², λ){one_sided}; \
             {unresolved} nonzero entries within their tolerance of 0 (sign unresolved)"
        ),
        (0..r * r).map(|k| {
            let (j, i) = index(k);
            Entry {
                index: (j, i),
                predicted: Some(sens.derivatives[(j, i)]),
                numerical: fd.derivatives[(j, i)],
                tolerance: tol(j, i),
            }
        }),
        sides.scale,
    ));
    let s2 = system.strengths_squared();
    let zero = sensitivity::ZERO_RESPONSE_TOLERANCE * z.amax().max(1.0);
    rows.push(PredictionCheck::entrywise(
        |(j, i)| {
            format!(
                "starvation matrix E equals finite differences (worst E{}{})",
                j + 1,
                i + 1
            )
        },
        "§5.3",
        "E_ji = (s_i²/z_j*)·∂z_j*/∂s_i²; masked where z_j* = 0 or s_i = 0",
        (0..r * r).map(|k| {
            let (j, i) = index(k);
            let defined = z[j].abs() > zero && s2[i] > 0.0;
            let factor = s2[i] / z[j];
            Entry {
                index: (j, i),
                predicted: sens.elasticities[(j, i)].filter(|_| defined),
                numerical: factor * fd.derivatives[(j, i)],
                tolerance: factor.abs() * tol(j, i),
            }
        }),
        sides.scale,
    ));
    Ok(fd)
}

/// z* = w − w e^{−w}/(1 + w) + O(ε²), w = W₀(c), ε = w e^{−w}/(1 + w), for the root of
/// z(1 + e^z) = c (docs/theory.md §5.1): the tail approximation with its first correction, and
/// the bound 2ε² on the rest (for w ≥ 1).
pub(super) fn corrected_tail(w: f64) -> (f64, f64) {
    let eps = w * (-w).exp() / (1.0 + w);
    (w - eps, 2.0 * eps * eps)
}

/// U = diag(±1): the decoupled roots of docs/theory.md §5.1 and their tail approximation.
fn decoupled_rows(
    sides: &Sides,
    signs: &DVector<f64>,
    z: &DVector<f64>,
    accuracy: f64,
    rows: &mut Vec<PredictionCheck>,
) -> Result<()> {
    let r = z.len();
    let theory_signs = decoupled_signs(sides.theory.coupling()).unwrap_or_else(|| signs.clone());
    let mut exact = DVector::zeros(r);
    let mut lambert = DVector::zeros(r);
    for j in 0..r {
        let root = decoupled::l2_root(sides.theory.strengths()[j], sides.theory_lambda)?;
        exact[j] = theory_signs[j] * root.exact;
        lambert[j] = theory_signs[j] * root.lambert;
    }
    rows.push(PredictionCheck::entrywise(
        |(j, _)| format!("decoupled roots z_j(1+e^z_j) = s_j²/λ (worst z{}*)", j + 1),
        "§5.1",
        "U = diag(±1); z_j* = ±(root)",
        (0..r).map(|j| Entry {
            index: (j, 0),
            predicted: Some(exact[j]),
            numerical: z[j],
            tolerance: 10.0 * accuracy + 16.0 * f64::EPSILON * z[j].abs(),
        }),
        sides.scale,
    ));
    rows.push(PredictionCheck::entrywise(
        |(j, _)| {
            format!(
                "tail form W₀(s_j²/λ) − ε_j, ε = we^(−w)/(1+w) (worst z{}*)",
                j + 1
            )
        },
        "§5.1",
        "U = diag(±1); error ≤ 2ε², masked where W₀ < 1",
        (0..r).map(|j| {
            let w = lambert[j].abs();
            let (form, bound) = corrected_tail(w);
            Entry {
                index: (j, 0),
                predicted: (w >= 1.0).then_some(theory_signs[j] * form),
                numerical: z[j],
                tolerance: bound + 10.0 * accuracy,
            }
        }),
        sides.scale,
    ));
    Ok(())
}

/// The late-time decay rate of the flow near z* is the slowest eigenvalue of −(λI + S²UᵀDU)
/// (docs/theory.md §5.6). The flow starts at z* + εw, w the slowest eigenvector (so no faster
/// mode contaminates the measurement; w by inverse iteration on the Jacobian of `model`), with
/// ε = 1e-3·max(1, ‖z*‖∞) and 2ε; the rate measured
/// between 2 and 4 relaxation times is extrapolated to ε → 0 (2k(ε) − k(2ε)) and held to
/// 2|k(ε) − k(2ε)| plus the flow error over the distance.
pub(super) fn relaxation_row(
    sides: &Sides,
    reg: Regulariser,
    z: &DVector<f64>,
) -> Result<Option<PredictionCheck>> {
    let system = sides.system;
    let predicted =
        linearisation::linearisation(&sides.theory, sides.theory_reg(reg))?.slowest_rate;
    // The slowest eigenvector of the exact flow's Jacobian at z*, by inverse iteration with the
    // shift of the slowest rate (S v from the symmetric form would vanish on a zero strength).
    let d = PrimalDynamics::new(system, Loss::Logistic, reg)?;
    let rate = linearisation::linearisation(system, reg)?.slowest_rate;
    let r = system.rank();
    let mut shifted = d.jacobian(z);
    for j in 0..r {
        shifted[(j, j)] += rate * (1.0 + 1e-8);
    }
    let lu = shifted.lu();
    let mut w = DVector::from_fn(r, |j, _| 1.0 + 0.37 * j as f64 / r as f64);
    for _ in 0..4 {
        w = lu.solve(&w).unwrap_or_else(|| w.clone());
        w /= w.amax().max(f64::MIN_POSITIVE);
    }
    let (t1, t2) = (2.0 / rate, 4.0 / rate);
    let (rtol, atol) = (1e-12, 1e-14);
    let eps = 1e-3 * z.amax().max(1.0) / w.amax().max(f64::MIN_POSITIVE);
    let measure = |amplitude: f64| -> Result<(f64, f64)> {
        let start = z + &w * amplitude;
        let sol = primal_flow(
            &d,
            &start,
            &FlowOptions::new(t2, 3, rtol, atol, FlowMethod::Auto)?,
        )?;
        let dist = |k: usize| (sol.states.state(k) - z).amax();
        let (d1, d2) = (dist(1), dist(2));
        let err = 100.0 * (atol + rtol * z.amax());
        Ok((
            (d1.ln() - d2.ln()) / (t2 - t1),
            (err / d1 + err / d2) / (t2 - t1),
        ))
    };
    let (k1, e1) = measure(eps)?;
    let (k2, e2) = measure(2.0 * eps)?;
    let measured = 2.0 * k1 - k2;
    if !(measured.is_finite() && e1.is_finite() && e2.is_finite()) {
        // The flow did not move off z* measurably (every strength 0 pins the flow): no row.
        return Ok(None);
    }
    Ok(Some(PredictionCheck::compare(
        "flow relaxation rate = slowest eigenvalue of −(λI + S²UᵀDU)",
        "§5.6",
        format!(
            "near z*, start along the slowest mode: τ ∈ [{t1:.3e}, {t2:.3e}], extrapolated in the \
             amplitude"
        ),
        predicted,
        measured,
        sides.scale * (2.0 * (k1 - k2).abs() + 2.0 * (e1 + e2)),
    )))
}

/// The dual flow from the authors' start ends at the primal steady state (docs/theory.md §3.5).
fn dual_row(
    sides: &Sides,
    d: &PrimalDynamics,
    lambda: f64,
    predicted: &DVector<f64>,
    accuracy: f64,
    rows: &mut Vec<PredictionCheck>,
) -> Result<()> {
    let system = sides.system;
    let z = predicted;
    let dual = DualDynamics::new(d)?;
    // Its own time: it is gradient ascent on A, whose Hessian −diag(1/(α(1 − α))) − λ⁻¹K is
    // ≤ −4I (docs/theory.md §3.5), so by τ' = 100 the transient is e⁻⁴⁰⁰ of the start.
    let (dual_rtol, dual_atol) = (1e-10, 1e-14);
    let sol = integrate(
        &dual,
        dual.start(DualDynamics::DEFAULT_START)?.as_slice(),
        &FlowOptions::new(100.0, 2, dual_rtol, dual_atol, FlowMethod::Bdf)?,
    )?;
    let beta = sol.states.last().unwrap_or(&[]);
    let z_dual = dual.responses(beta);
    // The tolerance follows the integration's: a global error of 100 local tolerances in each
    // logit β_i moves α_i by α_i(1 − α_i)·δβ_i, and z(α) = λ⁻¹S²Uᵀα carries that to
    // |δz_j| ≤ λ⁻¹s_j² Σ_i |U_ij| α_i(1 − α_i) δβ_i; plus the Newton steady state's accuracy.
    let alpha_error: Vec<f64> = beta
        .iter()
        .map(|&b| sigmoid_prime(b) * 100.0 * (dual_atol + dual_rtol * b.abs()))
        .collect();
    let s2 = system.strengths_squared();
    let u = system.coupling();
    let dual_tols: Vec<f64> = (0..z.len())
        .map(|j| {
            let carried: f64 = (0..u.nrows())
                .map(|i| u[(i, j)].abs() * alpha_error[i])
                .sum();
            s2[j] / lambda * carried + accuracy
        })
        .collect();
    rows.push(PredictionCheck::entrywise(
        |(j, _)| format!("dual steady state equals primal z* (worst z{})", j + 1),
        "§3.5",
        "any system (Legendre duality)",
        (0..z.len()).map(|j| Entry {
            index: (j, 0),
            predicted: Some(predicted[j]),
            numerical: z_dual[j],
            tolerance: dual_tols[j],
        }),
        sides.scale,
    ));

    Ok(())
}
