//! BDF's iteration matrix in single precision, for problems that hand over their Jacobian's Gram
//! in f32 ([`OdeProblem::scaled_gram_jacobian_single`](crate::ode::OdeProblem::scaled_gram_jacobian_single):
//! the softmax flow; docs/theory.md §12.2).
//!
//! M/c = a·I + diag(d)·G = diag(d)·S with S = G + a·diag(d)⁻¹, a = 1/c + μ, is factorised as in
//! `LuSolver::factor_scaled_gram`, but S = LLᵀ in f32 (faer's f32 Cholesky), and a solve
//! rounds diag(d)⁻¹b to f32 once, substitutes with L and Lᵀ in f32 (explicit-SIMD axpys and
//! dot products, eight lanes to a 256-bit vector where f64 has four; the factor's lower
//! triangle is half the bytes) and widens the result back to f64. The simplified Newton
//! iteration that uses the solves converges to the same corrector whatever matrix approximates
//! M (only its contraction rate depends on it), and every residual stays in f64. The
//! substitutions' relative error is about κ·ε₃₂ with κ the condition number of the
//! diagonally scaled a·I + D^{1/2}GD^{1/2}, at most 1 + c·ρ (ρ the spectral radius of J):
//! a change of the contraction rate by that much.

use faer::dyn_stack::{MemBuffer, MemStack};

use crate::solvers::lu::FAER_PAR_MIN_DIM;

/// d_j below this (√ of the smallest normal f32, ≈ 1.1e−19) or a/d_j beyond f32's range: the
/// f32 path does not apply and the caller factorises in f64.
const D_MIN: f64 = 1.0842021724855044e-19;

/// The Gram G of the current Jacobian in f32 and the Cholesky factor of S = G + a·diag(d)⁻¹.
pub(super) struct SingleCholesky {
    n: usize,
    /// G's lower triangle (column-major n × n; the strict upper triangle unused), as the
    /// problem wrote it.
    pub(super) gram: Vec<f32>,
    /// L of S = LLᵀ in the lower triangle (the strict upper triangle unused).
    factor: Vec<f32>,
    /// 1/L_jj.
    inv_diag: Vec<f32>,
    /// 1/d_j.
    inv_d: Vec<f64>,
    /// The right-hand side and solution in f32.
    x: Vec<f32>,
    mem: MemBuffer,
}

fn par(n: usize) -> faer::Par {
    if n >= FAER_PAR_MIN_DIM {
        faer::Par::rayon(0)
    } else {
        faer::Par::Seq
    }
}

impl SingleCholesky {
    pub(super) fn new(n: usize) -> Self {
        let scratch = faer::linalg::cholesky::llt::factor::cholesky_in_place_scratch::<f32>(
            n,
            par(n),
            Default::default(),
        );
        Self {
            n,
            gram: vec![0.0; n * n],
            factor: vec![0.0; n * n],
            inv_diag: vec![0.0; n],
            inv_d: vec![0.0; n],
            x: vec![0.0; n],
            mem: MemBuffer::new(scratch),
        }
    }

    /// Factorise S = G + a·diag(d)⁻¹ (the diagonal added in f64 and rounded once). Returns false,
    /// leaving no usable factor, when the path does not apply (a not positive and finite, some
    /// d_j not finite or below [`D_MIN`], a/d_j beyond f32's range) or S is not numerically
    /// positive definite in f32; the caller then factorises in f64.
    pub(super) fn factor(&mut self, d: &[f64], a: f64) -> bool {
        let n = self.n;
        let usable = |dj: f64| dj.is_finite() && dj >= D_MIN && ((a / dj) as f32).is_finite();
        if d.len() != n || !(a > 0.0 && a.is_finite()) || !d.iter().all(|&dj| usable(dj)) {
            return false;
        }
        for (j, &dj) in d.iter().enumerate() {
            let col = j * n + j..(j + 1) * n;
            self.factor[col.clone()].copy_from_slice(&self.gram[col]);
            let s = &mut self.factor[j * n + j];
            *s = (f64::from(*s) + a / dj) as f32;
        }
        let mat = faer::MatMut::from_column_major_slice_mut(self.factor.as_mut_slice(), n, n);
        let factored = faer::linalg::cholesky::llt::factor::cholesky_in_place(
            mat,
            Default::default(),
            par(n),
            MemStack::new(&mut self.mem),
            Default::default(),
        );
        let diag_ok = (0..n).all(|i| {
            let l = self.factor[i * n + i];
            l > 0.0 && l.is_finite()
        });
        if factored.is_err() || !diag_ok {
            return false;
        }
        for (i, r) in self.inv_diag.iter_mut().enumerate() {
            *r = 1.0 / self.factor[i * n + i];
        }
        for (r, &dj) in self.inv_d.iter_mut().zip(d) {
            *r = 1.0 / dj;
        }
        true
    }

    /// b ← (a·I + diag(d)·G)⁻¹ b = S⁻¹ diag(d)⁻¹ b with the factor of [`Self::factor`]: diag(d)⁻¹b
    /// rounded to f32, L⁻ᵀL⁻¹ in f32, widened back.
    pub(super) fn solve(&mut self, b: &mut [f64]) {
        for ((x, &bi), &s) in self.x.iter_mut().zip(b.iter()).zip(&self.inv_d) {
            *x = (bi * s) as f32;
        }
        pulp::Arch::new().dispatch(Substitution {
            factor: &self.factor,
            inv_diag: &self.inv_diag,
            x: &mut self.x,
        });
        for (bi, &x) in b.iter_mut().zip(&self.x) {
            *bi = f64::from(x);
        }
    }
}

/// x ← L⁻ᵀL⁻¹x in f32 for the Cholesky factor L in the lower triangle of `factor`
/// (column-major): forward by axpys with L's columns, backward by dot products with them, both
/// explicit SIMD compiled inside pulp's runtime dispatch (as `solvers::lu`'s f64 kernel).
struct Substitution<'a> {
    factor: &'a [f32],
    /// 1/L_jj.
    inv_diag: &'a [f32],
    x: &'a mut [f32],
}

impl pulp::WithSimd for Substitution<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Substitution {
            factor,
            inv_diag,
            x,
        } = self;
        let n = x.len();
        for j in 0..n {
            x[j] *= inv_diag[j];
            let xj = x[j];
            if xj != 0.0 {
                let (xh, xt) = S::as_mut_simd_f32s(&mut x[j + 1..]);
                let (ch, ct) = S::as_simd_f32s(&factor[j * n + j + 1..(j + 1) * n]);
                let v = simd.splat_f32s(xj);
                for (xi, &c) in xh.iter_mut().zip(ch) {
                    *xi = simd.negate_mul_add_f32s(c, v, *xi);
                }
                for (xi, &c) in xt.iter_mut().zip(ct) {
                    *xi -= c * xj;
                }
            }
        }
        for j in (0..n).rev() {
            let (ah, at) = S::as_simd_f32s(&factor[j * n + j + 1..(j + 1) * n]);
            let (bh, bt) = S::as_simd_f32s(&x[j + 1..]);
            // Four running sums, so that the fused multiply–adds need not wait for each other.
            let mut acc = [simd.splat_f32s(0.0); 4];
            let (ah4, ah1) = ah.split_at(ah.len() / 4 * 4);
            let (bh4, bh1) = bh.split_at(ah4.len());
            for (u, v) in ah4.chunks_exact(4).zip(bh4.chunks_exact(4)) {
                for k in 0..4 {
                    acc[k] = simd.mul_add_f32s(u[k], v[k], acc[k]);
                }
            }
            for (&u, &v) in ah1.iter().zip(bh1) {
                acc[0] = simd.mul_add_f32s(u, v, acc[0]);
            }
            let sum = simd.add_f32s(simd.add_f32s(acc[0], acc[1]), simd.add_f32s(acc[2], acc[3]));
            let tail: f32 = at.iter().zip(bt).map(|(u, v)| u * v).sum();
            let below = simd.reduce_sum_f32s(sum) + tail;
            x[j] = (x[j] - below) * inv_diag[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use nalgebra::{DMatrix, DVector};

    use super::SingleCholesky;
    use crate::solvers::lu::LuSolver;

    /// The f32 factor and substitutions solve a·I + diag(d)·G to f32 accuracy relative to the
    /// diagonally scaled condition number, agree with the f64 Cholesky path to the same, and
    /// refuse what they cannot do (an indefinite G, a zero or subnormal d_j, a = 0).
    #[test]
    fn single_precision_solves_the_scaled_gram_iteration_matrix() {
        let n = 300;
        let b_mat = DMatrix::from_fn(n, n / 2, |i, j| {
            (((i * 5 + j * 11) % 23) as f64 / 23.0 - 0.45) * 0.2
        });
        let gram = &b_mat * b_mat.transpose();
        // d = s² over four decades, as the benchmark's strengths 10 … 0.1.
        let d = DVector::from_fn(n, |i, _| {
            100.0 * 10f64.powf(-4.0 * i as f64 / (n - 1) as f64)
        });
        let rhs = DVector::from_fn(n, |i, _| (0.7 * i as f64).cos());
        let mut single = SingleCholesky::new(n);
        for (j, col) in single.gram.chunks_exact_mut(n).enumerate() {
            for (i, g) in col.iter_mut().enumerate() {
                // Lower triangle only; garbage above, which must not be read.
                *g = if i >= j {
                    gram[(i, j)] as f32
                } else {
                    f32::NAN
                };
            }
        }
        let mut double = LuSolver::<0>::new(n);
        for a in [1e3, 1.0, 1e-3] {
            let w = DMatrix::identity(n, n) * a + DMatrix::from_diagonal(&d) * &gram;
            let mut x = rhs.clone();
            assert!(single.factor(d.as_slice(), a));
            single.solve(x.as_mut_slice());
            let mut x64 = rhs.clone();
            assert!(double.factor_scaled_gram(&gram, d.as_slice(), a));
            double.solve(x64.as_mut_slice());
            // κ of a·I + D^{1/2}GD^{1/2}, by its eigenvalues.
            let root = DMatrix::from_diagonal(&d.map(f64::sqrt));
            let eig = (&root * &gram * &root).symmetric_eigenvalues();
            let kappa = (a + eig.max()) / (a + eig.min().max(0.0));
            let gap = (&x - &x64).amax() / x64.amax();
            let residual = (&w * &x - &rhs).amax() / (w.abs() * x.abs()).amax();
            eprintln!("a {a:.0e}: κ {kappa:.2e}, |x − x64| {gap:.2e}, residual {residual:.2e}");
            assert!(gap < 2e-6 * kappa, "a {a}: {gap:.2e} for κ {kappa:.2e}");
            assert!(residual < 1e-5, "a {a}: residual {residual:.2e}");
        }
        let mut bad = d.clone();
        bad[7] = 0.0;
        assert!(!single.factor(bad.as_slice(), 1.0));
        bad[7] = 1e-30;
        assert!(!single.factor(bad.as_slice(), 1.0));
        assert!(!single.factor(d.as_slice(), 0.0));
        assert!(!single.factor(d.as_slice(), f64::NAN));
        for (j, col) in single.gram.chunks_exact_mut(n).enumerate() {
            col[j] = -10.0;
        }
        assert!(!single.factor(d.as_slice(), 1.0));
    }
}
