//! Partial decompositions for truncated systems (docs/theory.md §8.7): the top r eigenpairs of a
//! symmetric positive semi-definite K, or the top r singular triplets of A = YΦ, by block
//! subspace iteration with Rayleigh–Ritz (Halko, Martinsson and Tropp 2011, Algorithm 4.4 with
//! Ritz extraction), on faer's products, QR and small dense decompositions.
//!
//! Why not faer's `matrix_free` Lanczos solvers: on a rank-deficient input (features 100 × 120
//! of rank ≤ 29) `faer::matrix_free::eigen::partial_svd` looped inside its Lanczos step for more
//! than ten minutes (docs/benchmarks.md, "Truncated systems at large n"); its restart limit does
//! not bound that loop. Subspace iteration cannot stall: every step is a product and a
//! Householder QR, and a rank-deficient block only makes the QR's extra columns arbitrary.
//!
//! A block of b = min(2r + 8, k) vectors converges at the rate (s_{b+1}/s_r)² per iteration; it
//! stops when every one of the top r Ritz pairs has a residual ‖Ky − θy‖ (‖Av − σu‖) of at most
//! [`residual_tolerance`]·θ₁ (σ₁): a backward error, which bounds the vectors' error by
//! residual/gap, not only the values'. It returns `None` after [`MAX_ITERATIONS`] (the caller
//! then takes the full decomposition).

use crate::sweeps::progress::Stage;
use faer::{Mat, MatRef};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// Iterations before giving up (the caller falls back to the full decomposition).
pub(crate) const MAX_ITERATIONS: usize = 300;

/// Singular values, U and V.
pub(crate) type Triplets = (Vec<f64>, Mat<f64>, Mat<f64>);

/// An orthonormal basis of the columns of `m` (thin Householder QR).
fn orthonormalise(m: &Mat<f64>) -> Mat<f64> {
    m.qr().compute_thin_Q()
}

/// A deterministic Gaussian start block (rows × cols).
fn start_block(rows: usize, cols: usize) -> Mat<f64> {
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(0x5eed);
    let mut m = Mat::<f64>::zeros(rows, cols);
    for j in 0..cols {
        for x in m.col_mut(j).iter_mut() {
            *x = StandardNormal.sample(&mut rng);
        }
    }
    m
}

/// The relative residual at which a Ritz pair counts as converged: 10⁻¹⁰, or 100·nε where the
/// rounding of one product with an n-row operator (about nε of its norm) would not reach that.
pub(crate) fn residual_tolerance(rows: usize) -> f64 {
    1e-10_f64.max(100.0 * rows as f64 * f64::EPSILON)
}

/// The largest residual norm among the columns of `residuals` (NaN if any is: not converged).
fn largest_residual(residuals: &Mat<f64>) -> f64 {
    (0..residuals.ncols())
        .map(|j| residuals.col(j).norm_l2())
        .fold(0.0, crate::model::nan_max)
}

/// The `count` largest eigenpairs of the symmetric positive semi-definite K (n × n), values
/// nonincreasing, vectors as columns; `None` if the iteration did not settle.
pub(crate) fn top_eigenpairs(k: MatRef<'_, f64>, count: usize) -> Option<(Vec<f64>, Mat<f64>)> {
    let n = k.nrows();
    let block = (2 * count + 8).min(n);
    let mut q = orthonormalise(&(k * start_block(n, block)));
    let stage = Stage::begin("top eigenpairs of YΘY", "iterations", 0);
    for iteration in 0..MAX_ITERATIONS {
        stage.advance(iteration);
        let kq = k * &q;
        let t = q.transpose() * &kq;
        let t = Mat::<f64>::from_fn(block, block, |i, j| 0.5 * (t[(i, j)] + t[(j, i)]));
        let evd = t.self_adjoint_eigen(faer::Side::Lower).ok()?;
        let (w, theta) = (evd.U(), evd.S().column_vector());
        // faer's order is nondecreasing: the largest is the last.
        let values: Vec<f64> = (0..block).rev().map(|j| theta[j]).collect();
        let top = Mat::from_fn(block, count, |i, j| w[(i, block - 1 - j)]);
        let vectors = &q * &top;
        // K y_j − θ_j y_j = (KQ) w_j − θ_j (Q w_j), with KQ already formed.
        let mut residuals = &kq * &top;
        for j in 0..count {
            for i in 0..n {
                residuals[(i, j)] -= values[j] * vectors[(i, j)];
            }
        }
        let scale = values[0].abs().max(f64::MIN_POSITIVE);
        if largest_residual(&residuals) <= residual_tolerance(n) * scale {
            return Some((values[..count].to_vec(), vectors));
        }
        q = orthonormalise(&kq);
    }
    None
}

/// The `count` largest singular triplets of A (n × p): values nonincreasing, U (n × count) and
/// V (p × count); `None` if the iteration did not settle.
pub(crate) fn top_singular_triplets(a: MatRef<'_, f64>, count: usize) -> Option<Triplets> {
    let (n, p) = a.shape();
    let block = (2 * count + 8).min(n.min(p));
    let mut q = orthonormalise(&(a * start_block(p, block)));
    let stage = Stage::begin("top singular triplets of YΦ", "iterations", 0);
    for iteration in 0..MAX_ITERATIONS {
        stage.advance(iteration);
        // B = QᵀA (block × p), through Aᵀ Q (p × block).
        let atq = a.transpose() * &q;
        let svd = atq.thin_svd().ok()?;
        // AᵀQ = W Σ Xᵀ, so QᵀA = X Σ Wᵀ: left vectors Q X, right vectors W.
        let (w, x, sigma) = (svd.U(), svd.V(), svd.S().column_vector());
        let values: Vec<f64> = (0..block).map(|j| sigma[j]).collect();
        let x_top = Mat::from_fn(block, count, |i, j| x[(i, j)]);
        let u = &q * &x_top;
        let v = Mat::from_fn(p, count, |i, j| w[(i, j)]);
        // A v_j − σ_j u_j (Aᵀu_j = σ_j v_j holds by construction in the subspace).
        let mut residuals = a * &v;
        for j in 0..count {
            for i in 0..n {
                residuals[(i, j)] -= values[j] * u[(i, j)];
            }
        }
        let scale = values[0].abs().max(f64::MIN_POSITIVE);
        if largest_residual(&residuals) <= residual_tolerance(n.max(p)) * scale {
            return Some((values[..count].to_vec(), u, v));
        }
        q = orthonormalise(&(a * orthonormalise(&atq)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A column whose residual is NaN makes the largest residual NaN, which fails the
    /// convergence test (`NaN <= tol` is false) instead of being skipped.
    #[test]
    fn a_nan_residual_column_is_not_converged() {
        let mut residuals = Mat::<f64>::zeros(3, 2);
        residuals[(0, 0)] = 3.0;
        residuals[(1, 0)] = 4.0;
        assert_eq!(largest_residual(&residuals), 5.0);
        residuals[(2, 1)] = f64::NAN;
        assert!(largest_residual(&residuals).is_nan());
    }

    /// Both iterations settle (no fallback) on full-rank inputs with a slowly decaying spectrum,
    /// and their values equal the full decompositions' to 1e-10 relative.
    #[test]
    fn subspace_iterations_settle_and_match_the_full_decompositions() {
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(1);
        let a = Mat::<f64>::from_fn(200, 150, |_, j| {
            let g: f64 = StandardNormal.sample(&mut rng);
            g * 0.97f64.powi(j as i32)
        });
        let (values, u, v) = top_singular_triplets(a.as_ref(), 6).expect("settles");
        let full = a.thin_svd().unwrap();
        let s = full.S().column_vector();
        for j in 0..6 {
            assert!((values[j] - s[j]).abs() < 1e-10 * s[0], "σ_{j}");
            let residual = (&a * v.col(j) - u.col(j) * faer::Scale(values[j])).norm_l2();
            assert!(residual <= 1e-10 * s[0], "σ_{j}: {residual:e}");
        }
        let k = &a * a.transpose();
        let (values, vectors) = top_eigenpairs(k.as_ref(), 6).expect("settles");
        for j in 0..6 {
            assert!(
                (values[j] - s[j] * s[j]).abs() < 1e-10 * s[0] * s[0],
                "λ_{j}"
            );
            let residual =
                (&k * vectors.col(j) - vectors.col(j) * faer::Scale(values[j])).norm_l2();
            assert!(residual <= 1e-10 * s[0] * s[0], "λ_{j}: {residual:e}");
        }
    }
}
