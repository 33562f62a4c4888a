//! The paper's two-moons data set (its network experiments), generated in Rust.
//!
//! 1. **Moons** (the construction of scikit-learn's `make_moons`): n_out = ⌊n/2⌋ points on the
//!    upper half circle (cos t, sin t), t evenly spaced on [0, π], class 0; n_in = n − n_out on
//!    the lower one (1 − cos t, 1 − sin t − ½), class 1; every coordinate plus N(0, noise²).
//!    Points are not shuffled (order is irrelevant to full-batch training).
//! 2. **The paper's transform** (exactly `two_moons` of the PyTorch baseline), with y = ±1:
//!    x ← x − (0.5, 0.3·y); centre x₂ (subtract its mean); fold it, x₂ ← −y·|x₂|; move it,
//!    x₂ ← x₂ − y·Δ (Δ = margin: Δ > 0 separates the classes along x₂ by a gap 2Δ, Δ < 0 makes
//!    them overlap); swap the coordinates, so the folded (linearly separating) axis is the
//!    **first** input and the curved moon axis the second.
//! 3. Optionally rotate the swapped points counter-clockwise by `angle_degrees`.
//!
//! The noise comes from ChaCha12 (`rand_chacha::ChaCha12Rng::seed_from_u64(seed)`, turned into
//! N(0, noise²) by `rand_distr::Normal`, two draws per point: x₁ then x₂). ChaCha12 is named
//! rather than taken as rand's `StdRng`, whose algorithm rand may change in any release:
//! rand_chacha keeps its stream value-stable across versions and platforms, so the same options
//! give the same data set.

use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use super::Dataset;
use gstarve_core::error::{Error, InputError, Result};

/// Options of the two-moons generator. Defaults: the paper's n = 300, noise 0.1, Δ = +0.1,
/// no rotation, seed 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MoonsOptions {
    /// Number of examples n ≥ 2.
    pub n: usize,
    /// Standard deviation of the Gaussian noise on each coordinate (≥ 0).
    pub noise: f64,
    /// Margin Δ along the folded axis: +0.1 separates, −0.1 overlaps.
    pub margin: f64,
    /// Counter-clockwise rotation of the final points, in degrees.
    pub angle_degrees: f64,
    /// Seed of the noise.
    pub seed: u64,
}

impl Default for MoonsOptions {
    fn default() -> Self {
        Self {
            n: 300,
            noise: 0.1,
            margin: 0.1,
            angle_degrees: 0.0,
            seed: 0,
        }
    }
}

impl MoonsOptions {
    /// Check n, noise, margin and angle.
    pub fn validate(&self) -> Result<()> {
        if self.n < 2 || self.n > 10_000_000 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "n",
                value: self.n as f64,
                rule: "two moons need between 2 and 10⁷ points",
            }));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "noise",
                value: self.noise,
                rule: "the noise must be finite and ≥ 0",
            }));
        }
        for (name, v) in [
            ("margin", self.margin),
            ("angle_degrees", self.angle_degrees),
        ] {
            if !v.is_finite() {
                return Err(Error::Input(InputError::InvalidParameter {
                    name,
                    value: v,
                    rule: "it must be finite",
                }));
            }
        }
        Ok(())
    }
}

/// The paper's two-moons data set (see the module documentation for the exact construction).
pub fn two_moons(options: &MoonsOptions) -> Result<Dataset> {
    options.validate()?;
    let n = options.n;
    let n_out = n / 2;
    let n_in = n - n_out;
    let spaced = |k: usize, count: usize| {
        if count == 1 {
            0.0
        } else {
            std::f64::consts::PI * k as f64 / (count - 1) as f64
        }
    };
    let mut x1 = Vec::with_capacity(n);
    let mut x2 = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for k in 0..n_out {
        let t = spaced(k, n_out);
        x1.push(t.cos());
        x2.push(t.sin());
        y.push(-1.0);
    }
    for k in 0..n_in {
        let t = spaced(k, n_in);
        x1.push(1.0 - t.cos());
        x2.push(1.0 - t.sin() - 0.5);
        y.push(1.0);
    }
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(options.seed);
    let normal = Normal::new(0.0, options.noise).map_err(|_| {
        Error::Input(InputError::InvalidParameter {
            name: "noise",
            value: options.noise,
            rule: "the noise must be finite and ≥ 0",
        })
    })?;
    for i in 0..n {
        x1[i] += normal.sample(&mut rng);
        x2[i] += normal.sample(&mut rng);
    }
    // The paper's transform.
    for i in 0..n {
        x1[i] -= 0.5;
        x2[i] -= 0.3 * y[i];
    }
    let mean = x2.iter().sum::<f64>() / n as f64;
    for i in 0..n {
        let centred = x2[i] - mean;
        x2[i] = -y[i] * centred.abs() - y[i] * options.margin;
    }
    let (sin, cos) = options.angle_degrees.to_radians().sin_cos();
    let inputs = DMatrix::from_fn(n, 2, |i, k| {
        // Swap: the folded axis first, then rotate counter-clockwise.
        let (u, v) = (x2[i], x1[i]);
        if k == 0 {
            cos * u - sin * v
        } else {
            sin * u + cos * v
        }
    });
    Dataset::new(inputs, &y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_noise_points_lie_on_the_transformed_circles() {
        let data = two_moons(&MoonsOptions {
            n: 7,
            noise: 0.0,
            margin: 0.0,
            ..Default::default()
        })
        .unwrap();
        // First point of the outer moon: (cos 0, sin 0) = (1, 0), class −1, before the fold the
        // second coordinate is 0 + 0.3 − mean; after the swap the moon's x₁ = 1 − 0.5 is column 2.
        assert!((data.inputs()[(0, 1)] - 0.5).abs() < 1e-15);
        assert_eq!(data.labels()[0], -1.0);
        assert_eq!(data.labels()[6], 1.0);
        assert_eq!(data.len(), 7);
    }

    #[test]
    fn rejects_bad_options() {
        for o in [
            MoonsOptions {
                n: 1,
                ..Default::default()
            },
            MoonsOptions {
                noise: -0.1,
                ..Default::default()
            },
            MoonsOptions {
                margin: f64::NAN,
                ..Default::default()
            },
        ] {
            assert!(matches!(
                two_moons(&o),
                Err(Error::Input(InputError::InvalidParameter { .. }))
            ));
        }
    }
}
