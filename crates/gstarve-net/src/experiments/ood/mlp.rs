//! The out-of-distribution network on candle: the MLP 128 → h → h → 1 with ReLU as candle-nn
//! `Linear` layers, for the check of the hand-written Jacobian of the feature analysis
//! ([`output_gradient`]) and for the training oracle of the tests (`oracle`).

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{Linear, Module};

use super::MlpWeights;
use gstarve_core::error::{Error, NumericalError, Result};

/// A candle error as a numerical failure of `operation`.
pub(super) fn tensor(operation: &'static str) -> impl Fn(candle_core::Error) -> Error {
    move |e| {
        Error::Numerical(NumericalError::Tensor {
            operation,
            message: e.to_string(),
        })
    }
}

/// The network's variables and its three layers.
pub(super) struct Mlp {
    pub(super) vars: Vec<Var>,
    layers: [Linear; 3],
}

impl Mlp {
    pub(super) fn new(w: &MlpWeights, dtype: DType) -> candle_core::Result<Self> {
        let shapes = [
            (&w.w1, &w.b1, w.width, w.inputs),
            (&w.w2, &w.b2, w.width, w.width),
            (&w.w3, &w.b3, 1, w.width),
        ];
        let mut vars = Vec::new();
        let mut layers = Vec::new();
        for (weight, bias, rows, cols) in shapes {
            let weight = Tensor::from_slice(weight, (rows, cols), &Device::Cpu)?.to_dtype(dtype)?;
            let bias = Tensor::from_slice(bias, rows, &Device::Cpu)?.to_dtype(dtype)?;
            let wv = Var::from_tensor(&weight)?;
            let bv = Var::from_tensor(&bias)?;
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
    pub(super) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let a1 = self.layers[0].forward(x)?.relu()?;
        let a2 = self.layers[1].forward(&a1)?.relu()?;
        self.layers[2].forward(&a2)
    }
}

/// The network's outputs and the gradient of ŷ(x) with respect to every parameter, by candle's
/// backward pass (f32), in the order of [`MlpWeights::parameters`]: the check of the
/// hand-written Jacobian.
pub(super) fn output_gradient(weights: &MlpWeights, x: &[f64]) -> Result<(f64, Vec<f64>)> {
    let inner = || -> candle_core::Result<(f64, Vec<f64>)> {
        let mlp = Mlp::new(weights, DType::F32)?;
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
