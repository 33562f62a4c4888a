//! The update of [`super::train`]: `torch.optim.SGD` with momentum μ, weight decay wd, no
//! dampening and no Nesterov, so that a run here and the PyTorch baseline take the same steps:
//!
//! ```text
//! g = ∇(loss terms) + wd·θ,   v ← μv + g,   θ ← θ − η v
//! ```
//!
//! with v = 0 at the start, so the first v is g (docs/theory.md §3.4 for GD, of which this is the
//! heavy-ball variant; [`super::train`] maps η and μ to learning time).

use super::{TrainOptions, TwoLayerRelu};

/// A gradient (or momentum buffer) in the network's layout: W row by row, b, a, c.
pub(super) struct Gradient {
    pub(super) weights: Vec<f64>,
    pub(super) biases: Vec<f64>,
    pub(super) output_weights: Vec<f64>,
    pub(super) output_bias: f64,
}

impl Gradient {
    pub(super) fn zeros(net: &TwoLayerRelu) -> Self {
        Self {
            weights: vec![0.0; net.weights.len()],
            biases: vec![0.0; net.biases.len()],
            output_weights: vec![0.0; net.output_weights.len()],
            output_bias: 0.0,
        }
    }

    /// The entries as one vector, in the order of [`TwoLayerRelu::parameters`].
    pub(super) fn to_vec(&self) -> Vec<f64> {
        let mut g = Vec::with_capacity(
            self.weights.len() + self.biases.len() + self.output_weights.len() + 1,
        );
        g.extend_from_slice(&self.weights);
        g.extend_from_slice(&self.biases);
        g.extend_from_slice(&self.output_weights);
        g.push(self.output_bias);
        g
    }
}

/// One step, for every parameter: v ← μv + g + wd·θ (summed in that order), θ ← θ − η v.
pub(super) fn step(net: &mut TwoLayerRelu, grad: &Gradient, v: &mut Gradient, o: &TrainOptions) {
    let (lr, mu, wd) = (o.learning_rate, o.momentum, o.weight_decay);
    let update = |theta: &mut [f64], g: &[f64], v: &mut [f64]| {
        for ((t, &g), v) in theta.iter_mut().zip(g).zip(v.iter_mut()) {
            *v = mu * *v + g + wd * *t;
            *t -= lr * *v;
        }
    };
    update(&mut net.weights, &grad.weights, &mut v.weights);
    update(&mut net.biases, &grad.biases, &mut v.biases);
    update(
        &mut net.output_weights,
        &grad.output_weights,
        &mut v.output_weights,
    );
    v.output_bias = mu * v.output_bias + grad.output_bias + wd * net.output_bias;
    net.output_bias -= lr * v.output_bias;
}
