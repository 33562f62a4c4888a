//! The model: the per-example loss ℓ and the regulariser R (docs/theory.md §2.1–§2.2), and the
//! dynamics they give a feature system (docs/theory.md §3.2–§3.5).
//!
//! [`Model`] is the one home of the per-example formulas. Every primal flow in gstarve has the
//! form (docs/theory.md §3.2)
//!
//! ```text
//! F(z) = S² Uᵀ g(U z) − μ z,          g(m) = ψ(m) − λ_SD m,   ψ(m) = −ℓ'(m),   μ = λ_L2
//! ∂F/∂z = −S² Uᵀ diag(d(U z)) U − μ I,  d(m) = ℓ''(m) + λ_SD
//! ```
//!
//! (UᵀU = I makes S²Uᵀ(λ_SD m) = λ_SD S² z; the z-space form [`PrimalDynamics`] writes the SD
//! term on z directly, which holds to rounding however close to orthonormal U is), and in
//! margin space m = U z (docs/theory.md §3.3)
//!
//! ```text
//! dm/dτ = K g(m) − μ m,    ∂(dm/dτ)/∂m = −K diag(d(m)) − μ I,    K = U S² Uᵀ.
//! ```
//!
//! [`Model::drive`] is g, [`Model::curvature`] is d, [`Model::decay`] is μ, [`Model::loss`]
//! gives ψ and ℓ'', [`Model::lambda_sd`] λ_SD. The forms that
//! integrators and iterations run are built on them: [`PrimalDynamics`] (z-space: right-hand
//! side, Jacobian matrix and action, GD step, objective, gradient and Hessian for Newton),
//! [`MarginFlow`] and [`MarginFlowN`] (margin space, the general and the fixed-size n ≤ 4
//! form), and [`DualDynamics`] (the Legendre dual of docs/theory.md §3.5, its own equations).
//! The softmax cross-entropy of multi-class systems is not per-example scalar: it has its own
//! home, [`SoftmaxDynamics`] (docs/theory.md §9.2).

mod dual;
mod margin;
mod margin_small;
mod primal;
mod scalar;
mod softmax;
pub(crate) mod streamed;
pub(crate) mod symmetric;

pub use dual::DualDynamics;
pub use margin::{MarginFlow, FAER_MIN_DIM, SYMMETRIC_MIN_DIM};
pub use margin_small::MarginFlowN;
pub use primal::PrimalDynamics;
pub use scalar::{sigmoid, sigmoid_neg, sigmoid_prime};
pub use softmax::SoftmaxDynamics;
pub use symmetric::symmetric_product;

use crate::error::{Error, InputError, Result};

/// The per-example loss ℓ(m) of a margin m (docs/theory.md §2.1).
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

/// The regulariser R (docs/theory.md §2.2).
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
                    Err(Error::Input(InputError::InvalidParameter {
                        name: "λ",
                        value: lambda,
                        rule: "the regularisation strength must be finite and ≥ 0",
                    }))
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

    /// (λ_L2, λ_SD): the two places λ enters F (docs/theory.md §3.2).
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

/// A loss and a regulariser (λ validated): the per-example part of every flow, GD map and
/// steady-state equation (docs/theory.md §3.2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Model {
    loss: Loss,
    regulariser: Regulariser,
    /// λ_L2 (μ of the module documentation).
    lambda_l2: f64,
    /// λ_SD.
    lambda_sd: f64,
}

impl Model {
    /// The model of `loss` under `regulariser` (λ must be finite and ≥ 0).
    pub fn new(loss: Loss, regulariser: Regulariser) -> Result<Self> {
        let regulariser = regulariser.validated()?;
        let (lambda_l2, lambda_sd) = regulariser.split();
        Ok(Self {
            loss,
            regulariser,
            lambda_l2,
            lambda_sd,
        })
    }

    /// The loss.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// The regulariser.
    pub fn regulariser(&self) -> Regulariser {
        self.regulariser
    }

    /// g(m) = ψ(m) − λ_SD·m: what example i sends through the coupling (docs/theory.md §3.2).
    #[inline]
    pub fn drive(&self, m: f64) -> f64 {
        self.loss.neg_derivative(m) - self.lambda_sd * m
    }

    /// d(m) = ℓ''(m) + λ_SD = −g'(m): example i's entry of the Jacobian's diagonal factor.
    #[inline]
    pub fn curvature(&self, m: f64) -> f64 {
        self.loss.curvature(m) + self.lambda_sd
    }

    /// μ = λ_L2: the decay every response feels directly.
    #[inline]
    pub fn decay(&self) -> f64 {
        self.lambda_l2
    }

    /// λ_SD, the Spectral-Decoupling weight inside g.
    #[inline]
    pub fn lambda_sd(&self) -> f64 {
        self.lambda_sd
    }

    /// A bound on ‖∂F/∂z‖₂ over all z for a largest squared strength `s1_squared`:
    /// μ + s₁²(λ_SD + sup ℓ'') (docs/theory.md §3.6). GD with step η is stable while η·bound < 2.
    pub fn curvature_bound(&self, s1_squared: f64) -> f64 {
        self.lambda_l2 + s1_squared * (self.lambda_sd + self.loss.max_curvature())
    }

    /// W_jj of the objective L(z) = Σᵢ ℓ((Uz)ᵢ) + ½ zᵀWz (F = −S²∇L, docs/theory.md §2.3):
    /// λ/s_j² for L2 (∞ if s_j = 0), λ for SD, 0 for none.
    pub fn penalty_weight(&self, strength_squared: f64) -> f64 {
        match self.regulariser {
            Regulariser::None => 0.0,
            Regulariser::L2 { lambda } => lambda / strength_squared,
            Regulariser::SpectralDecoupling { lambda } => lambda,
        }
    }
}
