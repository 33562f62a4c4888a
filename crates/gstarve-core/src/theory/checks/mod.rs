//! `gstarve check`: every prediction of docs/theory.md that applies to a system (the dual of
//! §3.5, the steady states of §4.1–§4.3, the analytic results of §5.1–§5.7), computed from its
//! closed form and compared with the exact numerics (Newton steady states, the integrated flow
//! and dual, central finite differences). Each row says which regime the prediction claims and
//! is checked only there. The rows by regulariser: `l2` (with the two-feature rows),
//! `spectral_decoupling`, `no_regulariser`, `squared_loss`.

mod l2;
mod no_regulariser;
mod spectral_decoupling;
mod squared_loss;
#[cfg(test)]
mod tests;

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use super::linearisation;
use crate::error::{Error, InputError, Result};
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::ode::{FlowMethod, FlowOptions};
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
    /// Where docs/theory.md states it: a numbered subsection, §n.m.
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

    pub(super) fn info(mut self) -> Self {
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
pub(super) fn worst(predicted: &DVector<f64>, numerical: &DVector<f64>) -> (usize, f64, f64) {
    let j = (0..predicted.len())
        .max_by(|&a, &b| {
            (predicted[a] - numerical[a])
                .abs()
                .total_cmp(&(predicted[b] - numerical[b]).abs())
        })
        .unwrap_or(0);
    (j, predicted[j], numerical[j])
}

pub(super) fn is_identity(u: &DMatrix<f64>) -> bool {
    u.nrows() == u.ncols() && (u - DMatrix::identity(u.nrows(), u.ncols())).amax() < 1e-12
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

/// A long-enough end time for the flow to settle: 40 slowest relaxation times (docs/theory.md
/// §5.6).
pub(super) fn settle_time(system: &FeatureSystem, reg: Regulariser) -> Result<f64> {
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
            l2::l2_checks(system, lambda, scale, &mut rows)?
        }
        (Loss::Logistic, Regulariser::SpectralDecoupling { lambda }) => {
            spectral_decoupling::sd_checks(system, lambda, scale, &mut rows)?
        }
        (Loss::Logistic, Regulariser::None) => {
            no_regulariser::no_reg_checks(system, scale, &mut rows)?
        }
        (Loss::Squared, reg) => squared_loss::squared_checks(system, reg, scale, &mut rows)?,
    }
    Ok(rows)
}

pub(super) fn flow_end(
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

/// The flow, run for 40 relaxation times (docs/theory.md §5.6), ends at the Newton steady state
/// z (§4.1, §4.2). Returns the row, the end time and the flow's end state.
pub(super) fn flow_settles(
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
        match reg {
            Regulariser::SpectralDecoupling { .. } => "§4.2",
            _ => "§4.1",
        },
        format!("any system; flow to τ = {t_end:.3e} (40 relaxation times)"),
        p,
        n,
        1e-6 * scale * z.amax().max(1.0),
    );
    Ok((row, t_end, end))
}

/// True when every row passed (INFO rows do not count).
pub fn all_passed(rows: &[PredictionCheck]) -> bool {
    rows.iter().all(|r| r.verdict != Verdict::Fail)
}
