//! `gstarve check`: every prediction of docs/theory.md §3–§5 that applies to a system, computed from
//! its closed form and compared with the exact numerics (Newton steady states, the integrated flow
//! and dual, central finite differences). Each row says which regime the prediction claims and
//! is checked only there.

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use super::{decoupled, linearisation, perturbation, sd, sensitivity, squared, surrogate};
use crate::error::{Error, InputError, Result};
use crate::model::{sigmoid_prime, DualDynamics, Loss, PrimalDynamics, Regulariser};
use crate::ode::{integrate, FlowMethod, FlowOptions};
use crate::solvers::flow::primal_flow;
use crate::solvers::steady::steady_state;
use crate::systems::FeatureSystem;

/// The outcome of one prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Within tolerance.
    Pass,
    /// Outside tolerance.
    Fail,
    /// A comparison only (no claim to hold; e.g. the surrogate).
    Info,
}

/// One row of the check table.
#[derive(Clone, Debug, Serialize)]
pub struct PredictionCheck {
    /// What is predicted.
    pub prediction: String,
    /// Where docs/theory.md states it.
    pub section: &'static str,
    /// The regime in which the prediction claims to hold, and why this system is in it.
    pub regime: String,
    /// The predicted value.
    pub predicted: f64,
    /// The value from the exact solver.
    pub numerical: f64,
    /// |predicted − numerical| (or the measure named in the prediction).
    pub error: f64,
    /// The tolerance the error is held to.
    pub tolerance: f64,
    /// PASS, FAIL or INFO.
    pub verdict: Verdict,
}

impl PredictionCheck {
    /// Compare `predicted` with `numerical` at `tolerance` (absolute).
    pub fn compare(
        prediction: impl Into<String>,
        section: &'static str,
        regime: impl Into<String>,
        predicted: f64,
        numerical: f64,
        tolerance: f64,
    ) -> Self {
        let error = (predicted - numerical).abs();
        Self {
            prediction: prediction.into(),
            section,
            regime: regime.into(),
            predicted,
            numerical,
            error,
            tolerance,
            verdict: if error <= tolerance {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
        }
    }

    fn info(mut self) -> Self {
        self.verdict = Verdict::Info;
        self
    }
}

/// Options of a check run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckOptions {
    /// Every tolerance is multiplied by this (1 by default; a tiny value shows the checker fail).
    pub tolerance_scale: f64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            tolerance_scale: 1.0,
        }
    }
}

/// The worst component of a vector comparison: (index, predicted, numerical).
fn worst(predicted: &DVector<f64>, numerical: &DVector<f64>) -> (usize, f64, f64) {
    let j = (0..predicted.len())
        .max_by(|&a, &b| {
            (predicted[a] - numerical[a])
                .abs()
                .total_cmp(&(predicted[b] - numerical[b]).abs())
        })
        .unwrap_or(0);
    (j, predicted[j], numerical[j])
}

fn is_identity(u: &DMatrix<f64>) -> bool {
    u.nrows() == u.ncols() && (u - DMatrix::identity(u.nrows(), u.ncols())).amax() < 1e-12
}

/// δ when U is the rotation U(δ) of docs/theory.md §5.
fn rotation_delta(u: &DMatrix<f64>) -> Option<f64> {
    if u.shape() != (2, 2) {
        return None;
    }
    let delta = u[(1, 0)];
    let c = (1.0 - delta * delta).max(0.0).sqrt();
    let target = DMatrix::from_row_slice(2, 2, &[c, -delta, delta, c]);
    ((u - target).amax() < 1e-9).then_some(delta)
}

/// A long-enough end time for the flow to settle: 40 slowest relaxation times.
fn settle_time(system: &FeatureSystem, reg: Regulariser) -> Result<f64> {
    let lin = linearisation::linearisation(system, reg)?;
    Ok(40.0 / lin.slowest_rate)
}

/// Central finite differences of the L2 steady state in s_i²: column i is ∂z*/∂(s_i²).
pub fn steady_state_differences(system: &FeatureSystem, reg: Regulariser) -> Result<DMatrix<f64>> {
    let r = system.rank();
    let s2 = system.strengths_squared();
    let mut out = DMatrix::zeros(r, r);
    for i in 0..r {
        let h = 1e-5 * s2[i].max(1e-6);
        let shifted = |sign: f64| -> Result<DVector<f64>> {
            let mut s2p = s2.clone();
            s2p[i] += sign * h;
            let sys = system.with_strengths(s2p.map(f64::sqrt))?;
            Ok(steady_state(&PrimalDynamics::new(&sys, Loss::Logistic, reg)?)?.responses)
        };
        out.set_column(i, &((shifted(1.0)? - shifted(-1.0)?) / (2.0 * h)));
    }
    Ok(out)
}

/// Run every prediction that applies to `system` under `loss` and `regulariser`.
pub fn check_system(
    system: &FeatureSystem,
    loss: Loss,
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
    let mut rows = Vec::new();
    match (loss, regulariser) {
        (Loss::Logistic, Regulariser::L2 { lambda }) => {
            l2_checks(system, lambda, scale, &mut rows)?
        }
        (Loss::Logistic, Regulariser::SpectralDecoupling { lambda }) => {
            sd_checks(system, lambda, scale, &mut rows)?
        }
        (Loss::Logistic, Regulariser::None) => no_reg_checks(system, scale, &mut rows)?,
        (Loss::Squared, reg) => squared_checks(system, reg, scale, &mut rows)?,
    }
    Ok(rows)
}

fn flow_end(
    system: &FeatureSystem,
    loss: Loss,
    reg: Regulariser,
    t_end: f64,
) -> Result<DVector<f64>> {
    let d = PrimalDynamics::new(system, loss, reg)?;
    let sol = primal_flow(
        &d,
        &DVector::zeros(system.rank()),
        &FlowOptions::new(t_end, 2, 1e-10, 1e-12, FlowMethod::Auto)?,
    )?;
    Ok(sol
        .states
        .last()
        .map(DVector::from_column_slice)
        .unwrap_or_default())
}

/// The flow, run for 40 relaxation times, ends at the Newton steady state z (§4). Returns the
/// row, the end time and the flow's end state.
fn flow_settles(
    system: &FeatureSystem,
    reg: Regulariser,
    z: &DVector<f64>,
    scale: f64,
) -> Result<(PredictionCheck, f64, DVector<f64>)> {
    let t_end = settle_time(system, reg)?;
    let end = flow_end(system, Loss::Logistic, reg, t_end)?;
    let (j, p, n) = worst(z, &end);
    let row = PredictionCheck::compare(
        format!("flow settles at the steady state z{}*", j + 1),
        "§4",
        format!("any system; flow to τ = {t_end:.3e} (40 relaxation times)"),
        p,
        n,
        1e-6 * scale * z.amax().max(1.0),
    );
    Ok((row, t_end, end))
}

fn l2_checks(
    system: &FeatureSystem,
    lambda: f64,
    scale: f64,
    rows: &mut Vec<PredictionCheck>,
) -> Result<()> {
    let reg = Regulariser::L2 { lambda };
    let d = PrimalDynamics::new(system, Loss::Logistic, reg)?;
    let fp = steady_state(&d)?;
    let z = &fp.responses;
    let r = system.rank();

    let (settles, t_end, _) = flow_settles(system, reg, z, scale)?;
    rows.push(settles);

    // The dual flow reaches the same steady state.
    let dual = DualDynamics::new(&d)?;
    let sol = integrate(
        &dual,
        DVector::from_element(system.examples(), DualDynamics::DEFAULT_START).as_slice(),
        &FlowOptions::new(t_end.max(100.0), 2, 1e-10, 1e-14, FlowMethod::Bdf)?,
    )?;
    let z_dual = dual.responses(sol.states.last().unwrap_or(&[]));
    let (j, p, n) = worst(z, &z_dual);
    rows.push(PredictionCheck::compare(
        format!("dual steady state equals primal z{}*", j + 1),
        "§3",
        "any system (Legendre duality)",
        p,
        n,
        1e-6 * scale * z.amax().max(1.0),
    ));

    // Sensitivities: the implicit-function formula against finite differences.
    let sens = sensitivity::l2_sensitivity(system, lambda)?;
    let fd = steady_state_differences(system, reg)?;
    let mut worst_entry = (0, 0);
    let mut worst_err = -1.0;
    for jj in 0..r {
        for ii in 0..r {
            let e = (sens.derivatives[(jj, ii)] - fd[(jj, ii)]).abs();
            if e > worst_err {
                worst_err = e;
                worst_entry = (jj, ii);
            }
        }
    }
    let (jj, ii) = worst_entry;
    rows.push(PredictionCheck::compare(
        format!("∂z{}*/∂s{}² equals finite differences", jj + 1, ii + 1),
        "§5",
        "any system; central differences, h = 1e-5·s²",
        sens.derivatives[(jj, ii)],
        fd[(jj, ii)],
        1e-5 * scale * sens.derivatives.amax().max(1e-8),
    ));

    // Decoupled systems: closed-form roots and no cross-sensitivity.
    if is_identity(system.coupling()) {
        let mut exact = DVector::zeros(r);
        let mut lambert = DVector::zeros(r);
        for j in 0..r {
            let root = decoupled::l2_root(system.strengths()[j], lambda)?;
            exact[j] = root.exact;
            lambert[j] = root.lambert;
        }
        let (j, p, n) = worst(&exact, z);
        rows.push(PredictionCheck::compare(
            format!("decoupled root z{0}(1+e^z{0}) = s{0}²/λ", j + 1),
            "§5",
            "U = I",
            p,
            n,
            1e-9 * scale * z.amax().max(1.0),
        ));
        // |W₀(c) − z| ≈ w e^{−z}/(1 + w) < e^{−z} to first order in e^{−z}.
        let (j, p, n) = worst(&lambert, z);
        rows.push(PredictionCheck::compare(
            format!("Lambert-W form W₀(s{}²/λ) (tail approximation)", j + 1),
            "§5",
            "U = I; error bounded by 1.5·e^{−z}",
            p,
            n,
            1.5 * scale * (-n).exp(),
        ));
        let off = DMatrix::from_fn(r, r, |a, b| if a == b { 0.0 } else { fd[(a, b)].abs() });
        rows.push(PredictionCheck::compare(
            "no starvation: max |∂z_j*/∂s_i²|, i ≠ j",
            "§5",
            "U = I",
            0.0,
            off.amax(),
            1e-7 * scale * fd.amax().max(1e-8),
        ));
    }

    if r == 2 {
        two_feature_checks(system, lambda, &fd, scale, rows)?;
    }

    // Relaxation: the late-time decay rate of the flow is the slowest eigenvalue.
    let lin = linearisation::linearisation(system, reg)?;
    let rate = lin.slowest_rate;
    // Output grid 0, t₁, t₂ with t₁ = t₂/2.
    let (t1, t2) = (3.0 / rate, 6.0 / rate);
    let dd = PrimalDynamics::new(system, Loss::Logistic, reg)?;
    // Start off z* in a generic direction, so that the slowest mode is excited (from z = 0 a
    // symmetric system can move in its fast modes only).
    let generic = DVector::from_fn(r, |j, _| {
        if j % 2 == 0 {
            1.0 + 0.3 * j as f64
        } else {
            -0.7 - 0.2 * j as f64
        }
    });
    let start = z + generic * (0.2 * z.amax().max(1.0) / (1.0 + 0.3 * r as f64));
    let sol = primal_flow(
        &dd,
        &start,
        &FlowOptions::new(t2, 3, 1e-11, 1e-13, FlowMethod::Auto)?,
    )?;
    let dist = |k: usize| (sol.states.state(k) - z).norm();
    let measured = (dist(1).ln() - dist(2).ln()) / (t2 - t1);
    rows.push(PredictionCheck::compare(
        "flow relaxation rate = slowest eigenvalue of −(λI + S²UᵀDU)",
        "§5",
        format!("near z*, generic start: τ ∈ [{t1:.3e}, {t2:.3e}] (3–6 relaxation times)"),
        rate,
        measured,
        0.1 * scale * rate,
    ));

    // The surrogate, as a comparison only.
    let sur = surrogate::surrogate_steady_state(system, lambda, 0.5)?;
    let (j, p, n) = worst(&sur, z);
    rows.push(
        PredictionCheck::compare(
            format!("uniform-point surrogate z{}* (misses starvation)", j + 1),
            "§5",
            "comparison only: no claim to hold",
            p,
            n,
            0.0,
        )
        .info(),
    );
    Ok(())
}

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn two_feature_checks(
    system: &FeatureSystem,
    lambda: f64,
    fd: &DMatrix<f64>,
    scale: f64,
    rows: &mut Vec<PredictionCheck>,
) -> Result<()> {
    let crit = sensitivity::two_feature_criterion(system, lambda)?;
    let derivative = fd[(1, 0)];
    // A sign is only decidable when the derivative stands clear of finite-difference noise.
    let decidable = derivative.abs() > 1e-6 * fd.amax().max(1e-8);
    let regime = if decidable {
        "two features, any coupling (exact)".to_string()
    } else {
        "two features; derivative within finite-difference noise of 0: sign undecidable".to_string()
    };
    let mut row = PredictionCheck::compare(
        "sign ∂z₂*/∂s₁² = −sign(z₁*)·sign(M₂₁)",
        "§5",
        regime,
        f64::from(crit.predicted_sign),
        sign(derivative),
        0.0,
    );
    if !decidable {
        row = row.info();
    }
    rows.push(row);

    let Some(delta) = rotation_delta(system.coupling()) else {
        return Ok(());
    };
    let m = &crit.steady_state.margins;
    rows.push(PredictionCheck::compare(
        "rotation form M₂₁ = δ√(1−δ²)(σ'(m₂*) − σ'(m₁*))",
        "§5",
        format!("rotation family, δ = {delta}"),
        sensitivity::rotation_cross_curvature(delta, m)?,
        crit.cross_curvature,
        1e-14 * scale * (sigmoid_prime(m[0]) + sigmoid_prime(m[1])),
    ));
    let z = &crit.steady_state.responses;
    if z[0] > 0.0 && z[1] > 0.0 && delta > 0.0 && decidable {
        let predicted = if m[1].abs() < m[0].abs() { -1.0 } else { 1.0 };
        rows.push(PredictionCheck::compare(
            "starvation ⇔ |m₂*| < |m₁*| (sign of ∂z₂*/∂s₁²)",
            "§5",
            "rotation family, δ > 0, both responses positive",
            predicted,
            sign(derivative),
            0.0,
        ));
    }
    let s = system.strengths();
    let first_order_regime = delta.abs() <= 0.1 && (s[0] - s[1]).abs() > 1e-3 * s.amax();
    if first_order_regime && decidable {
        let signs = perturbation::first_order_starvation_signs(
            s,
            &perturbation::rotation_generator(),
            delta,
        )?;
        rows.push(PredictionCheck::compare(
            "first order: sign ∂z₂*/∂s₁² = −sign(δ)·sign(s₁ − s₂)",
            "§5",
            format!("small coupling: |δ| = {:.3} ≤ 0.1, s₁ ≠ s₂", delta.abs()),
            f64::from(signs[(1, 0)]),
            sign(derivative),
            0.0,
        ));
    }
    // The first-order expansion's error shrinks like δ² (at this system's s and λ).
    let error_at = |dl: f64| -> Result<f64> {
        let sys = FeatureSystem::rotation(s[0], s[1], dl)?;
        let exact = steady_state(&PrimalDynamics::new(
            &sys,
            Loss::Logistic,
            Regulariser::L2 { lambda },
        )?)?
        .responses;
        let pred = perturbation::first_order_steady_state(
            s,
            lambda,
            &perturbation::rotation_generator(),
            dl,
        )?;
        Ok((exact - pred.prediction).amax())
    };
    let (e1, e2) = (error_at(0.01)?, error_at(0.005)?);
    rows.push(PredictionCheck::compare(
        "first-order error ratio e(δ)/e(δ/2) = 4 (error O(δ²))",
        "§5",
        "δ → 0 at this system's s and λ (δ = 0.01, 0.005)",
        4.0,
        e1 / e2,
        0.6 * scale,
    ));
    Ok(())
}

fn sd_checks(
    system: &FeatureSystem,
    lambda: f64,
    scale: f64,
    rows: &mut Vec<PredictionCheck>,
) -> Result<()> {
    let reg = Regulariser::SpectralDecoupling { lambda };
    let d = PrimalDynamics::new(system, Loss::Logistic, reg)?;
    let fp = steady_state(&d)?;
    let z = &fp.responses;
    let closed_form_applies =
        system.rank() == system.examples() && system.strengths().iter().all(|&s| s > 0.0);
    let (settles, _, end) = flow_settles(system, reg, z, scale)?;
    rows.push(settles);
    if !closed_form_applies {
        return Ok(());
    }
    let margin = sd::steady_margin(lambda)?;
    let predicted = sd::steady_state(system, lambda)?;
    // Equal margins μ* for every example, from the general Newton solver.
    let spread = fp.margins.max() - fp.margins.min();
    rows.push(PredictionCheck::compare(
        "equal margins: max m* − min m* = 0",
        "§4",
        "r = n, all s > 0",
        0.0,
        spread,
        1e-9 * scale * margin.exact,
    ));
    let (j, p, n) = worst(&predicted, &end);
    rows.push(PredictionCheck::compare(
        format!("z{}* = μ*·(Uᵀ1) (flow)", j + 1),
        "§4",
        "r = n, all s > 0",
        p,
        n,
        1e-6 * scale * z.amax().max(1.0),
    ));
    rows.push(PredictionCheck::compare(
        "μ* ≈ W₀(1/λ) (tail approximation)",
        "§5",
        "error bounded by 1.5·e^{−μ*}",
        margin.lambert,
        margin.exact,
        1.5 * scale * (-margin.exact).exp(),
    ));
    let fd = steady_state_differences(system, reg)?;
    rows.push(PredictionCheck::compare(
        "SD sensitivities vanish: max |∂z_j*/∂s_i²|",
        "§5",
        "r = n, all s > 0; central differences",
        0.0,
        fd.amax(),
        1e-8 * scale,
    ));
    Ok(())
}

fn no_reg_checks(
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
        "§5",
        "U = I, no regulariser",
        p,
        n,
        1e-7 * scale * n.abs().max(1.0),
    ));
    Ok(())
}

fn squared_checks(
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
        "§4",
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
        "§4",
        "squared loss + L2 (linear flow)",
        p,
        n,
        1e-7 * scale * closed.amax().max(1.0),
    ));
    Ok(())
}

/// True when every row passed (INFO rows do not count).
pub fn all_passed(rows: &[PredictionCheck]) -> bool {
    rows.iter().all(|r| r.verdict != Verdict::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::paper_toy;

    #[test]
    fn toy_passes_every_l2_and_sd_check() {
        for l in [2.0, 3.0, 4.0, 5.0, 6.0] {
            let sys = paper_toy(l);
            for reg in [
                Regulariser::L2 { lambda: 0.01 },
                Regulariser::SpectralDecoupling { lambda: 0.002 },
            ] {
                let rows =
                    check_system(&sys, Loss::Logistic, reg, &CheckOptions::default()).unwrap();
                assert!(rows.len() >= 4, "{reg:?}: {rows:?}");
                for row in &rows {
                    assert_ne!(row.verdict, Verdict::Fail, "l = {l} {reg:?}: {row:?}");
                }
            }
        }
    }

    #[test]
    fn a_tiny_tolerance_makes_the_checker_fail() {
        let rows = check_system(
            &paper_toy(4.0),
            Loss::Logistic,
            Regulariser::L2 { lambda: 0.01 },
            &CheckOptions {
                tolerance_scale: 1e-14,
            },
        )
        .unwrap();
        assert!(!all_passed(&rows));
    }

    #[test]
    fn a_broken_prediction_fails() {
        // The sensitivity formula with the sign of the coupling term flipped (J = I − λ⁻¹S²M
        // instead of I + λ⁻¹S²M) must not pass the finite-difference comparison.
        let sys = paper_toy(4.0);
        let lambda = 0.01;
        let sens = sensitivity::l2_sensitivity(&sys, lambda).unwrap();
        let fd = steady_state_differences(&sys, Regulariser::L2 { lambda }).unwrap();
        let m = &sens.steady_state.margins;
        let u = sys.coupling();
        let s2 = sys.strengths_squared();
        let mut broken_j = DMatrix::<f64>::identity(2, 2);
        for a in 0..2 {
            for b in 0..2 {
                let mab: f64 = (0..2)
                    .map(|i| u[(i, a)] * u[(i, b)] * sigmoid_prime(m[i]))
                    .sum();
                broken_j[(a, b)] -= s2[a] * mab / lambda;
            }
        }
        let z = &sens.steady_state.responses;
        let broken = broken_j.try_inverse().unwrap()[(1, 0)] * z[0] / s2[0];
        let row =
            PredictionCheck::compare("broken", "§5", "test", broken, fd[(1, 0)], 1e-5 * fd.amax());
        assert_eq!(row.verdict, Verdict::Fail);
        let good = PredictionCheck::compare(
            "good",
            "§5",
            "test",
            sens.derivatives[(1, 0)],
            fd[(1, 0)],
            1e-5 * fd.amax(),
        );
        assert_eq!(good.verdict, Verdict::Pass);
    }
}
