//! The shared driver of every integrator: it checks the initial state, runs the method on each
//! window of the output grid, records the states, projects and checks them, times the solve and
//! turns a method's [`StepFailure`] into a typed error. A method ([`Integrator`]) only steps.

use std::time::Instant;

use super::options::{uniform_times, OutputGrid, Tolerances};
use super::problem::OdeProblem;
use super::solution::{OdeSolution, SolverStats, Trajectory};
use crate::error::{Error, InputError, NumericalError, Result};
use crate::sweeps::progress::Stage;

/// Why a method stopped before the end of its window.
#[derive(Clone, Debug, PartialEq)]
pub enum StepFailure {
    /// An explicit method's stiffness test fired at τ (Auto then switches to an implicit one).
    Stiff {
        /// Time (within the window) at which stiffness was detected.
        tau: f64,
    },
    /// The integration cannot continue at τ.
    Failed {
        /// Time (within the window) reached.
        tau: f64,
        /// Why, with the numbers.
        reason: String,
    },
    /// The method does not apply to this problem (e.g. RKC without a finite spectral bound).
    Unsupported(String),
}

impl StepFailure {
    /// [`StepFailure::Failed`] at `tau`.
    pub fn failed(tau: f64, reason: impl Into<String>) -> Self {
        StepFailure::Failed {
            tau,
            reason: reason.into(),
        }
    }
}

/// A method that integrates an autonomous [`OdeProblem`] from τ = 0 over one window.
pub trait Integrator {
    /// The name reported in [`SolverStats::solver`].
    fn name(&self) -> &'static str;

    /// Integrate from `y0` at τ = 0 to [`Output::t_end`] within `tolerances`, recording every
    /// output time through `output` (y(0) is already recorded) and counting the work in
    /// `stats` (evaluations, steps, factorisations; the driver keeps the time).
    fn run<P: OdeProblem + ?Sized>(
        &self,
        problem: &P,
        y0: &[f64],
        tolerances: &Tolerances,
        output: &mut Output<'_>,
        stats: &mut SolverStats,
    ) -> std::result::Result<(), StepFailure>;
}

/// The output times of one window and the states recorded on them.
///
/// The window's states are allocated (zero) when it starts, and each output time k is written
/// in place, in slot `base + k` of the trajectory: no allocation or copy per point (issue #17's
/// profile of the small flows).
pub struct Output<'a> {
    times: &'a [f64],
    next: usize,
    /// The trajectory index of the window's τ = 0 (already recorded).
    base: usize,
    states: &'a mut Trajectory,
    stage: &'a Stage,
}

impl<'a> Output<'a> {
    /// The window's final time.
    pub fn t_end(&self) -> f64 {
        self.times[self.times.len() - 1]
    }

    /// Output times of the window (the first is 0).
    pub fn times(&self) -> &[f64] {
        self.times
    }

    /// Number of output times of the window.
    pub fn points(&self) -> usize {
        self.times.len()
    }

    /// Whether every output time has been recorded.
    pub fn is_complete(&self) -> bool {
        self.next == self.times.len()
    }

    /// After an accepted step from `t` of size `h` to `t_new` (= [`Self::t_end`] exactly when
    /// `last`), record every output time τ_k ≤ `t_new` not yet recorded (all of them when
    /// `last`): from `y_new` where τ_k ≥ `t_new`, otherwise from the method's continuous
    /// extension `dense(τ_k, out)`.
    #[inline]
    pub fn record_step(
        &mut self,
        t_new: f64,
        last: bool,
        y_new: &[f64],
        mut dense: impl FnMut(f64, &mut [f64]),
    ) {
        let (times, slots) = self.take_due(t_new, last);
        let dim = y_new.len();
        for (&tau, slot) in times.iter().zip(slots.chunks_exact_mut(dim.max(1))) {
            if tau >= t_new {
                slot.copy_from_slice(y_new);
            } else {
                dense(tau, slot);
            }
        }
    }

    /// The output times due after a step to `t_new` (τ ≤ `t_new`, or all that remain when
    /// `last`), marked recorded, with their states' slots (flat, [`Trajectory::dim`] values each)
    /// for the method to fill: from its new state where τ ≥ `t_new`, otherwise from its
    /// continuous extension. Empty when none is due.
    #[inline]
    pub fn take_due(&mut self, t_new: f64, last: bool) -> (&[f64], &mut [f64]) {
        let from = self.next;
        let mut to = from;
        while to < self.times.len() && (last || self.times[to] <= t_new) {
            to += 1;
        }
        self.next = to;
        if to > from {
            self.stage
                .advance_through(self.base + from, self.base + to - 1);
        }
        let dim = self.states.dim();
        let slots =
            &mut self.states.as_mut_slice()[(self.base + from) * dim..(self.base + to) * dim];
        (&self.times[from..to], slots)
    }

    /// The next output time not yet recorded if it is due after a step to `t_new` (τ ≤ `t_new`,
    /// or any when `last`): for methods that record through [`Self::push`] themselves.
    #[inline]
    pub fn due(&self, t_new: f64, last: bool) -> Option<f64> {
        let tau = *self.times.get(self.next)?;
        (last || tau <= t_new).then_some(tau)
    }

    /// Record `y` at the next output time (methods that produce the grid themselves).
    pub fn push(&mut self, y: &[f64]) {
        if self.next < self.times.len() {
            self.states[self.base + self.next].copy_from_slice(y);
            self.next += 1;
            self.stage.advance(self.base + self.next - 1);
        }
    }
}

/// Integrate `problem` from `y0` with `integrator` over `grid` (see [`Integrator`]).
///
/// `y0` must have the problem's dimension and be finite; the returned states are passed
/// through [`OdeProblem::project`] and are all finite, or the solve fails with
/// [`NumericalError::IntegrationFailed`](crate::error::NumericalError::IntegrationFailed) naming the time. `wall_s` covers the whole solve.
pub fn solve<I: Integrator + ?Sized, P: OdeProblem + ?Sized>(
    integrator: &I,
    problem: &P,
    y0: &[f64],
    grid: &OutputGrid,
    tolerances: &Tolerances,
) -> Result<OdeSolution> {
    let n = problem.dim();
    check_initial_state(n, y0)?;
    let start = Instant::now();
    let name = integrator.name();
    let mut stats = SolverStats {
        solver: name.to_string(),
        ..SolverStats::default()
    };
    let windows = grid.windows_of();
    let mut tau = Vec::with_capacity(grid.len());
    let mut states = Trajectory::with_capacity(n, grid.len());
    states.push(y0);
    problem.project(&mut states[0]);
    tau.push(0.0);
    let mut y = y0.to_vec();
    let stage = Stage::begin("integrating", "points", grid.len().saturating_sub(1));
    for window in &windows {
        // The window starts from the last recorded (projected) state, already stored.
        let times = uniform_times(window.length, window.points);
        let first = states.len();
        states.extend_zeros(window.points.saturating_sub(1));
        let mut output = Output {
            times: &times,
            next: 1,
            base: first - 1,
            states: &mut states,
            stage: &stage,
        };
        if window.start > 0.0 {
            y.copy_from_slice(&output.states[first - 1]);
        }
        integrator
            .run(problem, &y, tolerances, &mut output, &mut stats)
            .map_err(|f| failure(name, window.start, f))?;
        if !output.is_complete() {
            return Err(Error::Numerical(NumericalError::IntegrationFailed {
                solver: name,
                tau: window.start + window.length,
                reason: format!(
                    "the method recorded {} of {} output points",
                    output.next, window.points
                ),
            }));
        }
        tau.extend(times.iter().skip(1).map(|t| t + window.start));
        for state in states.iter_mut().skip(first) {
            problem.project(state);
        }
    }
    // One flat scan, without an early exit so that it vectorises (`all` stops at the first
    // non-finite value, one compare and branch per value); the first non-finite state is
    // looked for only on failure.
    if !states
        .as_slice()
        .iter()
        .fold(true, |finite, v| finite & v.is_finite())
    {
        let k = states
            .iter()
            .position(|s| s.iter().any(|v| !v.is_finite()))
            .unwrap_or(0);
        return Err(Error::Numerical(NumericalError::IntegrationFailed {
            solver: name,
            tau: tau[k],
            reason: "the state became non-finite".into(),
        }));
    }
    stats.wall_s = start.elapsed().as_secs_f64();
    Ok(OdeSolution { tau, states, stats })
}

fn check_initial_state(n: usize, y0: &[f64]) -> Result<()> {
    if y0.len() != n {
        return Err(Error::Input(InputError::Length {
            what: "initial state",
            found: y0.len(),
            expected: n,
            rule: "the problem's dimension",
        }));
    }
    if let Some(i) = y0.iter().position(|v| !v.is_finite()) {
        return Err(Error::Input(InputError::NonFinite {
            what: "initial state".into(),
            row: i + 1,
            col: 1,
            value: y0[i],
        }));
    }
    Ok(())
}

/// The error for a method's failure in the window starting at `offset`.
fn failure(solver: &'static str, offset: f64, f: StepFailure) -> Error {
    match f {
        StepFailure::Stiff { tau } => Error::Numerical(NumericalError::StiffnessDetected {
            solver,
            tau: offset + tau,
        }),
        StepFailure::Failed { tau, reason } => {
            Error::Numerical(NumericalError::IntegrationFailed {
                solver,
                tau: offset + tau,
                reason,
            })
        }
        StepFailure::Unsupported(why) => Error::Input(InputError::Unsupported(why)),
    }
}
