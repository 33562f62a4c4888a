//! Coloured digits: the Colored-MNIST protocol (Arjovsky et al. 2019, as the Gradient
//! Starvation paper's Table 1 uses it) on the shipped optical digits ([`super::optical_digits`]).
//!
//! For one seed:
//! 1. **Split.** The 1797 examples are shuffled (Fisher–Yates, below); the first
//!    `2 × train_per_environment` form the training environments, alternately (even positions
//!    to environment 1, odd to environment 2, as the reference code's `[::2]` and `[1::2]`), the
//!    rest the test environment.
//! 2. **Label.** y = 1 if the digit is < 5, else 0; flipped with probability `label_noise`
//!    (0.25): no function of the shape predicts more than 75 % of the labels.
//! 3. **Colour.** c = y, flipped with probability e of the example's environment (0.2 and 0.1
//!    in training, 0.9 in the test): colour predicts 85 % of the training labels and 10 % of the
//!    test labels.
//! 4. **Inputs.** 128 = 2 channels × 64 pixels, pixel count / 16 ∈ [0, 1]: the image in
//!    channel c (inputs 64c … 64c + 63), zeros in the other.
//!
//! The random numbers come from ChaCha12 (`ChaCha12Rng::seed_from_u64(seed)`), used as raw
//! 64-bit words so that no algorithm of rand enters: the shuffle swaps position i
//! (from n − 1 down to 1) with j = ⌊w·(i + 1)/2⁶⁴⌋ for the next word w; then, example by example
//! in environment order (environment 1, 2, test), one word for the label flip and one for the
//! colour flip, a flip when (w >> 11)·2⁻⁵³ < p. rand_chacha keeps the stream value-stable, so
//! a seed gives the same environments on every platform and version.

use nalgebra::DMatrix;
use rand::{RngCore, SeedableRng};

use super::digits::{Digits, DIGIT_MAX_PIXEL, DIGIT_PIXELS};
use gstarve_core::error::{Error, InputError, Result};

/// Inputs of a coloured example: two channels of [`DIGIT_PIXELS`].
pub const COLOURED_INPUTS: usize = 2 * DIGIT_PIXELS;

/// The protocol's options. Defaults: the reference's label noise 0.25, training environments
/// e = 0.2 and 0.1, test e = 0.9, and 600 examples per training environment (1200 of the 1797
/// for training, 597 for the test).
#[derive(Clone, Debug, PartialEq)]
pub struct ColouredSpec {
    /// Probability that a label is flipped.
    pub label_noise: f64,
    /// Colour-flip probability e of each training environment.
    pub train_colour_noise: Vec<f64>,
    /// Colour-flip probability e of the test environment.
    pub test_colour_noise: f64,
    /// Examples per training environment.
    pub train_per_environment: usize,
}

impl Default for ColouredSpec {
    fn default() -> Self {
        Self {
            label_noise: 0.25,
            train_colour_noise: vec![0.2, 0.1],
            test_colour_noise: 0.9,
            train_per_environment: 600,
        }
    }
}

impl ColouredSpec {
    /// Check the probabilities and that the test environment keeps at least one example of
    /// `available`.
    pub fn validate(&self, available: usize) -> Result<()> {
        let probabilities = std::iter::once(("label_noise", self.label_noise))
            .chain(std::iter::once((
                "test_colour_noise",
                self.test_colour_noise,
            )))
            .chain(
                self.train_colour_noise
                    .iter()
                    .map(|&e| ("train_colour_noise", e)),
            );
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::Input(InputError::InvalidParameter {
                    name,
                    value: p,
                    rule: "a flip probability must lie in [0, 1]",
                }));
            }
        }
        let environments = self.train_colour_noise.len();
        if environments == 0 || self.train_per_environment == 0 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "train_per_environment",
                value: self.train_per_environment as f64,
                rule: "there must be at least one training environment with ≥ 1 example",
            }));
        }
        if environments.saturating_mul(self.train_per_environment) >= available {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "train_per_environment",
                value: self.train_per_environment as f64,
                rule: "the training environments must leave examples for the test environment",
            }));
        }
        Ok(())
    }
}

/// One environment: its examples, coloured.
#[derive(Clone, Debug, PartialEq)]
pub struct Environment {
    /// Colour-flip probability e.
    pub colour_noise: f64,
    /// Inputs, one row per example ([`COLOURED_INPUTS`] columns).
    pub inputs: DMatrix<f64>,
    /// Labels 0/1 (after the label flip).
    pub labels: Vec<f64>,
    /// Colour channel 0/1 of each example.
    pub colours: Vec<u8>,
    /// The digit shown.
    pub digits: Vec<u8>,
}

impl Environment {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the environment has no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The share of examples whose colour equals their label.
    pub fn colour_agreement(&self) -> f64 {
        let agree = self
            .labels
            .iter()
            .zip(&self.colours)
            .filter(|(&y, &c)| y == c as f64)
            .count();
        agree as f64 / self.len().max(1) as f64
    }
}

/// The training environments and the test environment of one seed.
#[derive(Clone, Debug, PartialEq)]
pub struct ColouredDigits {
    /// Training environments, in the order of [`ColouredSpec::train_colour_noise`].
    pub train: Vec<Environment>,
    /// The test environment.
    pub test: Environment,
}

/// A uniform number in [0, 1) from the next 64-bit word (its top 53 bits).
fn uniform(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Build the environments of `seed` (see the module documentation).
pub fn coloured_digits(data: &Digits, spec: &ColouredSpec, seed: u64) -> Result<ColouredDigits> {
    spec.validate(data.len())?;
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(seed);
    let n = data.len();
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = ((rng.next_u64() as u128 * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
    let k = spec.train_colour_noise.len();
    let n_train = k * spec.train_per_environment;
    let mut train = Vec::with_capacity(k);
    for (env, &e) in spec.train_colour_noise.iter().enumerate() {
        let members: Vec<usize> = order[..n_train]
            .iter()
            .skip(env)
            .step_by(k)
            .copied()
            .collect();
        train.push(colour(data, &members, spec.label_noise, e, &mut rng));
    }
    let test = colour(
        data,
        &order[n_train..],
        spec.label_noise,
        spec.test_colour_noise,
        &mut rng,
    );
    Ok(ColouredDigits { train, test })
}

fn colour(
    data: &Digits,
    members: &[usize],
    label_noise: f64,
    colour_noise: f64,
    rng: &mut impl RngCore,
) -> Environment {
    let mut inputs = DMatrix::zeros(members.len(), COLOURED_INPUTS);
    let (mut labels, mut colours, mut digits) = (Vec::new(), Vec::new(), Vec::new());
    for (row, &i) in members.iter().enumerate() {
        let digit = data.digits[i];
        let label = u8::from(digit < 5) ^ u8::from(uniform(rng) < label_noise);
        let c = label ^ u8::from(uniform(rng) < colour_noise);
        let offset = c as usize * DIGIT_PIXELS;
        for (p, &count) in data.images[i].iter().enumerate() {
            inputs[(row, offset + p)] = count as f64 / DIGIT_MAX_PIXEL as f64;
        }
        labels.push(label as f64);
        colours.push(c);
        digits.push(digit);
    }
    Environment {
        colour_noise,
        inputs,
        labels,
        colours,
        digits,
    }
}

#[cfg(test)]
mod tests {
    use super::super::digits::optical_digits;
    use super::*;

    #[test]
    fn environments_follow_the_protocol() {
        let data = optical_digits().unwrap();
        let spec = ColouredSpec::default();
        let envs = coloured_digits(&data, &spec, 3).unwrap();
        assert_eq!(envs.train.len(), 2);
        assert_eq!(envs.train[0].len(), 600);
        assert_eq!(envs.test.len(), 1797 - 1200);
        // The same seed gives the same environments; another seed others.
        assert_eq!(envs, coloured_digits(&data, &spec, 3).unwrap());
        assert_ne!(envs.test, coloured_digits(&data, &spec, 4).unwrap().test);
        for env in envs.train.iter().chain([&envs.test]) {
            for (i, &c) in env.colours.iter().enumerate() {
                let row = env.inputs.row(i);
                let (on, off) = if c == 0 { (0, 64) } else { (64, 0) };
                assert!(row.columns(off, 64).iter().all(|&v| v == 0.0));
                assert!(row.columns(on, 64).iter().any(|&v| v > 0.0));
                assert!(row.iter().all(|&v| (0.0..=1.0).contains(&v)));
            }
            // Label = (digit < 5) except for ≈ 25 %; colour = label except for ≈ e. Binomial
            // standard deviations are ≤ 0.02 here: 5σ bands.
            let n = env.len() as f64;
            let clean = env
                .labels
                .iter()
                .zip(&env.digits)
                .filter(|(&y, &d)| y == f64::from(u8::from(d < 5)))
                .count() as f64
                / n;
            assert!(
                (clean - 0.75).abs() < 5.0 * (0.25 * 0.75 / n).sqrt(),
                "{clean}"
            );
            let e = env.colour_noise;
            let agree = env.colour_agreement();
            let sd = (e * (1.0 - e) / n).sqrt();
            assert!((agree - (1.0 - e)).abs() < 5.0 * sd, "{agree} vs e = {e}");
        }
    }

    #[test]
    fn invalid_specs_are_named() {
        let data = optical_digits().unwrap();
        let bad = ColouredSpec {
            label_noise: 1.5,
            ..Default::default()
        };
        let err = coloured_digits(&data, &bad, 0).unwrap_err().to_string();
        assert!(err.contains("label_noise = 1.5"), "{err}");
        let bad = ColouredSpec {
            train_per_environment: 900,
            ..Default::default()
        };
        let err = coloured_digits(&data, &bad, 0).unwrap_err().to_string();
        assert!(err.contains("test environment"), "{err}");
    }
}
