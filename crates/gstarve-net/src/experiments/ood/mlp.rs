//! The out-of-distribution experiment's network, 128 → h → h → 1 with ReLU, trained in f32 by
//! candle (candle-nn's `Linear` and `AdamW` with weight decay 0, i.e. Adam), full batch, with
//! the objectives of the reference Colored-MNIST code (docs/networks.md, "Out of
//! distribution"):
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

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Linear, Module, Optimizer, ParamsAdamW};
use nalgebra::DMatrix;

use super::{Method, MethodSettings, MlpWeights};
use gstarve_core::error::{Error, NumericalError, Result};

/// A candle error as a numerical failure of `operation`.
fn tensor(operation: &'static str) -> impl Fn(candle_core::Error) -> Error {
    move |e| {
        Error::Numerical(NumericalError::Tensor {
            operation,
            message: e.to_string(),
        })
    }
}

/// A matrix as an f32 tensor.
fn matrix(m: &DMatrix<f64>) -> candle_core::Result<Tensor> {
    let (rows, cols) = m.shape();
    let mut data = Vec::with_capacity(rows * cols);
    for i in 0..rows {
        data.extend(m.row(i).iter().map(|&v| v as f32));
    }
    Tensor::from_slice(&data, (rows, cols), &Device::Cpu)
}

fn vector(v: &[f64]) -> candle_core::Result<Tensor> {
    let data: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_slice(&data, (v.len(), 1), &Device::Cpu)
}

/// The network's variables and its three layers.
struct Mlp {
    vars: Vec<Var>,
    layers: [Linear; 3],
}

impl Mlp {
    fn new(w: &MlpWeights) -> candle_core::Result<Self> {
        let shapes = [
            (&w.w1, &w.b1, w.width, w.inputs),
            (&w.w2, &w.b2, w.width, w.width),
            (&w.w3, &w.b3, 1, w.width),
        ];
        let mut vars = Vec::new();
        let mut layers = Vec::new();
        for (weight, bias, rows, cols) in shapes {
            let weight: Vec<f32> = weight.iter().map(|&v| v as f32).collect();
            let bias: Vec<f32> = bias.iter().map(|&v| v as f32).collect();
            let wv = Var::from_tensor(&Tensor::from_slice(&weight, (rows, cols), &Device::Cpu)?)?;
            let bv = Var::from_tensor(&Tensor::from_slice(&bias, rows, &Device::Cpu)?)?;
            layers.push(Linear::new(
                wv.as_tensor().clone(),
                Some(bv.as_tensor().clone()),
            ));
            vars.push(wv);
            vars.push(bv);
        }
        let layers: [Linear; 3] = layers.try_into().expect("three layers");
        Ok(Self { vars, layers })
    }

    /// ŷ for a batch (n × 1).
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let a1 = self.layers[0].forward(x)?.relu()?;
        let a2 = self.layers[1].forward(&a1)?.relu()?;
        self.layers[2].forward(&a2)
    }

    fn squared_norm(&self) -> candle_core::Result<Tensor> {
        let mut total = Tensor::zeros((), DType::F32, &Device::Cpu)?;
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

/// The labels and the pooled training data of one restart, as tensors.
pub(super) struct TrainingData {
    /// Pooled training inputs (environment after environment).
    pub inputs: DMatrix<f64>,
    /// Pooled training labels 0/1.
    pub labels: Vec<f64>,
    /// Sizes of the training environments, in pooled order.
    pub environment_sizes: Vec<usize>,
    /// Test inputs and labels.
    pub test_inputs: DMatrix<f64>,
    /// Test labels 0/1.
    pub test_labels: Vec<f64>,
}

/// What one training run ends with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct RunEnd {
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    pub train_nll: f64,
}

fn accuracy(f: &Tensor, labels: &[f64]) -> candle_core::Result<f64> {
    let f = f.flatten_all()?.to_vec1::<f32>()?;
    let right = f
        .iter()
        .zip(labels)
        .filter(|(&o, &y)| (o > 0.0) == (y > 0.5))
        .count();
    Ok(right as f64 / labels.len().max(1) as f64)
}

/// Train a network started from `weights` with `settings` on `data`.
pub(super) fn train(
    weights: &MlpWeights,
    settings: &MethodSettings,
    data: &TrainingData,
) -> Result<RunEnd> {
    run(weights, settings, data).map_err(tensor("training the out-of-distribution network"))?
}

fn run(
    weights: &MlpWeights,
    s: &MethodSettings,
    data: &TrainingData,
) -> candle_core::Result<Result<RunEnd>> {
    let mlp = Mlp::new(weights)?;
    let x = matrix(&data.inputs)?;
    let y = vector(&data.labels)?;
    // Signs ±1 (margins m = sign·ŷ), and each example's class weight and margin target.
    let signs = y.affine(2.0, -1.0)?;
    let pick = |per_class: [f64; 2]| {
        let v: Vec<f64> = data
            .labels
            .iter()
            .map(|&l| per_class[usize::from(l > 0.5)])
            .collect();
        vector(&v)
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
                let mut loss = ((&nll + (mlp.squared_norm()? * s.l2)?)? + (penalty * weight)?)?;
                if weight > 1.0 {
                    loss = (loss / weight)?;
                }
                (nll, loss)
            }
        };
        nll_value = nll.to_scalar::<f32>()? as f64;
        let loss_value = loss.to_scalar::<f32>()? as f64;
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
        nll_value = mean_nll(&f, &y)?.to_scalar::<f32>()? as f64;
    }
    let test = mlp.forward(&matrix(&data.test_inputs)?)?;
    Ok(Ok(RunEnd {
        train_accuracy,
        test_accuracy: accuracy(&test, &data.test_labels)?,
        train_nll: nll_value,
    }))
}

/// The network's outputs and the gradient of ŷ(x) with respect to every parameter, by candle's
/// backward pass (f32), in the order of [`MlpWeights::parameters`]: the check of the
/// hand-written Jacobian.
pub(super) fn output_gradient(weights: &MlpWeights, x: &[f64]) -> Result<(f64, Vec<f64>)> {
    let inner = || -> candle_core::Result<(f64, Vec<f64>)> {
        let mlp = Mlp::new(weights)?;
        let data: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let input = Tensor::from_slice(&data, (1, x.len()), &Device::Cpu)?;
        let f = mlp.forward(&input)?.sum_all()?;
        let grads = f.backward()?;
        let mut out = Vec::new();
        for v in &mlp.vars {
            let g = grads
                .get(v.as_tensor())
                .ok_or_else(|| candle_core::Error::Msg("a parameter has no gradient".into()))?;
            out.extend(g.flatten_all()?.to_vec1::<f32>()?.iter().map(|&v| v as f64));
        }
        Ok((f.to_scalar::<f32>()? as f64, out))
    };
    inner().map_err(tensor("differentiating the network's output"))
}
