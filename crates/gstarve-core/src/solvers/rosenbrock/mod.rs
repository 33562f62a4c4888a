//! Rodas4: a hand-written L-stable Rosenbrock method of order 4 with an embedded order-3
//! solution and a continuous (order-3) dense output, for the stiff flows of docs/theory.md
//! (the margin flow of §3.3 and the dual α-flow of §3.5).
//!
//! The margin flow dm/dτ = K[ψ(m) − λ_SD m] − λ_L2 m and the dual α-flow are stiff when the
//! strengths are spread out (the Jacobian has eigenvalues from ≈ −λ down to ≈ −(λ + s₁²/4),
//! docs/theory.md §12.1). A Rosenbrock method needs no Newton iteration: each step evaluates the
//! Jacobian once, factorises W = I/(hγ) − J once, and solves six linear systems with it. At
//! small n the whole step is a few hundred floating-point operations, so the stage vectors are
//! preallocated and n ≤ 4 runs on loops of a length known at compile time; at large n the one
//! factorisation per step makes it slower than [`super::bdf`], which keeps its factorisations
//! for many steps (measured: docs/benchmarks.md, "Solver tuning measurements (moved from the
//! code)", Rodas4).
//!
//! # Method
//!
//! Hairer & Wanner, *Solving Ordinary Differential Equations II* (2nd ed., 1996), §IV.7,
//! Table 7.5 (RODAS, "method 1" of `rodas.f`), in the transformed variables of `rodas.f`:
//!
//! ```text
//! W = I/(hγ) − J(y₀),  γ = 1/4
//! W k_i = f(y₀ + Σ_{j<i} a_ij k_j) + Σ_{j<i} (c_ij/h) k_j,   i = 1 … 6
//! ŷ₁ = y₀ + Σ_{j≤4} a_5j k_j + k₅          (embedded, order 3)
//! y₁ = ŷ₁ + k₆                              (order 4), error estimate k₆
//! ```
//!
//! (stage 6 is evaluated at ŷ₁: the method is stiffly accurate). The dense output is Hairer's
//! `CONTRO` of `rodas.f`:
//! y(t₀ + θh) = (1−θ) y₀ + θ [y₁ + (1−θ)(Σ h_2j k_j + θ Σ h_3j k_j)].
//! The coefficients (`tableau`) are those of Hairer's `rodas.f` (subroutine `RODCOE`,
//! METH = 1), identical to `Rodas4Tableau` in SciML's OrdinaryDiffEq.jl
//! (`rosenbrock_tableaus.jl`) and to `StepperRoss` of *Numerical Recipes* (3rd ed., §17.5); the
//! order is checked empirically in the tests (halving a fixed step divides the global error by
//! ≈ 2⁴). Only autonomous problems are handled, so the ∂f/∂t coefficients (c_i, d_i) are not
//! needed.
//!
//! # Control
//!
//! Error norm: RMS over i of k₆ᵢ / (atol + rtol·max(|y₀ᵢ|, |y₁ᵢ|)). Step size: Gustafsson's
//! predictive controller exactly as in `rodas.f` (safety 0.9, new step between h/5 and 6h, no
//! growth right after a rejection). Initial step: Hairer's heuristic (`HINIT` of `dop853.f`)
//! with order 4. A rejected step re-uses f(y₀) and J(y₀) and refactorises W only. The last step
//! is landed exactly on τ_end.
//!
//! # Linear algebra
//!
//! W is factorised by partial-pivoting LU into a preallocated buffer (`solvers::lu`, shared with
//! [`super::bdf`]): a plain column-major Doolittle loop for n < [`FAER_LU_MIN_DIM`] (nalgebra's
//! `lu()` takes its matrix by value and allocates the factor and the permutation on every call),
//! faer's blocked `lu_in_place` with a preallocated stack from there on. Nothing in the step
//! loop allocates; the output states go into one flat buffer sized up front
//! ([`crate::ode::Trajectory`]). Dimensions 1–4 run a copy of the integrator with n known at
//! compile time.

mod step;
mod tableau;
#[cfg(test)]
mod tests;

use crate::ode::{Integrator, OdeProblem, Output, SolverStats, StepFailure, Tolerances};
use step::{Breakdown, Rodas};

/// The name reported in [`SolverStats::solver`] and in failures.
pub const NAME: &str = "rodas4";
pub use super::lu::FAER_LU_MIN_DIM;
/// A step smaller than this times max(|τ|, 10⁻³·τ_end) is a failure.
const HMIN_REL: f64 = 1e-14;
/// Step-size controller (rodas.f defaults): safety factor, smallest and largest change.
const SAFE: f64 = 0.9;
const FAC_MIN: f64 = 0.2;
const FAC_MAX: f64 = 6.0;

/// Rodas4 as an [`Integrator`]: mixed tolerance `atol + rtol·|y|` per component, the output
/// from the method's dense output (the flows of docs/theory.md §3.3 and §3.5; see the module
/// documentation). A step that keeps failing (non-finite state or singular W) until the step
/// size falls below 10⁻¹⁴·τ, or more step attempts than the budget
/// ([`Tolerances::max_steps`], over the whole solve), is a
/// [`StepFailure::Failed`]. Dimensions 1–4 run a copy of the integrator with n known at compile
/// time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rodas4;

impl Integrator for Rodas4 {
    fn name(&self) -> &'static str {
        NAME
    }

    fn run<P: OdeProblem + ?Sized>(
        &self,
        problem: &P,
        y0: &[f64],
        tolerances: &Tolerances,
        output: &mut Output<'_>,
        stats: &mut SolverStats,
    ) -> Result<(), StepFailure> {
        // The window may spend what earlier windows left of the budget.
        let spent = stats.steps_accepted + stats.steps_rejected;
        let tol = (
            tolerances.rtol(),
            tolerances.atol(),
            tolerances.max_steps().saturating_sub(spent),
        );
        match problem.dim() {
            1 => run::<_, 1>(problem, y0, tol, output, stats),
            2 => run::<_, 2>(problem, y0, tol, output, stats),
            3 => run::<_, 3>(problem, y0, tol, output, stats),
            4 => run::<_, 4>(problem, y0, tol, output, stats),
            _ => run::<_, 0>(problem, y0, tol, output, stats),
        }
    }
}

/// [`Rodas4`] for dimension N (0: any), within (rtol, atol) and at most `budget` step
/// attempts in this window.
fn run<P: OdeProblem + ?Sized, const N: usize>(
    problem: &P,
    y0: &[f64],
    (rtol, atol, budget): (f64, f64, u64),
    output: &mut Output<'_>,
    stats: &mut SolverStats,
) -> Result<(), StepFailure> {
    let t_end = output.t_end();
    let fail = StepFailure::failed;
    let mut rodas = Rodas::<P, N>::new(problem);
    let mut y = y0.to_vec();
    let mut t = 0.0;
    rodas.eval_f0(&y);
    let mut h = rodas.initial_step(&y, t_end, rtol, atol);
    // Gustafsson controller memory (rodas.f: HACC, ERRACC).
    let mut h_acc = h;
    let mut err_acc = 1e-2;
    let mut first = true;
    let mut reject = false;
    let mut jacobian_current = false;
    loop {
        if rodas.stats.steps_accepted + rodas.stats.steps_rejected >= budget {
            return Err(fail(
                t,
                format!("the step budget ran out before τ_end = {t_end}"),
            ));
        }
        let hmin = HMIN_REL * t.abs().max(1e-3 * t_end);
        let last = t + 1.0001 * h >= t_end;
        if last {
            h = t_end - t;
        }
        if !jacobian_current {
            rodas.eval_jacobian(&y);
            jacobian_current = true;
        }
        let outcome = rodas.attempt(&y, h);
        let err = match outcome {
            Ok(()) => rodas.error_norm(&y, rtol, atol),
            Err(_) => f64::INFINITY,
        };
        if !err.is_finite() {
            // Breakdown: shrink hard and retry with the same f(y₀) and J(y₀).
            rodas.stats.steps_rejected += 1;
            reject = true;
            h *= 0.25;
            if h < hmin {
                let why = match outcome {
                    Err(Breakdown::Singular) => "I/(hγ) − J is singular",
                    _ => "the state became non-finite",
                };
                return Err(fail(
                    t,
                    format!("step size {h:.3e} below the minimum {hmin:.3e}: {why}"),
                ));
            }
            continue;
        }
        // Gustafsson's step-size controller (rodas.f).
        let mut fac = (quartic_root(err) / SAFE).clamp(1.0 / FAC_MAX, 1.0 / FAC_MIN);
        let mut h_new = h / fac;
        if err <= 1.0 {
            rodas.stats.steps_accepted += 1;
            if !first {
                let fac_gus = ((h_acc / h) * quartic_root(err * err / err_acc) / SAFE)
                    .clamp(1.0 / FAC_MAX, 1.0 / FAC_MIN);
                fac = fac.max(fac_gus);
                h_new = h / fac;
            }
            first = false;
            h_acc = h;
            err_acc = err.max(1e-2);
            let t_new = if last { t_end } else { t + h };
            // Grid points in (t, t_new] from the dense output; τ_end itself exactly.
            output.record_step(t_new, last, &rodas.ynew, |tau, out| {
                rodas.dense(&y, (tau - t) / h, out)
            });
            y.copy_from_slice(&rodas.ynew);
            t = t_new;
            if last {
                break;
            }
            if reject {
                h_new = h_new.min(h);
            }
            reject = false;
            h = h_new;
            rodas.eval_f0(&y);
            jacobian_current = false;
        } else {
            rodas.stats.steps_rejected += 1;
            reject = true;
            h = h_new;
            if h < hmin {
                return Err(fail(
                    t,
                    format!(
                        "step size {h:.3e} below the minimum {hmin:.3e} (error test keeps failing)"
                    ),
                ));
            }
        }
    }
    stats.absorb(&rodas.stats);
    Ok(())
}

/// x^(1/4) (the controller exponent 1/(q+1) for the embedded order q = 3), by two square roots.
#[inline]
fn quartic_root(x: f64) -> f64 {
    x.sqrt().sqrt()
}
