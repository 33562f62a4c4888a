//! Feature systems from an NTK Gram matrix, and negligible strengths (docs/theory.md §8.6).
//!
//! A researcher's network gives an unsigned kernel Θ (n × n, symmetric positive semi-definite,
//! e.g. from neural-tangents or a product of per-example Jacobians). With the labels, the
//! label-signed kernel K = YΘY = U S² Uᵀ has the strengths squared as its eigenvalues and the
//! coupling as its eigenvectors; the features V are unknown and not needed.
//!
//! An eigendecomposition resolves eigenvalues only to about ε·λ_max, so eigenvalues at or below
//! a relative floor (by default [`DEFAULT_KERNEL_STRENGTH_FLOOR`]·s₁², and every small negative
//! one from rounding) are zero strengths: such a feature never moves (ż_j = −λ z_j), so it is
//! dropped, r shrinks, and the [`Truncation`] says how much was dropped. An eigenvalue below
//! −[`NEGATIVE_EIGENVALUE_TOLERANCE`]·λ_max means the matrix is not a kernel: an error.

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use super::{check_finite, labels_to_signs, FeatureSystem};
use crate::error::{Error, InputError, Result};
use crate::sweeps::progress::Stage;

/// The default relative floor on s² for kernel inputs: eigenvalues of K at or below 1e-12·s₁²
/// are zero strengths (the eigensolver's rounding is about 1e-16·s₁²).
pub const DEFAULT_KERNEL_STRENGTH_FLOOR: f64 = 1e-12;
/// Largest relative asymmetry max|Θ − Θᵀ| / max|Θ| accepted in a kernel.
pub const SYMMETRY_TOLERANCE: f64 = 1e-8;
/// Largest relative negative eigenvalue −λ_min/λ_max accepted in a kernel (rounding).
pub const NEGATIVE_EIGENVALUE_TOLERANCE: f64 = 1e-8;

/// What building a system left out: features whose strength is negligible.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Truncation {
    /// Features dropped (s_j² ≤ floor·s₁²).
    pub dropped_features: usize,
    /// Σ_dropped s_j² / Σ_all s_j² (0 when nothing was dropped).
    pub dropped_strength_share: f64,
    /// The relative floor on s² that was applied.
    pub strength_floor: f64,
    /// The number of features kept when a rank R was asked for (the top R strengths,
    /// docs/theory.md §8.7); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<usize>,
    /// How the spectrum was found, for systems decomposed from a kernel or features; absent
    /// when the strengths were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decomposition: Option<Decomposition>,
}

impl Truncation {
    /// This truncation followed by `later`, which acted on what this one kept: the dropped
    /// features add up, and `later`'s share is of the remaining Σs², so the shares compose as
    /// a + (1 − a)·b. The floor is the one applied (a rank-only truncation records 0), the rank
    /// the latest asked for, the decomposition the first one's.
    pub fn then(self, later: Truncation) -> Truncation {
        let a = self.dropped_strength_share;
        Truncation {
            dropped_features: self.dropped_features + later.dropped_features,
            dropped_strength_share: a + (1.0 - a) * later.dropped_strength_share,
            strength_floor: self.strength_floor.max(later.strength_floor),
            rank: later.rank.or(self.rank),
            decomposition: self.decomposition.or(later.decomposition),
        }
    }
}

/// How a system's spectrum was computed (docs/theory.md §8.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decomposition {
    /// The dense decomposition: every eigenpair or singular triplet.
    Full,
    /// The top pairs only, by block subspace iteration, settled on its residual test.
    SubspaceIteration,
    /// Subspace iteration did not settle within its iteration limit, so the dense decomposition
    /// was used (right, at its cost).
    FullAfterSubspaceIteration,
}

impl Decomposition {
    /// The decomposition used when a partial one was asked for (`asked`) and it `settled`.
    pub(crate) fn of(asked: bool, settled: bool) -> Self {
        match (asked, settled) {
            (false, _) => Decomposition::Full,
            (true, true) => Decomposition::SubspaceIteration,
            (true, false) => Decomposition::FullAfterSubspaceIteration,
        }
    }
}

/// Σ_dropped s² / Σ_all s² from the total and the kept sum (0 for an all-zero total; never
/// negative from rounding).
pub(crate) fn dropped_share(total: f64, kept: f64) -> f64 {
    if total > 0.0 {
        ((total - kept) / total).max(0.0)
    } else {
        0.0
    }
}

/// Check a relative strength floor: finite, 0 ≤ floor < 1.
pub fn validate_strength_floor(floor: f64) -> Result<f64> {
    if floor.is_finite() && (0.0..1.0).contains(&floor) {
        Ok(floor)
    } else {
        Err(Error::Input(InputError::InvalidParameter {
            name: "strength_floor",
            value: floor,
            rule: "the relative floor on s² must be in [0, 1)",
        }))
    }
}

impl FeatureSystem {
    /// The feature system of an unsigned kernel Θ (n × n) and labels (±1 or 0/1): the
    /// eigendecomposition K = YΘY = U S² Uᵀ (faer's self-adjoint eigensolver), strengths sorted
    /// s₁ ≥ … ≥ s_r, eigenvalues ≤ `strength_floor`·s₁² dropped (docs/theory.md §8.6).
    ///
    /// Orientation as [`FeatureSystem::from_features`]: each column of U with (Uᵀ1)_j ≥ 0.
    /// Errors: a non-square or non-finite Θ, labels of the wrong length or values, a relative
    /// asymmetry above [`SYMMETRY_TOLERANCE`], an eigenvalue below
    /// −[`NEGATIVE_EIGENVALUE_TOLERANCE`]·λ_max, or a kernel with no strength above the floor.
    pub fn from_kernel(
        kernel: &DMatrix<f64>,
        labels: &[f64],
        strength_floor: f64,
    ) -> Result<(Self, Truncation)> {
        Self::from_kernel_top(kernel, labels, strength_floor, None)
    }

    /// [`FeatureSystem::from_kernel`] keeping at most the top `rank` features (docs/theory.md
    /// §8.7). When max(64, 2·rank) < n the decomposition is partial: block subspace
    /// iteration (`systems::partial`, falling back to the full decomposition if it does not
    /// settle) finds the `rank` largest eigenpairs of K in O(n²·rank) time per iteration and
    /// O(n·rank) memory beyond Θ, and
    /// the dropped share uses Σ_all s² = trace(YΘY) = trace(Θ), exact without the rest of the
    /// spectrum. Negative eigenvalues are then checked among those found only. `None` keeps
    /// every feature above the floor.
    pub fn from_kernel_top(
        kernel: &DMatrix<f64>,
        labels: &[f64],
        strength_floor: f64,
        rank: Option<usize>,
    ) -> Result<(Self, Truncation)> {
        let strength_floor = validate_strength_floor(strength_floor)?;
        check_finite("kernel Θ", kernel)?;
        let (n, p) = kernel.shape();
        if n != p || n == 0 {
            return Err(Error::Input(InputError::MatrixShape {
                what: "kernel Θ".into(),
                rows: n,
                cols: p,
                rule: "a kernel is square (n × n) and not empty",
            }));
        }
        if labels.len() != n {
            return Err(Error::Input(InputError::Length {
                what: "labels",
                found: labels.len(),
                expected: n,
                rule: "one per row (example) of the kernel Θ",
            }));
        }
        let scale = kernel.amax();
        let asymmetry = (kernel - kernel.transpose()).amax() / scale.max(f64::MIN_POSITIVE);
        if asymmetry > SYMMETRY_TOLERANCE {
            return Err(Error::Input(InputError::NotSymmetric {
                what: "kernel Θ",
                asymmetry,
                tolerance: SYMMETRY_TOLERANCE,
            }));
        }
        let y = labels_to_signs(labels)?;
        // K = YΘY, symmetrised (the eigensolvers read one triangle, or all of it).
        let signed = faer::Mat::<f64>::from_fn(n, n, |i, j| {
            0.5 * y[i] * y[j] * (kernel[(i, j)] + kernel[(j, i)])
        });
        let partial = rank.filter(|&r| partial_pays(r, n));
        // The partial solver may stop short (e.g. a kernel of rank below its Krylov space):
        // then the full decomposition, which is always right.
        let found = partial.and_then(|r| super::partial::top_eigenpairs(signed.as_ref(), r));
        let decomposition = Decomposition::of(partial.is_some(), found.is_some());
        let (values, vectors) = match found {
            Some(pairs) => pairs,
            None => all_eigenpairs(signed.as_ref())?,
        };
        let partial = partial.filter(|_| values.len() < n);
        // Nonincreasing order: the largest eigenvalue is the first.
        let largest = values[0];
        let smallest = values.iter().copied().fold(f64::INFINITY, f64::min);
        if largest.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err(Error::Input(InputError::Empty {
                what: "kernel Θ",
                rule: "it has no positive eigenvalue: every strength would be zero",
            }));
        }
        if smallest < -NEGATIVE_EIGENVALUE_TOLERANCE * largest {
            return Err(Error::Input(InputError::NotPositiveSemidefinite {
                what: "kernel Θ",
                eigenvalue: smallest,
                largest,
                tolerance: NEGATIVE_EIGENVALUE_TOLERANCE,
            }));
        }
        let threshold = strength_floor * largest;
        let limit = rank.unwrap_or(n).min(values.len());
        let kept: Vec<usize> = (0..limit).filter(|&j| values[j] > threshold).collect();
        // Σ_all s² without the full spectrum: trace(YΘY) = trace(Θ). The full decomposition
        // sums its nonnegative eigenvalues, as it always has.
        let total: f64 = match partial {
            Some(_) => (0..n).map(|i| signed[(i, i)]).sum(),
            None => values.iter().map(|v| v.max(0.0)).sum(),
        };
        let kept_sum: f64 = kept.iter().map(|&j| values[j]).sum();
        let mut strengths = DVector::zeros(kept.len());
        let mut coupling = DMatrix::zeros(n, kept.len());
        for (k, &j) in kept.iter().enumerate() {
            strengths[k] = values[j].sqrt();
            let column_sum: f64 = (0..n).map(|i| vectors[(i, j)]).sum();
            let sign = if column_sum < 0.0 { -1.0 } else { 1.0 };
            for i in 0..n {
                coupling[(i, k)] = sign * vectors[(i, j)];
            }
        }
        let truncation = Truncation {
            dropped_features: n - kept.len(),
            dropped_strength_share: dropped_share(total, kept_sum),
            strength_floor,
            rank,
            decomposition: Some(decomposition),
        };
        let system = FeatureSystem::new(strengths, coupling)?.with_labels(labels)?;
        Ok((system, truncation))
    }

    /// The same system without the features whose strength is negligible, s_j² ≤ floor·s₁²
    /// (the features V, when present, lose the same columns). Order is kept.
    pub fn drop_negligible(self, strength_floor: f64) -> Result<(Self, Truncation)> {
        let strength_floor = validate_strength_floor(strength_floor)?;
        let s2 = self.strengths_squared();
        let largest = s2.max();
        let threshold = strength_floor * largest;
        let kept: Vec<usize> = (0..s2.len()).filter(|&j| s2[j] > threshold).collect();
        if kept.is_empty() {
            return Err(Error::Input(InputError::Empty {
                what: "feature system",
                rule: "every strength is at or below the strength floor",
            }));
        }
        let total = s2.sum();
        let kept_sum: f64 = kept.iter().map(|&j| s2[j]).sum();
        let truncation = Truncation {
            dropped_features: s2.len() - kept.len(),
            dropped_strength_share: dropped_share(total, kept_sum),
            strength_floor,
            rank: None,
            decomposition: None,
        };
        if truncation.dropped_features == 0 {
            return Ok((self, truncation));
        }
        let strengths = DVector::from_iterator(kept.len(), kept.iter().map(|&j| self.strengths[j]));
        let mut next = FeatureSystem::new(strengths, self.coupling.select_columns(&kept))?;
        if let Some(v) = &self.features {
            next = next.with_features(v.select_columns(&kept))?;
        }
        next.labels = self.labels.clone();
        Ok((next, truncation))
    }
}

impl FeatureSystem {
    /// The top `rank` features by strength (docs/theory.md §8.7): the others are dropped, with
    /// their share Σ_dropped s² / Σ_all s² (the features V, when present, lose the same columns).
    /// Order is kept; ties are broken by position. `rank` ≥ r keeps everything.
    pub fn keep_top(self, rank: usize) -> Result<(Self, Truncation)> {
        if rank == 0 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "rank",
                value: 0.0,
                rule: "the number of features kept must be at least 1",
            }));
        }
        let s2 = self.strengths_squared();
        let r = s2.len();
        let mut order: Vec<usize> = (0..r).collect();
        order.sort_by(|&a, &b| s2[b].total_cmp(&s2[a]).then(a.cmp(&b)));
        let mut kept = order[..rank.min(r)].to_vec();
        kept.sort_unstable();
        let kept_sum: f64 = kept.iter().map(|&j| s2[j]).sum();
        let truncation = Truncation {
            dropped_features: r - kept.len(),
            dropped_strength_share: dropped_share(s2.sum(), kept_sum),
            strength_floor: 0.0,
            rank: Some(rank),
            decomposition: None,
        };
        if truncation.dropped_features == 0 {
            return Ok((self, truncation));
        }
        let strengths = DVector::from_iterator(kept.len(), kept.iter().map(|&j| self.strengths[j]));
        let mut next = FeatureSystem::new(strengths, self.coupling.select_columns(&kept))?;
        if let Some(v) = &self.features {
            next = next.with_features(v.select_columns(&kept))?;
        }
        next.labels = self.labels.clone();
        Ok((next, truncation))
    }
}

/// Whether a partial decomposition of rank r is used for a matrix whose smaller side is k: when
/// max(64, 2r) < k; below that the full decomposition is as cheap.
pub(crate) fn partial_pays(r: usize, k: usize) -> bool {
    (2 * r).max(64) < k
}

/// Every eigenpair of the symmetric matrix K (faer's self-adjoint eigensolver), eigenvalues in
/// nonincreasing order, eigenvectors as the columns of the returned matrix.
fn all_eigenpairs(k: faer::MatRef<'_, f64>) -> Result<(Vec<f64>, faer::Mat<f64>)> {
    let n = k.nrows();
    let _stage = Stage::begin("eigendecomposition of YΘY", "", 0);
    let evd = k.self_adjoint_eigen(faer::Side::Lower).map_err(|_| {
        Error::Input(InputError::Unsupported(
            "the eigendecomposition of YΘY did not converge".to_string(),
        ))
    })?;
    let (u, s) = (evd.U(), evd.S().column_vector());
    // faer's order is nondecreasing.
    let values = (0..n).rev().map(|j| s[j]).collect();
    let vectors = faer::Mat::from_fn(n, n, |i, j| u[(i, n - 1 - j)]);
    Ok((values, vectors))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A floor that drops 10 % of Σs², then a rank that drops half of what is left: 55 %.
    #[test]
    fn truncations_compose_on_what_the_first_kept() {
        let floor = Truncation {
            dropped_features: 2,
            dropped_strength_share: 0.1,
            strength_floor: 1e-12,
            rank: None,
            decomposition: Some(Decomposition::Full),
        };
        let top = Truncation {
            dropped_features: 1,
            dropped_strength_share: 0.5,
            strength_floor: 0.0,
            rank: Some(3),
            decomposition: None,
        };
        let both = floor.then(top);
        assert_eq!(both.dropped_features, 3);
        assert!((both.dropped_strength_share - 0.55).abs() < 1e-15);
        assert_eq!((both.strength_floor, both.rank), (1e-12, Some(3)));
        assert_eq!(both.decomposition, Some(Decomposition::Full));
        // The other order: the floor's share is of what the rank kept.
        let other = top.then(floor);
        assert!((other.dropped_strength_share - 0.55).abs() < 1e-15);
        assert_eq!((other.strength_floor, other.rank), (1e-12, Some(3)));
    }
    use crate::model::{Loss, PrimalDynamics, Regulariser};
    use crate::solvers::steady::steady_state;

    fn features() -> (DMatrix<f64>, Vec<f64>) {
        let phi = DMatrix::from_fn(6, 9, |i, j| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
        (phi, vec![1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
    }

    /// The kernel path and the features path give the same system: strengths, margins and the
    /// steady state (U and V are determined up to the orientation both paths fix the same way).
    #[test]
    fn kernel_input_matches_features_input() {
        let (phi, y) = features();
        let from_features = FeatureSystem::from_features(&phi, &y).unwrap();
        let theta = &phi * phi.transpose();
        let (from_kernel, truncation) = FeatureSystem::from_kernel(&theta, &y, 0.0).unwrap();
        assert_eq!(truncation.dropped_features, 0);
        let (a, b) = (from_features.strengths(), from_kernel.strengths());
        assert!((a - b).amax() < 1e-12 * a[0], "{a} vs {b}");
        for sys in [&from_features, &from_kernel] {
            assert!(sys.coupling_column_sums().iter().all(|&c| c >= 0.0));
        }
        let reg = Regulariser::L2 { lambda: 0.05 };
        let za = steady_state(&PrimalDynamics::new(&from_features, Loss::Logistic, reg).unwrap())
            .unwrap();
        let zb =
            steady_state(&PrimalDynamics::new(&from_kernel, Loss::Logistic, reg).unwrap()).unwrap();
        assert!(
            (&za.margins - &zb.margins).amax() < 1e-9,
            "{} vs {}",
            za.margins,
            zb.margins
        );
        assert!((&za.responses - &zb.responses).amax() < 1e-9);
    }

    /// A rank-deficient kernel (p < n) loses exactly its zero eigenvalues, and says so.
    #[test]
    fn zero_eigenvalues_are_dropped_and_reported() {
        let (phi, y) = features();
        let thin = phi.columns(0, 3).into_owned();
        let theta = &thin * thin.transpose();
        let (sys, t) =
            FeatureSystem::from_kernel(&theta, &y, DEFAULT_KERNEL_STRENGTH_FLOOR).unwrap();
        assert_eq!((sys.rank(), t.dropped_features), (3, 3));
        assert!(t.dropped_strength_share < 1e-14, "{t:?}");
        let direct = FeatureSystem::from_features(&thin, &y).unwrap();
        assert!((direct.strengths() - sys.strengths()).amax() < 1e-10);
        // A floor between the strengths drops the weakest kept one, with its share.
        let s2 = sys.strengths_squared();
        let floor = 0.5 * (s2[1] + s2[2]) / s2[0];
        let (fewer, t) = FeatureSystem::from_kernel(&theta, &y, floor).unwrap();
        assert_eq!((fewer.rank(), t.dropped_features), (2, 4));
        assert!((t.dropped_strength_share - s2[2] / s2.sum()).abs() < 1e-12);
        let (same, t2) = direct.drop_negligible(floor).unwrap();
        assert_eq!(same.rank(), 2);
        assert!((t2.dropped_strength_share - t.dropped_strength_share).abs() < 1e-12);
        assert_eq!(same.features().unwrap().ncols(), 2);
    }

    #[test]
    fn bad_kernels_are_rejected() {
        let (phi, y) = features();
        let theta = &phi * phi.transpose();
        let mut asym = theta.clone();
        asym[(0, 1)] += 1e-6 * theta.amax();
        assert!(matches!(
            FeatureSystem::from_kernel(&asym, &y, 0.0),
            Err(Error::Input(InputError::NotSymmetric { .. }))
        ));
        let mut indefinite = theta.clone();
        indefinite[(0, 0)] -= 1e3;
        assert!(matches!(
            FeatureSystem::from_kernel(&indefinite, &y, 0.0),
            Err(Error::Input(InputError::NotPositiveSemidefinite { .. }))
        ));
        assert!(matches!(
            FeatureSystem::from_kernel(&theta, &y[..5], 0.0),
            Err(Error::Input(InputError::Length {
                what: "labels",
                found: 5,
                expected: 6,
                ..
            }))
        ));
        assert!(matches!(
            FeatureSystem::from_kernel(&theta.columns(0, 5).into_owned(), &y, 0.0),
            Err(Error::Input(InputError::MatrixShape { .. }))
        ));
        assert!(FeatureSystem::from_kernel(&theta, &y, 1.5).is_err());
        assert!(FeatureSystem::from_kernel(&DMatrix::zeros(6, 6), &y, 0.0).is_err());
    }

    /// A 300-example kernel of rank 300 with a decaying spectrum: Θ = ΦΦᵀ, Φ with columns
    /// scaled by 0.97^j (deterministic).
    fn decaying_features(n: usize, p: usize) -> (DMatrix<f64>, Vec<f64>) {
        use rand::SeedableRng;
        use rand_distr::{Distribution, StandardNormal};
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(5);
        let phi = DMatrix::from_fn(n, p, |_, j| {
            let g: f64 = StandardNormal.sample(&mut rng);
            g * 0.97f64.powi(j as i32)
        });
        let labels = (0..n)
            .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        (phi, labels)
    }

    /// The partial eigendecomposition's top-R strengths and |U| columns agree with the full
    /// one's; the dropped share from trace(Θ) equals the full spectrum's tail share.
    #[test]
    fn partial_kernel_decomposition_matches_the_full_one() {
        let (phi, y) = decaying_features(300, 300);
        let theta = &phi * phi.transpose();
        let (full, _) = FeatureSystem::from_kernel(&theta, &y, 0.0).unwrap();
        let (top, t) = FeatureSystem::from_kernel_top(&theta, &y, 0.0, Some(10)).unwrap();
        assert_eq!(
            (top.rank(), t.dropped_features, t.rank),
            (10, 290, Some(10))
        );
        let (a, b) = (full.strengths().rows(0, 10), top.strengths());
        let rel = (a - b).amax() / a[0];
        assert!(rel < 1e-10, "strengths: {rel:e}");
        let (ua, ub) = (full.coupling().columns(0, 10), top.coupling());
        let gap = (ua.abs() - ub.abs()).amax();
        assert!(gap < 1e-7, "|U|: {gap:e}");
        let s2 = full.strengths_squared();
        let share = s2.rows(10, 290).sum() / s2.sum();
        assert!(
            (t.dropped_strength_share - share).abs() < 1e-10 * share,
            "{t:?} vs {share}"
        );
        // R = full rank through the same entry point: the full decomposition, unchanged.
        let (same, t) = FeatureSystem::from_kernel_top(&theta, &y, 0.0, Some(300)).unwrap();
        assert_eq!(same, full);
        assert_eq!(t.dropped_features, 0);
    }

    /// The partial SVD of YΦ (p > n) agrees with the full one: strengths, |U| and |V| columns;
    /// R = full rank reproduces the full system exactly.
    #[test]
    fn partial_svd_matches_the_full_one() {
        let (phi, y) = decaying_features(120, 200);
        let full = FeatureSystem::from_features(&phi, &y).unwrap();
        let (top, t) = FeatureSystem::from_features_top(&phi, &y, Some(8)).unwrap();
        assert_eq!((top.rank(), t.dropped_features), (8, 112));
        let rel = (full.strengths().rows(0, 8) - top.strengths()).amax() / full.strengths()[0];
        assert!(rel < 1e-10, "strengths: {rel:e}");
        let gap = (full.coupling().columns(0, 8).abs() - top.coupling().abs()).amax();
        assert!(gap < 1e-7, "|U|: {gap:e}");
        let (fv, tv) = (full.features().unwrap(), top.features().unwrap());
        assert!((fv.columns(0, 8).abs() - tv.abs()).amax() < 1e-7);
        let s2 = full.strengths_squared();
        let share = s2.rows(8, 112).sum() / s2.sum();
        assert!((t.dropped_strength_share - share).abs() < 1e-10 * share);
        let (same, t) = FeatureSystem::from_features_top(&phi, &y, Some(120)).unwrap();
        assert_eq!((same, t.dropped_features), (full, 0));
    }

    #[test]
    fn keep_top_keeps_the_largest_strengths_in_order() {
        let sys = FeatureSystem::decoupled(&[1.0, 3.0, 2.0, 0.5]).unwrap();
        let (top, t) = sys.clone().keep_top(2).unwrap();
        assert_eq!(top.strengths().as_slice(), &[3.0, 2.0]);
        assert_eq!(top.coupling().column(0)[1], 1.0);
        assert_eq!(t.dropped_features, 2);
        assert!((t.dropped_strength_share - 1.25 / 14.25).abs() < 1e-15);
        let (all, t) = sys.clone().keep_top(9).unwrap();
        assert_eq!((all, t.dropped_features), (sys.clone(), 0));
        assert!(sys.keep_top(0).is_err());
    }

    /// A kernel of rank 20 and features of rank 10, below the Krylov dimension 64, where the
    /// partial solvers can stall: the result is still the top of the full decomposition, in
    /// bounded time.
    #[test]
    fn rank_deficient_kernel_and_features_fall_back_or_converge() {
        let (phi, y) = decaying_features(150, 20);
        let theta = &phi * phi.transpose();
        let (full, _) = FeatureSystem::from_kernel(&theta, &y, 0.0).unwrap();
        let (top, t) = FeatureSystem::from_kernel_top(&theta, &y, 0.0, Some(5)).unwrap();
        assert_eq!((top.rank(), t.rank), (5, Some(5)));
        let rel = (full.strengths().rows(0, 5) - top.strengths()).amax() / full.strengths()[0];
        assert!(rel < 1e-10, "{rel:e}");
        // Features 100 × 120 of rank 10.
        let (a10, labels) = decaying_features(100, 10);
        let (b10, _) = decaying_features(120, 10);
        let wide = &a10 * b10.transpose();
        let (a, _) = FeatureSystem::from_features_top(&wide, &labels, Some(3)).unwrap();
        let b = FeatureSystem::from_features(&wide, &labels).unwrap();
        let rel = (a.strengths() - b.strengths().rows(0, 3)).amax() / b.strengths()[0];
        assert!(rel < 1e-10, "{rel:e}");
    }
}
