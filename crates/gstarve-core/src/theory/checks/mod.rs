//! `gstarve check`: every prediction of docs/theory.md that applies to a system (the dual of
//! §3.5, the steady states of §4.1–§4.3, the analytic results of §5.1–§5.7), computed from its
//! closed form and compared with an independent numerical computation (Newton steady states,
//! zeros of the flow F, the integrated flow and dual, finite differences). Each row says which
//! regime the prediction claims and is checked only there. The rows by regulariser: `l2` (with
//! `two_features`), `spectral_decoupling`, `no_regulariser`, `squared_loss`.
//!
//! Every row compares every entry: |p − q| ≤ tol per entry, and the row shows the entry with the
//! largest |p − q|/tol (masked, undefined entries are skipped and counted). The tolerances follow
//! the accuracy the numerical side reached (docs/theory.md §12.6), each times `tolerance_scale`:
//!
//! | row | numerical side | tolerance per entry |
//! |---|---|---|
//! | flow settles (§4.1, §4.2) | flow from 0 to min(40/k, [`MAX_SETTLE_TIME`]) | [`flow_error`] + e^{−kτ}‖z*‖∞ + accuracy of the predicted z* (L2: κ·(residual + 16ε), κ = 1 + s₁²/(4λ) ≥ cond J; SD: 10× the last Newton step); INFO when e^{−kτ} > 1e-6 |
//! | dual (§3.5) | BDF dual flow in logits to τ' = 100 (n ≤ 20000; a failed solve is an INFO row) | λ⁻¹s_j² Σ_i \|U_ij\| α_i(1 − α_i)·100(atol + rtol\|β_i\|) + accuracy of z* |
//! | ∂z*/∂s², E (§5.3) | [`steady_state_differences`] | 10·(its error bound) + 10κ(residual + 16ε)·\|q\|, times s_i²/\|z_j*\| for E |
//! | signs (§5.4, §5.5) | sign of the differences | exact; decided only where \|q\| ≥ 10× its error bound (else INFO) |
//! | first-order error ratio (§5.5) | Newton at δ, δ/2, δ/4 | 2·\|r(δ) − r(δ/2)\| + 1e-3 |
//! | relaxation rate (§5.6) | flow from z* + εw (slowest eigenvector), ε and 2ε | 2·\|k(ε) − k(2ε)\| + flow error over the distance |
//! | decoupled roots (§5.1), SD closed form (§4.2) | Newton steady state / zero of the general F | 10·its accuracy + 16ε·\|q\| |
//! | tail forms (§5.1) | exact roots | 2ε² (ε = we^{−w}/(1 + w), w ≥ 1) + 10·accuracy |
//! | closed-form trajectories (§4.3, §5.2) | the flow | [`flow_error`] |
//! | squared-loss steady state (§4.3) | Newton | 10·residual·(1 + s₁²/k) + 64ε·max(1, \|p\|) |
//! | binary reduction of softmax (§9.4) | binary Newton z* against √2·(the two-logit image's softmax Newton z*) | κ·(residual_bin + √2·residual_mc + 32ε·max(1, ‖z‖∞)) |
//! | class-target SD closed form (§10.1) | Newton zero of the general F; the flow | 10·(residual/min λ_c + (n + 4)ε‖m‖∞) |
//! | ẑ = Uᵀ1, SD direction (§11.2; all support vectors) | QP; SD zero of F | 10·√n·max\|m_i − 1\| (support margins); 10·SD accuracy/‖z‖ |
//! | L2 direction at λ = 1e-2, 1e-4, 1e-8 (§11.1) | Newton at λ; QP | 2·d(1e-2)·W₀(1e2)/W₀(1/λ) + Newton and QP accuracy |
//!
//! Where a prediction holds by construction (the SD steady state does not depend on S, §4.2/§5.3;
//! a decoupled system has no cross-sensitivity, §5.1) there is no row: the proof is in
//! docs/theory.md. A setting with no applicable prediction returns no rows
//! ([`nothing_to_check`] says why; the command line exits with status 3). Tests give the
//! predicted side a wrong input ([`Perturbation`]) and assert that every row fails.

mod fixed_point;
mod l2;
mod max_margin;
mod multiclass;
mod no_regulariser;
mod sd_classes;
mod softmax_reduction;
mod spectral_decoupling;
mod squared_loss;
#[cfg(test)]
mod tests;
mod two_features;

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

pub use fixed_point::{steady_state_differences, SteadyStateDifferences};
pub use multiclass::check_multiclass;

use super::linearisation;
use crate::error::{Error, InputError, Result};
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::ode::{FlowMethod, FlowOptions};
use crate::solvers::flow::primal_flow;
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
    /// Where docs/theory.md states it: a numbered subsection, §n.m.
    pub section: &'static str,
    /// The regime in which the prediction claims to hold, and why this system is in it.
    pub regime: String,
    /// The predicted value (of the worst entry).
    pub predicted: f64,
    /// The value from the independent numerical computation (of the worst entry).
    pub numerical: f64,
    /// |predicted − numerical| of the worst entry (or the measure named in the prediction).
    pub error: f64,
    /// The tolerance of the worst entry.
    pub tolerance: f64,
    /// PASS, FAIL or INFO.
    pub verdict: Verdict,
    /// Entries compared.
    pub compared: usize,
    /// Entries skipped as undefined (masked).
    pub masked: usize,
}

/// One entry of an entrywise comparison.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    /// Row and column (column 0 for a vector).
    pub index: (usize, usize),
    /// The predicted value; `None` masks the entry.
    pub predicted: Option<f64>,
    /// The numerical value.
    pub numerical: f64,
    /// Its tolerance, before `tolerance_scale`.
    pub tolerance: f64,
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
            // NaN on either side fails.
            verdict: if error <= tolerance {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            compared: 1,
            masked: 0,
        }
    }

    /// Compare every entry: the row shows the one with the largest error/tolerance; `name` names
    /// the row from that entry's index; masked entries are counted in the regime text.
    pub(super) fn entrywise(
        name: impl Fn((usize, usize)) -> String,
        section: &'static str,
        regime: impl Into<String>,
        entries: impl IntoIterator<Item = Entry>,
        scale: f64,
    ) -> Self {
        let mut worst: Option<(f64, Entry, f64)> = None;
        let (mut compared, mut masked) = (0, 0);
        for e in entries {
            let Some(p) = e.predicted else {
                masked += 1;
                continue;
            };
            compared += 1;
            let error = (p - e.numerical).abs();
            let ratio = if error <= e.tolerance * scale {
                error / (e.tolerance * scale).max(f64::MIN_POSITIVE)
            } else if error.is_nan() {
                f64::INFINITY
            } else {
                f64::MAX
                    .min(error / (e.tolerance * scale))
                    .max(1.0 + f64::EPSILON)
            };
            if worst.as_ref().is_none_or(|w| ratio > w.0) {
                worst = Some((ratio, e, p));
            }
        }
        let mut regime = regime.into();
        regime.push_str(&format!("; {compared} entries compared"));
        if masked > 0 {
            regime.push_str(&format!(", {masked} masked (undefined)"));
        }
        let mut row = match worst {
            Some((_, e, p)) => Self::compare(
                name(e.index),
                section,
                regime,
                p,
                e.numerical,
                e.tolerance * scale,
            ),
            None => Self::compare(name((0, 0)), section, regime, 0.0, 0.0, 0.0).info(),
        };
        row.compared = compared;
        row.masked = masked;
        row
    }

    pub(super) fn info(mut self) -> Self {
        self.verdict = Verdict::Info;
        self
    }
}

/// A deliberately wrong input applied to the predicted side only, so that tests can show every
/// row fail (not part of the command line).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Perturbation {
    /// λ multiplied by 1 + this.
    LambdaRelative(f64),
    /// The sign of U_(row, column) flipped (then the nearest matrix with orthonormal columns, the
    /// polar factor, so that the predicted side is still a feature system).
    CouplingSign {
        /// Example index.
        row: usize,
        /// Feature index.
        column: usize,
    },
}

/// Options of a check run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckOptions {
    /// Every tolerance is multiplied by this (1 by default; a tiny value shows the checker fail).
    pub tolerance_scale: f64,
    /// Tests only: a wrong input for the predicted side.
    #[doc(hidden)]
    pub perturbation: Option<Perturbation>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            tolerance_scale: 1.0,
            perturbation: None,
        }
    }
}

/// The two sides of a check: the exact system, from which the numerical side is computed, and
/// the system and λ from which the predictions are computed (the same unless perturbed).
pub(super) struct Sides<'a> {
    pub system: &'a FeatureSystem,
    pub theory: FeatureSystem,
    pub theory_lambda: f64,
    pub scale: f64,
}

impl<'a> Sides<'a> {
    fn new(system: &'a FeatureSystem, lambda: f64, options: &CheckOptions) -> Result<Self> {
        let mut theory = system.clone();
        let mut theory_lambda = lambda;
        match options.perturbation {
            None => {}
            Some(Perturbation::LambdaRelative(e)) => theory_lambda *= 1.0 + e,
            Some(Perturbation::CouplingSign { row, column }) => {
                let mut u = system.coupling().clone();
                if row < u.nrows() && column < u.ncols() {
                    u[(row, column)] = -u[(row, column)];
                }
                let svd = u.clone().svd(true, true);
                let polar = match (svd.u, svd.v_t) {
                    (Some(w), Some(vt)) => w * vt,
                    _ => u,
                };
                theory = FeatureSystem::new(system.strengths().clone(), polar)?;
                if let Some(y) = system.labels() {
                    theory = theory.with_labels(y.as_slice())?;
                }
            }
        }
        Ok(Self {
            system,
            theory,
            theory_lambda,
            scale: options.tolerance_scale,
        })
    }

    /// The regulariser of `reg`'s kind at the predicted side's λ.
    pub fn theory_reg(&self, reg: Regulariser) -> Regulariser {
        match reg {
            Regulariser::L2 { .. } => Regulariser::L2 {
                lambda: self.theory_lambda,
            },
            Regulariser::SpectralDecoupling { .. } => Regulariser::SpectralDecoupling {
                lambda: self.theory_lambda,
            },
            Regulariser::None => Regulariser::None,
            // Both weights by the factor the perturbation put on the smaller one.
            Regulariser::SpectralDecouplingClasses { .. } => {
                let lambda = reg.lambda();
                if lambda > 0.0 {
                    reg.scaled(self.theory_lambda / lambda)
                } else {
                    reg
                }
            }
        }
    }
}

/// The diagonal signs p_j when U = diag(p), p_j = ±1 (a decoupled system up to orientation,
/// docs/theory.md §1.4, §5.1): then z_j = p_j·(the decoupled response of strength s_j).
pub(super) fn decoupled_signs(u: &DMatrix<f64>) -> Option<DVector<f64>> {
    let r = u.ncols();
    if u.nrows() != r {
        return None;
    }
    let signs = DVector::from_fn(r, |j, _| if u[(j, j)] < 0.0 { -1.0 } else { 1.0 });
    ((u - DMatrix::from_diagonal(&signs)).amax() < 1e-12).then_some(signs)
}

/// δ when U is the rotation U(δ) of docs/theory.md §5.4.
pub(super) fn rotation_delta(u: &DMatrix<f64>) -> Option<f64> {
    if u.shape() != (2, 2) {
        return None;
    }
    let delta = u[(1, 0)];
    let c = (1.0 - delta * delta).max(0.0).sqrt();
    let target = DMatrix::from_row_slice(2, 2, &[c, -delta, delta, c]);
    ((u - target).amax() < 1e-9).then_some(delta)
}

/// The flow's end time is capped here: its cost stays bounded when the slowest relaxation rate
/// is tiny (a small λ or, under SD, a tiny strength); a flow that has not settled by then is
/// reported as a comparison (INFO), not a claim.
pub const MAX_SETTLE_TIME: f64 = 1e6;

/// Relaxation times the flow runs for: e^{−40} ≈ 4e-18 of the transient is left.
const SETTLE_RELAXATION_TIMES: f64 = 40.0;

/// The flow's requested tolerances (relative, absolute) in the settle and closed-form rows.
pub const FLOW_TOLERANCES: (f64, f64) = (1e-10, 1e-12);

/// The end time of the settle row, min(40/k, [`MAX_SETTLE_TIME`]), k the slowest relaxation
/// rate (docs/theory.md §5.6), and the rate. A feature with s_j = 0 is not part of it: from
/// z_j(0) = 0 it never moves (ż_j = −μz_j), so it has nothing to settle, while its rate (μ, or
/// 0 under SD) would set k.
pub(super) fn settle_time(system: &FeatureSystem, reg: Regulariser) -> Result<(f64, f64)> {
    let has_zero = system.strengths().iter().any(|&s| s == 0.0);
    let free = if has_zero && system.strengths().iter().any(|&s| s > 0.0) {
        Some(system.clone().drop_negligible(0.0)?.0)
    } else {
        None
    };
    let lin = linearisation::linearisation(free.as_ref().unwrap_or(system), reg)?;
    let rate = lin.slowest_rate;
    Ok(((SETTLE_RELAXATION_TIMES / rate).min(MAX_SETTLE_TIME), rate))
}

/// Why no prediction of docs/theory.md applies to `loss` and `regulariser` on `system`, or
/// `None` if some do.
pub fn nothing_to_check(
    system: &FeatureSystem,
    loss: Loss,
    regulariser: Regulariser,
) -> Option<&'static str> {
    match (loss, regulariser) {
        (Loss::Logistic, Regulariser::None) if decoupled_signs(system.coupling()).is_none() => {
            Some(
                "the logistic loss without a regulariser has no steady state (docs/theory.md \
                 §4.4) and its closed-form trajectory (§5.2) needs a decoupled system (U = I)",
            )
        }
        (
            Loss::Squared,
            Regulariser::SpectralDecoupling { .. } | Regulariser::SpectralDecouplingClasses { .. },
        ) => Some(
            "the squared loss has closed forms with L2 or without a regulariser only \
             (docs/theory.md §4.3)",
        ),
        _ => None,
    }
}

/// Run every prediction that applies to `system` under `loss` and `regulariser`; no rows when
/// none applies ([`nothing_to_check`]).
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
    if nothing_to_check(system, loss, regulariser).is_some() {
        return Ok(rows);
    }
    let sides = Sides::new(system, regulariser.lambda(), options)?;
    match (loss, regulariser) {
        (Loss::Logistic, Regulariser::L2 { lambda }) => {
            l2::l2_checks(&sides, lambda, &mut rows)?;
            rows.push(softmax_reduction::binary_reduction_row(
                &sides,
                regulariser,
            )?);
            max_margin::max_margin_checks(&sides, lambda, &mut rows)?;
        }
        (Loss::Logistic, Regulariser::SpectralDecoupling { lambda }) => {
            spectral_decoupling::sd_checks(&sides, lambda, &mut rows)?;
            rows.push(softmax_reduction::binary_reduction_row(
                &sides,
                regulariser,
            )?);
        }
        (Loss::Logistic, Regulariser::None) => no_regulariser::no_reg_checks(&sides, &mut rows)?,
        (Loss::Logistic, reg @ Regulariser::SpectralDecouplingClasses { .. }) => {
            sd_classes::sd_classes_checks(&sides, reg, &mut rows)?
        }
        (Loss::Squared, reg) => squared_loss::squared_checks(&sides, reg, &mut rows)?,
    }
    Ok(rows)
}

/// The flow of `system` from z = 0 to `t_end` at [`FLOW_TOLERANCES`]: its end state.
pub(super) fn flow_end(
    system: &FeatureSystem,
    loss: Loss,
    reg: Regulariser,
    t_end: f64,
) -> Result<DVector<f64>> {
    let d = PrimalDynamics::new(system, loss, reg)?;
    let (rtol, atol) = FLOW_TOLERANCES;
    let sol = primal_flow(
        &d,
        &DVector::zeros(system.rank()),
        &FlowOptions::new(t_end, 2, rtol, atol, FlowMethod::Auto)?,
    )?;
    Ok(sol
        .states
        .last()
        .map(DVector::from_column_slice)
        .unwrap_or_default())
}

/// The flow error allowed per entry: 100·(atol + rtol·|x|) of [`FLOW_TOLERANCES`] (the global
/// error of a contracting flow stays within a small multiple of the local tolerance).
pub fn flow_error(x: f64) -> f64 {
    let (rtol, atol) = FLOW_TOLERANCES;
    100.0 * (atol + rtol * x.abs())
}

/// The flow from z = 0, run for 40 relaxation times (docs/theory.md §5.6, capped at
/// [`MAX_SETTLE_TIME`]), ends at the steady state `predicted` (§4.1, §4.2). `accuracy` is that of
/// `predicted` per entry (Newton residual × condition bound). Returns the row, the end time and
/// the flow's end state.
pub(super) fn flow_settles(
    sides: &Sides,
    reg: Regulariser,
    predicted: &DVector<f64>,
    accuracy: f64,
) -> Result<(PredictionCheck, f64, DVector<f64>)> {
    let (t_end, rate) = settle_time(sides.system, reg)?;
    let end = flow_end(sides.system, Loss::Logistic, reg, t_end)?;
    let left = (-rate * t_end).exp();
    let transient = left * predicted.amax();
    let entries = (0..predicted.len()).map(|j| Entry {
        index: (j, 0),
        predicted: Some(predicted[j]),
        numerical: end[j],
        tolerance: flow_error(predicted[j]) + transient + accuracy,
    });
    let section = match reg {
        Regulariser::SpectralDecoupling { .. } => "§4.2",
        Regulariser::SpectralDecouplingClasses { .. } => "§10.1",
        _ => "§4.1",
    };
    let settled = left <= 1e-6;
    let regime = if settled {
        format!("any system; flow to τ = {t_end:.3e} (40 relaxation times, k = {rate:.3e})")
    } else {
        format!(
            "flow capped at τ = {t_end:.3e}: k = {rate:.3e}, e^(−kτ) = {left:.1e} left \
             (comparison only)"
        )
    };
    let mut row = PredictionCheck::entrywise(
        |(j, _)| format!("flow settles at the steady state (worst z{}*)", j + 1),
        section,
        regime,
        entries,
        sides.scale,
    );
    if !settled {
        row = row.info();
    }
    Ok((row, t_end, end))
}

/// True when every row passed (INFO rows do not count).
pub fn all_passed(rows: &[PredictionCheck]) -> bool {
    rows.iter().all(|r| r.verdict != Verdict::Fail)
}
