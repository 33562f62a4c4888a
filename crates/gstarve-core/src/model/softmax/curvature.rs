//! The curvature UᵀHU of the softmax loss at one point (docs/theory.md §9.2, §9.5), evaluated
//! once and then used as a matrix (Newton, sensitivities, implicit flow steps) or as an action
//! (the preconditioned conjugate gradients of the steady state).
//!
//! With the anchored form H = Σᵢ Rᵢᵀ H̃ᵢ Rᵢ, H̃ = diag(q) − qqᵀ (§9.5), H̃ factors as CCᵀ with
//! C = diag(√q)(I − β√q√qᵀ), β = 1/(1 + √p_a): indeed (I − β vvᵀ)² = I − (2β − β²t)vvᵀ with
//! t = ‖v‖² = Σq = 1 − p_a, and 2β − β²t = 1 for this β. So
//!
//! ```text
//! UᵀHU = EᵀE,   E_(i,k) = √q_k (B_(i,k) − β_i Q_i)   (k ≠ aᵢ),   B_(i,k) = U_(i,k) − U_(i,aᵢ),
//!                                                                 Q_i = Σ_{k≠a} q_k B_(i,k)
//! ```
//!
//! one symmetric product of an n(c−1) × r matrix (half the multiply–adds of a general one, on all
//! cores for large r), whose rows are all small when the example is confidently classified: no
//! O(1) terms cancel, and UᵀHU keeps its accuracy relative to H.

use nalgebra::{DMatrix, DVector};

use super::{Block, SoftmaxDynamics};

/// The softmax blocks at one point z: what UᵀHU and its action need.
pub struct Curvature<'d, 'a> {
    dynamics: &'d SoftmaxDynamics<'a>,
    blocks: Vec<Block>,
}

/// From this many multiply–adds on, the symmetric product runs on all cores.
const PARALLEL_MIN_WORK: usize = 1 << 22;
/// From this many entries of E (or of U, for the diagonal) on, they are computed on all cores.
const PARALLEL_MIN_FILL: usize = 1 << 16;
/// Columns of U whose diagonal entries of UᵀHU are summed side by side.
const DIAGONAL_LANES: usize = 8;

impl<'d, 'a> Curvature<'d, 'a> {
    pub(super) fn new(dynamics: &'d SoftmaxDynamics<'a>, z: &DVector<f64>) -> Self {
        Self::at_logits(dynamics, &dynamics.logits(z))
    }

    /// The blocks at the logits f = Uz (length n·c, example-major).
    pub(super) fn at_logits(dynamics: &'d SoftmaxDynamics<'a>, f: &DVector<f64>) -> Self {
        let c = dynamics.system.classes();
        let blocks = (0..dynamics.system.examples())
            .map(|i| Block::new(&f.as_slice()[i * c..(i + 1) * c]))
            .collect();
        Self { dynamics, blocks }
    }

    /// The number of responses r.
    pub fn dim(&self) -> usize {
        self.dynamics.system.rank()
    }

    /// UᵀHU (r × r) = EᵀE of the module documentation. O(ncr²/2) time, one n(c−1) × r copy.
    pub fn gram(&self) -> DMatrix<f64> {
        let r = self.dynamics.system.rank();
        let mut gram = DMatrix::zeros(r, r);
        self.gram_into(&mut gram);
        gram
    }

    /// [`Self::gram`] into `out` (r × r; both triangles written), without allocating the result:
    /// the lower triangle by faer's triangular product ([`Self::gram_lower_into`]), the upper
    /// mirrored tile by tile.
    pub fn gram_into(&self, out: &mut DMatrix<f64>) {
        let r = self.dynamics.system.rank();
        assert_eq!(out.shape(), (r, r), "UᵀHU is r × r");
        self.gram_lower_into(faer::MatMut::from_column_major_slice_mut(
            out.as_mut_slice(),
            r,
            r,
        ));
        mirror_lower(out.as_mut_slice(), r);
    }

    /// The lower triangle (diagonal included) of UᵀHU = EᵀE into `out` (r × r), the strict upper
    /// triangle left as it was: what a Cholesky factorisation reads.
    pub fn gram_lower_into(&self, out: faer::MatMut<'_, f64>) {
        self.gram_lower_stored_into(out, |x| x);
    }

    /// [`Self::gram_lower_into`] in single precision: E rounded to f32 entry by entry, then one
    /// f32 triangular product EᵀE (faer's f32 kernels do twice the multiply–adds per
    /// instruction of its f64 ones and move half the bytes), for what only guides an iteration:
    /// BDF's iteration matrix of the softmax flow, the preconditioner of the steady state's
    /// conjugate gradients (docs/theory.md §12.2, §12.4).
    pub(crate) fn gram_lower_single_into(&self, out: faer::MatMut<'_, f32>) {
        self.gram_lower_stored_into(out, |x| x as f32);
    }

    /// The lower triangle of EᵀE with E's entries stored as `store` makes them.
    fn gram_lower_stored_into<T>(&self, out: faer::MatMut<'_, T>, store: impl Fn(f64) -> T + Sync)
    where
        T: faer::traits::ComplexField + Copy + Send + From<u8>,
    {
        let rows = self.factor_rows();
        let mut e = faer::Mat::<T>::zeros(rows, self.dim());
        self.gram_lower_through(out, e.as_mut(), store);
    }

    /// [`Self::gram_lower_into`] with E held in `scratch` (its first n(c − 1)·r entries, every
    /// one overwritten) instead of a fresh zero-filled allocation: the same E and product.
    pub(crate) fn gram_lower_using(&self, out: faer::MatMut<'_, f64>, scratch: &mut [f64]) {
        let (rows, r) = (self.factor_rows(), self.dim());
        let e = faer::MatMut::from_column_major_slice_mut(&mut scratch[..rows * r], rows, r);
        self.gram_lower_through(out, e, |x| x);
    }

    /// The lower triangle of EᵀE, E filled into `e` (n(c − 1) × r) as `store` makes its entries.
    fn gram_lower_through<T>(
        &self,
        out: faer::MatMut<'_, T>,
        mut e: faer::MatMut<'_, T>,
        store: impl Fn(f64) -> T + Sync,
    ) where
        T: faer::traits::ComplexField + Copy + Send + From<u8>,
    {
        let (rows, r) = (self.factor_rows(), self.dim());
        self.gram_factor_into(e.as_mut(), store);
        assert_eq!((out.nrows(), out.ncols()), (r, r), "UᵀHU is r × r");
        use faer::linalg::matmul::triangular::{matmul, BlockStructure};
        matmul(
            out,
            BlockStructure::TriangularLower,
            faer::Accum::Replace,
            e.as_ref().transpose(),
            BlockStructure::Rectangular,
            e.as_ref(),
            BlockStructure::Rectangular,
            T::from(1u8),
            Self::product_par(rows, r),
        );
    }

    /// faer's parallelism for the product EᵀE of an `rows` × r matrix E: all cores from
    /// [`PARALLEL_MIN_WORK`] multiply–adds on.
    pub(crate) fn product_par(rows: usize, r: usize) -> faer::Par {
        if rows * r * r / 2 >= PARALLEL_MIN_WORK {
            faer::Par::rayon(0)
        } else {
            faer::Par::Seq
        }
    }

    /// The module documentation's E (n(c−1) × r, column-major, UᵀHU = EᵀE) into `e`, each
    /// entry computed in f64 and stored as `store(value)` (the identity for f64; a rounding for
    /// a single-precision copy). O(ncr), on all cores for a large U.
    pub(crate) fn gram_factor_into<T: Send>(
        &self,
        mut e: faer::MatMut<'_, T>,
        store: impl Fn(f64) -> T + Sync,
    ) {
        let sys = self.dynamics.system;
        let (c, r) = (sys.classes(), sys.rank());
        let u = sys.system().coupling();
        let rows = self.blocks.len() * (c - 1);
        assert_eq!((e.nrows(), e.ncols()), (rows, r), "E is n(c − 1) × r");
        let betas: Vec<f64> = self
            .blocks
            .iter()
            .map(|b| 1.0 / (1.0 + b.p[b.anchor].sqrt()))
            .collect();
        // Column by column: U and E are column-major, so every access is contiguous; the
        // columns are independent, so filling them on all cores changes no bit.
        let fill = |j: usize, out: &mut [T]| {
            let col = u.column(j);
            let col = col.as_slice();
            for (i, block) in self.blocks.iter().enumerate() {
                let a = block.anchor;
                let x = &col[i * c..(i + 1) * c];
                let xa = x[a];
                let q: f64 = (0..c)
                    .filter(|&k| k != a)
                    .map(|k| block.p[k] * (x[k] - xa))
                    .sum();
                let shift = betas[i] * q;
                for (row, k) in (i * (c - 1)..).zip((0..c).filter(|&k| k != a)) {
                    out[row] = store(block.p[k].sqrt() * ((x[k] - xa) - shift));
                }
            }
        };
        if rows * r >= PARALLEL_MIN_FILL {
            use rayon::prelude::*;
            e.par_col_chunks_mut(1).enumerate().for_each(|(j, m)| {
                let out = m
                    .col_mut(0)
                    .try_as_col_major_mut()
                    .expect("contiguous column");
                fill(j, out.as_slice_mut());
            });
        } else {
            for j in 0..r {
                let out = e
                    .as_mut()
                    .col_mut(j)
                    .try_as_col_major_mut()
                    .expect("contiguous column");
                fill(j, out.as_slice_mut());
            }
        }
    }

    /// The diagonal of UᵀHU, (UᵀHU)_jj = Σᵢ Σ_{k≠aᵢ} E_(i,k),j² (the squared column norms of the
    /// module documentation's E), without forming E or UᵀHU: O(ncr) time, one pass over U.
    /// Per example, with d_k = x_k − x_a (d_a = 0), Q = Σ_k q_k d_k and t = βQ, the sum is
    /// Σ_k p_k (d_k − t)² − p_a t²: a difference of an O(q) and an O(q²) term, as accurate
    /// relative to H as UᵀHU itself.
    pub fn diagonal(&self) -> DVector<f64> {
        let sys = self.dynamics.system;
        let u = sys.system().coupling();
        let r = sys.rank();
        let betas: Vec<f64> = self
            .blocks
            .iter()
            .map(|b| 1.0 / (1.0 + b.p[b.anchor].sqrt()))
            .collect();
        let mut out = DVector::zeros(r);
        // Groups of DIAGONAL_LANES columns are independent of each other: on all cores for a
        // large U, no bit changes.
        if u.len() >= PARALLEL_MIN_FILL {
            use rayon::prelude::*;
            out.as_mut_slice()
                .par_chunks_mut(DIAGONAL_LANES)
                .enumerate()
                .for_each(|(g, sums)| self.diagonal_lanes(&betas, g * DIAGONAL_LANES, sums));
        } else {
            for (g, sums) in out.as_mut_slice().chunks_mut(DIAGONAL_LANES).enumerate() {
                self.diagonal_lanes(&betas, g * DIAGONAL_LANES, sums);
            }
        }
        out
    }

    /// [`Self::diagonal`] for the columns `first..first + sums.len()` (at most
    /// [`DIAGONAL_LANES`]), side by side: each column's sums in the order of the scalar formula
    /// (every sum starts at −0.0 as `Iterator::sum` does), so the result is bit for bit that of
    /// one column at a time, but the columns' dependency chains of additions overlap.
    fn diagonal_lanes(&self, betas: &[f64], first: usize, sums: &mut [f64]) {
        let sys = self.dynamics.system;
        let c = sys.classes();
        let u = sys.system().coupling();
        let m = sums.len();
        // Missing lanes repeat the last column; their sums are discarded.
        let rows = u.nrows();
        let cols: [&[f64]; DIAGONAL_LANES] = std::array::from_fn(|l| {
            let j = first + l.min(m - 1);
            &u.as_slice()[j * rows..(j + 1) * rows]
        });
        let mut total = [0.0; DIAGONAL_LANES];
        for (i, (block, &beta)) in self.blocks.iter().zip(betas).enumerate() {
            let a = block.anchor;
            let xa: [f64; DIAGONAL_LANES] = std::array::from_fn(|l| cols[l][i * c + a]);
            let mut q = [-0.0; DIAGONAL_LANES];
            for (k, &p) in block.p.iter().enumerate() {
                for l in 0..DIAGONAL_LANES {
                    q[l] += p * (cols[l][i * c + k] - xa[l]);
                }
            }
            let t: [f64; DIAGONAL_LANES] = std::array::from_fn(|l| beta * q[l]);
            let mut all = [-0.0; DIAGONAL_LANES];
            for (k, &p) in block.p.iter().enumerate() {
                for l in 0..DIAGONAL_LANES {
                    let d = cols[l][i * c + k] - xa[l] - t[l];
                    all[l] += p * d * d;
                }
            }
            for l in 0..DIAGONAL_LANES {
                total[l] += all[l] - block.p[a] * t[l] * t[l];
            }
        }
        sums.copy_from_slice(&total[..m]);
    }

    /// Adds example `example`'s part of diag(UᵀHU) to `out` (length r), from its c rows of U
    /// stored one after another in `rows` (row k at k·r; f32, as the steady state's
    /// single-precision copy holds them), vectorised over the responses j. With d_k = x_k − x_a,
    /// S = Σ_{k≠a} p_k d_k² and Q = Σ_{k≠a} p_k d_k, the part is Σ_{k≠a} p_k (d_k − βQ)² =
    /// S − (2β − β²(1 − p_a))Q² = S − Q² (2β − β²(1 − p_a) = 1 for β = 1/(1 + √p_a), module
    /// documentation); by Cauchy–Schwarz Q² ≤ (1 − p_a)S, so S − Q² ≥ p_a·S ≥ S/c (the anchor is
    /// the most probable class): the difference loses at most a factor c to cancellation. `q`
    /// and `s` are scratch of length r. Sums in f64 from the f32 entries.
    #[inline(always)]
    pub(crate) fn add_example_diagonal(
        &self,
        example: usize,
        rows: &[f32],
        q: &mut [f64],
        s: &mut [f64],
        out: &mut [f64],
    ) {
        let block = &self.blocks[example];
        let r = out.len();
        let xa = &rows[block.anchor * r..(block.anchor + 1) * r];
        q.fill(0.0);
        s.fill(0.0);
        for (k, &p) in block.p.iter().enumerate() {
            if k == block.anchor {
                continue;
            }
            let xk = &rows[k * r..(k + 1) * r];
            for (((qj, sj), &x), &y) in q.iter_mut().zip(s.iter_mut()).zip(xk).zip(xa) {
                let d = f64::from(x) - f64::from(y);
                let pd = p * d;
                *qj += pd;
                *sj += pd * d;
            }
        }
        for ((o, &qj), &sj) in out.iter_mut().zip(q.iter()).zip(s.iter()) {
            *o += sj - qj * qj;
        }
    }

    /// Example `example`'s c − 1 rows of E (module documentation) as columns of Eᵀ, into `out`
    /// (c − 1 runs of r entries, the classes k ≠ aᵢ in order), from its c rows of U stored one
    /// after another in `rows` (f32, as for [`Self::add_example_diagonal`]), vectorised over j:
    /// E_(i,k),j = √p_k (d_k − βQ), computed in f64 and rounded to f32. `q` is scratch of
    /// length r.
    #[inline(always)]
    pub(crate) fn example_factor_rows(
        &self,
        example: usize,
        rows: &[f32],
        q: &mut [f64],
        out: &mut [f32],
    ) {
        let block = &self.blocks[example];
        let r = q.len();
        let a = block.anchor;
        let xa = &rows[a * r..(a + 1) * r];
        q.fill(0.0);
        for (k, &p) in block.p.iter().enumerate() {
            if k == a {
                continue;
            }
            let xk = &rows[k * r..(k + 1) * r];
            for ((qj, &x), &y) in q.iter_mut().zip(xk).zip(xa) {
                *qj += p * (f64::from(x) - f64::from(y));
            }
        }
        let beta = 1.0 / (1.0 + block.p[a].sqrt());
        for (column, k) in out
            .chunks_exact_mut(r)
            .zip((0..block.p.len()).filter(|&k| k != a))
        {
            let root = block.p[k].sqrt();
            let xk = &rows[k * r..(k + 1) * r];
            for (((e, &qj), &x), &y) in column.iter_mut().zip(q.iter()).zip(xk).zip(xa) {
                *e = (root * ((f64::from(x) - f64::from(y)) - beta * qj)) as f32;
            }
        }
    }

    /// The number of rows of E, n(c − 1).
    pub(crate) fn factor_rows(&self) -> usize {
        self.blocks.len() * (self.dynamics.system.classes() - 1)
    }

    /// UᵀHUv, without forming UᵀHU (two products with U, O(ncr), U read once, on all cores for
    /// a large U: `model::streamed`).
    pub fn action(&self, v: &DVector<f64>) -> DVector<f64> {
        let c = self.dynamics.system.classes();
        let u = self.dynamics.system.system().coupling();
        let mut out = DVector::zeros(v.len());
        crate::model::streamed::par_transpose_group_map_into(
            u,
            v.as_slice(),
            c,
            |start, values| {
                let mut hw = vec![0.0; c];
                for (k, w) in values.chunks_exact_mut(c).enumerate() {
                    self.blocks[start / c + k].curvature_action(w, &mut hw);
                    w.copy_from_slice(&hw);
                }
            },
            out.as_mut_slice(),
        );
        out
    }

    /// H̃ᵢ's action on one example's c values, `out` = Hᵢ w (docs/theory.md §9.5): what
    /// [`Self::action`] applies between its two products with U, for callers that make those
    /// products themselves (the single-precision copy of U of the steady state's conjugate
    /// gradients).
    pub(crate) fn example_action(&self, example: usize, w: &[f64], out: &mut [f64]) {
        self.blocks[example].curvature_action(w, out);
    }
}

/// Upper ← lowerᵀ for a column-major r × r matrix `data`, in 32 × 32 tiles so that both sides
/// stay in cache.
pub(crate) fn mirror_lower(data: &mut [f64], r: usize) {
    const TILE: usize = 32;
    assert_eq!(data.len(), r * r, "an r × r matrix");
    for jb in (0..r).step_by(TILE) {
        for ib in (jb..r).step_by(TILE) {
            for j in jb..(jb + TILE).min(r) {
                for i in ib.max(j + 1)..(ib + TILE).min(r) {
                    // (row j, column i) ← (row i, column j).
                    data[i * r + j] = data[j * r + i];
                }
            }
        }
    }
}

/// Columns of X written per task of [`scaled_symmetric_into`].
const SCALED_TILE: usize = 32;

/// X = S·diag(`scales`) into `out` (r × r, column-major, every entry written) for the symmetric
/// S whose lower triangle (diagonal included) `lower` holds: X_ab = S_ab·scales_b, S_ab read
/// from the lower triangle (S_ba for a < b). One pass, blocks of [`SCALED_TILE`] columns of X
/// on all cores; each entry is the one product S_ab·scales_b, so X is bit for bit the mirrored
/// S with its columns then scaled. Returns whether every entry of S's lower triangle is finite.
pub(crate) fn scaled_symmetric_into(
    lower: faer::MatRef<'_, f64>,
    scales: &[f64],
    out: &mut [f64],
) -> bool {
    use rayon::prelude::*;
    let r = scales.len();
    assert_eq!((lower.nrows(), lower.ncols()), (r, r), "S is r × r");
    assert_eq!(out.len(), r * r, "X is r × r");
    let column = |j: usize| {
        lower
            .col(j)
            .try_as_col_major()
            .expect("contiguous column")
            .as_slice()
    };
    out.par_chunks_mut(r * SCALED_TILE)
        .enumerate()
        .map(|(block, x)| {
            let first = block * SCALED_TILE;
            let width = x.len() / r;
            // Above the diagonal: X_ab = S_ba·scales_b (a < b), S_ba from column a of the lower
            // triangle, rows first..first + width.
            for a in 0..first + width {
                let from = column(a);
                for t in (a + 1).saturating_sub(first)..width {
                    let b = first + t;
                    x[t * r + a] = from[b] * scales[b];
                }
            }
            // On and below it: X_ab = S_ab·scales_b (a ≥ b), column b of the lower triangle.
            let mut finite = true;
            for t in 0..width {
                let b = first + t;
                let (from, scale) = (column(b), scales[b]);
                for (o, &v) in x[t * r + b..(t + 1) * r].iter_mut().zip(&from[b..]) {
                    finite &= v.is_finite();
                    *o = v * scale;
                }
            }
            finite
        })
        .reduce(|| true, |x, y| x && y)
}
