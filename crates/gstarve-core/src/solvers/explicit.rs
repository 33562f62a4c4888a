//! Explicit Dormand–Prince integration (ode_solvers' Dop853 and Dopri5) of an [`OdeProblem`],
//! for non-stiff runs. A stiff problem is reported as [`Error::StiffnessDetected`], never
//! returned as a result.

use std::time::Instant;

use nalgebra::DVector;
use ode_solvers::dop_shared::IntegrationError;
use ode_solvers::{Dop853, Dopri5, OutputType, System};

use super::{output_grid, validate_inputs, OdeProblem, OdeSolution, SolverStats, Trajectory};
use crate::error::{Error, Result};

/// Which explicit pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplicitMethod {
    /// Dormand–Prince 8(5,3) with 7th-order dense output.
    Dop853,
    /// Dormand–Prince 5(4) with 4th-order dense output.
    Dopri5,
}

impl ExplicitMethod {
    fn name(self) -> &'static str {
        match self {
            ExplicitMethod::Dop853 => "dop853",
            ExplicitMethod::Dopri5 => "dopri5",
        }
    }
}

/// Adapter from an [`OdeProblem`] to ode_solvers' `System`, stopping at a non-finite state.
struct Adapter<'p, P: OdeProblem + ?Sized> {
    problem: &'p P,
}

impl<P: OdeProblem + ?Sized> System<f64, DVector<f64>> for Adapter<'_, P> {
    fn system(&self, _t: f64, y: &DVector<f64>, dy: &mut DVector<f64>) {
        self.problem.rhs(y.as_slice(), dy.as_mut_slice());
    }

    fn solout(&mut self, _t: f64, y: &DVector<f64>, _dy: &DVector<f64>) -> bool {
        // Stop at the first non-finite state; the caller reports it.
        y.iter().any(|v| !v.is_finite())
    }
}

/// Maximum number of steps before an explicit run gives up.
pub const MAX_STEPS: u32 = 1_000_000;

/// Integrate `problem` from `y0` over [0, t_end], output at `points` evenly spaced times,
/// stopping with [`Error::StiffnessDetected`] when the problem turns stiff.
pub fn solve(
    problem: &(impl OdeProblem + ?Sized),
    method: ExplicitMethod,
    y0: &DVector<f64>,
    t_end: f64,
    points: usize,
    rtol: f64,
    atol: f64,
) -> Result<OdeSolution> {
    solve_with(problem, method, y0, t_end, points, rtol, atol, true)
}

/// [`solve`], with the stiffness test optional: without it a stiff problem is integrated at the
/// explicit method's stability limit (slow but right; useful where an implicit solve with dense
/// LU costs more, n ≳ 200).
#[allow(clippy::too_many_arguments)]
pub fn solve_with(
    problem: &(impl OdeProblem + ?Sized),
    method: ExplicitMethod,
    y0: &DVector<f64>,
    t_end: f64,
    points: usize,
    rtol: f64,
    atol: f64,
    detect_stiffness: bool,
) -> Result<OdeSolution> {
    validate_inputs(problem.dim(), y0, t_end, points, rtol, atol)?;
    let grid = output_grid(t_end, points);
    let n_stiff = if detect_stiffness { 1000 } else { u32::MAX };
    let dx = if points > 1 {
        t_end / (points - 1) as f64
    } else {
        t_end
    };
    // ode_solvers 0.6 extrapolates its dense output to x_end from the step *before* the last
    // (a "last point" block that fires one step early; srenevey/ode-solvers#35), which spoils the
    // final grid point. Integrating a sliver past τ_end puts τ_end strictly inside the last step,
    // where the ordinary dense-output interpolation applies; points beyond τ_end are not output.
    let x_end = t_end + (dx * 1e-3).max(1e-7);
    let adapter = Adapter { problem };
    let start = Instant::now();
    macro_rules! run {
        ($solver:ident) => {{
            let mut s = $solver::from_param(
                adapter,
                0.0,
                x_end,
                dx,
                y0.clone(),
                rtol,
                atol,
                0.9,
                0.0,
                0.333,
                6.0,
                x_end,
                0.0,
                MAX_STEPS,
                n_stiff,
                OutputType::Dense,
            );
            let outcome = s.integrate();
            let wall = start.elapsed().as_secs_f64();
            let (xs, ys) = s.results().get();
            (outcome, wall, xs.clone(), ys.clone())
        }};
    }
    let (outcome, wall, xs, ys) = match method {
        ExplicitMethod::Dop853 => run!(Dop853),
        ExplicitMethod::Dopri5 => run!(Dopri5),
    };
    let name = method.name();
    let stats = match outcome {
        Ok(stats) => stats,
        Err(IntegrationError::StiffnessDetected { x }) => {
            return Err(Error::StiffnessDetected {
                solver: name,
                tau: x,
            })
        }
        Err(IntegrationError::StepSizeUnderflow { x }) => {
            return Err(Error::IntegrationFailed {
                solver: name,
                tau: x,
                reason: "step size underflow".into(),
            })
        }
        Err(IntegrationError::MaxNumStepReached { x, n_step }) => {
            return Err(Error::IntegrationFailed {
                solver: name,
                tau: x,
                reason: format!("more than {n_step} steps needed (the problem is probably stiff)"),
            })
        }
    };
    let states = Trajectory::from_states(y0.len(), ys.iter().take(points).map(|s| s.as_slice()));
    if let Some(k) = states.iter().position(|s| s.iter().any(|v| !v.is_finite())) {
        return Err(Error::IntegrationFailed {
            solver: name,
            tau: xs.get(k).copied().unwrap_or(f64::NAN),
            reason: "the state became non-finite".into(),
        });
    }
    if states.len() != points {
        return Err(Error::IntegrationFailed {
            solver: name,
            tau: xs.last().copied().unwrap_or(0.0),
            reason: format!("dense output gave {} of {points} points", states.len()),
        });
    }
    Ok(OdeSolution {
        tau: grid,
        states,
        stats: SolverStats {
            solver: name.to_string(),
            wall_s: wall,
            rhs_evals: u64::from(stats.num_eval),
            jacobian_evals: 0,
            steps_accepted: u64::from(stats.accepted_steps),
            steps_rejected: u64::from(stats.rejected_steps),
            lu_factorisations: 0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Loss, PrimalDynamics, Regulariser};
    use crate::systems::FeatureSystem;
    use crate::theory::decoupled::unregularised_trajectory;

    /// Every grid point, the last included, matches the closed form z(τ) = log ω(c) of
    /// docs/theory.md §5 (the last point guards the dense-output workaround above).
    #[test]
    fn every_grid_point_matches_the_closed_form() {
        let sys = FeatureSystem::decoupled(&[3.0]).unwrap();
        let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::None).unwrap();
        for method in [ExplicitMethod::Dop853, ExplicitMethod::Dopri5] {
            for points in [2, 3, 11, 1001] {
                let sol =
                    solve(&d, method, &DVector::zeros(1), 100.0, points, 1e-12, 1e-14).unwrap();
                assert_eq!(sol.tau.len(), points);
                assert_eq!(*sol.tau.last().unwrap(), 100.0);
                for (t, z) in sol.tau.iter().zip(&sol.states) {
                    let exact = unregularised_trajectory(3.0, 0.0, *t).unwrap();
                    assert!(
                        (z[0] - exact).abs() < 1e-9,
                        "{method:?} {points} τ={t}: {} vs {exact}",
                        z[0]
                    );
                }
            }
        }
    }
}
