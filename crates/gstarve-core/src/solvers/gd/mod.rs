//! Gradient descent: the exact discrete map z_{k+1} = z_k + ηF(z_k) (the explicit Euler map of
//! the flow, docs/theory.md §3.1), on the margins when 2r ≥ n (§3.3); and GD on the parameters θ
//! itself, projected to z = S Vᵀθ (§3.4, `parameters`). Large margin runs go on a two-thread
//! team (`team`) that takes the serial loop's steps bit for bit.

mod parameters;
mod team;
#[cfg(test)]
mod tests;

use std::time::Instant;

use nalgebra::DVector;

use crate::error::{Error, InputError, NumericalError, Result};
use crate::model::{MarginFlow, MarginFlowN, PrimalDynamics};
use crate::ode::OdeProblem;
use crate::ode::{OdeSolution, SolverStats, Trajectory};
use crate::sweeps::progress::Stage;
pub use parameters::gradient_descent_parameters;
use team::{iterate_margins_team, use_team};

/// Options of a gradient-descent run, valid by construction ([`GdOptions::new`]); the
/// stability of η is checked against the dynamics when the run starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GdOptions {
    eta: f64,
    steps: usize,
    points: usize,
    allow_unstable: bool,
}

impl GdOptions {
    /// Step size η (finite, > 0), steps K (≥ 1), recorded points (≥ 2, evenly spaced in k,
    /// always including 0 and K), and whether to run even when η exceeds the stability bound
    /// of docs/theory.md §3.6 (divergence is still detected and reported).
    pub fn new(eta: f64, steps: usize, points: usize, allow_unstable: bool) -> Result<Self> {
        if !(eta.is_finite() && eta > 0.0) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "eta",
                value: eta,
                rule: "the learning rate must be finite and > 0",
            }));
        }
        if steps == 0 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "steps",
                value: 0.0,
                rule: "gradient descent needs at least one step",
            }));
        }
        if points < 2 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "points",
                value: points as f64,
                rule: "at least 2 recorded points",
            }));
        }
        Ok(Self {
            eta,
            steps,
            points,
            allow_unstable,
        })
    }

    /// The step size η.
    pub fn eta(&self) -> f64 {
        self.eta
    }

    /// The number of steps K.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The number of recorded points.
    pub fn points(&self) -> usize {
        self.points
    }

    /// Whether an η beyond the stability bound is allowed.
    pub fn allow_unstable(&self) -> bool {
        self.allow_unstable
    }

    /// Check η against the stability bound `curvature_bound`: η·bound < 2 (docs/theory.md §3.6),
    /// unless unstable steps are allowed.
    pub fn check_stability(&self, curvature_bound: f64) -> Result<()> {
        let product = self.eta * curvature_bound;
        if product >= 2.0 && !self.allow_unstable {
            return Err(Error::Input(InputError::UnstableStep {
                eta: self.eta,
                bound: curvature_bound,
                product,
                limit: 2.0 / curvature_bound,
            }));
        }
        Ok(())
    }

    /// The recorded step indices: k_i = round(i·K/(points − 1)), deduplicated.
    pub fn recorded_steps(&self) -> Vec<usize> {
        let pts = self.points.min(self.steps + 1);
        let mut ks: Vec<usize> = (0..pts)
            .map(|i| ((i as f64) * self.steps as f64 / (pts - 1) as f64).round() as usize)
            .collect();
        ks.dedup();
        ks
    }
}

/// The one serial GD loop: `step(k, y)` advances the state `y` from step k to k + 1; the loop
/// records the chosen steps, checks each recorded state for divergence and keeps the time. The
/// forms below differ only in their state (a heap vector, or a fixed-size array for n ≤ 4) and
/// in how a step evaluates the flow.
fn iterate_with<S: AsRef<[f64]>>(
    mut state: S,
    options: &GdOptions,
    method: &'static str,
    mut step: impl FnMut(usize, &mut S),
) -> Result<OdeSolution> {
    let record = options.recorded_steps();
    let mut states = Trajectory::with_capacity(state.as_ref().len(), record.len());
    let start = Instant::now();
    let stage = Stage::begin("gradient descent", "steps", options.steps);
    let mut k = 0;
    for &target in &record {
        while k < target {
            step(k, &mut state);
            k += 1;
        }
        check_finite(state.as_ref().iter(), method, k, options.eta)?;
        states.push(state.as_ref());
        stage.advance(k);
    }
    let wall = start.elapsed().as_secs_f64();
    Ok(gd_solution(&record, options, states, wall, method))
}

/// The GD map of `problem` (a state-space vector field) from `y0`.
pub(crate) fn iterate(
    problem: &(impl OdeProblem + ?Sized),
    y0: &DVector<f64>,
    options: &GdOptions,
    method: &'static str,
) -> Result<OdeSolution> {
    let mut dy = DVector::zeros(y0.len());
    iterate_with(y0.clone(), options, method, |_, y| {
        problem.rhs(y.as_slice(), dy.as_mut_slice());
        y.axpy(options.eta, &dy, 1.0);
    })
}

/// The GD map on the margins for N ≤ 4 examples, on fixed-size arrays: the same operations as
/// [`iterate_margins`] (so the same numbers), without its per-step loop and slice bookkeeping,
/// which cost more than the two `exp` of a step at n = 2 (measured: docs/benchmarks.md,
/// "Solver tuning measurements (moved from the code)", gradient descent).
fn iterate_small<const N: usize>(
    flow: &MarginFlowN<N>,
    m0: &DVector<f64>,
    options: &GdOptions,
) -> Result<OdeSolution> {
    let mut m = [0.0; N];
    m.copy_from_slice(m0.as_slice());
    let mut dm = [0.0; N];
    iterate_with(m, options, "gd", |_, m| {
        flow.rhs_general_order(m, &mut dm);
        for (mi, di) in m.iter_mut().zip(&dm) {
            *mi += options.eta * di;
        }
    })
}

/// The GD map on the margins, m_{k+1} = m_k + η ṁ(m_k), with its buffers allocated before the
/// loop.
fn iterate_margins(
    flow: &MarginFlow,
    m0: &DVector<f64>,
    options: &GdOptions,
) -> Result<OdeSolution> {
    if use_team(m0.len(), options) {
        iterate_margins_team(flow, m0, options)
    } else {
        iterate_margins_serial(flow, m0, options)
    }
}

/// [`iterate_margins`] on the calling thread: the Gram product's sweep alternates direction
/// from step to step ([`MarginFlow::rhs_directed`]).
pub(super) fn iterate_margins_serial(
    flow: &MarginFlow,
    m0: &DVector<f64>,
    options: &GdOptions,
) -> Result<OdeSolution> {
    let n = m0.len();
    let mut dm = DVector::zeros(n);
    let mut weights = DVector::zeros(n);
    iterate_with(m0.clone(), options, "gd", |k, m| {
        flow.rhs_directed(
            m.as_slice(),
            weights.as_mut_slice(),
            dm.as_mut_slice(),
            k % 2 == 1,
        );
        m.axpy(options.eta, &dm, 1.0);
    })
}

/// Err(Diverged) at `step` if any entry of the state is not finite.
pub(super) fn check_finite<'a>(
    state: impl IntoIterator<Item = &'a f64>,
    method: &'static str,
    step: usize,
    eta: f64,
) -> Result<()> {
    if state.into_iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::Numerical(NumericalError::Diverged {
            method,
            step,
            tau: eta * step as f64,
        }))
    }
}

pub(super) fn gd_solution(
    record: &[usize],
    options: &GdOptions,
    states: Trajectory,
    wall: f64,
    method: &str,
) -> OdeSolution {
    OdeSolution {
        tau: record.iter().map(|&k| options.eta * k as f64).collect(),
        states,
        stats: SolverStats {
            solver: method.to_string(),
            wall_s: wall,
            rhs_evals: options.steps as u64,
            jacobian_evals: 0,
            steps_accepted: options.steps as u64,
            steps_rejected: 0,
            lu_factorisations: 0,
            newton: Default::default(),
        },
    }
}

/// GD on the responses: z_{k+1} = z_k + ηF(z_k) from z₀ (docs/theory.md §3.1).
///
/// With r ≥ n/2 the map is run on the margins m = Uz (m_{k+1} = m_k + η U F(z_k), the same map
/// up to rounding, one n×n product per step, docs/theory.md §3.3) and mapped back by z = Uᵀm.
pub fn gradient_descent(
    dynamics: &PrimalDynamics,
    z0: &DVector<f64>,
    options: &GdOptions,
) -> Result<OdeSolution> {
    options.check_stability(dynamics.curvature_bound())?;
    let sys = dynamics.system();
    if z0.len() != sys.rank() {
        return Err(Error::Input(InputError::Length {
            what: "initial responses z₀",
            found: z0.len(),
            expected: sys.rank(),
            rule: "one per feature",
        }));
    }
    if 2 * sys.rank() >= sys.examples() {
        let m0 = sys.margins(z0);
        // Small systems: the same map on fixed-size arrays (bit for bit the same steps).
        let small = match sys.examples() {
            1 => MarginFlowN::<1>::new(dynamics).map(|f| iterate_small(&f, &m0, options)),
            2 => MarginFlowN::<2>::new(dynamics).map(|f| iterate_small(&f, &m0, options)),
            3 => MarginFlowN::<3>::new(dynamics).map(|f| iterate_small(&f, &m0, options)),
            4 => MarginFlowN::<4>::new(dynamics).map(|f| iterate_small(&f, &m0, options)),
            _ => None,
        };
        let mut sol = match small {
            Some(sol) => sol?,
            None => iterate_margins(&MarginFlow::new(dynamics), &m0, options)?,
        };
        // z = Uᵀm for every recorded state.
        sol.left_multiply_states(sys.coupling(), true);
        Ok(sol)
    } else {
        iterate(dynamics, z0, options, "gd")
    }
}
