//! Training the out-of-distribution network by hand-written passes
//! ([`DenseMlp`](crate::deep::DenseMlp), 128 → h → h → 1, full-batch [`Adam`]) with the four
//! objectives of the reference Colored-MNIST code (docs/networks.md, "Out of distribution").
//! candle's autodiff of the same objectives ([`super::mlp`]) is the oracle in the tests.
//!
//! Every objective is J(θ) = Σ-terms of the outputs fᵢ = ŷ(xᵢ) (plus, for IRM, l2·‖θ‖²), so its
//! gradient is ∂J/∂θ = Σᵢ gᵢ ∂fᵢ/∂θ (+ 2·l2·θ) with the slopes gᵢ = ∂J/∂fᵢ below; the network's
//! backward pass turns g into ∂J/∂θ. With σ the logistic function, yᵢ ∈ {0, 1} and the stable
//! logistic loss ℓᵢ = max(fᵢ, 0) − fᵢyᵢ + log(1 + e^{−|fᵢ|}), ∂ℓᵢ/∂fᵢ = σ(fᵢ) − yᵢ:
//!
//! - **ERM**: J = (1/n) Σᵢ ℓᵢ, gᵢ = (σᵢ − yᵢ)/n.
//! - **SD** and **SD with class targets** (docs/theory.md §10): the penalty
//!   R = (1/n) Σᵢ w_{c(i)} (mᵢ − γ_{c(i)})² on the margins mᵢ = sᵢfᵢ, sᵢ = 2yᵢ − 1, with
//!   ∂R/∂fᵢ = 2 w_c (mᵢ − γ_c) sᵢ / n; w = 1, γ = 0 gives plain SD's mean(f²) (sᵢ² = 1). Before
//!   the anneal step J = (1/n)Σℓ + c·R, from it on J = c·((1/n)Σℓ + R).
//! - **IRM v1**: over the K training environments e (nₑ examples each),
//!   J = (1/K) Σₑ [ℓ̄ₑ + ω rₑ²] + l2·‖θ‖², then divided by ω if ω > 1, where ℓ̄ₑ is the mean loss
//!   in e, ω = P from the anneal step on (1 before), and rₑ is the IRM v1 penalty's slope: the
//!   derivative of ℓ̄ₑ with respect to a scalar s multiplying every output, at s = 1,
//!
//!   ```text
//!   rₑ = ∂/∂s (1/nₑ) Σ_{i∈e} ℓ(s·fᵢ, yᵢ) |_{s=1} = (1/nₑ) Σ_{i∈e} (σ(fᵢ) − yᵢ) fᵢ.
//!   ```
//!
//!   Its square's gradient needs no second backward pass: rₑ depends on θ only through the
//!   outputs of e, with ∂/∂fᵢ [(σᵢ − yᵢ) fᵢ] = σᵢ(1 − σᵢ) fᵢ + σᵢ − yᵢ (σ' = σ(1 − σ)), so
//!
//!   ```text
//!   ∂(rₑ²)/∂θ = Σ_{i∈e} (2 rₑ / nₑ) (σᵢ(1 − σᵢ) fᵢ + σᵢ − yᵢ) ∂fᵢ/∂θ,
//!   ```
//!
//!   a reweighting of the per-example output gradients, and
//!   gᵢ = [(σᵢ − yᵢ) + 2ω rₑ (σᵢ(1 − σᵢ) fᵢ + σᵢ − yᵢ)] / (K nₑ), the L2 term adding 2·l2·θ
//!   (both divided by ω if ω > 1). The tests check it against central differences of J and
//!   against candle's autodiff of the penalty as written.
//!
//! The slopes and losses are evaluated in f64 from the network's outputs; the network and Adam
//! run in the precision `T` (f32 by default, as PyTorch; [`crate::deep::Precision`]).

use nalgebra::DMatrix;

use super::{Method, MethodSettings, MlpWeights};
use crate::data::COLOURED_INPUTS;
use crate::deep::{Adam, ChannelInputs, DenseMlp, DenseWork, Real};
use gstarve_core::error::{Error, NumericalError, Result};

/// Colour channels of the inputs ([`crate::data::coloured_digits`]: the image in its colour's
/// channel, zeros in the other).
const COLOUR_CHANNELS: usize = COLOURED_INPUTS / crate::data::DIGIT_PIXELS;

/// The labels and the pooled training data of one restart.
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

/// σ(t) without overflow.
fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// The stable logistic loss ℓ(f, y) (module documentation).
fn logistic(f: f64, y: f64) -> f64 {
    f.max(0.0) - f * y + (-f.abs()).exp().ln_1p()
}

/// The mean logistic loss of outputs `f` against labels `y`.
fn mean_nll(f: &[f64], y: &[f64]) -> f64 {
    f.iter().zip(y).map(|(&f, &y)| logistic(f, y)).sum::<f64>() / f.len().max(1) as f64
}

/// The objective of `s` at a step: fills the slopes g = ∂J/∂f and returns (data term ℓ̄, the
/// factor of the L2 term's gradient 2·l2·θ, the objective without its L2 term).
pub(super) fn slopes(
    s: &MethodSettings,
    step: usize,
    f: &[f64],
    labels: &[f64],
    environment_sizes: &[usize],
    g: &mut [f64],
) -> (f64, f64, f64) {
    let n = f.len() as f64;
    let annealed = step >= s.anneal_steps;
    match s.method {
        Method::Erm => {
            for ((gi, &fi), &yi) in g.iter_mut().zip(f).zip(labels) {
                *gi = (sigmoid(fi) - yi) / n;
            }
            let nll = mean_nll(f, labels);
            (nll, 0.0, nll)
        }
        Method::Sd | Method::SdClasses => {
            let c = s.coefficient;
            let (data_weight, penalty_weight) = if annealed { (c, c) } else { (1.0, c) };
            let mut penalty = 0.0;
            for ((gi, &fi), &yi) in g.iter_mut().zip(f).zip(labels) {
                let class = usize::from(yi > 0.5);
                let sign = if class == 1 { 1.0 } else { -1.0 };
                let gap = sign * fi - s.class_targets[class];
                let w = s.class_weights[class];
                penalty += w * gap * gap;
                *gi =
                    (data_weight * (sigmoid(fi) - yi) + penalty_weight * 2.0 * w * gap * sign) / n;
            }
            let nll = mean_nll(f, labels);
            (nll, 0.0, data_weight * nll + penalty_weight * penalty / n)
        }
        Method::Irm => {
            let k = environment_sizes.len() as f64;
            let omega = if annealed { s.coefficient } else { 1.0 };
            let scale = if omega > 1.0 { 1.0 / omega } else { 1.0 };
            let (mut nll, mut penalty, mut start) = (0.0, 0.0, 0);
            for &size in environment_sizes {
                let range = start..start + size;
                let (fe, ye) = (&f[range.clone()], &labels[range.clone()]);
                let ne = size as f64;
                let r = fe
                    .iter()
                    .zip(ye)
                    .map(|(&fi, &yi)| (sigmoid(fi) - yi) * fi)
                    .sum::<f64>()
                    / ne;
                for ((gi, &fi), &yi) in g[range].iter_mut().zip(fe).zip(ye) {
                    let sigma = sigmoid(fi);
                    let slope_term = sigma * (1.0 - sigma) * fi + sigma - yi;
                    *gi = scale * ((sigma - yi) + 2.0 * omega * r * slope_term) / (k * ne);
                }
                nll += mean_nll(fe, ye) / k;
                penalty += r * r / k;
                start += size;
            }
            (nll, 2.0 * s.l2 * scale, scale * (nll + omega * penalty))
        }
    }
}

/// The rows of `m` one after the other, in T.
fn row_major<T: Real>(m: &DMatrix<f64>) -> Vec<T> {
    let mut out = Vec::with_capacity(m.len());
    for i in 0..m.nrows() {
        out.extend(m.row(i).iter().map(|&v| T::from_f64(v)));
    }
    out
}

/// The network of `w` in T.
pub(super) fn network<T: Real>(w: &MlpWeights) -> Result<DenseMlp<T>> {
    let theta = [&w.w1, &w.b1, &w.w2, &w.b2, &w.w3, &w.b3]
        .into_iter()
        .flatten()
        .map(|&v| T::from_f64(v))
        .collect();
    DenseMlp::new(vec![w.inputs, w.width, w.width, 1], theta)
}

fn accuracy<T: Real>(f: &[T], labels: &[f64]) -> f64 {
    let right = f
        .iter()
        .zip(labels)
        .filter(|(&o, &y)| (o > T::ZERO) == (y > 0.5))
        .count();
    right as f64 / labels.len().max(1) as f64
}

/// Train a network started from `weights` with `settings` on `data`, in precision T.
pub(super) fn train<T: Real>(
    weights: &MlpWeights,
    settings: &MethodSettings,
    data: &TrainingData,
) -> Result<RunEnd> {
    run::<T>(weights, settings, data).map(|(end, _)| end)
}

/// [`train`], also returning the trained network.
pub(super) fn run<T: Real>(
    weights: &MlpWeights,
    s: &MethodSettings,
    data: &TrainingData,
) -> Result<(RunEnd, DenseMlp<T>)> {
    let mut net = network::<T>(weights)?;
    let x: Vec<T> = row_major(&data.inputs);
    // Each example is zero outside its colour's channel: the first layer's products skip the
    // other channel (the same sums up to their order; dense passes if the data is otherwise).
    let channels = ChannelInputs::split(&x, data.inputs.ncols(), COLOUR_CHANNELS);
    let n = data.labels.len();
    let mut adam = Adam::<T>::new(net.parameters().len(), s.learning_rate, 0.9, 0.999, 1e-8);
    let mut work = DenseWork::default();
    let (mut f, mut g64, mut g) = (vec![0.0; n], vec![0.0; n], vec![T::ZERO; n]);
    let mut gradient = Vec::new();
    for step in 0..s.steps {
        let out = match &channels {
            Some(c) => net.forward_channels(c, &mut work),
            None => net.forward(&x, &mut work),
        };
        f.iter_mut().zip(out).for_each(|(a, &b)| *a = b.to_f64());
        let (_, l2_factor, mut loss) =
            slopes(s, step, &f, &data.labels, &data.environment_sizes, &mut g64);
        if l2_factor != 0.0 {
            let squares: f64 = net.parameters().iter().map(|v| v.to_f64().powi(2)).sum();
            loss += l2_factor / 2.0 * squares;
        }
        if !loss.is_finite() {
            return Err(Error::Numerical(NumericalError::TrainingDiverged {
                epoch: step,
                loss,
                learning_rate: s.learning_rate,
            }));
        }
        g.iter_mut()
            .zip(&g64)
            .for_each(|(a, &b)| *a = T::from_f64(b));
        gradient.clear();
        gradient.extend_from_slice(match &channels {
            Some(c) => net.backward_channels(c, &g, &mut work),
            None => net.backward(&x, &g, &mut work),
        });
        if l2_factor != 0.0 {
            let factor = T::from_f64(l2_factor);
            for (d, &t) in gradient.iter_mut().zip(net.parameters()) {
                *d += factor * t;
            }
        }
        adam.step(net.parameters_mut(), &gradient);
    }
    let out = net.forward(&x, &mut work);
    let train_accuracy = accuracy(out, &data.labels);
    let f: Vec<f64> = out.iter().map(|v| v.to_f64()).collect();
    let train_nll = mean_nll(&f, &data.labels);
    let test_accuracy = accuracy(
        net.forward(&row_major(&data.test_inputs), &mut work),
        &data.test_labels,
    );
    Ok((
        RunEnd {
            train_accuracy,
            test_accuracy,
            train_nll,
        },
        net,
    ))
}
