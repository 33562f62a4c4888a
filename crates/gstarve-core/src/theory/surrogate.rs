//! A surrogate that misses starvation (docs/theory.md §5.7), offered only as a comparison.
//!
//! Expanding the entropy H of the dual objective to second order around one point α₀, the same
//! for every example, makes the L2 dual flow dα/dτ = log((1 − α)/α) − λ⁻¹Kα linear:
//!
//! ```text
//! log((1−α)/α) ≈ c₁ − κα,   κ = 1/(α₀(1−α₀)),   c₁ = log((1−α₀)/α₀) + κα₀
//! (κI + λ⁻¹K) α* = c₁ 1,    z* = λ⁻¹S²Uᵀα*  ⇒  z_j* = c₁ s_j² (Uᵀ1)_j / (λκ + s_j²)
//! ```
//!
//! (K = US²Uᵀ; the last step uses UᵀU = I and holds for r ≤ n). Each z_j* depends on s_j alone:
//! the surrogate predicts no starvation, and it is quantitatively poor.
//!
//! - [`surrogate_constants`] gives κ and c₁.
//! - [`surrogate_steady_state`] gives z*.

use nalgebra::DVector;

use super::positive_lambda;
use crate::error::{Error, InputError, Result};
use crate::systems::FeatureSystem;

/// The constants of the quadratic expansion at α₀.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SurrogateConstants {
    /// κ = 1/(α₀(1 − α₀)) = −H''(α₀).
    pub kappa: f64,
    /// c₁ = log((1 − α₀)/α₀) + κα₀ = H'(α₀) + κα₀.
    pub c1: f64,
}

/// κ and c₁ of the uniform-point surrogate (docs/theory.md §5.7, "A surrogate that misses
/// starvation"):
///
/// ```text
/// κ = 1/(α₀(1−α₀)),   c₁ = log((1−α₀)/α₀) + κα₀        (α₀ = ½: κ = 4, c₁ = 2)
/// ```
///
/// α₀ must lie in (0, 1).
pub fn surrogate_constants(alpha0: f64) -> Result<SurrogateConstants> {
    if !(alpha0 > 0.0 && alpha0 < 1.0) {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "expansion point α₀",
            value: alpha0,
            rule: "the surrogate expands H around a point strictly between 0 and 1",
        }));
    }
    let kappa = 1.0 / (alpha0 * (1.0 - alpha0));
    Ok(SurrogateConstants {
        kappa,
        c1: ((1.0 - alpha0) / alpha0).ln() + kappa * alpha0,
    })
}

/// The steady state of the uniform-point quadratic surrogate (docs/theory.md §5.7), a comparison
/// that misses starvation:
///
/// ```text
/// z_j* = c₁ s_j² (Uᵀ1)_j / (λκ + s_j²)
/// ```
///
/// with κ, c₁ from [`surrogate_constants`]. λ > 0 (L2), α₀ ∈ (0, 1).
pub fn surrogate_steady_state(
    system: &FeatureSystem,
    lambda: f64,
    alpha0: f64,
) -> Result<DVector<f64>> {
    let lambda = positive_lambda(lambda)?;
    let SurrogateConstants { kappa, c1 } = surrogate_constants(alpha0)?;
    let sums = system.coupling_column_sums();
    Ok(DVector::from_fn(system.rank(), |j, _| {
        let s2 = system.strengths()[j].powi(2);
        c1 * s2 * sums[j] / (lambda * kappa + s2)
    }))
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use super::*;
    use crate::systems::Spectrum;

    #[test]
    fn constants_at_one_half() {
        // docs/theory.md §5.7: α₀ = ½ gives κ = 4, c₁ = 2.
        let c = surrogate_constants(0.5).unwrap();
        assert!((c.kappa - 4.0).abs() < 1e-15 && (c.c1 - 2.0).abs() < 1e-15);
        assert!(surrogate_constants(0.0).is_err() && surrogate_constants(1.0).is_err());
    }

    #[test]
    fn closed_form_solves_the_linear_dual_steady_state() {
        // Solve (κI + λ⁻¹K)α = c₁1 and map z = λ⁻¹S²Uᵀα directly, for a square and a thin U.
        let square =
            FeatureSystem::random(4, Spectrum::Geometric { from: 3.0, to: 0.5 }, 4).unwrap();
        let thin_u = square.coupling().columns(0, 2).into_owned();
        let thin = FeatureSystem::new(DVector::from_vec(vec![2.0, 0.7]), thin_u).unwrap();
        for (sys, lambda, alpha0) in [(square, 0.05, 0.5), (thin, 0.2, 0.1)] {
            let SurrogateConstants { kappa, c1 } = surrogate_constants(alpha0).unwrap();
            let n = sys.examples();
            let a = DMatrix::identity(n, n) * kappa + sys.gram() / lambda;
            let alpha = a.lu().solve(&DVector::from_element(n, c1)).unwrap();
            let z = DMatrix::from_diagonal(&sys.strengths_squared())
                * sys.coupling().tr_mul(&alpha)
                / lambda;
            let closed = surrogate_steady_state(&sys, lambda, alpha0).unwrap();
            assert!((closed - z).amax() < 1e-12);
        }
    }

    #[test]
    fn surrogate_misses_the_toys_starvation() {
        // The toy (docs/theory.md §6.2, λ = 0.01): the true z₂* falls from 1.639967 (l = 2) to
        // 1.185344 (l = 6); the surrogate's z₂* does not move with l.
        let z2 = |l: f64| {
            let sys = FeatureSystem::rotation(l, 2.0, 0.5).unwrap();
            surrogate_steady_state(&sys, 0.01, 0.5).unwrap()[1]
        };
        assert_eq!(z2(2.0), z2(6.0));
        // 2·4·0.366025/(0.04 + 4): far from the true 1.64 … 1.19.
        assert!((z2(4.0) - 2.0 * 4.0 * 0.3660254037844386 / 4.04).abs() < 1e-12);
    }
}
