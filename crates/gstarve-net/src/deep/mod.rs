//! Configurable multilayer perceptrons on a tensor library (candle, CPU, f64), for the
//! experiments the hand-written two-layer network ([`crate::network`], the bridge to the
//! linearised theory) does not cover: deeper networks, BatchNorm, dropout and Adam.
//!
//! The network with L linear layers (`layers` = L ≥ 2) of hidden width m on inputs x ∈ R^d is
//!
//! ```text
//! h₁ = relu(N(W₁x + b₁)),   h_l = relu(W_l h_{l−1} + b_l) (l = 2 … L−1),   f(x) = W_L h_{L−1} + b_L
//! ```
//!
//! with W₁ ∈ R^{m×d}, W_l ∈ R^{m×m}, W_L ∈ R^{1×m}, and N on the **first** layer's
//! pre-activation only (as the paper's two-moons remedies place them), in this order:
//!
//! - **dropout** with drop probability p (training only): each entry is multiplied by an
//!   independent mask ξ ∈ {0, 1/(1 − p)}, P(ξ = 0) = p (PyTorch's `nn.Dropout(p)`, inverted
//!   scaling, so evaluation uses the identity);
//! - **BatchNorm** (PyTorch's `nn.BatchNorm1d(m)`: ε = 10⁻⁵, momentum 0.1, γ = 1 and β = 0 at
//!   the start): in training a ↦ γ ⊙ (a − μ_B)/√(σ²_B + ε) + β with the batch's mean μ_B and
//!   *biased* variance σ²_B; each training step also updates the running statistics
//!   r_μ ← 0.9 r_μ + 0.1 μ_B and r_σ² ← 0.9 r_σ² + 0.1 σ²_B·n/(n − 1) (unbiased; r_μ = 0,
//!   r_σ² = 1 at the start), and evaluation uses them in place of μ_B, σ²_B.
//!
//! **Initialisation**: PyTorch's `nn.Linear` default, every weight and bias of layer l drawn
//! uniformly from ±1/√fan_in(l) (fan_in = d for the first layer, m after), layer by layer, W_l row
//! by row then b_l, from ChaCha12 seeded with `seed`. With L = 2 this is the draw of
//! [`TwoLayerRelu::init`](crate::network::TwoLayerRelu::init) in the PyTorch parameterisation,
//! value for value, so both implementations start from the same network (tested).
//!
//! **Precision** ([`Precision`]): f64 by default, whose outputs agree with the hand-written
//! network's to rounding (docs/networks.md, "Remedies"); or f32, as PyTorch's default, which
//! candle's CPU backend multiplies through the `gemm` crate at about twice the f64 speed (the
//! remedies' deeper network).
//!
//! Training is [`train_mlp`] (full batch; SGD with PyTorch's momentum and weight decay, or Adam;
//! the mean logistic loss plus Spectral Decoupling).

mod channels;
mod dense;
mod train;
mod two_layer;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod two_layer_tests;

pub use channels::ChannelInputs;
pub use dense::{Adam, DenseMlp, DenseWork, Real};
pub use train::{train_mlp, MlpRecord, MlpTrainOptions, Optimiser};
pub use two_layer::TwoLayerMlp;

use candle_core::{DType, Device, Tensor, Var};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_distr::{Distribution, Uniform};

use crate::network::{Parameterisation, TwoLayerRelu};
use gstarve_core::error::{Error, InputError, NumericalError, Result};

/// BatchNorm's ε (PyTorch's default).
pub const BATCH_NORM_EPSILON: f64 = 1e-5;
/// BatchNorm's running-statistics momentum (PyTorch's default).
pub const BATCH_NORM_MOMENTUM: f64 = 0.1;

/// A candle failure as a numerical error naming the operation.
pub(crate) fn tensor_error(operation: &'static str) -> impl Fn(candle_core::Error) -> Error {
    move |e| {
        Error::Numerical(NumericalError::Tensor {
            operation,
            message: e.to_string(),
        })
    }
}

/// Options of [`Mlp::init`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MlpOptions {
    /// Number of linear layers L ≥ 2 (2: one hidden layer).
    pub layers: usize,
    /// Hidden width m ≥ 1 (every hidden layer).
    pub width: usize,
    /// Drop probability p ∈ [0, 1) of the dropout on the first layer's pre-activation (0: none).
    pub dropout: f64,
    /// BatchNorm on the first layer's pre-activation.
    pub batch_norm: bool,
    /// Seed of the initialisation (and, in a second ChaCha12 stream, of the dropout masks).
    pub seed: u64,
    /// The floating-point type of the parameters and of every tensor operation.
    pub precision: Precision,
}

/// The floating-point type the network computes in (the initial draw is the same f64 values,
/// rounded for f32).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Precision {
    /// f64 (the default; agrees with the hand-written networks to rounding).
    #[default]
    F64,
    /// f32, as PyTorch's default: candle's matrix products run at about twice the f64 speed.
    F32,
}

impl Precision {
    fn dtype(self) -> DType {
        match self {
            Self::F64 => DType::F64,
            Self::F32 => DType::F32,
        }
    }
}

impl Default for MlpOptions {
    fn default() -> Self {
        Self {
            layers: 2,
            width: 500,
            dropout: 0.0,
            batch_norm: false,
            seed: 0,
            precision: Precision::F64,
        }
    }
}

impl MlpOptions {
    /// Check every option.
    pub fn validate(&self) -> Result<()> {
        let invalid = |name, value: f64, rule| {
            Err(Error::Input(InputError::InvalidParameter {
                name,
                value,
                rule,
            }))
        };
        if !(2..=64).contains(&self.layers) {
            return invalid(
                "layers",
                self.layers as f64,
                "a network needs between 2 and 64 linear layers",
            );
        }
        if self.width == 0 || self.width > 100_000 {
            return invalid(
                "width",
                self.width as f64,
                "the width must be between 1 and 10⁵",
            );
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return invalid(
                "dropout",
                self.dropout,
                "the drop probability must be in [0, 1)",
            );
        }
        Ok(())
    }
}

/// One linear layer: W (out × in) and b (out).
#[derive(Clone, Debug)]
pub(crate) struct Linear {
    pub(crate) weight: Var,
    pub(crate) bias: Var,
}

/// BatchNorm on the first layer's pre-activation: learnt γ, β and the running statistics.
#[derive(Clone, Debug)]
pub(crate) struct BatchNorm {
    pub(crate) gamma: Var,
    pub(crate) beta: Var,
    pub(crate) running_mean: Tensor,
    pub(crate) running_var: Tensor,
}

/// A multilayer perceptron (see the module documentation).
#[derive(Clone, Debug)]
pub struct Mlp {
    pub(crate) input_dim: usize,
    pub(crate) layers: Vec<Linear>,
    pub(crate) batch_norm: Option<BatchNorm>,
    pub(crate) dropout: f64,
    pub(crate) seed: u64,
    pub(crate) dtype: DType,
}

/// How a forward pass treats dropout and BatchNorm.
pub(crate) enum Mode<'a> {
    /// Training: this mask (entries 0 or 1/(1 − p)) on the first pre-activation, batch
    /// statistics in BatchNorm.
    Train { mask: Option<&'a Tensor> },
    /// Evaluation: no dropout, running statistics in BatchNorm.
    Eval,
}

/// What a training-mode forward pass also returns: the batch mean and biased variance of the
/// first pre-activation (BatchNorm only), for the running statistics.
pub(crate) struct BatchStatistics {
    pub(crate) mean: Tensor,
    pub(crate) var: Tensor,
}

fn vector(values: Vec<f64>, shape: &[usize], dtype: DType) -> Result<Tensor> {
    Tensor::from_vec(values, shape, &Device::Cpu)
        .and_then(|t| t.to_dtype(dtype))
        .map_err(tensor_error("creating a tensor"))
}

/// The initial weights of every layer (module documentation): per layer (W row by row, b, out,
/// fan_in).
#[allow(clippy::type_complexity)]
pub(crate) fn draw_layers(
    input_dim: usize,
    options: &MlpOptions,
) -> Result<Vec<(Vec<f64>, Vec<f64>, usize, usize)>> {
    options.validate()?;
    if input_dim == 0 {
        return Err(Error::Input(InputError::Empty {
            what: "network inputs",
            rule: "the network needs at least one input",
        }));
    }
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(options.seed);
    let m = options.width;
    let mut layers = Vec::with_capacity(options.layers);
    for l in 0..options.layers {
        let fan_in = if l == 0 { input_dim } else { m };
        let out = if l + 1 == options.layers { 1 } else { m };
        let bound = 1.0 / (fan_in as f64).sqrt();
        let u = Uniform::new_inclusive(-bound, bound).map_err(|_| {
            Error::Input(InputError::InvalidParameter {
                name: "width",
                value: fan_in as f64,
                rule: "the initialisation bound 1/√fan_in must be finite",
            })
        })?;
        let mut draw =
            |count: usize| -> Vec<f64> { (0..count).map(|_| u.sample(&mut rng)).collect() };
        let weight = draw(out * fan_in);
        let bias = draw(out);
        layers.push((weight, bias, out, fan_in));
    }
    Ok(layers)
}

impl Mlp {
    /// A freshly initialised network on inputs of dimension `input_dim` (PyTorch's `nn.Linear`
    /// initialisation, see the module documentation).
    pub fn init(input_dim: usize, options: &MlpOptions) -> Result<Self> {
        let layers = draw_layers(input_dim, options)?;
        Self::from_layers(input_dim, layers, options)
    }

    fn from_layers(
        input_dim: usize,
        layers: Vec<(Vec<f64>, Vec<f64>, usize, usize)>,
        options: &MlpOptions,
    ) -> Result<Self> {
        let layers = layers
            .into_iter()
            .map(|(w, b, out, fan_in)| {
                Ok(Linear {
                    weight: Var::from_tensor(&vector(
                        w,
                        &[out, fan_in],
                        options.precision.dtype(),
                    )?)
                    .map_err(tensor_error("creating a weight"))?,
                    bias: Var::from_tensor(&vector(b, &[out], options.precision.dtype())?)
                        .map_err(tensor_error("creating a bias"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let (m, dtype) = (options.width, options.precision.dtype());
        let batch_norm = if options.batch_norm {
            let var = |value: f64| -> Result<Var> {
                Var::from_tensor(&vector(vec![value; m], &[m], dtype)?)
                    .map_err(tensor_error("creating BatchNorm's parameters"))
            };
            Some(BatchNorm {
                gamma: var(1.0)?,
                beta: var(0.0)?,
                running_mean: vector(vec![0.0; m], &[m], dtype)?,
                running_var: vector(vec![1.0; m], &[m], dtype)?,
            })
        } else {
            None
        };
        Ok(Self {
            input_dim,
            layers,
            batch_norm,
            dropout: options.dropout,
            seed: options.seed,
            dtype,
        })
    }

    /// The same network as a hand-written two-layer one in the PyTorch parameterisation
    /// (W → W₁, b → b₁, a → W₂, c → b₂), with the dropout and BatchNorm of `options` (whose
    /// `layers` and `width` must be 2 and the net's width).
    pub fn from_two_layer(net: &TwoLayerRelu, options: &MlpOptions) -> Result<Self> {
        if net.parameterisation() != Parameterisation::PyTorch {
            return Err(Error::Input(InputError::Unsupported(
                "Mlp::from_two_layer takes a network in the PyTorch parameterisation (output scale 1)"
                    .into(),
            )));
        }
        let options = MlpOptions {
            layers: 2,
            width: net.width(),
            ..*options
        };
        options.validate()?;
        let (m, d) = (net.width(), net.input_dim());
        let layers = vec![
            (net.weights.clone(), net.biases.clone(), m, d),
            (net.output_weights.clone(), vec![net.output_bias], 1, m),
        ];
        Self::from_layers(d, layers, &options)
    }

    /// The same network in another precision (parameters and running statistics converted;
    /// from f32 to f64 exactly), e.g. to evaluate an f32-trained network in f64.
    pub fn with_precision(&self, precision: Precision) -> Result<Self> {
        let dtype = precision.dtype();
        let convert = |t: &Tensor| {
            t.to_dtype(dtype)
                .map_err(tensor_error("converting a tensor"))
        };
        let var = |v: &Var| -> Result<Var> {
            Var::from_tensor(&convert(v.as_tensor())?).map_err(tensor_error("converting a tensor"))
        };
        let layers = self
            .layers
            .iter()
            .map(|l| {
                Ok(Linear {
                    weight: var(&l.weight)?,
                    bias: var(&l.bias)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let batch_norm = match &self.batch_norm {
            Some(bn) => Some(BatchNorm {
                gamma: var(&bn.gamma)?,
                beta: var(&bn.beta)?,
                running_mean: convert(&bn.running_mean)?,
                running_var: convert(&bn.running_var)?,
            }),
            None => None,
        };
        Ok(Self {
            layers,
            batch_norm,
            dtype,
            ..self.clone()
        })
    }

    /// Input dimension d.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// Number of linear layers L.
    pub fn layers(&self) -> usize {
        self.layers.len()
    }

    /// The learnt parameters, in training order: each layer's W then b, then BatchNorm's γ, β.
    pub(crate) fn vars(&self) -> Vec<Var> {
        let mut vars: Vec<Var> = self
            .layers
            .iter()
            .flat_map(|l| [l.weight.clone(), l.bias.clone()])
            .collect();
        if let Some(bn) = &self.batch_norm {
            vars.push(bn.gamma.clone());
            vars.push(bn.beta.clone());
        }
        vars
    }

    /// The learnt parameters as one vector, in the order of [`Self::vars`] (each W row by row):
    /// for L = 2 without BatchNorm, the order of
    /// [`TwoLayerRelu::parameters`](crate::network::TwoLayerRelu::parameters).
    pub fn parameters(&self) -> Result<Vec<f64>> {
        let mut theta = Vec::new();
        for v in self.vars() {
            let flat = v
                .as_tensor()
                .flatten_all()
                .and_then(|t| t.to_dtype(DType::F64))
                .and_then(|t| t.to_vec1::<f64>())
                .map_err(tensor_error("reading the parameters"))?;
            theta.extend(flat);
        }
        Ok(theta)
    }

    /// The forward pass on inputs x (n × d): the outputs f (n) and, in training mode with
    /// BatchNorm, the batch statistics.
    pub(crate) fn forward(
        &self,
        x: &Tensor,
        mode: Mode<'_>,
    ) -> candle_core::Result<(Tensor, Option<BatchStatistics>)> {
        let mut statistics = None;
        let mut h = x.clone();
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            let mut a = h
                .matmul(&layer.weight.as_tensor().t()?)?
                .broadcast_add(layer.bias.as_tensor())?;
            if l == last {
                return Ok((a.squeeze(1)?, statistics));
            }
            if l == 0 {
                if let Mode::Train { mask: Some(mask) } = mode {
                    a = a.mul(mask)?;
                }
                if let Some(bn) = &self.batch_norm {
                    let (mean, var) = match mode {
                        Mode::Train { .. } => {
                            let mean = a.mean_keepdim(0)?;
                            let var = a.broadcast_sub(&mean)?.sqr()?.mean_keepdim(0)?;
                            statistics = Some(BatchStatistics {
                                mean: mean.detach().squeeze(0)?,
                                var: var.detach().squeeze(0)?,
                            });
                            (mean, var)
                        }
                        Mode::Eval => (bn.running_mean.unsqueeze(0)?, bn.running_var.unsqueeze(0)?),
                    };
                    let scale = (var + BATCH_NORM_EPSILON)?.sqrt()?;
                    a = a
                        .broadcast_sub(&mean)?
                        .broadcast_div(&scale)?
                        .broadcast_mul(bn.gamma.as_tensor())?
                        .broadcast_add(bn.beta.as_tensor())?;
                }
            }
            h = a.relu()?;
        }
        unreachable!("a network has at least one layer")
    }

    /// The inputs as a tensor (n × d), checked against the network's input dimension.
    pub(crate) fn input_tensor(&self, inputs: &DMatrix<f64>) -> Result<Tensor> {
        crate::network::check_input_columns(inputs, self.input_dim)?;
        let (n, d) = inputs.shape();
        let rows: Vec<f64> = (0..n)
            .flat_map(|i| (0..d).map(move |k| (i, k)))
            .map(|(i, k)| inputs[(i, k)])
            .collect();
        vector(rows, &[n, d], self.dtype)
    }

    /// The outputs f(x_i) in evaluation mode (no dropout; BatchNorm with its running
    /// statistics) for inputs given one per row (n × d).
    pub fn outputs(&self, inputs: &DMatrix<f64>) -> Result<DVector<f64>> {
        let x = self.input_tensor(inputs)?;
        let (f, _) = self
            .forward(&x, Mode::Eval)
            .map_err(tensor_error("the forward pass"))?;
        let f = f
            .to_dtype(DType::F64)
            .and_then(|t| t.to_vec1::<f64>())
            .map_err(tensor_error("reading the outputs"))?;
        Ok(DVector::from_vec(f))
    }
}
