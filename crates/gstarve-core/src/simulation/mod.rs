//! One simulation of a system: the steady state and any of GD, θ-space GD, the flow and the dual,
//! run on the same system with the same loss and regulariser, as one serialisable report (the
//! `gstarve simulate` JSON contract).
//!
//! - [`paths`]: the runs a figure overlays, on output grids suited to drawing;
//! - [`figures`](mod@figures): the computed data of each figure (phase plane, responses, toy,
//!   GD against the flow, gallery).

pub mod figures;
mod many;
mod multiclass;
pub mod paths;

pub use many::{simulate_many, trajectories_table_many};
pub use multiclass::simulate_multiclass;

use std::path::Path;
use std::str::FromStr;

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use crate::error::{Error, InputError, Result};
use crate::model::{DualDynamics, Loss, PrimalDynamics, Regulariser};
use crate::ode::{FlowMethod, FlowOptions, OdeSolution, SolverStats};
use crate::output::{Cell, Table};
use crate::solvers::flow::primal_flow;
use crate::solvers::gd::{gradient_descent, gradient_descent_parameters, GdOptions};
use crate::solvers::integrate;
use crate::solvers::steady::{steady_state, SteadyState};
use crate::systems::FeatureSystem;

/// A way of evolving the responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Gradient descent on z (docs/theory.md §3.1).
    Gd,
    /// Gradient descent on θ, projected to z (needs features).
    GdTheta,
    /// The exact gradient flow.
    Flow,
    /// The dual (Legendre) flow, mapped to z.
    Dual,
}

impl Method {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Method::Gd => "gd",
            Method::GdTheta => "gd-theta",
            Method::Flow => "flow",
            Method::Dual => "dual",
        }
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "gd" => Ok(Method::Gd),
            "gd-theta" => Ok(Method::GdTheta),
            "flow" => Ok(Method::Flow),
            "dual" => Ok(Method::Dual),
            other => Err(format!(
                "unknown method '{other}' (expected gd, gd-theta, flow or dual)"
            )),
        }
    }
}

/// The raw features and labels a system came from (for θ-space GD).
#[derive(Clone, Debug)]
pub struct RawFeatures {
    /// Φ (n × p).
    pub phi: DMatrix<f64>,
    /// Labels (±1 or 0/1).
    pub labels: Vec<f64>,
}

/// Everything a simulation needs besides the system.
#[derive(Clone, Debug)]
pub struct SimulationConfig {
    /// Loss.
    pub loss: Loss,
    /// Regulariser.
    pub regulariser: Regulariser,
    /// Methods to run, in order.
    pub methods: Vec<Method>,
    /// GD step size, steps and recorded points.
    pub gd: GdOptions,
    /// Flow/dual end time, grid and tolerances.
    pub flow: FlowOptions,
    /// Initial responses z₀ (default 0).
    pub initial: Option<DVector<f64>>,
    /// Initial dual variables α₀ (default 1e−8·1, as the authors).
    pub dual_start: f64,
    /// Compute the steady state for the report (a dense Newton solve: O(n³) per iteration).
    pub fixed_point: bool,
}

/// One method's trajectory.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    /// `gd`, `gd-theta`, `flow` or `dual`.
    pub method: &'static str,
    /// GD step index k of each output (GD), or the output-grid index (flow, dual).
    pub step: Vec<usize>,
    /// Output times (learning time τ = ηk for GD; the dual's own time for the dual).
    pub tau: Vec<f64>,
    /// Responses, one row per output time.
    pub z: Vec<Vec<f64>>,
    /// Responses at the last step / at τ_end.
    pub z_final: Vec<f64>,
    /// Work done.
    pub stats: SolverStats,
    /// What `tau` measures, where it is not learning time (the dual: [`DUAL_TIME_NOTE`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_note: Option<&'static str>,
}

/// The dual run's time axis (docs/theory.md §3.5): its `tau` is the dual flow's own time τ',
/// not learning time. Printed with every report that has a dual run.
pub const DUAL_TIME_NOTE: &str = "the dual's tau is the dual flow's own time τ' \
    (docs/theory.md §3.5), not learning time: compare the dual with the flow and GD as paths in z, \
    which end at the same steady state, not time by time";

/// The steady state in the report.
#[derive(Clone, Debug, Serialize)]
pub struct FixedPointReport {
    /// z*.
    pub z: Vec<f64>,
    /// m* = Uz*.
    pub margins: Vec<f64>,
    /// α* = σ(−m*) (logistic loss).
    pub alpha: Option<Vec<f64>>,
    /// Fixed-point residual.
    pub residual: f64,
    /// Newton iterations.
    pub iterations: usize,
}

impl From<&SteadyState> for FixedPointReport {
    fn from(s: &SteadyState) -> Self {
        Self {
            z: s.responses.iter().copied().collect(),
            margins: s.margins.iter().copied().collect(),
            alpha: s.alpha.as_ref().map(|a| a.iter().copied().collect()),
            residual: s.residual,
            iterations: s.iterations,
        }
    }
}

/// The result of [`simulate`].
#[derive(Clone, Debug, Serialize)]
pub struct SimulationReport {
    /// The steady state, when one exists.
    pub fixed_point: Option<FixedPointReport>,
    /// Why there is no steady state, when there is none (when it was not asked for, the caller
    /// says so).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_point_note: Option<String>,
    /// One entry per method.
    pub runs: Vec<Run>,
}

fn to_run(method: Method, sol: OdeSolution, gd: &GdOptions) -> Run {
    let z: Vec<Vec<f64>> = sol.states.iter().map(|s| s.to_vec()).collect();
    let step = match method {
        Method::Gd | Method::GdTheta => gd.recorded_steps(),
        Method::Flow | Method::Dual => (0..z.len()).collect(),
    };
    Run {
        method: method.name(),
        step,
        z_final: z.last().cloned().unwrap_or_default(),
        tau: sol.tau,
        z,
        stats: sol.stats,
        time_note: (method == Method::Dual).then_some(DUAL_TIME_NOTE),
    }
}

/// Run the configured methods on `system` (and `raw` features for θ-space GD).
pub fn simulate(
    system: &FeatureSystem,
    raw: Option<&RawFeatures>,
    config: &SimulationConfig,
) -> Result<SimulationReport> {
    let dynamics = PrimalDynamics::new(system, config.loss, config.regulariser)?;
    let z0 = match &config.initial {
        Some(z) => z.clone(),
        None => DVector::zeros(system.rank()),
    };
    let (fixed_point, fixed_point_note) = if !config.fixed_point {
        (None, None)
    } else {
        match steady_state(&dynamics) {
            Ok(s) => (Some(FixedPointReport::from(&s)), None),
            Err(Error::Input(InputError::NoSteadyState)) => (
                None,
                Some(Error::Input(InputError::NoSteadyState).to_string()),
            ),
            Err(e) => return Err(e),
        }
    };
    let mut runs = Vec::new();
    for &method in &config.methods {
        let sol = match method {
            Method::Gd => gradient_descent(&dynamics, &z0, &config.gd)?,
            Method::GdTheta => {
                let raw = raw.ok_or_else(|| {
                    Error::Input(InputError::Unsupported(
                        "method gd-theta needs the raw features Φ and labels the system came from"
                            .into(),
                    ))
                })?;
                if config.initial.is_some() {
                    return Err(Error::Input(InputError::Unsupported(
                        "method gd-theta starts from θ = 0; drop the initial responses".into(),
                    )));
                }
                gradient_descent_parameters(
                    system,
                    &raw.phi,
                    &raw.labels,
                    config.loss,
                    config.regulariser,
                    &config.gd,
                )?
                .0
            }
            Method::Flow => primal_flow(&dynamics, &z0, &config.flow)?,
            Method::Dual => {
                let dual = DualDynamics::new(&dynamics)?;
                let beta0 = dual.start(config.dual_start)?;
                let mut options = config.flow;
                if options.method() == FlowMethod::Auto {
                    // The dual flow is stiff by nature near α → 0 and α → 1 (docs/theory.md §3.5).
                    options = options.with_method(FlowMethod::Bdf);
                }
                let mut sol = integrate(&dual, beta0.as_slice(), &options)?;
                dual.map_to_responses(&mut sol);
                sol
            }
        };
        runs.push(to_run(method, sol, &config.gd));
    }
    Ok(SimulationReport {
        fixed_point,
        fixed_point_note,
        runs,
    })
}

/// The trajectories as a table (`method,step,tau,z1..zn`): `step` is the GD step index k for GD
/// runs and the output-grid index for the flow and the dual.
pub fn trajectories_table(report: &SimulationReport) -> Result<Table> {
    let n = report.runs.first().map_or(0, |r| r.z_final.len());
    let header = ["method", "step", "tau"]
        .map(String::from)
        .into_iter()
        .chain((1..=n).map(|j| format!("z{j}")));
    let mut table = Table::new(header)?;
    for run in &report.runs {
        for ((&step, &tau), z) in run.step.iter().zip(&run.tau).zip(&run.z) {
            let head = [Cell::Text(run.method), Cell::from(step), Cell::Sci(tau)];
            table.row(head.into_iter().chain(z.iter().map(|&v| Cell::Sci(v))))?;
        }
    }
    Ok(table)
}

/// Write the trajectories as CSV ([`trajectories_table`]), atomically.
pub fn write_trajectories_csv(report: &SimulationReport, path: &Path) -> Result<()> {
    trajectories_table(report)?.write(path)
}
