//! Feature systems (docs/theory.md §1.2): strengths S = diag(s₁ … s_r) and a coupling U ∈ R^{n×r}
//! with orthonormal columns, from the SVD YΦ = U S Vᵀ of the label-signed feature matrix.
//!
//! A [`FeatureSystem`] is validated on construction: its strengths are finite and ≥ 0 and its
//! coupling has orthonormal columns (to [`ORTHOGONALITY_TOLERANCE`]). Every solver can rely on it.

mod csv_rows;
mod features;
mod io;
mod kernel;
mod many;
pub mod multiclass;
mod npy;
mod npz;
mod partial;
mod random;

pub use csv_rows::{split_csv, CsvRow, CsvRows};
pub use features::labels_to_signs;
pub use io::{read_matrix, read_matrix_csv, read_vector, read_vector_csv, SystemFile};
pub use kernel::{
    validate_strength_floor, Decomposition, Truncation, DEFAULT_KERNEL_STRENGTH_FLOOR,
    NEGATIVE_EIGENVALUE_TOLERANCE, SYMMETRY_TOLERANCE,
};
pub use many::LoadedSystem;
pub use multiclass::{class_labels, MulticlassSystem};
pub use npy::{npy_bytes, parse_npy, read_npy, write_npy, NpyArray};
pub use random::{haar_coupling, Spectrum, RANDOM_MAX_ENTRIES, RANDOM_MAX_EXAMPLES};

use nalgebra::{DMatrix, DVector};

use crate::error::{Error, InputError, Result};

/// Largest allowed max |UᵀU − I|. Loose enough for a coupling typed by hand with six or seven
/// digits, tight enough that the z-dynamics of docs/theory.md §3.2 (which assume UᵀU = I) are right
/// to that order.
pub const ORTHOGONALITY_TOLERANCE: f64 = 1e-6;

/// A validated feature system: strengths and coupling, optionally with the features V.
///
/// Invariants: `strengths.len() == coupling.ncols() == r ≤ n == coupling.nrows()`, all strengths
/// finite and ≥ 0, max |UᵀU − I| ≤ [`ORTHOGONALITY_TOLERANCE`], and if `features` is present it is
/// p × r with orthonormal columns.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureSystem {
    strengths: DVector<f64>,
    coupling: DMatrix<f64>,
    features: Option<DMatrix<f64>>,
    /// The labels y as ±1, one per example, when the source gave them (features or kernel with
    /// labels, a system file with `labels`): the label-signed U already holds them; per-class
    /// settings (docs/theory.md §10.1) need them apart.
    labels: Option<DVector<f64>>,
}

impl FeatureSystem {
    /// Build a system from strengths s and coupling U (n × r, orthonormal columns).
    pub fn new(strengths: DVector<f64>, coupling: DMatrix<f64>) -> Result<Self> {
        Self::validated(strengths, coupling, true)
    }

    /// [`FeatureSystem::new`] for a coupling orthonormal by construction (the Q of a Householder
    /// QR, orthonormal to O(nε)): every check but max |UᵀU − I|, which costs O(nr²) — as much as
    /// the QR itself for a square Haar coupling.
    pub(crate) fn from_orthonormal_coupling(
        strengths: DVector<f64>,
        coupling: DMatrix<f64>,
    ) -> Result<Self> {
        Self::validated(strengths, coupling, false)
    }

    fn validated(
        strengths: DVector<f64>,
        coupling: DMatrix<f64>,
        check_orthonormality: bool,
    ) -> Result<Self> {
        for (j, &s) in strengths.iter().enumerate() {
            if !s.is_finite() || s < 0.0 {
                return Err(Error::Input(InputError::InvalidStrength {
                    index: j + 1,
                    value: s,
                }));
            }
        }
        check_finite("coupling U", &coupling)?;
        let (n, r) = coupling.shape();
        if r != strengths.len() {
            return Err(Error::Input(InputError::Length {
                what: "strengths",
                found: strengths.len(),
                expected: r,
                rule: "one per column of the coupling U",
            }));
        }
        if r == 0 {
            return Err(Error::Input(InputError::Empty {
                what: "feature system",
                rule: "it needs at least one feature",
            }));
        }
        if r > n {
            return Err(Error::Input(InputError::MatrixShape {
                what: "coupling U".into(),
                rows: n,
                cols: r,
                rule: "it cannot have more columns (features) than rows (examples)",
            }));
        }
        if check_orthonormality {
            let deviation = orthonormality_deviation(&coupling);
            if deviation > ORTHOGONALITY_TOLERANCE {
                return Err(Error::Input(InputError::NotOrthogonal {
                    what: "coupling U",
                    symbol: "U",
                    deviation,
                    tolerance: ORTHOGONALITY_TOLERANCE,
                }));
            }
        }
        Ok(Self {
            strengths,
            coupling,
            features: None,
            labels: None,
        })
    }

    /// Attach the labels of the examples (±1 or 0/1, one per example; stored as ±1).
    pub fn with_labels(mut self, labels: &[f64]) -> Result<Self> {
        if labels.len() != self.examples() {
            return Err(Error::Input(InputError::Length {
                what: "labels",
                found: labels.len(),
                expected: self.examples(),
                rule: "one per example (row of U)",
            }));
        }
        self.labels = Some(labels_to_signs(labels)?);
        Ok(self)
    }

    /// The labels y as ±1, when the system carries them.
    pub fn labels(&self) -> Option<&DVector<f64>> {
        self.labels.as_ref()
    }

    /// Attach the features V (p × r, orthonormal columns), so that θ-space runs can use them.
    pub fn with_features(mut self, features: DMatrix<f64>) -> Result<Self> {
        check_finite("features V", &features)?;
        if features.ncols() != self.rank() {
            return Err(Error::Input(InputError::Length {
                what: "columns of the features V",
                found: features.ncols(),
                expected: self.rank(),
                rule: "one per feature",
            }));
        }
        let deviation = orthonormality_deviation(&features);
        if deviation > ORTHOGONALITY_TOLERANCE {
            return Err(Error::Input(InputError::NotOrthogonal {
                what: "features V",
                symbol: "V",
                deviation,
                tolerance: ORTHOGONALITY_TOLERANCE,
            }));
        }
        self.features = Some(features);
        Ok(self)
    }

    /// The two-feature rotation family of docs/theory.md §5.4:
    /// U(δ) = [[√(1−δ²), −δ], [δ, √(1−δ²)]], s = (s₁, s₂). Requires |δ| ≤ 1.
    pub fn rotation(s1: f64, s2: f64, delta: f64) -> Result<Self> {
        if !delta.is_finite() || delta.abs() > 1.0 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "coupling δ",
                value: delta,
                rule: "the rotation family needs |δ| ≤ 1",
            }));
        }
        let c = (1.0 - delta * delta).sqrt();
        let u = DMatrix::from_row_slice(2, 2, &[c, -delta, delta, c]);
        // UᵀU = (c² + δ²) I = I to rounding: orthonormal by construction.
        Self::from_orthonormal_coupling(DVector::from_vec(vec![s1, s2]), u)
    }

    /// The decoupled system U = I with the given strengths.
    pub fn decoupled(strengths: &[f64]) -> Result<Self> {
        let n = strengths.len();
        Self::new(
            DVector::from_column_slice(strengths),
            DMatrix::identity(n, n),
        )
    }

    /// Number of examples n (rows of U).
    pub fn examples(&self) -> usize {
        self.coupling.nrows()
    }

    /// Number of features r (columns of U, length of s, length of z).
    pub fn rank(&self) -> usize {
        self.coupling.ncols()
    }

    /// The strengths s₁ … s_r.
    pub fn strengths(&self) -> &DVector<f64> {
        &self.strengths
    }

    /// The squared strengths s_j², the diagonal of S².
    pub fn strengths_squared(&self) -> DVector<f64> {
        self.strengths.map(|s| s * s)
    }

    /// The coupling U (n × r).
    pub fn coupling(&self) -> &DMatrix<f64> {
        &self.coupling
    }

    /// The features V (p × r), when the system came from features.
    pub fn features(&self) -> Option<&DMatrix<f64>> {
        self.features.as_ref()
    }

    /// The largest strength s₁ (strengths need not be sorted).
    pub fn max_strength(&self) -> f64 {
        self.strengths.iter().fold(0.0, |a: f64, &b| a.max(b))
    }

    /// The label-signed NTK Gram matrix K = U S² Uᵀ (n × n, docs/theory.md §1.3).
    pub fn gram(&self) -> DMatrix<f64> {
        let us = scale_columns(&self.coupling, &self.strengths_squared());
        &us * self.coupling.transpose()
    }

    /// Uᵀ1: the response of each feature to a uniform margin (docs/theory.md §4.2, SD steady
    /// state).
    pub fn coupling_column_sums(&self) -> DVector<f64> {
        self.coupling.row_sum().transpose()
    }

    /// Margins m = U z for responses z (docs/theory.md §1.3).
    pub fn margins(&self, responses: &DVector<f64>) -> DVector<f64> {
        &self.coupling * responses
    }

    /// The same system with new strengths (same coupling and features).
    pub fn with_strengths(&self, strengths: DVector<f64>) -> Result<Self> {
        let mut next = Self::new(strengths, self.coupling.clone())?;
        next.features = self.features.clone();
        next.labels = self.labels.clone();
        Ok(next)
    }

    /// The coupling δ when this is a member of the rotation family (docs/theory.md §5.4), i.e. a
    /// 2 × 2 coupling U = [[√(1−δ²), −δ], [δ, √(1−δ²)]] (to 1e-12): δ = U₂₁. `None` otherwise.
    pub fn rotation_coupling(&self) -> Option<f64> {
        let u = &self.coupling;
        if u.shape() != (2, 2) {
            return None;
        }
        let delta = u[(1, 0)];
        let c = (1.0 - delta * delta).max(0.0).sqrt();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12;
        (close(u[(0, 0)], c) && close(u[(1, 1)], c) && close(u[(0, 1)], -delta)).then_some(delta)
    }

    /// [`FeatureSystem::with_strengths`] without the features and without re-checking the
    /// coupling, which this system's construction already validated (the strengths are
    /// checked): for sweeps that substitute strengths at every grid point.
    pub(crate) fn with_strengths_of_valid_coupling(&self, strengths: DVector<f64>) -> Result<Self> {
        Self::from_orthonormal_coupling(strengths, self.coupling.clone())
    }
}

/// max_ij |(AᵀA − I)_ij| for a matrix A with (supposedly) orthonormal columns;
/// AᵀA by faer's GEMM on A itself (no transposed copy: O(r²) memory beyond A).
pub fn orthonormality_deviation(a: &DMatrix<f64>) -> f64 {
    let (n, r) = a.shape();
    let view = faer::MatRef::from_column_major_slice(a.as_slice(), n, r);
    let par = if n * r * r >= 1 << 21 {
        faer::Par::rayon(0)
    } else {
        faer::Par::Seq
    };
    let mut gram = faer::Mat::<f64>::zeros(r, r);
    faer::linalg::matmul::matmul(
        gram.as_mut(),
        faer::Accum::Replace,
        view.transpose(),
        view,
        1.0,
        par,
    );
    let mut worst: f64 = 0.0;
    for i in 0..gram.nrows() {
        for j in 0..gram.ncols() {
            let target = if i == j { 1.0 } else { 0.0 };
            worst = worst.max((gram[(i, j)] - target).abs());
        }
    }
    worst
}

/// A · diag(d): scale column j of `a` by `d[j]`.
pub(crate) fn scale_columns(a: &DMatrix<f64>, d: &DVector<f64>) -> DMatrix<f64> {
    let mut out = a.clone();
    for (j, mut col) in out.column_iter_mut().enumerate() {
        col *= d[j];
    }
    out
}

/// Reject a matrix with a NaN or infinite entry, naming its position.
pub fn check_finite(what: &str, a: &DMatrix<f64>) -> Result<()> {
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let v = a[(i, j)];
            if !v.is_finite() {
                return Err(Error::Input(InputError::NonFinite {
                    what: what.to_string(),
                    row: i + 1,
                    col: j + 1,
                    value: v,
                }));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::InputError;

    #[test]
    fn rotation_is_orthogonal_with_expected_column_sums() {
        let sys = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
        let sums = sys.coupling_column_sums();
        // docs/theory.md §6.1: Uᵀ1 = (1.366025, 0.366025) for δ = 0.5.
        assert!((sums[0] - 1.366025).abs() < 1e-6);
        assert!((sums[1] - 0.366025).abs() < 1e-6);
        assert!(orthonormality_deviation(sys.coupling()) < 1e-15);
    }

    #[test]
    fn rejects_non_orthogonal_coupling() {
        let u = DMatrix::from_row_slice(2, 2, &[1.0, 0.1, 0.0, 1.0]);
        let err = FeatureSystem::new(DVector::from_vec(vec![1.0, 1.0]), u).unwrap_err();
        assert!(
            matches!(err, Error::Input(InputError::NotOrthogonal { deviation, .. }) if (deviation - 0.1).abs() < 1e-12)
        );
    }

    #[test]
    fn rejects_negative_and_nan_strengths_and_bad_shapes() {
        let u = DMatrix::identity(2, 2);
        assert!(matches!(
            FeatureSystem::new(DVector::from_vec(vec![1.0, -1.0]), u.clone()),
            Err(Error::Input(InputError::InvalidStrength { index: 2, .. }))
        ));
        assert!(matches!(
            FeatureSystem::new(DVector::from_vec(vec![f64::NAN, 1.0]), u.clone()),
            Err(Error::Input(InputError::InvalidStrength { index: 1, .. }))
        ));
        assert!(matches!(
            FeatureSystem::new(DVector::from_vec(vec![1.0, 1.0, 1.0]), u),
            Err(Error::Input(InputError::Length {
                what: "strengths",
                found: 3,
                expected: 2,
                ..
            }))
        ));
        assert!(FeatureSystem::rotation(1.0, 1.0, 1.5).is_err());
    }

    #[test]
    fn gram_matrix_is_u_s2_ut() {
        let sys = FeatureSystem::rotation(3.0, 1.0, 0.3).unwrap();
        let k = sys.gram();
        let s2 = DMatrix::from_diagonal(&sys.strengths_squared());
        let expected = sys.coupling() * s2 * sys.coupling().transpose();
        assert!((k - expected).abs().max() < 1e-14);
    }
}
