//! One small system at a time, on the stack: the batch's path for systems with a zero strength
//! (a feature pinned at z_j = 0, which the lanes of [`super::lanes`] do not take). The iteration
//! is the general solver's (docs/theory.md §12.4) restricted to the free features; the
//! sensitivity solves with J = I + λ⁻¹S²UᵀDU by LU with partial pivoting (§5.3), which stays
//! defined at s_i = 0.

use super::{Matrix, Solved, Vector, BATCH_MAX_DIM, MAX_ITERATIONS, TOLERANCE};
use crate::error::NumericalError;
use crate::model::{sigmoid_neg, sigmoid_prime, Loss};
use crate::theory::sensitivity::ZERO_RESPONSE_TOLERANCE;

/// m = U z (U n × r column-major).
#[inline]
fn margins(n: usize, r: usize, u: &[f64], z: &Vector) -> Vector {
    let mut m = [0.0; BATCH_MAX_DIM];
    for j in 0..r {
        let col = &u[j * n..(j + 1) * n];
        for i in 0..n {
            m[i] += col[i] * z[j];
        }
    }
    m
}

/// Uᵀv.
#[inline]
fn transpose_apply(n: usize, r: usize, u: &[f64], v: &Vector) -> Vector {
    let mut out = [0.0; BATCH_MAX_DIM];
    for (j, o) in out[..r].iter_mut().enumerate() {
        let col = &u[j * n..(j + 1) * n];
        *o = (0..n).map(|i| col[i] * v[i]).sum();
    }
    out
}

/// UᵀDU.
#[inline]
fn weighted_gram(n: usize, r: usize, u: &[f64], d: &Vector) -> Matrix {
    let mut g = [[0.0; BATCH_MAX_DIM]; BATCH_MAX_DIM];
    for a in 0..r {
        for c in 0..=a {
            let v: f64 = (0..n).map(|i| u[a * n + i] * d[i] * u[c * n + i]).sum();
            g[a][c] = v;
            g[c][a] = v;
        }
    }
    g
}

/// The objective L at z (free features: weight w > 0; pinned ones have z = 0).
#[inline]
fn objective(n: usize, r: usize, u: &[f64], w: &Vector, z: &Vector) -> f64 {
    let m = margins(n, r, u, z);
    let loss: f64 = m[..n].iter().map(|&mi| Loss::Logistic.value(mi)).sum();
    loss + 0.5 * (0..r).map(|j| w[j] * z[j] * z[j]).sum::<f64>()
}

/// ∇L at z, zero on pinned features.
#[inline]
fn gradient(n: usize, r: usize, u: &[f64], w: &Vector, free: &[bool], z: &Vector) -> Vector {
    let m = margins(n, r, u, z);
    let mut psi = [0.0; BATCH_MAX_DIM];
    for i in 0..n {
        psi[i] = sigmoid_neg(m[i]);
    }
    let ut_psi = transpose_apply(n, r, u, &psi);
    let mut g = [0.0; BATCH_MAX_DIM];
    for j in 0..r {
        if free[j] {
            g[j] = w[j] * z[j] - ut_psi[j];
        }
    }
    g
}

/// max_j |g_j / W_jj| over the free features, NaN counted as ∞.
#[inline]
fn scaled_residual(r: usize, w: &Vector, free: &[bool], g: &Vector) -> f64 {
    (0..r).filter(|&j| free[j]).fold(0.0, |acc: f64, j| {
        let e = (g[j] / w[j]).abs();
        if e.is_nan() {
            f64::INFINITY
        } else {
            acc.max(e)
        }
    })
}

/// Solve H x = b for symmetric positive definite H (k × k) by Cholesky; `None` if H is not.
#[allow(clippy::needless_range_loop)] // triangular index loops, as the formulas read
fn cholesky_solve(k: usize, h: &Matrix, b: &Vector) -> Option<Vector> {
    let mut l = [[0.0; BATCH_MAX_DIM]; BATCH_MAX_DIM];
    for j in 0..k {
        let d = h[j][j] - l[j][..j].iter().map(|v| v * v).sum::<f64>();
        if d.is_nan() || d <= 0.0 {
            return None;
        }
        let d = d.sqrt();
        l[j][j] = d;
        for i in j + 1..k {
            let mut v = h[i][j];
            for p in 0..j {
                v -= l[i][p] * l[j][p];
            }
            l[i][j] = v / d;
        }
    }
    let mut y = [0.0; BATCH_MAX_DIM];
    for i in 0..k {
        let mut v = b[i];
        for p in 0..i {
            v -= l[i][p] * y[p];
        }
        y[i] = v / l[i][i];
    }
    let mut x = [0.0; BATCH_MAX_DIM];
    for i in (0..k).rev() {
        let mut v = y[i];
        for p in i + 1..k {
            v -= l[p][i] * x[p];
        }
        x[i] = v / l[i][i];
    }
    Some(x)
}

/// The Newton step −H⁻¹g on the free features (H = UᵀDU + W restricted to them).
fn newton_step(
    n: usize,
    r: usize,
    u: &[f64],
    w: &Vector,
    free: &[bool],
    z: &Vector,
    g: &Vector,
) -> Option<Vector> {
    let m = margins(n, r, u, z);
    let mut d = [0.0; BATCH_MAX_DIM];
    for i in 0..n {
        d[i] = Loss::Logistic.curvature(m[i]);
    }
    let full = weighted_gram(n, r, u, &d);
    // Compress to the free features.
    let mut map = [0usize; BATCH_MAX_DIM];
    let mut k = 0;
    for (j, _) in free.iter().enumerate().filter(|(_, &f)| f) {
        map[k] = j;
        k += 1;
    }
    let mut h = [[0.0; BATCH_MAX_DIM]; BATCH_MAX_DIM];
    let mut rhs = [0.0; BATCH_MAX_DIM];
    for a in 0..k {
        for c in 0..k {
            h[a][c] = full[map[a]][map[c]];
        }
        h[a][a] += w[map[a]];
        rhs[a] = g[map[a]];
    }
    let x = cholesky_solve(k, &h, &rhs)?;
    let mut step = [0.0; BATCH_MAX_DIM];
    for a in 0..k {
        step[map[a]] = -x[a];
    }
    Some(step)
}

fn axpy(r: usize, z: &Vector, t: f64, step: &Vector) -> Vector {
    let mut out = *z;
    for j in 0..r {
        out[j] = z[j] + step[j] * t;
    }
    out
}

/// Damped Newton (the general solver's iteration) and the sensitivity at its z*.
pub(super) fn solve_one(
    n: usize,
    r: usize,
    s2: &[f64],
    u: &[f64],
    lambda: f64,
    start: Option<&[f64]>,
) -> std::result::Result<Solved, NumericalError> {
    let mut w = [0.0; BATCH_MAX_DIM];
    let mut free = [false; BATCH_MAX_DIM];
    for j in 0..r {
        free[j] = s2[j] > 0.0;
        w[j] = if free[j] { lambda / s2[j] } else { 0.0 };
    }
    let free = &free[..r];
    let amax = |z: &Vector| z[..r].iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let mut z = [0.0; BATCH_MAX_DIM];
    if let Some(start) = start {
        for j in (0..r).filter(|&j| free[j] && start[j].is_finite()) {
            z[j] = start[j];
        }
    }
    let mut value = objective(n, r, u, &w, &z);
    let mut residual = f64::INFINITY;
    for it in 0..=MAX_ITERATIONS {
        let g = gradient(n, r, u, &w, free, &z);
        residual = scaled_residual(r, &w, free, &g);
        if residual <= TOLERANCE * amax(&z).max(1.0) {
            return Ok(sensitivity(n, r, s2, u, lambda, z, residual, it));
        }
        if it == MAX_ITERATIONS {
            break;
        }
        let step = newton_step(n, r, u, &w, free, &z, &g).ok_or(NumericalError::NewtonFailed {
            iterations: it,
            residual,
        })?;
        let slope: f64 = (0..r).map(|j| g[j] * step[j]).sum();
        let resolvable = -slope > 1e3 * f64::EPSILON * value.abs().max(f64::MIN_POSITIVE);
        let mut accepted = false;
        if resolvable {
            let mut t = 1.0;
            for _ in 0..60 {
                let trial = axpy(r, &z, t, &step);
                let trial_value = objective(n, r, u, &w, &trial);
                if trial_value <= value + 1e-4 * t * slope {
                    z = trial;
                    value = trial_value;
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
        }
        if !accepted {
            let trial = axpy(r, &z, 1.0, &step);
            let trial_res = scaled_residual(r, &w, free, &gradient(n, r, u, &w, free, &trial));
            if trial_res < residual {
                z = trial;
                value = objective(n, r, u, &w, &z);
            } else if residual <= 1e3 * TOLERANCE * amax(&z).max(1.0) {
                return Ok(sensitivity(n, r, s2, u, lambda, z, residual, it));
            } else {
                return Err(NumericalError::NewtonFailed {
                    iterations: it,
                    residual,
                });
            }
        }
    }
    Err(NumericalError::NewtonFailed {
        iterations: MAX_ITERATIONS,
        residual,
    })
}

/// ∂z*/∂(s_i²) = J⁻¹ diag(λ⁻¹Uᵀψ) with J = I + λ⁻¹S²UᵀDU (LU with partial pivoting; J's
/// eigenvalues are ≥ 1), and E_ji = s_i² ∂z_j*/∂(s_i²) / z_j*.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
fn sensitivity(
    n: usize,
    r: usize,
    s2: &[f64],
    u: &[f64],
    lambda: f64,
    z: Vector,
    residual: f64,
    iterations: usize,
) -> Solved {
    let m = margins(n, r, u, &z);
    let (mut psi, mut d) = ([0.0; BATCH_MAX_DIM], [0.0; BATCH_MAX_DIM]);
    for i in 0..n {
        psi[i] = sigmoid_neg(m[i]);
        d[i] = sigmoid_prime(m[i]);
    }
    let mut jac = weighted_gram(n, r, u, &d);
    for (j, row) in jac[..r].iter_mut().enumerate() {
        for v in row[..r].iter_mut() {
            *v *= s2[j] / lambda;
        }
        row[j] += 1.0;
    }
    let ut_psi = transpose_apply(n, r, u, &psi);
    // LU with partial pivoting of J, then X = J⁻¹ diag(drive).
    let mut perm = [0usize; BATCH_MAX_DIM];
    for (i, p) in perm[..r].iter_mut().enumerate() {
        *p = i;
    }
    for col in 0..r {
        let pivot = (col..r)
            .max_by(|&a, &b| jac[a][col].abs().total_cmp(&jac[b][col].abs()))
            .unwrap_or(col);
        jac.swap(col, pivot);
        perm.swap(col, pivot);
        for row in col + 1..r {
            let f = jac[row][col] / jac[col][col];
            jac[row][col] = f;
            for c in col + 1..r {
                jac[row][c] -= f * jac[col][c];
            }
        }
    }
    let mut derivatives = [[0.0; BATCH_MAX_DIM]; BATCH_MAX_DIM];
    for i in 0..r {
        // Right-hand side drive_i e_i, permuted.
        let mut x = [0.0; BATCH_MAX_DIM];
        for (row, p) in perm[..r].iter().enumerate() {
            x[row] = if *p == i { ut_psi[i] / lambda } else { 0.0 };
        }
        for row in 0..r {
            for c in 0..row {
                x[row] -= jac[row][c] * x[c];
            }
        }
        for row in (0..r).rev() {
            for c in row + 1..r {
                x[row] -= jac[row][c] * x[c];
            }
            x[row] /= jac[row][row];
        }
        for j in 0..r {
            derivatives[j][i] = x[j];
        }
    }
    let zmax = z[..r].iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let zero = ZERO_RESPONSE_TOLERANCE * zmax.max(1.0);
    let mut elasticities = [[f64::NAN; BATCH_MAX_DIM]; BATCH_MAX_DIM];
    for j in 0..r {
        if z[j].abs() > zero {
            for i in 0..r {
                elasticities[j][i] = s2[i] * derivatives[j][i] / z[j];
            }
        }
    }
    Solved {
        z,
        m,
        residual,
        iterations,
        derivatives,
        elasticities,
    }
}
