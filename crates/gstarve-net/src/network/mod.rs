//! Real networks: a two-layer ReLU network, its Jacobian at initialisation in closed form, the
//! feature system it defines (docs/theory.md §1.2, §8.3), and full-batch training of the nonlinear
//! network.
//!
//! The network of width m on inputs x ∈ R^d is
//!
//! ```text
//! f(x) = s · Σ_j a_j relu(w_j·x + b_j) + c,     s = 1 (PyTorch) or 1/√m (NTK)
//! ```
//!
//! with parameters θ = (W, b, a, c), p = m(d + 2) + 1 of them, flattened in that order: W row by
//! row (w_1, …, w_m, each of length d), then b_1…b_m, then a_1…a_m, then c.
//!
//! The pipeline: [`crate::data::Dataset`] → [`TwoLayerRelu::init`] →
//! [`network_features`] (Φ = ∂f/∂θ at initialisation, the SVD YΦ = U S Vᵀ, z(0) = UᵀY f₀) →
//! [`train`] (the real network, GD with momentum, weight decay, SD) → [`TrainingRecord`]
//! (outputs ŷ and responses z_real = UᵀYŷ in the initial basis).
//!
//! The c-output network with softmax cross-entropy (docs/theory.md §9.1) is
//! [`MulticlassRelu`], with [`multiclass_features`] and [`train_multiclass`].

mod class_targets;
mod features;
mod jacobian;
mod kernel;
mod multiclass;
mod passes;
mod sgd;
mod train;

pub use class_targets::{
    objective_gradient_with_targets, objective_with_targets, ClassTargets,
    AUTHORS_CELEBA_COEFFICIENT, AUTHORS_CELEBA_LOGIT_TARGETS,
};
pub use features::{network_features, ntk_gram, NetworkFeatures};
pub use multiclass::{
    multiclass_features, multiclass_objective, multiclass_objective_gradient, train_multiclass,
    MulticlassFeatures, MulticlassRecord, MulticlassRelu,
};
pub use train::{
    objective, objective_gradient, train, train_observed, TrainOptions, TrainingRecord,
};

use std::str::FromStr;

use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal, Uniform};

use gstarve_core::error::{Error, InputError, Result};

/// How the network is scaled and initialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parameterisation {
    /// PyTorch's `nn.Linear` default: f = aᵀ relu(Wx + b) + c, every weight and bias of a layer
    /// drawn uniformly from ±1/√fan_in (fan_in = d for W and b, m for a and c).
    PyTorch,
    /// The neural-tangent parameterisation: f = (1/√m) aᵀ relu(Wx + b) + c with W, b, a drawn from
    /// the standard normal and c = 0. The tangent kernel converges to a fixed limit as m → ∞ and
    /// stays constant during training, so the linearised theory becomes exact.
    Ntk,
}

impl FromStr for Parameterisation {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pytorch" | "torch" => Ok(Self::PyTorch),
            "ntk" => Ok(Self::Ntk),
            other => Err(format!(
                "unknown parameterisation '{other}' (expected pytorch or ntk)"
            )),
        }
    }
}

/// Options of [`TwoLayerRelu::init`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetworkOptions {
    /// Hidden width m ≥ 1 (even with `zero_output`).
    pub width: usize,
    /// Scaling and initialisation.
    pub parameterisation: Parameterisation,
    /// Seed of the initialisation. The weights are drawn, in the order W, b, a, c, from ChaCha12
    /// (`rand_chacha::ChaCha12Rng::seed_from_u64(seed)`): a named generator whose stream is
    /// value-stable across rand_chacha versions and platforms (rand's `StdRng` promises neither).
    pub seed: u64,
    /// Start from f₀ ≡ 0 by the antisymmetric ("doubled network") construction: hidden units
    /// j and j + m/2 get the same (w_j, b_j) and opposite output weights a_{j+m/2} = −a_j, and
    /// c = 0, so their contributions cancel for every input (exactly in exact arithmetic, to
    /// rounding in floating point). It is still one network of width m (trained as such); only
    /// its initial output vanishes.
    pub zero_output: bool,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        Self {
            width: 500,
            parameterisation: Parameterisation::PyTorch,
            seed: 0,
            zero_output: false,
        }
    }
}

/// A two-layer ReLU network f(x) = s·aᵀ relu(Wx + b) + c (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct TwoLayerRelu {
    pub(crate) input_dim: usize,
    pub(crate) parameterisation: Parameterisation,
    /// W, m × d, row-major: weights[j·d + k] = W_jk.
    pub(crate) weights: Vec<f64>,
    pub(crate) biases: Vec<f64>,
    pub(crate) output_weights: Vec<f64>,
    pub(crate) output_bias: f64,
}

impl TwoLayerRelu {
    /// A freshly initialised network on inputs of dimension `input_dim`.
    pub fn init(input_dim: usize, options: &NetworkOptions) -> Result<Self> {
        let m = options.width;
        if m == 0 || m > 10_000_000 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "width",
                value: m as f64,
                rule: "the width must be between 1 and 10⁷",
            }));
        }
        if options.zero_output && m % 2 == 1 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "width",
                value: m as f64,
                rule: "the zero-output start pairs hidden units with opposite output weights: the width must be even",
            }));
        }
        if input_dim == 0 {
            return Err(Error::Input(InputError::Empty {
                what: "network inputs",
                rule: "the network needs at least one input",
            }));
        }
        let d = input_dim;
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(options.seed);
        let mut draw = |fan_in: usize, count: usize| -> Vec<f64> {
            match options.parameterisation {
                Parameterisation::PyTorch => {
                    let bound = 1.0 / (fan_in as f64).sqrt();
                    let u = Uniform::new_inclusive(-bound, bound).expect("finite bound");
                    (0..count).map(|_| u.sample(&mut rng)).collect()
                }
                Parameterisation::Ntk => (0..count)
                    .map(|_| StandardNormal.sample(&mut rng))
                    .collect(),
            }
        };
        let mut weights = draw(d, m * d);
        let mut biases = draw(d, m);
        let mut output_weights = draw(m, m);
        let mut output_bias = match options.parameterisation {
            Parameterisation::PyTorch => draw(m, 1)[0],
            Parameterisation::Ntk => 0.0,
        };
        if options.zero_output {
            let h = m / 2;
            weights.copy_within(0..h * d, h * d);
            biases.copy_within(0..h, h);
            for j in 0..h {
                output_weights[h + j] = -output_weights[j];
            }
            output_bias = 0.0;
        }
        Ok(Self {
            input_dim: d,
            parameterisation: options.parameterisation,
            weights,
            biases,
            output_weights,
            output_bias,
        })
    }

    /// Input dimension d.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// Hidden width m.
    pub fn width(&self) -> usize {
        self.biases.len()
    }

    /// The parameterisation.
    pub fn parameterisation(&self) -> Parameterisation {
        self.parameterisation
    }

    /// The output scale s: 1 (PyTorch) or 1/√m (NTK).
    pub fn output_scale(&self) -> f64 {
        match self.parameterisation {
            Parameterisation::PyTorch => 1.0,
            Parameterisation::Ntk => 1.0 / (self.width() as f64).sqrt(),
        }
    }

    /// Number of parameters p = m(d + 2) + 1.
    pub fn num_parameters(&self) -> usize {
        self.width() * (self.input_dim + 2) + 1
    }

    /// The parameters θ = (W row by row, b, a, c) as one vector of length p.
    pub fn parameters(&self) -> Vec<f64> {
        let mut theta = Vec::with_capacity(self.num_parameters());
        theta.extend_from_slice(&self.weights);
        theta.extend_from_slice(&self.biases);
        theta.extend_from_slice(&self.output_weights);
        theta.push(self.output_bias);
        theta
    }

    /// Set all parameters from θ (same layout as [`Self::parameters`]).
    pub fn set_parameters(&mut self, theta: &[f64]) -> Result<()> {
        if theta.len() != self.num_parameters() {
            return Err(Error::Input(InputError::Length {
                what: "parameters θ",
                found: theta.len(),
                expected: self.num_parameters(),
                rule: "one per parameter of the network",
            }));
        }
        let (m, d) = (self.width(), self.input_dim);
        self.weights.copy_from_slice(&theta[..m * d]);
        self.biases.copy_from_slice(&theta[m * d..m * d + m]);
        self.output_weights
            .copy_from_slice(&theta[m * d + m..m * d + 2 * m]);
        self.output_bias = theta[m * d + 2 * m];
        Ok(())
    }

    /// The output f(x) for one input x ∈ R^d (x.len() must be d).
    pub fn output(&self, x: &[f64]) -> f64 {
        let d = self.input_dim;
        let mut sum = 0.0;
        for j in 0..self.width() {
            let w = &self.weights[j * d..(j + 1) * d];
            let pre = self.biases[j] + w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
            sum += self.output_weights[j] * pre.max(0.0);
        }
        self.output_scale() * sum + self.output_bias
    }

    /// The outputs f(x_i) for inputs given one per row (n × d).
    pub fn outputs(&self, inputs: &DMatrix<f64>) -> Result<DVector<f64>> {
        self.check_inputs(inputs)?;
        let mut x = vec![0.0; self.input_dim];
        Ok(DVector::from_fn(inputs.nrows(), |i, _| {
            for (k, v) in x.iter_mut().enumerate() {
                *v = inputs[(i, k)];
            }
            self.output(&x)
        }))
    }

    /// The network on a regular grid of the plane (d = 2 only), for decision-boundary heatmaps:
    /// entry (r, c) is f(x₁(c), x₂(r)) with x₁(c) = x_min + c·(x_max − x_min)/(nx − 1) and
    /// x₂(r) = y_min + r·(y_max − y_min)/(ny − 1) (row 0 at y_min). nx, ny ≥ 2.
    pub fn evaluate_grid(
        &self,
        x_range: (f64, f64),
        y_range: (f64, f64),
        nx: usize,
        ny: usize,
    ) -> Result<DMatrix<f64>> {
        if self.input_dim != 2 {
            return Err(Error::Input(InputError::Length {
                what: "network inputs",
                found: self.input_dim,
                expected: 2,
                rule: "a grid of the plane needs 2 inputs",
            }));
        }
        for (name, v) in [("grid nx", nx), ("grid ny", ny)] {
            if !(2..=16_384).contains(&v) {
                return Err(Error::Input(InputError::InvalidParameter {
                    name,
                    value: v as f64,
                    rule: "a grid needs between 2 and 16384 points per axis",
                }));
            }
        }
        for (lo, hi) in [x_range, y_range] {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(Error::Input(InputError::EmptyRange {
                    axis: "grid",
                    start: lo,
                    end: hi,
                }));
            }
        }
        let at = |(lo, hi): (f64, f64), k: usize, count: usize| {
            lo + (hi - lo) * k as f64 / (count - 1) as f64
        };
        Ok(DMatrix::from_fn(ny, nx, |r, c| {
            self.output(&[at(x_range, c, nx), at(y_range, r, ny)])
        }))
    }

    pub(crate) fn check_inputs(&self, inputs: &DMatrix<f64>) -> Result<()> {
        crate::network::check_input_columns(inputs, self.input_dim)
    }
}

/// Inputs (n × d) must have one column per input of the network: the one check every network
/// (two-layer, multi-class, candle's and the hand-written MLP) makes before a pass.
pub(crate) fn check_input_columns(inputs: &DMatrix<f64>, input_dim: usize) -> Result<()> {
    if inputs.ncols() != input_dim {
        return Err(Error::Input(InputError::Length {
            what: "input columns",
            found: inputs.ncols(),
            expected: input_dim,
            rule: "one per input of the network",
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_output_is_exactly_zero_and_parameters_round_trip() {
        for parameterisation in [Parameterisation::PyTorch, Parameterisation::Ntk] {
            let mut net = TwoLayerRelu::init(
                2,
                &NetworkOptions {
                    width: 10,
                    parameterisation,
                    seed: 3,
                    zero_output: true,
                },
            )
            .unwrap();
            assert!(net.output(&[0.3, -0.7]).abs() < 1e-15);
            assert_eq!(net.num_parameters(), 41);
            let theta = net.parameters();
            net.set_parameters(&theta).unwrap();
            assert_eq!(net.parameters(), theta);
        }
        let odd = NetworkOptions {
            width: 5,
            zero_output: true,
            ..Default::default()
        };
        assert!(TwoLayerRelu::init(2, &odd).is_err());
    }

    #[test]
    fn pytorch_init_respects_fan_in_bounds() {
        let net = TwoLayerRelu::init(
            2,
            &NetworkOptions {
                width: 400,
                ..Default::default()
            },
        )
        .unwrap();
        let b1 = 1.0 / 2f64.sqrt();
        let b2 = 1.0 / 20.0;
        assert!(net.weights.iter().chain(&net.biases).all(|w| w.abs() <= b1));
        assert!(net.output_weights.iter().all(|a| a.abs() <= b2));
        assert!(net.output_bias.abs() <= b2);
        // Uniform on ±b: the largest |w| of 800 draws is near the bound.
        assert!(net.weights.iter().fold(0.0f64, |m, w| m.max(w.abs())) > 0.99 * b1);
    }
}
