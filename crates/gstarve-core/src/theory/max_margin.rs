//! The max-margin limit λ → 0 of the L2 steady state (docs/theory.md §11.1–§11.3).
//!
//! As λ → 0, z*(λ)/‖z*(λ)‖ → ẑ/‖ẑ‖ with ẑ the hard-margin SVM of the NTK
//! ([`crate::solvers::max_margin`]). With A the support set (α̂_i > 0), B = U_A and
//! M = B S² Bᵀ:
//!
//! ```text
//! ẑ = S² Bᵀ M⁻¹ 1,
//! E^∞_ji = lim_{λ→0} ∂log|z_j*|/∂log s_i² = ∂log|ẑ_j|/∂log s_i² = (ẑ_i/ẑ_j)(δ_ji − s_j² P_ji),
//! P = Bᵀ M⁻¹ B,
//! ```
//!
//! (differentiating ẑ while A is stable: ∂M/∂s_i² = b_i b_iᵀ, b_iᵀM⁻¹1 = ẑ_i/s_i²). The norm
//! ‖z*(λ)‖ ≈ log(1/λ) depends on S only at relative order 1/log(1/λ), so the elasticities of the
//! steady state tend to these. When every example is a support vector (K⁻¹1 > 0, K = US²Uᵀ),
//! P = S⁻², ẑ = Uᵀ1 and every E^∞_ji = 0: no starvation survives; otherwise it may.

use nalgebra::{DMatrix, DVector};

use crate::error::Result;
use crate::solvers::max_margin::{max_margin, MaxMargin};
use crate::systems::FeatureSystem;

/// The limit of docs/theory.md §11: the max-margin solution and its elasticities.
#[derive(Clone, Debug, PartialEq)]
pub struct MaxMarginLimit {
    /// ẑ, its direction, α̂, the support set and the KKT residuals.
    pub solution: MaxMargin,
    /// K⁻¹1 = U S⁻² Uᵀ 1: every entry > 0 ⇔ every example is a support vector.
    pub inverse_gram_ones: DVector<f64>,
    /// E^∞_ji (rows j, columns i, diagonal included); `None` where ẑ_j = 0.
    pub elasticities: DMatrix<Option<f64>>,
}

impl MaxMarginLimit {
    /// Whether every example is a support vector (then ẑ = Uᵀ1, §11.2).
    pub fn all_support(&self) -> bool {
        self.solution.support.iter().all(|&s| s)
    }
}

/// K⁻¹1 = U S⁻² Uᵀ 1 for a system with r = n and every s_j > 0 (docs/theory.md §11.2).
pub fn inverse_gram_ones(system: &FeatureSystem) -> DVector<f64> {
    let u = system.coupling();
    let sums = system.coupling_column_sums();
    let scaled = sums.component_div(&system.strengths_squared());
    u * scaled
}

/// The max-margin limit of `system` and its elasticities (docs/theory.md §11.1–§11.3).
pub fn limit(system: &FeatureSystem) -> Result<MaxMarginLimit> {
    let solution = max_margin(system)?;
    let elasticities = limit_elasticities(system, &solution);
    Ok(MaxMarginLimit {
        inverse_gram_ones: inverse_gram_ones(system),
        solution,
        elasticities,
    })
}

/// E^∞_ji = (ẑ_i/ẑ_j)(δ_ji − s_j² P_ji), P = Bᵀ(B S² Bᵀ)⁻¹B over the support set.
fn limit_elasticities(system: &FeatureSystem, solution: &MaxMargin) -> DMatrix<Option<f64>> {
    let n = system.rank();
    let u = system.coupling();
    let s2 = system.strengths_squared();
    let active: Vec<usize> = (0..solution.support.len())
        .filter(|&i| solution.support[i])
        .collect();
    let b = u.select_rows(&active);
    let mut bs = b.clone();
    for (j, mut col) in bs.column_iter_mut().enumerate() {
        col *= s2[j];
    }
    let m = &bs * b.transpose();
    // M is positive definite (rows of an orthogonal U, s > 0): Cholesky.
    let p = match m.cholesky() {
        Some(ch) => b.transpose() * ch.solve(&b),
        None => return DMatrix::from_element(n, n, None),
    };
    let z = &solution.z_hat;
    let scale = z.amax();
    DMatrix::from_fn(n, n, |j, i| {
        if z[j].abs() <= 1e-12 * scale {
            return None;
        }
        let delta = if i == j { 1.0 } else { 0.0 };
        Some(z[i] / z[j] * (delta - s2[j] * p[(j, i)]))
    })
}

/// One point of the regularisation path towards the limit (docs/theory.md §11.1, §11.3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathPoint {
    /// λ.
    pub lambda: f64,
    /// E_ji of the L2 steady state at λ (NaN where masked).
    pub elasticity: f64,
    /// ‖z*/‖z*‖ − ẑ/‖ẑ‖‖₂.
    pub direction_error: f64,
    /// The largest margin of a support vector, ≈ log(1/λ).
    pub support_margin: f64,
    /// Newton's residual at λ.
    pub residual: f64,
}

/// E_ji(λ) of the L2 steady state (Newton and the implicit-function sensitivity) along
/// `lambdas`, against the limit `limit` (docs/theory.md §11.3): the slow approach.
pub fn elasticity_path(
    system: &FeatureSystem,
    limit: &MaxMarginLimit,
    (j, i): (usize, usize),
    lambdas: &[f64],
) -> Result<Vec<PathPoint>> {
    lambdas
        .iter()
        .map(|&lambda| {
            let sens = crate::theory::sensitivity::l2_sensitivity(system, lambda)?;
            let fp = &sens.steady_state;
            let dir = &fp.responses / fp.responses.norm();
            let support_margin = (0..fp.margins.len())
                .filter(|&k| limit.solution.support[k])
                .map(|k| fp.margins[k])
                .fold(f64::NEG_INFINITY, f64::max);
            Ok(PathPoint {
                lambda,
                elasticity: sens.elasticities[(j, i)].unwrap_or(f64::NAN),
                direction_error: (dir - &limit.solution.direction).norm(),
                support_margin,
                residual: fp.residual,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Loss, PrimalDynamics, Regulariser};
    use crate::solvers::steady::steady_state;
    use crate::systems::Spectrum;

    /// docs/theory.md §11.4: (K⁻¹1)₁ = 0 at l*² = 4√(1−δ²)(Uᵀ1)₁/(δ(Uᵀ1)₂) = 25.856406,
    /// l* = 5.0849195 (δ = 0.5, s₂ = 2; the spec's 5.08493 is off in its last digit).
    #[test]
    fn toy_boundary() {
        let delta: f64 = 0.5;
        let c = (1.0 - delta * delta).sqrt();
        let (a, b) = (c + delta, c - delta);
        let l_star = (4.0 * c * a / (delta * b)).sqrt();
        assert!((l_star - 5.0849195).abs() < 1e-7, "{l_star}");
        let at = inverse_gram_ones(&FeatureSystem::rotation(l_star, 2.0, delta).unwrap());
        assert!(at[0].abs() < 1e-14, "{at}");
        for (l, all) in [(5.0, true), (5.2, false)] {
            let lim = limit(&FeatureSystem::rotation(l, 2.0, delta).unwrap()).unwrap();
            assert_eq!(lim.all_support(), all, "l = {l}");
            assert_eq!(lim.inverse_gram_ones.iter().all(|&v| v > 0.0), all);
        }
    }

    /// The closed-form elasticity against central differences of ẑ in s_i², and E^∞₂₁ = −3/4
    /// for the toy at l = 6 (ẑ₂ = s₂²u₂₂/(s₁²u₂₁² + s₂²u₂₂²), so E₂₁ = −s₁²u₂₁²/(s₁²u₂₁² + s₂²u₂₂²)
    /// = −9/12).
    #[test]
    fn elasticities_match_differences() {
        let toy = limit(&FeatureSystem::rotation(6.0, 2.0, 0.5).unwrap()).unwrap();
        assert!((toy.elasticities[(1, 0)].unwrap() + 0.75).abs() < 1e-12);
        let sys = FeatureSystem::random(6, Spectrum::Geometric { from: 5.0, to: 0.1 }, 4).unwrap();
        let lim = limit(&sys).unwrap();
        assert!(!lim.all_support());
        for i in 0..6 {
            let h = 1e-6;
            let at = |f: f64| {
                let mut s = sys.strengths().clone();
                s[i] = (s[i] * s[i] * (1.0 + f)).sqrt();
                max_margin(&sys.with_strengths(s).unwrap()).unwrap().z_hat
            };
            let (zp, zm) = (at(h), at(-h));
            for j in 0..6 {
                let numeric = (zp[j].abs().ln() - zm[j].abs().ln()) / (2.0 * h);
                let e = lim.elasticities[(j, i)].unwrap();
                assert!(
                    (e - numeric).abs() < 1e-6 * (1.0 + e.abs()),
                    "E{j}{i}: {e} {numeric}"
                );
            }
        }
    }

    /// Every example a support vector: ẑ = Uᵀ1, E^∞ = 0.
    #[test]
    fn all_support_gives_the_sd_direction() {
        let lim = limit(&FeatureSystem::rotation(3.0, 2.0, 0.5).unwrap()).unwrap();
        assert!(lim.all_support());
        let sums = FeatureSystem::rotation(3.0, 2.0, 0.5)
            .unwrap()
            .coupling_column_sums();
        assert!((&lim.solution.z_hat - sums).amax() < 1e-14);
        assert!(lim.elasticities.iter().all(|e| e.unwrap().abs() < 1e-14));
    }

    /// Newton at λ = 1e-12 (margins ≈ log(1/λ) ≈ 27): converged to its tolerance, and its
    /// direction within the slow O(1/log(1/λ)) distance of the limit; the steady state's
    /// elasticity heads to E^∞.
    #[test]
    fn newton_is_accurate_at_lambda_1e_minus_12() {
        let sys = FeatureSystem::rotation(6.0, 2.0, 0.5).unwrap();
        let lim = limit(&sys).unwrap();
        let mut last = f64::INFINITY;
        for lambda in [1e-4, 1e-8, 1e-12] {
            let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda }).unwrap();
            let fp = steady_state(&d).unwrap();
            assert!(
                fp.residual <= 1e-12 * fp.responses.amax(),
                "{lambda}: {}",
                fp.residual
            );
            // F itself at z*: each term S²Uᵀσ(−m) and λz is ~λ‖z‖; their difference to rounding.
            let f = d.rhs(&fp.responses);
            assert!(
                f.amax() <= 1e-13 * lambda * fp.responses.amax() * 36.0,
                "{lambda}: {f}"
            );
            let dir = &fp.responses / fp.responses.norm();
            let gap = (dir - &lim.solution.direction).norm();
            assert!(gap < last, "{lambda}: {gap} ≥ {last}");
            last = gap;
        }
        // At λ = 1e-12 the support margin is ≈ W₀(1/λ)-sized.
        let d =
            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 1e-12 }).unwrap();
        let fp = steady_state(&d).unwrap();
        assert!(
            fp.margins[1] > 20.0 && fp.margins[1] < 28.0,
            "{}",
            fp.margins
        );
        assert!(last < 0.02, "{last}");
    }
}
