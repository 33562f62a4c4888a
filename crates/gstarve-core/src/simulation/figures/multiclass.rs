//! The figures' data for multi-class softmax systems (docs/theory.md §9): the same
//! [`PhasePlaneData`] and [`ResponsesData`] the binary figures draw, computed with the softmax
//! dynamics F(z) = S²(Uᵀvec(Y − P(Uz)) − λ_SD z) − λ_L2 z of §9.2 — its flow (the automatic
//! method with the analytic Jacobian), its GD map and its Newton steady state (§9.3).
//!
//! What has no softmax counterpart is refused as input: the dual path (§9.6: none is
//! implemented for softmax), the decoupled system (U = I needs as many outputs as features) and
//! the squared loss (the loss of a multi-class system is the softmax cross-entropy).

use nalgebra::DVector;

use super::phase_plane::{
    direction_field, project, rate_grid, PlanePath, PlaneRun, PlaneSteadyState, SteadyKind,
    FIELD_SHAPE, NULLCLINE_GRID, PATH_POINTS,
};
use super::responses::{DEFAULT_RESPONSES, LINEAR_POINTS, MAX_GD_POINTS};
use super::{padded_extent, PhasePlaneData, PhasePlaneSpec, ResponsesData, ResponsesSpec};
use crate::error::{Error, InputError, Result};
use crate::model::{Loss, Regulariser, SoftmaxDynamics};
use crate::ode::{FlowMethod, FlowOptions, OdeSolution, OutputGrid};
use crate::simulation::paths::{self, drawing_tolerances, POINTS_PER_WINDOW};
use crate::solvers::gd::GdOptions;
use crate::solvers::softmax_flow::{softmax_flow, softmax_gradient_descent};
use crate::solvers::steady::NewtonParams;
use crate::solvers::steady_softmax::softmax_steady_state;
use crate::systems::MulticlassSystem;

fn softmax_only(loss: Loss) -> Result<()> {
    if loss != Loss::Logistic {
        return Err(Error::Input(InputError::Unsupported(
            "the squared loss is not available for a multi-class system: its loss is the softmax \
             cross-entropy (docs/theory.md §9.2)"
                .into(),
        )));
    }
    Ok(())
}

/// The softmax flow from z = 0 to τ_end, on an even grid of `points` or (`geometric`: the first
/// window's length) on geometric windows, at the drawing tolerances of the binary paths.
fn flow(
    dynamics: &SoftmaxDynamics,
    t_end: f64,
    points: usize,
    geometric: Option<f64>,
) -> Result<OdeSolution> {
    let grid = match geometric {
        None => OutputGrid::uniform(t_end, points)?,
        Some(first) => OutputGrid::windows(first, t_end, POINTS_PER_WINDOW)?,
    };
    let options = FlowOptions::from_parts(grid, drawing_tolerances(), FlowMethod::Auto);
    softmax_flow(dynamics, &DVector::zeros(dynamics.dim()), &options)
}

/// Softmax GD from z = 0 with step η for round(τ_end/η) steps, recording up to `points` states.
fn gd(dynamics: &SoftmaxDynamics, eta: f64, t_end: f64, points: usize) -> Result<OdeSolution> {
    let steps = paths::gd_steps(eta, t_end)?;
    let options = GdOptions::new(eta, steps, points.min(steps.saturating_add(1)), false)?;
    softmax_gradient_descent(dynamics, &DVector::zeros(dynamics.dim()), &options)
}

/// The steady state z* of `dynamics`, `None` without a regulariser (no steady state, §9.3).
fn steady(dynamics: &SoftmaxDynamics) -> Result<Option<DVector<f64>>> {
    match softmax_steady_state(dynamics, &NewtonParams::default()) {
        Ok(s) => Ok(Some(s.responses)),
        Err(Error::Input(InputError::NoSteadyState)) => Ok(None),
        Err(e) => Err(e),
    }
}

impl PhasePlaneData {
    /// The phase plane of a multi-class softmax system (see the module documentation): the
    /// chosen runs (flow, GD, SD flow) from z = 0, the steady states, and for two features the
    /// softmax rates in the window (direction field, nullclines). Refused (exit 2): the dual and
    /// decoupled curves, the squared loss.
    pub fn compute_multiclass(system: &MulticlassSystem, spec: &PhasePlaneSpec) -> Result<Self> {
        softmax_only(spec.loss)?;
        if spec.curves.dual || spec.curves.decoupled {
            return Err(Error::Input(InputError::Unsupported(
                "the dual path and the decoupled system are not available for a multi-class \
                 softmax system (docs/theory.md §9.6): draw flow, gd and sd"
                    .into(),
            )));
        }
        // The checks of the binary spec (responses, field and nullclines need two features);
        // the dual's check is not reached (no dual curve).
        spec.validate(system.rank())?;
        let main = SoftmaxDynamics::new(system, spec.main_regulariser())?;
        let sd = SoftmaxDynamics::new(
            system,
            Regulariser::SpectralDecoupling {
                lambda: spec.sd_lambda,
            },
        )?;
        let ab = spec.responses;
        let mut runs: Vec<PlanePath> = Vec::new();
        if spec.curves.flow {
            let sol = flow(&main, spec.t_end, PATH_POINTS, None)?;
            runs.push(project(sol, PlaneRun::Flow, ab));
        }
        if spec.curves.gd {
            let sol = gd(&main, spec.eta, spec.t_end, PATH_POINTS)?;
            runs.push(project(sol, PlaneRun::Gd, ab));
        }
        if spec.curves.sd {
            let sol = flow(&sd, spec.t_end, PATH_POINTS, None)?;
            runs.push(project(sol, PlaneRun::Sd, ab));
        }
        let mut steady_states = Vec::new();
        if let Some(z) = steady(&main)? {
            steady_states.push(PlaneSteadyState {
                kind: SteadyKind::L2,
                at: (z[ab.0], z[ab.1]),
            });
        }
        if spec.curves.sd {
            if let Some(z) = steady(&sd)? {
                steady_states.push(PlaneSteadyState {
                    kind: SteadyKind::Sd,
                    at: (z[ab.0], z[ab.1]),
                });
            }
        }
        let window = spec.window.unwrap_or_else(|| {
            let points = runs
                .iter()
                .flat_map(|p| p.points.iter().copied())
                .chain(steady_states.iter().map(|s| s.at))
                .chain(std::iter::once((0.0, 0.0)));
            padded_extent(points)
        });
        // Two features whenever the field or the nullclines are asked for (validated above).
        let rate = |x: f64, y: f64| {
            let mut z = DVector::zeros(system.rank());
            z[ab.0] = x;
            z[ab.1] = y;
            let v = main.rhs(&z);
            (v[ab.0], v[ab.1])
        };
        let field = spec
            .vector_field
            .then(|| direction_field(window, FIELD_SHAPE, rate));
        let nullclines = spec
            .nullclines
            .then(|| rate_grid(window, NULLCLINE_GRID, rate));
        Ok(Self {
            spec: *spec,
            strengths: system.system().strengths().iter().copied().collect(),
            coupling: None,
            classes: Some(system.classes()),
            paths: runs,
            steady: steady_states,
            window,
            field,
            nullclines,
        })
    }
}

impl ResponsesData {
    /// z_j(τ) of a multi-class softmax system: its flow and GD from z = 0 and its steady state
    /// (when the regulariser has one), on the grids of the binary figure.
    pub fn compute_multiclass(system: &MulticlassSystem, spec: &ResponsesSpec) -> Result<Self> {
        softmax_only(spec.loss)?;
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
        let dynamics = SoftmaxDynamics::new(system, spec.regulariser)?;
        paths::gd_steps(spec.eta, spec.t_end)?;
        let first_time = if spec.gd { spec.eta } else { spec.t_end * 1e-4 };
        let flow_run = spec
            .flow
            .then(|| {
                let geometric = spec.log_time.then_some(first_time / 10.0);
                flow(&dynamics, spec.t_end, LINEAR_POINTS, geometric)
            })
            .transpose()?;
        let gd_points = if spec.log_time {
            MAX_GD_POINTS
        } else {
            LINEAR_POINTS
        };
        let gd_run = spec
            .gd
            .then(|| gd(&dynamics, spec.eta, spec.t_end, gd_points))
            .transpose()?;
        let z_star = steady(&dynamics)?.map(|z| z.iter().copied().collect());
        Ok(Self {
            spec: spec.clone(),
            strengths: system.system().strengths().iter().copied().collect(),
            coupling: None,
            classes: Some(system.classes()),
            chosen,
            first_time,
            flow: flow_run,
            gd: gd_run,
            z_star,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulation::figures::PhasePlaneCurves;
    use crate::systems::multiclass::random_multiclass;
    use crate::systems::FeatureSystem;

    /// The image of the paper's toy (docs/theory.md §9.4): its softmax phase plane ends at the
    /// binary steady state divided by √2 (§6.2, l = 4: z* = (7.812049, 1.466814)), and the
    /// softmax rates vanish there.
    #[test]
    fn the_binary_image_has_the_toy_steady_state_over_root_two() {
        let toy = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
        let image = MulticlassSystem::binary_image(&toy, None).unwrap();
        let spec = PhasePlaneSpec {
            t_end: 20.0,
            curves: PhasePlaneCurves {
                dual: false,
                ..Default::default()
            },
            ..Default::default()
        };
        let data = PhasePlaneData::compute_multiclass(&image, &spec).unwrap();
        let names: Vec<&str> = data.paths.iter().map(|p| p.run.name()).collect();
        assert_eq!(names, ["flow", "gd", "sd"]);
        let z = data.steady[0].at;
        let root2 = std::f64::consts::SQRT_2;
        assert!((z.0 * root2 - 7.812049).abs() < 1e-6, "{z:?}");
        assert!((z.1 * root2 - 1.466814).abs() < 1e-6, "{z:?}");
        let grid = data.nullclines.unwrap();
        assert_eq!(grid.rates[0].len(), NULLCLINE_GRID.0 * NULLCLINE_GRID.1);
        assert_eq!(data.classes, Some(2));
        // The dual is refused.
        let dual = PhasePlaneSpec {
            t_end: 20.0,
            ..Default::default()
        };
        assert!(matches!(
            PhasePlaneData::compute_multiclass(&image, &dual),
            Err(Error::Input(InputError::Unsupported(_)))
        ));
    }

    /// Responses of a 3-class system: the flow's last state approaches the Newton steady state
    /// (λ = 0.5 gives a decay time 1/λ = 2 well inside τ_end = 60), and GD with a small step stays
    /// within O(η) of the flow.
    #[test]
    fn responses_approach_the_softmax_steady_state() {
        let sys = random_multiclass(6, 3, 5, 4);
        let spec = ResponsesSpec {
            regulariser: Regulariser::L2 { lambda: 0.5 },
            eta: 0.01,
            t_end: 60.0,
            ..Default::default()
        };
        let data = ResponsesData::compute_multiclass(&sys, &spec).unwrap();
        let z_star = data.z_star.clone().unwrap();
        let flow = data.flow.as_ref().unwrap();
        let last = flow.states.last().unwrap();
        let gap = (0..5)
            .map(|j| (last[j] - z_star[j]).abs())
            .fold(0.0, crate::model::nan_max);
        assert!(gap < 1e-8, "flow end − z*: {gap:e}");
        let gd = data.gd.as_ref().unwrap();
        let gd_last = gd.states.last().unwrap();
        let gd_gap = (0..5)
            .map(|j| (gd_last[j] - last[j]).abs())
            .fold(0.0, crate::model::nan_max);
        assert!(gd_gap < 1e-6, "GD end − flow end: {gd_gap:e}");
        assert_eq!(data.chosen, vec![0, 1, 2, 3, 4]);
        let bad = ResponsesSpec {
            responses: Some(vec![5]),
            ..spec
        };
        assert!(matches!(
            ResponsesData::compute_multiclass(&sys, &bad),
            Err(Error::Input(InputError::ResponseOutOfRange {
                index: 6,
                rank: 5
            }))
        ));
    }
}
