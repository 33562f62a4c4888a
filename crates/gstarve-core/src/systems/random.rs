//! Random feature systems: Haar-distributed couplings and parametric spectra, seeded.

use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use super::kernel::dropped_share;
use super::{FeatureSystem, Truncation};
use crate::error::{Error, InputError, Result};
use crate::sweeps::progress::Stage;

/// A spectrum of strengths s₁ ≥ … ≥ s_n.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Spectrum {
    /// Geometric from `from` (s₁) to `to` (s_n): s_j = from·(to/from)^{(j−1)/(n−1)}.
    Geometric {
        /// s₁.
        from: f64,
        /// s_n.
        to: f64,
    },
    /// Evenly spaced from `from` to `to`.
    Linear {
        /// s₁.
        from: f64,
        /// s_n.
        to: f64,
    },
}

impl Spectrum {
    /// The n strengths of this spectrum (each computed directly, no accumulated drift).
    pub fn strengths(&self, n: usize) -> Result<DVector<f64>> {
        let (from, to) = match *self {
            Spectrum::Geometric { from, to } | Spectrum::Linear { from, to } => (from, to),
        };
        for (name, v) in [("spectrum start", from), ("spectrum end", to)] {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::Input(InputError::InvalidParameter {
                    name,
                    value: v,
                    rule: "strengths must be finite and ≥ 0",
                }));
            }
        }
        if matches!(self, Spectrum::Geometric { .. }) && (from <= 0.0 || to <= 0.0) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "geometric spectrum end",
                value: from.min(to),
                rule: "a geometric spectrum needs strictly positive ends",
            }));
        }
        let t = |j: usize| {
            if n == 1 {
                0.0
            } else {
                j as f64 / (n - 1) as f64
            }
        };
        Ok(DVector::from_fn(n, |j, _| match *self {
            Spectrum::Geometric { .. } => from * (to / from).powf(t(j)),
            Spectrum::Linear { .. } => from + (to - from) * t(j),
        }))
    }
}

impl std::str::FromStr for Spectrum {
    type Err = Error;

    /// A geometric spectrum written `FROM:TO` (e.g. `10:0.1`: s₁ = 10, s_n = 0.1). Its values
    /// are checked when the strengths are made ([`Spectrum::strengths`]).
    fn from_str(text: &str) -> Result<Self> {
        let syntax = |problem: String| {
            Error::Input(InputError::Syntax {
                what: "spectrum",
                text: text.to_string(),
                problem,
            })
        };
        let (a, b) = text
            .split_once(':')
            .ok_or_else(|| syntax("must be FROM:TO, e.g. 10:0.1".into()))?;
        let number = |t: &str| {
            t.trim()
                .parse::<f64>()
                .map_err(|_| syntax(format!("'{t}' is not a number")))
        };
        Ok(Spectrum::Geometric {
            from: number(a)?,
            to: number(b)?,
        })
    }
}

/// Largest number of examples of a random system.
pub const RANDOM_MAX_EXAMPLES: usize = 1_000_000;
/// Largest n·r of a random system: its coupling takes 8·n·r bytes (3.2 GB here), and its QR about
/// twice that again while it is built. Allows n = 20000 with every feature, and n = 10⁶ with 400.
pub const RANDOM_MAX_ENTRIES: usize = 400_000_000;

/// A Haar-random orthogonal n × n matrix: [`haar_coupling`] with r = n.
pub fn haar_orthogonal(n: usize, seed: u64) -> DMatrix<f64> {
    haar_coupling(n, n, seed)
}

/// The first r columns of a Haar-random orthogonal n × n matrix, i.e. a Haar-distributed n × r
/// matrix with orthonormal columns: the thin QR (faer) of an n × r standard Gaussian matrix,
/// with the signs of R's diagonal moved into Q (Mezzadri 2007).
///
/// The Gaussian entries come from ChaCha12 (`rand_chacha::ChaCha12Rng::seed_from_u64(seed)`),
/// whose stream is value-stable across rand_chacha versions and platforms (rand's `StdRng`
/// promises neither), in column-major order. The first r columns of the n × n Gaussian matrix
/// are therefore the n × r one, and column j of Q depends only on columns 1…j of it: the n × r
/// coupling is the first r columns of the n × n one (to rounding), for the same seed.
/// Cost O(nr²) time and O(nr) memory.
pub fn haar_coupling(n: usize, r: usize, seed: u64) -> DMatrix<f64> {
    let _stage = Stage::begin("random Haar coupling", "", 0);
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(seed);
    let mut gaussian = faer::Mat::<f64>::zeros(n, r);
    for j in 0..r {
        for x in gaussian.col_mut(j).iter_mut() {
            *x = StandardNormal.sample(&mut rng);
        }
    }
    let qr = gaussian.qr();
    drop(gaussian);
    let q = qr.compute_thin_Q();
    let diagonal: Vec<f64> = (0..r).map(|j| qr.thin_R()[(j, j)]).collect();
    drop(qr);
    let mut coupling = DMatrix::zeros(n, r);
    for (j, mut column) in coupling.column_iter_mut().enumerate() {
        let sign = if diagonal[j] < 0.0 { -1.0 } else { 1.0 };
        for (i, x) in column.iter_mut().enumerate() {
            *x = sign * q[(i, j)];
        }
    }
    coupling
}

/// Check the size of a random system: 1 ≤ r ≤ n ≤ [`RANDOM_MAX_EXAMPLES`] and
/// n·r ≤ [`RANDOM_MAX_ENTRIES`].
fn check_random_size(n: usize, r: usize) -> Result<()> {
    if n == 0 || n > RANDOM_MAX_EXAMPLES {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "random system size n",
            value: n as f64,
            rule: "n must be between 1 and 1000000",
        }));
    }
    if r == 0 || r > n {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "rank",
            value: r as f64,
            rule: "the number of features kept must be between 1 and n",
        }));
    }
    if n.saturating_mul(r) > RANDOM_MAX_ENTRIES {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "random system size n·r",
            value: (n as f64) * (r as f64),
            rule: "the coupling U (n × r) may have at most 4·10⁸ entries (3.2 GB): keep fewer features",
        }));
    }
    Ok(())
}

impl FeatureSystem {
    /// A random system: n examples and features, Haar coupling, the given spectrum, a seed.
    pub fn random(n: usize, spectrum: Spectrum, seed: u64) -> Result<Self> {
        check_random_size(n, n)?;
        FeatureSystem::from_orthonormal_coupling(spectrum.strengths(n)?, haar_orthogonal(n, seed))
    }

    /// The top `rank` features of a random system of n examples (docs/theory.md §8.7): the
    /// `rank` largest strengths of the n-point spectrum, in the spectrum's order, with the Haar
    /// n × rank coupling of [`haar_coupling`]; the [`Truncation`] reports the rest of the
    /// spectrum as dropped (share Σ_dropped s² / Σ_all s²). For a nonincreasing spectrum
    /// (geometric or linear with from ≥ to) this is exactly the first `rank` features of
    /// [`FeatureSystem::random`] with the same seed, to rounding; never forms an n × n matrix.
    pub fn random_top(
        n: usize,
        rank: usize,
        spectrum: Spectrum,
        seed: u64,
    ) -> Result<(Self, Truncation)> {
        check_random_size(n, rank)?;
        let all = spectrum.strengths(n)?;
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| all[b].total_cmp(&all[a]).then(a.cmp(&b)));
        let mut kept = order[..rank].to_vec();
        kept.sort_unstable();
        let strengths = DVector::from_iterator(rank, kept.iter().map(|&j| all[j]));
        let total: f64 = all.iter().map(|s| s * s).sum();
        let kept_sum: f64 = strengths.iter().map(|s| s * s).sum();
        let truncation = Truncation {
            dropped_features: n - rank,
            dropped_strength_share: dropped_share(total, kept_sum),
            strength_floor: 0.0,
            rank: Some(rank),
            decomposition: None,
        };
        Ok((
            FeatureSystem::from_orthonormal_coupling(strengths, haar_coupling(n, rank, seed))?,
            truncation,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::orthonormality_deviation;

    #[test]
    fn geometric_spectrum_ends_exactly() {
        let s = Spectrum::Geometric {
            from: 10.0,
            to: 0.1,
        }
        .strengths(5)
        .unwrap();
        assert_eq!(s[0], 10.0);
        assert!((s[4] - 0.1).abs() < 1e-15);
        assert!((s[2] - 1.0).abs() < 1e-14);
    }

    #[test]
    fn haar_is_orthogonal_and_seeded() {
        let a = haar_orthogonal(50, 7);
        assert!(orthonormality_deviation(&a) < 1e-12);
        assert_eq!(a, haar_orthogonal(50, 7));
        assert_ne!(a, haar_orthogonal(50, 8));
    }

    /// The n × r coupling is the first r columns of the n × n one, and the top-r system the
    /// first r features of the full one, with the dropped share of the spectrum's tail.
    #[test]
    fn truncated_random_system_is_the_top_of_the_full_one() {
        let spectrum = Spectrum::Geometric { from: 5.0, to: 0.5 };
        let full = FeatureSystem::random(40, spectrum, 3).unwrap();
        let (top, t) = FeatureSystem::random_top(40, 7, spectrum, 3).unwrap();
        assert_eq!((top.examples(), top.rank()), (40, 7));
        let gap = (full.coupling().columns(0, 7) - top.coupling()).amax();
        assert!(gap < 1e-12, "{gap}");
        assert_eq!(top.strengths(), &full.strengths().rows(0, 7).into_owned());
        let s2 = full.strengths_squared();
        let share = s2.rows(7, 33).sum() / s2.sum();
        assert_eq!(t.dropped_features, 33);
        assert!((t.dropped_strength_share - share).abs() < 1e-14, "{t:?}");
        let (all, t) = FeatureSystem::random_top(40, 40, spectrum, 3).unwrap();
        assert!((all.coupling() - full.coupling()).amax() < 1e-12);
        assert_eq!((t.dropped_features, t.dropped_strength_share), (0, 0.0));
        // An increasing spectrum keeps its largest strengths.
        let rising = Spectrum::Linear { from: 1.0, to: 4.0 };
        let (top, _) = FeatureSystem::random_top(4, 2, rising, 3).unwrap();
        assert_eq!(top.strengths().as_slice(), &[3.0, 4.0]);
    }

    #[test]
    fn random_sizes_are_capped_on_n_times_r() {
        let spectrum = Spectrum::Geometric { from: 5.0, to: 0.5 };
        for (n, r) in [(0, 1), (10, 0), (10, 11), (1_000_001, 1), (200_000, 2_001)] {
            assert!(
                matches!(
                    FeatureSystem::random_top(n, r, spectrum, 0),
                    Err(Error::Input(InputError::InvalidParameter { .. }))
                ),
                "{n} × {r}"
            );
        }
        assert!(FeatureSystem::random(20_001, spectrum, 0).is_err());
    }
}
