//! Phase diagrams of any system (docs/theory.md §7.4, the measures of §7.2 beyond the rotation
//! family): a starvation measure of response j against feature i, over a grid of two parameters
//! of a user's system (s, U) — two strengths s_a, s_b, or a strength and λ — with U held fixed.
//!
//! The measures are those of the rotation family with (2, 1) replaced by the pair (j, i):
//!
//! ```text
//! E_ji = ∂log|z_j*|/∂log s_i²                          (L2 sensitivity, docs/theory.md §5.3)
//! ρ    = z_j*(s) / z_j*(s with s_i := s_j)              (the starving feature made no stronger)
//! SD   = z_j*(SD) / z_j*(L2),  z*(SD) = μ·Uᵀ1           (r = n; μ at the same λ, or matching
//!                                                      the final loss: n·ℓ(μ) = Σ_k ℓ(m_k*))
//! τ₉₀  = first τ with z_j(τ) at 90 % of z_j*, exact flow from z(0) = 0
//! ```
//!
//! Each grid point is one independent computation on the system with the swept values
//! substituted, by the general solvers (Newton, l2_sensitivity, learning_time), so a point
//! equals `fixed-point` on that system; rows run in parallel (rayon). For n, r ≤ 8 the steady-state
//! measures solve a row's members together in SIMD lanes ([`batched`], equal to the general
//! path to 1e-12).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use nalgebra::DVector;
use rayon::prelude::*;

use super::grid::{Axis, Parameter, Spacing, MAX_GRID_POINTS};
use super::learning_time::{learning_time, LearningTimeParams};
use super::measures::{MaskReason, Measure, PointRecord, SdMatching};
use super::progress::{Progress, Tracker};
use crate::error::{Error, InputError, Result};
use crate::model::{Loss, Regulariser};
use crate::output::table::sci_texts;
use crate::output::{Cell, Table};
use crate::solvers::steady::{sd_margin, steady_state, SteadyState};
use crate::systems::FeatureSystem;
use crate::theory::sensitivity::{l2_sensitivity, ZERO_RESPONSE_TOLERANCE};

/// A parameter of a user's system that a phase diagram can sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SystemParameter {
    /// The strength s_k (0-based k; `s3` on the command line is k = 2).
    Strength(usize),
    /// The L2 strength λ.
    Lambda,
}

impl SystemParameter {
    /// Label for figures ("strength s₃", "regularisation λ").
    pub fn label(self) -> String {
        match self {
            SystemParameter::Strength(k) => format!("strength s{}", subscript(k + 1)),
            SystemParameter::Lambda => "regularisation λ".to_string(),
        }
    }

    /// Column name in CSV and JSON (ASCII: `s3`, `lambda`).
    pub fn csv_name(self) -> String {
        match self {
            SystemParameter::Strength(k) => format!("s{}", k + 1),
            SystemParameter::Lambda => "lambda".to_string(),
        }
    }

    /// Name for messages.
    fn name(self) -> &'static str {
        match self {
            SystemParameter::Strength(_) => "swept strength",
            SystemParameter::Lambda => "λ",
        }
    }
}

impl fmt::Display for SystemParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.csv_name())
    }
}

impl FromStr for SystemParameter {
    type Err = String;
    /// `s1`, `s2`, … (1-based) or `lambda`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        if t == "lambda" || t == "λ" {
            return Ok(SystemParameter::Lambda);
        }
        match t.strip_prefix('s').map(str::parse::<usize>) {
            Some(Ok(k)) if k >= 1 => Ok(SystemParameter::Strength(k - 1)),
            _ => Err(format!(
                "unknown parameter '{s}' of a system (expected s1, s2, … (1-based strengths) or lambda)"
            )),
        }
    }
}

/// Digits as Unicode subscripts.
fn subscript(k: usize) -> String {
    k.to_string()
        .chars()
        .map(|c| char::from_u32(0x2080 + c.to_digit(10).unwrap_or(0)).unwrap_or(c))
        .collect()
}

/// One axis of a system's phase diagram: a parameter and its values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SystemAxis {
    /// The parameter varied.
    pub parameter: SystemParameter,
    /// First value a (> 0).
    pub start: f64,
    /// Last value b (> a, or = a with one point).
    pub end: f64,
    /// Number of points n ≥ 1.
    pub points: usize,
    /// Linear or logarithmic spacing.
    pub spacing: Spacing,
}

impl SystemAxis {
    /// The values as an [`Axis`] computes them (a + i·h, or geometric): the same points as a
    /// rotation-family axis with these numbers. The rotation parameter only carries the domain
    /// check, which is the same (> 0) for λ and for a strength.
    fn as_axis(&self) -> Axis {
        Axis {
            parameter: Parameter::Lambda,
            start: self.start,
            end: self.end,
            points: self.points,
            spacing: self.spacing,
        }
    }

    /// Check points, range and domain (values finite and > 0), and that a strength exists.
    pub fn validate(&self, rank: usize) -> Result<()> {
        let name = self.parameter.name();
        if let SystemParameter::Strength(k) = self.parameter {
            if k >= rank {
                return Err(Error::Input(InputError::InvalidParameter {
                    name: "swept strength index",
                    value: (k + 1) as f64,
                    rule: "the system has fewer features: sweep s1 … s_r, r its number of features",
                }));
            }
        }
        if self.points == 0 {
            return Err(Error::Input(InputError::TooFewPoints {
                axis: name,
                points: 0,
            }));
        }
        for v in [self.start, self.end] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::Input(InputError::InvalidParameter {
                    name,
                    value: v,
                    rule: "a swept strength or λ must be finite and > 0",
                }));
            }
        }
        let reversed = if self.points == 1 {
            self.start != self.end
        } else {
            self.start >= self.end
        };
        if reversed {
            return Err(Error::Input(InputError::EmptyRange {
                axis: name,
                start: self.start,
                end: self.end,
            }));
        }
        Ok(())
    }

    /// All values.
    pub fn values(&self) -> Vec<f64> {
        self.as_axis().values()
    }
}

/// What to compute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SystemDiagramSpec {
    /// Horizontal axis.
    pub x: SystemAxis,
    /// Vertical axis.
    pub y: SystemAxis,
    /// λ where it is not swept.
    pub lambda: f64,
    /// The measure.
    pub measure: Measure,
    /// The response j whose starvation is measured (0-based).
    pub response: usize,
    /// The feature i made stronger (0-based).
    pub feature: usize,
    /// Tuning of τ₉₀ (used by [`Measure::LearningTime`] only).
    pub learning: LearningTimeParams,
}

/// A computed phase diagram of a system.
#[derive(Clone, Debug)]
pub struct SystemDiagram {
    /// What was computed.
    pub spec: SystemDiagramSpec,
    /// The system's own strengths (the swept ones are replaced at each point).
    pub strengths: Vec<f64>,
    /// The x values (length nx).
    pub x: Vec<f64>,
    /// The y values (length ny).
    pub y: Vec<f64>,
    /// One record per grid point, row-major (index iy·nx + ix); `responses` holds
    /// (z_i*, z_j*), the L2 steady state of the feature made stronger and of the response.
    pub points: Vec<PointRecord>,
    /// How many points are masked, by reason.
    pub masked: BTreeMap<MaskReason, usize>,
    /// Wall-clock seconds of the computation.
    pub wall_s: f64,
}

impl SystemDiagram {
    /// The record at (ix, iy).
    pub fn at(&self, ix: usize, iy: usize) -> &PointRecord {
        &self.points[iy * self.x.len() + ix]
    }

    /// The measure at (ix, iy) (NaN where masked).
    pub fn value(&self, ix: usize, iy: usize) -> f64 {
        self.at(ix, iy).value
    }

    /// Total number of masked points.
    pub fn masked_total(&self) -> usize {
        self.masked.values().sum()
    }

    /// The data as a CSV table: `<x>,<y>,value,mask,zi,zj,boundary,reference,resolution`, one
    /// line per grid point (x fastest), masked values empty with the reason in `mask`.
    pub fn to_table(&self) -> Result<Table> {
        let (i, j) = (self.spec.feature + 1, self.spec.response + 1);
        let header = [
            self.spec.x.parameter.csv_name(),
            self.spec.y.parameter.csv_name(),
            "value".into(),
            "mask".into(),
            format!("z{i}"),
            format!("z{j}"),
            "boundary".into(),
            "reference".into(),
            "resolution".into(),
        ];
        let mut table = Table::new(header)?;
        let (xs, ys) = (sci_texts(&self.x), sci_texts(&self.y));
        for (iy, y) in ys.iter().enumerate() {
            for (ix, x) in xs.iter().enumerate() {
                let p = self.at(ix, iy);
                table.row(p.cells(Cell::Text(x), Cell::Text(y)))?;
            }
        }
        Ok(table)
    }
}

/// Compute the phase diagram of `system`. Everything is validated before any work: the axes
/// (distinct, strengths that exist, values > 0), the pair (i ≠ j, both features of the system),
/// λ, the grid size, and for the SD recovery a square coupling (r = n, SD's closed form).
pub fn system_diagram(
    system: &FeatureSystem,
    spec: &SystemDiagramSpec,
    progress: Progress,
) -> Result<SystemDiagram> {
    validate(system, spec)?;
    let start = Instant::now();
    let x = spec.x.values();
    let y = spec.y.values();
    let tracker = Tracker::new(progress, y.len(), spec.measure.name());
    let rows: Vec<Vec<PointRecord>> = (0..y.len())
        .into_par_iter()
        .map(|iy| {
            if batched::applies(system, spec) {
                let row = batched::row(system, spec, &x, y[iy]);
                tracker.tick();
                return row;
            }
            let row = x
                .iter()
                .map(|&xv| {
                    evaluate(
                        system,
                        spec,
                        &[(spec.x.parameter, xv), (spec.y.parameter, y[iy])],
                    )
                })
                .collect();
            tracker.tick();
            row
        })
        .collect();
    drop(tracker);
    let points: Vec<PointRecord> = rows.into_iter().flatten().collect();
    let mut masked = BTreeMap::new();
    for p in &points {
        if let Some(reason) = p.mask {
            *masked.entry(reason).or_insert(0) += 1;
        }
    }
    Ok(SystemDiagram {
        spec: *spec,
        strengths: system.strengths().iter().copied().collect(),
        x,
        y,
        points,
        masked,
        wall_s: start.elapsed().as_secs_f64(),
    })
}

fn validate(system: &FeatureSystem, spec: &SystemDiagramSpec) -> Result<()> {
    if spec.measure == Measure::MaxMargin {
        return Err(Error::Input(InputError::Unsupported(
            "the max-margin measure is drawn over the rotation family; for a system, \
             `gstarve max-margin` gives its limit elasticities"
                .into(),
        )));
    }
    let rank = system.rank();
    spec.x.validate(rank)?;
    spec.y.validate(rank)?;
    if spec.x.parameter == spec.y.parameter {
        return Err(Error::Input(InputError::DuplicateAxis {
            axis: spec.x.parameter.name(),
        }));
    }
    let points = spec.x.points as u128 * spec.y.points as u128;
    if points > MAX_GRID_POINTS {
        return Err(Error::Input(InputError::GridTooLarge {
            points,
            limit: MAX_GRID_POINTS,
        }));
    }
    for k in [spec.response, spec.feature] {
        if k >= rank {
            return Err(Error::Input(InputError::ResponseOutOfRange {
                index: k + 1,
                rank,
            }));
        }
    }
    if spec.response == spec.feature {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "pair",
            value: (spec.response + 1) as f64,
            rule: "the response j and the feature i made stronger must differ",
        }));
    }
    Regulariser::L2 {
        lambda: spec.lambda,
    }
    .validated()?;
    if spec.lambda.is_nan() || spec.lambda <= 0.0 {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "λ",
            value: spec.lambda,
            rule: "λ must be finite and > 0 for a steady state",
        }));
    }
    if let Measure::SdRecovery(_) = spec.measure {
        if rank != system.examples() {
            return Err(Error::Input(InputError::MatrixShape {
                what: "coupling U".into(),
                rows: system.examples(),
                cols: rank,
                rule: "the SD recovery uses SD's closed form z* = μ·Uᵀ1, which needs as many features as examples",
            }));
        }
    }
    Ok(())
}

/// The system with swept strengths substituted, and λ.
fn member(
    system: &FeatureSystem,
    lambda: f64,
    values: &[(SystemParameter, f64)],
) -> Result<(FeatureSystem, f64)> {
    let mut s: DVector<f64> = system.strengths().clone();
    let mut lambda = lambda;
    for &(p, v) in values {
        match p {
            SystemParameter::Strength(k) => s[k] = v,
            SystemParameter::Lambda => lambda = v,
        }
    }
    Ok((system.with_strengths_of_valid_coupling(s)?, lambda))
}

fn l2(system: &FeatureSystem, lambda: f64) -> Result<SteadyState> {
    let dynamics =
        crate::model::PrimalDynamics::new(system, Loss::Logistic, Regulariser::L2 { lambda })?;
    steady_state(&dynamics)
}

fn is_zero(value: f64, responses: &[f64]) -> bool {
    let amax = responses.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    value.abs() <= ZERO_RESPONSE_TOLERANCE * amax.max(1.0)
}

/// The measure at one point of the grid, by the general solvers.
fn evaluate(
    system: &FeatureSystem,
    spec: &SystemDiagramSpec,
    values: &[(SystemParameter, f64)],
) -> PointRecord {
    let (i, j) = (spec.feature, spec.response);
    let Ok((sys, lambda)) = member(system, spec.lambda, values) else {
        return PointRecord::masked(MaskReason::NotConverged, [f64::NAN; 2]);
    };
    let steady = match spec.measure {
        Measure::Elasticity => {
            l2_sensitivity(&sys, lambda).map(|s| (s.steady_state.clone(), Some(s)))
        }
        _ => l2(&sys, lambda).map(|s| (s, None)),
    };
    let Ok((steady, sensitivity)) = steady else {
        return PointRecord::masked(MaskReason::NotConverged, [f64::NAN; 2]);
    };
    let pair = sensitivity.map(|sens| {
        (
            sens.elasticities[(j, i)].unwrap_or(f64::NAN),
            sens.derivatives[(j, i)],
        )
    });
    let reference = || {
        let mut balanced = sys.strengths().clone();
        balanced[i] = balanced[j];
        sys.with_strengths_of_valid_coupling(balanced)
            .and_then(|b| l2(&b, lambda))
            .ok()
            .map(|r| r.responses.iter().copied().collect())
    };
    record(
        spec,
        &sys,
        lambda,
        steady.responses.as_slice(),
        steady.margins.as_slice(),
        pair,
        reference,
    )
}

/// The measure of `spec` at the member `sys` (λ) from its L2 steady state z*, m* (docs/theory.md
/// §7.4): `pair` is (E_ji, ∂z_j*/∂s_i²) for the elasticity (E_ji NaN where masked), `reference`
/// the steady state of the balanced member (s_i := s_j) for the ratio, `None` if it failed.
pub(super) fn record(
    spec: &SystemDiagramSpec,
    sys: &FeatureSystem,
    lambda: f64,
    z: &[f64],
    margins: &[f64],
    pair: Option<(f64, f64)>,
    reference: impl FnOnce() -> Option<Vec<f64>>,
) -> PointRecord {
    let (i, j) = (spec.feature, spec.response);
    let responses = [z[i], z[j]];
    let zj_zero = is_zero(z[j], z);
    match spec.measure {
        Measure::Elasticity => {
            // Computed by the caller for the elasticity; masked rather than trusted if absent.
            let Some((e, derivative)) = pair else {
                return PointRecord::masked(MaskReason::NotConverged, responses);
            };
            if e.is_finite() {
                let s2 = sys.strengths()[i].powi(2);
                PointRecord::value(e, responses, s2 * derivative * z[j], f64::NAN)
            } else {
                PointRecord::masked(MaskReason::ZeroResponse, responses)
            }
        }
        Measure::StarvationRatio => {
            let Some(reference) = reference() else {
                return PointRecord::masked(MaskReason::NotConverged, responses);
            };
            let zref = reference[j];
            if is_zero(zref, &reference) {
                return PointRecord::masked(MaskReason::ZeroReference, responses);
            }
            PointRecord::value(z[j] / zref, responses, (z[j] - zref) * zref, zref)
        }
        Measure::SdRecovery(matching) => {
            if zj_zero {
                return PointRecord::masked(MaskReason::ZeroReference, responses);
            }
            let mu = match matching {
                SdMatching::Lambda => sd_margin(lambda).ok().map(|(mu, _)| mu),
                SdMatching::FinalLoss => {
                    // n·ℓ(μ) = Σ_k ℓ(m_k*) ⇔ e^{−μ} = e^{L/n} − 1.
                    let loss: f64 = margins.iter().map(|&m| Loss::Logistic.value(m)).sum();
                    let mu = -(loss / sys.examples() as f64).exp_m1().ln();
                    mu.is_finite().then_some(mu)
                }
            };
            let Some(mu) = mu else {
                return PointRecord::masked(MaskReason::NotConverged, responses);
            };
            let zj_sd = mu * sys.coupling().column(j).sum();
            PointRecord::value(zj_sd / z[j], responses, (zj_sd - z[j]) * z[j], zj_sd)
        }
        // Refused by `validate`.
        Measure::MaxMargin => PointRecord::masked(MaskReason::NotConverged, responses),
        Measure::LearningTime => {
            if zj_zero {
                return PointRecord::masked(MaskReason::ZeroResponse, responses);
            }
            match learning_time(sys, lambda, j, z[j], &spec.learning) {
                Ok(Some(t)) => PointRecord {
                    resolution: t.resolution,
                    ..PointRecord::value(t.tau, responses, f64::NAN, f64::NAN)
                },
                Ok(None) => PointRecord::masked(MaskReason::NotReached, responses),
                Err(_) => PointRecord::masked(MaskReason::FlowFailed, responses),
            }
        }
    }
}

mod batched;

#[cfg(test)]
mod tests;
