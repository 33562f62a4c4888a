//! The damped Newton iteration of [`super::newton`] for small systems (n, r ≤ [`CAPACITY`], every
//! strength positive) on fixed-size arrays: the same iteration (objective, gradient, Hessian
//! U ᵀDU + W, Cholesky step, Armijo backtracking, the same stopping rules and errors; docs/theory.md
//! §4.1, §12.4) without a heap allocation per iteration. At n = r = 2 the general path spends
//! most of its time allocating a dozen small vectors per iteration (docs/benchmarks.md, "The
//! Python package"); results agree with it to rounding (tested to 1e-12 in `super::tests`).

use nalgebra::DVector;

use super::{finish, max_or_infinite, residual_scale, NewtonParams, SteadyState};
use crate::error::{Error, NumericalError, Result};
use crate::model::{Model, PrimalDynamics};
use crate::sweeps::progress::Stage;

/// The largest number of examples and of features this path takes.
pub(super) const CAPACITY: usize = 8;

/// U (n × r, row-major), the penalty weights W_jj and the model, copied once, in arrays of
/// C ≥ n, r entries (C = 2, 4 or 8: the rotation family's 2 × 2 touches 32 bytes per matrix).
struct Small<'a, const C: usize> {
    n: usize,
    r: usize,
    u: [[f64; C]; C],
    weights: [f64; C],
    model: &'a Model,
}

impl<'a, const C: usize> Small<'a, C> {
    /// U, W and the model, for n, r ≤ C (checked by the caller).
    fn new(dynamics: &'a PrimalDynamics) -> Self {
        let sys = dynamics.system();
        let (n, r) = (sys.examples(), sys.rank());
        let coupling = sys.coupling();
        let mut u = [[0.0; C]; C];
        for (i, row) in u.iter_mut().enumerate().take(n) {
            for (j, v) in row.iter_mut().enumerate().take(r) {
                *v = coupling[(i, j)];
            }
        }
        let mut weights = [0.0; C];
        for (j, w) in weights.iter_mut().enumerate().take(r) {
            *w = dynamics.penalty_weight(j);
        }
        Self {
            n,
            r,
            u,
            weights,
            model: dynamics.model(),
        }
    }

    /// m = U x.
    fn margins(&self, x: &[f64; C]) -> [f64; C] {
        let mut m = [0.0; C];
        for (mi, row) in m.iter_mut().zip(&self.u).take(self.n) {
            *mi = row[..self.r].iter().zip(x).map(|(u, x)| u * x).sum();
        }
        m
    }

    /// L(x) = Σᵢ ℓᵢ((Ux)ᵢ) + ½ xᵀWx.
    fn objective(&self, x: &[f64; C]) -> f64 {
        let m = self.margins(x);
        let data: f64 = (0..self.n).map(|i| self.model.example_loss(i, m[i])).sum();
        0.5 * (0..self.r)
            .map(|j| self.weights[j] * x[j] * x[j])
            .sum::<f64>()
            + data
    }

    /// ∇L(x) = W x − Uᵀψ(Ux).
    fn gradient(&self, x: &[f64; C]) -> [f64; C] {
        let m = self.margins(x);
        let mut g = [0.0; C];
        for j in 0..self.r {
            g[j] = self.weights[j] * x[j];
        }
        for (i, row) in self.u.iter().enumerate().take(self.n) {
            let psi = self.model.example_drive(i, m[i]);
            for j in 0..self.r {
                g[j] -= row[j] * psi;
            }
        }
        g
    }

    /// max_j |∇L_j / W_jj| (NaN counts as ∞), as the general path's `scaled_residual`.
    fn scaled_residual(&self, g: &[f64; C]) -> f64 {
        (0..self.r)
            .map(|j| (g[j] / residual_scale(self.weights[j])).abs())
            .fold(0.0, max_or_infinite)
    }

    /// −H⁻¹g with H = UᵀDU + W, D = diag(ℓᵢ''(mᵢ)), by Cholesky; `None` unless H is
    /// numerically positive definite.
    fn step(&self, x: &[f64; C], g: &[f64; C]) -> Option<[f64; C]> {
        let r = self.r;
        let m = self.margins(x);
        let mut h = [[0.0; C]; C];
        for (i, row) in self.u.iter().enumerate().take(self.n) {
            let d = self.model.example_curvature(i, m[i]);
            for j in 0..r {
                let dj = d * row[j];
                for k in 0..=j {
                    h[j][k] += dj * row[k];
                }
            }
        }
        // Cholesky H = LLᵀ in place (lower triangle).
        for j in 0..r {
            h[j][j] += self.weights[j];
            for k in 0..j {
                h[j][j] -= h[j][k] * h[j][k];
            }
            if h[j][j].is_nan() || h[j][j] <= 0.0 {
                return None;
            }
            h[j][j] = h[j][j].sqrt();
            for i in j + 1..r {
                for k in 0..j {
                    h[i][j] -= h[i][k] * h[j][k];
                }
                h[i][j] /= h[j][j];
            }
        }
        // L y = −g, then Lᵀ s = y.
        let mut s = [0.0; C];
        for i in 0..r {
            let dot: f64 = (0..i).map(|k| h[i][k] * s[k]).sum();
            s[i] = (-g[i] - dot) / h[i][i];
        }
        for i in (0..r).rev() {
            let dot: f64 = (i + 1..r).map(|k| h[k][i] * s[k]).sum();
            s[i] = (s[i] - dot) / h[i][i];
        }
        s.iter().all(|v| v.is_finite()).then_some(s)
    }
}

fn amax<const C: usize>(x: &[f64; C], r: usize) -> f64 {
    x[..r].iter().fold(0.0, |a, v| a.max(v.abs()))
}

fn dot<const C: usize>(a: &[f64; C], b: &[f64; C], r: usize) -> f64 {
    a[..r].iter().zip(&b[..r]).map(|(a, b)| a * b).sum()
}

fn axpy<const C: usize>(x: &[f64; C], t: f64, s: &[f64; C]) -> [f64; C] {
    let mut out = *x;
    for (o, s) in out.iter_mut().zip(s) {
        *o += t * s;
    }
    out
}

/// The steady state by the small path, or `None` if it does not apply (the caller then runs the
/// general iteration).
pub(super) fn newton(
    dynamics: &PrimalDynamics,
    params: &NewtonParams,
) -> Option<Result<SteadyState>> {
    let sys = dynamics.system();
    let size = sys.examples().max(sys.rank());
    if size > CAPACITY || dynamics.strengths_squared().iter().any(|&s| s <= 0.0) {
        return None;
    }
    Some(match size {
        0..=2 => iterate(dynamics, &Small::<2>::new(dynamics), params),
        3..=4 => iterate(dynamics, &Small::<4>::new(dynamics), params),
        _ => iterate(dynamics, &Small::<CAPACITY>::new(dynamics), params),
    })
}

fn iterate<const C: usize>(
    dynamics: &PrimalDynamics,
    small: &Small<C>,
    params: &NewtonParams,
) -> Result<SteadyState> {
    let r = small.r;
    let done = |x: &[f64; C], it: usize| {
        let z = DVector::from_column_slice(&x[..r]);
        Ok(finish(dynamics, z, it, "newton"))
    };
    let failed = |iterations: usize, residual: f64| {
        Err(Error::Numerical(NumericalError::NewtonFailed {
            iterations,
            residual,
        }))
    };
    let mut x = [0.0; C];
    let mut value = small.objective(&x);
    let mut residual = f64::INFINITY;
    let stage = Stage::begin("Newton: steady state", "iterations", 0);
    for it in 0..=params.max_iterations {
        let gradient = small.gradient(&x);
        residual = small.scaled_residual(&gradient);
        stage.advance(it);
        if residual <= params.tolerance * amax(&x, r).max(1.0) {
            return done(&x, it);
        }
        if it == params.max_iterations {
            break;
        }
        let Some(step) = small.step(&x, &gradient) else {
            return failed(it, residual);
        };
        // Armijo backtracking while the decrease is resolvable, else the full step while it
        // lowers the residual: as the general path.
        let slope = dot(&gradient, &step, r);
        let resolvable = -slope > 1e3 * f64::EPSILON * value.abs().max(f64::MIN_POSITIVE);
        let mut accepted = false;
        if resolvable {
            let mut t = 1.0;
            for _ in 0..60 {
                let trial = axpy(&x, t, &step);
                let trial_value = small.objective(&trial);
                if trial_value <= value + 1e-4 * t * slope {
                    x = trial;
                    value = trial_value;
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
        }
        if !accepted {
            let trial = axpy(&x, 1.0, &step);
            let trial_res = small.scaled_residual(&small.gradient(&trial));
            if trial_res < residual {
                x = trial;
                value = small.objective(&x);
            } else if residual <= 1e3 * params.tolerance * amax(&x, r).max(1.0) {
                return done(&x, it);
            } else {
                return failed(it, residual);
            }
        }
    }
    failed(params.max_iterations, residual)
}
