//! One Rodas4 step on preallocated storage: the six stages with one factorisation of
//! W = I/(hγ) − J, the error estimate k₆, the dense output and the initial step.

use nalgebra::DMatrix;

use super::tableau::{A, C, GAMMA, H, ORDER};
use super::NAME;
use crate::ode::{OdeProblem, SolverStats};
use crate::solvers::lu::LuSolver;

/// Why a step attempt could not produce an error estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Breakdown {
    /// W = I/(hγ) − J is singular.
    Singular,
    /// A stage or the new state is not finite.
    NonFinite,
}

/// The integrator's preallocated state.
pub(super) struct Rodas<'p, P: OdeProblem + ?Sized, const N: usize> {
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
    pub(super) ynew: Vec<f64>,
    pub(super) stats: SolverStats,
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

    pub(super) fn new(problem: &'p P) -> Self {
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
    pub(super) fn eval_f0(&mut self, y: &[f64]) {
        self.stats.rhs_evals += 1;
        self.problem.rhs(y, &mut self.f0);
    }

    /// jac ← J(y).
    pub(super) fn eval_jacobian(&mut self, y: &[f64]) {
        self.stats.jacobian_evals += 1;
        self.problem.jacobian(y, &mut self.jac);
    }

    /// One Rodas4 step of size h from y (with f0 = f(y) and jac = J(y) already evaluated):
    /// fills the stages and `ynew`; the error estimate is stage k₆.
    pub(super) fn attempt(&mut self, y: &[f64], h: f64) -> std::result::Result<(), Breakdown> {
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
    pub(super) fn error_norm(&self, y: &[f64], rtol: f64, atol: f64) -> f64 {
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
    pub(super) fn dense(&self, y: &[f64], theta: f64, out: &mut [f64]) {
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
    pub(super) fn initial_step(&mut self, y: &[f64], t_end: f64, rtol: f64, atol: f64) -> f64 {
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

/// `steps` fixed Rodas4 steps of size t_end/steps from y0 (for the order test). Returns the
/// final state and, if `theta` is given, the dense output at θ within the last step.
#[cfg(test)]
pub(super) fn fixed_steps(
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
