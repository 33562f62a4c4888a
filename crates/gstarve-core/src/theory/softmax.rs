//! The starvation test for multi-class softmax systems (docs/theory.md §9.3): how the
//! steady-state responses move when one feature is made stronger, with H in place of the binary
//! D.
//!
//! ```text
//! ∂z*/∂(s_i²) = (z_i*/s_i²) · J⁻¹ e_i,   J = I + λ⁻¹ S² Uᵀ H U,   H = blockdiag(diag(pᵢ) − pᵢpᵢᵀ)
//! E_ji = (s_i²/z_j*) · ∂z_j*/∂(s_i²)
//! ```
//!
//! (L2, from λz* = S²Uᵀvec(Y − P*)). Under SD with every s_j > 0 the fixed point
//! Uᵀvec(Y − P) = λz does not contain S: the derivatives vanish identically.

use nalgebra::{DMatrix, DVector};

use super::sensitivity::ZERO_RESPONSE_TOLERANCE;
use crate::error::{Error, InputError, NumericalError, Result};
use crate::model::{Regulariser, SoftmaxDynamics};
use crate::solvers::steady::NewtonParams;
use crate::solvers::steady_softmax::{softmax_steady_state, HessianFactor, SoftmaxSteadyState};
use crate::systems::MulticlassSystem;

/// The sensitivity of a softmax steady state to the strengths.
#[derive(Clone, Debug, PartialEq)]
pub struct SoftmaxSensitivity {
    /// The steady state at which the derivatives are taken.
    pub steady_state: SoftmaxSteadyState,
    /// ∂z_j*/∂(s_i²): row j (the response), column i (the strength varied).
    pub derivatives: DMatrix<f64>,
    /// E_ji, rows j, columns i; `None` where z_j* is zero (to [`ZERO_RESPONSE_TOLERANCE`]) or
    /// the entry is not finite.
    pub elasticities: DMatrix<Option<f64>>,
}

/// The steady state and its sensitivities for `regulariser` (L2, or SD with every s_j > 0).
pub fn softmax_sensitivity(
    system: &MulticlassSystem,
    regulariser: Regulariser,
) -> Result<SoftmaxSensitivity> {
    let dynamics = SoftmaxDynamics::new(system, regulariser)?;
    let steady_state = softmax_steady_state(&dynamics, &NewtonParams::default())?;
    let r = system.rank();
    let derivatives = match regulariser {
        Regulariser::L2 { lambda } => l2_derivatives(&dynamics, &steady_state, lambda)?,
        Regulariser::SpectralDecoupling { .. }
            if dynamics.strengths_squared().iter().all(|&s| s > 0.0) =>
        {
            DMatrix::zeros(r, r)
        }
        _ => {
            return Err(Error::Input(InputError::Unsupported(
                "softmax sensitivities need L2, or SD with every strength > 0".into(),
            )))
        }
    };
    let z = &steady_state.responses;
    let s2 = dynamics.strengths_squared();
    let zero = ZERO_RESPONSE_TOLERANCE * z.amax().max(1.0);
    // E_ji = s_i²·∂z_j*/∂(s_i²)/z_j*, column by column (i) on all cores.
    let elasticities = {
        use rayon::prelude::*;
        let mut entries: Vec<Option<f64>> = Vec::new();
        entries.par_extend(rayon::iter::repeat_n(None, r * r));
        entries
            .par_chunks_mut(r.max(1))
            .zip(derivatives.as_slice().par_chunks(r.max(1)))
            .enumerate()
            .for_each(|(i, (out, column))| {
                for ((e, &d), &zj) in out.iter_mut().zip(column).zip(z.iter()) {
                    *e = (zj.abs() > zero)
                        .then(|| s2[i] * d / zj)
                        .filter(|e| e.is_finite());
                }
            });
        DMatrix::from_vec(r, r, entries)
    };
    Ok(SoftmaxSensitivity {
        steady_state,
        derivatives,
        elasticities,
    })
}

/// J⁻¹ diag(z_i*/s_i²) with z_i*/s_i² evaluated as (Uᵀvec(Y − P*))_i/λ (also right for s_i = 0).
///
/// On the free components F (s_j > 0) J = λ⁻¹S_F²(UᵀHU + λS⁻²)_FF = λ⁻¹S_F²·A with A the
/// Hessian of the objective, symmetric positive definite; the pinned ones P (s_j = 0) have
/// J_P = I. So, with d = Uᵀvec(Y − P*),
///
/// ```text
/// X_FF = A⁻¹ diag(d_F/s_F²),   X_FP = −A⁻¹ (UᵀHU)_FP diag(d_P/λ),   X_PP = diag(d_P/λ),   X_PF = 0
/// ```
///
/// by one Cholesky factorisation and inverse of A (faer; r³ flops against the
/// 2⅔r³ of an LU solve with r right-hand sides).
fn l2_derivatives(
    dynamics: &SoftmaxDynamics,
    steady: &SoftmaxSteadyState,
    lambda: f64,
) -> Result<DMatrix<f64>> {
    let r = dynamics.dim();
    let s2 = dynamics.strengths_squared();
    let z = &steady.responses;
    let _stage = crate::sweeps::progress::Stage::begin("sensitivities: J⁻¹ at z*", "", 0);
    // The curvature at z* from Newton's logits (the same Uz*, not formed again).
    let logits = &steady.logits;
    let flat = DVector::from_iterator(
        logits.len(),
        (0..logits.nrows()).flat_map(|i| (0..logits.ncols()).map(move |k| logits[(i, k)])),
    );
    let curvature = dynamics.curvature_at_logits(&flat);
    let drive = dynamics.drive(z);
    let (free, pinned): (Vec<usize>, Vec<usize>) = (0..r).partition(|&j| s2[j] > 0.0);
    let weights = DVector::from_iterator(free.len(), free.iter().map(|&j| lambda / s2[j]));
    let singular = || {
        Error::Numerical(NumericalError::SingularMatrix {
            matrix: "J = I + λ⁻¹S²UᵀHU",
            dimension: r,
        })
    };
    if pinned.is_empty() {
        // X = A⁻¹ diag(d/s²), its columns scaled as A⁻¹ is mirrored into them.
        let scales: Vec<f64> = (0..r).map(|i| drive[i] / s2[i]).collect();
        return HessianFactor::scaled_inverse(&curvature, &weights, &scales).ok_or_else(singular);
    }
    let gram = curvature.gram();
    let mut x = DMatrix::zeros(r, r);
    for &i in &pinned {
        x[(i, i)] = drive[i] / lambda;
    }
    if free.is_empty() {
        return Ok(x);
    }
    let k = free.len();
    let mut inverse = DMatrix::zeros(k, k);
    HessianFactor::from_gram(&gram, &free, &weights)
        .ok_or_else(singular)?
        .inverse_into(inverse.as_mut_slice());
    if !inverse.iter().all(|v| v.is_finite()) {
        return Err(singular());
    }
    for (b, &i) in free.iter().enumerate() {
        let scale = drive[i] / s2[i];
        for (a, &j) in free.iter().enumerate() {
            x[(j, i)] = inverse[(a, b)] * scale;
        }
    }
    for &i in &pinned {
        let scale = drive[i] / lambda;
        for (a, &j) in free.iter().enumerate() {
            let coupled: f64 = free
                .iter()
                .enumerate()
                .map(|(b, &l)| inverse[(a, b)] * gram[(l, i)])
                .sum();
            x[(j, i)] = -coupled * scale;
        }
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use nalgebra::DVector;

    use super::*;
    use crate::systems::multiclass::random_multiclass;
    use crate::systems::FeatureSystem;
    use crate::theory::sensitivity::l2_sensitivity;

    /// ∂z*/∂(s_i²) against central differences of Newton steady states; the difference's own
    /// error (h² truncation, plus 1e-12 Newton residuals amplified by 1/h) bounds the tolerance.
    #[test]
    fn sensitivities_match_finite_differences() {
        let sys = random_multiclass(5, 3, 8, 21);
        let lambda = 0.05;
        let reg = Regulariser::L2 { lambda };
        let sens = softmax_sensitivity(&sys, reg).unwrap();
        let s2 = sys.system().strengths_squared();
        for i in 0..sys.rank() {
            let h = 1e-5 * s2[i];
            let shifted = |sign: f64| {
                let mut t = s2.clone();
                t[i] += sign * h;
                let sys = sys
                    .with_system(sys.system().with_strengths(t.map(f64::sqrt)).unwrap())
                    .unwrap();
                softmax_sensitivity(&sys, reg)
                    .unwrap()
                    .steady_state
                    .responses
            };
            let numeric: DVector<f64> = (shifted(1.0) - shifted(-1.0)) / (2.0 * h);
            let analytic = sens.derivatives.column(i);
            let scale = numeric.amax().max(1e-3);
            let gap = (analytic - &numeric).amax();
            assert!(gap < 1e-5 * scale, "column {i}: {gap:e} of {scale:e}");
        }
        let z = &sens.steady_state.responses;
        let e = sens.elasticities[(2, 0)].unwrap();
        assert!((e - s2[0] * sens.derivatives[(2, 0)] / z[2]).abs() < 1e-15);
        let sd = softmax_sensitivity(&sys, Regulariser::SpectralDecoupling { lambda }).unwrap();
        assert_eq!(sd.derivatives.amax(), 0.0);
    }

    /// J⁻¹diag(d/λ) (Cholesky inverse of the Hessian on the free components) against the direct
    /// LU solve of J = I + λ⁻¹S²UᵀHU: with every component free (A⁻¹ written straight into the
    /// result), and with one strength zero (the block form: a pinned response whose column
    /// couples into the free ones).
    #[test]
    fn block_solve_equals_the_direct_one_with_a_pinned_response() {
        for pinned in [None, Some(5)] {
            let sys = random_multiclass(5, 3, 8, 4);
            let mut s = sys.system().strengths().clone();
            if let Some(k) = pinned {
                s[k] = 0.0;
            }
            let sys = sys
                .with_system(sys.system().with_strengths(s).unwrap())
                .unwrap();
            let lambda = 0.03;
            let sens = softmax_sensitivity(&sys, Regulariser::L2 { lambda }).unwrap();
            let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda }).unwrap();
            let z = &sens.steady_state.responses;
            let s2 = d.strengths_squared();
            let mut j = d.curvature_gram(z);
            for (k, mut row) in j.row_iter_mut().enumerate() {
                row *= s2[k] / lambda;
            }
            j += DMatrix::identity(8, 8);
            let direct = j
                .lu()
                .solve(&DMatrix::from_diagonal(&(d.drive(z) / lambda)))
                .unwrap();
            let gap = (&sens.derivatives - &direct).amax();
            assert!(
                gap < 1e-12 * direct.amax(),
                "{pinned:?}: {gap:e} of {:e}",
                direct.amax()
            );
            assert!(sens.derivatives.column(5).amax() > 0.0);
        }
    }

    /// docs/theory.md §9.4: elasticities are scale-free, so the image's starvation matrix is the
    /// binary one (the derivatives themselves scale by 1/√2 through z = √2 z_mc, s² = 2 s_mc²).
    #[test]
    fn the_binary_image_has_the_binary_starvation_matrix() {
        let binary = FeatureSystem::rotation(5.0, 2.0, 0.5).unwrap();
        let lambda = 0.01;
        let bin = l2_sensitivity(&binary, lambda).unwrap();
        let image = MulticlassSystem::binary_image(&binary, None).unwrap();
        let mc = softmax_sensitivity(&image, Regulariser::L2 { lambda }).unwrap();
        for j in 0..2 {
            for i in 0..2 {
                let (a, b) = (
                    bin.elasticities[(j, i)].unwrap(),
                    mc.elasticities[(j, i)].unwrap(),
                );
                assert!((a - b).abs() < 1e-9 * a.abs().max(1.0), "E_{j}{i}: {a} {b}");
                let d = bin.derivatives[(j, i)];
                let scaled = mc.derivatives[(j, i)] / std::f64::consts::SQRT_2;
                assert!((d - scaled).abs() < 1e-9 * d.abs().max(1e-3));
            }
        }
        // §6 toy, l = 5: E₂₁ < 0 (starvation) survives the reduction.
        assert!(mc.elasticities[(1, 0)].unwrap() < 0.0);
    }
}
