//! The margin flow of docs/theory.md §3.3 for n ≤ 4 with the dimension known at compile time:
//!
//! ```text
//! dm/dτ = K g(m) − μ m,                 K = U S² Uᵀ,  g = [`Model::drive`],  μ = [`Model::decay`]
//! ∂(dm/dτ)/∂m = −K diag(d(m)) − μ I,    d = [`Model::curvature`]
//! ```
//!
//! The same formulas as [`super::MarginFlow`] (those of [`Model`]), on fixed-size arrays, so that
//! the product K·g unrolls and nothing touches the heap: at n = 2 the general form spends more on
//! loop and slice bookkeeping than on its two exponentials (docs/benchmarks.md). The sums run in
//! the order that serves the critical path of an explicit step, where each evaluation waits for
//! the one before: −μmᵢ, known early, starts the sum, and a zero λ_SD is skipped, so that after
//! g(m) come n fused multiply-adds,
//!
//! ```text
//! dmᵢ = fma(Kᵢₙ, gₙ, … fma(Kᵢ₂, g₂, fma(Kᵢ₁, g₁, −μmᵢ))),
//! ```
//!
//! and the logistic loss's σ(−m) takes its exponential from [`table_exp`] (inline, fused
//! multiply-adds: no call on that path). This agrees with the general form to a few units in the
//! last place (tested), not bit for bit (docs/benchmarks.md, "Per flow, third pass (item 1,
//! n = 2)").

use nalgebra::DMatrix;

use super::{sigmoid_neg_with, table_exp, Loss, Model, PrimalDynamics};
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

    /// dm/dτ in [`super::MarginFlow`]'s order and with the platform's exponential, bit for bit
    /// its value: for gradient descent's fixed-size loop, which takes the general loop's steps
    /// exactly (tested there), where [`OdeProblem::rhs`] orders the sums for DP45's critical path
    /// (module documentation).
    #[inline]
    pub fn rhs_general_order(&self, m: &[f64; N], dm: &mut [f64; N]) {
        let mut w = [0.0; N];
        self.model.drives_into(0, m, &mut w);
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
}

impl<const N: usize> OdeProblem for MarginFlowN<N> {
    fn dim(&self) -> usize {
        N
    }

    #[inline(always)]
    fn rhs(&self, m: &[f64], dm: &mut [f64]) {
        let m: &[f64; N] = m.try_into().expect("state of dimension N");
        let dm: &mut [f64; N] = dm.try_into().expect("derivative of dimension N");
        let mut w = [0.0; N];
        if self.model.examples().is_none() {
            // [`Model::drives_into`] without class targets, inline (the same formula, σ(−m) with
            // [`table_exp::exp`]; a zero λ_SD skipped, the same value for finite m).
            let (loss, sd) = (self.model.loss(), self.model.lambda_sd());
            for (wi, &mi) in w.iter_mut().zip(m) {
                let g = match loss {
                    Loss::Logistic => sigmoid_neg_with(mi, table_exp::exp),
                    Loss::Squared => loss.neg_derivative(mi),
                };
                *wi = if sd == 0.0 { g } else { g - sd * mi };
            }
        } else {
            self.model.drives_into(0, m, &mut w);
        }
        let mu = self.model.decay();
        for (i, (d, &mi)) in dm.iter_mut().zip(m).enumerate() {
            let mut acc = -mu * mi;
            for (col, &wj) in self.gram.iter().zip(&w) {
                acc = col[i].mul_add(wj, acc);
            }
            *d = acc;
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
                // The general form's sums in another order: equal to rounding, 4 ulp of the
                // sum of the magnitudes of the terms.
                let mut g = [0.0; 3];
                d.model().drives_into(0, &m, &mut g);
                for i in 0..3 {
                    let terms: f64 = (0..3).map(|j| (small.gram()[j][i] * g[j]).abs()).sum();
                    let scale = terms + d.model().decay() * m[i].abs();
                    let tol = 4.0 * f64::EPSILON * scale;
                    assert!((a[i] - b[i]).abs() <= tol, "{loss:?} {reg:?}: {a:?} {b:?}");
                }
                let mut c = [0.0; 3];
                small.rhs_general_order(&m, &mut c);
                assert_eq!(a, c, "{loss:?} {reg:?}");
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
