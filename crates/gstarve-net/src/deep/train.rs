//! Full-batch training of an [`Mlp`] on candle's automatic differentiation.
//!
//! **Objective**, the one of the hand-written network's trainer
//! ([`crate::network::train`], docs/theory.md §2.1–§2.2, mean over examples):
//!
//! ```text
//! J(θ) = (1/n) Σᵢ log(1 + e^{−yᵢ f(xᵢ)}) + c_SD · (1/n) Σᵢ f(xᵢ)²
//! ```
//!
//! with log(1 + e^t) evaluated as relu(t) + log(1 + e^{−|t|}) (no overflow).
//!
//! **Updates** ([`Optimiser`]), each PyTorch's:
//!
//! - SGD (`torch.optim.SGD`, no dampening, no Nesterov): g = ∇J + wd·θ, v ← μv + g, θ ← θ − ηv,
//!   v = 0 at the start; the hand-written trainer's step, on every learnt parameter (BatchNorm's
//!   γ and β too);
//! - Adam (`torch.optim.Adam`, no weight decay): m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g²,
//!   θ ← θ − η·m̂/(√v̂ + ε) with m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ) at step t — candle-nn's
//!   `AdamW` with its decoupled weight decay set to 0, which is this update.
//!
//! Dropout masks are drawn per step from ChaCha12 (stream 1 of the network's seed), so a run is
//! reproducible; BatchNorm updates its running statistics once per step.

use candle_core::{backprop::GradStore, DType, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use nalgebra::DVector;
use rand::{Rng, SeedableRng};

use super::{tensor_error, Mlp, Mode, BATCH_NORM_MOMENTUM};
use crate::data::Dataset;
use gstarve_core::error::{Error, InputError, NumericalError, Result};

/// The update rule of [`train_mlp`] (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimiser {
    /// SGD with heavy-ball momentum μ ∈ [0, 1) and weight decay wd ≥ 0 (PyTorch's).
    Sgd {
        /// Learning rate η > 0.
        learning_rate: f64,
        /// Momentum μ.
        momentum: f64,
        /// Weight decay wd (added to the gradient as wd·θ).
        weight_decay: f64,
    },
    /// Adam (PyTorch's, no weight decay).
    Adam {
        /// Learning rate η > 0.
        learning_rate: f64,
        /// β₁ ∈ [0, 1) (PyTorch: 0.9).
        beta1: f64,
        /// β₂ ∈ [0, 1) (PyTorch: 0.999).
        beta2: f64,
        /// ε > 0 (PyTorch: 10⁻⁸).
        epsilon: f64,
    },
}

impl Optimiser {
    /// PyTorch's Adam with its default β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸.
    pub fn adam(learning_rate: f64) -> Self {
        Self::Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }

    /// The learning rate η.
    pub fn learning_rate(&self) -> f64 {
        match *self {
            Self::Sgd { learning_rate, .. } | Self::Adam { learning_rate, .. } => learning_rate,
        }
    }

    fn validate(&self) -> Result<()> {
        let checks: Vec<(&'static str, f64, bool, &'static str)> = match *self {
            Self::Sgd {
                learning_rate,
                momentum,
                weight_decay,
            } => vec![
                (
                    "learning_rate",
                    learning_rate,
                    learning_rate > 0.0,
                    "the learning rate must be finite and > 0",
                ),
                (
                    "momentum",
                    momentum,
                    (0.0..1.0).contains(&momentum),
                    "the momentum must be in [0, 1)",
                ),
                (
                    "weight_decay",
                    weight_decay,
                    weight_decay >= 0.0,
                    "the weight decay must be finite and ≥ 0",
                ),
            ],
            Self::Adam {
                learning_rate,
                beta1,
                beta2,
                epsilon,
            } => vec![
                (
                    "learning_rate",
                    learning_rate,
                    learning_rate > 0.0,
                    "the learning rate must be finite and > 0",
                ),
                (
                    "beta1",
                    beta1,
                    (0.0..1.0).contains(&beta1),
                    "Adam's β₁ must be in [0, 1)",
                ),
                (
                    "beta2",
                    beta2,
                    (0.0..1.0).contains(&beta2),
                    "Adam's β₂ must be in [0, 1)",
                ),
                ("epsilon", epsilon, epsilon > 0.0, "Adam's ε must be > 0"),
            ],
        };
        for (name, value, ok, rule) in checks {
            if !(value.is_finite() && ok) {
                return Err(Error::Input(InputError::InvalidParameter {
                    name,
                    value,
                    rule,
                }));
            }
        }
        Ok(())
    }
}

/// Options of [`train_mlp`]. Defaults: the paper's two-moons optimiser (SGD, η = 10⁻²,
/// μ = 0.9, no weight decay), 1000 epochs, no SD.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MlpTrainOptions {
    /// Number of full-batch updates.
    pub epochs: usize,
    /// The update rule.
    pub optimiser: Optimiser,
    /// Spectral Decoupling coefficient c ≥ 0 on mean ŷ² (0: none).
    pub spectral_decoupling: f64,
}

impl Default for MlpTrainOptions {
    fn default() -> Self {
        Self {
            epochs: 1000,
            optimiser: Optimiser::Sgd {
                learning_rate: 1e-2,
                momentum: 0.9,
                weight_decay: 0.0,
            },
            spectral_decoupling: 0.0,
        }
    }
}

impl MlpTrainOptions {
    /// Check every option.
    pub fn validate(&self) -> Result<()> {
        self.optimiser.validate()?;
        if !(self.spectral_decoupling.is_finite() && self.spectral_decoupling >= 0.0) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "spectral_decoupling",
                value: self.spectral_decoupling,
                rule: "the SD coefficient must be finite and ≥ 0",
            }));
        }
        if self.epochs > 100_000_000 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "epochs",
                value: self.epochs as f64,
                rule: "at most 10⁸ epochs",
            }));
        }
        Ok(())
    }
}

/// What [`train_mlp`] returns.
#[derive(Clone, Debug)]
pub struct MlpRecord {
    /// Updates done.
    pub epochs: usize,
    /// The objective (mean logistic + SD term) at the last update's training-mode forward pass
    /// (with that step's dropout mask and batch statistics); NaN after 0 epochs.
    pub last_training_loss: f64,
    /// The objective of the trained network in evaluation mode on the training data.
    pub final_loss: f64,
    /// The trained network's outputs ŷ on the training data, in evaluation mode.
    pub outputs: DVector<f64>,
}

/// The objective J of the module documentation for outputs f and labels y (tensors of n).
pub(crate) fn objective(f: &Tensor, y: &Tensor, sd: f64) -> candle_core::Result<Tensor> {
    let t = f.mul(y)?.neg()?;
    let softplus = (t.relu()? + (t.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
    let loss = softplus.mean_all()?;
    if sd > 0.0 {
        loss + (f.sqr()?.mean_all()? * sd)?
    } else {
        Ok(loss)
    }
}

/// A dropout mask of `count` entries: 0 with probability p, else 1/(1 − p) (a uniform draw
/// u ∈ [0, 1) per entry, dropped when u < p).
pub(crate) fn dropout_mask(rng: &mut impl Rng, count: usize, p: f64) -> Vec<f64> {
    let keep = 1.0 / (1.0 - p);
    (0..count)
        .map(|_| if rng.random::<f64>() < p { 0.0 } else { keep })
        .collect()
}

/// The optimiser's state.
enum State {
    Sgd { velocity: Vec<Tensor> },
    Adam(AdamW),
}

fn sgd_step(
    vars: &[Var],
    grads: &GradStore,
    velocity: &mut [Tensor],
    (lr, mu, wd): (f64, f64, f64),
) -> candle_core::Result<()> {
    for (var, v) in vars.iter().zip(velocity.iter_mut()) {
        let theta = var.as_tensor();
        let Some(g) = grads.get(theta) else {
            continue;
        };
        let mut next = ((&*v * mu)? + g)?;
        if wd > 0.0 {
            next = (next + (theta * wd)?)?;
        }
        var.set(&(theta - (&next * lr)?)?)?;
        *v = next;
    }
    Ok(())
}

/// Train `net` on `dataset` (see the module documentation); the network is changed in place.
///
/// A non-finite loss stops training with
/// [`NumericalError::TrainingDiverged`](gstarve_core::error::NumericalError::TrainingDiverged).
pub fn train_mlp(net: &mut Mlp, dataset: &Dataset, options: &MlpTrainOptions) -> Result<MlpRecord> {
    options.validate()?;
    let n = dataset.len();
    if net.batch_norm.is_some() && n < 2 {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "n",
            value: n as f64,
            rule: "BatchNorm needs at least 2 examples (a variance)",
        }));
    }
    let x = net.input_tensor(dataset.inputs())?;
    let y = Tensor::from_vec(dataset.labels().as_slice().to_vec(), n, x.device())
        .and_then(|t| t.to_dtype(net.dtype))
        .map_err(tensor_error("creating the labels"))?;
    let vars = net.vars();
    let mut state = match options.optimiser {
        Optimiser::Sgd { .. } => State::Sgd {
            velocity: vars
                .iter()
                .map(|v| v.as_tensor().zeros_like())
                .collect::<candle_core::Result<_>>()
                .map_err(tensor_error("creating the momentum buffers"))?,
        },
        Optimiser::Adam {
            learning_rate,
            beta1,
            beta2,
            epsilon,
        } => State::Adam(
            AdamW::new(
                vars.clone(),
                ParamsAdamW {
                    lr: learning_rate,
                    beta1,
                    beta2,
                    eps: epsilon,
                    weight_decay: 0.0,
                },
            )
            .map_err(tensor_error("creating Adam's state"))?,
        ),
    };
    let mut masks = rand_chacha::ChaCha12Rng::seed_from_u64(net.seed);
    masks.set_stream(1);
    let (p, m) = (
        net.dropout,
        net.layers[0].bias.as_tensor().dims1().unwrap_or(0),
    );
    let mut last_training_loss = f64::NAN;
    for epoch in 0..options.epochs {
        let mask = if p > 0.0 {
            Some(
                Tensor::from_vec(dropout_mask(&mut masks, n * m, p), (n, m), x.device())
                    .and_then(|t| t.to_dtype(net.dtype))
                    .map_err(tensor_error("drawing a dropout mask"))?,
            )
        } else {
            None
        };
        let (f, statistics) = net
            .forward(
                &x,
                Mode::Train {
                    mask: mask.as_ref(),
                },
            )
            .map_err(tensor_error("the forward pass"))?;
        let loss =
            objective(&f, &y, options.spectral_decoupling).map_err(tensor_error("the loss"))?;
        let value = loss
            .to_dtype(DType::F64)
            .and_then(|l| l.to_scalar::<f64>())
            .map_err(tensor_error("reading the loss"))?;
        if !value.is_finite() {
            return Err(Error::Numerical(NumericalError::TrainingDiverged {
                epoch,
                loss: value,
                learning_rate: options.optimiser.learning_rate(),
            }));
        }
        last_training_loss = value;
        let grads = loss.backward().map_err(tensor_error("the backward pass"))?;
        match (&mut state, options.optimiser) {
            (
                State::Sgd { velocity },
                Optimiser::Sgd {
                    learning_rate,
                    momentum,
                    weight_decay,
                },
            ) => sgd_step(
                &vars,
                &grads,
                velocity,
                (learning_rate, momentum, weight_decay),
            ),
            (State::Adam(adam), _) => adam.step(&grads),
            (State::Sgd { .. }, _) => unreachable!("the state follows the optimiser"),
        }
        .map_err(tensor_error("the update"))?;
        if let (Some(bn), Some(s)) = (net.batch_norm.as_mut(), statistics) {
            let unbiased = n as f64 / (n as f64 - 1.0);
            let mu = BATCH_NORM_MOMENTUM;
            let update = |running: &Tensor, batch: &Tensor, scale: f64| {
                (running * (1.0 - mu))? + (batch * (mu * scale))?
            };
            bn.running_mean = update(&bn.running_mean, &s.mean, 1.0)
                .map_err(tensor_error("BatchNorm's running mean"))?;
            bn.running_var = update(&bn.running_var, &s.var, unbiased)
                .map_err(tensor_error("BatchNorm's running variance"))?;
        }
    }
    let (f, _) = net
        .forward(&x, Mode::Eval)
        .map_err(tensor_error("the forward pass"))?;
    let final_loss = objective(&f, &y, options.spectral_decoupling)
        .and_then(|l| l.to_dtype(DType::F64))
        .and_then(|l| l.to_scalar::<f64>())
        .map_err(tensor_error("the loss"))?;
    let outputs = f
        .to_dtype(DType::F64)
        .and_then(|t| t.to_vec1::<f64>())
        .map_err(tensor_error("reading the outputs"))?;
    Ok(MlpRecord {
        epochs: options.epochs,
        last_training_loss,
        final_loss,
        outputs: DVector::from_vec(outputs),
    })
}
