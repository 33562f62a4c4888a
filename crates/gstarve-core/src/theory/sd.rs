//! Spectral Decoupling (docs/theory.md §4.2, §5.1, §5.3): every example reaches the same margin μ*,
//! whatever the strengths, so SD has no starvation.
//!
//! - [`steady_margin`]: μ* with λμ*(1 + e^{μ*}) = 1, and its approximation W₀(1/λ).
//! - [`steady_state`]: z* = μ*·Uᵀ1.
//!
//! Its sensitivity (identically zero) is [`super::sensitivity::sd_sensitivity`].

use lambert_w::lambert_w0;
use nalgebra::DVector;

use super::decoupled::wright_omega;
use crate::error::{Error, InputError, Result};
use crate::solvers::steady::sd_margin;
use crate::systems::FeatureSystem;

/// The SD margin, exact and approximate (docs/theory.md §4.2, §5.1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SdMargin {
    /// μ*, the root of λμ(1 + e^μ) = 1.
    pub exact: f64,
    /// The tail approximation W₀(1/λ).
    pub lambert: f64,
    /// lambert − exact (≥ 0).
    pub approximation_error: f64,
    /// Newton iterations taken for μ*.
    pub iterations: usize,
}

/// The common SD margin (docs/theory.md §4.2 and §5.1, SD):
///
/// ```text
/// λ μ* (1 + e^{μ*}) = 1,        tail approximation  μ* ≈ W₀(1/λ)
/// ```
///
/// μ* comes from [`crate::solvers::steady::sd_margin`] (safeguarded Newton); W₀(1/λ) from the
/// `lambert_w` crate, or from the Wright omega function ω(−log λ) when 1/λ overflows.
pub fn steady_margin(lambda: f64) -> Result<SdMargin> {
    let lambda = super::positive_lambda(lambda)?;
    let (exact, iterations) = sd_margin(lambda)?;
    let inverse = 1.0 / lambda;
    let lambert = if inverse.is_finite() {
        lambert_w0(inverse)
    } else {
        wright_omega(-lambda.ln())
    };
    Ok(SdMargin {
        exact,
        lambert,
        approximation_error: lambert - exact,
        iterations,
    })
}

/// The SD steady state (docs/theory.md §4.2, SD):
///
/// ```text
/// z* = μ* · Uᵀ1,        λ μ* (1 + e^{μ*}) = 1
/// ```
///
/// every margin m* = U z* = μ*·1 is the same, and z* does not depend on the strengths. The
/// derivation needs Φ of full row rank (docs/theory.md §4.2): a square coupling (r = n) and every
/// strength > 0; anything else is an error.
pub fn steady_state(system: &FeatureSystem, lambda: f64) -> Result<DVector<f64>> {
    check_full_row_rank(system)?;
    let margin = steady_margin(lambda)?;
    Ok(system.coupling_column_sums() * margin.exact)
}

/// SD's closed forms need r = n and s_j > 0 for all j (Φ of full row rank, docs/theory.md §4.2).
pub(super) fn check_full_row_rank(system: &FeatureSystem) -> Result<()> {
    let (n, r) = (system.examples(), system.rank());
    if r != n {
        return Err(Error::Input(InputError::MatrixShape {
            what: "coupling U".into(),
            rows: n,
            cols: r,
            rule: "the SD closed form needs as many features as examples (Φ of full row rank)",
        }));
    }
    if let Some(&zero) = system.strengths().iter().find(|&&s| s <= 0.0) {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "strength s_j",
            value: zero,
            rule: "the SD closed form needs Φ of full row rank: every strength > 0",
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::InputError;
    use crate::model::{Loss, PrimalDynamics, Regulariser};
    use crate::systems::Spectrum;

    #[test]
    fn sd_margin_and_toy_steady_state_match_theory() {
        // docs/theory.md §6.2: the SD steady state is the same for every l, μ* = 4.665120,
        // z* = (6.372673, 1.707553) (λ = 0.002, U = U(0.5)).
        let margin = steady_margin(0.002).unwrap();
        assert!((margin.exact - 4.665120).abs() < 1e-6, "{}", margin.exact);
        assert!((margin.lambert - lambert_w0(500.0)).abs() < 1e-15);
        assert!(margin.approximation_error > 0.0);
        for l in [2.0, 3.0, 4.0, 5.0, 6.0] {
            let sys = FeatureSystem::rotation(l, 2.0, 0.5).unwrap();
            let z = steady_state(&sys, 0.002).unwrap();
            assert!((z[0] - 6.372673).abs() < 1e-6, "l = {l}: {z}");
            assert!((z[1] - 1.707553).abs() < 1e-6, "l = {l}: {z}");
        }
    }

    #[test]
    fn sd_steady_state_is_a_fixed_point_of_the_sd_flow() {
        let sys = FeatureSystem::random(5, Spectrum::Geometric { from: 4.0, to: 0.5 }, 11).unwrap();
        let lambda = 0.01;
        let z = steady_state(&sys, lambda).unwrap();
        let dynamics = PrimalDynamics::new(
            &sys,
            Loss::Logistic,
            Regulariser::SpectralDecoupling { lambda },
        )
        .unwrap();
        assert!(dynamics.rhs(&z).amax() < 1e-12, "{}", dynamics.rhs(&z));
        // μ* is the decoupled L2 root with s = 1: λμ(1 + e^μ) = 1 ⇔ μ(1 + e^μ) = 1²/λ.
        let root = super::super::decoupled::l2_root(1.0, lambda).unwrap();
        assert!((root.exact - steady_margin(lambda).unwrap().exact).abs() < 1e-13);
    }

    #[test]
    fn sd_closed_form_rejects_rank_deficient_systems() {
        let u = nalgebra::DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        let thin = FeatureSystem::new(DVector::from_vec(vec![2.0, 1.0]), u).unwrap();
        assert!(matches!(
            steady_state(&thin, 0.01),
            Err(Error::Input(InputError::MatrixShape {
                rows: 3,
                cols: 2,
                ..
            }))
        ));
        let zero = FeatureSystem::decoupled(&[2.0, 0.0]).unwrap();
        assert!(matches!(
            steady_state(&zero, 0.01),
            Err(Error::Input(InputError::InvalidParameter { value, .. })) if value == 0.0
        ));
        assert!(steady_margin(0.0).is_err());
    }
}
