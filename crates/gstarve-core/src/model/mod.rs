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
//! Spectral Decoupling with class targets (docs/theory.md §10.1) adds a per-example term
//! ½λᵢ(mᵢ − γᵢ)² to example i's loss: ℓᵢ(m) = ℓ(m) + ½λᵢ(m − γᵢ)², so ψᵢ(m) = ψ(m) − λᵢ(m − γᵢ)
//! and ℓᵢ'' = ℓ'' + λᵢ; every formula above then holds with ψᵢ, ℓᵢ'' in place of ψ, ℓ''
//! (with λ_SD = μ = 0). This is why every per-example function takes the example's index i.
//!
//! [`Model::drive_at`] is g, [`Model::curvature_at`] is d, [`Model::decay`] is μ,
//! [`Model::example_drive`] / [`Model::example_curvature`] / [`Model::example_loss`] give ψᵢ,
//! ℓᵢ'' and ℓᵢ, [`Model::lambda_sd`] λ_SD. The forms that
//! integrators and iterations run are built on them: [`PrimalDynamics`] (z-space: right-hand
//! side, Jacobian matrix and action, GD step, objective, gradient and Hessian for Newton),
//! [`MarginFlow`] and [`MarginFlowN`] (margin space, the general and the fixed-size n ≤ 4
//! form), and [`DualDynamics`] (the Legendre dual of docs/theory.md §3.5, its own equations).
//! The softmax cross-entropy of multi-class systems is not per-example scalar: it has its own
//! home, [`SoftmaxDynamics`] (docs/theory.md §9.2).

mod dual;
pub mod fast_exp;
pub mod fast_log1p;
mod margin;
mod margin_small;
mod primal;
mod scalar;
mod softmax;
pub(crate) mod streamed;
pub(crate) mod symmetric;
pub mod table_exp;
pub mod table_ln;

pub use dual::DualDynamics;
pub use margin::{MarginFlow, FAER_MIN_DIM, SYMMETRIC_MIN_DIM};
pub use margin_small::MarginFlowN;
pub use primal::PrimalDynamics;
pub use scalar::{sigmoid, sigmoid_neg, sigmoid_neg_with, sigmoid_prime};
pub(crate) use softmax::{mirror_lower, scaled_symmetric_into};
pub use softmax::{Curvature, SoftmaxDynamics};
pub use symmetric::symmetric_product;

use std::sync::Arc;

use nalgebra::DVector;

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
    /// Spectral Decoupling with a weight and a target per class, on the margins
    /// (docs/theory.md §10.1): R = ½ Σᵢ λ_{c(i)} (mᵢ − γ_{c(i)})², class 0 the examples labelled
    /// −1 (or 0), class 1 those labelled +1. Needs the labels of the examples.
    SpectralDecouplingClasses {
        /// (λ₀, λ₁), each ≥ 0.
        lambda: [f64; 2],
        /// (γ₀, γ₁), the margin targets, finite.
        target: [f64; 2],
    },
}

impl Regulariser {
    /// Validate λ (finite, ≥ 0) and return the regulariser.
    pub fn validated(self) -> Result<Self> {
        match self {
            Regulariser::None => Ok(self),
            Regulariser::L2 { lambda } | Regulariser::SpectralDecoupling { lambda } => {
                check_lambda(lambda)?;
                Ok(self)
            }
            Regulariser::SpectralDecouplingClasses { lambda, target } => {
                for l in lambda {
                    check_lambda(l)?;
                }
                for g in target {
                    if !g.is_finite() {
                        return Err(Error::Input(InputError::InvalidParameter {
                            name: "γ",
                            value: g,
                            rule: "a Spectral-Decoupling target must be finite",
                        }));
                    }
                }
                Ok(self)
            }
        }
    }

    /// λ (0 for no regulariser; for class targets the smaller of λ₀, λ₁, the weakest pull: a
    /// steady state of the logistic loss needs it > 0).
    pub fn lambda(self) -> f64 {
        match self {
            Regulariser::None => 0.0,
            Regulariser::L2 { lambda } | Regulariser::SpectralDecoupling { lambda } => lambda,
            Regulariser::SpectralDecouplingClasses { lambda, .. } => lambda[0].min(lambda[1]),
        }
    }

    /// (λ_L2, λ_SD): the two places a uniform λ enters F (docs/theory.md §3.2). Class targets
    /// enter through the examples' terms instead (docs/theory.md §10.1): (0, 0).
    pub fn split(self) -> (f64, f64) {
        match self {
            Regulariser::None | Regulariser::SpectralDecouplingClasses { .. } => (0.0, 0.0),
            Regulariser::L2 { lambda } => (lambda, 0.0),
            Regulariser::SpectralDecoupling { lambda } => (0.0, lambda),
        }
    }

    /// The same kind of regulariser with every λ multiplied by `factor` (targets unchanged).
    pub fn scaled(self, factor: f64) -> Self {
        match self {
            Regulariser::None => Regulariser::None,
            Regulariser::L2 { lambda } => Regulariser::L2 {
                lambda: lambda * factor,
            },
            Regulariser::SpectralDecoupling { lambda } => Regulariser::SpectralDecoupling {
                lambda: lambda * factor,
            },
            Regulariser::SpectralDecouplingClasses { lambda, target } => {
                Regulariser::SpectralDecouplingClasses {
                    lambda: [lambda[0] * factor, lambda[1] * factor],
                    target,
                }
            }
        }
    }

    /// Short name: `l2`, `sd`, `sd-classes`, `none`.
    pub fn name(self) -> &'static str {
        match self {
            Regulariser::None => "none",
            Regulariser::L2 { .. } => "l2",
            Regulariser::SpectralDecoupling { .. } => "sd",
            Regulariser::SpectralDecouplingClasses { .. } => "sd-classes",
        }
    }
}

fn check_lambda(lambda: f64) -> Result<()> {
    if lambda.is_finite() && lambda >= 0.0 {
        Ok(())
    } else {
        Err(Error::Input(InputError::InvalidParameter {
            name: "λ",
            value: lambda,
            rule: "the regularisation strength must be finite and ≥ 0",
        }))
    }
}

/// The per-example weights λᵢ and targets γᵢ of Spectral Decoupling with class targets
/// (docs/theory.md §10.1).
#[derive(Debug, PartialEq)]
struct ExampleTerms {
    lambda: Vec<f64>,
    target: Vec<f64>,
}

/// A loss and a regulariser (λ validated): the per-example part of every flow, GD map and
/// steady-state equation (docs/theory.md §3.2).
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    loss: Loss,
    regulariser: Regulariser,
    /// λ_L2 (μ of the module documentation).
    lambda_l2: f64,
    /// λ_SD.
    lambda_sd: f64,
    /// λᵢ, γᵢ of class targets (shared, not copied, by the flows built on this model).
    examples: Option<Arc<ExampleTerms>>,
    /// max λᵢ (0 without class targets).
    max_example_lambda: f64,
}

impl Model {
    /// The model of `loss` under `regulariser` (λ must be finite and ≥ 0). Class targets need
    /// the labels: [`Model::with_labels`].
    pub fn new(loss: Loss, regulariser: Regulariser) -> Result<Self> {
        Self::with_labels(loss, regulariser, None)
    }

    /// The model of `loss` under `regulariser` for examples with labels `signs` (±1, one per
    /// example; used by class targets only, docs/theory.md §10.1).
    pub fn with_labels(
        loss: Loss,
        regulariser: Regulariser,
        signs: Option<&DVector<f64>>,
    ) -> Result<Self> {
        let regulariser = regulariser.validated()?;
        let (lambda_l2, lambda_sd) = regulariser.split();
        let examples = match regulariser {
            Regulariser::SpectralDecouplingClasses { lambda, target } => {
                let signs = signs.ok_or(Error::Input(InputError::NeedsLabels {
                    what: "Spectral Decoupling with class targets",
                }))?;
                let class = |y: f64| usize::from(y > 0.0);
                Some(Arc::new(ExampleTerms {
                    lambda: signs.iter().map(|&y| lambda[class(y)]).collect(),
                    target: signs.iter().map(|&y| target[class(y)]).collect(),
                }))
            }
            _ => None,
        };
        let max_example_lambda = examples
            .as_ref()
            .map_or(0.0, |e| e.lambda.iter().fold(0.0, |a: f64, &b| a.max(b)));
        Ok(Self {
            loss,
            regulariser,
            lambda_l2,
            lambda_sd,
            examples,
            max_example_lambda,
        })
    }

    /// The number of examples the per-example terms cover (`None` without class targets).
    pub fn examples(&self) -> Option<usize> {
        self.examples.as_ref().map(|e| e.lambda.len())
    }

    /// The loss.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// The regulariser.
    pub fn regulariser(&self) -> Regulariser {
        self.regulariser
    }

    /// ψᵢ(m) = −ℓᵢ'(m) = ψ(m) − λᵢ(m − γᵢ): example i's weight in the gradient of its loss
    /// (λᵢ = 0 without class targets; docs/theory.md §10.1).
    #[inline]
    pub fn example_drive(&self, i: usize, m: f64) -> f64 {
        let psi = self.loss.neg_derivative(m);
        match &self.examples {
            None => psi,
            Some(e) => psi - e.lambda[i] * (m - e.target[i]),
        }
    }

    /// ℓᵢ''(m) = ℓ''(m) + λᵢ.
    #[inline]
    pub fn example_curvature(&self, i: usize, m: f64) -> f64 {
        let c = self.loss.curvature(m);
        match &self.examples {
            None => c,
            Some(e) => c + e.lambda[i],
        }
    }

    /// ℓᵢ(m) = ℓ(m) + ½λᵢ(m − γᵢ)².
    #[inline]
    pub fn example_loss(&self, i: usize, m: f64) -> f64 {
        let v = self.loss.value(m);
        match &self.examples {
            None => v,
            Some(e) => v + 0.5 * e.lambda[i] * (m - e.target[i]).powi(2),
        }
    }

    /// g_i(m) = ψᵢ(m) − λ_SD·m: what example i sends through the coupling (docs/theory.md §3.2).
    #[inline]
    pub fn drive_at(&self, i: usize, m: f64) -> f64 {
        self.example_drive(i, m) - self.lambda_sd * m
    }

    /// d_i(m) = ℓᵢ''(m) + λ_SD = −g_i'(m): example i's entry of the Jacobian's diagonal factor.
    #[inline]
    pub fn curvature_at(&self, i: usize, m: f64) -> f64 {
        self.example_curvature(i, m) + self.lambda_sd
    }

    /// g_i(m_i) for the examples start, start + 1, … into `g` (`m` and `g` the same length).
    #[inline]
    pub fn drives_into(&self, start: usize, m: &[f64], g: &mut [f64]) {
        let sd = self.lambda_sd;
        match &self.examples {
            None => {
                for (w, &mi) in g.iter_mut().zip(m) {
                    *w = self.loss.neg_derivative(mi) - sd * mi;
                }
            }
            Some(e) => {
                let (l, t) = (&e.lambda[start..], &e.target[start..]);
                for (k, (w, &mi)) in g.iter_mut().zip(m).enumerate() {
                    *w = self.loss.neg_derivative(mi) - l[k] * (mi - t[k]) - sd * mi;
                }
            }
        }
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
        self.lambda_l2
            + s1_squared * (self.lambda_sd + self.max_example_lambda + self.loss.max_curvature())
    }

    /// W_jj of the objective L(z) = Σᵢ ℓ((Uz)ᵢ) + ½ zᵀWz (F = −S²∇L, docs/theory.md §2.3):
    /// λ/s_j² for L2 (∞ if s_j = 0), λ for SD, 0 for none and for class targets (whose penalty
    /// is in the examples' losses ℓᵢ).
    pub fn penalty_weight(&self, strength_squared: f64) -> f64 {
        match self.regulariser {
            Regulariser::None | Regulariser::SpectralDecouplingClasses { .. } => 0.0,
            Regulariser::L2 { lambda } => lambda / strength_squared,
            Regulariser::SpectralDecoupling { lambda } => lambda,
        }
    }
}

/// max(m, e) that propagates NaN, for folds of residuals and gaps: `f64::max` returns the other
/// argument where one is NaN, so a fold with it would report the finite part of a failed
/// computation; with this one a NaN anywhere fails every `<= tolerance` test it meets.
pub fn nan_max(m: f64, e: f64) -> f64 {
    if m.is_nan() || e.is_nan() {
        f64::NAN
    } else {
        m.max(e)
    }
}

/// min(m, e) that propagates NaN, the counterpart of [`nan_max`] for folds of minima.
pub fn nan_min(m: f64, e: f64) -> f64 {
    if m.is_nan() || e.is_nan() {
        f64::NAN
    } else {
        m.min(e)
    }
}

/// Test support: the distance of `a` from `b` in units in the last place of `b` (0 where they
/// are equal), for the tests of the fast elementary functions.
#[cfg(test)]
pub(crate) fn ulps(a: f64, b: f64) -> f64 {
    if a == b {
        return 0.0;
    }
    let ulp = f64::from_bits(b.abs().to_bits() + 1) - b.abs();
    (a - b).abs() / ulp
}

#[cfg(test)]
mod nan_fold_tests {
    use super::{nan_max, nan_min};

    #[test]
    fn a_nan_anywhere_in_a_fold_is_kept() {
        let v = [1.0, f64::NAN, 3.0];
        assert_eq!([1.0, 3.0, 2.0].into_iter().fold(0.0, nan_max), 3.0);
        assert_eq!(
            [1.0, 3.0, 2.0].into_iter().fold(f64::INFINITY, nan_min),
            1.0
        );
        assert!(v.into_iter().fold(0.0, nan_max).is_nan());
        assert!(v.into_iter().fold(f64::INFINITY, nan_min).is_nan());
        // f64::max would have skipped it.
        assert_eq!(v.into_iter().fold(0.0, f64::max), 3.0);
    }
}
