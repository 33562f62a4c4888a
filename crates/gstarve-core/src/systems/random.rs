//! Random feature systems: Haar-distributed couplings and parametric spectra, seeded.

use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use super::FeatureSystem;
use crate::error::{Error, InputError, Result};

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

/// A Haar-random orthogonal n × n matrix: QR of a standard Gaussian matrix with the signs of R's
/// diagonal moved into Q (Mezzadri 2007). The Gaussian entries come from ChaCha12
/// (`rand_chacha::ChaCha12Rng::seed_from_u64(seed)`), whose stream is value-stable across
/// rand_chacha versions and platforms (rand's `StdRng` promises neither).
pub fn haar_orthogonal(n: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(seed);
    let g = DMatrix::from_fn(n, n, |_, _| StandardNormal.sample(&mut rng));
    let qr = g.qr();
    let mut q = qr.q();
    let r = qr.r();
    for j in 0..n {
        if r[(j, j)] < 0.0 {
            q.column_mut(j).neg_mut();
        }
    }
    q
}

impl FeatureSystem {
    /// A random system: n examples and features, Haar coupling, the given spectrum, a seed.
    pub fn random(n: usize, spectrum: Spectrum, seed: u64) -> Result<Self> {
        if n == 0 || n > 20_000 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "random system size n",
                value: n as f64,
                rule: "n must be between 1 and 20000",
            }));
        }
        FeatureSystem::new(spectrum.strengths(n)?, haar_orthogonal(n, seed))
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
}
