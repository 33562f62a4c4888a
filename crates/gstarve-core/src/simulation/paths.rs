//! The paths a figure overlays — exact flow, GD, dual path, SD, decoupled system — computed on
//! output grids suited to drawing: the flow and the dual on geometric time windows when early
//! times matter (the dual path is traversed almost entirely before τ ≈ 10⁻³ of its own time).

use nalgebra::DVector;

use crate::error::{Error, InputError, Result};
use crate::model::{DualDynamics, Loss, PrimalDynamics, Regulariser};
use crate::ode::{FlowMethod, FlowOptions, OdeSolution, OutputGrid, Tolerances};
use crate::solvers::flow::primal_flow;
use crate::solvers::gd::{gradient_descent, GdOptions};
use crate::solvers::integrate;
use crate::systems::FeatureSystem;

/// Output points per window of the geometric-time integrations.
pub const POINTS_PER_WINDOW: usize = 121;

/// Tolerances of the drawn flows (plot accuracy with a wide margin).
pub(crate) fn drawing_tolerances() -> Tolerances {
    Tolerances::new(1e-9, 1e-11).expect("valid tolerances")
}

/// The exact flow from z = 0 to τ_end: on an even grid of `points`, or, when `geometric` gives
/// the first window's length, on geometric windows ([`OutputGrid::windows`], for logarithmic
/// time axes).
pub fn flow(
    dynamics: &PrimalDynamics,
    t_end: f64,
    points: usize,
    geometric: Option<f64>,
) -> Result<OdeSolution> {
    let z0 = DVector::zeros(dynamics.dim());
    let grid = match geometric {
        None => OutputGrid::uniform(t_end, points)?,
        Some(first) => OutputGrid::windows(first, t_end, POINTS_PER_WINDOW)?,
    };
    let options = FlowOptions::from_parts(grid, drawing_tolerances(), FlowMethod::Auto);
    primal_flow(dynamics, &z0, &options)
}

/// Most GD steps a drawn path may take (a path of 10⁹ steps takes minutes already).
pub const MAX_GD_STEPS: f64 = 1e9;

/// The GD steps round(τ_end/η) (at least one) of a drawn path, after checking η (finite, > 0),
/// τ_end (finite, > 0) and that the count stays below [`MAX_GD_STEPS`].
pub fn gd_steps(eta: f64, t_end: f64) -> Result<usize> {
    if !(eta.is_finite() && eta > 0.0) {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "eta",
            value: eta,
            rule: "the learning rate must be finite and > 0",
        }));
    }
    if !(t_end.is_finite() && t_end > 0.0) {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "t_end",
            value: t_end,
            rule: "the final time must be finite and > 0",
        }));
    }
    let steps = (t_end / eta).round().max(1.0);
    if steps > MAX_GD_STEPS {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "GD steps τ_end/η",
            value: steps,
            rule: "a drawn GD path takes at most 10⁹ steps: give a larger η or a smaller τ_end",
        }));
    }
    Ok(steps as usize)
}

/// GD from z = 0 with step η for round(τ_end/η) steps (at least one, [`gd_steps`]), recording
/// up to `points` states (every step when there are fewer).
pub fn gd(dynamics: &PrimalDynamics, eta: f64, t_end: f64, points: usize) -> Result<OdeSolution> {
    let steps = gd_steps(eta, t_end)?;
    let options = GdOptions::new(eta, steps, points.min(steps.saturating_add(1)), false)?;
    gradient_descent(dynamics, &DVector::zeros(dynamics.dim()), &options)
}

/// The dual (Legendre) path of the L2 dynamics, mapped to z (docs/theory.md §3.5): the dual flow
/// from α = 10⁻⁸·1 (the authors' start) integrated with BDF on geometric windows from 10⁻⁸ to
/// `t_end` of its own time.
pub fn dual_path(dynamics: &PrimalDynamics, t_end: f64) -> Result<OdeSolution> {
    let dual = DualDynamics::new(dynamics)?;
    let beta0 = dual.start(DualDynamics::DEFAULT_START)?;
    let options = FlowOptions::from_parts(
        OutputGrid::windows(1e-8, t_end, POINTS_PER_WINDOW)?,
        drawing_tolerances(),
        FlowMethod::Bdf,
    );
    let mut sol = integrate(&dual, beta0.as_slice(), &options)?;
    dual.map_to_responses(&mut sol);
    Ok(sol)
}

/// The logistic-loss dynamics of `system` under `regulariser`.
pub fn logistic(system: &FeatureSystem, regulariser: Regulariser) -> Result<PrimalDynamics<'_>> {
    PrimalDynamics::new(system, Loss::Logistic, regulariser)
}
