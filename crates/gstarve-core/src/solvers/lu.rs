//! Dense LU with partial pivoting into preallocated storage, for the implicit solvers'
//! iteration matrices W = d·I − J (Rodas4: d = 1/(hγ); BDF: d = 1/c, c = h/α_k).
//!
//! A plain column-major Doolittle loop for n < [`FAER_LU_MIN_DIM`] (nalgebra's `lu()` takes
//! its matrix by value and allocates the factor and the permutation on every call), faer's
//! blocked `lu_in_place` with a preallocated stack from there on (on all cores from
//! [`FAER_PAR_MIN_DIM`] on), then column-oriented substitutions whose axpys are explicit SIMD
//! (pulp). Nothing allocates after [`LuSolver::new`].
//!
//! For the margin flows' W = a·I + K·diag(d) (K symmetric positive semi-definite, d > 0),
//! [`LuSolver::factor_gram`] replaces the LU by a Cholesky factorisation of the symmetric
//! positive definite S = K + a·diag(d)⁻¹ (W = S·diag(d)) in the same storage, from
//! [`FAER_LU_MIN_DIM`] on. For the softmax flow's W = a·I + diag(d)·G (G symmetric positive
//! semi-definite, d > 0), [`LuSolver::factor_scaled_gram`] factorises the same S = G + a·diag(d)⁻¹
//! (W = diag(d)·S) and scales before the substitutions instead of after.

use faer::dyn_stack::{MemBuffer, MemStack};
use nalgebra::DMatrix;

/// From this dimension on W is factorised by faer's blocked LU instead of the plain loop: the
/// size from which a factorisation and six solves take less time in faer (measured:
/// docs/benchmarks.md, "Solver tuning measurements (moved from the code)", LU).
pub const FAER_LU_MIN_DIM: usize = 40;

/// From this dimension on the faer factorisation runs on all cores (rayon): below it starting
/// the threads costs more than they save (measured: docs/benchmarks.md, "Solver tuning
/// measurements (moved from the code)", LU).
pub const FAER_PAR_MIN_DIM: usize = 800;

/// faer's parallelism for dimension n.
fn par(n: usize) -> faer::Par {
    if n >= FAER_PAR_MIN_DIM {
        faer::Par::rayon(0)
    } else {
        faer::Par::Seq
    }
}

/// Partial-pivoting LU of W = d·I − J (or, after [`LuSolver::factor_gram`], the Cholesky
/// factor of the symmetric form) into preallocated storage.
pub(crate) struct LuSolver<const N: usize> {
    pub(super) n: usize,
    /// The factors, column-major: after [`Self::factor`] unit-lower L below the diagonal and U
    /// on and above; after [`Self::factor_gram`] the Cholesky factor L on and below the
    /// diagonal (the upper triangle is left over and unused).
    pub(super) lu: Vec<f64>,
    /// Small path: row interchanged with row k at step k. faer path: the row permutation
    /// (unused after [`Self::factor_gram`]).
    pub(super) perm: Vec<usize>,
    /// faer path only: inverse permutation, stack for the transpositions, scratch vector.
    pub(super) faer: Option<(Vec<usize>, MemBuffer, Vec<f64>)>,
    /// Set by [`Self::factor_gram`] and [`Self::factor_scaled_gram`]: the factors are of
    /// S = K + a·diag(d)⁻¹ and the right-hand side (`scale_first`) or the solution is scaled by
    /// these 1/d_j; empty after an LU.
    pub(super) inv_d: Vec<f64>,
    /// W = diag(d)·S ([`Self::factor_scaled_gram`]) rather than S·diag(d).
    pub(super) scale_first: bool,
    /// faer and Cholesky paths: the reciprocals of the factor's diagonal (U's, or L's), so that
    /// the substitutions multiply instead of divide: a division on their serial dependency
    /// chain costs several times a multiplication's latency.
    pub(super) inv_diag: Vec<f64>,
}

impl<const N: usize> LuSolver<N> {
    /// The dimension: the compile-time N when N > 0 (so that the loops unroll), else n.
    #[inline(always)]
    fn dim(&self) -> usize {
        if N > 0 {
            N
        } else {
            self.n
        }
    }

    /// Storage for n × n factorisations (faer's path from [`FAER_LU_MIN_DIM`] on).
    pub(crate) fn new(n: usize) -> Self {
        debug_assert!(N == 0 || N == n);
        let faer =
            (n >= FAER_LU_MIN_DIM).then(|| {
                let lu = faer::linalg::lu::partial_pivoting::factor::lu_in_place_scratch::<
                    usize,
                    f64,
                >(n, n, par(n), Default::default());
                let llt = faer::linalg::cholesky::llt::factor::cholesky_in_place_scratch::<f64>(
                    n,
                    par(n),
                    Default::default(),
                );
                (vec![0; n], MemBuffer::new(lu.or(llt)), vec![0.0; n])
            });
        Self {
            n,
            lu: vec![0.0; n * n],
            perm: vec![0; n],
            faer,
            inv_d: Vec::with_capacity(n),
            scale_first: false,
            inv_diag: vec![0.0; n],
        }
    }

    /// Factorise W = a·I + K·diag(d), with K symmetric positive semi-definite and every
    /// d_j > 0 (the iteration matrix of a flow whose Jacobian is −K·diag(d) − μI, a = d_W + μ;
    /// docs/theory.md §12.2), as W = S·diag(d) with S = K + a·diag(d)⁻¹ symmetric positive definite:
    /// a Cholesky S = LLᵀ, half the work of an LU and no pivoting; [`Self::solve`] then
    /// substitutes with L and Lᵀ and scales x ← diag(d)⁻¹x. This is a Cholesky solve with
    /// W·diag(d)⁻¹, accurate to rounding relative to that column scaling even when some d_j are
    /// tiny (those rows of S are then dominated by their diagonal).
    ///
    /// Returns false, leaving no usable factorisation, if the path does not apply (n below
    /// [`FAER_LU_MIN_DIM`], a K or d of the wrong shape, a not positive and finite, some d_j
    /// not finite or below √(smallest normal) ≈ 1.5e−154) or S is not numerically positive
    /// definite; the caller then falls back to [`Self::factor`].
    pub(crate) fn factor_gram(&mut self, gram: &DMatrix<f64>, d: &[f64], a: f64) -> bool {
        self.scale_first = false;
        self.cholesky_of_gram(gram, d, a)
    }

    /// Factorise W = a·I + diag(d)·G, with G symmetric positive semi-definite (the iteration
    /// matrix of a flow whose Jacobian is −diag(d)·G − μI, a = d_W + μ: the softmax flow,
    /// docs/theory.md §9.2), as W = diag(d)·S with the S = G + a·diag(d)⁻¹ of
    /// [`Self::factor_gram`] by Cholesky; [`Self::solve`] then scales b ← diag(d)⁻¹b before
    /// substituting with L and Lᵀ. Where that path does not apply (see [`Self::factor_gram`]:
    /// small n, some d_j zero or tiny, S not numerically positive definite) W itself is
    /// factorised by LU. Returns false if W is singular or not finite.
    pub(crate) fn factor_scaled_gram(&mut self, gram: &DMatrix<f64>, d: &[f64], a: f64) -> bool {
        let n = self.dim();
        self.scale_first = true;
        if self.cholesky_of_gram(gram, d, a) {
            return true;
        }
        self.inv_d.clear();
        if gram.nrows() != n || gram.ncols() != n || d.len() != n {
            return false;
        }
        let w = &mut self.lu;
        for (j, (col, g)) in w
            .chunks_exact_mut(n)
            .zip(gram.as_slice().chunks_exact(n))
            .enumerate()
        {
            for ((wi, &gi), &di) in col.iter_mut().zip(g).zip(d) {
                *wi = di * gi;
            }
            col[j] += a;
        }
        self.lu_in_place()
    }

    /// The Cholesky factorisation of S = K + a·diag(d)⁻¹ shared by [`Self::factor_gram`] and
    /// [`Self::factor_scaled_gram`].
    fn cholesky_of_gram(&mut self, gram: &DMatrix<f64>, d: &[f64], a: f64) -> bool {
        let n = self.dim();
        self.inv_d.clear();
        let Some((_, mem, _)) = &mut self.faer else {
            return false;
        };
        // d_j ≥ √(smallest normal): then 1/d_j and a/d_j are finite for any reasonable a, and
        // the solution's y_j ≈ b_j d_j / a stays far from the subnormals. A smaller d_j (a
        // margin beyond ≈ 350 for the logistic loss) falls back to LU.
        let d_min = f64::MIN_POSITIVE.sqrt();
        let usable = |dj: f64| dj.is_finite() && dj >= d_min && (a / dj).is_finite();
        if a.is_nan() || a <= 0.0 || !a.is_finite() || !d.iter().all(|&dj| usable(dj)) {
            return false;
        }
        if gram.nrows() != n || gram.ncols() != n || d.len() != n {
            return false;
        }
        let s = &mut self.lu;
        s.copy_from_slice(gram.as_slice());
        for (j, &dj) in d.iter().enumerate() {
            s[j * n + j] += a / dj;
        }
        let mat = faer::MatMut::from_column_major_slice_mut(s.as_mut_slice(), n, n);
        let factored = faer::linalg::cholesky::llt::factor::cholesky_in_place(
            mat,
            Default::default(),
            par(n),
            MemStack::new(mem),
            Default::default(),
        );
        if factored.is_err() || !(0..n).all(|i| s[i * n + i] > 0.0 && s[i * n + i].is_finite()) {
            return false;
        }
        for (i, r) in self.inv_diag.iter_mut().enumerate() {
            *r = 1.0 / s[i * n + i];
        }
        self.inv_d.extend(d.iter().map(|&dj| 1.0 / dj));
        true
    }

    /// Factorise d·I − J. Returns false if W is singular or not finite.
    #[inline(always)]
    pub(crate) fn factor(&mut self, jac: &DMatrix<f64>, d: f64) -> bool {
        let n = self.dim();
        self.inv_d.clear();
        let a = &mut self.lu;
        for (w, &j) in a.iter_mut().zip(jac.as_slice()) {
            *w = -j;
        }
        for i in 0..n {
            a[i * n + i] += d;
        }
        self.lu_in_place()
    }

    /// The partial-pivoting LU of the matrix in `lu`, in place. Returns false if it is singular
    /// or not finite.
    #[inline(always)]
    fn lu_in_place(&mut self) -> bool {
        let n = self.dim();
        let a = &mut self.lu;
        match &mut self.faer {
            Some((perm_inv, mem, _)) => {
                let mat = faer::MatMut::from_column_major_slice_mut(a.as_mut_slice(), n, n);
                faer::linalg::lu::partial_pivoting::factor::lu_in_place(
                    mat,
                    &mut self.perm,
                    perm_inv,
                    par(n),
                    MemStack::new(mem),
                    Default::default(),
                );
                let regular = (0..n).all(|i| {
                    let u = a[i * n + i];
                    u != 0.0 && u.is_finite()
                });
                for (i, r) in self.inv_diag.iter_mut().enumerate() {
                    *r = 1.0 / a[i * n + i];
                }
                regular
            }
            None => {
                for k in 0..n {
                    let col = k * n;
                    let mut p = k;
                    let mut max = a[col + k].abs();
                    for i in k + 1..n {
                        let v = a[col + i].abs();
                        if v > max {
                            max = v;
                            p = i;
                        }
                    }
                    if max == 0.0 || !max.is_finite() {
                        return false;
                    }
                    self.perm[k] = p;
                    if p != k {
                        for j in 0..n {
                            a.swap(j * n + k, j * n + p);
                        }
                    }
                    let inv = 1.0 / a[col + k];
                    for i in k + 1..n {
                        a[col + i] *= inv;
                    }
                    for j in k + 1..n {
                        let akj = a[j * n + k];
                        if akj != 0.0 {
                            for i in k + 1..n {
                                a[j * n + i] -= a[col + i] * akj;
                            }
                        }
                    }
                }
                true
            }
        }
    }

    /// b ← W⁻¹ b.
    #[inline(always)]
    pub(crate) fn solve(&mut self, b: &mut [f64]) {
        let n = self.dim();
        let b = &mut b[..n];
        let a = &self.lu;
        match &mut self.faer {
            Some(_) if !self.inv_d.is_empty() => {
                if self.scale_first {
                    for (x, &s) in b.iter_mut().zip(&self.inv_d) {
                        *x *= s;
                    }
                }
                pulp::Arch::new().dispatch(Substitution {
                    lu: a,
                    inv_diag: &self.inv_diag,
                    x: b,
                    cholesky: true,
                });
                if !self.scale_first {
                    for (x, &s) in b.iter_mut().zip(&self.inv_d) {
                        *x *= s;
                    }
                }
            }
            Some((_, _, tmp)) => {
                for (t, &p) in tmp.iter_mut().zip(&self.perm) {
                    *t = b[p];
                }
                substitute(a, &self.inv_diag, tmp);
                b.copy_from_slice(tmp);
            }
            None => {
                for k in 0..n {
                    b.swap(k, self.perm[k]);
                }
                for j in 0..n {
                    let bj = b[j];
                    if bj != 0.0 {
                        for i in j + 1..n {
                            b[i] -= a[j * n + i] * bj;
                        }
                    }
                }
                for j in (0..n).rev() {
                    b[j] /= a[j * n + j];
                    let bj = b[j];
                    for i in 0..j {
                        b[i] -= a[j * n + i] * bj;
                    }
                }
            }
        }
    }
}

/// x ← U⁻¹L⁻¹x for the packed factors `lu` (column-major, unit-lower L below the diagonal):
/// column-oriented substitutions whose inner loops are contiguous axpys, compiled inside pulp's
/// runtime dispatch so that they vectorise for AVX2 where the machine has it (the crate itself
/// targets baseline x86-64, whose SSE2 vectors are half as wide); fewer instructions than
/// faer's recursive triangular solves at the sizes BDF meets (measured: docs/benchmarks.md,
/// "Solver tuning measurements (moved from the code)", LU).
fn substitute(lu: &[f64], inv_diag: &[f64], x: &mut [f64]) {
    pulp::Arch::new().dispatch(Substitution {
        lu,
        inv_diag,
        x,
        cholesky: false,
    });
}

/// [`substitute`] as a pulp operation, with explicit SIMD axpys (x_i ← x_i − l_ij x_j); with
/// `cholesky`, x ← L⁻ᵀL⁻¹x for a Cholesky factor L in the lower triangle (forward by axpys,
/// backward by dot products with L's columns).
struct Substitution<'a> {
    lu: &'a [f64],
    /// 1 / the factor's diagonal entries.
    inv_diag: &'a [f64],
    x: &'a mut [f64],
    cholesky: bool,
}

impl pulp::WithSimd for Substitution<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Substitution {
            lu,
            inv_diag,
            x,
            cholesky,
        } = self;
        let n = x.len();
        let axpy = |x: &mut [f64], col: &[f64], xj: f64| {
            let (xh, xt) = S::as_mut_simd_f64s(x);
            let (ch, ct) = S::as_simd_f64s(col);
            let v = simd.splat_f64s(xj);
            for (xi, &c) in xh.iter_mut().zip(ch) {
                *xi = simd.negate_mul_add_f64s(c, v, *xi);
            }
            for (xi, &c) in xt.iter_mut().zip(ct) {
                *xi -= c * xj;
            }
        };
        if cholesky {
            let dot = |a: &[f64], b: &[f64]| {
                let (ah, at) = S::as_simd_f64s(a);
                let (bh, bt) = S::as_simd_f64s(b);
                let mut acc = simd.splat_f64s(0.0);
                for (&u, &v) in ah.iter().zip(bh) {
                    acc = simd.mul_add_f64s(u, v, acc);
                }
                let tail: f64 = at.iter().zip(bt).map(|(u, v)| u * v).sum();
                simd.reduce_sum_f64s(acc) + tail
            };
            for j in 0..n {
                x[j] *= inv_diag[j];
                let xj = x[j];
                if xj != 0.0 {
                    axpy(&mut x[j + 1..], &lu[j * n + j + 1..(j + 1) * n], xj);
                }
            }
            for j in (0..n).rev() {
                let below = dot(&lu[j * n + j + 1..(j + 1) * n], &x[j + 1..]);
                x[j] = (x[j] - below) * inv_diag[j];
            }
            return;
        }
        for j in 0..n {
            let xj = x[j];
            if xj != 0.0 {
                axpy(&mut x[j + 1..], &lu[j * n + j + 1..(j + 1) * n], xj);
            }
        }
        for j in (0..n).rev() {
            x[j] *= inv_diag[j];
            let xj = x[j];
            axpy(&mut x[..j], &lu[j * n..j * n + j], xj);
        }
    }
}

#[cfg(test)]
mod tests {
    use nalgebra::{DMatrix, DVector};

    use super::LuSolver;
    use crate::solvers::conformance::problems::max_abs_diff;

    #[test]
    fn faer_lu_agrees_with_the_small_lu() {
        // The same W solved by both LU paths (n = 48 ≥ FAER_LU_MIN_DIM).
        let n = 48;
        let jac = DMatrix::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let b = DVector::from_fn(n, |i, _| (i as f64).sin());
        let mut big = LuSolver::<0>::new(n);
        assert!(big.faer.is_some());
        let mut small = LuSolver {
            faer: None,
            ..LuSolver::<0>::new(n)
        };
        let mut x_big = b.clone();
        let mut x_small = b.clone();
        assert!(big.factor(&jac, 3.0) && small.factor(&jac, 3.0));
        big.solve(x_big.as_mut_slice());
        small.solve(x_small.as_mut_slice());
        let w = DMatrix::identity(n, n) * 3.0 - &jac;
        assert!((&w * &x_big - &b).amax() < 1e-10);
        assert!(max_abs_diff(&x_big, &x_small) < 1e-10);
        // Singular W is detected by both.
        let zero = DMatrix::zeros(n, n);
        assert!(!small.factor(&zero, 0.0));
        assert!(!big.factor(&zero, 0.0));
    }

    /// W = a·I + K·diag(d) solved through the Cholesky of K + a·diag(d)⁻¹ agrees with the LU of
    /// the same W, also when d spans twelve decades (tiny d: rows dominated by a/d_j).
    #[test]
    fn gram_factorisation_solves_the_iteration_matrix() {
        let n = 48;
        let b_mat = DMatrix::from_fn(n, n, |i, j| ((i * 5 + j * 11) % 13) as f64 / 13.0 - 0.4);
        let gram = &b_mat * b_mat.transpose();
        let d = DVector::from_fn(n, |i, _| {
            0.25 * 10f64.powf(-12.0 * i as f64 / (n - 1) as f64)
        });
        let rhs = DVector::from_fn(n, |i, _| (0.7 * i as f64).cos());
        let a = 0.3;
        // The Jacobian −K·diag(d), so that a·I − J = W.
        let jac = -&gram * DMatrix::from_diagonal(&d);
        let w = DMatrix::identity(n, n) * a - &jac;
        let mut by_gram = LuSolver::<0>::new(n);
        let mut by_lu = LuSolver::<0>::new(n);
        assert!(by_gram.factor_gram(&gram, d.as_slice(), a));
        assert!(by_lu.factor(&jac, a));
        let mut x_gram = rhs.clone();
        let mut x_lu = rhs.clone();
        by_gram.solve(x_gram.as_mut_slice());
        by_lu.solve(x_lu.as_mut_slice());
        let residual = (&w * &x_gram - &rhs).amax() / rhs.amax();
        assert!(residual < 1e-13, "residual {residual:.3e}");
        let diff = max_abs_diff(&x_gram, &x_lu) / x_lu.amax();
        assert!(diff < 1e-12, "Cholesky vs LU {diff:.3e}");
        // After an LU the same solver solves without the Gram scaling again.
        assert!(by_gram.factor(&jac, a));
        let mut x = rhs.clone();
        by_gram.solve(x.as_mut_slice());
        assert!(max_abs_diff(&x, &x_lu) < 1e-12 * x_lu.amax());
        // Not applicable: a zero or negative d_j, a non-positive a, a small system.
        let mut bad = d.clone();
        bad[3] = 0.0;
        assert!(!by_gram.factor_gram(&gram, bad.as_slice(), a));
        bad[3] = -1e-3;
        assert!(!by_gram.factor_gram(&gram, bad.as_slice(), a));
        assert!(!by_gram.factor_gram(&gram, d.as_slice(), 0.0));
        let small = 8;
        let k8 = DMatrix::<f64>::identity(small, small);
        assert!(!LuSolver::<0>::new(small).factor_gram(&k8, &[1.0; 8], a));
        // A subnormal or infinite d_j, or a K of the wrong shape: LU instead.
        bad[3] = 1e-310;
        assert!(!by_gram.factor_gram(&gram, bad.as_slice(), a));
        bad[3] = f64::INFINITY;
        assert!(!by_gram.factor_gram(&gram, bad.as_slice(), a));
        assert!(!by_gram.factor_gram(&DMatrix::identity(n - 1, n - 1), d.as_slice(), a));
        // W = a·I + diag(d)·K (the softmax flow's form): by Cholesky with the scaling first,
        // and by LU of W itself when a d_j is zero.
        let w_left = DMatrix::identity(n, n) * a + DMatrix::from_diagonal(&d) * &gram;
        let lu_left = w_left.clone().lu();
        let mut zeroed = d.clone();
        zeroed[3] = 0.0;
        for dd in [d.clone(), zeroed] {
            let w = DMatrix::identity(n, n) * a + DMatrix::from_diagonal(&dd) * &gram;
            let mut x = rhs.clone();
            assert!(by_gram.factor_scaled_gram(&gram, dd.as_slice(), a));
            assert_eq!(by_gram.inv_d.is_empty(), dd[3] == 0.0);
            by_gram.solve(x.as_mut_slice());
            let residual = (&w * &x - &rhs).amax() / rhs.amax();
            assert!(residual < 1e-12, "residual {residual:.3e}");
        }
        let mut x = rhs.clone();
        assert!(by_gram.factor_scaled_gram(&gram, d.as_slice(), a));
        by_gram.solve(x.as_mut_slice());
        let direct = lu_left.solve(&rhs).unwrap();
        assert!(max_abs_diff(&x, &direct) < 1e-12 * direct.amax());
        // An indefinite "K" is caught by the Cholesky.
        let indefinite = DMatrix::from_fn(n, n, |i, j| if i == j { -10.0 } else { 0.0 });
        assert!(!by_gram.factor_gram(&indefinite, &[1.0; 48], a));
    }
}
