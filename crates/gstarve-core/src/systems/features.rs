//! Feature systems from raw features and labels: the SVD YΦ = U S Vᵀ of docs/theory.md §1.2.

use nalgebra::{DMatrix, DVector};

use super::{check_finite, FeatureSystem};
use crate::error::{Error, InputError, Result};

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
        let mut signed = phi.clone();
        for (i, mut row) in signed.row_iter_mut().enumerate() {
            row *= y[i];
        }
        // faer's thin SVD: it reduces the wide n × p matrix (a network's p = m(d+2)+1 ≫ n) by QR
        // first, so the cost is O(n²p), and it is backward stable, so small strengths keep their
        // accuracy (unlike the eigen-decomposition of the Gram matrix YΦΦᵀY, which squares the
        // condition number).
        let mat = faer::Mat::<f64>::from_fn(n, p, |i, j| signed[(i, j)]);
        let svd = mat.thin_svd().map_err(|_| {
            Error::Input(InputError::Unsupported(
                "the SVD of YΦ did not converge".to_string(),
            ))
        })?;
        let (u, v, sv) = (svd.U(), svd.V(), svd.S().column_vector());
        let r = n.min(p);
        let mut order: Vec<usize> = (0..r).collect();
        order.sort_by(|&a, &b| sv[b].total_cmp(&sv[a]));
        let mut strengths = DVector::zeros(r);
        let mut coupling = DMatrix::zeros(n, r);
        let mut features = DMatrix::zeros(p, r);
        for (k, &j) in order.iter().enumerate() {
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
        FeatureSystem::new(strengths, coupling)?.with_features(features)
    }
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
