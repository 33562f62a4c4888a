//! The two-layer case of [`Mlp`](super::Mlp) (L = 2, dropout and BatchNorm on the first
//! pre-activation, SGD or Adam) with hand-written backpropagation in f64, for the remedies that
//! are two-layer networks (Adam, dropout, BatchNorm).
//!
//! **Why not candle here.** Measured on the project's 2-core machine (docs/benchmarks.md,
//! "Remedies: where the time goes"): one 1000-epoch width-500 run on n = 300 points takes
//! candle 0.10 ≈ 4–25 s of CPU (BatchNorm the most: about 60 tensor operations an epoch, each
//! allocating its output, and its matrix products handing work to rayon at 300 × 2 × 500),
//! PyTorch ≈ 3–5 s, this module ≈ 0.2–0.4 s. The arithmetic is a few passes over n × m arrays;
//! the tensor library's per-operation cost, not the arithmetic, set the time.
//!
//! **Same network, same run.** The model, its initialisation (the draw of [`Mlp::init`] at
//! L = 2), the objective, the dropout masks (the same ChaCha12 stream, drawn in the same
//! order), the BatchNorm statistics and the optimisers are those of [`super`] and
//! [`train_mlp`](super::train_mlp), which stay the reference: the tests run both on the same
//! data and seed and compare the outputs and parameters (agreement to rounding).
//!
//! **Backward pass** (per example i, hidden unit j; g_i = ∂J/∂f_i, o the post-BatchNorm
//! pre-activation, â the normalised one, s_j = √(σ²_j + ε), ξ the dropout mask):
//!
//! ```text
//! g_i = (−y_i σ(−y_i f_i) + 2 c_SD f_i) / n
//! ∂J/∂W₂_j = Σᵢ g_i h_ij,   ∂J/∂b₂ = Σᵢ g_i,   δ_ij = g_i W₂_j [o_ij > 0]
//! ∂J/∂γ_j = Σᵢ δ_ij â_ij,   ∂J/∂β_j = Σᵢ δ_ij
//! ∂J/∂a_ij = (γ_j/s_j)(δ_ij − ∂J/∂β_j / n − â_ij ∂J/∂γ_j / n)   (BatchNorm; δ_ij without)
//! ∂J/∂W₁_jk = Σᵢ ξ_ij ∂J/∂a_ij x_ik,   ∂J/∂b₁_j = Σᵢ ξ_ij ∂J/∂a_ij
//! ```

use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};

use super::train::{MlpRecord, MlpTrainOptions, Optimiser};
use super::{draw_layers, MlpOptions, BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM};
use crate::data::Dataset;
use gstarve_core::error::{Error, InputError, NumericalError, Result};

/// A two-layer [`Mlp`](super::Mlp) with hand-written passes (see the module documentation).
///
/// The parameters θ are one vector in the order of [`Mlp::parameters`](super::Mlp::parameters):
/// W₁ (m × d, row by row), b₁, W₂, b₂, then BatchNorm's γ and β.
#[derive(Clone, Debug)]
pub struct TwoLayerMlp {
    input_dim: usize,
    width: usize,
    theta: Vec<f64>,
    batch_norm: bool,
    running_mean: Vec<f64>,
    running_var: Vec<f64>,
    dropout: f64,
    seed: u64,
}

/// Offsets of the parameter blocks in θ.
#[derive(Clone, Copy)]
struct Blocks {
    w1: usize,
    b1: usize,
    w2: usize,
    b2: usize,
    gamma: usize,
    beta: usize,
    end: usize,
}

/// The buffers of one forward pass (n × m, row i = example i).
struct Pass {
    /// First pre-activation after the mask (before BatchNorm).
    a: Vec<f64>,
    /// Normalised pre-activation â (BatchNorm only).
    a_hat: Vec<f64>,
    /// Input of the ReLU.
    o: Vec<f64>,
    /// Per unit: batch mean, biased variance and 1/s (BatchNorm, training mode).
    mean: Vec<f64>,
    var: Vec<f64>,
    inv_scale: Vec<f64>,
    /// Outputs f (n).
    f: Vec<f64>,
}

impl Pass {
    /// Empty buffers; [`TwoLayerMlp::forward`] sizes them (and reuses them from epoch to epoch:
    /// fresh n × m buffers every epoch cost as much system time in page faults as the
    /// arithmetic).
    fn new() -> Self {
        Self {
            a: Vec::new(),
            a_hat: Vec::new(),
            o: Vec::new(),
            mean: Vec::new(),
            var: Vec::new(),
            inv_scale: Vec::new(),
            f: Vec::new(),
        }
    }
}

impl TwoLayerMlp {
    /// A freshly initialised network, value for value [`Mlp::init`](super::Mlp::init) with the
    /// same options (`options.layers` must be 2).
    pub fn init(input_dim: usize, options: &MlpOptions) -> Result<Self> {
        if options.layers != 2 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "layers",
                value: options.layers as f64,
                rule: "the hand-written network has exactly 2 linear layers",
            }));
        }
        let layers = draw_layers(input_dim, options)?;
        let m = options.width;
        let mut theta = Vec::with_capacity(m * input_dim + 4 * m + 1);
        for (w, b, _, _) in layers {
            theta.extend(w);
            theta.extend(b);
        }
        if options.batch_norm {
            theta.extend(std::iter::repeat_n(1.0, m));
            theta.extend(std::iter::repeat_n(0.0, m));
        }
        Ok(Self {
            input_dim,
            width: m,
            theta,
            batch_norm: options.batch_norm,
            running_mean: vec![0.0; m],
            running_var: vec![1.0; m],
            dropout: options.dropout,
            seed: options.seed,
        })
    }

    fn blocks(&self) -> Blocks {
        let (m, d) = (self.width, self.input_dim);
        let w1 = 0;
        let b1 = w1 + m * d;
        let w2 = b1 + m;
        let b2 = w2 + m;
        let gamma = b2 + 1;
        let beta = gamma + m;
        let end = if self.batch_norm { beta + m } else { gamma };
        Blocks {
            w1,
            b1,
            w2,
            b2,
            gamma,
            beta,
            end,
        }
    }

    /// The learnt parameters θ (see the type's documentation).
    pub fn parameters(&self) -> &[f64] {
        &self.theta
    }

    /// BatchNorm's running mean and (unbiased) variance, when the network has BatchNorm.
    pub fn running_statistics(&self) -> Option<(&[f64], &[f64])> {
        self.batch_norm
            .then_some((self.running_mean.as_slice(), self.running_var.as_slice()))
    }

    fn check_inputs(&self, inputs: &DMatrix<f64>) -> Result<()> {
        crate::network::check_input_columns(inputs, self.input_dim)
    }

    /// The forward pass on `x` (n × d, column-major as nalgebra stores it). `train`: batch
    /// statistics (BatchNorm) and the dropout `mask` (n × m, row by row) if any; else running
    /// statistics and no dropout.
    fn forward(&self, x: &DMatrix<f64>, train: bool, mask: Option<&[f64]>, pass: &mut Pass) {
        let (n, m, d) = (x.nrows(), self.width, self.input_dim);
        let k = self.blocks();
        let th = &self.theta;
        // W₁ by columns (d × m) so that the inner loops run over contiguous units.
        let w1t: Vec<f64> = (0..d)
            .flat_map(|c| (0..m).map(move |j| th[k.w1 + j * d + c]))
            .collect();
        let b1 = &th[k.b1..k.b1 + m];
        let Pass {
            a,
            a_hat,
            o,
            mean,
            var,
            inv_scale,
            f,
        } = pass;
        a.resize(n * m, 0.0);
        for (i, row) in a.chunks_exact_mut(m).enumerate() {
            row.copy_from_slice(b1);
            for c in 0..d {
                let xi = x[(i, c)];
                for (r, w) in row.iter_mut().zip(&w1t[c * m..(c + 1) * m]) {
                    *r += w * xi;
                }
            }
        }
        if let (true, Some(mask)) = (train, mask) {
            for (r, xi) in a.iter_mut().zip(mask) {
                *r *= xi;
            }
        }
        if self.batch_norm {
            if train {
                mean.clear();
                mean.resize(m, 0.0);
                for row in a.chunks_exact(m) {
                    mean.iter_mut().zip(row).for_each(|(s, v)| *s += v);
                }
                mean.iter_mut().for_each(|s| *s /= n as f64);
                var.clear();
                var.resize(m, 0.0);
                for row in a.chunks_exact(m) {
                    for ((s, v), mu) in var.iter_mut().zip(row).zip(mean.iter()) {
                        *s += (v - mu) * (v - mu);
                    }
                }
                var.iter_mut().for_each(|s| *s /= n as f64);
            } else {
                mean.clone_from(&self.running_mean);
                var.clone_from(&self.running_var);
            }
            inv_scale.clear();
            inv_scale.extend(var.iter().map(|v| 1.0 / (v + BATCH_NORM_EPSILON).sqrt()));
            let gamma = &th[k.gamma..k.gamma + m];
            let beta = &th[k.beta..k.beta + m];
            a_hat.resize(n * m, 0.0);
            o.resize(n * m, 0.0);
            for ((ar, hr), or) in a
                .chunks_exact(m)
                .zip(a_hat.chunks_exact_mut(m))
                .zip(o.chunks_exact_mut(m))
            {
                for j in 0..m {
                    hr[j] = (ar[j] - mean[j]) * inv_scale[j];
                    or[j] = gamma[j] * hr[j] + beta[j];
                }
            }
        }
        let w2 = &th[k.w2..k.w2 + m];
        let b2 = th[k.b2];
        let pre = if self.batch_norm { &*o } else { &*a };
        f.clear();
        f.extend(
            pre.chunks_exact(m)
                .map(|row| b2 + row.iter().zip(w2).map(|(v, w)| v.max(0.0) * w).sum::<f64>()),
        );
    }

    /// ∂J/∂θ of a training-mode pass (module documentation); `g` = ∂J/∂f.
    fn backward(
        &self,
        x: &DMatrix<f64>,
        pass: &Pass,
        g: &[f64],
        mask: Option<&[f64]>,
        delta: &mut Vec<f64>,
    ) -> Vec<f64> {
        let (n, m, d) = (x.nrows(), self.width, self.input_dim);
        let k = self.blocks();
        let th = &self.theta;
        let w2 = &th[k.w2..k.w2 + m];
        let pre = if self.batch_norm { &pass.o } else { &pass.a };
        let mut grad = vec![0.0; k.end];
        // δ = ∂J/∂o, n × m; with it ∂J/∂W₂, ∂J/∂b₂ (and ∂J/∂γ, ∂J/∂β).
        delta.resize(n * m, 0.0);
        let mut dw2 = vec![0.0; m];
        for ((row, dr), &gi) in pre.chunks_exact(m).zip(delta.chunks_exact_mut(m)).zip(g) {
            for j in 0..m {
                let on = row[j] > 0.0;
                dw2[j] += if on { gi * row[j] } else { 0.0 };
                dr[j] = if on { gi * w2[j] } else { 0.0 };
            }
        }
        grad[k.w2..k.w2 + m].copy_from_slice(&dw2);
        grad[k.b2] = g.iter().sum();
        if self.batch_norm {
            let (mut dgamma, mut dbeta) = (vec![0.0; m], vec![0.0; m]);
            for (dr, hr) in delta.chunks_exact(m).zip(pass.a_hat.chunks_exact(m)) {
                for j in 0..m {
                    dgamma[j] += dr[j] * hr[j];
                    dbeta[j] += dr[j];
                }
            }
            let gamma = &th[k.gamma..k.gamma + m];
            let nf = n as f64;
            for (dr, hr) in delta.chunks_exact_mut(m).zip(pass.a_hat.chunks_exact(m)) {
                for j in 0..m {
                    dr[j] = gamma[j]
                        * pass.inv_scale[j]
                        * (dr[j] - dbeta[j] / nf - hr[j] * dgamma[j] / nf);
                }
            }
            grad[k.gamma..k.gamma + m].copy_from_slice(&dgamma);
            grad[k.beta..k.beta + m].copy_from_slice(&dbeta);
        }
        if let Some(mask) = mask {
            delta.iter_mut().zip(mask).for_each(|(v, xi)| *v *= xi);
        }
        // ∂J/∂W₁ by columns of x, then into θ's row-by-row order.
        let mut dw1t = vec![0.0; d * m];
        let mut db1 = vec![0.0; m];
        for (i, dr) in delta.chunks_exact(m).enumerate() {
            db1.iter_mut().zip(dr).for_each(|(s, v)| *s += v);
            for c in 0..d {
                let xi = x[(i, c)];
                for (s, v) in dw1t[c * m..(c + 1) * m].iter_mut().zip(dr) {
                    *s += v * xi;
                }
            }
        }
        for j in 0..m {
            for c in 0..d {
                grad[k.w1 + j * d + c] = dw1t[c * m + j];
            }
        }
        grad[k.b1..k.b1 + m].copy_from_slice(&db1);
        grad
    }

    /// The outputs f(x_i) in evaluation mode (no dropout; BatchNorm with its running
    /// statistics) for inputs given one per row (n × d).
    pub fn outputs(&self, inputs: &DMatrix<f64>) -> Result<DVector<f64>> {
        self.check_inputs(inputs)?;
        let mut pass = Pass::new();
        self.forward(inputs, false, None, &mut pass);
        Ok(DVector::from_vec(pass.f))
    }

    /// Train in place: [`train_mlp`](super::train_mlp)'s run (objective, optimiser, masks,
    /// running statistics), computed by the hand-written passes.
    pub fn train(&mut self, dataset: &Dataset, options: &MlpTrainOptions) -> Result<MlpRecord> {
        options.validate()?;
        let n = dataset.len();
        if self.batch_norm && n < 2 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "n",
                value: n as f64,
                rule: "BatchNorm needs at least 2 examples (a variance)",
            }));
        }
        let x = dataset.inputs();
        self.check_inputs(x)?;
        let y = dataset.labels().as_slice();
        let sd = options.spectral_decoupling;
        let mut masks = rand_chacha::ChaCha12Rng::seed_from_u64(self.seed);
        masks.set_stream(1);
        let (p, m) = (self.dropout, self.width);
        let size = self.theta.len();
        let (mut first, mut second) = (vec![0.0; size], vec![0.0; size]);
        let mut last_training_loss = f64::NAN;
        let (mut pass, mut delta) = (Pass::new(), Vec::new());
        let mut mask = (p > 0.0).then(|| vec![0.0; n * m]);
        let keep = 1.0 / (1.0 - p);
        for epoch in 0..options.epochs {
            if let Some(mask) = mask.as_mut() {
                // `dropout_mask`'s draw, into the same buffer.
                for v in mask.iter_mut() {
                    *v = if masks.random::<f64>() < p { 0.0 } else { keep };
                }
            }
            self.forward(x, true, mask.as_deref(), &mut pass);
            let (loss, g) = objective_and_slope(&pass.f, y, sd);
            if !loss.is_finite() {
                return Err(Error::Numerical(NumericalError::TrainingDiverged {
                    epoch,
                    loss,
                    learning_rate: options.optimiser.learning_rate(),
                }));
            }
            last_training_loss = loss;
            let grad = self.backward(x, &pass, &g, mask.as_deref(), &mut delta);
            self.update(&grad, &mut first, &mut second, epoch + 1, options.optimiser);
            if self.batch_norm {
                let unbiased = n as f64 / (n as f64 - 1.0);
                let mu = BATCH_NORM_MOMENTUM;
                for j in 0..m {
                    self.running_mean[j] = self.running_mean[j] * (1.0 - mu) + pass.mean[j] * mu;
                    self.running_var[j] =
                        self.running_var[j] * (1.0 - mu) + pass.var[j] * (mu * unbiased);
                }
            }
        }
        self.forward(x, false, None, &mut pass);
        let f = pass.f;
        let (final_loss, _) = objective_and_slope(&f, y, sd);
        Ok(MlpRecord {
            epochs: options.epochs,
            last_training_loss,
            final_loss,
            outputs: DVector::from_vec(f),
        })
    }

    /// One update of θ at step t ≥ 1: SGD (`first` = momentum buffer) or Adam (`first`,
    /// `second` = its moments), as [`super::train`] documents.
    fn update(
        &mut self,
        grad: &[f64],
        first: &mut [f64],
        second: &mut [f64],
        t: usize,
        optimiser: Optimiser,
    ) {
        match optimiser {
            Optimiser::Sgd {
                learning_rate,
                momentum,
                weight_decay,
            } => {
                for ((th, v), g) in self.theta.iter_mut().zip(first).zip(grad) {
                    let mut next = *v * momentum + g;
                    if weight_decay > 0.0 {
                        next += *th * weight_decay;
                    }
                    *th -= next * learning_rate;
                    *v = next;
                }
            }
            Optimiser::Adam {
                learning_rate,
                beta1,
                beta2,
                epsilon,
            } => {
                let scale_m = 1.0 / (1.0 - beta1.powi(t as i32));
                let scale_v = 1.0 / (1.0 - beta2.powi(t as i32));
                for (((th, m), v), g) in self.theta.iter_mut().zip(first).zip(second).zip(grad) {
                    *m = *m * beta1 + g * (1.0 - beta1);
                    *v = *v * beta2 + g * g * (1.0 - beta2);
                    let step = (*m * scale_m) / ((*v * scale_v).sqrt() + epsilon);
                    *th -= step * learning_rate;
                }
            }
        }
    }
}

/// J = mean log(1 + e^{−y f}) + c_SD mean f² and ∂J/∂f (module documentation).
fn objective_and_slope(f: &[f64], y: &[f64], sd: f64) -> (f64, Vec<f64>) {
    let n = f.len() as f64;
    let (mut loss, mut squares) = (0.0, 0.0);
    let slope = f
        .iter()
        .zip(y)
        .map(|(&fi, &yi)| {
            let t = -yi * fi;
            loss += t.max(0.0) + (-t.abs()).exp().ln_1p();
            squares += fi * fi;
            // σ(t) without overflow.
            let sigma = if t >= 0.0 {
                1.0 / (1.0 + (-t).exp())
            } else {
                let e = t.exp();
                e / (1.0 + e)
            };
            (-yi * sigma + 2.0 * sd * fi) / n
        })
        .collect();
    (loss / n + sd * squares / n, slope)
}
