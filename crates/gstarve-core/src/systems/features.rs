//! Feature systems from raw features and labels: the SVD YΦ = U S Vᵀ of docs/theory.md §1.2.

use nalgebra::{DMatrix, DVector};

use super::kernel::{dropped_share, partial_pays, Decomposition};
use super::partial::Triplets;
use super::{check_finite, FeatureSystem, Truncation};
use crate::error::{Error, InputError, Result};
use crate::sweeps::progress::Stage;

/// Map labels to ±1: accepts {−1, +1} or {0, 1} (0 ↦ −1). Anything else is an error naming the
/// first offending label.
pub fn labels_to_signs(labels: &[f64]) -> Result<DVector<f64>> {
    let zero_one = labels.iter().all(|&y| y == 0.0 || y == 1.0);
    let mut signs = Vec::with_capacity(labels.len());
    for (i, &y) in labels.iter().enumerate() {
        let s = if zero_one {
            2.0 * y - 1.0
        } else if y == 1.0 || y == -1.0 {
            y
        } else {
            return Err(Error::Input(InputError::InvalidLabel {
                index: i + 1,
                value: y,
            }));
        };
        signs.push(s);
    }
    Ok(DVector::from_vec(signs))
}

impl FeatureSystem {
    /// The feature system of features Φ (n × p) and labels y (±1 or 0/1): the thin SVD
    /// YΦ = U S Vᵀ (docs/theory.md §1.2, computed by faer), strengths sorted s₁ ≥ … ≥ s_r,
    /// r = min(n, p).
    ///
    /// Orientation (docs/theory.md §1.4: column signs of U and V flip in pairs): each pair is
    /// oriented so that (Uᵀ1)_j ≥ 0, which makes the squared-loss and SD steady-state responses
    /// non-negative.
    pub fn from_features(phi: &DMatrix<f64>, labels: &[f64]) -> Result<Self> {
        Ok(Self::from_features_top(phi, labels, None)?.0)
    }

    /// [`FeatureSystem::from_features`] keeping the top `rank` features only (docs/theory.md
    /// §8.7), with what was dropped. When max(64, 2·rank) < min(n, p) the SVD is partial: block
    /// subspace iteration over YΦ itself (`systems::partial`, falling back to the full SVD if it
    /// does not settle), O(np·rank) time per iteration and O((n + p)·rank) memory beyond Φ; neither ΦΦᵀ (n × n) nor
    /// ΦᵀΦ (p × p) is formed (forming ΦΦᵀ alone would cost O(n²p) and square the condition
    /// number). The dropped share uses Σ_all s² = ‖YΦ‖²_F = ‖Φ‖²_F, exact without the rest of the
    /// spectrum. `None` keeps all r = min(n, p) features (and reports nothing dropped).
    pub fn from_features_top(
        phi: &DMatrix<f64>,
        labels: &[f64],
        rank: Option<usize>,
    ) -> Result<(Self, Truncation)> {
        check_finite("features Φ", phi)?;
        let (n, p) = phi.shape();
        if labels.len() != n {
            return Err(Error::Input(InputError::Length {
                what: "labels",
                found: labels.len(),
                expected: n,
                rule: "one per row (example) of Φ",
            }));
        }
        if n == 0 || p == 0 {
            return Err(Error::Input(InputError::MatrixShape {
                what: "features Φ".into(),
                rows: n,
                cols: p,
                rule: "it must not be empty",
            }));
        }
        let y = labels_to_signs(labels)?;
        let mat = faer::Mat::<f64>::from_fn(n, p, |i, j| y[i] * phi[(i, j)]);
        let full_rank = n.min(p);
        // The partial solver may stop short (e.g. a matrix of rank below its Krylov space):
        // then the full SVD, which is always right.
        let asked = rank.filter(|&r| partial_pays(r, full_rank));
        let partial = asked.and_then(|r| super::partial::top_singular_triplets(mat.as_ref(), r));
        let decomposition = Decomposition::of(asked.is_some(), partial.is_some());
        let (sv, u, v) = match partial {
            Some(triplets) => triplets,
            None => all_singular_triplets(mat.as_ref())?,
        };
        let total = mat.norm_l2().powi(2);
        let r = rank.unwrap_or(full_rank).min(sv.len());
        let mut order: Vec<usize> = (0..sv.len()).collect();
        order.sort_by(|&a, &b| sv[b].total_cmp(&sv[a]));
        let mut strengths = DVector::zeros(r);
        let mut coupling = DMatrix::zeros(n, r);
        let mut features = DMatrix::zeros(p, r);
        for (k, &j) in order.iter().take(r).enumerate() {
            strengths[k] = sv[j];
            let column_sum: f64 = (0..n).map(|i| u[(i, j)]).sum();
            let sign = if column_sum < 0.0 { -1.0 } else { 1.0 };
            for i in 0..n {
                coupling[(i, k)] = sign * u[(i, j)];
            }
            for i in 0..p {
                features[(i, k)] = sign * v[(i, j)];
            }
        }
        let kept_sum: f64 = strengths.iter().map(|s| s * s).sum();
        let truncation = Truncation {
            dropped_features: full_rank - r,
            dropped_strength_share: if r == full_rank {
                0.0
            } else {
                dropped_share(total, kept_sum)
            },
            strength_floor: 0.0,
            rank,
            decomposition: Some(decomposition),
        };
        let system = FeatureSystem::new(strengths, coupling)?
            .with_features(features)?
            .with_labels(labels)?;
        Ok((system, truncation))
    }
}

/// The thin SVD of YΦ by faer: it reduces the wide n × p matrix (a network's p = m(d+2)+1 ≫ n)
/// by QR first, so the cost is O(n²p), and it is backward stable, so small strengths keep their
/// accuracy (unlike the eigen-decomposition of the Gram matrix YΦΦᵀY, which squares the
/// condition number).
fn all_singular_triplets(a: faer::MatRef<'_, f64>) -> Result<Triplets> {
    let _stage = Stage::begin("SVD of YΦ", "", 0);
    let svd = a.thin_svd().map_err(|_| {
        Error::Input(InputError::Unsupported(
            "the SVD of YΦ did not converge".to_string(),
        ))
    })?;
    let sv = svd.S().column_vector();
    let values = (0..sv.nrows()).map(|j| sv[j]).collect();
    Ok((values, svd.U().to_owned(), svd.V().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svd_reconstructs_signed_features() {
        let phi = DMatrix::from_row_slice(
            3,
            4,
            &[
                1.0, 0.5, -0.2, 0.3, //
                0.1, -1.0, 0.4, 0.0, //
                0.7, 0.2, 0.9, -0.5,
            ],
        );
        let labels = [1.0, -1.0, 1.0];
        let sys = FeatureSystem::from_features(&phi, &labels).unwrap();
        let s = DMatrix::from_diagonal(sys.strengths());
        let v = sys.features().unwrap();
        let rebuilt = sys.coupling() * s * v.transpose();
        let mut yphi = phi.clone();
        yphi.row_mut(1).scale_mut(-1.0);
        assert!((rebuilt - yphi).abs().max() < 1e-12);
        assert!(
            sys.strengths()[0] >= sys.strengths()[1] && sys.strengths()[1] >= sys.strengths()[2]
        );
        assert!(sys.coupling_column_sums().iter().all(|&c| c >= 0.0));
    }

    #[test]
    fn labels_zero_one_and_bad_labels() {
        assert_eq!(
            labels_to_signs(&[0.0, 1.0]).unwrap().as_slice(),
            &[-1.0, 1.0]
        );
        assert!(matches!(
            labels_to_signs(&[1.0, 2.0]),
            Err(Error::Input(InputError::InvalidLabel { index: 2, .. }))
        ));
    }
}
