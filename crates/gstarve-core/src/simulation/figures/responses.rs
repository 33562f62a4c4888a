//! Responses over learning time, z_j(τ): the exact flow and GD from z = 0 (docs/theory.md §3.1)
//! under one regulariser, and the steady state they approach (§4.1–§4.3) when there is one. For a
//! logarithmic time axis the flow is recorded on geometric windows from a tenth of the first
//! drawn time, and GD at every step up to [`MAX_GD_POINTS`].

use crate::error::{Error, InputError, Result};
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::ode::OdeSolution;
use crate::reference::{TOY_ETA, TOY_LAMBDA_L2, TOY_STEPS};
use crate::simulation::paths;
use crate::solvers::steady::steady_state;
use crate::systems::FeatureSystem;

/// Most GD states recorded on a logarithmic time axis (all steps below this).
pub const MAX_GD_POINTS: usize = 100_001;
/// Responses drawn when none are chosen: the first this many.
pub const DEFAULT_RESPONSES: usize = 12;
/// Output points of the flow and of GD on a linear time axis.
pub(super) const LINEAR_POINTS: usize = 2001;

/// What to compute for a responses figure.
#[derive(Clone, Debug, PartialEq)]
pub struct ResponsesSpec {
    /// The responses to draw, 0-based (default: the first [`DEFAULT_RESPONSES`]).
    pub responses: Option<Vec<usize>>,
    /// The regulariser (default L2 with λ = 0.01).
    pub regulariser: Regulariser,
    /// The loss (default logistic).
    pub loss: Loss,
    /// Run the exact flow (default true).
    pub flow: bool,
    /// Run GD (default true).
    pub gd: bool,
    /// GD step size η (default 0.05).
    pub eta: f64,
    /// Final learning time (default 250 = 5000 steps of 0.05).
    pub t_end: f64,
    /// Record for a logarithmic time axis, from τ = η (default false).
    pub log_time: bool,
}

impl Default for ResponsesSpec {
    fn default() -> Self {
        Self {
            responses: None,
            regulariser: Regulariser::L2 {
                lambda: TOY_LAMBDA_L2,
            },
            loss: Loss::Logistic,
            flow: true,
            gd: true,
            eta: TOY_ETA,
            t_end: TOY_ETA * TOY_STEPS as f64,
            log_time: false,
        }
    }
}

/// Computed responses over learning time.
#[derive(Clone, Debug)]
pub struct ResponsesData {
    /// What was computed.
    pub spec: ResponsesSpec,
    /// The system's strengths s₁ … s_r (r = the number of responses recorded).
    pub strengths: Vec<f64>,
    /// The coupling δ when the system is a member of the rotation family
    /// ([`FeatureSystem::rotation_coupling`]).
    pub coupling: Option<f64>,
    /// The number of classes c of a multi-class softmax system (docs/theory.md §9), `None` for
    /// a binary one.
    pub classes: Option<usize>,
    /// The responses to draw, 0-based.
    pub chosen: Vec<usize>,
    /// The first time of a logarithmic axis: η when GD is run, else τ_end·10⁻⁴.
    pub first_time: f64,
    /// The exact flow (when asked for).
    pub flow: Option<OdeSolution>,
    /// GD (when asked for).
    pub gd: Option<OdeSolution>,
    /// The steady state z*, or `None` when the regulariser has none (no regulariser).
    pub z_star: Option<Vec<f64>>,
}

impl ResponsesData {
    /// Check the chosen responses against `system`, then run the flow and GD from z = 0 and find
    /// the steady state.
    pub fn compute(system: &FeatureSystem, spec: &ResponsesSpec) -> Result<Self> {
        let r = system.rank();
        let chosen: Vec<usize> = match &spec.responses {
            Some(list) => list.clone(),
            None => (0..r.min(DEFAULT_RESPONSES)).collect(),
        };
        if let Some(&bad) = chosen.iter().find(|&&j| j >= r) {
            return Err(Error::Input(InputError::ResponseOutOfRange {
                index: bad + 1,
                rank: r,
            }));
        }
        let dynamics = PrimalDynamics::new(system, spec.loss, spec.regulariser)?;
        // The step size and the end time first: the output grids are built from them.
        paths::gd_steps(spec.eta, spec.t_end)?;
        let first_time = if spec.gd { spec.eta } else { spec.t_end * 1e-4 };
        let flow = spec
            .flow
            .then(|| {
                let geometric = spec.log_time.then_some(first_time / 10.0);
                paths::flow(&dynamics, spec.t_end, LINEAR_POINTS, geometric)
            })
            .transpose()?;
        let gd_points = if spec.log_time {
            MAX_GD_POINTS
        } else {
            LINEAR_POINTS
        };
        let gd = spec
            .gd
            .then(|| paths::gd(&dynamics, spec.eta, spec.t_end, gd_points))
            .transpose()?;
        let z_star = match steady_state(&dynamics) {
            Ok(s) => Some(s.responses.iter().copied().collect()),
            Err(Error::Input(InputError::NoSteadyState)) => None,
            Err(e) => return Err(e),
        };
        Ok(Self {
            spec: spec.clone(),
            strengths: system.strengths().iter().copied().collect(),
            coupling: system.rotation_coupling(),
            classes: None,
            chosen,
            first_time,
            flow,
            gd,
            z_star,
        })
    }

    /// The number of responses r of the system.
    pub fn rank(&self) -> usize {
        self.strengths.len()
    }
}
