//! GD against the exact flow (docs/theory.md §3.1): GD is the explicit Euler map of the flow, so
//! the largest gap max ‖z_GD − z_flow‖∞ over a fixed learning time shrinks like η. The gaps over
//! a range of step sizes, below the stability limit of §3.6 by default.

use crate::error::Result;
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::reference::TOY_LAMBDA_L2;
use crate::sweeps::{gd_flow_gaps, GdGap, GdGapOptions};
use crate::systems::FeatureSystem;

/// Step sizes of the default range.
const DEFAULT_ETAS: usize = 9;
/// Smallest step size of the default range, unless the range must start two decades below a
/// smaller top.
const SMALLEST_ETA: f64 = 1e-3;
/// The most GD steps a default range takes at its smallest η: on a stiff system (a network's,
/// ρ ~ 10⁴) the compared learning time is shortened to this many steps of it.
pub const DEFAULT_MAX_STEPS: f64 = 1e5;

/// What to compute for a GD-against-flow figure.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowVsGdSpec {
    /// Step sizes (default: 9 values evenly spaced in log η from min(10⁻³, top/100) to
    /// top = min(0.1, a quarter of the stability limit 2/ρ_max of §3.6); with the default
    /// range the compared learning time is at most [`DEFAULT_MAX_STEPS`] of the smallest η, and
    /// the data's `spec.gap.t_end` says which was used).
    pub etas: Option<Vec<f64>>,
    /// The regulariser (default L2 with λ = 0.01).
    pub regulariser: Regulariser,
    /// The loss (default logistic).
    pub loss: Loss,
    /// Learning time compared and sampling (default τ ∈ [0, 50], 201 times).
    pub gap: GdGapOptions,
}

impl Default for FlowVsGdSpec {
    fn default() -> Self {
        Self {
            etas: None,
            regulariser: Regulariser::L2 {
                lambda: TOY_LAMBDA_L2,
            },
            loss: Loss::Logistic,
            gap: GdGapOptions::default(),
        }
    }
}

/// The measured gaps.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowVsGdData {
    /// What was computed.
    pub spec: FlowVsGdSpec,
    /// One gap per step size, in the order of the step sizes.
    pub gaps: Vec<GdGap>,
}

impl FlowVsGdData {
    /// Measure the gap of `system` at each step size ([`gd_flow_gaps`]).
    pub fn compute(system: &FeatureSystem, spec: &FlowVsGdSpec) -> Result<Self> {
        let dynamics = PrimalDynamics::new(system, spec.loss, spec.regulariser)?;
        let mut spec = spec.clone();
        let etas = match &spec.etas {
            Some(e) => e.clone(),
            None => {
                let top = (0.5 / dynamics.curvature_bound()).min(0.1);
                let smallest = SMALLEST_ETA.min(top / 100.0);
                spec.gap.t_end = spec.gap.t_end.min(DEFAULT_MAX_STEPS * smallest);
                let last = (DEFAULT_ETAS - 1) as f64;
                (0..DEFAULT_ETAS)
                    .map(|k| smallest * (top / smallest).powf(k as f64 / last))
                    .collect()
            }
        };
        let gaps = gd_flow_gaps(&dynamics, &etas, &spec.gap)?;
        Ok(Self { spec, gaps })
    }
}
