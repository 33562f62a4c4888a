//! The ODE layer: problems, validated options, solutions with their statistics, and the
//! [`Integrator`] trait with one shared driver. It knows no method: the methods and the
//! automatic choice between them live in [`crate::solvers`] ([`crate::solvers::auto`]).
//!
//! - [`OdeProblem`]: an autonomous ODE dy/dτ = f(y) with its Jacobian (the model's flows
//!   implement it: [`crate::model`]).
//! - [`FlowOptions`]: an [`OutputGrid`] (uniform, or geometric windows for logarithmic time
//!   axes), [`Tolerances`] and a [`FlowMethod`], each validated in its constructor.
//! - [`Integrator`] and [`solve`]: a method only steps and fills an [`Output`]; the driver
//!   checks the initial state, runs the windows, projects and checks the states, keeps the time
//!   and turns a [`StepFailure`] into an error.
//! - [`OdeSolution`], [`Trajectory`], [`SolverStats`]: what comes back.

mod driver;
mod options;
mod problem;
mod solution;

pub use driver::{solve, Integrator, Output, StepFailure};
pub use options::{
    uniform_times, FlowMethod, FlowOptions, OutputGrid, Tolerances, Window, DEFAULT_MAX_STEPS,
    MAX_OUTPUT_POINTS, RTOL_FLOOR,
};
pub use problem::{OdeProblem, Withheld};
pub use solution::{NewtonStats, OdeSolution, SolverStats, Trajectory};
