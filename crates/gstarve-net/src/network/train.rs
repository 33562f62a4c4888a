//! Full-batch training of the real (nonlinear) network, with PyTorch's SGD semantics.
//!
//! **Objective** (the paper's network experiments use a *mean* over examples; the losses and
//! regularisers are those of docs/theory.md §2.1–§2.2):
//!
//! ```text
//! J(θ) = (1/n) Σᵢ log(1 + e^{−yᵢ f(xᵢ)}) + c_SD · (1/n) Σᵢ f(xᵢ)² + (wd/2)‖θ‖²
//! ```
//!
//! **Update**: momentum SGD as `torch.optim.SGD` ([`sgd`](super::sgd)), on gradients computed by
//! the training kernel ([`kernel`](super::kernel)).
//!
//! **Mapping to the sum convention of docs/theory.md** (§8.5). Dividing the sum loss by n
//! divides the gradient by n, so k steps of rate η on the mean loss are k steps of rate η/n on
//! the sum: learning time τ = η·k/n. Weight decay wd on the mean objective is L2 with λ = n·wd on
//! the sum (but it decays θ towards 0, not towards the initialisation as the theory's
//! θ-from-init does, so it matches (★) of §3.2 only for a zero-output, θ₀-small network,
//! approximately). SD with coefficient c on mean ŷ² is (1/n)·(λ/2)‖ŷ‖² with λ = 2c. Heavy-ball
//! momentum μ, for changes slow compared with the momentum's memory of 1/(1−μ) steps, multiplies
//! the effective rate by 1/(1−μ): the recorded τ = η·k / (n(1−μ)).

use nalgebra::DVector;

use super::class_targets::ClassTargets;
use super::kernel::Kernel;
use super::sgd::{step, Gradient};
use super::TwoLayerRelu;
use crate::data::Dataset;
use gstarve_core::error::{Error, InputError, NumericalError, Result};
use gstarve_core::systems::FeatureSystem;

/// Options of [`train`]. Defaults: the paper's two-moons run (10 000 epochs, η = 1e-2, μ = 0.9,
/// wd = 2e-4, SD 0.003, a record every 100 epochs, sequential).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainOptions {
    /// Number of full-batch updates.
    pub epochs: usize,
    /// Learning rate η > 0.
    pub learning_rate: f64,
    /// Momentum μ ∈ [0, 1).
    pub momentum: f64,
    /// Weight decay wd ≥ 0 (added to the gradient as wd·θ, on every parameter).
    pub weight_decay: f64,
    /// Spectral Decoupling coefficient c ≥ 0 on mean ŷ² (0 for none; the paper uses 0.003).
    pub spectral_decoupling: f64,
    /// Record ŷ every this many epochs (≥ 1); epoch 0 and the last epoch are always recorded.
    pub record_every: usize,
    /// Split the hidden units over two rayon tasks.
    pub parallel: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            epochs: 10_000,
            learning_rate: 1e-2,
            momentum: 0.9,
            weight_decay: 2e-4,
            spectral_decoupling: 0.003,
            record_every: 100,
            parallel: false,
        }
    }
}

impl TrainOptions {
    /// Check every option.
    pub fn validate(&self) -> Result<()> {
        let checks: [(&'static str, f64, bool, &'static str); 4] = [
            (
                "learning_rate",
                self.learning_rate,
                self.learning_rate > 0.0,
                "the learning rate must be finite and > 0",
            ),
            (
                "momentum",
                self.momentum,
                (0.0..1.0).contains(&self.momentum),
                "the momentum must be in [0, 1)",
            ),
            (
                "weight_decay",
                self.weight_decay,
                self.weight_decay >= 0.0,
                "the weight decay must be finite and ≥ 0",
            ),
            (
                "spectral_decoupling",
                self.spectral_decoupling,
                self.spectral_decoupling >= 0.0,
                "the SD coefficient must be finite and ≥ 0",
            ),
        ];
        for (name, value, ok, rule) in checks {
            if !(value.is_finite() && ok) {
                return Err(Error::Input(InputError::InvalidParameter {
                    name,
                    value,
                    rule,
                }));
            }
        }
        if self.record_every == 0 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "record_every",
                value: 0.0,
                rule: "record at least every epoch count ≥ 1",
            }));
        }
        Ok(())
    }
}

/// What [`train`] records, at epochs 0, r, 2r, … and the last one.
#[derive(Clone, Debug, Default)]
pub struct TrainingRecord {
    /// Epochs k (updates done) of the records.
    pub epochs: Vec<usize>,
    /// Learning time τ = η·k / (n(1−μ)) in the sum convention of docs/theory.md §8.5 (see the
    /// module docs).
    pub tau: Vec<f64>,
    /// Mean logistic loss + c_SD·mean ŷ² (what the PyTorch baseline prints; no weight decay).
    pub loss: Vec<f64>,
    /// Outputs ŷ = f(x_i).
    pub outputs: Vec<DVector<f64>>,
    /// Responses z_real = UᵀYŷ in the basis U given to [`train`] (empty without one).
    pub responses: Vec<DVector<f64>>,
}

/// Train `net` on `dataset` with full-batch SGD (see the module docs), recording ŷ and, when a
/// `basis` is given (usually the feature system at initialisation), z_real = UᵀYŷ.
///
/// A non-finite loss stops training with [`NumericalError::TrainingDiverged`](gstarve_core::error::NumericalError::TrainingDiverged).
pub fn train(
    net: &mut TwoLayerRelu,
    dataset: &Dataset,
    basis: Option<&FeatureSystem>,
    options: &TrainOptions,
) -> Result<TrainingRecord> {
    train_observed(net, dataset, basis, options, None, &mut |_, _| Ok(()))
}

/// [`train`] with, optionally, the per-class SD term of [`super::class_targets`] added to the
/// objective (beside `options.spectral_decoupling`), and an observer called at every epoch
/// k = 0, …, epochs with the parameters θ_k (before the k-th update; an error stops training).
pub fn train_observed(
    net: &mut TwoLayerRelu,
    dataset: &Dataset,
    basis: Option<&FeatureSystem>,
    options: &TrainOptions,
    targets: Option<&ClassTargets>,
    observe: &mut dyn FnMut(usize, &TwoLayerRelu) -> Result<()>,
) -> Result<TrainingRecord> {
    options.validate()?;
    if let Some(b) = basis {
        if b.examples() != dataset.len() {
            return Err(Error::Input(InputError::Length {
                what: "rows of the basis U",
                found: b.examples(),
                expected: dataset.len(),
                rule: "one per example of the data set",
            }));
        }
    }
    let mut kernel = Kernel::new(net, dataset)?;
    let mut grad = Gradient::zeros(net);
    let mut velocity = Gradient::zeros(net);
    let n = dataset.len();
    let time_per_epoch = options.learning_rate / (n as f64 * (1.0 - options.momentum));
    let mut record = TrainingRecord::default();
    for k in 0..=options.epochs {
        kernel.forward(net, options.parallel);
        let loss = kernel.loss_and_residual_with(options.spectral_decoupling, targets);
        if !loss.is_finite() {
            return Err(Error::Numerical(NumericalError::TrainingDiverged {
                epoch: k,
                loss,
                learning_rate: options.learning_rate,
            }));
        }
        if k % options.record_every == 0 || k == options.epochs {
            let outputs = DVector::from_column_slice(&kernel.out[..n]);
            if let Some(b) = basis {
                let margins = outputs.component_mul(dataset.labels());
                record.responses.push(b.coupling().tr_mul(&margins));
            }
            record.epochs.push(k);
            record.tau.push(k as f64 * time_per_epoch);
            record.loss.push(loss);
            record.outputs.push(outputs);
        }
        observe(k, net)?;
        if k == options.epochs {
            break;
        }
        kernel.backward(net, &mut grad, options.parallel);
        step(net, &grad, &mut velocity, options);
    }
    Ok(record)
}

/// The objective J(θ) of the module docs: mean logistic loss + c_SD·mean ŷ² + (wd/2)‖θ‖².
pub fn objective(
    net: &TwoLayerRelu,
    dataset: &Dataset,
    spectral_decoupling: f64,
    weight_decay: f64,
) -> Result<f64> {
    let mut kernel = Kernel::new(net, dataset)?;
    kernel.forward(net, false);
    let norm2: f64 = net.parameters().iter().map(|t| t * t).sum();
    Ok(kernel.loss_and_residual(spectral_decoupling) + 0.5 * weight_decay * norm2)
}

/// ∇J(θ) by the training kernel (the g of the SGD update), in the order of
/// [`TwoLayerRelu::parameters`].
pub fn objective_gradient(
    net: &TwoLayerRelu,
    dataset: &Dataset,
    spectral_decoupling: f64,
    weight_decay: f64,
) -> Result<Vec<f64>> {
    let mut kernel = Kernel::new(net, dataset)?;
    kernel.forward(net, false);
    kernel.loss_and_residual(spectral_decoupling);
    let mut grad = Gradient::zeros(net);
    kernel.backward(net, &mut grad, false);
    let mut g = grad.to_vec();
    for (gi, t) in g.iter_mut().zip(net.parameters()) {
        *gi += weight_decay * t;
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_options() {
        let bad = [
            TrainOptions {
                learning_rate: 0.0,
                ..Default::default()
            },
            TrainOptions {
                momentum: 1.0,
                ..Default::default()
            },
            TrainOptions {
                weight_decay: f64::NAN,
                ..Default::default()
            },
            TrainOptions {
                spectral_decoupling: -1.0,
                ..Default::default()
            },
            TrainOptions {
                record_every: 0,
                ..Default::default()
            },
        ];
        for o in bad {
            assert!(matches!(
                o.validate(),
                Err(Error::Input(InputError::InvalidParameter { .. }))
            ));
        }
    }
}
