//! The margin flow of docs/theory.md §3.3 for n ≤ 4 with the dimension known at compile time:
//!
//! ```text
//! dm/dτ = K g(m) − μ m,                 K = U S² Uᵀ,  g = [`Model::drive`],  μ = [`Model::decay`]
//! ∂(dm/dτ)/∂m = −K diag(d(m)) − μ I,    d = [`Model::curvature`]
//! ```
//!
//! The same arithmetic as [`super::MarginFlow`] (bit for bit: the same formulas of [`Model`], the
//! same sums in the same order, tested), on fixed-size arrays, so that the product K·g unrolls
//! and nothing touches the heap: at n = 2 the general form spends more on loop and slice
//! bookkeeping than on its two exponentials (docs/benchmarks.md).

use nalgebra::DMatrix;

use super::{Model, PrimalDynamics};
use crate::ode::OdeProblem;

/// [`super::MarginFlow`] for a system of N examples (1 ≤ N ≤ 4 is where it pays).
#[derive(Clone, Debug)]
pub struct MarginFlowN<const N: usize> {
    /// K = U S² Uᵀ, column-major: `gram[j][i]` = K_ij.
    gram: [[f64; N]; N],
    model: Model,
    bound: f64,
}

impl<const N: usize> MarginFlowN<N> {
    /// Form K for the given dynamics; `None` unless the system has exactly N examples and full
    /// rank (the margin form needs square U).
    pub fn new(dynamics: &PrimalDynamics) -> Option<Self> {
        let sys = dynamics.system();
        if sys.examples() != N || sys.rank() != N {
            return None;
        }
        let k = sys.gram();
        let mut gram = [[0.0; N]; N];
        for (j, col) in gram.iter_mut().enumerate() {
            for (i, v) in col.iter_mut().enumerate() {
                *v = k[(i, j)];
            }
        }
        Some(Self {
            gram,
            model: dynamics.model().clone(),
            bound: dynamics.curvature_bound(),
        })
    }

    /// K = U S² Uᵀ, column-major: `gram()[j][i]` = K_ij.
    pub fn gram(&self) -> &[[f64; N]; N] {
        &self.gram
    }

    /// The model whose g and μ the flow evaluates.
    pub fn model(&self) -> &Model {
        &self.model
    }
}

impl<const N: usize> OdeProblem for MarginFlowN<N> {
    fn dim(&self) -> usize {
        N
    }

    #[inline]
    fn rhs(&self, m: &[f64], dm: &mut [f64]) {
        let m: &[f64; N] = m.try_into().expect("state of dimension N");
        let dm: &mut [f64; N] = dm.try_into().expect("derivative of dimension N");
        let mut w = [0.0; N];
        if self.model.examples().is_none() {
            // [`Model::drives_into`] without class targets, inline (the same formula).
            let (loss, sd) = (self.model.loss(), self.model.lambda_sd());
            for (wi, &mi) in w.iter_mut().zip(m) {
                *wi = loss.neg_derivative(mi) - sd * mi;
            }
        } else {
            self.model.drives_into(0, m, &mut w);
        }
        let mut out = [0.0; N];
        for (col, &wj) in self.gram.iter().zip(&w) {
            for (o, &kij) in out.iter_mut().zip(col) {
                *o += kij * wj;
            }
        }
        let mu = self.model.decay();
        for ((d, o), &mi) in dm.iter_mut().zip(out).zip(m) {
            *d = o - mu * mi;
        }
    }

    fn jacobian(&self, m: &[f64], jac: &mut DMatrix<f64>) {
        for (j, col) in self.gram.iter().enumerate() {
            let d = self.model.curvature_at(j, m[j]);
            for (i, &kij) in col.iter().enumerate() {
                jac[(i, j)] = -kij * d;
            }
            jac[(j, j)] -= self.model.decay();
        }
    }

    fn spectral_bound(&self) -> f64 {
        self.bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Loss, MarginFlow, Regulariser};
    use crate::systems::{FeatureSystem, Spectrum};

    #[test]
    fn agrees_with_the_general_margin_flow() {
        let sys = FeatureSystem::random(3, Spectrum::Geometric { from: 4.0, to: 0.2 }, 5).unwrap();
        let m = [0.4, -1.3, 2.2];
        for loss in [Loss::Logistic, Loss::Squared] {
            for reg in [
                Regulariser::None,
                Regulariser::L2 { lambda: 0.03 },
                Regulariser::SpectralDecoupling { lambda: 0.02 },
            ] {
                let d = PrimalDynamics::new(&sys, loss, reg).unwrap();
                let general = MarginFlow::new(&d);
                let small = MarginFlowN::<3>::new(&d).unwrap();
                let (mut a, mut b) = ([0.0; 3], [0.0; 3]);
                general.rhs(&m, &mut a);
                small.rhs(&m, &mut b);
                assert_eq!(a, b, "{loss:?} {reg:?}");
                let (mut ja, mut jb) = (DMatrix::zeros(3, 3), DMatrix::zeros(3, 3));
                general.jacobian(&m, &mut ja);
                small.jacobian(&m, &mut jb);
                assert_eq!(ja, jb);
                assert_eq!(general.spectral_bound(), small.spectral_bound());
            }
        }
        let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::None).unwrap();
        assert!(MarginFlowN::<2>::new(&d).is_none());
    }
}
