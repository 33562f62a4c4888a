//! First order in the coupling, the paper's perturbative regime (docs/theory.md §5.5).
//!
//! The coupling is U = I + δA + O(δ²) with A antisymmetric: U = I + δA itself (orthogonal to
//! first order only), the exactly orthogonal U = exp(δA) ([`exponential_coupling`]), or the 2×2
//! rotation U(δ) of [`FeatureSystem::rotation`] (A = [`rotation_generator`], A₂₁ = 1). All three
//! share the first-order steady state:
//!
//! - [`first_order_steady_state`]: z* = z⁰ + δz¹ + O(δ²).
//! - [`first_order_starvation_signs`]: sign(∂z_j*/∂s_i²) = −sign(δA_ji)·sign(s_i − s_j).
//!
//! [`FeatureSystem::rotation`]: crate::systems::FeatureSystem::rotation

use nalgebra::{DMatrix, DVector};

use super::decoupled::l2_root;
use super::{positive_lambda, sign};
use crate::error::{Error, InputError, Result};
use crate::model::{sigmoid_neg, sigmoid_prime};

/// Largest max |A + Aᵀ| (relative to max(1, max |A|)) accepted as antisymmetric.
pub const ANTISYMMETRY_TOLERANCE: f64 = 1e-12;

/// The steady state to first order in the coupling.
#[derive(Clone, Debug, PartialEq)]
pub struct FirstOrderSteadyState {
    /// z⁰: the decoupled steady state, z_j⁰(1 + e^{z_j⁰}) = s_j²/λ.
    pub decoupled: DVector<f64>,
    /// z¹: the first-order correction.
    pub first_order: DVector<f64>,
    /// z⁰ + δz¹, the first-order prediction of z*.
    pub prediction: DVector<f64>,
}

/// The generator of the rotation family (docs/theory.md §5.5): A = [[0, −1], [1, 0]] (A₂₁ = 1), so
/// that U(δ) = [[√(1−δ²), −δ], [δ, √(1−δ²)]] = I + δA + O(δ²).
pub fn rotation_generator() -> DMatrix<f64> {
    DMatrix::from_row_slice(2, 2, &[0.0, -1.0, 1.0, 0.0])
}

/// The exactly orthogonal coupling U = exp(δA) = I + δA + O(δ²) of an antisymmetric generator A
/// (docs/theory.md §5.5, first order in the coupling), by nalgebra's matrix exponential. For the
/// rotation generator it is the rotation by the angle δ.
pub fn exponential_coupling(generator: &DMatrix<f64>, delta: f64) -> Result<DMatrix<f64>> {
    check_generator(generator, generator.nrows())?;
    check_delta(delta)?;
    Ok((generator * delta).exp())
}

/// The steady state to first order in the coupling (docs/theory.md §5.5, "First order in the
/// coupling"): for U = I + δA + O(δ²), A antisymmetric,
///
/// ```text
/// z* = z⁰ + δ z¹ + O(δ²),
/// (I + λ⁻¹ S² D₀) z¹ = −λ⁻¹ S² [ A σ(−z⁰) + D₀ A z⁰ ],   D₀ = diag(σ'(z⁰))
/// ```
///
/// with z⁰ the decoupled steady state ([`l2_root`]). The matrix on the left is diagonal with
/// entries ≥ 1, so z¹ is solved entry by entry.
pub fn first_order_steady_state(
    strengths: &DVector<f64>,
    lambda: f64,
    generator: &DMatrix<f64>,
    delta: f64,
) -> Result<FirstOrderSteadyState> {
    let lambda = positive_lambda(lambda)?;
    check_generator(generator, strengths.len())?;
    check_delta(delta)?;
    let n = strengths.len();
    let mut decoupled = DVector::zeros(n);
    for j in 0..n {
        decoupled[j] = l2_root(strengths[j], lambda)
            .map_err(|e| match e {
                Error::Input(InputError::InvalidStrength { value, .. }) => {
                    Error::Input(InputError::InvalidStrength {
                        index: j + 1,
                        value,
                    })
                }
                other => other,
            })?
            .exact;
    }
    let curvature = decoupled.map(sigmoid_prime);
    let bracket =
        generator * decoupled.map(sigmoid_neg) + (generator * &decoupled).component_mul(&curvature);
    let first_order = DVector::from_fn(n, |j, _| {
        let gain = strengths[j] * strengths[j] / lambda;
        -gain * bracket[j] / (1.0 + gain * curvature[j])
    });
    let prediction = &decoupled + &first_order * delta;
    Ok(FirstOrderSteadyState {
        decoupled,
        first_order,
        prediction,
    })
}

/// The first-order sign rule (docs/theory.md §5.5): to first order in δ, for i ≠ j,
///
/// ```text
/// sign(∂z_j*/∂s_i²) = −sign(δ A_ji) · sign(s_i − s_j)
/// ```
///
/// a stronger feature starves a weaker one it is coupled to with δA_ji > 0. Returned as an n × n
/// matrix of −1/0/+1, rows j (response), columns i (strength varied); the diagonal, outside the
/// rule, is 0. (From ∂z_j¹/∂z_i⁰ ∝ −A_ji(σ'(z_j⁰) − σ'(z_i⁰)) with z⁰ > 0 increasing in s.)
pub fn first_order_starvation_signs(
    strengths: &DVector<f64>,
    generator: &DMatrix<f64>,
    delta: f64,
) -> Result<DMatrix<i8>> {
    check_generator(generator, strengths.len())?;
    check_delta(delta)?;
    let n = strengths.len();
    Ok(DMatrix::from_fn(n, n, |j, i| {
        if i == j {
            0
        } else {
            -sign(delta * generator[(j, i)]) * sign(strengths[i] - strengths[j])
        }
    }))
}

fn check_delta(delta: f64) -> Result<()> {
    if delta.is_finite() {
        Ok(())
    } else {
        Err(Error::Input(InputError::InvalidParameter {
            name: "coupling δ",
            value: delta,
            rule: "the coupling strength must be finite",
        }))
    }
}

/// A must be n × n, finite and antisymmetric.
fn check_generator(generator: &DMatrix<f64>, n: usize) -> Result<()> {
    if generator.shape() != (n, n) {
        return Err(Error::Input(InputError::MatrixShape {
            what: "generator A".into(),
            rows: generator.nrows(),
            cols: generator.ncols(),
            rule: "A must be r×r for a system of r features",
        }));
    }
    crate::systems::check_finite("generator A", generator)?;
    let asymmetry = (generator + generator.transpose()).amax();
    if asymmetry > ANTISYMMETRY_TOLERANCE * generator.amax().max(1.0) {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "max |A + Aᵀ| of the generator A",
            value: asymmetry,
            rule: "the generator must be antisymmetric (A = −Aᵀ)",
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::InputError;
    use crate::model::{Loss, PrimalDynamics, Regulariser};
    use crate::solvers::steady::{steady_state_with, NewtonParams};
    use crate::systems::FeatureSystem;
    use crate::theory::sensitivity::l2_sensitivity;

    fn exact_responses(system: &FeatureSystem, lambda: f64) -> DVector<f64> {
        let d = PrimalDynamics::new(system, Loss::Logistic, Regulariser::L2 { lambda }).unwrap();
        let params = NewtonParams {
            tolerance: 1e-15,
            max_iterations: 200,
        };
        steady_state_with(&d, &params).unwrap().responses
    }

    fn random_generator() -> DMatrix<f64> {
        DMatrix::from_row_slice(
            4,
            4,
            &[
                0.0, -0.7, 0.4, -0.5, //
                0.7, 0.0, -0.6, 0.8, //
                -0.4, 0.6, 0.0, -0.9, //
                0.5, -0.8, 0.9, 0.0,
            ],
        )
    }

    /// Error of z⁰ + δz¹ for δ, δ/2, δ/4: returns the two ratios of successive errors.
    fn error_ratios(
        make: impl Fn(f64) -> FeatureSystem,
        generator: &DMatrix<f64>,
        lambda: f64,
    ) -> [f64; 2] {
        let errors: Vec<f64> = [1e-2, 5e-3, 2.5e-3]
            .iter()
            .map(|&delta| {
                let sys = make(delta);
                let first =
                    first_order_steady_state(sys.strengths(), lambda, generator, delta).unwrap();
                (exact_responses(&sys, lambda) - first.prediction).norm()
            })
            .collect();
        [errors[0] / errors[1], errors[1] / errors[2]]
    }

    #[test]
    fn first_order_error_shrinks_like_delta_squared() {
        let rotation = error_ratios(
            |d| FeatureSystem::rotation(4.0, 2.0, d).unwrap(),
            &rotation_generator(),
            0.01,
        );
        let a = random_generator();
        let strengths = DVector::from_vec(vec![4.0, 2.5, 1.5, 0.8]);
        let exponential = error_ratios(
            |d| {
                FeatureSystem::new(strengths.clone(), exponential_coupling(&a, d).unwrap()).unwrap()
            },
            &a,
            0.05,
        );
        for ratio in rotation.into_iter().chain(exponential) {
            assert!(
                (ratio / 4.0 - 1.0).abs() < 0.15,
                "ratio {ratio} (rotation {rotation:?}, exp {exponential:?})"
            );
        }
    }

    #[test]
    fn first_order_term_is_the_central_difference_in_delta() {
        let first = first_order_steady_state(
            &DVector::from_vec(vec![4.0, 2.0]),
            0.01,
            &rotation_generator(),
            1e-3,
        )
        .unwrap();
        let h = 1e-3;
        let plus = exact_responses(&FeatureSystem::rotation(4.0, 2.0, h).unwrap(), 0.01);
        let minus = exact_responses(&FeatureSystem::rotation(4.0, 2.0, -h).unwrap(), 0.01);
        let central = (plus - minus) / (2.0 * h);
        assert!(
            (&central - &first.first_order).amax() < 1e-5 * first.first_order.amax(),
            "{central} vs {}",
            first.first_order
        );
        // docs/theory.md §5.5: for the rotation, z₂¹ < 0 < z₁¹.
        assert!(first.first_order[1] < 0.0 && first.first_order[0] > 0.0);
        // z⁰ is the decoupled root: docs/theory.md §6.2, s = 2, λ = 0.01 → 4.480472.
        assert!((first.decoupled[1] - 4.480472).abs() < 1e-6);
    }

    #[test]
    fn rotation_sign_rule_stronger_starves_weaker() {
        let delta = 0.05;
        for (s1, s2, expected) in [(4.0, 2.0, -1), (2.0, 4.0, 1), (3.0, 1.0, -1), (1.0, 3.0, 1)] {
            let strengths = DVector::from_vec(vec![s1, s2]);
            let rule =
                first_order_starvation_signs(&strengths, &rotation_generator(), delta).unwrap();
            assert_eq!(rule[(1, 0)], expected, "s = ({s1}, {s2})");
            let sens =
                l2_sensitivity(&FeatureSystem::rotation(s1, s2, delta).unwrap(), 0.01).unwrap();
            assert_eq!(sign(sens.derivatives[(1, 0)]), expected, "s = ({s1}, {s2})");
        }
        // s₁ = s₂: the effect vanishes.
        let equal = first_order_starvation_signs(
            &DVector::from_vec(vec![2.0, 2.0]),
            &rotation_generator(),
            delta,
        )
        .unwrap();
        assert_eq!(equal[(1, 0)], 0);
        let sens =
            l2_sensitivity(&FeatureSystem::rotation(2.0, 2.0, delta).unwrap(), 0.01).unwrap();
        assert!(sens.derivatives[(1, 0)].abs() < 1e-10);
    }

    #[test]
    fn general_sign_rule_matches_sensitivity_at_small_coupling() {
        let a = random_generator();
        let strengths = DVector::from_vec(vec![4.0, 2.5, 1.5, 0.8]);
        for delta in [1e-2, -1e-2] {
            let rule = first_order_starvation_signs(&strengths, &a, delta).unwrap();
            let sys =
                FeatureSystem::new(strengths.clone(), exponential_coupling(&a, delta).unwrap())
                    .unwrap();
            let sens = l2_sensitivity(&sys, 0.05).unwrap();
            for j in 0..4 {
                for i in (0..4).filter(|&i| i != j) {
                    assert_eq!(
                        rule[(j, i)],
                        sign(sens.derivatives[(j, i)]),
                        "δ = {delta}, j = {j}, i = {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn non_antisymmetric_generator_is_rejected() {
        let sym = DMatrix::from_row_slice(2, 2, &[0.0, 1.0, 1.0, 0.0]);
        let err = first_order_steady_state(&DVector::from_vec(vec![1.0, 1.0]), 0.01, &sym, 0.1)
            .unwrap_err();
        assert!(
            matches!(err, Error::Input(InputError::InvalidParameter { value, .. }) if value == 2.0)
        );
        assert!(matches!(
            exponential_coupling(&DMatrix::zeros(2, 3), 0.1),
            Err(Error::Input(InputError::MatrixShape {
                rows: 2,
                cols: 3,
                ..
            }))
        ));
        let u = exponential_coupling(&rotation_generator(), 0.3).unwrap();
        assert!(
            (u[(1, 0)] - 0.3f64.sin()).abs() < 1e-15 && (u[(0, 0)] - 0.3f64.cos()).abs() < 1e-15
        );
    }
}
