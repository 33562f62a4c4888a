//! c-class data: [`ClassDataset`] (inputs with labels in 0..c−1, for the multi-class softmax
//! systems of docs/theory.md §9.1) and its generator, c interleaved spirals ([`spirals`]).
//!
//! **Spirals.** The n points are split over the classes as evenly as possible (class k gets
//! ⌊n/c⌋ points, and one more when k < n mod c), in class order. Point q of the n_k points of
//! class k has
//!
//! ```text
//! t = (q + ½)/n_k ∈ (0, 1),   radius ρ = ρ₀ + (1 − ρ₀)·t,   angle φ = 2πk/c + 2π·turns·t,
//! x = ρ (cos φ, sin φ) + N(0, noise²) on each coordinate
//! ```
//!
//! with ρ₀ = 0.2: c arms of equal shape, rotated by 2π/c against each other, each turning
//! `turns` times around the origin from radius 0.2 to 1. With more turns the arms wind around
//! each other and the classes are harder to separate.
//!
//! The noise comes from ChaCha12 (`rand_chacha::ChaCha12Rng::seed_from_u64(seed)`, through
//! `rand_distr::Normal`, two draws per point, x₁ then x₂, in point order): a named generator
//! whose stream is value-stable across rand_chacha versions and platforms (rand's `StdRng`
//! promises neither), so the same options give the same data set.

use std::f64::consts::PI;

use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use gstarve_core::error::{Error, InputError, Result};
use gstarve_core::systems::check_finite;
use gstarve_core::systems::multiclass::MAX_CLASSES;

/// The radius at which every arm starts.
pub const INNER_RADIUS: f64 = 0.2;

/// A validated c-class data set: n ≥ 1 examples of d ≥ 1 finite inputs, labels in 0..c−1,
/// c ≥ 2.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassDataset {
    inputs: DMatrix<f64>,
    labels: Vec<usize>,
    classes: usize,
}

impl ClassDataset {
    /// A data set from inputs (n × d, one row per example), labels and the number of classes c.
    pub fn new(inputs: DMatrix<f64>, labels: Vec<usize>, classes: usize) -> Result<Self> {
        if classes < 2 {
            return Err(Error::Input(InputError::TooFewClasses { classes }));
        }
        let (n, d) = inputs.shape();
        if n == 0 || d == 0 {
            return Err(Error::Input(InputError::EmptyDataset {
                origin: "data set".into(),
                detail: "it needs at least one example and one input column",
            }));
        }
        if labels.len() != n {
            return Err(Error::Input(InputError::Length {
                what: "labels",
                found: labels.len(),
                expected: n,
                rule: "one per example of the data set",
            }));
        }
        if let Some((i, &y)) = labels.iter().enumerate().find(|(_, &y)| y >= classes) {
            return Err(Error::Input(InputError::ClassLabel {
                index: i + 1,
                value: y as f64,
                classes,
            }));
        }
        check_finite("inputs x", &inputs)?;
        Ok(Self {
            inputs,
            labels,
            classes,
        })
    }

    /// Number of examples n.
    pub fn len(&self) -> usize {
        self.inputs.nrows()
    }

    /// Always false: a data set has at least one example.
    pub fn is_empty(&self) -> bool {
        self.inputs.nrows() == 0
    }

    /// Input dimension d.
    pub fn dim(&self) -> usize {
        self.inputs.ncols()
    }

    /// Number of classes c.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The inputs, one row per example (n × d).
    pub fn inputs(&self) -> &DMatrix<f64> {
        &self.inputs
    }

    /// The labels yᵢ ∈ 0..c−1.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }
}

/// Options of [`spirals`]. Defaults: n = 240, c = 3, 0.5 turns, noise 0.05, seed 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpiralsOptions {
    /// Number of examples n ≥ c.
    pub n: usize,
    /// Number of classes (arms) c ≥ 2.
    pub classes: usize,
    /// Turns of each arm around the origin (finite, ≥ 0).
    pub turns: f64,
    /// Standard deviation of the Gaussian noise on each coordinate (finite, ≥ 0).
    pub noise: f64,
    /// Seed of the noise.
    pub seed: u64,
}

impl Default for SpiralsOptions {
    fn default() -> Self {
        Self {
            n: 240,
            classes: 3,
            turns: 0.5,
            noise: 0.05,
            seed: 0,
        }
    }
}

impl SpiralsOptions {
    /// Check every option.
    pub fn validate(&self) -> Result<()> {
        if self.classes < 2 {
            return Err(Error::Input(InputError::TooFewClasses {
                classes: self.classes,
            }));
        }
        if self.classes > MAX_CLASSES {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "classes",
                value: self.classes as f64,
                rule: "at most 4096 classes",
            }));
        }
        if self.n < self.classes || self.n > 10_000_000 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "n",
                value: self.n as f64,
                rule: "spirals need at least one point per class and at most 10⁷ points",
            }));
        }
        for (name, v) in [("turns", self.turns), ("noise", self.noise)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Input(InputError::InvalidParameter {
                    name,
                    value: v,
                    rule: "it must be finite and ≥ 0",
                }));
            }
        }
        Ok(())
    }
}

/// c interleaved spirals (see the module documentation for the exact construction).
pub fn spirals(options: &SpiralsOptions) -> Result<ClassDataset> {
    options.validate()?;
    let (n, c) = (options.n, options.classes);
    let normal = Normal::new(0.0, options.noise).map_err(|_| {
        Error::Input(InputError::InvalidParameter {
            name: "noise",
            value: options.noise,
            rule: "it must be finite and ≥ 0",
        })
    })?;
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(options.seed);
    let mut inputs = DMatrix::zeros(n, 2);
    let mut labels = Vec::with_capacity(n);
    let mut row = 0;
    for k in 0..c {
        let count = n / c + usize::from(k < n % c);
        for q in 0..count {
            let t = (q as f64 + 0.5) / count as f64;
            let radius = INNER_RADIUS + (1.0 - INNER_RADIUS) * t;
            let angle = 2.0 * PI * (k as f64 / c as f64 + options.turns * t);
            inputs[(row, 0)] = radius * angle.cos() + normal.sample(&mut rng);
            inputs[(row, 1)] = radius * angle.sin() + normal.sample(&mut rng);
            labels.push(k);
            row += 1;
        }
    }
    ClassDataset::new(inputs, labels, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without noise every point lies on its arm: radius ρ₀ + (1 − ρ₀)t, angle 2πk/c + 2π·turns·t.
    #[test]
    fn noiseless_points_lie_on_their_arms() {
        let o = SpiralsOptions {
            n: 10,
            classes: 3,
            turns: 0.75,
            noise: 0.0,
            seed: 1,
        };
        let data = spirals(&o).unwrap();
        assert_eq!(data.labels(), &[0, 0, 0, 0, 1, 1, 1, 2, 2, 2]);
        // Class 1, q = 0 of 3: t = 1/6.
        let t: f64 = 1.0 / 6.0;
        let (rho, phi) = (0.2 + 0.8 * t, 2.0 * PI * (1.0 / 3.0 + 0.75 * t));
        let x = data.inputs().row(4);
        assert!((x[0] - rho * phi.cos()).abs() < 1e-15 && (x[1] - rho * phi.sin()).abs() < 1e-15);
        // The same seed gives the same noisy data; another seed another.
        let noisy = SpiralsOptions { noise: 0.1, ..o };
        assert_eq!(spirals(&noisy).unwrap(), spirals(&noisy).unwrap());
        let other = SpiralsOptions { seed: 2, ..noisy };
        assert_ne!(spirals(&noisy).unwrap(), spirals(&other).unwrap());
    }

    #[test]
    fn rejects_bad_options() {
        let one = SpiralsOptions {
            classes: 1,
            ..Default::default()
        };
        assert!(matches!(
            spirals(&one),
            Err(Error::Input(InputError::TooFewClasses { classes: 1 }))
        ));
        for o in [
            SpiralsOptions {
                n: 2,
                ..Default::default()
            },
            SpiralsOptions {
                noise: -1.0,
                ..Default::default()
            },
            SpiralsOptions {
                turns: f64::INFINITY,
                ..Default::default()
            },
        ] {
            assert!(matches!(
                spirals(&o),
                Err(Error::Input(InputError::InvalidParameter { .. }))
            ));
        }
        assert!(ClassDataset::new(DMatrix::zeros(2, 2), vec![0, 2], 2).is_err());
    }
}
