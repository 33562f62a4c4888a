//! Right-hand sides and Jacobians of the feature-response dynamics (docs/theory.md §2–§3).
//!
//! The problem side only: a [`PrimalDynamics`] knows the system, the loss and the regulariser and
//! evaluates F(z) and ∂F/∂z; solvers (in [`crate::solvers`]) integrate or iterate it. Every flow
//! here has the form
//!
//! ```text
//! F(z) = S² [ Uᵀ ψ(U z) − λ_SD z ] − λ_L2 z,      ψ(m) = −ℓ'(m)
//! ∂F/∂z = −S² [ Uᵀ D U + λ_SD I ] − λ_L2 I,       D = diag(ℓ''(U z))
//! ```
//!
//! with ψ(m) = σ(−m), ℓ'' = σ' for the logistic loss and ψ(m) = 1 − m, ℓ'' = 1 for the squared
//! loss; (★) of docs/theory.md §3 is the logistic case with L2.

mod dual;
mod margin;
mod margin_small;
mod scalar;
pub(crate) mod symmetric;

pub use dual::DualDynamics;
pub use margin::MarginFlow;
pub use margin_small::MarginFlowN;
pub use scalar::{sigmoid, sigmoid_neg, sigmoid_prime};
pub use symmetric::symmetric_product;

use nalgebra::{DMatrix, DVector};

use crate::error::{Error, Result};
use crate::systems::FeatureSystem;

/// The per-example loss ℓ(m) of a margin m (docs/theory.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// ℓ(m) = log(1 + e^{−m}): cross-entropy, the loss that starves.
    Logistic,
    /// ℓ(m) = ½(m − 1)²: the closed-form comparison with no starvation.
    Squared,
}

impl Loss {
    /// ψ(m) = −ℓ'(m), the weight of example i in the gradient.
    #[inline]
    pub fn neg_derivative(self, m: f64) -> f64 {
        match self {
            Loss::Logistic => sigmoid_neg(m),
            Loss::Squared => 1.0 - m,
        }
    }

    /// ℓ''(m), the curvature.
    #[inline]
    pub fn curvature(self, m: f64) -> f64 {
        match self {
            Loss::Logistic => sigmoid_prime(m),
            Loss::Squared => 1.0,
        }
    }

    /// ℓ(m) itself, evaluated without overflow.
    #[inline]
    pub fn value(self, m: f64) -> f64 {
        match self {
            // log(1 + e^{−m}) = max(−m, 0) + log1p(e^{−|m|})
            Loss::Logistic => (-m).max(0.0) + (-m.abs()).exp().ln_1p(),
            Loss::Squared => 0.5 * (m - 1.0) * (m - 1.0),
        }
    }

    /// sup_m ℓ''(m): 1/4 for the logistic loss, 1 for the squared loss.
    pub fn max_curvature(self) -> f64 {
        match self {
            Loss::Logistic => 0.25,
            Loss::Squared => 1.0,
        }
    }
}

/// The regulariser R (docs/theory.md §2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Regulariser {
    /// No regulariser: no steady state exists.
    None,
    /// Weight decay R = (λ/2)‖θ‖².
    L2 {
        /// λ ≥ 0.
        lambda: f64,
    },
    /// Spectral Decoupling R = (λ/2)‖ŷ‖² = (λ/2)‖z‖².
    SpectralDecoupling {
        /// λ ≥ 0.
        lambda: f64,
    },
}

impl Regulariser {
    /// Validate λ (finite, ≥ 0) and return the regulariser.
    pub fn validated(self) -> Result<Self> {
        match self {
            Regulariser::None => Ok(self),
            Regulariser::L2 { lambda } | Regulariser::SpectralDecoupling { lambda } => {
                if lambda.is_finite() && lambda >= 0.0 {
                    Ok(self)
                } else {
                    Err(Error::InvalidParameter {
                        name: "λ",
                        value: lambda,
                        rule: "the regularisation strength must be finite and ≥ 0",
                    })
                }
            }
        }
    }

    /// λ (0 for no regulariser).
    pub fn lambda(self) -> f64 {
        match self {
            Regulariser::None => 0.0,
            Regulariser::L2 { lambda } | Regulariser::SpectralDecoupling { lambda } => lambda,
        }
    }

    /// (λ_L2, λ_SD): the two places λ enters F (docs/theory.md §3).
    pub fn split(self) -> (f64, f64) {
        match self {
            Regulariser::None => (0.0, 0.0),
            Regulariser::L2 { lambda } => (lambda, 0.0),
            Regulariser::SpectralDecoupling { lambda } => (0.0, lambda),
        }
    }

    /// Short name: `l2`, `sd`, `none`.
    pub fn name(self) -> &'static str {
        match self {
            Regulariser::None => "none",
            Regulariser::L2 { .. } => "l2",
            Regulariser::SpectralDecoupling { .. } => "sd",
        }
    }
}

/// The primal z-dynamics dz/dτ = F(z) of a system under a loss and a regulariser (docs/theory.md §3).
#[derive(Clone, Debug)]
pub struct PrimalDynamics<'a> {
    system: &'a FeatureSystem,
    loss: Loss,
    regulariser: Regulariser,
    strengths_squared: DVector<f64>,
}

impl<'a> PrimalDynamics<'a> {
    /// Dynamics of `system` under `loss` and `regulariser` (λ validated here).
    pub fn new(system: &'a FeatureSystem, loss: Loss, regulariser: Regulariser) -> Result<Self> {
        Ok(Self {
            system,
            loss,
            regulariser: regulariser.validated()?,
            strengths_squared: system.strengths_squared(),
        })
    }

    /// The system.
    pub fn system(&self) -> &'a FeatureSystem {
        self.system
    }

    /// The loss.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// The regulariser.
    pub fn regulariser(&self) -> Regulariser {
        self.regulariser
    }

    /// Number of responses r.
    pub fn dim(&self) -> usize {
        self.system.rank()
    }

    /// F(z) written into `out` (docs/theory.md §3, (★) and its variants).
    pub fn rhs_into(&self, z: &DVector<f64>, out: &mut DVector<f64>) {
        let u = self.system.coupling();
        let psi = (u * z).map(|m| self.loss.neg_derivative(m));
        let (l2, sd) = self.regulariser.split();
        u.tr_mul_to(&psi, out);
        for j in 0..out.len() {
            out[j] = self.strengths_squared[j] * (out[j] - sd * z[j]) - l2 * z[j];
        }
    }

    /// F(z).
    pub fn rhs(&self, z: &DVector<f64>) -> DVector<f64> {
        let mut out = DVector::zeros(self.dim());
        self.rhs_into(z, &mut out);
        out
    }

    /// ∂F/∂z = −S²[UᵀDU + λ_SD I] − λ_L2 I, D = diag(ℓ''(Uz)) (docs/theory.md §3).
    pub fn jacobian(&self, z: &DVector<f64>) -> DMatrix<f64> {
        let u = self.system.coupling();
        let d = (u * z).map(|m| self.loss.curvature(m));
        let mut du = u.clone();
        for (i, mut row) in du.row_iter_mut().enumerate() {
            row *= d[i];
        }
        let mut jac = -(u.transpose() * du);
        let (l2, sd) = self.regulariser.split();
        for j in 0..jac.nrows() {
            jac.row_mut(j).scale_mut(self.strengths_squared[j]);
            jac[(j, j)] -= self.strengths_squared[j] * sd + l2;
        }
        jac
    }

    /// A bound on the spectral radius of ∂F/∂z over all z: λ + s₁²·sup ℓ'' for L2 and
    /// s₁²(λ + sup ℓ'') for SD (docs/theory.md §3). GD with step η is stable while η·bound < 2.
    pub fn curvature_bound(&self) -> f64 {
        let s1sq = self.system.max_strength().powi(2);
        let (l2, sd) = self.regulariser.split();
        l2 + s1sq * (sd + self.loss.max_curvature())
    }

    /// The loss in z (docs/theory.md §2), up to the constant factor of S² in the flow:
    /// L(z) = Σᵢ ℓ((Uz)ᵢ) + ½ zᵀ W z with W = λ S⁻² (L2) or λ I (SD), so that F = −S² ∇L.
    /// Components with s_j = 0 under L2 are pinned at 0 and excluded. Used by the steady-state
    /// line search.
    pub fn objective(&self, z: &DVector<f64>) -> f64 {
        let m = self.system.margins(z);
        let data: f64 = m.iter().map(|&mi| self.loss.value(mi)).sum();
        0.5 * z
            .iter()
            .enumerate()
            .map(|(j, &zj)| self.penalty_weight(j) * zj * zj)
            .sum::<f64>()
            + data
    }

    /// W_jj of [`Self::objective`]: λ/s_j² for L2 (∞ if s_j = 0), λ for SD, 0 for none.
    pub fn penalty_weight(&self, j: usize) -> f64 {
        match self.regulariser {
            Regulariser::None => 0.0,
            Regulariser::L2 { lambda } => lambda / self.strengths_squared[j],
            Regulariser::SpectralDecoupling { lambda } => lambda,
        }
    }

    /// The squared strengths s_j².
    pub fn strengths_squared(&self) -> &DVector<f64> {
        &self.strengths_squared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn central_difference_jacobian(dynamics: &PrimalDynamics, z: &DVector<f64>) -> DMatrix<f64> {
        let n = z.len();
        let mut jac = DMatrix::zeros(n, n);
        for k in 0..n {
            let h = 1e-6 * (1.0 + z[k].abs());
            let mut zp = z.clone();
            let mut zm = z.clone();
            zp[k] += h;
            zm[k] -= h;
            jac.set_column(k, &((dynamics.rhs(&zp) - dynamics.rhs(&zm)) / (2.0 * h)));
        }
        jac
    }

    #[test]
    fn jacobians_match_finite_differences_for_every_loss_and_regulariser() {
        let sys = FeatureSystem::random(
            5,
            crate::systems::Spectrum::Geometric { from: 3.0, to: 0.5 },
            3,
        )
        .unwrap();
        let z = DVector::from_vec(vec![0.3, -1.2, 2.0, 0.1, -0.4]);
        for loss in [Loss::Logistic, Loss::Squared] {
            for reg in [
                Regulariser::None,
                Regulariser::L2 { lambda: 0.07 },
                Regulariser::SpectralDecoupling { lambda: 0.05 },
            ] {
                let dynamics = PrimalDynamics::new(&sys, loss, reg).unwrap();
                let analytic = dynamics.jacobian(&z);
                let numeric = central_difference_jacobian(&dynamics, &z);
                let err = (analytic - numeric).abs().max();
                assert!(err < 1e-7, "{loss:?} {reg:?}: {err}");
            }
        }
    }

    #[test]
    fn rhs_matches_theory_formula_for_l2() {
        // (★): F(z) = S² Uᵀ σ(−Uz) − λz, evaluated directly.
        let sys = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
        let z = DVector::from_vec(vec![1.0, 0.5]);
        let dynamics =
            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let u = sys.coupling();
        let m = u * &z;
        let sig = m.map(|x| 1.0 / (1.0 + x.exp()));
        let direct =
            DMatrix::from_diagonal(&sys.strengths_squared()) * u.transpose() * sig - 0.01 * &z;
        assert!((dynamics.rhs(&z) - direct).abs().max() < 1e-14);
    }

    #[test]
    fn flow_is_minus_s2_gradient_of_objective() {
        let sys = FeatureSystem::rotation(3.0, 1.5, 0.4).unwrap();
        let z = DVector::from_vec(vec![0.7, -0.2]);
        for reg in [
            Regulariser::L2 { lambda: 0.1 },
            Regulariser::SpectralDecoupling { lambda: 0.1 },
        ] {
            let d = PrimalDynamics::new(&sys, Loss::Logistic, reg).unwrap();
            let f = d.rhs(&z);
            for k in 0..2 {
                let h = 1e-6;
                let mut zp = z.clone();
                let mut zm = z.clone();
                zp[k] += h;
                zm[k] -= h;
                let grad = (d.objective(&zp) - d.objective(&zm)) / (2.0 * h);
                assert!((f[k] + d.strengths_squared()[k] * grad).abs() < 1e-7);
            }
        }
    }

    #[test]
    fn negative_lambda_is_rejected() {
        let sys = FeatureSystem::rotation(1.0, 1.0, 0.1).unwrap();
        let err = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: -1.0 })
            .unwrap_err();
        assert!(err.to_string().contains("λ = -1"));
    }
}
