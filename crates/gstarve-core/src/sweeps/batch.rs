//! L2 steady states and their sensitivities for many small systems at once (issue #17, item 2):
//! the systems stored as a struct of arrays, each solved on the stack (no allocation per
//! system), rayon over chunks of systems.
//!
//! The same mathematics as [`crate::solvers::steady::steady_state`] and
//! [`crate::theory::sensitivity::l2_sensitivity`] (docs/theory.md §4.1, §5.3, §12.4), for the
//! logistic loss under L2 with strength λ, written out for n, r ≤ [`BATCH_MAX_DIM`]:
//!
//! ```text
//! L(z) = Σᵢ log(1 + e^{−mᵢ}) + ½ Σ_j W_jj z_j²,   m = U z,   W = λ S⁻²
//! ∇L = W z − Uᵀψ,   ∇²L = Uᵀ D U + W,   ψ = σ(−m), D = diag(σ'(m))   (damped Newton, Armijo)
//! J = I + λ⁻¹ S² Uᵀ D U,   ∂z*/∂(s_i²) = λ⁻¹(Uᵀψ)_i · J⁻¹ e_i,   E_ji = s_i² ∂z_j*/∂(s_i²) / z_j*
//! ```
//!
//! Features with s_j = 0 stay at z_j = 0 (the general Newton pins them too). The iteration, its
//! stopping rule (max_j |∇L_j/W_jj| ≤ 10⁻¹²·max(1, ‖z‖∞)), its line search and its failure
//! rules are those of the general solver, so both converge to the same z* (tested to 1e-12).
//!
//! # Adopting it
//!
//! Build [`SmallSystems`] from feature systems ([`SmallSystems::from_systems`]) or fill its
//! arrays directly (ensembles that draw many systems), then call [`l2_steady_states`]: one
//! [`BatchSteadyStates`] with every system's z*, m*, residual, iterations, ∂z*/∂s² and E, or
//! the reason a system failed. SIMD across systems is not used yet: the Newton iterations of
//! different systems take different numbers of steps and line-search halvings.

use rayon::prelude::*;

use crate::error::{Error, InputError, NumericalError, Result};
use crate::model::{sigmoid_neg, sigmoid_prime, Loss};
use crate::systems::FeatureSystem;
use crate::theory::sensitivity::ZERO_RESPONSE_TOLERANCE;

/// Largest number of examples n and of features r of a system in a batch.
pub const BATCH_MAX_DIM: usize = 8;
/// Systems per rayon task.
const CHUNK: usize = 64;
/// The general solver's defaults ([`crate::solvers::steady::NewtonParams`]).
const TOLERANCE: f64 = 1e-12;
const MAX_ITERATIONS: usize = 200;

type Vector = [f64; BATCH_MAX_DIM];
type Matrix = [[f64; BATCH_MAX_DIM]; BATCH_MAX_DIM];

/// Many systems of the same shape (n examples, r features) as a struct of arrays: system b's
/// squared strengths are `strengths_squared[b·r .. (b+1)·r]`, its coupling U (n × r,
/// column-major) `coupling[b·n·r .. (b+1)·n·r]`, its L2 strength `lambda[b]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SmallSystems {
    /// Examples per system.
    pub examples: usize,
    /// Features per system.
    pub rank: usize,
    /// s_j² of every system.
    pub strengths_squared: Vec<f64>,
    /// U of every system, column-major.
    pub coupling: Vec<f64>,
    /// λ of every system (L2).
    pub lambda: Vec<f64>,
}

impl SmallSystems {
    /// The systems with their L2 strengths (one per system), all of the same shape with
    /// n, r ≤ [`BATCH_MAX_DIM`].
    pub fn from_systems(systems: &[FeatureSystem], lambda: &[f64]) -> Result<Self> {
        let (n, r) = systems.first().map_or((1, 1), |s| (s.examples(), s.rank()));
        if lambda.len() != systems.len() {
            return Err(Error::Input(InputError::Length {
                what: "batch λ",
                found: lambda.len(),
                expected: systems.len(),
                rule: "one per system",
            }));
        }
        let mut out = SmallSystems {
            examples: n,
            rank: r,
            strengths_squared: Vec::with_capacity(systems.len() * r),
            coupling: Vec::with_capacity(systems.len() * n * r),
            lambda: lambda.to_vec(),
        };
        for s in systems {
            if (s.examples(), s.rank()) != (n, r) {
                return Err(Error::Input(InputError::Length {
                    what: "batch system's examples × features",
                    found: s.examples() * s.rank(),
                    expected: n * r,
                    rule: "every system of a batch has the first one's shape",
                }));
            }
            out.strengths_squared
                .extend(s.strengths().iter().map(|v| v * v));
            out.coupling.extend_from_slice(s.coupling().as_slice());
        }
        out.validate()?;
        Ok(out)
    }

    /// Number of systems.
    pub fn len(&self) -> usize {
        self.lambda.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.lambda.is_empty()
    }

    /// Shapes within [`BATCH_MAX_DIM`], array lengths that match, every λ finite and > 0.
    pub fn validate(&self) -> Result<()> {
        let (n, r) = (self.examples, self.rank);
        for (what, v) in [("batch examples n", n), ("batch features r", r)] {
            if v == 0 || v > BATCH_MAX_DIM {
                return Err(Error::Input(InputError::InvalidParameter {
                    name: what,
                    value: v as f64,
                    rule: "batched steady states take 1 to 8 examples and features",
                }));
            }
        }
        let b = self.len();
        for (what, found, expected) in [
            (
                "batch squared strengths",
                self.strengths_squared.len(),
                b * r,
            ),
            ("batch couplings", self.coupling.len(), b * n * r),
        ] {
            if found != expected {
                return Err(Error::Input(InputError::Length {
                    what,
                    found,
                    expected,
                    rule: "r squared strengths and n·r coupling entries per system",
                }));
            }
        }
        if let Some(&l) = self.lambda.iter().find(|l| !(l.is_finite() && **l > 0.0)) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "lambda",
                value: l,
                rule: "a steady state needs a finite λ > 0",
            }));
        }
        Ok(())
    }
}

/// The steady states and sensitivities of a batch, as a struct of arrays in the batch's order:
/// system b's z* is `responses[b·r .. (b+1)·r]`, m* `margins[b·n ..]`, ∂z_j*/∂(s_i²) and E_ji
/// `derivatives[b·r² + j + i·r]` and `elasticities[…]` (column-major r × r: row j the
/// response, column i the strength). A failed system has NaN everywhere and its error in
/// `failures[b]`; a masked elasticity (z_j* zero to [`ZERO_RESPONSE_TOLERANCE`]) is NaN.
#[derive(Debug)]
pub struct BatchSteadyStates {
    /// Examples per system.
    pub examples: usize,
    /// Features per system.
    pub rank: usize,
    /// z* of every system.
    pub responses: Vec<f64>,
    /// m* = U z* of every system.
    pub margins: Vec<f64>,
    /// The fixed-point residual max_j |∇L_j/W_jj| reached.
    pub residuals: Vec<f64>,
    /// Newton iterations taken.
    pub iterations: Vec<u32>,
    /// ∂z*/∂(s²), r × r per system.
    pub derivatives: Vec<f64>,
    /// E, r × r per system.
    pub elasticities: Vec<f64>,
    /// `None`, or why the system has no result.
    pub failures: Vec<Option<NumericalError>>,
}

/// One system's result.
struct Solved {
    z: Vector,
    m: Vector,
    residual: f64,
    iterations: usize,
    derivatives: Matrix,
    elasticities: Matrix,
}

/// The L2 steady state and sensitivity of every system of `batch` (logistic loss), in parallel
/// over chunks of systems.
pub fn l2_steady_states(batch: &SmallSystems) -> Result<BatchSteadyStates> {
    batch.validate()?;
    let (n, r, b) = (batch.examples, batch.rank, batch.len());
    let mut out = BatchSteadyStates {
        examples: n,
        rank: r,
        responses: vec![f64::NAN; b * r],
        margins: vec![f64::NAN; b * n],
        residuals: vec![f64::NAN; b],
        iterations: vec![0; b],
        derivatives: vec![f64::NAN; b * r * r],
        elasticities: vec![f64::NAN; b * r * r],
        failures: (0..b).map(|_| None).collect(),
    };
    out.responses
        .par_chunks_mut(CHUNK * r)
        .zip(out.margins.par_chunks_mut(CHUNK * n))
        .zip(out.residuals.par_chunks_mut(CHUNK))
        .zip(out.iterations.par_chunks_mut(CHUNK))
        .zip(out.derivatives.par_chunks_mut(CHUNK * r * r))
        .zip(out.elasticities.par_chunks_mut(CHUNK * r * r))
        .zip(out.failures.par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(c, ((((((z, m), res), its), der), ela), fail))| {
            for k in 0..res.len() {
                let sys = c * CHUNK + k;
                let s2 = &batch.strengths_squared[sys * r..(sys + 1) * r];
                let u = &batch.coupling[sys * n * r..(sys + 1) * n * r];
                match solve_one(n, r, s2, u, batch.lambda[sys]) {
                    Ok(s) => {
                        z[k * r..(k + 1) * r].copy_from_slice(&s.z[..r]);
                        m[k * n..(k + 1) * n].copy_from_slice(&s.m[..n]);
                        res[k] = s.residual;
                        its[k] = s.iterations as u32;
                        for i in 0..r {
                            for j in 0..r {
                                der[k * r * r + j + i * r] = s.derivatives[j][i];
                                ela[k * r * r + j + i * r] = s.elasticities[j][i];
                            }
                        }
                    }
                    Err(e) => fail[k] = Some(e),
                }
            }
        });
    Ok(out)
}

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
fn solve_one(
    n: usize,
    r: usize,
    s2: &[f64],
    u: &[f64],
    lambda: f64,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::{FeatureSystem, Spectrum};
    use crate::theory::sensitivity::l2_sensitivity;

    /// Every system of a batch (shapes 2×2, 4×4, 8×8, rotations, a zero strength, λ
    /// over three decades) against the one-system path: z*, m*, ∂z*/∂s², E to 1e-12
    /// relative, the same masks.
    #[test]
    fn batch_matches_the_one_system_path_to_1e_12() {
        let mut cases: Vec<(Vec<FeatureSystem>, Vec<f64>)> = Vec::new();
        for n in [2usize, 4, 8] {
            let systems: Vec<FeatureSystem> = (0..70)
                .map(|seed| {
                    FeatureSystem::random(
                        n,
                        Spectrum::Geometric {
                            from: 1.0 + (seed % 7) as f64,
                            to: 0.1 + 0.05 * (seed % 5) as f64,
                        },
                        seed,
                    )
                    .unwrap()
                })
                .collect();
            let lambdas = (0..70)
                .map(|k| 10f64.powf(-3.0 + 3.0 * k as f64 / 69.0))
                .collect();
            cases.push((systems, lambdas));
        }
        let rot: Vec<FeatureSystem> = [0.0, 0.3, 0.5, 0.9]
            .iter()
            .map(|&d| FeatureSystem::rotation(4.0, 2.0, d).unwrap())
            .collect();
        cases.push((rot, vec![0.01; 4]));
        let zero = FeatureSystem::new(
            nalgebra::DVector::from_vec(vec![3.0, 1.0, 0.0]),
            FeatureSystem::random(3, Spectrum::Geometric { from: 2.0, to: 1.0 }, 4)
                .unwrap()
                .coupling()
                .clone(),
        )
        .unwrap();
        cases.push((vec![zero], vec![0.02]));
        let mut compared = 0;
        for (systems, lambdas) in &cases {
            let batch = SmallSystems::from_systems(systems, lambdas).unwrap();
            let out = l2_steady_states(&batch).unwrap();
            let (n, r) = (out.examples, out.rank);
            for (b, (sys, &lambda)) in systems.iter().zip(lambdas).enumerate() {
                assert!(out.failures[b].is_none(), "{b}: {:?}", out.failures[b]);
                let one = l2_sensitivity(sys, lambda).unwrap();
                let close = |a: f64, e: f64, what: &str| {
                    assert!(
                        (a - e).abs() <= 1e-12 * e.abs().max(1.0),
                        "system {b} (n = {n}, λ = {lambda}): {what} {a} vs {e}"
                    );
                };
                for j in 0..r {
                    close(
                        out.responses[b * r + j],
                        one.steady_state.responses[j],
                        "z*",
                    );
                    for i in 0..r {
                        let k = b * r * r + j + i * r;
                        close(out.derivatives[k], one.derivatives[(j, i)], "∂z*/∂s²");
                        match one.elasticities[(j, i)] {
                            Some(e) => close(out.elasticities[k], e, "E"),
                            None => assert!(out.elasticities[k].is_nan()),
                        }
                    }
                }
                for i in 0..n {
                    close(out.margins[b * n + i], one.steady_state.margins[i], "m*");
                }
                assert!(out.residuals[b] <= 1e-12 * 100.0);
                compared += 1;
            }
        }
        assert_eq!(compared, 215);
    }

    #[test]
    fn bad_batches_are_input_errors() {
        let sys = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
        assert!(SmallSystems::from_systems(std::slice::from_ref(&sys), &[]).is_err());
        assert!(SmallSystems::from_systems(std::slice::from_ref(&sys), &[0.0]).is_err());
        let big = FeatureSystem::random(9, Spectrum::Geometric { from: 2.0, to: 1.0 }, 1).unwrap();
        assert!(SmallSystems::from_systems(&[big], &[0.01]).is_err());
        let other =
            FeatureSystem::random(3, Spectrum::Geometric { from: 2.0, to: 1.0 }, 1).unwrap();
        assert!(SmallSystems::from_systems(&[sys, other], &[0.01, 0.01]).is_err());
        let empty = SmallSystems::from_systems(&[], &[]).unwrap();
        assert_eq!(l2_steady_states(&empty).unwrap().responses.len(), 0);
    }
}
