//! The starvation test (docs/theory.md §5.3–§5.4): how the steady-state responses move when one
//! feature is made stronger.
//!
//! - [`l2_sensitivity`]: the full matrix ∂z_j*/∂(s_i²) at the L2 steady state and the elasticity
//!   (starvation) matrix E_ji.
//! - [`sd_sensitivity`]: the same for Spectral Decoupling, identically zero.
//! - [`model_sensitivity`]: the same for any loss and regulariser (the implicit-function theorem
//!   on the general F of docs/theory.md §3.2); logistic L2 is [`l2_sensitivity`].
//! - [`two_feature_criterion`]: the exact sign criterion for two features through M₂₁.
//! - [`rotation_cross_curvature`]: M₂₁ in closed form for the rotation family U(δ).

use nalgebra::{DMatrix, DVector};

use super::{l2_steady_state, positive_lambda, sign};
use crate::error::{Error, InputError, NumericalError, Result};
use crate::model::{sigmoid_neg, sigmoid_prime, Loss, PrimalDynamics, Regulariser};
use crate::solvers::steady::SteadyState;
use crate::systems::FeatureSystem;

/// A response counts as zero (its elasticity is masked) when
/// |z_j*| ≤ `ZERO_RESPONSE_TOLERANCE`·max(1, ‖z*‖∞): the steady state is only known to a relative
/// residual of about 1e-12, so a smaller response is rounding noise and log|z_j*| is undefined.
pub const ZERO_RESPONSE_TOLERANCE: f64 = 1e-10;

/// The sensitivity of the L2 steady state to the strengths (docs/theory.md §5.3).
#[derive(Clone, Debug, PartialEq)]
pub struct Sensitivity {
    /// The steady state at which the derivatives are taken.
    pub steady_state: SteadyState,
    /// ∂z_j*/∂(s_i²): row j (the response), column i (the strength varied).
    pub derivatives: DMatrix<f64>,
    /// The elasticity (starvation) matrix E_ji = (s_i²/z_j*)·∂z_j*/∂(s_i²), rows j, columns i.
    /// `None` masks the rows where z_j* is zero (to [`ZERO_RESPONSE_TOLERANCE`]), where
    /// log|z_j*| is undefined. Negative off-diagonal entries are starvation; the diagonal is each
    /// feature's own elasticity.
    pub elasticities: DMatrix<Option<f64>>,
}

/// The sensitivity of the L2 steady state (docs/theory.md §5.3, "Sensitivity (the starvation
/// test)"), by the implicit-function theorem at the fixed point z* = λ⁻¹S²Uᵀσ(−Uz*):
///
/// ```text
/// ∂z*/∂(s_i²) = (z_i*/s_i²) · J⁻¹ e_i,      J = I + λ⁻¹ S² Uᵀ D U,   D = diag(σ'(m*))
/// E_ji = ∂ log|z_j*| / ∂ log s_i² = (s_i²/z_j*) · ∂z_j*/∂(s_i²)
/// ```
///
/// The factor z_i*/s_i² is evaluated as (Uᵀσ(−m*))_i/λ, its value at the fixed point, which also
/// holds for s_i = 0. J is solved by LU (its eigenvalues are those of I + λ⁻¹SMS, all ≥ 1).
/// The steady state comes from [`crate::solvers::steady::steady_state`] (logistic loss, λ > 0).
pub fn l2_sensitivity(system: &FeatureSystem, lambda: f64) -> Result<Sensitivity> {
    let lambda = positive_lambda(lambda)?;
    let steady_state = l2_steady_state(system, lambda)?;
    l2_sensitivity_at(system, lambda, steady_state)
}

/// [`l2_sensitivity`] at a steady state already computed (λ > 0, logistic loss, L2 at this λ).
fn l2_sensitivity_at(
    system: &FeatureSystem,
    lambda: f64,
    steady_state: SteadyState,
) -> Result<Sensitivity> {
    let u = system.coupling();
    let r = system.rank();
    let s2 = system.strengths_squared();
    let m = &steady_state.margins;
    let _stage = crate::sweeps::progress::Stage::begin("sensitivities: J⁻¹ at z*", "", 0);
    // J = I + λ⁻¹ S² Uᵀ D U (UᵀDU by row blocks of U: no n × r copy).
    let d: Vec<f64> = m.iter().map(|&mi| sigmoid_prime(mi)).collect();
    let mut jacobian = crate::model::streamed::diagonal_weighted_gram(u, &d);
    for (j, mut row) in jacobian.row_iter_mut().enumerate() {
        row *= s2[j] / lambda;
    }
    for j in 0..r {
        jacobian[(j, j)] += 1.0;
    }
    // Right-hand sides: column i is (z_i*/s_i²) e_i = λ⁻¹ (Uᵀσ(−m*))_i e_i.
    let drive = u.tr_mul(&m.map(sigmoid_neg)) / lambda;
    let derivatives =
        jacobian
            .lu()
            .solve(&DMatrix::from_diagonal(&drive))
            .ok_or(Error::Numerical(NumericalError::SingularMatrix {
                matrix: "J = I + λ⁻¹S²UᵀDU",
                dimension: r,
            }))?;
    let z = &steady_state.responses;
    let zero = ZERO_RESPONSE_TOLERANCE * z.amax().max(1.0);
    let elasticities = DMatrix::from_fn(r, r, |j, i| {
        (z[j].abs() > zero).then(|| s2[i] * derivatives[(j, i)] / z[j])
    });
    Ok(Sensitivity {
        steady_state,
        derivatives,
        elasticities,
    })
}

/// The sensitivity of the steady state of `loss` under `regulariser` (docs/theory.md §5.3), by
/// the implicit-function theorem at the fixed point of the general flow (§3.2)
/// F(z) = S²Uᵀg(Uz) − μz = 0, whose only dependence on s_i² is through row i:
///
/// ```text
/// ∂z*/∂(s_i²) = −(∂F/∂z)⁻¹ e_i (Uᵀg(m*))_i,     ∂F/∂z = −S²(UᵀDU + λ_SD I) − μI,  D = diag(ℓ''(m*))
/// E_ji = (s_i²/z_j*) · ∂z_j*/∂(s_i²)
/// ```
///
/// Logistic L2 is [`l2_sensitivity`] (the same formula divided by λ, its one home). Under SD,
/// Uᵀg(m*) = 0 whenever every s_j > 0 (F = 0 row by row), so the derivatives vanish, as
/// [`sd_sensitivity`] states: they are returned as exact zeros (the general formula gives
/// rounding noise, below 1e-10 in the tests); the squared loss under L2 decouples,
/// z_j* = s_j²(Uᵀ1)_j/(s_j² + λ), E_jj = λ/(s_j² + λ), E_ji = 0. A singular ∂F/∂z (a zero
/// strength with μ = 0) is a [`NumericalError::SingularMatrix`]; no regulariser has no steady
/// state.
pub fn model_sensitivity(
    system: &FeatureSystem,
    loss: crate::model::Loss,
    regulariser: crate::model::Regulariser,
) -> Result<Sensitivity> {
    if let (crate::model::Loss::Logistic, crate::model::Regulariser::L2 { lambda }) =
        (loss, regulariser)
    {
        return l2_sensitivity(system, lambda);
    }
    let dynamics = crate::model::PrimalDynamics::new(system, loss, regulariser)?;
    let sd = matches!(
        regulariser,
        crate::model::Regulariser::SpectralDecoupling { .. }
    );
    if sd && system.strengths().iter().all(|&s| s > 0.0) {
        // Uᵀg(m*) = 0 exactly: the derivatives are 0, not the rounding noise (~1e-17) the
        // general formula would return for them.
        let steady_state = crate::solvers::steady::steady_state(&dynamics)?;
        let r = system.rank();
        let z = &steady_state.responses;
        let zero = ZERO_RESPONSE_TOLERANCE * z.amax().max(1.0);
        return Ok(Sensitivity {
            derivatives: DMatrix::zeros(r, r),
            elasticities: DMatrix::from_fn(r, r, |j, _| (z[j].abs() > zero).then_some(0.0)),
            steady_state,
        });
    }
    implicit_sensitivity(&dynamics)
}

/// [`model_sensitivity`]'s general formula, for any dynamics (also logistic L2, for its test).
fn implicit_sensitivity(dynamics: &crate::model::PrimalDynamics) -> Result<Sensitivity> {
    let steady_state = crate::solvers::steady::steady_state(dynamics)?;
    let system = dynamics.system();
    let (u, r) = (system.coupling(), system.rank());
    let s2 = system.strengths_squared();
    let model = dynamics.model();
    let z = &steady_state.responses;
    let jacobian = dynamics.jacobian(z);
    let m = &steady_state.margins;
    let drives = DVector::from_iterator(m.len(), (0..m.len()).map(|i| model.drive_at(i, m[i])));
    let drive = -u.tr_mul(&drives);
    let derivatives =
        jacobian
            .lu()
            .solve(&DMatrix::from_diagonal(&drive))
            .ok_or(Error::Numerical(NumericalError::SingularMatrix {
                matrix: "∂F/∂z = −S²(UᵀDU + λ_SD I) − μI",
                dimension: r,
            }))?;
    let zero = ZERO_RESPONSE_TOLERANCE * z.amax().max(1.0);
    let elasticities = DMatrix::from_fn(r, r, |j, i| {
        (z[j].abs() > zero).then(|| s2[i] * derivatives[(j, i)] / z[j])
    });
    Ok(Sensitivity {
        steady_state,
        derivatives,
        elasticities,
    })
}

/// A steady state with the sensitivities known for its loss and regulariser: what `gstarve
/// fixed-point` and the Python `System.fixed_point` report.
#[derive(Clone, Debug, PartialEq)]
pub struct SteadyStateReport {
    /// The steady state (Newton).
    pub steady_state: SteadyState,
    /// ∂z_j*/∂(s_i²), rows j, columns i, where known: L2 by [`l2_sensitivity`]; SD identically
    /// zero when its closed form applies (r = n, every s_j > 0; [`sd_sensitivity`]).
    pub derivatives: Option<DMatrix<f64>>,
    /// E_ji, rows j, columns i, `None` where masked (a zero response, or a non-finite value).
    pub elasticities: Option<DMatrix<Option<f64>>>,
}

/// The steady state of `loss` × `regulariser` on `system` with its sensitivities (docs/theory.md
/// §4, §5.3): Newton first (its errors come first), then, for the logistic loss with L2, the
/// implicit-function sensitivities at that steady state, and with SD the zero matrices where the
/// closed form applies. Other settings report the steady state alone.
pub fn steady_state_report(
    system: &FeatureSystem,
    loss: Loss,
    regulariser: Regulariser,
) -> Result<SteadyStateReport> {
    let dynamics = PrimalDynamics::new(system, loss, regulariser)?;
    let steady_state = crate::solvers::steady::steady_state(&dynamics)?;
    let r = system.rank();
    let (derivatives, elasticities) = match (loss, regulariser) {
        (Loss::Logistic, Regulariser::L2 { lambda }) => {
            let lambda = positive_lambda(lambda)?;
            let sens = l2_sensitivity_at(system, lambda, steady_state.clone())?;
            let elasticities = sens.elasticities.map(|e| e.filter(|v| v.is_finite()));
            (Some(sens.derivatives), Some(elasticities))
        }
        (Loss::Logistic, Regulariser::SpectralDecoupling { .. })
            if r == system.examples() && system.strengths().iter().all(|&s| s > 0.0) =>
        {
            (
                Some(DMatrix::zeros(r, r)),
                Some(DMatrix::from_element(r, r, Some(0.0))),
            )
        }
        _ => (None, None),
    };
    Ok(SteadyStateReport {
        steady_state,
        derivatives,
        elasticities,
    })
}

/// The sensitivity of the SD steady state (docs/theory.md §5.3, SD): z* = μ*·Uᵀ1 does not depend on
/// the strengths, so
///
/// ```text
/// ∂z*/∂(s_i²) ≡ 0
/// ```
///
/// Returned as the r × r zero matrix (rows j, columns i), after checking that the closed form
/// applies (see [`super::sd::steady_state`]). Every elasticity is 0: SD has no starvation.
pub fn sd_sensitivity(system: &FeatureSystem, lambda: f64) -> Result<DMatrix<f64>> {
    super::sd::steady_state(system, lambda)?;
    Ok(DMatrix::zeros(system.rank(), system.rank()))
}

/// The exact two-feature starvation criterion at the L2 steady state (docs/theory.md §5.4).
#[derive(Clone, Debug, PartialEq)]
pub struct TwoFeatureCriterion {
    /// The steady state.
    pub steady_state: SteadyState,
    /// M₂₁ = Σᵢ U_i1 U_i2 σ'(mᵢ*), the off-diagonal entry of M = UᵀDU.
    pub cross_curvature: f64,
    /// The predicted sign of ∂z₂*/∂s₁²: −sign(z₁*)·sign(M₂₁) (−1, 0 or +1).
    pub predicted_sign: i8,
    /// Feature 1 starves feature 2 (E₂₁ < 0, and then also E₁₂ < 0): z₁* z₂* M₂₁ > 0.
    pub starvation: bool,
}

/// The exact criterion for two features (docs/theory.md §5.4, "Two features, exact criterion"):
///
/// ```text
/// sign(∂z₂*/∂s₁²) = −sign(z₁*)·sign(M₂₁),     M₂₁ = Σᵢ U_i1 U_i2 σ'(mᵢ*)
/// feature 1 starves feature 2 (E₂₁ < 0)  ⇔  z₁* z₂* M₂₁ > 0
/// ```
///
/// (from (J⁻¹)₂₁ = −λ⁻¹s₂²M₂₁/det J with det J > 0). Needs exactly two features (any number of
/// examples) and s₂ > 0 (at s₂ = 0 the derivative vanishes whatever M₂₁).
pub fn two_feature_criterion(system: &FeatureSystem, lambda: f64) -> Result<TwoFeatureCriterion> {
    if system.rank() != 2 {
        return Err(Error::Input(InputError::NotTwoFeatures {
            what: "the two-feature criterion",
            rank: system.rank(),
        }));
    }
    let steady_state = l2_steady_state(system, lambda)?;
    let u = system.coupling();
    let cross_curvature: f64 = (0..system.examples())
        .map(|i| u[(i, 0)] * u[(i, 1)] * sigmoid_prime(steady_state.margins[i]))
        .sum();
    let z = &steady_state.responses;
    let predicted_sign = -sign(z[0]) * sign(cross_curvature);
    let starvation = z[0] * z[1] * cross_curvature > 0.0;
    Ok(TwoFeatureCriterion {
        steady_state,
        cross_curvature,
        predicted_sign,
        starvation,
    })
}

/// M₂₁ for the rotation family U(δ) = [[√(1−δ²), −δ], [δ, √(1−δ²)]] (docs/theory.md §5.4):
///
/// ```text
/// M₂₁ = δ √(1−δ²) (σ'(m₂*) − σ'(m₁*))
/// ```
///
/// With both responses positive and δ > 0, feature 1 starves feature 2 exactly when
/// |m₂*| < |m₁*| (σ' falls with |m|). `margins` are m* = U(δ)z*; requires |δ| ≤ 1.
pub fn rotation_cross_curvature(delta: f64, margins: &DVector<f64>) -> Result<f64> {
    if !(delta.is_finite() && delta.abs() <= 1.0) {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "coupling δ",
            value: delta,
            rule: "the rotation family needs |δ| ≤ 1",
        }));
    }
    if margins.len() != 2 {
        return Err(Error::Input(InputError::Length {
            what: "margins",
            found: margins.len(),
            expected: 2,
            rule: "the rotation family has 2 examples",
        }));
    }
    Ok(delta
        * (1.0 - delta * delta).sqrt()
        * (sigmoid_prime(margins[1]) - sigmoid_prime(margins[0])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::InputError;
    use crate::model::{Loss, PrimalDynamics, Regulariser};
    use crate::solvers::steady::{steady_state_with, NewtonParams};
    use crate::systems::Spectrum;

    /// z* of the L2 flow, solved to rounding.
    fn tight_steady_responses(system: &FeatureSystem, lambda: f64) -> DVector<f64> {
        let dynamics =
            PrimalDynamics::new(system, Loss::Logistic, Regulariser::L2 { lambda }).unwrap();
        let params = NewtonParams {
            tolerance: 1e-15,
            max_iterations: 200,
        };
        steady_state_with(&dynamics, &params).unwrap().responses
    }

    /// Central finite differences of z* with respect to s_i², step h = 1e-5·s_i².
    fn finite_difference_sensitivity(system: &FeatureSystem, lambda: f64) -> DMatrix<f64> {
        let r = system.rank();
        let s2 = system.strengths_squared();
        let mut fd = DMatrix::zeros(r, r);
        for i in 0..r {
            let h = 1e-5 * s2[i];
            let shifted = |sign: f64| {
                let mut s2_shift = s2.clone();
                s2_shift[i] += sign * h;
                let sys = system.with_strengths(s2_shift.map(f64::sqrt)).unwrap();
                tight_steady_responses(&sys, lambda)
            };
            fd.set_column(i, &((shifted(1.0) - shifted(-1.0)) / (2.0 * h)));
        }
        fd
    }

    fn assert_matches_finite_differences(system: &FeatureSystem, lambda: f64) -> Sensitivity {
        let sens = l2_sensitivity(system, lambda).unwrap();
        let fd = finite_difference_sensitivity(system, lambda);
        let scale = sens.derivatives.amax();
        let err = (&sens.derivatives - &fd).amax();
        assert!(
            err < 1e-6 * scale,
            "error {err:e} (scale {scale:e})\n{}\n{fd}",
            sens.derivatives
        );
        sens
    }

    #[test]
    fn toy_sensitivity_matches_finite_differences_and_shows_starvation() {
        // docs/theory.md §6.2, L2 steady states of the toy (λ = 0.01): z₂* falls as l grows.
        let z2_reference = [1.639967, 1.583112, 1.466814, 1.329021, 1.185344];
        for (k, l) in [2.0, 3.0, 4.0, 5.0, 6.0].into_iter().enumerate() {
            let sys = FeatureSystem::rotation(l, 2.0, 0.5).unwrap();
            let sens = assert_matches_finite_differences(&sys, 0.01);
            assert!((sens.steady_state.responses[1] - z2_reference[k]).abs() < 1e-6);
            let e21 = sens.elasticities[(1, 0)].unwrap();
            let e12 = sens.elasticities[(0, 1)].unwrap();
            if l > 2.0 {
                assert!(e21 < 0.0 && e12 < 0.0, "l = {l}: E₂₁ = {e21}, E₁₂ = {e12}");
            } else {
                // s₁ = s₂: equal margins (4.48047, 4.48047), M₂₁ = 0, no cross effect.
                assert!(e21.abs() < 1e-9 && e12.abs() < 1e-9, "E₂₁ = {e21}");
            }
            // Own elasticities are positive: a stronger feature responds more.
            assert!(sens.elasticities[(0, 0)].unwrap() > 0.0);
            assert!(sens.elasticities[(1, 1)].unwrap() > 0.0);
        }
    }

    /// The general implicit-function formula reproduces logistic L2's own (to rounding), gives
    /// the squared loss's closed form, and zero under SD.
    #[test]
    fn the_general_sensitivity_meets_every_closed_form() {
        let sys = FeatureSystem::random(4, Spectrum::Geometric { from: 4.0, to: 0.5 }, 2).unwrap();
        let l2 = Regulariser::L2 { lambda: 0.05 };
        let general =
            implicit_sensitivity(&PrimalDynamics::new(&sys, Loss::Logistic, l2).unwrap()).unwrap();
        let own = l2_sensitivity(&sys, 0.05).unwrap();
        let err = (&general.derivatives - &own.derivatives).amax();
        assert!(err < 1e-12 * own.derivatives.amax(), "{err:e}");
        // Squared loss, L2: E_jj = λ/(s_j² + λ), E_ji = 0 (docs/theory.md §5.3).
        let sq = model_sensitivity(&sys, Loss::Squared, l2).unwrap();
        let s2 = sys.strengths_squared();
        for j in 0..4 {
            for i in 0..4 {
                let e = sq.elasticities[(j, i)].unwrap();
                let exact = if i == j { 0.05 / (s2[j] + 0.05) } else { 0.0 };
                assert!((e - exact).abs() < 1e-10, "E_{j}{i} = {e} vs {exact}");
            }
        }
        // SD: no starvation. The general formula gives 0 to rounding, for both losses (the
        // theorem Uᵀg(m*) = 0 checked numerically); model_sensitivity returns the exact 0.
        for loss in [Loss::Logistic, Loss::Squared] {
            let sd_reg = Regulariser::SpectralDecoupling { lambda: 0.05 };
            let general =
                implicit_sensitivity(&PrimalDynamics::new(&sys, loss, sd_reg).unwrap()).unwrap();
            let worst = general
                .elasticities
                .iter()
                .map(|e| e.unwrap().abs())
                .fold(0.0, crate::model::nan_max);
            assert!(worst < 1e-10, "{loss:?}: max |E| = {worst:e}");
            let sd = model_sensitivity(&sys, loss, sd_reg).unwrap();
            assert!(sd.elasticities.iter().all(|e| *e == Some(0.0)));
            assert_eq!(sd.steady_state.responses, general.steady_state.responses);
        }
        assert!(model_sensitivity(&sys, Loss::Logistic, Regulariser::None).is_err());
    }

    #[test]
    fn random_sensitivity_matches_finite_differences() {
        for seed in [1, 2, 3] {
            let sys =
                FeatureSystem::random(4, Spectrum::Geometric { from: 4.0, to: 0.5 }, seed).unwrap();
            let sens = assert_matches_finite_differences(&sys, 0.05);
            // The elasticity is the derivative rescaled, wherever it is defined.
            let z = &sens.steady_state.responses;
            let s2 = sys.strengths_squared();
            for j in 0..4 {
                for i in 0..4 {
                    let e = sens.elasticities[(j, i)].unwrap();
                    assert!(
                        (e - s2[i] * sens.derivatives[(j, i)] / z[j]).abs()
                            < 1e-12 * e.abs().max(1.0)
                    );
                }
            }
        }
    }

    #[test]
    fn zero_response_is_masked() {
        // δ = 1/√2: (Uᵀ1)₂ = 0, and with equal strengths z₂* = 0 by symmetry.
        let sys = FeatureSystem::rotation(2.0, 2.0, std::f64::consts::FRAC_1_SQRT_2).unwrap();
        let sens = l2_sensitivity(&sys, 0.01).unwrap();
        assert!(sens.steady_state.responses[1].abs() < 1e-12);
        assert!(sens.elasticities[(1, 0)].is_none() && sens.elasticities[(1, 1)].is_none());
        assert!(sens.elasticities[(0, 0)].is_some());
    }

    #[test]
    fn two_feature_criterion_matches_finite_difference_signs_on_rotation_grid() {
        let mut compared = 0;
        for delta in [0.1, 0.3, 0.5, 0.65] {
            for s1 in [1.0, 2.5, 4.0, 6.0] {
                for s2 in [0.5, 2.0, 3.0] {
                    for lambda in [0.01, 0.1] {
                        let sys = FeatureSystem::rotation(s1, s2, delta).unwrap();
                        let crit = two_feature_criterion(&sys, lambda).unwrap();
                        // The rotation form of M₂₁ equals the general sum.
                        let rot =
                            rotation_cross_curvature(delta, &crit.steady_state.margins).unwrap();
                        assert!(
                            (rot - crit.cross_curvature).abs() < 1e-15,
                            "{rot} vs {}",
                            crit.cross_curvature
                        );
                        let fd = finite_difference_sensitivity(&sys, lambda);
                        let scale = fd.amax();
                        if fd[(1, 0)].abs() < 1e-5 * scale {
                            continue; // too close to the phase boundary for the difference's sign
                        }
                        compared += 1;
                        assert_eq!(
                            crit.predicted_sign,
                            sign(fd[(1, 0)]),
                            "δ = {delta}, s = ({s1}, {s2}), λ = {lambda}"
                        );
                        let z = &crit.steady_state.responses;
                        let e21 = s1 * s1 * fd[(1, 0)] / z[1];
                        let e12 = s2 * s2 * fd[(0, 1)] / z[0];
                        assert_eq!(crit.starvation, e21 < 0.0);
                        // The two cross effects share a sign (M is symmetric).
                        assert_eq!(sign(e21), sign(e12));
                        // Both responses positive here: starvation ⇔ |m₂*| < |m₁*|.
                        let m = &crit.steady_state.margins;
                        assert_eq!(crit.starvation, m[1].abs() < m[0].abs());
                    }
                }
            }
        }
        assert!(compared >= 80, "only {compared} grid points compared");
    }

    #[test]
    fn sd_sensitivity_is_zero_and_matches_finite_differences() {
        let sys = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
        let zero = sd_sensitivity(&sys, 0.002).unwrap();
        assert_eq!(zero, DMatrix::zeros(2, 2));
        // The numerical SD steady state indeed does not move with s₁².
        let z = |s1: f64| {
            let sys = FeatureSystem::rotation(s1, 2.0, 0.5).unwrap();
            let d = PrimalDynamics::new(
                &sys,
                Loss::Logistic,
                Regulariser::SpectralDecoupling { lambda: 0.002 },
            )
            .unwrap();
            crate::solvers::steady::steady_state(&d).unwrap().responses
        };
        assert!((z(4.1) - z(3.9)).amax() < 1e-14);
    }

    #[test]
    fn invalid_inputs_are_rejected() {
        let sys = FeatureSystem::decoupled(&[1.0, 2.0, 3.0]).unwrap();
        assert!(matches!(
            two_feature_criterion(&sys, 0.01),
            Err(Error::Input(InputError::NotTwoFeatures { rank: 3, .. }))
        ));
        assert!(l2_sensitivity(&sys, 0.0).is_err());
        assert!(rotation_cross_curvature(1.5, &DVector::zeros(2)).is_err());
    }
}
