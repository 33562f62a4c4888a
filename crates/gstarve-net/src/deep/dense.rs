//! A fully connected ReLU network of any depth with hand-written forward and backward passes,
//! its matrix products through faer (`faer::linalg::matmul`), in f32 or f64, single-threaded, so
//! that callers parallelise over independent runs.
//!
//! The network with L linear layers of sizes d = m₀ → m₁ → … → m_L = 1 is
//!
//! ```text
//! A₀ = X,   Z_l = A_{l−1} W_lᵀ + 1 b_lᵀ,   A_l = relu(Z_l) (l < L),   f = Z_L
//! ```
//!
//! with W_l ∈ R^{m_l × m_{l−1}} and examples as rows (X is n × d). Its parameters θ are one
//! vector: W₁ row by row, b₁, W₂, b₂, …, W_L, b_L (the order of candle's and PyTorch's
//! `Linear` layers, and of `experiments::ood::MlpWeights`).
//!
//! **Backward pass.** For an objective J(f) with slopes g_i = ∂J/∂f_i, let G_L = g (n × 1) and,
//! going down, G_{l−1} = (G_l W_l) ⊙ 1[A_{l−1} > 0] (Z > 0 exactly where A = relu(Z) > 0):
//!
//! ```text
//! ∂J/∂W_l = G_lᵀ A_{l−1},   ∂J/∂b_l = G_lᵀ 1.
//! ```
//!
//! So ∂J/∂θ = Σᵢ gᵢ ∂fᵢ/∂θ: any objective that is a function of the outputs reaches θ through
//! its slopes g alone ([`DenseMlp::backward`]). Five products a step at L = 3 (two forward, two
//! for the weight gradients that are not vectors, one for G₁); the last layer's are vectors.
//!
//! [`Adam`] is PyTorch's Adam (and candle-nn's `AdamW` with weight decay 0).

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, Sub, SubAssign};

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use super::channels::ChannelInputs;
use gstarve_core::error::{Error, InputError, Result};

/// The precisions the network runs in (f32, f64).
pub trait Real:
    Copy
    + Debug
    + Default
    + PartialOrd
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + AddAssign
    + SubAssign
    + faer::traits::ComplexField
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// The nearest value of this type.
    fn from_f64(v: f64) -> Self;
    /// The value as f64 (exact).
    fn to_f64(self) -> f64;
    /// √self.
    fn sqrt(self) -> Self;
}

macro_rules! real {
    ($t:ty) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
        }
    };
}
real!(f32);
real!(f64);

/// A row-major rows × cols matrix.
pub(super) fn rows<T: Real>(data: &[T], rows: usize, cols: usize) -> MatRef<'_, T> {
    MatRef::from_row_major_slice(data, rows, cols)
}

/// The transpose of a row-major cols × rows matrix (rows × cols).
fn transposed<T: Real>(data: &[T], rows: usize, cols: usize) -> MatRef<'_, T> {
    MatRef::from_row_major_slice(data, cols, rows).transpose()
}

/// dst (row-major, lhs.nrows × rhs.ncols) = [dst +] lhs · rhs, by faer, single-threaded.
///
/// faer's products pack into thread-local buffers; the `gemm` crate that candle uses allocates
/// its packing buffers on every call, which on this workload cost as much system time (page
/// faults of the allocator returning memory) as the arithmetic (docs/benchmarks.md, "Out of
/// distribution").
pub(super) fn product<T: Real>(
    dst: &mut [T],
    accumulate: bool,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
) {
    let (m, n) = (lhs.nrows(), rhs.ncols());
    let dst = MatMut::from_row_major_slice_mut(&mut dst[..m * n], m, n);
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    matmul(dst, accum, lhs, rhs, T::ONE, Par::Seq);
}

/// The inputs of a pass: n × d row by row, or grouped by the channel they are non-zero in.
#[derive(Clone, Copy)]
enum Inputs<'a, T> {
    Dense(&'a [T]),
    Channels(&'a ChannelInputs<T>),
}

/// A fully connected ReLU network (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct DenseMlp<T> {
    sizes: Vec<usize>,
    theta: Vec<T>,
}

/// The buffers of one forward and backward pass, reused from step to step.
#[derive(Clone, Debug, Default)]
pub struct DenseWork<T> {
    /// A₁ … A_{L−1} (n × m_l, row by row), then f (n).
    activations: Vec<Vec<T>>,
    /// G_l for the hidden layers, n × m_l.
    slopes: Vec<Vec<T>>,
    /// ∂J/∂θ.
    gradient: Vec<T>,
    /// One channel's rows of Z₁ or G₁ ([`ChannelInputs`]).
    scratch: Vec<T>,
    /// Rows of the last forward pass.
    n: usize,
}

impl<T: Real> DenseMlp<T> {
    /// The network with layer sizes `sizes` = [d, m₁, …, m_{L−1}, 1] and parameters `theta` in
    /// the order of the module documentation.
    pub fn new(sizes: Vec<usize>, theta: Vec<T>) -> Result<Self> {
        let invalid = |name, value: usize, rule| {
            Err(Error::Input(InputError::InvalidParameter {
                name,
                value: value as f64,
                rule,
            }))
        };
        if sizes.len() < 2 || sizes.contains(&0) {
            return invalid(
                "layer sizes",
                sizes.len(),
                "a network needs at least one linear layer and no empty layer",
            );
        }
        if sizes[sizes.len() - 1] != 1 {
            return invalid(
                "output size",
                sizes[sizes.len() - 1],
                "the output is one number",
            );
        }
        let count: usize = sizes.windows(2).map(|w| w[1] * (w[0] + 1)).sum();
        if theta.len() != count {
            return invalid(
                "parameters",
                theta.len(),
                "θ must hold every weight and bias of the layer sizes",
            );
        }
        Ok(Self { sizes, theta })
    }

    /// Layer sizes [d, m₁, …, 1].
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// θ (module documentation).
    pub fn parameters(&self) -> &[T] {
        &self.theta
    }

    /// θ, to update in place.
    pub fn parameters_mut(&mut self) -> &mut [T] {
        &mut self.theta
    }

    /// Offsets of W_l and b_l in θ, l = 1 … L.
    fn offsets(&self) -> impl Iterator<Item = (usize, usize, usize, usize)> + '_ {
        let mut at = 0;
        self.sizes.windows(2).map(move |w| {
            let (inputs, outputs) = (w[0], w[1]);
            let weight = at;
            at += outputs * (inputs + 1);
            (weight, weight + outputs * inputs, inputs, outputs)
        })
    }

    /// f for the n rows of `x` (n × d, row by row), leaving A₁ … A_{L−1} in `work` for
    /// [`backward`](Self::backward). Panics if `x.len()` is not a multiple of d.
    pub fn forward<'w>(&self, x: &[T], work: &'w mut DenseWork<T>) -> &'w [T] {
        self.forward_inputs(Inputs::Dense(x), work)
    }

    /// [`forward`](Self::forward) on inputs grouped by channel: the first layer's product on the
    /// active columns only ([`ChannelInputs`]), the same outputs up to the order of its sums.
    /// Panics if the inputs are not n × d.
    pub fn forward_channels<'w>(
        &self,
        x: &ChannelInputs<T>,
        work: &'w mut DenseWork<T>,
    ) -> &'w [T] {
        self.forward_inputs(Inputs::Channels(x), work)
    }

    fn forward_inputs<'w>(&self, x: Inputs<'_, T>, work: &'w mut DenseWork<T>) -> &'w [T] {
        let d = self.sizes[0];
        let n = match x {
            Inputs::Dense(x) => {
                assert_eq!(x.len() % d, 0, "inputs must be n × d");
                x.len() / d
            }
            Inputs::Channels(x) => {
                assert_eq!(x.inputs(), d, "inputs must be n × d");
                x.len()
            }
        };
        let layers = self.sizes.len() - 1;
        work.activations.resize_with(layers, Vec::new);
        work.n = n;
        for (l, (w, b, inputs, outputs)) in self.offsets().enumerate() {
            let (done, rest) = work.activations.split_at_mut(l);
            let out = &mut rest[0];
            out.resize(n * outputs, T::ZERO);
            let bias = &self.theta[b..b + outputs];
            let input = match (l, x) {
                (0, Inputs::Channels(x)) => {
                    x.first_layer(&self.theta[w..b], bias, out, &mut work.scratch);
                    None
                }
                (0, Inputs::Dense(x)) => Some(x),
                _ => Some(&done[l - 1][..]),
            };
            if let Some(input) = input {
                for row in out.chunks_exact_mut(outputs) {
                    row.copy_from_slice(bias);
                }
                product(
                    out,
                    true,
                    rows(input, n, inputs),
                    transposed(&self.theta[w..b], inputs, outputs),
                );
            }
            if l + 1 < layers {
                // A select, not a conditional store, so that the loop vectorises (a branch
                // here mispredicted on half the entries and took a fifth of the time).
                for v in out.iter_mut() {
                    *v = if *v <= T::ZERO { T::ZERO } else { *v };
                }
            }
        }
        &work.activations[layers - 1]
    }

    /// ∂J/∂θ = Σᵢ gᵢ ∂fᵢ/∂θ after [`forward`](Self::forward) on the same `x` (module
    /// documentation). Panics if `g` has not one entry per row of that pass.
    pub fn backward<'w>(&self, x: &[T], g: &[T], work: &'w mut DenseWork<T>) -> &'w [T] {
        self.backward_inputs(Inputs::Dense(x), g, work)
    }

    /// [`backward`](Self::backward) after [`forward_channels`](Self::forward_channels) on the
    /// same inputs: ∂J/∂W₁ on the active columns only ([`ChannelInputs`]).
    pub fn backward_channels<'w>(
        &self,
        x: &ChannelInputs<T>,
        g: &[T],
        work: &'w mut DenseWork<T>,
    ) -> &'w [T] {
        self.backward_inputs(Inputs::Channels(x), g, work)
    }

    fn backward_inputs<'w>(
        &self,
        x: Inputs<'_, T>,
        g: &[T],
        work: &'w mut DenseWork<T>,
    ) -> &'w [T] {
        let n = work.n;
        assert_eq!(g.len(), n, "one slope per example");
        let layers = self.sizes.len() - 1;
        work.slopes.resize_with(layers, Vec::new);
        work.gradient.resize(self.theta.len(), T::ZERO);
        let offsets: Vec<_> = self.offsets().collect();
        for l in (0..layers).rev() {
            let (w, b, inputs, outputs) = offsets[l];
            let (below, at) = work.slopes.split_at_mut(l);
            let slope: &[T] = if l + 1 == layers { g } else { &at[0] };
            let (grad_w, grad_b) = work.gradient[w..b + outputs].split_at_mut(b - w);
            let input = match (l, x) {
                (0, Inputs::Channels(x)) => {
                    x.weight_gradient(slope, grad_w, &mut work.scratch);
                    None
                }
                (0, Inputs::Dense(x)) => Some(x),
                _ => Some(&work.activations[l - 1][..]),
            };
            if let Some(input) = input {
                product(
                    grad_w,
                    false,
                    transposed(slope, outputs, n),
                    rows(input, n, inputs),
                );
            }
            grad_b.fill(T::ZERO);
            for row in slope.chunks_exact(outputs) {
                for (s, &v) in grad_b.iter_mut().zip(row) {
                    *s += v;
                }
            }
            if l > 0 {
                let down = &mut below[l - 1];
                down.resize(n * inputs, T::ZERO);
                product(
                    down,
                    false,
                    rows(slope, n, outputs),
                    rows(&self.theta[w..b], outputs, inputs),
                );
                for (v, &a) in down.iter_mut().zip(&work.activations[l - 1]) {
                    *v = if a <= T::ZERO { T::ZERO } else { *v };
                }
            }
        }
        &work.gradient
    }
}

/// Adam (Kingma and Ba; PyTorch's `Adam`, candle-nn's `AdamW` at weight decay 0): at step t ≥ 1
/// with gradient g, m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², θ ← θ − lr·m̂/(√v̂ + ε) with
/// m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ).
#[derive(Clone, Debug)]
pub struct Adam<T> {
    learning_rate: f64,
    beta1: f64,
    beta2: f64,
    epsilon: f64,
    first: Vec<T>,
    second: Vec<T>,
    step: i32,
}

impl<T: Real> Adam<T> {
    /// Adam for `parameters` values, moments at 0.
    pub fn new(
        parameters: usize,
        learning_rate: f64,
        beta1: f64,
        beta2: f64,
        epsilon: f64,
    ) -> Self {
        Self {
            learning_rate,
            beta1,
            beta2,
            epsilon,
            first: vec![T::ZERO; parameters],
            second: vec![T::ZERO; parameters],
            step: 0,
        }
    }

    /// One step of θ along `gradient` (candle's order of operations, in T).
    pub fn step(&mut self, theta: &mut [T], gradient: &[T]) {
        assert!(theta.len() == self.first.len() && gradient.len() == theta.len());
        self.step += 1;
        let c = |v: f64| T::from_f64(v);
        let (b1, b2) = (c(self.beta1), c(self.beta2));
        let (r1, r2) = (c(1.0 - self.beta1), c(1.0 - self.beta2));
        let scale_m = c(1.0 / (1.0 - self.beta1.powi(self.step)));
        let scale_v = c(1.0 / (1.0 - self.beta2.powi(self.step)));
        let (lr, eps) = (c(self.learning_rate), c(self.epsilon));
        for (((th, m), v), &g) in theta
            .iter_mut()
            .zip(&mut self.first)
            .zip(&mut self.second)
            .zip(gradient)
        {
            *m = *m * b1 + g * r1;
            *v = *v * b2 + g * g * r2;
            let adjusted = (*m * scale_m) / ((*v * scale_v).sqrt() + eps);
            *th -= adjusted * lr;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// J = Σᵢ cᵢ fᵢ² / 2 for fixed weights cᵢ, so g = c ⊙ f.
    fn objective(net: &DenseMlp<f64>, x: &[f64], c: &[f64]) -> (f64, Vec<f64>) {
        let mut work = DenseWork::default();
        let f = net.forward(x, &mut work).to_vec();
        let g: Vec<f64> = f.iter().zip(c).map(|(f, c)| c * f).collect();
        let j = f.iter().zip(c).map(|(f, c)| c * f * f / 2.0).sum();
        (j, net.backward(x, &g, &mut work).to_vec())
    }

    #[test]
    fn deep_gradient_matches_central_differences() {
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(4);
        let sizes = vec![5, 7, 6, 4, 1];
        let count: usize = sizes.windows(2).map(|w| w[1] * (w[0] + 1)).sum();
        let theta: Vec<f64> = (0..count).map(|_| rng.random::<f64>() - 0.5).collect();
        let net = DenseMlp::new(sizes.clone(), theta.clone()).unwrap();
        let n = 9;
        let x: Vec<f64> = (0..n * 5)
            .map(|_| rng.random::<f64>() * 2.0 - 1.0)
            .collect();
        let c: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 / 4.0).collect();
        let (_, grad) = objective(&net, &x, &c);
        let scale = grad.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let h = 1e-6;
        let mut worst: f64 = 0.0;
        for k in 0..count {
            let at = |d: f64| {
                let mut t = theta.clone();
                t[k] += d;
                objective(&DenseMlp::new(sizes.clone(), t).unwrap(), &x, &c).0
            };
            worst = worst.max(((at(h) - at(-h)) / (2.0 * h) - grad[k]).abs() / scale);
        }
        // Central differences: O(h²) truncation, O(ε/h) rounding.
        assert!(worst < 1e-7, "max relative gap {worst:e}");
        // f32 runs the same passes to f32 rounding.
        let net32 =
            DenseMlp::new(sizes.clone(), theta.iter().map(|&v| v as f32).collect()).unwrap();
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let mut work = DenseWork::default();
        let f32s = net32.forward(&x32, &mut work).to_vec();
        let mut work64 = DenseWork::default();
        let f64s = net.forward(&x, &mut work64).to_vec();
        for (a, b) in f32s.iter().zip(&f64s) {
            assert!((f64::from(*a) - b).abs() < 1e-5 * (1.0 + b.abs()));
        }
    }

    #[test]
    fn inconsistent_layers_are_input_errors() {
        assert!(DenseMlp::<f64>::new(vec![3], vec![]).is_err());
        assert!(DenseMlp::<f64>::new(vec![3, 0, 1], vec![]).is_err());
        assert!(DenseMlp::<f64>::new(vec![3, 2], vec![0.0; 8]).is_err());
        assert!(DenseMlp::<f64>::new(vec![3, 2, 1], vec![0.0; 10]).is_err());
        assert!(DenseMlp::<f64>::new(vec![3, 2, 1], vec![0.0; 11]).is_ok());
    }
}
