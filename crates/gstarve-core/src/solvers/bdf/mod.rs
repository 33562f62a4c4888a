//! BDF/NDF: a hand-written variable-order (1–5), variable-step integrator for the stiff flows
//! of docs/theory.md (the margin flow ṁ = Kσ(−m) − λm of §3.3 with spread strengths, §12.1; the
//! dual α-flow of §3.5), for any [`OdeProblem`].
//!
//! # Method
//!
//! SciPy's `scipy/integrate/_ivp/bdf.py`, itself the quasi-constant step size NDF of Shampine &
//! Reichelt, "The MATLAB ODE suite" (SIAM J. Sci. Comput. 18, 1997; MATLAB's `ode15s`). The
//! state is carried as the backward differences D⁰y … D^{k+2}y of the interpolating
//! polynomial on the equally spaced points τ, τ − h, …, τ − kh. A step of order k solves
//!
//! ```text
//! (1 − κ_k) γ_k (y₁ − y₁⁽⁰⁾) + Σ_{j=1}^{k} γ_j D^j y₀ = h f(y₁),   γ_j = Σ_{i=1}^{j} 1/i
//! y₁⁽⁰⁾ = Σ_{j=0}^{k} D^j y₀      (the predictor)
//! ```
//!
//! with α_k = (1 − κ_k)γ_k, κ = (0, −0.1850, −1/9, −0.0823, −0.0415) (the NDF coefficients,
//! κ = 0 would be plain BDF), by simplified Newton iterations on
//! d = y₁ − y₁⁽⁰⁾ with the iteration matrix M = I − cJ, c = h/α_k, ψ = Σ γ_j D^j y₀ / α_k:
//!
//! ```text
//! M Δ = c f(y₁⁽⁰⁾ + d) − ψ − d,   d ← d + Δ
//! ```
//!
//! stopped when the contraction rate ρ predicts ρ/(1 − ρ)‖Δ‖ < tol_N = max(10ε/rtol,
//! min(0.03, √rtol)), abandoned after 4 iterations or when ρ ≥ 1. The local error is
//! (κ_k γ_k + 1/(k+1))·d, measured in the RMS norm of e_i / (atol + rtol·|y₁ᵢ|); the orders
//! k − 1 and k + 1 are estimated from D^k y₁ and D^{k+2} y₁ after k + 1 steps of equal size,
//! and the order and step with the largest admissible step are taken (factor
//! 0.9(2·4 + 1)/(2·4 + iterations)·‖e‖^{−1/(k+1)}, between 0.2 and 10). A step-size change by
//! a factor r rescales the differences, D ← (RU)ᵀD, with R and U the matrices of
//! `compute_R(k, r)` and `compute_R(k, 1)` in `bdf.py`. The dense output between steps is the
//! interpolating polynomial y(τ₁ − s) = Σ_j D^j y₁ Π_{m<j} (−s + mh)/((m + 1)h). The Jacobian
//! is re-evaluated only when Newton fails with a stale one; a failure with a current Jacobian
//! halves the step.
//!
//! For n ≥ [`FUNCTIONAL_MIN_DIM`], while the step is short enough that
//! c·ρ ≤ [`BdfParams::functional_max_rate`] (ρ ≥ ‖∂f/∂y‖, the problem's
//! [`OdeProblem::spectral_bound`]), the corrector equation is solved by
//! fixed-point iteration d ← c f(y₁⁽⁰⁾ + d) − ψ instead, with no Jacobian and no factorisation
//! (CVODE's and LSODE's functional iteration, chosen here step by step as LSODA chooses
//! between its Adams and BDF modes); an attempt that does not converge is retried by Newton.
//! The fixed-point map contracts by at most c‖J‖₂ ≤ c·ρ (docs/theory.md §12.2). Where the
//! problem estimates the spectral radius where the flow is
//! ([`OdeProblem::local_spectral_estimate`]: the softmax flow, whose radius falls from 10 to 1.3
//! while the global bound is 50), that estimate replaces ρ (retaken every
//! [`LOCAL_ESTIMATE_MAX_AGE`] steps while c·ρ is within a factor of the rate limit, every
//! [`LOCAL_ESTIMATE_FAR_AGE`] steps while it is far below it, never below the iteration's
//! observed rate), and the first Jacobian waits until Newton is first needed (measured:
//! docs/benchmarks.md, "Multi-class softmax and max-margin speed", runs 10–12 and "Fourth
//! pass").
//!
//! # Deviations from SciPy
//!
//! Each lowers the work per step on the margin flows without raising the error (measured:
//! docs/benchmarks.md, "Solver tuning measurements (moved from the code)", BDF):
//!
//! * **Stale iteration matrix.** SciPy refactors M whenever c = h/α_k changes. Here M is kept
//!   while |c/c_M − 1| ≤ [`BdfParams::refactor_ratio`] (0.3, VODE's and CVODE's `CCMAX`), and
//!   the Newton corrections solved with the stale M_M = I − c_M J are scaled by 2/(1 + c/c_M)
//!   (CVODE's `cvLsSolve` correction): fewer than half the factorisations.
//! * **Newton test and Jacobian age.** SciPy's test needs ρ from two iterations and a
//!   tolerance of √rtol, so every step costs ≥ 2 evaluations. CVODE's test
//!   ([`NewtonTest::Cvode`]) carries ρ over from earlier steps and stops when the iteration
//!   error is a tenth of the error test's budget, so a step usually costs one; it comes with
//!   CVODE's refresh of J every 50 steps and of M every 20 steps, without which a Jacobian from
//!   τ = 0 slows the iteration down and the steps shrink.
//! * **Functional iteration while non-stiff** (above): the margin flow's early steps, where
//!   h·ρ is small, need no Jacobian and no factorisation.
//!
//! # Linear algebra
//!
//! M is factorised as c·(I/c − J) by the partial-pivoting LU of `solvers::lu` (plain loop for
//! small n, faer's blocked `lu_in_place` from n = 40, on all cores from n = 800; substitutions
//! in explicit SIMD) into storage allocated once. When the problem's Jacobian has the Gram
//! form J = −K·diag(d) − μI of the margin flows ([`OdeProblem::gram_jacobian`]), I/c − J =
//! (K + a·diag(d)⁻¹)·diag(d) with a = 1/c + μ is factorised instead by a Cholesky of the
//! symmetric positive definite first factor (`LuSolver::factor_gram`,
//! docs/theory.md §12.2): half the flops, no pivoting. The softmax flow's Jacobian
//! J = −diag(d)·G − μI ([`OdeProblem::scaled_gram_jacobian`], G = UᵀHU symmetric positive
//! semi-definite, d = s²; docs/theory.md §9.2) is never formed: the problem hands over G, and
//! I/c − J = diag(d)·(G + a·diag(d)⁻¹) is factorised by the same Cholesky
//! (`LuSolver::factor_scaled_gram`, LU of I/c − J where some d_j is zero). Where the problem
//! also hands over G in f32 ([`OdeProblem::scaled_gram_jacobian_single`]: the softmax flow from
//! r = 256 on) the Cholesky and the substitutions run in f32 (`single`; the residuals stay f64,
//! and the simplified Newton iteration converges to the same corrector: docs/theory.md §12.2),
//! falling back to f64 for that Jacobian if the f32 factorisation fails or Newton fails with a
//! current J and M. The integrator's own step loop does not
//! allocate (what the problem's right-hand side does is its own affair) and works on whole rows
//! of the difference array, so that its loops vectorise; the output states go into one flat
//! buffer sized up front ([`crate::ode::Trajectory`]).
//!
//! # Failures
//!
//! A step size below 10 ulp(τ) (SciPy's minimum; reached when Newton keeps failing with a fresh
//! Jacobian or the error test keeps failing), a non-finite right-hand side that persists down
//! to that size, or more step attempts than the budget
//! ([`Tolerances::max_steps`], over the whole solve) is a [`StepFailure::Failed`] with
//! the τ reached. Never a plausible wrong number.

mod single;
mod state;
#[cfg(test)]
mod tests;

use crate::ode::{Integrator, OdeProblem, Output, SolverStats, StepFailure, Tolerances};
use state::State;

/// The name reported in [`SolverStats::solver`] and in failures.
pub const NAME: &str = "bdf";
/// Highest order.
pub const MAX_ORDER: usize = 5;
/// Newton iterations per attempt (SciPy's `NEWTON_MAXITER`).
const NEWTON_MAXITER: usize = 4;
/// Rows of the difference array: D⁰ … D^{k+2} for k ≤ 5.
const ROWS: usize = MAX_ORDER + 3;
/// Smallest dimension for which [`BdfParams::functional_max_rate`] applies: below it the
/// factorisations functional iteration saves cost about as much as an evaluation (LU by the
/// plain loop of `solvers::lu`), and the changed step sequence can raise the error (measured:
/// docs/benchmarks.md, "Solver tuning measurements (moved from the code)", BDF).
pub const FUNCTIONAL_MIN_DIM: usize = super::lu::FAER_LU_MIN_DIM;
/// Accepted steps after which a problem's local stiffness estimate
/// ([`OdeProblem::local_spectral_estimate`]) is retaken, while functional iteration is in reach
/// and c times the old estimate is at least [`LOCAL_ESTIMATE_FAR`] of the rate limit.
pub const LOCAL_ESTIMATE_MAX_AGE: u64 = 20;
/// The local estimate is retaken only while c times the old one is at most this many times
/// [`BdfParams::functional_max_rate`]: beyond it the estimate would have to fall by this
/// factor, while c grows, before functional iteration came back in reach.
pub const LOCAL_ESTIMATE_RECHECK: f64 = 2.0;
/// While c times the local estimate is below this share of [`BdfParams::functional_max_rate`],
/// the estimate is retaken only every [`LOCAL_ESTIMATE_FAR_AGE`] accepted steps: it would have
/// to grow by 1/this before it changed the choice (on the softmax flow it grew by ≤ 4 % and
/// fell by ≤ 20 % per 20 steps), and the functional iteration's observed rate bounds it from below in between.
pub const LOCAL_ESTIMATE_FAR: f64 = 0.25;
/// Accepted steps between local estimates far below the rate limit ([`LOCAL_ESTIMATE_FAR`]).
pub const LOCAL_ESTIMATE_FAR_AGE: u64 = 100;
/// The NDF coefficients κ_k (Shampine & Reichelt 1997, Table 1; κ₅ = 0: order 5 is plain BDF).
const KAPPA: [f64; MAX_ORDER + 1] = [0.0, -0.1850, -1.0 / 9.0, -0.0823, -0.0415, 0.0];

/// Tuning knobs of [`Bdf`]; [`BdfParams::DEFAULT`] is what the automatic choice and
/// `--method bdf` use, [`BdfParams::SCIPY`] reproduces SciPy's policies.
///
/// The defaults are CVODE's where SciPy's cost more work for the same error on the margin
/// flows: SciPy's Newton test needs two evaluations per step at least and, with its tolerance
/// √rtol, re-evaluates J more often; CVODE's test needs the periodic J refresh (with a J from
/// τ = 0 the iteration converges slowly and the steps shrink). Functional iteration changes the
/// error only within the spread of the step sequence. The variants, measured: docs/benchmarks.md,
/// "Solver tuning measurements (moved from the code)", BDF.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BdfParams {
    /// M = I − cJ is refactorised when |c/c_M − 1| exceeds this (c_M: the c of the current
    /// factorisation); in between, Newton corrections are scaled by 2/(1 + c/c_M). 0 refactors
    /// on every change of c, as SciPy does. Default 0.3.
    pub refactor_ratio: f64,
    /// Largest step growth at once (SciPy: 10).
    pub max_factor: f64,
    /// Smallest step reduction factor after a failed error test (SciPy: 0.2).
    pub min_factor: f64,
    /// When the Newton iterations stop.
    pub newton: NewtonTest,
    /// Re-evaluate J after this many accepted steps with the same one (CVODE's `MSBJ` = 50;
    /// SciPy: never, only after a Newton failure).
    pub jacobian_max_age: u64,
    /// Refactorise M after this many accepted steps with the same factorisation (CVODE's
    /// `MSBP` = 20; SciPy: never, only when c changes).
    pub lu_max_age: u64,
    /// Solve the corrector equation by fixed-point (functional) iteration, d ← c f(y₁⁽⁰⁾ + d) − ψ,
    /// with no Jacobian and no factorisation, while c·ρ ≤ this, where ρ is the problem's
    /// [`OdeProblem::spectral_bound`] (a bound on ‖∂f/∂y‖, so c·ρ bounds the contraction rate),
    /// for n ≥ [`FUNCTIONAL_MIN_DIM`]. An attempt that does not converge is retried with
    /// Newton. 0 disables it (SciPy).
    pub functional_max_rate: f64,
    /// Monitored modified Newton (LSODA keeps its factorisation across step-size changes):
    /// beyond [`Self::refactor_ratio`], M is still kept while both the contraction a stale
    /// M predicts on the stiff modes, |c/c_M − 1|/(c/c_M + 1) (with the 2/(1 + c/c_M)
    /// correction), and the largest ratio of successive Newton corrections observed in the
    /// last step solved with this M are at most this; a Newton failure with an M factorised at
    /// another c first refactorises at this c with the same J (CVODE's `cvLsSetup` re-evaluates
    /// J only when γ is within 20 % of its factorisation's). 0 disables it.
    pub stale_max_rate: f64,
    /// Step-size hysteresis (LSODE's `STODE`: no change unless the new step is ≥ 1.1× the
    /// old): after a successful step, when the best admissible factor is below this, h and the
    /// order are kept and the choice is made again after the next step. 1 (or less) changes
    /// h at every choice, as SciPy does.
    pub min_step_change: f64,
}

/// The convergence test of the simplified Newton iterations (‖·‖: the RMS norm weighted by
/// atol + rtol·|y₁⁽⁰⁾|).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NewtonTest {
    /// SciPy's: from the second iteration on, stop when ρ/(1 − ρ)‖Δ‖ < max(10ε/rtol,
    /// min(0.03, √rtol)) with ρ the ratio of successive corrections; give up when ρ ≥ 1 or
    /// ρ^{4−m}/(1 − ρ)‖Δ‖ exceeds that tolerance (convergence within 4 iterations predicted
    /// to fail). At least two evaluations per step.
    Scipy,
    /// CVODE's (`cvNls`): stop when ‖Δ‖·min(1, ρ) ≤ coef/C_k, where C_k = κ_kγ_k + 1/(k+1) is
    /// the error constant (so the iteration error is `coef` of the error test's budget) and ρ
    /// is the convergence rate carried over from earlier steps (ρ ← max(0.3ρ, ‖Δ_m‖/‖Δ_{m−1}‖),
    /// reset to 1 with every factorisation); give up when ‖Δ_m‖ > 2‖Δ_{m−1}‖ or after 4
    /// iterations. A step usually needs one evaluation.
    Cvode {
        /// The share of the local error test left to the iteration error (CVODE: 0.1).
        coef: f64,
    },
}

impl BdfParams {
    /// SciPy's `bdf.py` policies, with one difference: after a failed error test SciPy keeps
    /// the old LU and solves with M at the old c, uncorrected ("we don't reset LU here"),
    /// whereas `refactor_ratio = 0` refactorises there, so this counts more factorisations than
    /// SciPy itself would.
    pub const SCIPY: BdfParams = BdfParams {
        refactor_ratio: 0.0,
        max_factor: 10.0,
        min_factor: 0.2,
        newton: NewtonTest::Scipy,
        jacobian_max_age: u64::MAX,
        lu_max_age: u64::MAX,
        functional_max_rate: 0.0,
        stale_max_rate: 0.0,
        min_step_change: 1.0,
    };
}

impl BdfParams {
    /// gstarve's defaults: CVODE's Newton test and refresh ages, a stale factorisation kept
    /// within 30 % of c, functional iteration while c·ρ ≤ 0.2. The monitored modified Newton
    /// ([`BdfParams::stale_max_rate`]) and the step-size hysteresis
    /// ([`BdfParams::min_step_change`]) are off: measured, they save factorisations on the
    /// softmax flow but not time at equal error, and cost steps and rejections on the binary
    /// margin flows (docs/benchmarks.md, "Multi-class softmax and max-margin speed").
    pub const DEFAULT: BdfParams = BdfParams {
        newton: NewtonTest::Cvode { coef: 0.1 },
        refactor_ratio: 0.3,
        jacobian_max_age: 50,
        lu_max_age: 20,
        functional_max_rate: 0.2,
        ..BdfParams::SCIPY
    };
}

impl Default for BdfParams {
    fn default() -> Self {
        BdfParams::DEFAULT
    }
}

/// Variable-order BDF/NDF as an [`Integrator`], with mixed tolerance atol + rtol·|y| per
/// component and the output from its dense output (see the module documentation); failures are
/// [`StepFailure::Failed`] with the τ reached.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bdf {
    /// Tuning knobs.
    pub params: BdfParams,
}

impl Integrator for Bdf {
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
        run(problem, y0, tolerances, &self.params, output, stats)
    }
}

fn run<P: OdeProblem + ?Sized>(
    problem: &P,
    y0: &[f64],
    tolerances: &Tolerances,
    params: &BdfParams,
    output: &mut Output<'_>,
    stats: &mut SolverStats,
) -> Result<(), StepFailure> {
    let (rtol, atol) = (tolerances.rtol(), tolerances.atol());
    // The window may spend what earlier windows left of the budget.
    let budget = tolerances
        .max_steps()
        .saturating_sub(stats.steps_accepted + stats.steps_rejected);
    let t_end = output.t_end();
    let n = problem.dim();
    let mut bdf = State::new(problem, *params);
    bdf.stats.rhs_evals += 1;
    problem.rhs(y0, &mut bdf.f);
    if !bdf.f.iter().all(|v| v.is_finite()) {
        return Err(StepFailure::failed(
            0.0,
            "the right-hand side is not finite at the initial state",
        ));
    }
    bdf.h_abs = bdf.initial_step(y0, t_end, rtol, atol);
    bdf.diffs[..n].copy_from_slice(y0);
    for i in 0..n {
        bdf.diffs[n + i] = bdf.h_abs * bdf.f[i];
    }
    bdf.start(y0);
    let newton_tol = (10.0 * f64::EPSILON / rtol).max(0.03f64.min(rtol.sqrt()));
    let mut t = 0.0;
    while t < t_end {
        let t_new = bdf.step(t, t_end, (rtol, atol, budget), newton_tol)?;
        output.record_step(t_new, t_new >= t_end, &bdf.y_new, |tau, out| {
            bdf.dense(t_new, tau, out)
        });
        t = t_new;
    }
    stats.absorb(&bdf.stats);
    Ok(())
}
