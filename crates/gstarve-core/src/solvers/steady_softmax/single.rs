//! Single precision (f32) for what only guides the softmax Newton steps (docs/theory.md §12.4):
//! a copy of U, and from it the Hessian actions of the loose steps, the Jacobi diagonal and the
//! Hessian factor that precondition the conjugate gradients. None decides where Newton stops: the
//! objective, the stopping test and the tight steps stay in f64, so the steady state is the
//! f64 one to the Newton tolerance; f32 changes how many conjugate-gradient iterations a step
//! takes, not the point it converges to.
//!
//! - A preconditioner M ≈ A only has to be symmetric positive definite and close to A: the
//!   f32 factor L̃ of A = UᵀHU + W (E and EᵀE in f32, A's eigenvalues ≥ min W = λ/s₁² ≫ the f32
//!   rounding of UᵀHU) costs about half the f64 one in faer's blocked kernels; so does a
//!   diagonal preconditioner from the f32 entries of U.
//! - A conjugate-gradient solve stopped at a relative residual ρ only needs the action to a
//!   relative accuracy well below ρ: with U and the vector rounded to f32 the action carries a
//!   relative error of order 10⁻⁷·cond, and U's copy is half the bytes to stream per action.
//!   It is used when the step asks for a reduction of at most [`SINGLE_MAX_REDUCTION`].

use nalgebra::{DMatrix, DVector};

use crate::model::Curvature;

/// The largest reduction of the residual (threshold / start) a conjugate-gradient solve may ask
/// for and still run on the f32 copy of U: the action's relative error, ≈ 6·10⁻⁸ times the
/// condition number of A on the step's subspace (≤ 10⁴ for s² ∈ [10⁻², 10²], λ = 10⁻²), stays
/// two decades below it.
pub(super) const SINGLE_MAX_REDUCTION: f64 = 1e-2;

/// The fewest entries of U (n·c·r) for which the Newton solve uses f32: from here on U (f64)
/// no longer fits a core's L2 cache (2 MB here), the actions stream it from memory, and half the
/// bytes matter; smaller systems keep every step in f64, as before.
pub(super) const SINGLE_MIN_ENTRIES: usize = 1 << 18;

/// Examples per task of [`SingleCoupling::action`]: its rows are split into this many chunks
/// of whole examples (a constant, so the sums' order does not depend on the thread count).
const CHUNKS: usize = 8;

/// The Cholesky factor L̃ (f32, lower triangle) of A = UᵀHU + W with every component free.
pub(super) struct SingleHessianFactor {
    l: faer::Mat<f32>,
}

impl SingleHessianFactor {
    /// L̃ at the point of `curvature`: E of `model::softmax::curvature` from the f32 copy of U
    /// (`coupling`; E computed in f64 from its f32 entries and rounded to f32,
    /// [`Curvature::example_factor_rows`]), its lower-triangular Gram and Cholesky factorisation
    /// in f32; `None` if the f32 A is not numerically positive definite.
    pub(super) fn new(
        coupling: &SingleCoupling,
        curvature: &Curvature,
        weights: &DVector<f64>,
    ) -> Option<Self> {
        use faer::linalg::matmul::triangular::{matmul, BlockStructure};
        let r = curvature.dim();
        assert_eq!(weights.len(), r, "every component free");
        let et = coupling.factor_transpose(curvature);
        let rows = et.len() / r;
        let et = faer::MatRef::from_column_major_slice(&et, r, rows);
        let mut a = faer::Mat::<f32>::zeros(r, r);
        matmul(
            a.as_mut(),
            BlockStructure::TriangularLower,
            faer::Accum::Replace,
            et,
            BlockStructure::Rectangular,
            et.transpose(),
            BlockStructure::Rectangular,
            1.0,
            Curvature::product_par(rows, r),
        );
        for (j, &w) in weights.iter().enumerate() {
            a[(j, j)] += w as f32;
        }
        super::cholesky_lower_in_place(a.as_mut())?;
        Some(Self { l: a })
    }

    /// M⁻¹b with M = L̃L̃ᵀ: b scaled by its largest entry and rounded to f32 (no underflow), the
    /// two triangular solves in f32, the result scaled back in f64.
    pub(super) fn solve(&self, b: &DVector<f64>) -> DVector<f64> {
        use faer::linalg::triangular_solve::{
            solve_lower_triangular_in_place, solve_upper_triangular_in_place,
        };
        let scale = b.amax();
        if scale == 0.0 || !scale.is_finite() {
            return b.clone();
        }
        let n = b.len();
        let mut x = faer::Mat::<f32>::from_fn(n, 1, |i, _| (b[i] / scale) as f32);
        solve_lower_triangular_in_place(self.l.as_ref(), x.as_mut(), faer::Par::Seq);
        solve_upper_triangular_in_place(self.l.transpose(), x.as_mut(), faer::Par::Seq);
        DVector::from_fn(n, |i, _| x[(i, 0)] as f64 * scale)
    }
}

/// U (n·c × r) rounded to f32, for what needs only a loose relative accuracy (the loose steps'
/// Hessian actions, the Jacobi diagonal, the preconditioning factor's E), stored as [`CHUNKS`]
/// blocks of whole examples, each block's rows of U one after another (a row-major copy of the
/// block: column l of the r × (rows of the block) matrix stored is row l of the block). An
/// example's c rows are then c·r contiguous entries, so that per-example work vectorises over
/// the responses j, and a task streams one run of memory.
pub(super) struct SingleCoupling {
    /// (first example, the block's rows of U one after another: the columns of an
    /// r × (its rows) column-major f32 matrix).
    chunks: Vec<(usize, Vec<f32>)>,
    classes: usize,
    rank: usize,
}

impl SingleCoupling {
    /// The f32 copy of `u`, whose rows are the n·c outputs of `classes`-class examples.
    pub(super) fn new(u: &DMatrix<f64>, classes: usize) -> Self {
        use rayon::prelude::*;
        let (rows, r) = u.shape();
        let c = classes;
        let examples = rows / c;
        let per_chunk = examples.div_ceil(CHUNKS).max(1);
        let data = u.as_slice();
        let chunks = (0..examples)
            .step_by(per_chunk)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|first| {
                let count = per_chunk.min(examples - first);
                let height = count * c;
                let top = first * c;
                // Column by column of U: a contiguous read of the block's part of column j,
                // written across the block's rows (r·height entries, in cache).
                let mut block = vec![0.0f32; r * height];
                for j in 0..r {
                    let column = &data[j * rows + top..j * rows + top + height];
                    for (l, &x) in column.iter().enumerate() {
                        block[l * r + j] = x as f32;
                    }
                }
                (first, block)
            })
            .collect();
        Self {
            chunks,
            classes,
            rank: r,
        }
    }

    /// A block's rows of U as the columns of an r × (its rows) matrix, U_Bᵀ.
    fn transposed<'b>(&self, block: &'b [f32]) -> faer::MatRef<'b, f32> {
        faer::MatRef::from_column_major_slice(block, self.rank, block.len() / self.rank)
    }

    /// ≈ UᵀHUv with H of `curvature`: per chunk of whole examples (U's rows B), U_B v in f32,
    /// Hᵢ applied to each example's logits in f64 ([`Curvature::example_action`]), U_Bᵀ of the
    /// result in f32; the chunks on all cores, their partial sums added in f64 in chunk order.
    /// v is scaled by its largest entry before rounding (no underflow).
    pub(super) fn action(&self, curvature: &Curvature, v: &DVector<f64>) -> DVector<f64> {
        use rayon::prelude::*;
        let (c, r) = (self.classes, self.rank);
        let scale = v.amax();
        if scale == 0.0 || !scale.is_finite() {
            return v.map(|x| x * 0.0);
        }
        let v32 = faer::Mat::<f32>::from_fn(r, 1, |j, _| (v[j] / scale) as f32);
        let partials: Vec<faer::Mat<f32>> = self
            .chunks
            .par_iter()
            .map(|(first, block)| {
                // The block stores U_Bᵀ: U_B v = (U_Bᵀ)ᵀv, U_Bᵀw = (U_Bᵀ)w.
                let block = self.transposed(block);
                let mut values = faer::Mat::<f32>::zeros(block.ncols(), 1);
                faer::linalg::matmul::matmul(
                    values.as_mut(),
                    faer::Accum::Replace,
                    block.transpose(),
                    v32.as_ref(),
                    1.0,
                    faer::Par::Seq,
                );
                let mut w = vec![0.0; c];
                let mut hw = vec![0.0; c];
                for k in 0..block.ncols() / c {
                    for (l, x) in w.iter_mut().enumerate() {
                        *x = values[(k * c + l, 0)] as f64;
                    }
                    curvature.example_action(first + k, &w, &mut hw);
                    for (l, &x) in hw.iter().enumerate() {
                        values[(k * c + l, 0)] = x as f32;
                    }
                }
                let mut partial = faer::Mat::<f32>::zeros(r, 1);
                faer::linalg::matmul::matmul(
                    partial.as_mut(),
                    faer::Accum::Replace,
                    block,
                    values.as_ref(),
                    1.0,
                    faer::Par::Seq,
                );
                partial
            })
            .collect();
        DVector::from_fn(r, |j, _| {
            partials.iter().map(|p| p[(j, 0)] as f64).sum::<f64>() * scale
        })
    }

    /// ≈ diag(UᵀHU) from the f32 copy (the Jacobi preconditioner of the conjugate gradients):
    /// per example [`Curvature::add_example_diagonal`], vectorised over j; the chunks on all
    /// cores, their partial sums added in chunk order.
    pub(super) fn diagonal(&self, curvature: &Curvature) -> DVector<f64> {
        use rayon::prelude::*;
        let (c, r) = (self.classes, self.rank);
        let partials: Vec<Vec<f64>> = self
            .chunks
            .par_iter()
            .map(|(first, block)| {
                let mut sums = vec![0.0; r];
                pulp::Arch::new().dispatch(DiagonalKernel {
                    curvature,
                    first: *first,
                    rows: block,
                    classes: c,
                    sums: &mut sums,
                });
                sums
            })
            .collect();
        DVector::from_fn(r, |j, _| partials.iter().map(|p| p[j]).sum::<f64>())
    }

    /// Eᵀ (r × n(c − 1), column-major: E's rows as columns, example by example, the classes
    /// k ≠ aᵢ in order) from the f32 copy ([`Curvature::example_factor_rows`]), the chunks on
    /// all cores.
    fn factor_transpose(&self, curvature: &Curvature) -> Vec<f32> {
        use rayon::prelude::*;
        let (c, r) = (self.classes, self.rank);
        let mut et = super::zeroed(curvature.factor_rows() * r);
        let mut parts: Vec<&mut [f32]> = Vec::with_capacity(self.chunks.len());
        let mut rest = et.as_mut_slice();
        for (_, block) in &self.chunks {
            let (part, tail) =
                std::mem::take(&mut rest).split_at_mut(block.len() / (c * r) * (c - 1) * r);
            parts.push(part);
            rest = tail;
        }
        parts
            .into_par_iter()
            .zip(self.chunks.par_iter())
            .for_each(|(part, (first, block))| {
                pulp::Arch::new().dispatch(FactorKernel {
                    curvature,
                    first: *first,
                    rows: block,
                    classes: c,
                    out: part,
                });
            });
        et
    }
}

/// One chunk's part of [`SingleCoupling::diagonal`], as a pulp operation: `with_simd` is
/// compiled once per instruction set and inlines the per-example loops
/// ([`Curvature::add_example_diagonal`]) so that they vectorise for it.
struct DiagonalKernel<'k, 'd, 'a> {
    curvature: &'k Curvature<'d, 'a>,
    first: usize,
    rows: &'k [f32],
    classes: usize,
    sums: &'k mut [f64],
}

impl pulp::WithSimd for DiagonalKernel<'_, '_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let r = self.sums.len();
        let (mut q, mut s) = (vec![0.0; r], vec![0.0; r]);
        for (k, example) in self.rows.chunks_exact(self.classes * r).enumerate() {
            self.curvature
                .add_example_diagonal(self.first + k, example, &mut q, &mut s, self.sums);
        }
    }
}

/// One chunk's part of [`SingleCoupling::factor_transpose`], as a pulp operation (as
/// [`DiagonalKernel`], with [`Curvature::example_factor_rows`]).
struct FactorKernel<'k, 'd, 'a> {
    curvature: &'k Curvature<'d, 'a>,
    first: usize,
    rows: &'k [f32],
    classes: usize,
    out: &'k mut [f32],
}

impl pulp::WithSimd for FactorKernel<'_, '_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let c = self.classes;
        let r = self.curvature.dim();
        let mut q = vec![0.0; r];
        for (k, (example, out)) in self
            .rows
            .chunks_exact(c * r)
            .zip(self.out.chunks_exact_mut((c - 1) * r))
            .enumerate()
        {
            self.curvature
                .example_factor_rows(self.first + k, example, &mut q, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use nalgebra::DVector;

    use super::*;
    use crate::model::{Regulariser, SoftmaxDynamics};
    use crate::systems::multiclass::random_multiclass;

    /// The f32 action agrees with the f64 one to f32 rounding (relative 10⁻⁶ of its largest
    /// entry), and the f32 factor's solve with the f64 Hessian's to the f32 factor's accuracy
    /// (relative 10⁻³ here, cond(A) ≈ 10²), far from either being exact.
    #[test]
    fn single_action_and_factor_match_double_to_f32_rounding() {
        let sys = random_multiclass(40, 5, 60, 7);
        let lambda = 0.05;
        let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda }).unwrap();
        let z = DVector::from_fn(60, |j, _| ((j * 37) % 11) as f64 / 5.0 - 1.0);
        let curvature = d.curvature(&z);
        let v = DVector::from_fn(60, |j, _| ((j * 13) % 7) as f64 - 3.0);
        let exact = curvature.action(&v);
        let single = SingleCoupling::new(sys.system().coupling(), 5).action(&curvature, &v);
        let gap = (&single - &exact).amax();
        assert!(gap < 1e-6 * exact.amax(), "{gap:e} of {:e}", exact.amax());
        assert!(gap > 0.0, "the f32 action should not be exact");

        // The Jacobi diagonal from the f32 rows (S − Q² per example) against the f64 one
        // (Σ p_k (d_k − βQ)² on the f64 columns), entry by entry to f32 rounding.
        let coupling = SingleCoupling::new(sys.system().coupling(), 5);
        let exact = curvature.diagonal();
        let single = coupling.diagonal(&curvature);
        let gap = (&single - &exact).component_div(&exact).amax();
        assert!(gap < 1e-5, "relative {gap:e}");
        assert!(gap > 0.0, "the f32 diagonal should not be exact");

        let weights = DVector::from_fn(60, |j, _| d.penalty_weight(j));
        let mut a = curvature.gram();
        for j in 0..60 {
            a[(j, j)] += weights[j];
        }
        let coupling = SingleCoupling::new(sys.system().coupling(), 5);
        let solved = SingleHessianFactor::new(&coupling, &curvature, &weights)
            .unwrap()
            .solve(&v);
        let direct = a.cholesky().unwrap().solve(&v);
        let gap = (&solved - &direct).amax();
        assert!(gap < 1e-3 * direct.amax(), "{gap:e} of {:e}", direct.amax());
        assert!(gap > 0.0);
    }
}
