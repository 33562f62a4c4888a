//! The starvation measures of docs/theory.md §7.2, evaluated at one member of the rotation family.
//!
//! Each evaluation returns a [`PointRecord`]: the measure's value, or the reason it is masked
//! (a response or reference response that vanishes, a Newton iteration or flow that failed); a
//! masked value is NaN and is never interpolated over.

use std::str::FromStr;

use nalgebra::Vector2;
use serde::Serialize;

use super::grid::RotationFamily;
use super::learning_time::{learning_time_from, LearningTime, LearningTimeParams};
use super::rotation::{
    is_zero_response, rotation_sensitivity, rotation_steady_state, RotationSteadyState,
};
use crate::model::Loss;
use crate::output::Cell;
use crate::solvers::steady::sd_margin;
use crate::systems::FeatureSystem;

/// How SD is matched to L2 for the SD recovery (docs/theory.md §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SdMatching {
    /// The same λ for SD as for L2: z₂*(SD) = μ*(λ)·(Uᵀ1)₂ with λμ*(1 + e^{μ*}) = 1.
    Lambda,
    /// The SD λ whose steady state has the same final training loss Σᵢ ℓ(mᵢ*) as L2: every SD
    /// margin is μ with 2ℓ(μ) = ℓ(m₁*) + ℓ(m₂*), i.e. μ = −log(expm1(L/2)).
    FinalLoss,
}

/// A starvation measure (docs/theory.md §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    /// E₂₁ = ∂ log|z₂*| / ∂ log s₁² (< 0: feature 1 starves feature 2). Phase boundary: E₂₁ = 0.
    Elasticity,
    /// ρ = z₂*(s₁, s₂, δ) / z₂*(s₂, s₂, δ) (< 1: starved). Phase boundary: ρ = 1.
    StarvationRatio,
    /// z₂*(SD) / z₂*(L2) (> 1: SD recovers the starved feature). Boundary: ratio = 1.
    SdRecovery(SdMatching),
    /// τ₉₀: the first learning time at which z₂ reaches 90 % of z₂*, from the exact flow.
    LearningTime,
    /// The max-margin limit λ → 0 (docs/theory.md §11.3): E^∞₂₁ = lim ∂log|z₂*|/∂log s₁²
    /// (0 where every example is a support vector, < 0 where starvation survives the limit).
    /// Phase boundary: a non-positive entry of K⁻¹1. λ plays no part.
    MaxMargin,
}

impl Measure {
    /// Short ASCII name (CLI and CSV).
    pub fn name(self) -> &'static str {
        match self {
            Measure::Elasticity => "elasticity",
            Measure::StarvationRatio => "ratio",
            Measure::SdRecovery(SdMatching::Lambda) => "sd-recovery",
            Measure::SdRecovery(SdMatching::FinalLoss) => "sd-recovery-loss",
            Measure::LearningTime => "tau90",
            Measure::MaxMargin => "max-margin",
        }
    }

    /// Label for figures, in the paper's notation.
    pub fn label(self) -> &'static str {
        match self {
            Measure::Elasticity => "elasticity E₂₁ = ∂log|z₂*|/∂log s₁²",
            Measure::StarvationRatio => "starvation ratio ρ = z₂*(s₁,s₂)/z₂*(s₂,s₂)",
            Measure::SdRecovery(SdMatching::Lambda) => "SD recovery z₂*(SD)/z₂*(L2), same λ",
            Measure::SdRecovery(SdMatching::FinalLoss) => {
                "SD recovery z₂*(SD)/z₂*(L2), same final loss"
            }
            Measure::LearningTime => "learning time τ₉₀ (z₂ reaches 90 % of z₂*)",
            Measure::MaxMargin => "limit elasticity E₂₁ as λ → 0 (max margin)",
        }
    }

    /// The value at which the measure changes phase (0 for E₂₁, 1 for the ratios), if any.
    pub fn neutral_value(self) -> Option<f64> {
        match self {
            Measure::Elasticity | Measure::MaxMargin => Some(0.0),
            Measure::StarvationRatio | Measure::SdRecovery(_) => Some(1.0),
            Measure::LearningTime => None,
        }
    }
}

impl FromStr for Measure {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "elasticity" | "e21" => Ok(Measure::Elasticity),
            "ratio" | "rho" => Ok(Measure::StarvationRatio),
            "sd-recovery" => Ok(Measure::SdRecovery(SdMatching::Lambda)),
            "sd-recovery-loss" => Ok(Measure::SdRecovery(SdMatching::FinalLoss)),
            "tau90" | "learning-time" => Ok(Measure::LearningTime),
            "max-margin" => Ok(Measure::MaxMargin),
            other => Err(format!(
                "unknown measure '{other}' (expected elasticity, ratio, sd-recovery, \
                 sd-recovery-loss, tau90 or max-margin)"
            )),
        }
    }
}

/// Why a grid point has no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaskReason {
    /// z₂* = 0 to the steady state's accuracy: log|z₂*| (E₂₁) or 90 % of z₂* (τ₉₀) is undefined.
    ZeroResponse,
    /// The reference response vanishes (ρ: z₂*(s₂,s₂,δ) = 0; SD recovery: z₂*(L2) = 0).
    ZeroReference,
    /// The steady-state Newton iteration did not converge.
    NotConverged,
    /// τ₉₀: z₂ did not reach 90 % of z₂* within the time limit.
    NotReached,
    /// τ₉₀: the flow integrator failed.
    FlowFailed,
}

impl MaskReason {
    /// Short ASCII name for CSV files.
    pub fn name(self) -> &'static str {
        match self {
            MaskReason::ZeroResponse => "zero-response",
            MaskReason::ZeroReference => "zero-reference",
            MaskReason::NotConverged => "not-converged",
            MaskReason::NotReached => "not-reached",
            MaskReason::FlowFailed => "flow-failed",
        }
    }

    /// The reason whose [`Self::name`] is `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            MaskReason::ZeroResponse,
            MaskReason::ZeroReference,
            MaskReason::NotConverged,
            MaskReason::NotReached,
            MaskReason::FlowFailed,
        ]
        .into_iter()
        .find(|r| r.name() == name)
    }

    /// Description for legends.
    pub fn description(self) -> &'static str {
        match self {
            MaskReason::ZeroResponse => "z₂* = 0",
            MaskReason::ZeroReference => "reference z₂* = 0",
            MaskReason::NotConverged => "no convergence",
            MaskReason::NotReached => "τ₉₀ beyond time limit",
            MaskReason::FlowFailed => "flow failed",
        }
    }
}

/// One grid point's result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PointRecord {
    /// The measure (NaN where masked).
    pub value: f64,
    /// Why it is masked, if it is.
    pub mask: Option<MaskReason>,
    /// The L2 steady state z* (NaN if Newton failed).
    pub responses: [f64; 2],
    /// A smooth field with the sign of the measure's departure from its neutral value and no
    /// poles, whose sign changes are the phase boundary (NaN when the measure has none or the
    /// point is masked): E₂₁·z₂*² = s₁²(∂z₂*/∂s₁²)·z₂* for E₂₁, (ρ − 1)·z₂*ref² =
    /// (z₂* − z₂*ref)·z₂*ref for the ratios. Where numerator and denominator of the measure
    /// vanish together (in the rotation family both do at δ = 1/√2) it touches zero without
    /// changing sign, so no false boundary is drawn there.
    pub boundary: f64,
    /// The reference response: z₂*(s₂,s₂,δ) for ρ, z₂*(SD) for the SD recovery (else NaN).
    pub reference: f64,
    /// τ₉₀ only: the width of the time interval that brackets it (else NaN).
    pub resolution: f64,
}

impl PointRecord {
    /// The point's CSV row at grid coordinates (x, y): `x, y, value, mask, z, z, boundary,
    /// reference, resolution` (the columns of both phase diagrams' tables). The coordinates come
    /// as cells, so that a table formats each grid line's coordinate once (as
    /// `Cell::Text` of `Cell::Sci`'s text) instead of once per point.
    pub(crate) fn cells<'a>(&self, x: Cell<'a>, y: Cell<'a>) -> [Cell<'a>; 9] {
        [
            x,
            y,
            Cell::FiniteSci(self.value),
            Cell::Text(self.mask.map_or("none", MaskReason::name)),
            Cell::FiniteSci(self.responses[0]),
            Cell::FiniteSci(self.responses[1]),
            Cell::FiniteSci(self.boundary),
            Cell::FiniteSci(self.reference),
            Cell::FiniteSci(self.resolution),
        ]
    }

    pub(crate) fn masked(reason: MaskReason, responses: [f64; 2]) -> Self {
        Self {
            value: f64::NAN,
            mask: Some(reason),
            responses,
            boundary: f64::NAN,
            reference: f64::NAN,
            resolution: f64::NAN,
        }
    }

    pub(crate) fn value(value: f64, responses: [f64; 2], boundary: f64, reference: f64) -> Self {
        Self {
            value,
            mask: None,
            responses,
            boundary,
            reference,
            resolution: f64::NAN,
        }
    }
}

/// State carried from one grid point to its neighbour in a row: warm starts and the SD margin.
#[derive(Clone, Debug, Default)]
pub(crate) struct RowState {
    main: Vector2<f64>,
    reference: Vector2<f64>,
    /// (λ, μ*(λ)) of the last SD margin computed.
    sd_margin: Option<(f64, f64)>,
}

fn solve(family: &RotationFamily, warm: &mut Vector2<f64>) -> Option<RotationSteadyState> {
    match rotation_steady_state(family, *warm) {
        Ok(s) => {
            *warm = s.responses;
            Some(s)
        }
        Err(_) => {
            *warm = Vector2::zeros();
            None
        }
    }
}

/// Evaluate `measure` at `family` (validated), reusing and updating the row's warm starts.
pub(crate) fn evaluate(
    measure: Measure,
    family: &RotationFamily,
    row: &mut RowState,
    learning: &LearningTimeParams,
) -> PointRecord {
    if measure == Measure::MaxMargin {
        return max_margin_point(family);
    }
    let Some(steady) = solve(family, &mut row.main) else {
        return PointRecord::masked(MaskReason::NotConverged, [f64::NAN; 2]);
    };
    let z = steady.responses;
    let responses = [z[0], z[1]];
    if measure == Measure::LearningTime {
        return match learning_time_system(family, &z) {
            Ok(system) => learning_time_record(
                learning_time_from(
                    &system,
                    family.lambda,
                    1,
                    z[1],
                    Some(steady.margins.as_slice()),
                    learning,
                ),
                responses,
            ),
            Err(masked) => masked,
        };
    }
    let sensitivity = || {
        let sens = rotation_sensitivity(family, &steady);
        (sens.elasticities[(1, 0)], sens.derivatives[(1, 0)])
    };
    let reference = |row: &mut RowState| {
        let balanced = RotationFamily {
            ratio: 1.0,
            ..*family
        };
        solve(&balanced, &mut row.reference).map(|r| r.responses)
    };
    steady_record(
        measure,
        family,
        z,
        steady.margins,
        sensitivity,
        reference,
        row,
    )
}

/// A steady-state measure (E₂₁, ρ, SD recovery) at `family` from its L2 steady state z*, m*
/// (docs/theory.md §7.2): `sensitivity` gives (E₂₁, ∂z₂*/∂s₁²) and `reference` the steady state
/// of the balanced member (r = 1) or `None` if it failed; each is called only when needed.
/// The one home of these measures' formulas.
pub(crate) fn steady_record(
    measure: Measure,
    family: &RotationFamily,
    z: Vector2<f64>,
    margins: Vector2<f64>,
    sensitivity: impl FnOnce() -> (f64, f64),
    reference: impl FnOnce(&mut RowState) -> Option<Vector2<f64>>,
    row: &mut RowState,
) -> PointRecord {
    let responses = [z[0], z[1]];
    let z2_zero = is_zero_response(z[1], &z);
    match measure {
        Measure::Elasticity => {
            if z2_zero {
                return PointRecord::masked(MaskReason::ZeroResponse, responses);
            }
            let (e21, d21) = sensitivity();
            let s1sq = family.strong_strength().powi(2);
            PointRecord::value(e21, responses, s1sq * d21 * z[1], f64::NAN)
        }
        Measure::StarvationRatio => {
            let Some(reference) = reference(row) else {
                return PointRecord::masked(MaskReason::NotConverged, responses);
            };
            let z2_ref = reference[1];
            if is_zero_response(z2_ref, &reference) {
                return PointRecord::masked(MaskReason::ZeroReference, responses);
            }
            PointRecord::value(z[1] / z2_ref, responses, (z[1] - z2_ref) * z2_ref, z2_ref)
        }
        Measure::SdRecovery(matching) => {
            if z2_zero {
                return PointRecord::masked(MaskReason::ZeroReference, responses);
            }
            let Some(mu) = sd_common_margin(matching, family, &margins, row) else {
                return PointRecord::masked(MaskReason::NotConverged, responses);
            };
            let c = (1.0 - family.coupling * family.coupling).sqrt();
            let z2_sd = mu * (c - family.coupling);
            PointRecord::value(z2_sd / z[1], responses, (z2_sd - z[1]) * z[1], z2_sd)
        }
        // Not steady-state measures: masked rather than computed here.
        Measure::LearningTime | Measure::MaxMargin => {
            PointRecord::masked(MaskReason::NotConverged, responses)
        }
    }
}

/// The main steady state of `family`, warm-started from and updating the row's (`None`: Newton
/// did not converge).
pub(crate) fn main_steady_state(
    family: &RotationFamily,
    row: &mut RowState,
) -> Option<RotationSteadyState> {
    solve(family, &mut row.main)
}

/// The system whose τ₉₀ is the measure at `family` with steady responses `z`, or the record of
/// a point masked before any flow.
pub(crate) fn learning_time_system(
    family: &RotationFamily,
    z: &Vector2<f64>,
) -> std::result::Result<FeatureSystem, PointRecord> {
    let responses = [z[0], z[1]];
    if is_zero_response(z[1], z) {
        return Err(PointRecord::masked(MaskReason::ZeroResponse, responses));
    }
    FeatureSystem::rotation(
        family.strong_strength(),
        family.weak_strength,
        family.coupling,
    )
    .map_err(|_| PointRecord::masked(MaskReason::FlowFailed, responses))
}

/// The record of a τ₉₀ point from its learning time.
pub(crate) fn learning_time_record(
    time: crate::error::Result<Option<LearningTime>>,
    responses: [f64; 2],
) -> PointRecord {
    match time {
        Ok(Some(t)) => PointRecord {
            resolution: t.resolution,
            ..PointRecord::value(t.tau, responses, f64::NAN, f64::NAN)
        },
        Ok(None) => PointRecord::masked(MaskReason::NotReached, responses),
        Err(_) => PointRecord::masked(MaskReason::FlowFailed, responses),
    }
}

/// E^∞₂₁ of the max-margin limit at `family` (docs/theory.md §11.3); `responses` holds ẑ and
/// `boundary` min_i (K⁻¹1)_i·s₂² (< 0 where starvation survives λ → 0).
fn max_margin_point(family: &RotationFamily) -> PointRecord {
    let limit = FeatureSystem::rotation(
        family.strong_strength(),
        family.weak_strength,
        family.coupling,
    )
    .and_then(|system| crate::theory::max_margin::limit(&system));
    let Ok(limit) = limit else {
        return PointRecord::masked(MaskReason::NotConverged, [f64::NAN; 2]);
    };
    let z = &limit.solution.z_hat;
    let responses = [z[0], z[1]];
    let boundary = limit.inverse_gram_ones.min() * family.weak_strength.powi(2);
    match limit.elasticities[(1, 0)] {
        Some(e) => PointRecord::value(e, responses, boundary, f64::NAN),
        None => PointRecord::masked(MaskReason::ZeroResponse, responses),
    }
}

/// The common SD margin μ matched to the L2 steady state as `matching` says.
fn sd_common_margin(
    matching: SdMatching,
    family: &RotationFamily,
    margins: &Vector2<f64>,
    row: &mut RowState,
) -> Option<f64> {
    match matching {
        SdMatching::Lambda => {
            if let Some((lambda, mu)) = row.sd_margin {
                if lambda == family.lambda {
                    return Some(mu);
                }
            }
            let (mu, _) = sd_margin(family.lambda).ok()?;
            row.sd_margin = Some((family.lambda, mu));
            Some(mu)
        }
        SdMatching::FinalLoss => {
            let loss: f64 = margins.iter().map(|&m| Loss::Logistic.value(m)).sum();
            // ℓ(μ) = loss/2 ⇔ e^{−μ} = e^{loss/2} − 1.
            let mu = -(0.5 * loss).exp_m1().ln();
            mu.is_finite().then_some(mu)
        }
    }
}
