//! Rodas4: a hand-written L-stable Rosenbrock method of order 4 with an embedded order-3
//! solution and a continuous (order-3) dense output, for the stiff flows of docs/theory.md §3.
//!
//! The margin flow dm/dτ = K[ψ(m) − λ_SD m] − λ_L2 m and the dual α-flow of docs/theory.md §3 are
//! stiff when the strengths are spread out (the Jacobian has eigenvalues from ≈ −λ down to
//! ≈ −(λ + s₁²/4)). A Rosenbrock method needs no Newton iteration: each step evaluates the
//! Jacobian once, factorises W = I/(hγ) − J once, and solves six linear systems with it. At
//! small n the whole step is a few hundred floating-point operations, so a hand-written solver
//! with preallocated stage vectors beats a general BDF code whose per-step cost is dominated by
//! bookkeeping on dynamic vectors (measured against diffsol's BDF, before gstarve had its own:
//! docs/benchmarks.md).
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
//! The coefficients below are those of Hairer's `rodas.f` (subroutine `RODCOE`, METH = 1),
//! identical to `Rodas4Tableau` in SciML's OrdinaryDiffEq.jl (`rosenbrock_tableaus.jl`) and to
//! `StepperRoss` of *Numerical Recipes* (3rd ed., §17.5); the order is checked empirically in the
//! tests (halving a fixed step divides the global error by ≈ 2⁴). Only autonomous problems are
//! handled, so the ∂f/∂t coefficients (c_i, d_i) are not needed.
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
//! W is factorised by partial-pivoting LU into a preallocated buffer: a plain column-major
//! Doolittle loop for n < [`FAER_LU_MIN_DIM`] (nalgebra's `lu()` takes its matrix by value and
//! allocates the factor and the permutation on every call), faer's blocked
//! `lu_in_place` with a preallocated stack from there on (`lu.rs`, shared with [`super::bdf`]). Nothing in the step loop allocates;
//! the output states go into one flat buffer sized up front ([`super::Trajectory`]). Dimensions 1–4 run a copy of the
//! integrator with n known at compile time.
//!
//! # Performance (release, best of 20, τ ∈ [0, 1000], 1001 points, rtol 1e−8, atol 1e−10,
//! logistic loss, λ = 0.01; a shared 2-core machine under full load from other builds)
//!
//! | margin flow                | Rodas4 ([`solve_margin`]) | Rodas4 ([`solve`]) | diffsol BDF |
//! |----------------------------|---------------------------|--------------------|-------------|
//! | n = 2, rotation(10, 0.1, 0.6) | 209 µs, 311 steps, err 1.9e−7 | 230 µs | 208 µs, 386 steps, err 4.5e−7 |
//! | n = 2, random (Haar)       | 220 µs, 325 steps, err 1.8e−7 | 245 µs | 213 µs, 396 steps, err 6.8e−7 |
//! | n = 100, random geometric  | 81 ms, 854 steps, err 4.5e−8  | 79 ms  | 9.1 ms, 526 steps, err 2.9e−7 |
//!
//! (err: max over the grid against BDF at rtol 1e−12.) At n = 2 Rodas4 is as fast as BDF and
//! 2.5–4× more accurate at the same tolerance, but it needs six right-hand sides per step
//! (BDF ≈ 1.2) and the 1001 output states alone cost ≈ 70 µs here (measured when each was its
//! own heap vector); at n = 100 one LU per step
//! (854 vs BDF's 37) makes it 9× slower. See `tests::timing`.

use nalgebra::DMatrix;

use super::lu::LuSolver;
use crate::ode::{Integrator, OdeProblem, Output, SolverStats, StepFailure, Tolerances};

/// The name reported in [`SolverStats::solver`] and in failures.
pub const NAME: &str = "rodas4";
/// Maximum number of step attempts (accepted + rejected) before a run gives up.
pub const MAX_STEPS: u64 = 1_000_000;
pub use super::lu::FAER_LU_MIN_DIM;
/// A step smaller than this times max(|τ|, 10⁻³·τ_end) is a failure.
const HMIN_REL: f64 = 1e-14;

// --- Rodas4 coefficients: Hairer's rodas.f, RODCOE with METH = 1 (see the module docs). ---
const GAMMA: f64 = 0.25;
/// a_ij, stage arguments y₀ + Σ a_ij k_j for stages 2 … 5 (row i−2).
const A: [[f64; 4]; 4] = [
    [1.544, 0.0, 0.0, 0.0],
    [0.946_678_528_081_582_6, 0.255_701_169_898_328_4, 0.0, 0.0],
    [
        3.314_825_187_068_521,
        2.896_124_015_972_201,
        0.998_641_913_997_781_7,
        0.0,
    ],
    [
        1.221_224_509_226_641,
        6.019_134_481_288_629,
        12.537_083_329_320_87,
        -0.687_886_036_105_895,
    ],
];
/// c_ij, the (c_ij/h) k_j terms of stages 2 … 6 (row i−2).
const C: [[f64; 5]; 5] = [
    [-5.6688, 0.0, 0.0, 0.0, 0.0],
    [
        -2.430_093_356_833_875,
        -0.206_359_915_709_191_5,
        0.0,
        0.0,
        0.0,
    ],
    [
        -0.107_352_905_815_137_5,
        -9.594_562_251_023_355,
        -20.470_286_148_096_16,
        0.0,
        0.0,
    ],
    [
        7.496_443_313_967_647,
        -10.246_804_314_643_52,
        -33.999_903_528_199_05,
        11.708_908_932_061_6,
        0.0,
    ],
    [
        8.083_246_795_921_522,
        -7.981_132_988_064_893,
        -31.521_594_328_743_71,
        16.319_305_431_231_36,
        -6.058_818_238_834_054,
    ],
];
/// Dense output: h_2j (first row) and h_3j (second row), j = 1 … 5.
const H: [[f64; 5]; 2] = [
    [
        10.126_235_083_445_86,
        -7.487_995_877_610_167,
        -34.800_918_615_557_47,
        -7.992_771_707_568_823,
        1.025_137_723_295_662,
    ],
    [
        -0.676_280_339_280_125_3,
        6.087_714_651_680_015,
        16.430_843_208_924_78,
        24.767_225_114_183_86,
        -6.594_389_125_716_872,
    ],
];
/// Order of the method (for the initial step and the controller exponent 1/(q+1) with q = 3).
const ORDER: i32 = 4;
/// Step-size controller (rodas.f defaults): safety factor, smallest and largest change.
const SAFE: f64 = 0.9;
const FAC_MIN: f64 = 0.2;
const FAC_MAX: f64 = 6.0;

/// Why a step attempt could not produce an error estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Breakdown {
    /// W = I/(hγ) − J is singular.
    Singular,
    /// A stage or the new state is not finite.
    NonFinite,
}

/// The integrator's preallocated state.
struct Rodas<'p, P: OdeProblem + ?Sized, const N: usize> {
    problem: &'p P,
    n: usize,
    jac: DMatrix<f64>,
    lu: LuSolver<N>,
    /// Stages k₁ … k₆, each n long, one after the other.
    k: Vec<f64>,
    /// f(y₀) at the start of the current step.
    f0: Vec<f64>,
    /// Stage argument / embedded solution ŷ₁.
    arg: Vec<f64>,
    /// f at a stage argument.
    fval: Vec<f64>,
    /// The new state y₁.
    ynew: Vec<f64>,
    stats: SolverStats,
}

impl<'p, P: OdeProblem + ?Sized, const N: usize> Rodas<'p, P, N> {
    /// The dimension: the compile-time N when N > 0 (so that the loops unroll), else n.
    #[inline(always)]
    fn dim(&self) -> usize {
        if N > 0 {
            N
        } else {
            self.n
        }
    }

    fn new(problem: &'p P) -> Self {
        let n = problem.dim();
        Self {
            problem,
            n,
            jac: DMatrix::zeros(n, n),
            lu: LuSolver::<N>::new(n),
            k: vec![0.0; 6 * n],
            f0: vec![0.0; n],
            arg: vec![0.0; n],
            fval: vec![0.0; n],
            ynew: vec![0.0; n],
            stats: SolverStats {
                solver: NAME.to_string(),
                ..SolverStats::default()
            },
        }
    }

    /// f0 ← f(y).
    fn eval_f0(&mut self, y: &[f64]) {
        self.stats.rhs_evals += 1;
        self.problem.rhs(y, &mut self.f0);
    }

    /// jac ← J(y).
    fn eval_jacobian(&mut self, y: &[f64]) {
        self.stats.jacobian_evals += 1;
        self.problem.jacobian(y, &mut self.jac);
    }

    /// One Rodas4 step of size h from y (with f0 = f(y) and jac = J(y) already evaluated):
    /// fills the stages and `ynew`; the error estimate is stage k₆.
    fn attempt(&mut self, y: &[f64], h: f64) -> std::result::Result<(), Breakdown> {
        let n = self.dim();
        let y = &y[..n];
        self.stats.lu_factorisations += 1;
        if !self.lu.factor(&self.jac, 1.0 / (h * GAMMA)) {
            return Err(Breakdown::Singular);
        }
        let inv_h = 1.0 / h;
        // Stage 1: W k₁ = f(y₀).
        self.k[..n].copy_from_slice(&self.f0);
        self.lu.solve(&mut self.k[..n]);
        // Stages 2 … 6.
        for s in 1..6 {
            let (done, rest) = self.k.split_at_mut(s * n);
            if s < 5 {
                let a = &A[s - 1];
                for i in 0..n {
                    let mut v = y[i];
                    for (j, &aij) in a[..s].iter().enumerate() {
                        v += aij * done[j * n + i];
                    }
                    self.arg[i] = v;
                }
            } else {
                // Stage 6 is evaluated at the embedded solution ŷ₁ = (stage-5 argument) + k₅.
                for i in 0..n {
                    self.arg[i] += done[4 * n + i];
                }
            }
            self.stats.rhs_evals += 1;
            self.problem.rhs(&self.arg, &mut self.fval);
            let c = &C[s - 1];
            let ks = &mut rest[..n];
            for i in 0..n {
                let mut v = 0.0;
                for (j, &cij) in c[..s].iter().enumerate() {
                    v += cij * done[j * n + i];
                }
                ks[i] = self.fval[i] + v * inv_h;
            }
            self.lu.solve(ks);
        }
        let k6 = &self.k[5 * n..6 * n];
        let mut finite = true;
        for ((ynew, &a), &e) in self.ynew[..n].iter_mut().zip(&self.arg[..n]).zip(k6) {
            *ynew = a + e;
            finite &= ynew.is_finite();
        }
        if finite {
            Ok(())
        } else {
            Err(Breakdown::NonFinite)
        }
    }

    /// RMS of k₆ / (atol + rtol·max(|y₀|, |y₁|)).
    fn error_norm(&self, y: &[f64], rtol: f64, atol: f64) -> f64 {
        let n = self.dim();
        let y = &y[..n];
        let k6 = &self.k[5 * n..];
        let mut sum = 0.0;
        for i in 0..n {
            let sc = atol + rtol * y[i].abs().max(self.ynew[i].abs());
            let e = k6[i] / sc;
            sum += e * e;
        }
        (sum / n as f64).sqrt()
    }

    /// The dense output at θ ∈ [0, 1] of the step y → ynew (after `attempt`), into `out`.
    fn dense(&self, y: &[f64], theta: f64, out: &mut [f64]) {
        let n = self.dim();
        let (y, out) = (&y[..n], &mut out[..n]);
        let t1 = 1.0 - theta;
        for i in 0..n {
            let (mut c2, mut c3) = (0.0, 0.0);
            for (j, (&h2, &h3)) in H[0].iter().zip(&H[1]).enumerate() {
                let kj = self.k[j * n + i];
                c2 += h2 * kj;
                c3 += h3 * kj;
            }
            out[i] = t1 * y[i] + theta * (self.ynew[i] + t1 * (c2 + theta * c3));
        }
    }

    /// Hairer's initial step (`HINIT` of dop853.f) for a method of order [`ORDER`]; f0 = f(y).
    fn initial_step(&mut self, y: &[f64], t_end: f64, rtol: f64, atol: f64) -> f64 {
        let n = self.n as f64;
        let (mut d0, mut d1) = (0.0, 0.0);
        for (&yi, &fi) in y.iter().zip(&self.f0) {
            let sc = atol + rtol * yi.abs();
            d0 += (yi / sc).powi(2);
            d1 += (fi / sc).powi(2);
        }
        let (d0, d1) = ((d0 / n).sqrt(), (d1 / n).sqrt());
        let h0 = if d0 < 1e-10 || d1 < 1e-10 {
            1e-6
        } else {
            0.01 * d0 / d1
        }
        .min(t_end);
        for ((a, &yi), &fi) in self.arg.iter_mut().zip(y).zip(&self.f0) {
            *a = yi + h0 * fi;
        }
        self.stats.rhs_evals += 1;
        self.problem.rhs(&self.arg, &mut self.fval);
        let mut d2 = 0.0;
        for ((&yi, &fi), &gi) in y.iter().zip(&self.f0).zip(&self.fval) {
            let sc = atol + rtol * yi.abs();
            d2 += ((gi - fi) / sc).powi(2);
        }
        let d2 = (d2 / n).sqrt() / h0;
        let der = d1.max(d2);
        let h1 = if der <= 1e-15 {
            (h0 * 1e-3).max(1e-6)
        } else {
            (0.01 / der).powf(1.0 / (ORDER + 1) as f64)
        };
        (100.0 * h0).min(h1).min(t_end)
    }
}

/// Rodas4 as an [`Integrator`]: mixed tolerance `atol + rtol·|y|` per component, the output
/// from the method's dense output (docs/theory.md §3 flows; see the module documentation). A
/// step that keeps failing (non-finite state or singular W) until the step size falls below
/// 10⁻¹⁴·τ, or more than [`MAX_STEPS`] step attempts, is a [`StepFailure::Failed`]. Dimensions
/// 1–4 run a copy of the integrator with n known at compile time.
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
        let (rtol, atol) = (tolerances.rtol(), tolerances.atol());
        match problem.dim() {
            1 => run::<_, 1>(problem, y0, rtol, atol, output, stats),
            2 => run::<_, 2>(problem, y0, rtol, atol, output, stats),
            3 => run::<_, 3>(problem, y0, rtol, atol, output, stats),
            4 => run::<_, 4>(problem, y0, rtol, atol, output, stats),
            _ => run::<_, 0>(problem, y0, rtol, atol, output, stats),
        }
    }
}

/// [`Rodas4`] for dimension N (0: any).
fn run<P: OdeProblem + ?Sized, const N: usize>(
    problem: &P,
    y0: &[f64],
    rtol: f64,
    atol: f64,
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
        if rodas.stats.steps_accepted + rodas.stats.steps_rejected >= MAX_STEPS {
            return Err(fail(
                t,
                format!("more than {MAX_STEPS} steps needed before τ_end = {t_end}"),
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

/// `steps` fixed Rodas4 steps of size t_end/steps from y0 (for the order test). Returns the
/// final state and, if `theta` is given, the dense output at θ within the last step.
#[cfg(test)]
fn fixed_steps(
    problem: &(impl OdeProblem + ?Sized),
    y0: &nalgebra::DVector<f64>,
    t_end: f64,
    steps: usize,
    theta: Option<f64>,
) -> (nalgebra::DVector<f64>, Option<nalgebra::DVector<f64>>) {
    let mut rodas = Rodas::<_, 0>::new(problem);
    let h = t_end / steps as f64;
    let mut y = y0.as_slice().to_vec();
    let mut dense = None;
    for step in 0..steps {
        rodas.eval_f0(&y);
        rodas.eval_jacobian(&y);
        rodas.attempt(&y, h).expect("fixed step failed");
        if step + 1 == steps {
            if let Some(theta) = theta {
                let mut out = vec![0.0; y.len()];
                rodas.dense(&y, theta, &mut out);
                dense = Some(nalgebra::DVector::from_vec(out));
            }
        }
        y.copy_from_slice(&rodas.ynew);
    }
    (nalgebra::DVector::from_vec(y), dense)
}

#[cfg(test)]
mod tests {
    use crate::error::Error;
    use crate::error::{InputError, NumericalError};
    use crate::ode::{uniform_times as output_grid, OdeSolution};
    use nalgebra::DVector;
    use std::time::Instant;

    fn solve(
        problem: &(impl OdeProblem + ?Sized),
        y0: &DVector<f64>,
        t_end: f64,
        points: usize,
        rtol: f64,
        atol: f64,
    ) -> crate::error::Result<OdeSolution> {
        integrate_with(&Rodas4, problem, y0, t_end, points, rtol, atol)
    }
    use super::*;
    use crate::model::{DualDynamics, Loss, MarginFlow, PrimalDynamics, Regulariser};
    use crate::solvers::explicit::{self, ExplicitMethod};
    use crate::solvers::steady::steady_state;
    use crate::systems::{FeatureSystem, Spectrum};

    use crate::ode::test_problems::{integrate_with, max_abs_diff, BlowUp, Linear};

    #[test]
    fn stiff_linear_system_matches_the_matrix_exponential() {
        // Eigenvalues −1 and −1000, non-orthogonal eigenvectors.
        let q = DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 0.5, -1.0]);
        let qi = q.clone().try_inverse().unwrap();
        let mu = [-1.0, -1000.0];
        let a = &q * DMatrix::from_diagonal(&DVector::from_column_slice(&mu)) * &qi;
        let problem = Linear { a };
        let y0 = DVector::from_vec(vec![1.0, 2.0]);
        let (rtol, atol) = (1e-8, 1e-12);
        let sol = solve(&problem, &y0, 5.0, 101, rtol, atol).unwrap();
        assert_eq!(sol.tau, output_grid(5.0, 101));
        assert_eq!(sol.states.len(), 101);
        assert_eq!(&sol.states[0], y0.as_slice());
        let mut worst = 0.0f64;
        for (t, y) in sol.tau.iter().zip(&sol.states) {
            let decay = DVector::from_iterator(2, mu.iter().map(|m| (m * t).exp()));
            let exact = &q * DMatrix::from_diagonal(&decay) * &qi * &y0;
            let rel = max_abs_diff(y, &exact) / (exact.amax() + atol / rtol);
            worst = worst.max(rel);
        }
        assert!(worst < 100.0 * rtol, "relative error {worst:.3e}");
        let s = &sol.stats;
        assert_eq!(s.solver, "rodas4");
        assert!(s.wall_s > 0.0);
        // One Jacobian per accepted step, one LU per attempt; five f per attempt, f(y₀) once per
        // accepted step (not after the last), one more for the initial step size.
        assert_eq!(s.rhs_evals, 1 + 6 * s.steps_accepted + 5 * s.steps_rejected);
        // Stiff: far fewer steps than an explicit method (h < 2/1000 → > 2500 steps).
        assert!(s.steps_accepted < 300, "{s:?}");
    }

    /// Logistic growth driving a decay: y₁' = y₁(1 − y₁), y₂' = −y₁y₂, with the exact solution
    /// y₁ = p eᵗ/(1 − p + p eᵗ), y₂ = q/(1 − p + p eᵗ).
    struct Logistic;

    impl OdeProblem for Logistic {
        fn dim(&self) -> usize {
            2
        }
        fn rhs(&self, y: &[f64], dy: &mut [f64]) {
            dy[0] = y[0] * (1.0 - y[0]);
            dy[1] = -y[0] * y[1];
        }
        fn jacobian(&self, y: &[f64], jac: &mut DMatrix<f64>) {
            jac[(0, 0)] = 1.0 - 2.0 * y[0];
            jac[(0, 1)] = 0.0;
            jac[(1, 0)] = -y[1];
            jac[(1, 1)] = -y[0];
        }
        fn spectral_bound(&self) -> f64 {
            2.0
        }
    }

    fn logistic_exact(t: f64) -> DVector<f64> {
        let (p, q) = (0.1, 2.0);
        let den = 1.0 - p + p * t.exp();
        DVector::from_vec(vec![p * t.exp() / den, q / den])
    }

    #[test]
    fn fixed_steps_converge_with_order_four() {
        let y0 = logistic_exact(0.0);
        let t_end = 4.0;
        let mut errors = Vec::new();
        let mut dense_errors = Vec::new();
        for steps in [8, 16, 32, 64] {
            let h = t_end / steps as f64;
            let (y, dense) = fixed_steps(&Logistic, &y0, t_end, steps, Some(0.5));
            errors.push(max_abs_diff(&y, &logistic_exact(t_end)));
            let mid = logistic_exact(t_end - 0.5 * h);
            dense_errors.push(max_abs_diff(&dense.unwrap(), &mid));
        }
        println!("global errors {errors:?}, dense errors {dense_errors:?}");
        for w in errors.windows(2) {
            let ratio = w[0] / w[1];
            assert!(
                (13.0..19.5).contains(&ratio),
                "halving h divided the error by {ratio:.2} (errors {errors:?})"
            );
        }
        // The dense output is a 3rd-order polynomial: local error O(h⁴) on top of the
        // O(h⁴) global error of the step's end points.
        for w in dense_errors.windows(2) {
            let ratio = w[0] / w[1];
            assert!(
                (10.0..22.0).contains(&ratio),
                "dense output: error ratio {ratio:.2} (errors {dense_errors:?})"
            );
        }
    }

    /// The paper's toy (docs/theory.md §6) with l = 4: s = (4, 2), a 30° rotation.
    fn toy() -> FeatureSystem {
        FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap()
    }

    #[test]
    fn toy_margin_flow_relaxes_to_the_newton_steady_state() {
        let sys = toy();
        let dynamics =
            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let star = steady_state(&dynamics).unwrap();
        let flow = MarginFlow::new(&dynamics);
        let ut = sys.coupling().transpose();
        let sol = solve(&flow, &DVector::zeros(2), 2000.0, 201, 1e-10, 1e-12).unwrap();
        let z_end = &ut * DVector::from_column_slice(sol.states.last().unwrap());
        let z_before = &ut * sol.states.state(180);
        assert!(max_abs_diff(&z_end, &z_before) < 1e-8, "not converged");
        let err = max_abs_diff(&z_end, &star.responses);
        assert!(err < 1e-6, "|z(2000) − z*| = {err:.3e}, z = {z_end}");
        // docs/theory.md §6 table, l = 4.
        assert!((z_end[0] - 7.812049).abs() < 2e-6 && (z_end[1] - 1.466814).abs() < 2e-6);
    }

    #[test]
    fn agrees_with_bdf_and_dop853() {
        let sys = FeatureSystem::rotation(3.0, 1.0, 0.3).unwrap();
        let dynamics =
            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.1 }).unwrap();
        let z0 = DVector::zeros(2);
        let (rtol, atol) = (1e-11, 1e-13);
        let dop = integrate_with(
            &explicit::ExplicitRk::new(ExplicitMethod::Dop853, true),
            &dynamics,
            &z0,
            50.0,
            101,
            rtol,
            atol,
        )
        .unwrap();
        let bdf = integrate_with(
            &crate::solvers::bdf::Bdf::default(),
            &dynamics,
            &z0,
            50.0,
            101,
            rtol,
            atol,
        )
        .unwrap();
        let sol = solve(&dynamics, &z0, 50.0, 101, rtol, atol).unwrap();
        for reference in [&dop, &bdf] {
            assert_eq!(sol.tau, reference.tau);
            let worst = sol
                .states
                .iter()
                .zip(&reference.states)
                .map(|(a, b)| max_abs_diff(a, b))
                .fold(0.0, f64::max);
            assert!(
                worst < 1e-6,
                "max deviation from {} {worst:.3e}",
                reference.stats.solver
            );
        }
    }

    #[test]
    fn dual_flow_ends_at_the_primal_steady_state() {
        let sys = toy();
        let alpha0 = DVector::from_element(2, DualDynamics::DEFAULT_START);
        let l2 =
            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let star = steady_state(&l2).unwrap();
        let dual = DualDynamics::new(&l2).unwrap();
        let sol = solve(&dual, &alpha0, 20.0, 201, 1e-11, 1e-15).unwrap();
        let alpha_end = sol.states.last().unwrap();
        let before = dual.responses(&sol.states[180]);
        let z = dual.responses(alpha_end);
        assert!(max_abs_diff(&z, &before) < 1e-8, "L2 dual not converged");
        let err = max_abs_diff(&z, &star.responses);
        assert!(err < 1e-6, "dual z = {z}, primal z* = {}", star.responses);
        assert!(alpha_end.iter().all(|&a| a > 0.0 && a < 1.0));
        // SD, λ = 0.002: z* = μ*·Uᵀ1 with μ* = 4.665120 (docs/theory.md §4, §6).
        let sd = PrimalDynamics::new(
            &sys,
            Loss::Logistic,
            Regulariser::SpectralDecoupling { lambda: 0.002 },
        )
        .unwrap();
        let sd_dual = DualDynamics::new(&sd).unwrap();
        let sol = solve(&sd_dual, &alpha0, 20.0, 201, 1e-11, 1e-15).unwrap();
        let z = sd_dual.responses(sol.states.last().unwrap());
        let exact = steady_state(&sd).unwrap().responses;
        assert!(
            max_abs_diff(&z, &exact) < 1e-6,
            "SD dual z = {z}, z* = {exact}"
        );
    }

    #[test]
    fn failures_are_reported_not_returned() {
        let y0 = DVector::from_element(1, 1.0);
        match solve(&BlowUp, &y0, 2.0, 11, 1e-8, 1e-10).unwrap_err() {
            Error::Numerical(NumericalError::IntegrationFailed { solver, tau, .. }) => {
                assert_eq!(solver, "rodas4");
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
        let bad_points = solve(&BlowUp, &y0, 0.5, 1, 1e-8, 1e-10);
        assert!(matches!(
            bad_points,
            Err(Error::Input(InputError::InvalidParameter {
                name: "points",
                ..
            }))
        ));
        let bad_end = solve(&BlowUp, &y0, f64::NAN, 3, 1e-8, 1e-10);
        assert!(matches!(
            bad_end,
            Err(Error::Input(InputError::InvalidParameter {
                name: "t_end",
                ..
            }))
        ));
    }

    /// Timing against the BDF, run by hand in release mode:
    /// `cargo test --release --lib solvers::rosenbrock::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        let geometric = Spectrum::Geometric {
            from: 10.0,
            to: 0.1,
        };
        let cases = [
            (
                "n=2 Haar s=(10,0.1)",
                FeatureSystem::random(2, geometric, 1).unwrap(),
                20,
            ),
            (
                "n=2 rotation(10,0.1,0.6)",
                FeatureSystem::rotation(10.0, 0.1, 0.6).unwrap(),
                20,
            ),
            (
                "n=100 geometric",
                FeatureSystem::random(100, geometric, 1).unwrap(),
                20,
            ),
        ];
        // The two LU paths: factorisation + six solves, best of 50.
        for n in [8, 16, 24, 32, 48, 64, 100] {
            let jac = DMatrix::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
            let mut best = [f64::INFINITY; 2];
            for (path, best) in best.iter_mut().enumerate() {
                let mut lu = LuSolver::<0>::new(n.max(FAER_LU_MIN_DIM));
                lu.n = n;
                lu.lu.truncate(n * n);
                lu.perm.truncate(n);
                if path == 0 {
                    lu.faer = None;
                } else {
                    lu = LuSolver::<0> {
                        faer: LuSolver::<0>::new(FAER_LU_MIN_DIM.max(n))
                            .faer
                            .map(|(p, m, t)| (p[..n].to_vec(), m, t[..n].to_vec())),
                        ..lu
                    };
                }
                let mut b = vec![1.0; n];
                for _ in 0..50 {
                    let start = Instant::now();
                    lu.factor(&jac, 3.0);
                    for _ in 0..6 {
                        lu.solve(&mut b);
                    }
                    *best = best.min(start.elapsed().as_secs_f64());
                }
            }
            println!(
                "LU n={n}: plain {:.2} µs, faer {:.2} µs (factor + 6 solves)",
                best[0] * 1e6,
                best[1] * 1e6
            );
        }
        let (t_end, points, rtol, atol) = (1000.0, 1001, 1e-8, 1e-10);
        for (label, sys, reps) in cases {
            let dynamics =
                PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 })
                    .unwrap();
            let flow = MarginFlow::new(&dynamics);
            let m0 = DVector::zeros(sys.examples());
            let reference = integrate_with(
                &crate::solvers::bdf::Bdf::default(),
                &flow,
                &m0,
                t_end,
                points,
                1e-12,
                1e-14,
            )
            .unwrap();
            let tight = solve(&flow, &m0, t_end, points, 1e-12, 1e-14).unwrap();
            let max_err = |sol: &OdeSolution| {
                sol.states
                    .iter()
                    .zip(&reference.states)
                    .map(|(a, b)| max_abs_diff(a, b))
                    .fold(0.0, f64::max)
            };
            println!(
                "{label}: tight rodas4 vs tight bdf (rtol 1e-12): {:.2e}",
                max_err(&tight)
            );
            let run = |name: &str, f: &dyn Fn() -> OdeSolution| {
                let mut best = f64::INFINITY;
                let mut last = None;
                for _ in 0..reps {
                    let sol = f();
                    best = best.min(sol.stats.wall_s);
                    last = Some(sol);
                }
                let sol = last.unwrap();
                let s = &sol.stats;
                println!(
                    "{label} {name}: best {:.1} µs, max err {:.2e}; steps {}+{} rej, f {}, J {}, LU {}",
                    best * 1e6,
                    max_err(&sol),
                    s.steps_accepted,
                    s.steps_rejected,
                    s.rhs_evals,
                    s.jacobian_evals,
                    s.lu_factorisations
                );
            };
            run("rodas4", &|| {
                solve(&flow, &m0, t_end, points, rtol, atol).unwrap()
            });
            run("bdf", &|| {
                integrate_with(
                    &crate::solvers::bdf::Bdf::default(),
                    &flow,
                    &m0,
                    t_end,
                    points,
                    rtol,
                    atol,
                )
                .unwrap()
            });
        }
    }
}
