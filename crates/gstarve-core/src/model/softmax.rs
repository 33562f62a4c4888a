//! The softmax cross-entropy dynamics of a multi-class system (docs/theory.md §9.2):
//!
//! ```text
//! F(z) = S² (Uᵀ vec(Y − P(Uz)) − λ_SD z) − λ_L2 z
//! ∂F/∂z = −S² (Uᵀ H U + λ_SD I) − λ_L2 I,   H = blockdiag_i(diag(pᵢ) − pᵢpᵢᵀ)
//! ```
//!
//! with P the row-wise softmax of the logits Uz read as n × c, and the objective whose scaled
//! negative gradient F is (§9.2)
//!
//! ```text
//! L(z) = Σᵢ [log Σ_k e^{F_ik} − F_{i,yᵢ}] + ½ zᵀ W z,   W = λS⁻² (L2), λI (SD), 0 (none)
//! ∇L = W z − Uᵀ vec(Y − P),   ∇²L = UᵀHU + W,   F = −S²∇L.
//! ```
//!
//! Rounding (§9.5): when an example is confidently classified, 1 − p_y and the entries of its
//! H block are far below 1, and forming them as differences of O(1) numbers would leave only
//! absolute accuracy. Every formula here is written relative to the example's most probable
//! class a (the "anchor"): 1 − p_a = Σ_{k≠a} p_k, H = Rᵀ H̃ R with H̃ = diag(q) − qqᵀ,
//! q = (p_k)_{k≠a} and R x = (x_k − x_a)_{k≠a}, so that H's action and UᵀHU are accurate
//! relative to H itself.

mod curvature;
mod single;
mod stiffness;

pub use curvature::Curvature;
pub(crate) use curvature::{mirror_lower, scaled_symmetric_into};

use nalgebra::{DMatrix, DVector};

use super::Regulariser;
use crate::error::Result;
use crate::ode::OdeProblem;
use crate::systems::MulticlassSystem;

/// The softmax z-dynamics dz/dτ = F(z) of a multi-class system under a regulariser.
#[derive(Clone, Debug)]
pub struct SoftmaxDynamics<'a> {
    system: &'a MulticlassSystem,
    regulariser: Regulariser,
    strengths_squared: DVector<f64>,
}

/// From this many entries of U on, [`SoftmaxDynamics::logits`] splits its rows over all cores.
const LOGITS_PARALLEL_MIN: usize = 1 << 18;
/// Blocks of rows of [`SoftmaxDynamics::logits`] on all cores.
const LOGIT_BLOCKS: usize = 8;

/// One example's softmax, relative to its anchor (most probable class) a.
struct Block {
    /// The anchor a = argmax_k F_k.
    anchor: usize,
    /// p_k for every class (p_a included).
    p: Vec<f64>,
    /// 1 − p_a = Σ_{k≠a} p_k, accurately.
    rest: f64,
}

impl Block {
    fn new(logits: &[f64]) -> Self {
        let (anchor, top) =
            logits
                .iter()
                .enumerate()
                .fold(
                    (0, f64::NEG_INFINITY),
                    |(a, t), (k, &f)| {
                        if f > t {
                            (k, f)
                        } else {
                            (a, t)
                        }
                    },
                );
        let mut p: Vec<f64> = logits.iter().map(|&f| (f - top).exp()).collect();
        let others: f64 = p
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != anchor)
            .map(|(_, &e)| e)
            .sum();
        let total = 1.0 + others;
        p.iter_mut().for_each(|e| *e /= total);
        // A NaN logit leaves NaN everywhere (no anchor wins): the caller's finiteness checks see
        // it.
        if !top.is_finite() {
            p.iter_mut().for_each(|e| *e = f64::NAN);
        }
        Self {
            anchor,
            p,
            rest: others / total,
        }
    }

    /// (Y − P) for label y: −p_k off the label, 1 − p_y on it (accurately when y = a).
    fn residual(&self, label: usize, out: &mut [f64]) {
        for (o, &pk) in out.iter_mut().zip(&self.p) {
            *o = -pk;
        }
        out[label] = if label == self.anchor {
            self.rest
        } else {
            1.0 - self.p[label]
        };
    }

    /// H w = p ⊙ (w − (p·w)1), with p·w − w_a = Σ_{k≠a} p_k (w_k − w_a).
    fn curvature_action(&self, w: &[f64], out: &mut [f64]) {
        let wa = w[self.anchor];
        let t: f64 = self.p.iter().zip(w).map(|(&pk, &wk)| pk * (wk - wa)).sum();
        for ((o, &pk), &wk) in out.iter_mut().zip(&self.p).zip(w) {
            *o = pk * ((wk - wa) - t);
        }
    }

    /// The cross-entropy log Σ_k e^{F_k} − F_y of this example.
    fn loss(logits: &[f64], label: usize) -> f64 {
        let fy = logits[label];
        let top = logits.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        if top == fy {
            let others: f64 = logits
                .iter()
                .enumerate()
                .filter(|&(k, _)| k != label)
                .map(|(_, &f)| (f - fy).exp())
                .sum();
            others.ln_1p()
        } else {
            let sum: f64 = logits.iter().map(|&f| (f - top).exp()).sum();
            (top - fy) + sum.ln()
        }
    }
}

impl<'a> SoftmaxDynamics<'a> {
    /// Dynamics of `system` under `regulariser` (λ validated here). Spectral Decoupling with
    /// class targets (docs/theory.md §10) is defined for binary systems only, and refused.
    pub fn new(system: &'a MulticlassSystem, regulariser: Regulariser) -> Result<Self> {
        if matches!(regulariser, Regulariser::SpectralDecouplingClasses { .. }) {
            return Err(crate::error::Error::Input(
                crate::error::InputError::Unsupported(
                    "Spectral Decoupling with class targets (--sd-target, per-class --lambda) is \
                     defined for binary systems; a multi-class system takes one λ"
                        .into(),
                ),
            ));
        }
        Ok(Self {
            system,
            regulariser: regulariser.validated()?,
            strengths_squared: system.system().strengths_squared(),
        })
    }

    /// The system.
    pub fn system(&self) -> &'a MulticlassSystem {
        self.system
    }

    /// The regulariser.
    pub fn regulariser(&self) -> Regulariser {
        self.regulariser
    }

    /// Number of responses r.
    pub fn dim(&self) -> usize {
        self.system.rank()
    }

    /// The squared strengths s_j².
    pub fn strengths_squared(&self) -> &DVector<f64> {
        &self.strengths_squared
    }

    /// The logits Uz (length n·c, example-major), by faer's matrix–vector product; for a large U
    /// in [`LOGIT_BLOCKS`] blocks of rows on all cores, each block faer's sequential product on
    /// its rows. That product keeps one accumulator per row (the columns added in order, one
    /// fused multiply–add each), so a row's value does not depend on the block it is in: the
    /// logits are bit for bit those of one sequential product.
    pub fn logits(&self, z: &DVector<f64>) -> DVector<f64> {
        let u = self.system.system().coupling();
        let rows = u.nrows();
        let mut f = DVector::zeros(rows);
        let matrix = faer::MatRef::from_column_major_slice(u.as_slice(), rows, u.ncols());
        let z = faer::MatRef::from_column_major_slice(z.as_slice(), z.len(), 1);
        let product = |first: usize, out: &mut [f64]| {
            let len = out.len();
            faer::linalg::matmul::matmul(
                faer::MatMut::from_column_major_slice_mut(out, len, 1),
                faer::Accum::Replace,
                matrix.subrows(first, len),
                z,
                1.0,
                faer::Par::Seq,
            );
        };
        if u.len() >= LOGITS_PARALLEL_MIN {
            use rayon::prelude::*;
            let block = rows.div_ceil(LOGIT_BLOCKS).next_multiple_of(8);
            f.as_mut_slice()
                .par_chunks_mut(block)
                .enumerate()
                .for_each(|(b, out)| product(b * block, out));
        } else {
            product(0, f.as_mut_slice());
        }
        f
    }

    /// The logits and the probabilities P, each n × c (row i: example i).
    pub fn logits_and_probabilities(&self, z: &DVector<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
        self.logits_and_probabilities_at(&self.logits(z))
    }

    /// [`Self::logits_and_probabilities`] from the logits f = Uz (length n·c, example-major).
    pub fn logits_and_probabilities_at(&self, f: &DVector<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
        let c = self.system.classes();
        let n = self.system.examples();
        let logits = DMatrix::from_fn(n, c, |i, k| f[i * c + k]);
        let mut probabilities = DMatrix::zeros(n, c);
        for i in 0..n {
            let block = Block::new(&f.as_slice()[i * c..(i + 1) * c]);
            for k in 0..c {
                probabilities[(i, k)] = block.p[k];
            }
        }
        (logits, probabilities)
    }

    /// vec(Y − P(Uz)) (length n·c).
    pub fn residuals(&self, z: &DVector<f64>) -> DVector<f64> {
        let c = self.system.classes();
        let f = self.logits(z);
        let mut out = DVector::zeros(f.len());
        for (i, &y) in self.system.labels().iter().enumerate() {
            let range = i * c..(i + 1) * c;
            Block::new(&f.as_slice()[range.clone()]).residual(y, &mut out.as_mut_slice()[range]);
        }
        out
    }

    /// Uᵀ vec(Y − P(Uz)): what the data pull on each response (the drive, −∇ of the loss).
    /// U is read once (`model::streamed`), the residuals formed block by block in between, the
    /// blocks on all cores for a large U.
    pub fn drive(&self, z: &DVector<f64>) -> DVector<f64> {
        let c = self.system.classes();
        let labels = self.system.labels();
        let mut out = DVector::zeros(self.dim());
        super::streamed::par_transpose_group_map_into(
            self.system.system().coupling(),
            z.as_slice(),
            c,
            |start, values| {
                for (k, f) in values.chunks_exact_mut(c).enumerate() {
                    Block::new(f).residual(labels[start / c + k], f);
                }
            },
            out.as_mut_slice(),
        );
        out
    }

    /// F(z) = S²(Uᵀ vec(Y − P) − λ_SD z) − λ_L2 z.
    pub fn rhs(&self, z: &DVector<f64>) -> DVector<f64> {
        let mut out = self.drive(z);
        let (l2, sd) = self.regulariser.split();
        for ((o, &s2), &zj) in out.iter_mut().zip(self.strengths_squared.iter()).zip(z) {
            *o = s2 * (*o - sd * zj) - l2 * zj;
        }
        out
    }

    /// One GD step z + ηF(z) (docs/theory.md §3.1).
    pub fn gd_step(&self, z: &DVector<f64>, eta: f64) -> DVector<f64> {
        let mut next = self.rhs(z);
        next *= eta;
        next += z;
        next
    }

    /// The softmax blocks at z, for UᵀHU as a matrix or as an action ([`Curvature`]).
    pub fn curvature(&self, z: &DVector<f64>) -> Curvature<'_, 'a> {
        Curvature::new(self, z)
    }

    /// [`Self::curvature`] at z given its logits f = Uz (length n·c, example-major, as
    /// [`Self::logits`] returns them), without recomputing them.
    pub fn curvature_at_logits(&self, f: &DVector<f64>) -> Curvature<'_, 'a> {
        Curvature::at_logits(self, f)
    }

    /// UᵀHU (r × r) at z, from the anchored form H = Σᵢ Rᵢᵀ H̃ᵢ Rᵢ of the module documentation,
    /// as one symmetric product EᵀE ([`Curvature::gram`]). O(ncr²/2) time, one n(c−1) × r copy.
    pub fn curvature_gram(&self, z: &DVector<f64>) -> DMatrix<f64> {
        self.curvature(z).gram()
    }

    /// ∂F/∂z = −S²(UᵀHU + λ_SD I) − λ_L2 I.
    pub fn jacobian(&self, z: &DVector<f64>) -> DMatrix<f64> {
        let mut jac = self.curvature_gram(z);
        let (l2, sd) = self.regulariser.split();
        let s2 = self.strengths_squared.as_slice();
        // Column by column (contiguous): row j scaled by −s_j².
        for mut col in jac.column_iter_mut() {
            for (x, &s) in col.iter_mut().zip(s2) {
                *x *= -s;
            }
        }
        for (j, &s) in s2.iter().enumerate() {
            jac[(j, j)] -= s * sd + l2;
        }
        jac
    }

    /// (∂F/∂z)·v = −S²(Uᵀ H U v + λ_SD v) − λ_L2 v, without forming the Jacobian (O(ncr)).
    pub fn jacobian_action(&self, z: &DVector<f64>, v: &DVector<f64>) -> DVector<f64> {
        let c = self.system.classes();
        let u = self.system.system().coupling();
        let f = self.logits(z);
        let w = u * v;
        let mut hw = DVector::zeros(w.len());
        for i in 0..self.system.examples() {
            let range = i * c..(i + 1) * c;
            Block::new(&f.as_slice()[range.clone()])
                .curvature_action(&w.as_slice()[range.clone()], &mut hw.as_mut_slice()[range]);
        }
        let mut out = u.tr_mul(&hw);
        let (l2, sd) = self.regulariser.split();
        for ((o, &s2), &vj) in out.iter_mut().zip(self.strengths_squared.iter()).zip(v) {
            *o = -s2 * (*o + sd * vj) - l2 * vj;
        }
        out
    }

    /// A bound on the spectral radius of ∂F/∂z over all z: λ + s₁²/2 (L2), s₁²(λ + ½) (SD),
    /// s₁²/2 (none), because H's eigenvalues lie in [0, ½] (docs/theory.md §9.3). GD with step η
    /// is stable while η·bound < 2.
    pub fn curvature_bound(&self) -> f64 {
        let s1_squared = self.system.system().max_strength().powi(2);
        let (l2, sd) = self.regulariser.split();
        l2 + s1_squared * (sd + 0.5)
    }

    /// W_jj of the objective: λ/s_j² for L2 (∞ if s_j = 0), λ for SD, 0 for none.
    pub fn penalty_weight(&self, j: usize) -> f64 {
        match self.regulariser {
            Regulariser::None => 0.0,
            Regulariser::L2 { lambda } => lambda / self.strengths_squared[j],
            Regulariser::SpectralDecoupling { lambda } => lambda,
            // Refused by `new`.
            Regulariser::SpectralDecouplingClasses { .. } => 0.0,
        }
    }

    /// The data part of the objective, Σᵢ [log Σ_k e^{F_ik} − F_{i,yᵢ}], at logits `f`.
    pub fn cross_entropy(&self, f: &DVector<f64>) -> f64 {
        let c = self.system.classes();
        self.system
            .labels()
            .iter()
            .enumerate()
            .map(|(i, &y)| Block::loss(&f.as_slice()[i * c..(i + 1) * c], y))
            .sum()
    }

    /// The objective L(z) = Σᵢ CEᵢ(Uz) + ½ zᵀWz (components with s_j = 0 under L2 are pinned at
    /// 0 and excluded), so that F = −S²∇L.
    pub fn objective(&self, z: &DVector<f64>) -> f64 {
        self.objective_at_logits(z, &self.logits(z))
    }

    /// [`Self::objective`] at z given its logits f = Uz ([`Self::logits`]).
    pub fn objective_at_logits(&self, z: &DVector<f64>, f: &DVector<f64>) -> f64 {
        let penalty: f64 = z
            .iter()
            .enumerate()
            .filter(|&(_, &zj)| zj != 0.0)
            .map(|(j, &zj)| self.penalty_weight(j) * zj * zj)
            .sum();
        self.cross_entropy(f) + 0.5 * penalty
    }
}

/// The z-space form as an [`OdeProblem`] (Auto chooses the method; the Jacobian is analytic).
impl OdeProblem for SoftmaxDynamics<'_> {
    fn dim(&self) -> usize {
        self.system.rank()
    }

    fn rhs(&self, z: &[f64], dz: &mut [f64]) {
        let out = SoftmaxDynamics::rhs(self, &DVector::from_column_slice(z));
        dz.copy_from_slice(out.as_slice());
    }

    fn jacobian(&self, z: &[f64], jac: &mut DMatrix<f64>) {
        jac.copy_from(&SoftmaxDynamics::jacobian(
            self,
            &DVector::from_column_slice(z),
        ));
    }

    fn spectral_bound(&self) -> f64 {
        self.curvature_bound()
    }

    /// ∂F/∂z = −diag(s²)·(UᵀHU + λ_SD I) − λ_L2 I: G = UᵀHU + λ_SD I, d = s², μ = λ_L2, so that
    /// BDF factorises its iteration matrix by Cholesky (docs/theory.md §9.2).
    fn scaled_gram_jacobian(&self, z: &[f64], gram: &mut DMatrix<f64>) -> Option<(&[f64], f64)> {
        self.curvature(&DVector::from_column_slice(z))
            .gram_into(gram);
        let (l2, sd) = self.regulariser.split();
        if sd != 0.0 {
            for j in 0..gram.nrows() {
                gram[(j, j)] += sd;
            }
        }
        Some((self.strengths_squared.as_slice(), l2))
    }

    fn has_scaled_gram_jacobian(&self) -> bool {
        true
    }

    /// G of [`Self::scaled_gram_jacobian`] in f32, lower triangle (`single`), from
    /// [`single::SINGLE_PRECISION_MIN_RANK`] responses on.
    fn scaled_gram_jacobian_single(&self, z: &[f64], gram: &mut [f32]) -> Option<(&[f64], f64)> {
        if !self.has_scaled_gram_jacobian_single() {
            return None;
        }
        self.curvature_gram_lower_single(z, gram);
        Some((
            self.strengths_squared.as_slice(),
            self.regulariser.split().0,
        ))
    }

    fn has_scaled_gram_jacobian_single(&self) -> bool {
        self.system.rank() >= single::SINGLE_PRECISION_MIN_RANK
    }

    /// λ_max of the symmetric form of ∂F/∂z by a few Lanczos steps (`local_stiffness`).
    fn local_spectral_estimate(&self, z: &[f64]) -> Option<(f64, u64)> {
        Some(self.local_stiffness(&DVector::from_column_slice(z)))
    }
}

#[cfg(test)]
mod tests;
