//! BDF/NDF: a hand-written variable-order (1–5), variable-step integrator for
//! the stiff flows of docs/theory.md §3 (the margin flow ṁ = Kσ(−m) − λm with spread strengths, the
//! dual α-flow), for any [`OdeProblem`].
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
//!
//! # Deviations from SciPy (each measured on the issue-#2 margin flow at n = 100, rtol 1e−9,
//! atol 1e−11 — the margin tolerances of a requested 1e−8 / 1e−10; table in [`BdfParams`])
//!
//! * **Stale iteration matrix.** SciPy refactors M whenever c = h/α_k changes. Here M is kept
//!   while |c/c_M − 1| ≤ [`BdfParams::refactor_ratio`] (0.3, VODE's and CVODE's `CCMAX`), and
//!   the Newton corrections solved with the stale M_M = I − c_M J are scaled by 2/(1 + c/c_M)
//!   (CVODE's `cvLsSolve` correction): 63 instead of 147 LU factorisations, error 4.2e−8
//!   instead of 9.0e−8.
//! * **Newton test and Jacobian age.** SciPy's test needs ρ from two iterations and a
//!   tolerance of √rtol, so every step costs ≥ 2 evaluations (2274 for 779 steps). CVODE's
//!   test ([`NewtonTest::Cvode`]) carries ρ over from earlier steps and stops when the
//!   iteration error is a tenth of the error test's budget (831 evaluations for 705 steps);
//!   it comes with CVODE's refresh of J every 50 steps and of M every 20 steps, without which
//!   a Jacobian from τ = 0 slows the iteration down and the steps shrink (2313 steps).
//! * **Functional iteration while non-stiff** (above): the flow's first ≈ 250 steps (τ ≲ 1,
//!   where h·ρ < 0.4) need no factorisation; 38 instead of 63 factorisations, 10 instead of
//!   15 Jacobians, and 44 % fewer instructions at n = 100 (callgrind, whole flow: 103 → 58 M,
//!   with the row-wise loops and the Cholesky path below).
//!
//! # Linear algebra
//!
//! M is factorised as c·(I/c − J) by the partial-pivoting LU of [`super::lu`] (plain loop for
//! small n, faer's blocked `lu_in_place` from n = 40, on all cores from n = 800; substitutions
//! in explicit SIMD) into storage allocated once. When the problem's Jacobian has the Gram
//! form J = −K·diag(d) − μI of the margin flows ([`OdeProblem::gram_jacobian`]), I/c − J =
//! (K + a·diag(d)⁻¹)·diag(d) with a = 1/c + μ is factorised instead by a Cholesky of the
//! symmetric positive definite first factor ([`super::lu::LuSolver::factor_gram`]): half the
//! flops, no pivoting (best of 10 on the issue-#2 flow: 7.2 / 19.3 / 74 ms against LU's 7.0 /
//! 19.3 / 88 ms at n = 100 / 200 / 400, and 0.73 against 1.19 s at n = 1000). The
//! integrator's own step loop does not allocate (what the problem's right-hand side does is its
//! own affair) and works on whole rows of the difference array, so that its loops vectorise;
//! the output states go into one flat buffer sized up front ([`Trajectory`]).
//!
//! # Failures
//!
//! A step size below 10 ulp(τ) (SciPy's minimum; reached when Newton keeps failing with a fresh
//! Jacobian or the error test keeps failing), a non-finite right-hand side that persists down
//! to that size, or more than [`MAX_STEPS`] step attempts is a [`StepFailure::Failed`] with
//! the τ reached. Never a plausible wrong number.

// The loops over components index several same-length buffers at once (y, f, D rows, scale);
// written with indices like the Rodas4 and DP45 loops they mirror.
#![allow(clippy::needless_range_loop)]

use nalgebra::DMatrix;

use super::lu::LuSolver;
use crate::ode::{Integrator, OdeProblem, Output, SolverStats, StepFailure, Tolerances};

/// The name reported in [`SolverStats::solver`] and in failures.
pub const NAME: &str = "bdf";
/// Highest order.
pub const MAX_ORDER: usize = 5;
/// Maximum number of step attempts (accepted + rejected) before a run gives up.
pub const MAX_STEPS: u64 = 1_000_000;
/// Newton iterations per attempt (SciPy's `NEWTON_MAXITER`).
const NEWTON_MAXITER: usize = 4;
/// Rows of the difference array: D⁰ … D^{k+2} for k ≤ 5.
const ROWS: usize = MAX_ORDER + 3;
/// Smallest dimension for which [`BdfParams::functional_max_rate`] applies: below it the
/// factorisations functional iteration saves are about as cheap as an evaluation (LU by the
/// plain loop of [`super::lu`]), and the change of step sequence moved the error the other way.
/// Measured on the issue-#2 flow with `--method bdf` (callgrind, whole flow): n = 10,
/// 7.6 → 7.3 M instructions (−4 %); n = 48, 25.6 → 20.7 M (−19 %); n = 100, 103 → 63 M (−39 %);
/// at n = 2 the error in z rose from 4.1e−8 to 1.1e−7, above SciPy's LSODA (1.1e−7).
pub const FUNCTIONAL_MIN_DIM: usize = super::lu::FAER_LU_MIN_DIM;
/// The NDF coefficients κ_k (Shampine & Reichelt 1997, Table 1; κ₅ = 0: order 5 is plain BDF).
const KAPPA: [f64; MAX_ORDER + 1] = [0.0, -0.1850, -1.0 / 9.0, -0.0823, -0.0415, 0.0];

/// Tuning knobs of [`solve_with`]; [`BdfParams::default`] is what [`solve`] and `--method bdf`
/// use, [`BdfParams::SCIPY`] reproduces SciPy's policies.
///
/// Measured on the issue-#2 margin flow at n = 100 (`gstarve system --random 100 --seed 1
/// --spectrum 10:0.1`, λ = 0.01, τ ≤ 1000, requested rtol 1e−8 / atol 1e−10, so margin
/// tolerances 1e−9 / 1e−11; error: max over the 1001 points of |z − z_ref|, z_ref from the
/// automatic choice at rtol 1e−12). The rows below the first two are Newton-only (functional
/// iteration off) with LU, as before functional iteration and the Cholesky path existed:
///
/// | variant                                          | steps (+rej) | f    | J  | LU   | error  |
/// |--------------------------------------------------|--------------|------|----|------|--------|
/// | default (functional while c·ρ ≤ 0.2, Cholesky)   | 691 + 8      | 774  | 10 | 38   | 4.5e−8 |
/// | functional while c·ρ ≤ 0.5                       | 714 + 16     | 841  | 9  | 39   | 4.5e−8 |
/// | Newton only (CVODE test, J/M ages 50/20, 30 %)   | 705 + 14     | 831  | 15 | 63   | 4.2e−8 |
/// | SciPy's Newton test, stale M within 30 %         | 771 + 0      | 2194 | 35 | 65   | 5.0e−8 |
/// | refactor on every change of c                    | 670 + 3      | 910  | 14 | 146  | 9.7e−8 |
/// | stale M within 50 %                              | 764 + 42     | 939  | 16 | 69   | 5.5e−8 |
/// | no forced refactorisation (M age ∞)              | 719 + 17     | 834  | 15 | 57   | 4.2e−8 |
/// | J only after Newton failures (J age ∞)           | 2313 + 74    | 4385 | 2  | 184  | 1.5e−7 |
/// | [`BdfParams::SCIPY`] (all of SciPy's policies)   | 786 + 0      | 2359 | 5  | 155  | 5.6e−8 |
///
/// SciPy's Newton test needs two evaluations per step at least and, with its tolerance
/// √rtol, re-evaluates J more often; CVODE's test needs the periodic J refresh (with a J from
/// τ = 0 the iteration converges slowly and the steps shrink). Functional iteration changes the
/// error only within the run-to-run spread of the step sequence (the Cholesky path gives the
/// same step sequence as LU here).
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
    /// whereas `refactor_ratio = 0` refactorises there; the LU count of the "refactor on every
    /// change of c" row in the table above is therefore higher than SciPy's would be.
    pub const SCIPY: BdfParams = BdfParams {
        refactor_ratio: 0.0,
        max_factor: 10.0,
        min_factor: 0.2,
        newton: NewtonTest::Scipy,
        jacobian_max_age: u64::MAX,
        lu_max_age: u64::MAX,
        functional_max_rate: 0.0,
    };
}

impl BdfParams {
    /// gstarve's defaults: CVODE's Newton test and refresh ages, a stale factorisation kept
    /// within 30 % of c, functional iteration while c·ρ ≤ 0.2 (the table above).
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

/// `compute_R(order, factor)` of `bdf.py`: R_ij = Π_{m=1}^{i} (m − 1 − r·j)/m (row 0 all ones).
fn compute_r(order: usize, factor: f64) -> [[f64; MAX_ORDER + 1]; MAX_ORDER + 1] {
    let mut r = [[0.0; MAX_ORDER + 1]; MAX_ORDER + 1];
    r[0][..=order].fill(1.0);
    for i in 1..=order {
        for j in 1..=order {
            r[i][j] = r[i - 1][j] * ((i - 1) as f64 - factor * j as f64) / i as f64;
        }
    }
    r
}

/// The integrator's preallocated state.
struct State<'p, P: OdeProblem + ?Sized> {
    problem: &'p P,
    n: usize,
    params: BdfParams,
    /// ρ ≥ ‖∂f/∂y‖ ([`OdeProblem::spectral_bound`]), for [`BdfParams::functional_max_rate`];
    /// ∞ (never functional) below [`FUNCTIONAL_MIN_DIM`].
    jac_bound: f64,
    /// α_k = (1 − κ_k)γ_k, γ_k, and the error constants κ_kγ_k + 1/(k+1).
    alpha: [f64; MAX_ORDER + 1],
    gamma: [f64; MAX_ORDER + 1],
    error_const: [f64; MAX_ORDER + 1],
    /// Backward differences D⁰ … D⁷, row j at `j·n .. (j+1)·n`.
    diffs: Vec<f64>,
    /// Scratch copy of D⁰ … D^k for [`Self::change_d`].
    diffs_old: Vec<f64>,
    order: usize,
    h_abs: f64,
    n_equal_steps: usize,
    jac: DMatrix<f64>,
    /// J = −K·diag(`gram_d`) − μI when the problem says so ([`OdeProblem::gram_jacobian`]):
    /// (K, μ), and d at the Jacobian's state; M is then factorised by Cholesky.
    gram: Option<(&'p DMatrix<f64>, f64)>,
    gram_d: Vec<f64>,
    lu: LuSolver<0>,
    /// The c of the current factorisation (NaN: none).
    lu_c: f64,
    /// Newton convergence rate estimate carried between steps ([`NewtonTest::Cvode`]).
    conv_rate: f64,
    /// The functional iteration's observed contraction rate per unit c (the rate of the fixed
    /// point map is ≈ c‖J‖ in the weighted norm): ∞ until a second iteration has been observed,
    /// then max(0.3·previous, observed ratio / c) at every observation, CVODE's carried
    /// `crate` update, rescaled to the step's c so that a growing step cannot inherit the
    /// small rate of a shorter one.
    functional_rate_per_c: f64,
    /// Accepted steps since the last Jacobian and the last factorisation.
    jac_age: u64,
    lu_age: u64,
    y_predict: Vec<f64>,
    psi: Vec<f64>,
    scale: Vec<f64>,
    y_new: Vec<f64>,
    /// The Newton correction sum d = y₁ − y₁⁽⁰⁾.
    d: Vec<f64>,
    f: Vec<f64>,
    dy: Vec<f64>,
    stats: SolverStats,
}

/// RMS of x_i / scale_i.
fn norm(x: &[f64], scale: &[f64]) -> f64 {
    // Four running sums, so that the additions need not wait for each other (and vectorise).
    let split = x.len() / 4 * 4;
    let mut acc = [0.0f64; 4];
    for (xs, ss) in x[..split]
        .chunks_exact(4)
        .zip(scale[..split].chunks_exact(4))
    {
        for k in 0..4 {
            let q = xs[k] / ss[k];
            acc[k] += q * q;
        }
    }
    let tail: f64 = x[split..]
        .iter()
        .zip(&scale[split..])
        .map(|(a, s)| (a / s) * (a / s))
        .sum();
    let sum = (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail;
    (sum / x.len() as f64).sqrt()
}

impl<'p, P: OdeProblem + ?Sized> State<'p, P> {
    fn new(problem: &'p P, params: BdfParams) -> Self {
        let n = problem.dim();
        let mut gamma = [0.0; MAX_ORDER + 1];
        for k in 1..=MAX_ORDER {
            gamma[k] = gamma[k - 1] + 1.0 / k as f64;
        }
        let alpha = std::array::from_fn(|k| (1.0 - KAPPA[k]) * gamma[k]);
        let error_const = std::array::from_fn(|k| KAPPA[k] * gamma[k] + 1.0 / (k + 1) as f64);
        Self {
            problem,
            n,
            params,
            jac_bound: if n >= FUNCTIONAL_MIN_DIM {
                problem.spectral_bound()
            } else {
                f64::INFINITY
            },
            alpha,
            gamma,
            error_const,
            diffs: vec![0.0; ROWS * n],
            diffs_old: vec![0.0; (MAX_ORDER + 1) * n],
            order: 1,
            h_abs: 0.0,
            n_equal_steps: 0,
            jac: DMatrix::zeros(n, n),
            gram: None,
            gram_d: vec![0.0; n],
            lu: LuSolver::new(n),
            lu_c: f64::NAN,
            conv_rate: 1.0,
            functional_rate_per_c: f64::INFINITY,
            jac_age: 0,
            lu_age: 0,
            y_predict: vec![0.0; n],
            psi: vec![0.0; n],
            scale: vec![0.0; n],
            y_new: vec![0.0; n],
            d: vec![0.0; n],
            f: vec![0.0; n],
            dy: vec![0.0; n],
            stats: SolverStats {
                solver: NAME.to_string(),
                ..SolverStats::default()
            },
        }
    }

    /// Row j of the differences.
    fn row(&self, j: usize) -> &[f64] {
        &self.diffs[j * self.n..(j + 1) * self.n]
    }

    /// f ← f(y_new).
    fn eval_rhs(&mut self) {
        self.stats.rhs_evals += 1;
        self.problem.rhs(&self.y_new, &mut self.f);
    }

    /// J ← J(y) (and its Gram form, if the problem has one); the factorisation is out of date.
    fn eval_jacobian(&mut self, y: &[f64]) {
        self.stats.jacobian_evals += 1;
        self.problem.jacobian(y, &mut self.jac);
        self.gram = self.problem.gram_jacobian(y, &mut self.gram_d);
        self.lu_c = f64::NAN;
    }

    /// J ← J(y₁⁽⁰⁾); the factorisation is out of date.
    fn jacobian_at_predictor(&mut self) {
        let y = std::mem::take(&mut self.y_predict);
        self.eval_jacobian(&y);
        self.y_predict = y;
        self.jac_age = 0;
    }

    /// Rescale the differences of the current order for a step size changed by `factor`.
    fn change_d(&mut self, factor: f64) {
        let k = self.order;
        let r = compute_r(k, factor);
        let u = compute_r(k, 1.0);
        let mut ru = [[0.0; MAX_ORDER + 1]; MAX_ORDER + 1];
        for i in 0..=k {
            for j in 0..=k {
                ru[i][j] = (0..=k).map(|m| r[i][m] * u[m][j]).sum();
            }
        }
        // D^col ← Σ_j (RU)_{j,col} D^j, a row at a time from a copy of the old rows.
        let n = self.n;
        let rows = (k + 1) * n;
        self.diffs_old[..rows].copy_from_slice(&self.diffs[..rows]);
        for col in 0..=k {
            let out = &mut self.diffs[col * n..(col + 1) * n];
            let coef = ru[0][col];
            for (o, &d0) in out.iter_mut().zip(&self.diffs_old[..n]) {
                *o = coef * d0;
            }
            for j in 1..=k {
                let coef = ru[j][col];
                for (o, &dj) in out.iter_mut().zip(&self.diffs_old[j * n..(j + 1) * n]) {
                    *o += coef * dj;
                }
            }
        }
    }

    /// Simplified Newton iterations for the step to y₁ with c = h/α_k (`solve_bdf_system` of
    /// `bdf.py`). Leaves y₁ in `y_new` and d in `d`; returns (converged, iterations).
    fn newton(&mut self, c: f64, tol: f64) -> (bool, usize) {
        self.y_new.copy_from_slice(&self.y_predict);
        self.d.fill(0.0);
        let rc = c / self.lu_c;
        // Corrections solved with a stale M are scaled by 2/(1 + c/c_M) (CVODE).
        let correction = if rc == 1.0 { 1.0 } else { 2.0 / (1.0 + rc) };
        let inv_lu_c = 1.0 / self.lu_c;
        let mut dy_norm_old: Option<f64> = None;
        for k in 0..NEWTON_MAXITER {
            self.eval_rhs();
            if !self.f.iter().all(|v| v.is_finite()) {
                return (false, k + 1);
            }
            for i in 0..self.n {
                self.dy[i] = (c * self.f[i] - self.psi[i] - self.d[i]) * inv_lu_c;
            }
            // M_M = c_M (I/c_M − J): the LU holds I/c_M − J.
            self.lu.solve(&mut self.dy);
            if correction != 1.0 {
                self.dy.iter_mut().for_each(|v| *v *= correction);
            }
            let dy_norm = norm(&self.dy, &self.scale);
            if !dy_norm.is_finite() {
                return (false, k + 1);
            }
            let rate = dy_norm_old.map(|old| dy_norm / old);
            if let NewtonTest::Cvode { .. } = self.params.newton {
                if let Some(rate) = rate {
                    if rate > 2.0 {
                        return (false, k + 1);
                    }
                    self.conv_rate = (0.3 * self.conv_rate).max(rate);
                }
                self.add_correction();
                if dy_norm * self.conv_rate.min(1.0) <= tol {
                    return (true, k + 1);
                }
                dy_norm_old = Some(dy_norm);
                continue;
            }
            if let Some(rate) = rate {
                if rate >= 1.0
                    || rate.powi((NEWTON_MAXITER - k) as i32) / (1.0 - rate) * dy_norm > tol
                {
                    return (false, k + 1);
                }
            }
            self.add_correction();
            if dy_norm == 0.0 || rate.is_some_and(|r| r / (1.0 - r) * dy_norm < tol) {
                return (true, k + 1);
            }
            dy_norm_old = Some(dy_norm);
        }
        (false, NEWTON_MAXITER)
    }

    /// Fixed-point iterations d ← c f(y₁⁽⁰⁾ + d) − ψ for the step with c = h/α_k, with the stop
    /// and give-up rules of [`NewtonTest::Cvode`] and as convergence rate the larger of c·ρ
    /// (ρ ≥ ‖∂f/∂y‖₂) and c times the carried rate per unit c (1 before any observation, as
    /// CVODE starts), so that neither a weighted norm the bound does not cover nor a wrong
    /// bound lets a first correction pass unchecked. Leaves y₁ in `y_new` and d in `d`;
    /// returns (converged, iterations).
    fn functional(&mut self, c: f64, tol: f64) -> (bool, usize) {
        self.y_new.copy_from_slice(&self.y_predict);
        self.d.fill(0.0);
        let carried = (c * self.functional_rate_per_c).min(1.0);
        let mut rate = (c * self.jac_bound).max(carried);
        let mut dy_norm_old: Option<f64> = None;
        for k in 0..NEWTON_MAXITER {
            self.eval_rhs();
            if !self.f.iter().all(|v| v.is_finite()) {
                return (false, k + 1);
            }
            for i in 0..self.n {
                self.dy[i] = c * self.f[i] - self.psi[i] - self.d[i];
            }
            let dy_norm = norm(&self.dy, &self.scale);
            if !dy_norm.is_finite() {
                return (false, k + 1);
            }
            if let Some(old) = dy_norm_old {
                let observed = dy_norm / old;
                if observed > 2.0 {
                    return (false, k + 1);
                }
                let per_c = observed / c;
                self.functional_rate_per_c = if self.functional_rate_per_c.is_finite() {
                    (0.3 * self.functional_rate_per_c).max(per_c)
                } else {
                    per_c
                };
                rate = rate.max(observed);
            }
            self.add_correction();
            if dy_norm * rate.min(1.0) <= tol {
                return (true, k + 1);
            }
            dy_norm_old = Some(dy_norm);
        }
        (false, NEWTON_MAXITER)
    }

    /// Newton ([`Self::newton`]) for the step with c = h/α_k, refreshing what is stale before
    /// giving up: after a failure with an old Jacobian, a new one at the predictor (and
    /// `current_jac` set); after a failure with a current Jacobian but an M factorised at
    /// another c, a factorisation at this c. Returns (converged, iterations).
    fn newton_until_settled(&mut self, c: f64, tol: f64, current_jac: &mut bool) -> (bool, usize) {
        loop {
            let (converged, iterations) = if self.ensure_lu(c) {
                self.newton(c, tol)
            } else {
                (false, 0)
            };
            if converged {
                return (true, iterations);
            }
            if !*current_jac {
                // Newton failed with an old Jacobian: a new one at the predictor.
                self.jacobian_at_predictor();
                *current_jac = true;
            } else if c != self.lu_c && self.lu_c.is_finite() {
                // Current Jacobian but a stale M: factorise at this c before giving up.
                self.lu_c = f64::NAN;
            } else {
                return (false, iterations);
            }
        }
    }

    /// y₁ += Δ, d += Δ.
    fn add_correction(&mut self) {
        for i in 0..self.n {
            self.y_new[i] += self.dy[i];
            self.d[i] += self.dy[i];
        }
    }

    /// Factorise M for c if there is no factorisation or its c is too far from this one.
    fn ensure_lu(&mut self, c: f64) -> bool {
        // NaN (no factorisation) compares false: refactorise.
        let keep = ((c / self.lu_c) - 1.0).abs() <= self.params.refactor_ratio;
        if !keep {
            self.stats.lu_factorisations += 1;
            // M/c = (1/c + μ)I + K·diag(d) by Cholesky where the structure allows, else LU.
            let by_gram = self
                .gram
                .is_some_and(|(k, mu)| self.lu.factor_gram(k, &self.gram_d, 1.0 / c + mu));
            if !by_gram && !self.lu.factor(&self.jac, 1.0 / c) {
                self.lu_c = f64::NAN;
                return false;
            }
            self.lu_c = c;
            self.lu_age = 0;
            self.conv_rate = 1.0;
        }
        true
    }

    /// One accepted step from τ = t towards `t_end` (`_step_impl` of `bdf.py`); returns τ₁.
    fn step(
        &mut self,
        t: f64,
        t_end: f64,
        rtol: f64,
        atol: f64,
        newton_tol: f64,
    ) -> Result<f64, StepFailure> {
        let n = self.n;
        let fail = |reason: String| StepFailure::failed(t, reason);
        let min_step = 10.0 * (f64::from_bits(t.to_bits() + 1) - t);
        if self.h_abs < min_step {
            self.change_d(min_step / self.h_abs);
            self.h_abs = min_step;
            self.n_equal_steps = 0;
        }
        let mut current_jac = false;
        let mut h_abs = self.h_abs;
        loop {
            if self.stats.steps_accepted + self.stats.steps_rejected >= MAX_STEPS {
                return Err(fail(format!(
                    "more than {MAX_STEPS} steps needed before τ_end = {t_end}"
                )));
            }
            if h_abs < min_step || h_abs.is_nan() {
                return Err(fail(format!(
                    "step size {h_abs:.3e} below the minimum {min_step:.3e} \
                     (Newton or the error test keeps failing)"
                )));
            }
            let mut t_new = t + h_abs;
            if t_new > t_end {
                t_new = t_end;
                self.change_d((t_new - t) / h_abs);
                self.n_equal_steps = 0;
            }
            let h = t_new - t;
            h_abs = h;
            let k = self.order;
            // y₁⁽⁰⁾ = Σ_{j≤k} D^j y₀ and ψ = Σ_{j≤k} γ_j D^j y₀ / α_k, a row at a time.
            self.y_predict.copy_from_slice(&self.diffs[..n]);
            self.psi.fill(0.0);
            for j in 1..=k {
                let g = self.gamma[j];
                let row = &self.diffs[j * n..(j + 1) * n];
                for ((yp, ps), &dj) in self.y_predict.iter_mut().zip(&mut self.psi).zip(row) {
                    *yp += dj;
                    *ps += g * dj;
                }
            }
            let alpha = self.alpha[k];
            for ((ps, s), &yp) in self
                .psi
                .iter_mut()
                .zip(&mut self.scale)
                .zip(&self.y_predict)
            {
                *ps /= alpha;
                *s = atol + rtol * yp.abs();
            }
            let c = h / self.alpha[k];
            let newton_tol = match self.params.newton {
                NewtonTest::Scipy => newton_tol,
                NewtonTest::Cvode { coef } => coef / self.error_const[k],
            };
            // Non-stiff at this step size: fixed-point iterations, no Jacobian or LU.
            let (converged, iterations) = if self.params.functional_max_rate > 0.0
                && c * self.jac_bound <= self.params.functional_max_rate
            {
                self.functional(c, newton_tol)
            } else {
                (false, 0)
            };
            if !converged && self.jac_age >= self.params.jacobian_max_age && !current_jac {
                self.jacobian_at_predictor();
                current_jac = true;
            }
            if !converged && self.lu_age >= self.params.lu_max_age {
                self.lu_c = f64::NAN;
            }
            let (converged, iterations) = if converged {
                (true, iterations)
            } else {
                self.newton_until_settled(c, newton_tol, &mut current_jac)
            };
            if !converged {
                self.stats.steps_rejected += 1;
                h_abs *= 0.5;
                self.change_d(0.5);
                self.n_equal_steps = 0;
                continue;
            }
            let safety =
                0.9 * (2 * NEWTON_MAXITER + 1) as f64 / (2 * NEWTON_MAXITER + iterations) as f64;
            for i in 0..n {
                self.scale[i] = atol + rtol * self.y_new[i].abs();
            }
            let error_norm = self.error_const[k] * norm(&self.d, &self.scale);
            // A NaN error norm (non-finite y₁) is a failed test too.
            let passed = error_norm <= 1.0;
            if !passed {
                self.stats.steps_rejected += 1;
                let factor =
                    (safety * error_norm.powf(-1.0 / (k + 1) as f64)).max(self.params.min_factor);
                h_abs *= factor;
                self.change_d(factor);
                self.n_equal_steps = 0;
                continue;
            }
            self.stats.steps_accepted += 1;
            self.jac_age += 1;
            self.lu_age += 1;
            self.n_equal_steps += 1;
            self.h_abs = h_abs;
            // D^{k+2} = d − D^{k+1}, D^{k+1} = d, D^j += D^{j+1} for j = k … 0 (row by row).
            {
                let (lower, upper) = self.diffs.split_at_mut((k + 2) * n);
                let next = &mut lower[(k + 1) * n..];
                for ((top, nx), &d) in upper[..n].iter_mut().zip(next.iter_mut()).zip(&self.d) {
                    *top = d - *nx;
                    *nx = d;
                }
            }
            for j in (0..=k).rev() {
                let (lower, upper) = self.diffs.split_at_mut((j + 1) * n);
                for (dj, &dj1) in lower[j * n..].iter_mut().zip(&upper[..n]) {
                    *dj += dj1;
                }
            }
            if self.n_equal_steps < k + 1 {
                return Ok(t_new);
            }
            let error_m_norm = if k > 1 {
                self.error_const[k - 1] * norm(self.row(k), &self.scale)
            } else {
                f64::INFINITY
            };
            let error_p_norm = if k < MAX_ORDER {
                self.error_const[k + 1] * norm(self.row(k + 2), &self.scale)
            } else {
                f64::INFINITY
            };
            let factors = [
                error_m_norm.powf(-1.0 / k as f64),
                error_norm.powf(-1.0 / (k + 1) as f64),
                error_p_norm.powf(-1.0 / (k + 2) as f64),
            ];
            // The first maximum, as numpy's argmax.
            let mut best = 0;
            for (i, &f) in factors.iter().enumerate() {
                if f > factors[best] {
                    best = i;
                }
            }
            self.order = k + best - 1;
            let factor = (safety * factors[best]).min(self.params.max_factor);
            self.h_abs *= factor;
            self.change_d(factor);
            self.n_equal_steps = 0;
            return Ok(t_new);
        }
    }

    /// The interpolating polynomial of the last step (ending at τ₁ = `t`) at `tau`, into `out`.
    fn dense(&self, t: f64, tau: f64, out: &mut [f64]) {
        let h = self.h_abs;
        let mut p = [0.0; MAX_ORDER + 1];
        let mut prod = 1.0;
        for (m, pj) in p[1..=self.order].iter_mut().enumerate() {
            prod *= (tau - (t - h * m as f64)) / (h * (m + 1) as f64);
            *pj = prod;
        }
        out.copy_from_slice(self.row(0));
        for (j, &pj) in p.iter().enumerate().take(self.order + 1).skip(1) {
            for (o, &dj) in out.iter_mut().zip(self.row(j)) {
                *o += pj * dj;
            }
        }
    }

    /// SciPy's `select_initial_step` for order 1; `f` holds f(y₀), `y_new` is scratch.
    fn initial_step(&mut self, y0: &[f64], t_end: f64, rtol: f64, atol: f64) -> f64 {
        for (s, &y) in self.scale.iter_mut().zip(y0) {
            *s = atol + rtol * y.abs();
        }
        let d0 = norm(y0, &self.scale);
        let d1 = norm(&self.f, &self.scale);
        let h0 = if d0 < 1e-5 || d1 < 1e-5 {
            1e-6
        } else {
            0.01 * d0 / d1
        }
        .min(t_end);
        for i in 0..self.n {
            self.y_new[i] = y0[i] + h0 * self.f[i];
        }
        // f(y₀) waits in `psi` while f(y₀ + h₀f(y₀)) is evaluated.
        self.psi.copy_from_slice(&self.f);
        self.eval_rhs();
        for i in 0..self.n {
            self.dy[i] = self.f[i] - self.psi[i];
        }
        self.f.copy_from_slice(&self.psi);
        let d2 = norm(&self.dy, &self.scale) / h0;
        let h1 = if d1 <= 1e-15 && d2 <= 1e-15 {
            (h0 * 1e-3).max(1e-6)
        } else {
            (0.01 / d1.max(d2)).sqrt()
        };
        (100.0 * h0).min(h1).min(t_end)
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
    bdf.eval_jacobian(y0);
    let newton_tol = (10.0 * f64::EPSILON / rtol).max(0.03f64.min(rtol.sqrt()));
    let mut t = 0.0;
    while t < t_end {
        let t_new = bdf.step(t, t_end, rtol, atol, newton_tol)?;
        output.record_step(t_new, t_new >= t_end, &bdf.y_new, |tau, out| {
            bdf.dense(t_new, tau, out)
        });
        t = t_new;
    }
    stats.absorb(&bdf.stats);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::error::{InputError, NumericalError};
    use crate::model::{DualDynamics, Loss, MarginFlow, PrimalDynamics, Regulariser};
    use crate::ode::test_problems::integrate_with;
    use crate::ode::test_problems::{max_abs_diff, BlowUp, Linear};
    use crate::ode::{uniform_times as output_grid, OdeSolution};
    use crate::solvers::steady::steady_state;
    use crate::systems::FeatureSystem;
    use nalgebra::DVector;

    const METHOD: Bdf = Bdf {
        params: BdfParams::DEFAULT,
    };

    /// The method on an even grid (the suites' shorthand).
    fn solve(
        problem: &(impl OdeProblem + ?Sized),
        y0: &DVector<f64>,
        t_end: f64,
        points: usize,
        rtol: f64,
        atol: f64,
    ) -> crate::error::Result<crate::ode::OdeSolution> {
        integrate_with(&METHOD, problem, y0, t_end, points, rtol, atol)
    }

    /// dy/dt = A y with eigenvalues −1 and −1000 on non-orthogonal eigenvectors, and its exact
    /// solution Q e^{Λt} Q⁻¹ y₀.
    fn stiff_linear() -> (Linear, impl Fn(f64) -> DVector<f64>) {
        let q = DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 0.5, -1.0]);
        let qi = q.clone().try_inverse().unwrap();
        let mu = [-1.0, -1000.0];
        let a = &q * DMatrix::from_diagonal(&DVector::from_column_slice(&mu)) * &qi;
        let y0 = DVector::from_vec(vec![1.0, 2.0]);
        let exact = move |t: f64| {
            let decay = DVector::from_iterator(2, mu.iter().map(|m| (m * t).exp()));
            &q * DMatrix::from_diagonal(&decay) * &qi * &y0
        };
        (Linear { a }, exact)
    }

    /// Max over the grid of |y − y_exact| relative to max(|y_exact|, atol/rtol).
    fn relative_error(sol: &OdeSolution, exact: &impl Fn(f64) -> DVector<f64>, floor: f64) -> f64 {
        sol.tau
            .iter()
            .zip(&sol.states)
            .map(|(&t, y)| {
                let e = exact(t);
                max_abs_diff(y, &e) / (e.amax() + floor)
            })
            .fold(0.0, |m: f64, e: f64| {
                if m.is_nan() || e.is_nan() {
                    f64::NAN
                } else {
                    m.max(e)
                }
            })
    }

    #[test]
    fn stiff_linear_system_matches_the_matrix_exponential() {
        let (problem, exact) = stiff_linear();
        let y0 = exact(0.0);
        let (rtol, atol) = (1e-8, 1e-12);
        let sol = solve(&problem, &y0, 5.0, 101, rtol, atol).unwrap();
        assert_eq!(sol.tau, output_grid(5.0, 101));
        assert_eq!(sol.states.len(), 101);
        assert_eq!(&sol.states[0], y0.as_slice());
        let err = relative_error(&sol, &exact, atol / rtol);
        assert!(err < 100.0 * rtol, "relative error {err:.3e}");
        let s = &sol.stats;
        assert_eq!(s.solver, "bdf");
        assert!(s.wall_s > 0.0);
        // Stiff: far fewer steps than an explicit method (h < 2/1000 → > 2500 steps).
        assert!(s.steps_accepted < 400, "{s:?}");
        // f(y₀) and the initial-step probe, then at least one evaluation per attempt; J at y₀
        // and a factorisation before the first step; no more LUs than attempts plus J's.
        let attempts = s.steps_accepted + s.steps_rejected;
        assert!(s.rhs_evals >= 2 + attempts, "{s:?}");
        assert!(s.rhs_evals <= 2 + NEWTON_MAXITER as u64 * (attempts + s.jacobian_evals));
        assert!(s.jacobian_evals >= 1 && s.lu_factorisations >= s.jacobian_evals);
        assert!(s.lu_factorisations <= attempts + s.jacobian_evals, "{s:?}");
    }

    /// The global error follows the tolerance: over six decades of rtol it shrinks by at
    /// least four decades and stays below 100·rtol.
    #[test]
    fn global_error_scales_with_the_tolerance() {
        let (problem, exact) = stiff_linear();
        let y0 = exact(0.0);
        let mut errors = Vec::new();
        for rtol in [1e-4, 1e-6, 1e-8, 1e-10] {
            let sol = solve(&problem, &y0, 5.0, 51, rtol, rtol * 1e-3).unwrap();
            let err = relative_error(&sol, &exact, 1e-3);
            assert!(err < 100.0 * rtol, "rtol {rtol:.0e}: error {err:.3e}");
            errors.push(err);
        }
        println!("errors {errors:?}");
        for w in errors.windows(2) {
            assert!(w[1] < 0.2 * w[0], "errors {errors:?}");
        }
        assert!(errors[3] < 1e-4 * errors[0], "errors {errors:?}");
    }

    /// The issue-#2 benchmark flow in margin space (`--random n --seed 1 --spectrum 10:0.1`,
    /// logistic loss, L2 with λ = 0.01).
    fn benchmark_flow(n: usize) -> MarginFlow {
        let sys = FeatureSystem::random(
            n,
            crate::systems::Spectrum::Geometric {
                from: 10.0,
                to: 0.1,
            },
            1,
        )
        .unwrap();
        let d =
            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
        MarginFlow::new(&d)
    }

    /// SciPy's policies reach the same answer with more LU factorisations.
    #[test]
    fn scipy_policies_agree_and_factorise_more() {
        let flow = benchmark_flow(10);
        let m0 = DVector::zeros(10);
        let ours = solve(&flow, &m0, 1000.0, 101, 1e-9, 1e-11).unwrap();
        let scipy = integrate_with(
            &Bdf {
                params: BdfParams::SCIPY,
            },
            &flow,
            &m0,
            1000.0,
            101,
            1e-9,
            1e-11,
        )
        .unwrap();
        let worst = max_deviation(&ours, &scipy);
        assert!(worst < 1e-6, "max deviation {worst:.3e}");
        let (a, b) = (&ours.stats, &scipy.stats);
        assert!(
            2 * a.lu_factorisations < b.lu_factorisations,
            "{a:?} vs {b:?}"
        );
        assert!(a.rhs_evals < b.rhs_evals, "{a:?} vs {b:?}");
    }

    /// A problem with its Gram structure hidden, or its spectral bound replaced: the same
    /// flow solved by the LU path, or with functional iteration tried at every step.
    struct Masked<'a, P: OdeProblem> {
        inner: &'a P,
        bound: Option<f64>,
    }

    impl<P: OdeProblem> OdeProblem for Masked<'_, P> {
        fn dim(&self) -> usize {
            self.inner.dim()
        }
        fn rhs(&self, y: &[f64], dy: &mut [f64]) {
            self.inner.rhs(y, dy);
        }
        fn jacobian(&self, y: &[f64], jac: &mut DMatrix<f64>) {
            self.inner.jacobian(y, jac);
        }
        fn spectral_bound(&self) -> f64 {
            self.bound.unwrap_or_else(|| self.inner.spectral_bound())
        }
    }

    fn max_deviation(a: &OdeSolution, b: &OdeSolution) -> f64 {
        a.states
            .iter()
            .zip(&b.states)
            .map(|(x, y)| max_abs_diff(x, y))
            .fold(0.0, |m: f64, e: f64| {
                if m.is_nan() || e.is_nan() {
                    f64::NAN
                } else {
                    m.max(e)
                }
            })
    }

    /// On the issue-#2 margin flow at n = 48 (≥ the LU module's faer size, so the Cholesky path
    /// applies), the default solve — functional iteration while c·ρ ≤ 0.2, Cholesky of the
    /// Gram form — agrees with the plain-Newton, plain-LU solve to the tolerance's order and
    /// with a tight reference, with fewer factorisations.
    #[test]
    fn functional_iteration_and_cholesky_agree_with_newton_and_lu() {
        let flow = benchmark_flow(48);
        let m0 = DVector::zeros(48);
        let (rtol, atol) = (1e-9, 1e-11);
        let reference = solve(&flow, &m0, 1000.0, 101, 1e-12, 1e-14).unwrap();
        let ours = solve(&flow, &m0, 1000.0, 101, rtol, atol).unwrap();
        let plain_params = BdfParams {
            functional_max_rate: 0.0,
            ..BdfParams::default()
        };
        let lu_only = Masked {
            inner: &flow,
            bound: None,
        };
        let plain = integrate_with(
            &Bdf {
                params: plain_params,
            },
            &lu_only,
            &m0,
            1000.0,
            101,
            rtol,
            atol,
        )
        .unwrap();
        let e_ours = max_deviation(&ours, &reference);
        let e_plain = max_deviation(&plain, &reference);
        println!("errors: default {e_ours:.3e}, Newton + LU {e_plain:.3e}");
        assert!(
            e_ours < 1e-6 && e_plain < 1e-6,
            "{e_ours:.3e} {e_plain:.3e}"
        );
        assert!(e_ours < 3.0 * e_plain, "{e_ours:.3e} vs {e_plain:.3e}");
        let (a, b) = (&ours.stats, &plain.stats);
        println!("default {a:?}\nNewton + LU {b:?}");
        assert!(
            a.lu_factorisations * 4 < b.lu_factorisations * 3,
            "{a:?} vs {b:?}"
        );
        assert!(a.jacobian_evals < b.jacobian_evals, "{a:?} vs {b:?}");
    }

    /// A spectral bound that lies (0: "never stiff") makes every step try functional iteration
    /// first. On the stiff linear system the iteration stops converging once h·1000 is no
    /// longer small; those attempts are handed to Newton (so factorisations happen), and the
    /// answer is as accurate as with the true bound: the convergence test does not rest on the
    /// bound being right. With functional iteration switched off the bound is not used at all.
    #[test]
    fn a_wrong_spectral_bound_costs_time_not_accuracy() {
        // 20 uncoupled copies of the stiff 2 × 2 system: n = 40 ≥ FUNCTIONAL_MIN_DIM.
        let copies = 20;
        let (block, exact_block) = stiff_linear();
        let mut a = DMatrix::zeros(2 * copies, 2 * copies);
        for c in 0..copies {
            a.view_mut((2 * c, 2 * c), (2, 2)).copy_from(&block.a);
        }
        let problem = Linear { a };
        let exact = move |t: f64| {
            let e = exact_block(t);
            DVector::from_fn(2 * copies, |i, _| e[i % 2])
        };
        assert!(problem.dim() >= FUNCTIONAL_MIN_DIM);
        let y0 = exact(0.0);
        let (rtol, atol) = (1e-8, 1e-12);
        let lying = Masked {
            inner: &problem,
            bound: Some(0.0),
        };
        let sol = solve(&lying, &y0, 5.0, 101, rtol, atol).unwrap();
        let err = relative_error(&sol, &exact, atol / rtol);
        assert!(err < 100.0 * rtol, "relative error {err:.3e}");
        let honest = solve(&problem, &y0, 5.0, 101, rtol, atol).unwrap();
        println!("lying {:?}\nhonest {:?}", sol.stats, honest.stats);
        assert!(sol.stats.lu_factorisations > 0, "{:?}", sol.stats);
        // functional_max_rate = 0 (SciPy's policy) never iterates functionally, whatever the
        // bound: the lying and the honest problem then take the very same steps.
        let off = BdfParams {
            functional_max_rate: 0.0,
            ..BdfParams::default()
        };
        let a = integrate_with(&Bdf { params: off }, &lying, &y0, 5.0, 101, rtol, atol).unwrap();
        let b = integrate_with(&Bdf { params: off }, &problem, &y0, 5.0, 101, rtol, atol).unwrap();
        assert_eq!(a.states, b.states);
        assert_eq!(
            (a.stats.rhs_evals, a.stats.lu_factorisations),
            (b.stats.rhs_evals, b.stats.lu_factorisations)
        );
    }

    #[test]
    fn dual_flow_ends_at_the_primal_steady_state() {
        let sys = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
        let l2 =
            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let star = steady_state(&l2).unwrap();
        let dual = DualDynamics::new(&l2).unwrap();
        let alpha0 = DVector::from_element(2, DualDynamics::DEFAULT_START);
        let sol = solve(&dual, &alpha0, 20.0, 201, 1e-11, 1e-15).unwrap();
        let alpha_end = sol.states.last().unwrap();
        assert!(alpha_end.iter().all(|&a| a > 0.0 && a < 1.0));
        let z = dual.responses(alpha_end);
        let err = max_abs_diff(&z, &star.responses);
        assert!(err < 1e-6, "dual z = {z}, primal z* = {}", star.responses);
    }

    #[test]
    fn failures_are_reported_not_returned() {
        let y0 = DVector::from_element(1, 1.0);
        match solve(&BlowUp, &y0, 2.0, 11, 1e-8, 1e-10).unwrap_err() {
            Error::Numerical(NumericalError::IntegrationFailed { solver, tau, .. }) => {
                assert_eq!(solver, "bdf");
                assert!(tau > 0.9 && tau <= 1.0 + 1e-6, "failed at τ = {tau}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let shape = solve(&BlowUp, &DVector::zeros(2), 1.0, 3, 1e-8, 1e-10);
        assert!(matches!(
            shape,
            Err(Error::Input(InputError::Length { .. }))
        ));
        let bad_tol = solve(&BlowUp, &y0, 0.5, 3, 0.0, 1e-10);
        assert!(matches!(
            bad_tol,
            Err(Error::Input(InputError::InvalidParameter {
                name: "rtol",
                ..
            }))
        ));
    }

    #[test]
    fn difference_rescaling_is_exact_for_polynomials() {
        // Backward differences of p(t) = t³ − 2t on the grid 0, −h, −2h, −3h, rescaled to
        // h' = 0.4h, equal the differences on 0, −h', −2h', −3h'.
        let p = |t: f64| t * t * t - 2.0 * t;
        let diffs = |h: f64| {
            let v: Vec<f64> = (0..4).map(|j| p(-h * j as f64)).collect();
            let d1: Vec<f64> = (0..3).map(|j| v[j] - v[j + 1]).collect();
            let d2: Vec<f64> = (0..2).map(|j| d1[j] - d1[j + 1]).collect();
            vec![v[0], d1[0], d2[0], d2[0] - d2[1]]
        };
        let (h, r) = (0.3, 0.4);
        let mut bdf = State::new(&BlowUp, BdfParams::default());
        bdf.order = 3;
        bdf.diffs[..4].copy_from_slice(&diffs(h));
        bdf.change_d(r);
        assert!(max_abs_diff(&bdf.diffs[..4], &diffs(r * h)[..]) < 1e-13);
    }
}
