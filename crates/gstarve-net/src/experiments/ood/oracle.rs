//! The oracle of the out-of-distribution network's training: the same MLP 128 → h → h → 1 with ReLU on
//! candle (candle-nn's `Linear` and `AdamW` with weight decay 0, i.e. Adam), full batch, with
//! the objectives of the reference Colored-MNIST code (docs/networks.md, "Out of
//! distribution") written as tensor expressions and differentiated by candle's autodiff. The
//! experiment trains by the hand-written passes of [`super::train`]; the tests run both from the
//! same network on the same data and compare (`train_tests`). Here:
//!
//! - ERM: the mean logistic loss (nll) of the pooled training environments.
//! - SD (the paper's code): nll + c·mean(ŷ²) before the anneal step, c·(nll + mean(ŷ²)) from
//!   it on; Adam is invariant to the factor c up to its ε, so from then on the data term and
//!   mean(ŷ²) weigh alike.
//! - SD with class targets (docs/theory.md §10): mean(ŷ²) replaced by mean(w_c(mᵢ − γ_c)²),
//!   margins mᵢ = ±ŷᵢ (+ for label 1), a weight w_c and margin target γ_c per class; w = 1,
//!   γ = 0 is SD.
//! - IRM v1: the mean over training environments of nll_e + P·(∂nll_e(s·ŷ)/∂s at s = 1)²,
//!   whose derivative is mean((σ(ŷ) − y)·ŷ) in closed form (no second backward pass), plus
//!   l2·‖θ‖²; P = 1 before the anneal step, and from it on the whole loss divided by P.

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use nalgebra::DMatrix;

use super::mlp::{tensor, Mlp};
use super::train::{RunEnd, TrainingData};
use super::{Method, MethodSettings, MlpWeights};
use gstarve_core::error::{Error, NumericalError, Result};

/// A matrix as a tensor of `dtype`.
fn matrix(m: &DMatrix<f64>, dtype: DType) -> candle_core::Result<Tensor> {
    let (rows, cols) = m.shape();
    let mut data = Vec::with_capacity(rows * cols);
    for i in 0..rows {
        data.extend(m.row(i).iter().copied());
    }
    Tensor::from_slice(&data, (rows, cols), &Device::Cpu)?.to_dtype(dtype)
}

fn vector(v: &[f64], dtype: DType) -> candle_core::Result<Tensor> {
    Tensor::from_slice(v, (v.len(), 1), &Device::Cpu)?.to_dtype(dtype)
}

/// A scalar tensor's value.
fn scalar(t: &Tensor) -> candle_core::Result<f64> {
    t.to_dtype(DType::F64)?.to_scalar::<f64>()
}

impl Mlp {
    /// ‖θ‖².
    fn squared_norm(&self, dtype: DType) -> candle_core::Result<Tensor> {
        let mut total = Tensor::zeros((), dtype, &Device::Cpu)?;
        for v in &self.vars {
            total = (total + v.as_tensor().sqr()?.sum_all()?)?;
        }
        Ok(total)
    }
}

/// The mean logistic loss of outputs f against labels y ∈ {0, 1}, stably:
/// max(f, 0) − f·y + log(1 + e^{−|f|}).
fn mean_nll(f: &Tensor, y: &Tensor) -> candle_core::Result<Tensor> {
    let soft = f.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?;
    (f.relu()? - (f * y)?)?.add(&soft)?.mean_all()
}

fn accuracy(f: &Tensor, labels: &[f64]) -> candle_core::Result<f64> {
    let f = f.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    let right = f
        .iter()
        .zip(labels)
        .filter(|(&o, &y)| (o > 0.0) == (y > 0.5))
        .count();
    Ok(right as f64 / labels.len().max(1) as f64)
}

/// Train a network started from `weights` with `settings` on `data` in `dtype`: the run's end
/// and the trained parameters (in the order of [`MlpWeights::parameters`]).
pub(super) fn train(
    weights: &MlpWeights,
    settings: &MethodSettings,
    data: &TrainingData,
    dtype: DType,
) -> Result<(RunEnd, Vec<f64>)> {
    run(weights, settings, data, dtype)
        .map_err(tensor("training the out-of-distribution network"))?
}

fn run(
    weights: &MlpWeights,
    s: &MethodSettings,
    data: &TrainingData,
    dtype: DType,
) -> candle_core::Result<Result<(RunEnd, Vec<f64>)>> {
    let mlp = Mlp::new(weights, dtype)?;
    let x = matrix(&data.inputs, dtype)?;
    let y = vector(&data.labels, dtype)?;
    // Signs ±1 (margins m = sign·ŷ), and each example's class weight and margin target.
    let signs = y.affine(2.0, -1.0)?;
    let pick = |per_class: [f64; 2]| {
        let v: Vec<f64> = data
            .labels
            .iter()
            .map(|&l| per_class[usize::from(l > 0.5)])
            .collect();
        vector(&v, dtype)
    };
    let class_weights = pick(s.class_weights)?;
    let class_targets = pick(s.class_targets)?;
    let mut opt = AdamW::new(
        mlp.vars.clone(),
        ParamsAdamW {
            lr: s.learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        },
    )?;
    let mut nll_value = f64::NAN;
    for step in 0..s.steps {
        let f = mlp.forward(&x)?;
        let annealed = step >= s.anneal_steps;
        let (nll, loss) = match s.method {
            Method::Erm => {
                let nll = mean_nll(&f, &y)?;
                (nll.clone(), nll)
            }
            Method::Sd | Method::SdClasses => {
                let nll = mean_nll(&f, &y)?;
                let penalty = if s.method == Method::Sd {
                    f.sqr()?.mean_all()?
                } else {
                    let m = (&f * &signs)?;
                    ((m - &class_targets)?.sqr()? * &class_weights)?.mean_all()?
                };
                let loss = if annealed {
                    ((&nll + &penalty)? * s.coefficient)?
                } else {
                    (&nll + (penalty * s.coefficient)?)?
                };
                (nll, loss)
            }
            Method::Irm => {
                let mut start = 0;
                let (mut nlls, mut penalties) = (Vec::new(), Vec::new());
                for &size in &data.environment_sizes {
                    let fe = f.narrow(0, start, size)?;
                    let ye = y.narrow(0, start, size)?;
                    nlls.push(mean_nll(&fe, &ye)?);
                    let slope = ((candle_nn::ops::sigmoid(&fe)? - &ye)? * &fe)?.mean_all()?;
                    penalties.push(slope.sqr()?);
                    start += size;
                }
                let k = nlls.len() as f64;
                let nll = (Tensor::stack(&nlls, 0)?.sum_all()? / k)?;
                let penalty = (Tensor::stack(&penalties, 0)?.sum_all()? / k)?;
                let weight = if annealed { s.coefficient } else { 1.0 };
                let mut loss =
                    ((&nll + (mlp.squared_norm(dtype)? * s.l2)?)? + (penalty * weight)?)?;
                if weight > 1.0 {
                    loss = (loss / weight)?;
                }
                (nll, loss)
            }
        };
        nll_value = scalar(&nll)?;
        let loss_value = scalar(&loss)?;
        if !loss_value.is_finite() {
            return Ok(Err(Error::Numerical(NumericalError::TrainingDiverged {
                epoch: step,
                loss: loss_value,
                learning_rate: s.learning_rate,
            })));
        }
        opt.backward_step(&loss)?;
    }
    let f = mlp.forward(&x)?;
    let train_accuracy = accuracy(&f, &data.labels)?;
    if s.steps > 0 {
        nll_value = scalar(&mean_nll(&f, &y)?)?;
    }
    let test = mlp.forward(&matrix(&data.test_inputs, dtype)?)?;
    let mut parameters = Vec::new();
    for v in &mlp.vars {
        let values = v.as_tensor().flatten_all()?.to_dtype(DType::F64)?;
        parameters.extend(values.to_vec1::<f64>()?);
    }
    let end = RunEnd {
        train_accuracy,
        test_accuracy: accuracy(&test, &data.test_labels)?,
        train_nll: nll_value,
    };
    Ok(Ok((end, parameters)))
}
