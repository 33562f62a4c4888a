//! The primal flow in margin space (docs/theory.md §3.3): m = U z evolves as
//!
//! ```text
//! dm/dτ = K g(m) − μ m,                    K = U S² Uᵀ,  g = [`Model::drive`],  μ = [`Model::decay`]
//! ∂(dm/dτ)/∂m = −K diag(d(m)) − μ I,       d = [`Model::curvature`]
//! ```
//!
//! one symmetric matrix–vector product per evaluation instead of two. Starting from m₀ = U z₀ the
//! margins stay in the range of U, and z = Uᵀ m recovers the responses.

use nalgebra::DMatrix;

use super::{Model, PrimalDynamics};
use crate::ode::OdeProblem;

/// The margin-space form of a [`PrimalDynamics`], with K = U S² Uᵀ formed once.
#[derive(Clone, Debug)]
pub struct MarginFlow {
    gram: DMatrix<f64>,
    model: Model,
    bound: f64,
}

/// Largest n for which [`MarginFlow`]'s right-hand side keeps its scratch vector g on the
/// stack; above it the n² product dwarfs one allocation.
const STACK_SCRATCH_DIM: usize = 64;

impl MarginFlow {
    /// Form K for the given dynamics.
    pub fn new(dynamics: &PrimalDynamics) -> Self {
        Self {
            gram: dynamics.system().gram(),
            model: dynamics.model().clone(),
            bound: dynamics.curvature_bound(),
        }
    }

    /// K = U S² Uᵀ.
    pub fn gram(&self) -> &DMatrix<f64> {
        &self.gram
    }

    /// dm/dτ into `dm`, using `weights` as scratch for g(m): no allocation, for loops that
    /// evaluate the flow many times (gradient descent).
    pub fn rhs_with(&self, m: &[f64], weights: &mut [f64], dm: &mut [f64]) {
        self.rhs_directed(m, weights, dm, false);
    }

    /// The vector K acts on, g_i(m_i) = ψᵢ(m_i) − λ_SD m_i (so that dm/dτ = K g − μ m), into
    /// `g`; `m` and `g` may be any matching slices of the margins, the examples `start`,
    /// `start + 1`, … (GD's parallel team splits them).
    pub fn drive(&self, start: usize, m: &[f64], g: &mut [f64]) {
        self.model.drives_into(start, m, g);
    }

    /// μ = λ_L2 of dm/dτ = K g − μ m.
    pub fn lambda_l2(&self) -> f64 {
        self.model.decay()
    }

    /// [`Self::rhs_with`] with the Gram product's columns swept in reverse when `reverse` is set
    /// (large n only; see `symmetric_product_directed`): gradient descent
    /// alternates it from step to step. The result differs only by rounding.
    pub fn rhs_directed(&self, m: &[f64], weights: &mut [f64], dm: &mut [f64], reverse: bool) {
        self.drive(0, m, weights);
        if reverse && m.len() >= SYMMETRIC_MIN_DIM {
            super::symmetric::symmetric_product_directed(self.gram.as_slice(), weights, dm, true);
        } else {
            symmetric_product(&self.gram, weights, dm);
        }
        let mu = self.model.decay();
        for (o, &mi) in dm.iter_mut().zip(m) {
            *o -= mu * mi;
        }
    }
}

/// out = K g for a symmetric K. Small systems use a plain column sweep; from [`FAER_MIN_DIM`]
/// on, faer's SIMD matrix–vector kernel (runtime-dispatched AVX2/AVX-512), which measured
/// several times faster than nalgebra's generic gemv; from [`SYMMETRIC_MIN_DIM`] on, the
/// symmetric kernel of [`super::symmetric_product`], which reads only K's lower triangle (half
/// the traffic) and, from [`super::symmetric::PARALLEL_MIN_DIM`] on with two or more rayon
/// threads, splits it over two cores.
pub(crate) fn symmetric_product(k: &DMatrix<f64>, g: &[f64], out: &mut [f64]) {
    let n = g.len();
    if n >= SYMMETRIC_MIN_DIM {
        super::symmetric_product(k.as_slice(), g, out);
    } else if n >= FAER_MIN_DIM {
        let a = faer::MatRef::from_column_major_slice(k.as_slice(), n, n);
        let x = faer::ColRef::from_slice(g);
        let y = faer::ColMut::from_slice_mut(out);
        faer::linalg::matmul::matmul(y, faer::Accum::Replace, a, x, 1.0, faer::Par::Seq);
    } else {
        out.fill(0.0);
        for (j, &gj) in g.iter().enumerate() {
            let col = &k.as_slice()[j * n..(j + 1) * n];
            for (o, &kij) in out.iter_mut().zip(col) {
                *o += kij * gj;
            }
        }
    }
}

/// Size from which `symmetric_product` hands the product to faer.
pub const FAER_MIN_DIM: usize = 32;
/// Size from which `symmetric_product` uses the lower-triangle kernel, which reads half of K:
/// with its explicit SIMD sweeps it is faster than faer's full product from n = 64 on, slightly
/// slower at n = 32 (measured: docs/benchmarks.md, "Solver tuning measurements (moved from the
/// code)", Gram products).
pub const SYMMETRIC_MIN_DIM: usize = 64;

impl OdeProblem for MarginFlow {
    fn dim(&self) -> usize {
        self.gram.nrows()
    }

    fn rhs(&self, m: &[f64], dm: &mut [f64]) {
        if m.len() <= STACK_SCRATCH_DIM {
            let mut weights = [0.0; STACK_SCRATCH_DIM];
            self.rhs_with(m, &mut weights[..m.len()], dm);
        } else {
            let mut weights = vec![0.0; m.len()];
            self.rhs_with(m, &mut weights, dm);
        }
    }

    fn jacobian(&self, m: &[f64], jac: &mut DMatrix<f64>) {
        let n = m.len();
        jac.copy_from(&self.gram);
        let mu = self.model.decay();
        for j in 0..n {
            let d = self.model.curvature_at(j, m[j]);
            jac.column_mut(j).scale_mut(-d);
            jac[(j, j)] -= mu;
        }
    }

    fn spectral_bound(&self) -> f64 {
        self.bound
    }

    /// ∂(dm/dτ)/∂m = −K diag(d) − μ I with d = [`Model::curvature`], μ = [`Model::decay`].
    fn gram_jacobian(&self, m: &[f64], d: &mut [f64]) -> Option<(&DMatrix<f64>, f64)> {
        for (j, (dj, &mj)) in d.iter_mut().zip(m).enumerate() {
            *dj = self.model.curvature_at(j, mj);
        }
        Some((&self.gram, self.model.decay()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Loss, Regulariser};
    use crate::systems::{FeatureSystem, Spectrum};
    use nalgebra::DVector;

    #[test]
    fn margin_rhs_is_u_times_z_rhs() {
        let sys = FeatureSystem::random(6, Spectrum::Geometric { from: 4.0, to: 0.2 }, 11).unwrap();
        let z = DVector::from_fn(6, |i, _| 0.3 * i as f64 - 0.7);
        for loss in [Loss::Logistic, Loss::Squared] {
            for reg in [
                Regulariser::None,
                Regulariser::L2 { lambda: 0.03 },
                Regulariser::SpectralDecoupling { lambda: 0.02 },
            ] {
                let d = PrimalDynamics::new(&sys, loss, reg).unwrap();
                let flow = MarginFlow::new(&d);
                let m = sys.margins(&z);
                let mut dm = vec![0.0; 6];
                flow.rhs(m.as_slice(), &mut dm);
                let expected = sys.coupling() * d.rhs(&z);
                let err = (DVector::from_vec(dm) - expected).abs().max();
                assert!(err < 1e-12, "{loss:?} {reg:?}: {err}");
                // Jacobian: J_m = U J_z Uᵀ for square orthogonal U.
                let mut jm = DMatrix::zeros(6, 6);
                flow.jacobian(m.as_slice(), &mut jm);
                let expected = sys.coupling() * d.jacobian(&z) * sys.coupling().transpose();
                assert!((jm - expected).abs().max() < 1e-11);
            }
        }
    }
}
