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

impl<'d, 'a> Curvature<'d, 'a> {
    pub(super) fn new(dynamics: &'d SoftmaxDynamics<'a>, z: &DVector<f64>) -> Self {
        let c = dynamics.system.classes();
        let f = dynamics.logits(z);
        let blocks = (0..dynamics.system.examples())
            .map(|i| Block::new(&f.as_slice()[i * c..(i + 1) * c]))
            .collect();
        Self { dynamics, blocks }
    }

    /// UᵀHU (r × r) = EᵀE of the module documentation. O(ncr²/2) time, one n(c−1) × r copy.
    pub fn gram(&self) -> DMatrix<f64> {
        let r = self.dynamics.system.rank();
        let mut gram = DMatrix::zeros(r, r);
        self.gram_into(&mut gram);
        gram
    }

    /// [`Self::gram`] into `out` (r × r; both triangles written), without allocating the result:
    /// the lower triangle by faer's triangular product, the upper mirrored tile by tile.
    pub fn gram_into(&self, out: &mut DMatrix<f64>) {
        let sys = self.dynamics.system;
        let (c, r) = (sys.classes(), sys.rank());
        let u = sys.system().coupling();
        let rows = self.blocks.len() * (c - 1);
        let betas: Vec<f64> = self
            .blocks
            .iter()
            .map(|b| 1.0 / (1.0 + b.p[b.anchor].sqrt()))
            .collect();
        // Column by column: U and E are column-major, so every access is contiguous; the
        // columns are independent, so filling them on all cores changes no bit.
        let fill = |j: usize, out: &mut [f64]| {
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
                    out[row] = block.p[k].sqrt() * ((x[k] - xa) - shift);
                }
            }
        };
        let mut e = faer::Mat::<f64>::zeros(rows, r);
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
                    .col_mut(j)
                    .try_as_col_major_mut()
                    .expect("contiguous column");
                fill(j, out.as_slice_mut());
            }
        }
        let par = if rows * r * r / 2 >= PARALLEL_MIN_WORK {
            faer::Par::rayon(0)
        } else {
            faer::Par::Seq
        };
        assert_eq!(out.shape(), (r, r), "UᵀHU is r × r");
        let gram = faer::MatMut::from_column_major_slice_mut(out.as_mut_slice(), r, r);
        use faer::linalg::matmul::triangular::{matmul, BlockStructure};
        matmul(
            gram,
            BlockStructure::TriangularLower,
            faer::Accum::Replace,
            e.transpose(),
            BlockStructure::Rectangular,
            e.as_ref(),
            BlockStructure::Rectangular,
            1.0,
            par,
        );
        // Upper ← lowerᵀ in 32 × 32 tiles, so that both sides stay in cache.
        const TILE: usize = 32;
        let data = out.as_mut_slice();
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

    /// The diagonal of UᵀHU, (UᵀHU)_jj = Σᵢ Σ_{k≠aᵢ} E_(i,k),j² (the squared column norms of the
    /// module documentation's E), without forming E or UᵀHU: O(ncr) time, one pass over U.
    /// Per example, with d_k = x_k − x_a (d_a = 0), Q = Σ_k q_k d_k and t = βQ, the sum is
    /// Σ_k p_k (d_k − t)² − p_a t²: a difference of an O(q) and an O(q²) term, as accurate
    /// relative to H as UᵀHU itself.
    pub fn diagonal(&self) -> DVector<f64> {
        let sys = self.dynamics.system;
        let c = sys.classes();
        let u = sys.system().coupling();
        let betas: Vec<f64> = self
            .blocks
            .iter()
            .map(|b| 1.0 / (1.0 + b.p[b.anchor].sqrt()))
            .collect();
        // Each column's sum is independent of the others: on all cores for a large U, no bit
        // changes.
        let column = |j: usize| {
            let col = u.column(j);
            let col = col.as_slice();
            let mut sum = 0.0;
            for ((block, x), &beta) in self.blocks.iter().zip(col.chunks_exact(c)).zip(&betas) {
                let xa = x[block.anchor];
                let q: f64 = block.p.iter().zip(x).map(|(&p, &x)| p * (x - xa)).sum();
                let t = beta * q;
                let all: f64 = block
                    .p
                    .iter()
                    .zip(x)
                    .map(|(&p, &x)| p * ((x - xa) - t) * ((x - xa) - t))
                    .sum();
                sum += all - block.p[block.anchor] * t * t;
            }
            sum
        };
        let r = sys.rank();
        if u.len() >= PARALLEL_MIN_FILL {
            use rayon::prelude::*;
            let sums: Vec<f64> = (0..r).into_par_iter().map(column).collect();
            DVector::from_vec(sums)
        } else {
            DVector::from_fn(r, |j, _| column(j))
        }
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
}
