//! Explicit Dormand–Prince integration (ode_solvers' Dop853 and Dopri5) of an [`OdeProblem`],
//! for non-stiff runs. A stiff problem is reported as [`StepFailure::Stiff`], never returned as
//! a result.

use nalgebra::DVector;
use ode_solvers::dop_shared::IntegrationError;
use ode_solvers::{Dop853, Dopri5, OutputType, System};

use crate::ode::{Integrator, OdeProblem, Output, SolverStats, StepFailure, Tolerances};

/// Which explicit pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplicitMethod {
    /// Dormand–Prince 8(5,3) with 7th-order dense output.
    Dop853,
    /// Dormand–Prince 5(4) with 4th-order dense output.
    Dopri5,
}

impl ExplicitMethod {
    /// The name in reports.
    pub fn name(self) -> &'static str {
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

/// An ode_solvers Dormand–Prince pair as an [`Integrator`], with its stiffness test on (a stiff
/// problem is then reported as [`StepFailure::Stiff`]) or off (a stiff problem is integrated
/// at the explicit method's stability limit: slow but right; useful where an implicit solve
/// with dense LU costs more, n ≳ 1000).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExplicitRk {
    method: ExplicitMethod,
    stiffness_test: bool,
}

impl ExplicitRk {
    /// The pair `method`, with or without its stiffness test.
    pub fn new(method: ExplicitMethod, stiffness_test: bool) -> Self {
        Self {
            method,
            stiffness_test,
        }
    }
}

impl Integrator for ExplicitRk {
    fn name(&self) -> &'static str {
        self.method.name()
    }

    fn run<P: OdeProblem + ?Sized>(
        &self,
        problem: &P,
        y0: &[f64],
        tolerances: &Tolerances,
        output: &mut Output<'_>,
        stats: &mut SolverStats,
    ) -> Result<(), StepFailure> {
        let (t_end, points) = (output.t_end(), output.points());
        let (rtol, atol) = (tolerances.rtol(), tolerances.atol());
        // The window may spend what earlier windows left of the budget. ode_solvers counts in
        // u32, and its dopri5 allows one attempt more than its limit (`n_step > n_max`; dop853
        // tests `>=`).
        let budget = tolerances
            .max_steps()
            .saturating_sub(stats.steps_accepted + stats.steps_rejected)
            .min(u32::MAX as u64) as u32;
        if budget == 0 {
            return Err(StepFailure::failed(0.0, "the step budget ran out"));
        }
        let n_max = |extra: u32| budget - extra;
        let n_stiff = if self.stiffness_test { 1000 } else { u32::MAX };
        let dx = t_end / (points - 1) as f64;
        // ode_solvers 0.6 extrapolates its dense output to x_end from the step *before* the
        // last (a "last point" block that fires one step early; srenevey/ode-solvers#35), which
        // spoils the final grid point. Integrating a sliver past τ_end puts τ_end strictly
        // inside the last step, where the ordinary dense-output interpolation applies; points
        // beyond τ_end are not output. (The conformance suite checks every grid point, the
        // last included, down to two-point grids.)
        let x_end = t_end + (dx * 1e-3).max(1e-7);
        let adapter = Adapter { problem };
        let y0 = DVector::from_column_slice(y0);
        macro_rules! run {
            ($solver:ident, $extra:expr) => {{
                let mut s = $solver::from_param(
                    adapter,
                    0.0,
                    x_end,
                    dx,
                    y0,
                    rtol,
                    atol,
                    0.9,
                    0.0,
                    0.333,
                    6.0,
                    x_end,
                    0.0,
                    n_max($extra),
                    n_stiff,
                    OutputType::Dense,
                );
                let outcome = s.integrate();
                let (xs, ys) = s.results().get();
                (outcome, xs.clone(), ys.clone())
            }};
        }
        let (outcome, xs, ys) = match self.method {
            ExplicitMethod::Dop853 => run!(Dop853, 0),
            ExplicitMethod::Dopri5 => run!(Dopri5, 1),
        };
        let counts = match outcome {
            Ok(counts) => counts,
            Err(IntegrationError::StiffnessDetected { x }) => {
                return Err(StepFailure::Stiff { tau: x });
            }
            Err(IntegrationError::StepSizeUnderflow { x }) => {
                return Err(StepFailure::failed(x, "step size underflow"));
            }
            Err(IntegrationError::MaxNumStepReached { x, n_step }) => {
                return Err(StepFailure::failed(
                    x,
                    format!("the step budget ran out after {n_step} steps"),
                ));
            }
        };
        stats.rhs_evals += u64::from(counts.num_eval);
        stats.steps_accepted += u64::from(counts.accepted_steps);
        stats.steps_rejected += u64::from(counts.rejected_steps);
        if let Some(k) = ys.iter().position(|s| s.iter().any(|v| !v.is_finite())) {
            return Err(StepFailure::failed(
                xs.get(k).copied().unwrap_or(f64::NAN),
                "the state became non-finite",
            ));
        }
        // The first dense-output point is y(0), already recorded.
        for y in ys.iter().skip(1).take(points - 1) {
            output.push(y.as_slice());
        }
        if !output.is_complete() {
            return Err(StepFailure::failed(
                xs.last().copied().unwrap_or(0.0),
                format!(
                    "dense output gave {} of {points} points",
                    ys.len().min(points)
                ),
            ));
        }
        Ok(())
    }
}
