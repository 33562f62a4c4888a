//! The two-layer ReLU network with c outputs (docs/theory.md §9.1), the multi-class form of
//! [`super::TwoLayerRelu`]:
//!
//! ```text
//! f_k(x) = s · Σ_j A_kj relu(w_j·x + b_j) + c_k,   k = 0 … c−1,   s = 1 (PyTorch) or 1/√m (NTK)
//! ```
//!
//! with parameters θ = (W, b, A, c), p = m(d + 1) + c(m + 1) of them, flattened in that order:
//! W row by row (w_1 … w_m, each of length d), b_1 … b_m, A row by row (the m output weights of
//! class 0, then of class 1, …), c_0 … c_{c−1}. Initialisation as the binary network's, per
//! layer: PyTorch draws every entry uniformly from ±1/√fan_in (fan_in = d for W and b, m for A
//! and c); NTK draws W, b, A from N(0, 1) with c = 0. The zero-output start copies (w_j, b_j) to
//! hidden unit j + m/2 and sets A_{k,j+m/2} = −A_kj and c = 0, so f ≡ 0 at initialisation.
//!
//! Its Jacobian Φ = ∂f/∂θ has n·c rows, example-major (row i·c + k: output k of example i), in
//! closed form with h_ij = w_j·xᵢ + b_j and 1_ij = [h_ij > 0]:
//!
//! ```text
//! ∂f_k(xᵢ)/∂W_jl = s A_kj 1_ij x_il     ∂f_k(xᵢ)/∂b_j = s A_kj 1_ij
//! ∂f_k(xᵢ)/∂A_k'j = [k = k'] s relu(h_ij)     ∂f_k(xᵢ)/∂c_k' = [k = k']
//! ```
//!
//! Training and the feature system are in [`train`](self::train).

mod train;

pub use train::{
    multiclass_features, multiclass_objective, multiclass_objective_gradient, train_multiclass,
    MulticlassFeatures, MulticlassRecord,
};

use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal, Uniform};

use super::{NetworkOptions, Parameterisation};
use gstarve_core::error::{Error, InputError, Result};
use gstarve_core::systems::multiclass::MAX_CLASSES;

/// A two-layer ReLU network with c outputs (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct MulticlassRelu {
    pub(crate) input_dim: usize,
    pub(crate) classes: usize,
    pub(crate) parameterisation: Parameterisation,
    /// W, m × d, row-major.
    pub(crate) weights: Vec<f64>,
    pub(crate) biases: Vec<f64>,
    /// A, c × m, row-major: output_weights[k·m + j] = A_kj.
    pub(crate) output_weights: Vec<f64>,
    pub(crate) output_biases: Vec<f64>,
}

impl MulticlassRelu {
    /// A freshly initialised network with `classes` outputs on inputs of dimension `input_dim`
    /// (the weights drawn from ChaCha12 seeded with `options.seed`, in the order W, b, A, c).
    pub fn init(input_dim: usize, classes: usize, options: &NetworkOptions) -> Result<Self> {
        if classes < 2 {
            return Err(Error::Input(InputError::TooFewClasses { classes }));
        }
        if classes > MAX_CLASSES {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "classes",
                value: classes as f64,
                rule: "at most 4096 classes",
            }));
        }
        if input_dim == 0 {
            return Err(Error::Input(InputError::Empty {
                what: "network inputs",
                rule: "the network needs at least one input",
            }));
        }
        let (m, d, c) = (options.width, input_dim, classes);
        if m == 0 || m > 10_000_000 || (options.zero_output && m % 2 == 1) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "width",
                value: m as f64,
                rule: "the width must be between 1 and 10⁷ (and even with the zero-output start)",
            }));
        }
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
        let mut output_weights = draw(m, c * m);
        let mut output_biases = match options.parameterisation {
            Parameterisation::PyTorch => draw(m, c),
            Parameterisation::Ntk => vec![0.0; c],
        };
        if options.zero_output {
            let h = m / 2;
            weights.copy_within(0..h * d, h * d);
            biases.copy_within(0..h, h);
            for k in 0..c {
                for j in 0..h {
                    output_weights[k * m + h + j] = -output_weights[k * m + j];
                }
            }
            output_biases.iter_mut().for_each(|b| *b = 0.0);
        }
        Ok(Self {
            input_dim: d,
            classes: c,
            parameterisation: options.parameterisation,
            weights,
            biases,
            output_weights,
            output_biases,
        })
    }

    /// Input dimension d.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// Number of outputs (classes) c.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Hidden width m.
    pub fn width(&self) -> usize {
        self.biases.len()
    }

    /// The output scale s: 1 (PyTorch) or 1/√m (NTK).
    pub fn output_scale(&self) -> f64 {
        match self.parameterisation {
            Parameterisation::PyTorch => 1.0,
            Parameterisation::Ntk => 1.0 / (self.width() as f64).sqrt(),
        }
    }

    /// Number of parameters p = m(d + 1) + c(m + 1).
    pub fn num_parameters(&self) -> usize {
        self.width() * (self.input_dim + 1) + self.classes * (self.width() + 1)
    }

    /// θ = (W row by row, b, A row by row, c) as one vector of length p.
    pub fn parameters(&self) -> Vec<f64> {
        let mut theta = Vec::with_capacity(self.num_parameters());
        theta.extend_from_slice(&self.weights);
        theta.extend_from_slice(&self.biases);
        theta.extend_from_slice(&self.output_weights);
        theta.extend_from_slice(&self.output_biases);
        theta
    }

    /// Set all parameters from θ (the layout of [`Self::parameters`]).
    pub fn set_parameters(&mut self, theta: &[f64]) -> Result<()> {
        if theta.len() != self.num_parameters() {
            return Err(Error::Input(InputError::Length {
                what: "parameters θ",
                found: theta.len(),
                expected: self.num_parameters(),
                rule: "one per parameter of the network",
            }));
        }
        let (m, d, c) = (self.width(), self.input_dim, self.classes);
        let (w, rest) = theta.split_at(m * d);
        let (b, rest) = rest.split_at(m);
        let (a, cb) = rest.split_at(c * m);
        self.weights.copy_from_slice(w);
        self.biases.copy_from_slice(b);
        self.output_weights.copy_from_slice(a);
        self.output_biases.copy_from_slice(cb);
        Ok(())
    }

    /// The hidden pre-activations h_j = w_j·x + b_j of one input.
    fn hidden(&self, x: &[f64], h: &mut [f64]) {
        let d = self.input_dim;
        for (j, hj) in h.iter_mut().enumerate() {
            let w = &self.weights[j * d..(j + 1) * d];
            *hj = self.biases[j] + w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
        }
    }

    /// The c outputs (logits) f(x) of one input (x.len() must be d).
    pub fn output(&self, x: &[f64]) -> Vec<f64> {
        let m = self.width();
        let mut h = vec![0.0; m];
        self.hidden(x, &mut h);
        let s = self.output_scale();
        (0..self.classes)
            .map(|k| {
                let a = &self.output_weights[k * m..(k + 1) * m];
                s * a.iter().zip(&h).map(|(a, h)| a * h.max(0.0)).sum::<f64>()
                    + self.output_biases[k]
            })
            .collect()
    }

    /// The logits F (n × c, row i: example i) for inputs given one per row (n × d).
    pub fn outputs(&self, inputs: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        self.check_inputs(inputs)?;
        let (n, c) = (inputs.nrows(), self.classes);
        let mut out = DMatrix::zeros(n, c);
        let mut x = vec![0.0; self.input_dim];
        for i in 0..n {
            x.iter_mut()
                .enumerate()
                .for_each(|(l, v)| *v = inputs[(i, l)]);
            for (k, f) in self.output(&x).into_iter().enumerate() {
                out[(i, k)] = f;
            }
        }
        Ok(out)
    }

    /// The predicted class argmax_k f_k(x) of each input (ties to the lower class).
    pub fn predict(&self, inputs: &DMatrix<f64>) -> Result<Vec<usize>> {
        let f = self.outputs(inputs)?;
        Ok(f.row_iter()
            .map(|row| (0..row.len()).fold(0, |best, k| if row[k] > row[best] { k } else { best }))
            .collect())
    }

    /// Φ (n·c × p): row i·c + k is the gradient of f_k(xᵢ) with respect to θ (module docs).
    pub fn jacobian(&self, inputs: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        self.check_inputs(inputs)?;
        let (n, d, m, c) = (inputs.nrows(), self.input_dim, self.width(), self.classes);
        let s = self.output_scale();
        let mut phi = DMatrix::zeros(n * c, self.num_parameters());
        let (off_b, off_a, off_c) = (m * d, m * d + m, m * d + m + c * m);
        let mut h = vec![0.0; m];
        let mut x = vec![0.0; d];
        for i in 0..n {
            x.iter_mut()
                .enumerate()
                .for_each(|(l, v)| *v = inputs[(i, l)]);
            self.hidden(&x, &mut h);
            for k in 0..c {
                let row = i * c + k;
                for j in (0..m).filter(|&j| h[j] > 0.0) {
                    let g = s * self.output_weights[k * m + j];
                    for l in 0..d {
                        phi[(row, j * d + l)] = g * x[l];
                    }
                    phi[(row, off_b + j)] = g;
                    phi[(row, off_a + k * m + j)] = s * h[j];
                }
                phi[(row, off_c + k)] = 1.0;
            }
        }
        Ok(phi)
    }

    pub(crate) fn check_inputs(&self, inputs: &DMatrix<f64>) -> Result<()> {
        crate::network::check_input_columns(inputs, self.input_dim)
    }
}

#[cfg(test)]
mod tests;
