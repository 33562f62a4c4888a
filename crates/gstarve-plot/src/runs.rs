//! The runs a figure overlays — exact flow, GD, dual path, SD, decoupled system — computed
//! with the library's solvers, on output grids suited to drawing: the flow and the dual on
//! geometric time windows when early times matter (the dual path is traversed almost entirely
//! before τ ≈ 10⁻³ of its own time).

use nalgebra::DVector;

use gstarve_core::error::Result;
use gstarve_core::model::{DualDynamics, Loss, PrimalDynamics, Regulariser};
use gstarve_core::solvers::flow::primal_flow;
use gstarve_core::solvers::gd::{gradient_descent, GdOptions};
use gstarve_core::solvers::{integrate, FlowMethod, FlowOptions, OdeSolution, Trajectory};
use gstarve_core::systems::FeatureSystem;

/// Output points per window of the geometric-time integrations.
const POINTS_PER_WINDOW: usize = 121;

/// Integrate an autonomous problem over [0, t_first] and then decade by decade up to t_end,
/// each window on its own evenly spaced grid, restarting from the previous window's end.
fn geometric_windows(
    y0: &DVector<f64>,
    t_first: f64,
    t_end: f64,
    mut window: impl FnMut(&DVector<f64>, f64, usize) -> Result<OdeSolution>,
) -> Result<OdeSolution> {
    let mut edges = vec![0.0, t_first.min(t_end)];
    while *edges.last().unwrap_or(&t_end) < t_end {
        let next = (edges[edges.len() - 1] * 10.0).min(t_end);
        edges.push(next);
    }
    let mut out: Option<OdeSolution> = None;
    let mut y = y0.clone();
    for w in edges.windows(2) {
        let sol = window(&y, w[1] - w[0], POINTS_PER_WINDOW)?;
        y = sol.states.last().map_or(y, DVector::from_column_slice);
        match &mut out {
            None => {
                out = Some(OdeSolution {
                    tau: sol.tau.iter().map(|t| t + w[0]).collect(),
                    ..sol
                });
            }
            Some(acc) => {
                acc.tau.extend(sol.tau.iter().skip(1).map(|t| t + w[0]));
                acc.states.extend_from(&sol.states, 1);
                acc.stats.rhs_evals += sol.stats.rhs_evals;
                acc.stats.steps_accepted += sol.stats.steps_accepted;
            }
        }
    }
    Ok(out.unwrap_or(OdeSolution {
        tau: vec![0.0],
        states: Trajectory::from_states(y0.len(), [y0.as_slice()]),
        stats: Default::default(),
    }))
}

/// Tolerances of the drawn flows (plot accuracy with a wide margin).
fn flow_options(t_end: f64, points: usize, method: FlowMethod) -> FlowOptions {
    FlowOptions {
        t_end,
        points,
        rtol: 1e-9,
        atol: 1e-11,
        method,
    }
}

/// The exact flow from z = 0: on an even grid of `points`, or on geometric windows from
/// `t_first` when `geometric` (for logarithmic time axes).
pub(crate) fn flow(
    dynamics: &PrimalDynamics,
    t_end: f64,
    points: usize,
    geometric: Option<f64>,
) -> Result<OdeSolution> {
    let z0 = DVector::zeros(dynamics.dim());
    match geometric {
        None => primal_flow(
            dynamics,
            &z0,
            &flow_options(t_end, points, FlowMethod::Auto),
        ),
        Some(t_first) => geometric_windows(&z0, t_first, t_end, |y, t, n| {
            primal_flow(dynamics, y, &flow_options(t, n, FlowMethod::Auto))
        }),
    }
}

/// GD from z = 0 with step η for ⌈t_end/η⌉ steps, recording up to `points` states (every step
/// when there are fewer).
pub(crate) fn gd(
    dynamics: &PrimalDynamics,
    eta: f64,
    t_end: f64,
    points: usize,
) -> Result<OdeSolution> {
    let steps = (t_end / eta).round().max(1.0) as usize;
    let options = GdOptions {
        eta,
        steps,
        points: points.min(steps + 1),
        allow_unstable: false,
    };
    gradient_descent(dynamics, &DVector::zeros(dynamics.dim()), &options)
}

/// The dual (Legendre) path of the L2 dynamics, mapped to z (docs/theory.md §3): the dual flow from
/// α = 10⁻⁸·1 (the authors' start) integrated with BDF on geometric windows from 10⁻⁸ to
/// `t_end` of its own time.
pub(crate) fn dual_path(dynamics: &PrimalDynamics, t_end: f64) -> Result<OdeSolution> {
    let dual = DualDynamics::new(dynamics)?;
    let n = dynamics.system().examples();
    let a0 = DVector::from_element(n, DualDynamics::DEFAULT_START);
    let mut sol = geometric_windows(&a0, 1e-8, t_end, |y, t, k| {
        integrate(&dual, y, &flow_options(t, k, FlowMethod::Bdf))
    })?;
    dual.map_to_responses(&mut sol);
    Ok(sol)
}

/// The logistic-loss dynamics of `system` under `regulariser`.
pub(crate) fn logistic<'a>(
    system: &'a FeatureSystem,
    regulariser: Regulariser,
) -> Result<PrimalDynamics<'a>> {
    PrimalDynamics::new(system, Loss::Logistic, regulariser)
}
