//! The dual (Legendre) α-dynamics of docs/theory.md §3.5.
//!
//! With ℓ(x) = max_{α∈[0,1]} [H(α) − αx], the L2 dual flow is gradient ascent on
//! A(α) = Σ H(αᵢ) − (2λ)⁻¹ αᵀKα:
//!
//! ```text
//! L2:  dα/dτ = log((1 − α)/α) − λ⁻¹ K α,        z(α) = λ⁻¹ S² Uᵀ α
//! SD:  dαᵢ/dτ = log((1 − αᵢ)/αᵢ) − αᵢ/λ,        z(α) = λ⁻¹ Uᵀ α
//! ```
//!
//! Its time is its own (compare primal and dual as paths in the z plane). It is stiff near α → 0
//! and α → 1; the state is clamped into [`DualDynamics::ALPHA_FLOOR`, 1 − 2⁻⁵³] when evaluated.

use nalgebra::{DMatrix, DVector};

use super::{Loss, PrimalDynamics, Regulariser};
use crate::error::{Error, InputError, Result};
use crate::ode::OdeProblem;
use crate::systems::FeatureSystem;

/// The dual flow of a logistic-loss system under L2 or SD.
#[derive(Clone, Debug)]
pub struct DualDynamics {
    /// λ⁻¹K (L2) or λ⁻¹I (SD, stored as None).
    scaled_gram: Option<DMatrix<f64>>,
    lambda: f64,
    /// Maps α to z: λ⁻¹ S² Uᵀ (L2) or λ⁻¹ Uᵀ (SD).
    to_responses: DMatrix<f64>,
}

impl DualDynamics {
    /// Smallest α used when evaluating the right-hand side (log α stays finite).
    pub const ALPHA_FLOOR: f64 = 1e-300;
    /// Largest α used when evaluating the right-hand side.
    pub const ALPHA_CEIL: f64 = 1.0 - f64::EPSILON / 2.0;
    /// The authors' starting point α(0) = 1e−8·1 (docs/theory.md §3.5).
    pub const DEFAULT_START: f64 = 1e-8;

    /// The dual of `dynamics` (logistic loss, L2 or SD with λ > 0).
    pub fn new(dynamics: &PrimalDynamics) -> Result<Self> {
        if dynamics.loss() != Loss::Logistic {
            return Err(Error::Input(InputError::Unsupported(
                "the dual (Legendre) dynamics are defined for the logistic loss only".into(),
            )));
        }
        let sys: &FeatureSystem = dynamics.system();
        let lambda = dynamics.regulariser().lambda();
        if lambda <= 0.0 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "λ",
                value: lambda,
                rule: "the dual dynamics need λ > 0 (z(α) = λ⁻¹…)",
            }));
        }
        match dynamics.regulariser() {
            Regulariser::L2 { .. } => {
                let mut to_responses = sys.coupling().transpose() / lambda;
                for (j, mut row) in to_responses.row_iter_mut().enumerate() {
                    row *= dynamics.strengths_squared()[j];
                }
                Ok(Self {
                    scaled_gram: Some(sys.gram() / lambda),
                    lambda,
                    to_responses,
                })
            }
            Regulariser::SpectralDecoupling { .. } => Ok(Self {
                scaled_gram: None,
                lambda,
                to_responses: sys.coupling().transpose() / lambda,
            }),
            Regulariser::None => Err(Error::Input(InputError::NoSteadyState)),
        }
    }

    /// z(α) (docs/theory.md §3.5).
    pub fn responses(&self, alpha: &[f64]) -> DVector<f64> {
        &self.to_responses * DVector::from_column_slice(alpha)
    }

    /// Replace every state α_k of a dual solution by z(α_k), in place (the product of
    /// [`DualDynamics::responses`] for all states at once, timed into the solution's wall_s).
    pub fn map_to_responses(&self, solution: &mut crate::ode::OdeSolution) {
        solution.left_multiply_states(&self.to_responses, false);
    }

    fn clamp(a: f64) -> f64 {
        a.clamp(Self::ALPHA_FLOOR, Self::ALPHA_CEIL)
    }
}

impl OdeProblem for DualDynamics {
    fn dim(&self) -> usize {
        self.to_responses.ncols()
    }

    fn rhs(&self, alpha: &[f64], out: &mut [f64]) {
        let n = alpha.len();
        let a = DVector::from_iterator(n, alpha.iter().map(|&x| Self::clamp(x)));
        match &self.scaled_gram {
            Some(k) => {
                let ka = k * &a;
                for i in 0..n {
                    out[i] = (1.0 - a[i]).ln() - a[i].ln() - ka[i];
                }
            }
            None => {
                for i in 0..n {
                    out[i] = (1.0 - a[i]).ln() - a[i].ln() - a[i] / self.lambda;
                }
            }
        }
    }

    fn jacobian(&self, alpha: &[f64], jac: &mut DMatrix<f64>) {
        match &self.scaled_gram {
            Some(k) => jac.copy_from(&(-k)),
            None => jac.fill(0.0),
        }
        for (i, &x) in alpha.iter().enumerate() {
            let a = Self::clamp(x);
            jac[(i, i)] -= 1.0 / (a * (1.0 - a));
            if self.scaled_gram.is_none() {
                jac[(i, i)] -= 1.0 / self.lambda;
            }
        }
    }

    fn spectral_bound(&self) -> f64 {
        // 1/(α(1−α)) is unbounded as α → 0: the dual flow is stiff by nature.
        f64::INFINITY
    }

    fn project(&self, state: &mut [f64]) {
        for a in state.iter_mut() {
            *a = Self::clamp(*a);
        }
    }
}
