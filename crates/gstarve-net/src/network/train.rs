//! Full-batch training of the real (nonlinear) network, with PyTorch's SGD semantics.
//!
//! **Objective** (the paper's network experiments use a *mean* over examples):
//!
//! ```text
//! J(θ) = (1/n) Σᵢ log(1 + e^{−yᵢ f(xᵢ)}) + c_SD · (1/n) Σᵢ f(xᵢ)² + (wd/2)‖θ‖²
//! ```
//!
//! **Update** (`torch.optim.SGD` with momentum μ, weight decay wd, no dampening, no Nesterov):
//! g = ∇(loss terms) + wd·θ; v ← μv + g (v = 0 at the start, so the first v is g); θ ← θ − η v.
//!
//! **Mapping to the sum convention of docs/theory.md** (§2, §3). Dividing the sum loss by n divides the
//! gradient by n, so k steps of rate η on the mean loss are k steps of rate η/n on the sum:
//! learning time τ = η·k/n. Weight decay wd on the mean objective is L2 with λ = n·wd on the sum
//! (but it decays θ towards 0, not towards the initialisation as the theory's (docs/theory.md) θ-from-init does, so it
//! matches (★) only for a zero-output, θ₀-small network, approximately). SD with coefficient c on
//! mean ŷ² is (1/n)·(λ/2)‖ŷ‖² with λ = 2c. Heavy-ball momentum μ, for changes slow compared with
//! the momentum's memory of 1/(1−μ) steps, multiplies the effective rate by 1/(1−μ): the recorded
//! τ = η·k / (n(1−μ)).
//!
//! **Kernel.** One epoch is two fused passes over the hidden units, each an inner loop over the
//! examples (inputs stored column by column, padded to a multiple of [`LANES`] with examples of
//! zero gradient): forward h_ij = w_j·x_i + b_j, f_i += s a_j relu(h_ij); backward recomputes
//! h_ij (cheaper than storing m·n values) and accumulates ∂J/∂a_j, ∂J/∂b_j, ∂J/∂w_j in LANES
//! independent partial sums so that the sums vectorise. Both passes are pulp operations, compiled
//! once per instruction set and dispatched at run time (AVX2+FMA on x86_64, NEON on aarch64, the
//! scalar fallback elsewhere): for d = 2 written on pulp's SIMD vectors, for other d portable
//! loops that the compiler vectorises for the chosen set. Optionally the units are split in two
//! halves run by rayon (`parallel`). Everything is f64.

use nalgebra::DVector;

use super::TwoLayerRelu;
use crate::data::Dataset;
use gstarve_core::error::{Error, Result};
use gstarve_core::systems::FeatureSystem;

/// Partial sums per reduction in the kernel (and the padding of the example count).
pub const LANES: usize = 8;

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
                "--lr",
                self.learning_rate,
                self.learning_rate > 0.0,
                "the learning rate must be finite and > 0",
            ),
            (
                "--momentum",
                self.momentum,
                (0.0..1.0).contains(&self.momentum),
                "the momentum must be in [0, 1)",
            ),
            (
                "--weight-decay",
                self.weight_decay,
                self.weight_decay >= 0.0,
                "the weight decay must be finite and ≥ 0",
            ),
            (
                "--sd",
                self.spectral_decoupling,
                self.spectral_decoupling >= 0.0,
                "the SD coefficient must be finite and ≥ 0",
            ),
        ];
        for (name, value, ok, rule) in checks {
            if !(value.is_finite() && ok) {
                return Err(Error::InvalidParameter { name, value, rule });
            }
        }
        if self.record_every == 0 {
            return Err(Error::InvalidParameter {
                name: "--record-every",
                value: 0.0,
                rule: "record at least every epoch count ≥ 1",
            });
        }
        Ok(())
    }
}

/// What [`train`] records, at epochs 0, r, 2r, … and the last one.
#[derive(Clone, Debug, Default)]
pub struct TrainingRecord {
    /// Epochs k (updates done) of the records.
    pub epochs: Vec<usize>,
    /// Learning time τ = η·k / (n(1−μ)) in the theory's (docs/theory.md) sum convention (see the module docs).
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
/// A non-finite loss stops training with [`Error::TrainingDiverged`].
pub fn train(
    net: &mut TwoLayerRelu,
    dataset: &Dataset,
    basis: Option<&FeatureSystem>,
    options: &TrainOptions,
) -> Result<TrainingRecord> {
    options.validate()?;
    if let Some(b) = basis {
        if b.examples() != dataset.len() {
            return Err(Error::Shape(format!(
                "the basis U has {} rows but the data set has {} examples",
                b.examples(),
                dataset.len()
            )));
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
        let loss = kernel.loss_and_residual(options.spectral_decoupling);
        if !loss.is_finite() {
            return Err(Error::TrainingDiverged {
                epoch: k,
                loss,
                learning_rate: options.learning_rate,
            });
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
    let mut g = Vec::with_capacity(net.num_parameters());
    g.extend_from_slice(&grad.weights);
    g.extend_from_slice(&grad.biases);
    g.extend_from_slice(&grad.output_weights);
    g.push(grad.output_bias);
    for (gi, t) in g.iter_mut().zip(net.parameters()) {
        *gi += weight_decay * t;
    }
    Ok(g)
}

/// Gradient (or momentum buffer) in the network's layout.
struct Gradient {
    weights: Vec<f64>,
    biases: Vec<f64>,
    output_weights: Vec<f64>,
    output_bias: f64,
}

impl Gradient {
    fn zeros(net: &TwoLayerRelu) -> Self {
        Self {
            weights: vec![0.0; net.weights.len()],
            biases: vec![0.0; net.biases.len()],
            output_weights: vec![0.0; net.output_weights.len()],
            output_bias: 0.0,
        }
    }
}

/// One SGD step with PyTorch semantics: g += wd·θ; v = μv + g; θ −= η v.
fn step(net: &mut TwoLayerRelu, grad: &Gradient, v: &mut Gradient, o: &TrainOptions) {
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

#[inline(always)]
fn relu(h: f64) -> f64 {
    if h > 0.0 {
        h
    } else {
        0.0
    }
}

/// The data laid out for the kernel, and its buffers.
struct Kernel {
    n: usize,
    /// n rounded up to a multiple of LANES.
    n_pad: usize,
    d: usize,
    /// Inputs column by column: x[k·n_pad + i] = x_ik (0 in the padding).
    x: Vec<f64>,
    /// Labels (0 in the padding).
    y: Vec<f64>,
    /// Outputs f(x_i).
    out: Vec<f64>,
    /// ∂J/∂f(x_i) (0 in the padding).
    residual: Vec<f64>,
    /// Per-half scratch: partial outputs and pre-activations (d ≠ 2).
    scratch: [Scratch; 2],
}

#[derive(Clone)]
struct Scratch {
    out: Vec<f64>,
    pre: Vec<f64>,
    masked: Vec<f64>,
}

impl Kernel {
    fn new(net: &TwoLayerRelu, data: &Dataset) -> Result<Self> {
        net.check_inputs(data.inputs())?;
        let (n, d) = (data.len(), data.dim());
        let n_pad = n.div_ceil(LANES) * LANES;
        let mut x = vec![0.0; d * n_pad];
        for k in 0..d {
            for i in 0..n {
                x[k * n_pad + i] = data.inputs()[(i, k)];
            }
        }
        let mut y = vec![0.0; n_pad];
        y[..n].copy_from_slice(data.labels().as_slice());
        let scratch = Scratch {
            out: vec![0.0; n_pad],
            pre: vec![0.0; n_pad],
            masked: vec![0.0; n_pad],
        };
        Ok(Self {
            n,
            n_pad,
            d,
            x,
            y,
            out: vec![0.0; n_pad],
            residual: vec![0.0; n_pad],
            scratch: [scratch.clone(), scratch],
        })
    }

    /// out_i = f(x_i).
    fn forward(&mut self, net: &TwoLayerRelu, parallel: bool) {
        let s = net.output_scale();
        let (d, n_pad, x) = (self.d, self.n_pad, &self.x[..]);
        let m = net.width();
        let (w, b, a) = (&net.weights[..], &net.biases[..], &net.output_weights[..]);
        if parallel && m >= 2 {
            let h = m / 2;
            let [s0, s1] = &mut self.scratch;
            rayon::join(
                || {
                    let p = Units {
                        w: &w[..h * d],
                        b: &b[..h],
                        a: &a[..h],
                    };
                    forward_units(p, s, d, n_pad, x, s0)
                },
                || {
                    let p = Units {
                        w: &w[h * d..],
                        b: &b[h..],
                        a: &a[h..],
                    };
                    forward_units(p, s, d, n_pad, x, s1)
                },
            );
            for ((o, p), q) in self.out.iter_mut().zip(&s0.out).zip(&s1.out) {
                *o = p + q + net.output_bias;
            }
        } else {
            let s0 = &mut self.scratch[0];
            forward_units(Units { w, b, a }, s, d, n_pad, x, s0);
            for (o, p) in self.out.iter_mut().zip(&s0.out) {
                *o = p + net.output_bias;
            }
        }
    }

    /// The mean loss + SD term of the current outputs; sets residual_i = ∂/∂f(x_i) of it.
    fn loss_and_residual(&mut self, sd: f64) -> f64 {
        let inv_n = 1.0 / self.n as f64;
        let mut loss = 0.0;
        for i in 0..self.n {
            let (f, y) = (self.out[i], self.y[i]);
            let margin = y * f;
            // log(1 + e^{−m}) and σ(−m) without overflow.
            let (softplus, sigma) = if margin > 0.0 {
                let e = (-margin).exp();
                (e.ln_1p(), e / (1.0 + e))
            } else {
                let e = margin.exp();
                (-margin + e.ln_1p(), 1.0 / (1.0 + e))
            };
            loss += softplus + sd * f * f;
            self.residual[i] = inv_n * (-y * sigma + 2.0 * sd * f);
        }
        loss * inv_n
    }

    /// The gradient of the loss terms (no weight decay) from the current residuals.
    fn backward(&mut self, net: &TwoLayerRelu, grad: &mut Gradient, parallel: bool) {
        let s = net.output_scale();
        let (d, n_pad, x, r) = (self.d, self.n_pad, &self.x[..], &self.residual[..]);
        let m = net.width();
        let (w, b, a) = (&net.weights[..], &net.biases[..], &net.output_weights[..]);
        if parallel && m >= 2 {
            let h = m / 2;
            let (gw0, gw1) = grad.weights.split_at_mut(h * d);
            let (gb0, gb1) = grad.biases.split_at_mut(h);
            let (ga0, ga1) = grad.output_weights.split_at_mut(h);
            let [s0, s1] = &mut self.scratch;
            rayon::join(
                || {
                    let p = Units {
                        w: &w[..h * d],
                        b: &b[..h],
                        a: &a[..h],
                    };
                    backward_units(p, s, d, n_pad, x, r, (gw0, gb0, ga0), s0)
                },
                || {
                    let p = Units {
                        w: &w[h * d..],
                        b: &b[h..],
                        a: &a[h..],
                    };
                    backward_units(p, s, d, n_pad, x, r, (gw1, gb1, ga1), s1)
                },
            );
        } else {
            let p = Units { w, b, a };
            let g = (
                &mut grad.weights[..],
                &mut grad.biases[..],
                &mut grad.output_weights[..],
            );
            backward_units(p, s, d, n_pad, x, r, g, &mut self.scratch[0]);
        }
        grad.output_bias = r.iter().sum();
    }
}

/// A contiguous block of hidden units: their W rows, b and a.
#[derive(Clone, Copy)]
struct Units<'a> {
    w: &'a [f64],
    b: &'a [f64],
    a: &'a [f64],
}

/// scratch.out = s·Σ_{j in block} a_j relu(w_j·x_i + b_j) for every (padded) example i, with the
/// widest instruction set the CPU has (pulp's run-time dispatch).
fn forward_units(p: Units<'_>, s: f64, d: usize, n_pad: usize, x: &[f64], scratch: &mut Scratch) {
    pulp::Arch::new().dispatch(Forward {
        p,
        s,
        d,
        n_pad,
        x,
        scratch,
    });
}

/// The gradients of a block of units from the residuals r (see [`backward_general`]), with the
/// widest instruction set the CPU has.
#[allow(clippy::too_many_arguments)]
fn backward_units(
    p: Units<'_>,
    s: f64,
    d: usize,
    n_pad: usize,
    x: &[f64],
    r: &[f64],
    g: (&mut [f64], &mut [f64], &mut [f64]),
    scratch: &mut Scratch,
) {
    pulp::Arch::new().dispatch(Backward {
        p,
        s,
        d,
        n_pad,
        x,
        r,
        g,
        scratch,
    });
}

/// The forward pass of a block of units as a pulp operation: `with_simd` is compiled once per
/// instruction set (AVX2+FMA on x86_64, as the workspace does not enable pulp's AVX-512 level;
/// NEON on aarch64; scalar), so that d = 2 runs [`forward_d2`] on that set's vectors and any
/// other d the portable loops of [`forward_general`], vectorised by the compiler for it.
struct Forward<'a> {
    p: Units<'a>,
    s: f64,
    d: usize,
    n_pad: usize,
    x: &'a [f64],
    scratch: &'a mut Scratch,
}

impl pulp::WithSimd for Forward<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Self {
            p,
            s,
            d,
            n_pad,
            x,
            scratch,
        } = self;
        if d == 2 {
            forward_d2(simd, p, s, n_pad, x, &mut scratch.out);
        } else {
            forward_general(p, s, d, n_pad, x, scratch);
        }
    }
}

/// The backward pass of a block of units as a pulp operation (as [`Forward`]: [`backward_d2`]
/// for d = 2, [`backward_general`] otherwise).
struct Backward<'a> {
    p: Units<'a>,
    s: f64,
    d: usize,
    n_pad: usize,
    x: &'a [f64],
    r: &'a [f64],
    g: (&'a mut [f64], &'a mut [f64], &'a mut [f64]),
    scratch: &'a mut Scratch,
}

impl pulp::WithSimd for Backward<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Self {
            p,
            s,
            d,
            n_pad,
            x,
            r,
            g,
            scratch,
        } = self;
        if d == 2 {
            backward_d2(simd, p, s, n_pad, x, r, g);
        } else {
            backward_general(p, s, d, n_pad, x, r, g, scratch);
        }
    }
}

/// The forward pass for d = 2 on explicit SIMD vectors, two hidden units per sweep over the
/// examples (half the loads and stores of the outputs):
///
/// ```text
/// out_i ← fma(s a_{j+1}, relu(h_{i,j+1}), fma(s a_j, relu(h_ij), out_i)),
/// h_ij = fma(W_j1, x_i1, fma(W_j2, x_i2, b_j))
/// ```
///
/// Every operation is per example, so the result does not depend on the vector width. The
/// multiply-adds are pulp's `mul_add_e`: fused where the instruction set has FMA (AVX2, NEON), a
/// multiply then an add in the scalar fallback, where a fused one would be a call to a software
/// fma on CPUs without FMA.
#[inline(always)]
fn forward_d2<S: pulp::Simd>(
    simd: S,
    p: Units<'_>,
    s: f64,
    n_pad: usize,
    x: &[f64],
    out: &mut [f64],
) {
    assert!(n_pad.is_multiple_of(LANES) && LANES.is_multiple_of(S::F64_LANES));
    let out = &mut out[..n_pad];
    out.fill(0.0);
    let (x0, _) = S::as_simd_f64s(&x[..n_pad]);
    let (x1, _) = S::as_simd_f64s(&x[n_pad..2 * n_pad]);
    let (out, _) = S::as_mut_simd_f64s(out);
    let zero = simd.splat_f64s(0.0);
    let m = p.b.len();
    for j in (0..m).step_by(2) {
        let w0 = simd.splat_f64s(p.w[2 * j]);
        let w1 = simd.splat_f64s(p.w[2 * j + 1]);
        let b0 = simd.splat_f64s(p.b[j]);
        let a0 = simd.splat_f64s(s * p.a[j]);
        // A missing partner contributes a·relu(·) with a = 0.
        let (v0, v1, c0, a1) = if j + 1 < m {
            (
                simd.splat_f64s(p.w[2 * j + 2]),
                simd.splat_f64s(p.w[2 * j + 3]),
                simd.splat_f64s(p.b[j + 1]),
                simd.splat_f64s(s * p.a[j + 1]),
            )
        } else {
            (zero, zero, zero, zero)
        };
        for ((o, &u), &v) in out.iter_mut().zip(x0).zip(x1) {
            let h0 = simd.mul_add_e_f64s(w0, u, simd.mul_add_e_f64s(w1, v, b0));
            let h1 = simd.mul_add_e_f64s(v0, u, simd.mul_add_e_f64s(v1, v, c0));
            let (h0, h1) = (simd.max_f64s(h0, zero), simd.max_f64s(h1, zero));
            *o = simd.mul_add_e_f64s(a1, h1, simd.mul_add_e_f64s(a0, h0, *o));
        }
    }
}

/// The backward pass for d = 2 on explicit SIMD vectors, one sweep over the examples per unit
/// (a masked four-way reduction, which the compiler vectorises only partly from scalar loops).
/// Each of the four sums
/// Σ r_i relu(h_ij), Σ r_i 1_ij, Σ r_i 1_ij x_i1, Σ r_i 1_ij x_i2 is kept as [`LANES`] partial
/// sums, partial sum l taking the examples i ≡ l (mod LANES) — held in LANES / (vector width)
/// registers, two under AVX2 — and they are added as ((p₀+p₄)+(p₁+p₅)) + ((p₂+p₆)+(p₃+p₇)).
/// The order of every addition is thus fixed by LANES and not by the vector width: with fused
/// multiply-adds (see [`forward_d2`]) the gradients are the same under AVX2 and NEON, and the
/// scalar fallback differs from them only by the rounding of its unfused products.
#[inline(always)]
fn backward_d2<S: pulp::Simd>(
    simd: S,
    p: Units<'_>,
    s: f64,
    n_pad: usize,
    x: &[f64],
    r: &[f64],
    (gw, gb, ga): (&mut [f64], &mut [f64], &mut [f64]),
) {
    match LANES / S::F64_LANES {
        1 => backward_d2_regs::<S, 1>(simd, p, s, n_pad, x, r, (gw, gb, ga)),
        2 => backward_d2_regs::<S, 2>(simd, p, s, n_pad, x, r, (gw, gb, ga)),
        4 => backward_d2_regs::<S, 4>(simd, p, s, n_pad, x, r, (gw, gb, ga)),
        8 => backward_d2_regs::<S, 8>(simd, p, s, n_pad, x, r, (gw, gb, ga)),
        _ => unreachable!("f64 vectors of 1, 2, 4 or 8 lanes"),
    }
}

/// [`backward_d2`] with its LANES partial sums per reduction in R = LANES / (vector width)
/// registers.
#[inline(always)]
fn backward_d2_regs<S: pulp::Simd, const R: usize>(
    simd: S,
    p: Units<'_>,
    s: f64,
    n_pad: usize,
    x: &[f64],
    r: &[f64],
    (gw, gb, ga): (&mut [f64], &mut [f64], &mut [f64]),
) {
    assert!(n_pad.is_multiple_of(LANES) && R * S::F64_LANES == LANES);
    let (x0, _) = S::as_simd_f64s(&x[..n_pad]);
    let (x1, _) = S::as_simd_f64s(&x[n_pad..2 * n_pad]);
    let (r, _) = S::as_simd_f64s(&r[..n_pad]);
    let (x0, x1, r) = (
        x0.as_chunks::<R>().0,
        x1.as_chunks::<R>().0,
        r.as_chunks::<R>().0,
    );
    let zero = simd.splat_f64s(0.0);
    for j in 0..p.b.len() {
        let w0 = simd.splat_f64s(p.w[2 * j]);
        let w1 = simd.splat_f64s(p.w[2 * j + 1]);
        let bj = simd.splat_f64s(p.b[j]);
        let mut acc_a = [zero; R];
        let mut acc_b = [zero; R];
        let mut acc_w0 = [zero; R];
        let mut acc_w1 = [zero; R];
        for ((c0, c1), cr) in x0.iter().zip(x1).zip(r) {
            for q in 0..R {
                let (u, v, g) = (c0[q], c1[q], cr[q]);
                let h = simd.mul_add_e_f64s(w0, u, simd.mul_add_e_f64s(w1, v, bj));
                let on = simd.greater_than_f64s(h, zero);
                let masked = where_on(simd, on, g);
                acc_a[q] = simd.mul_add_e_f64s(g, simd.max_f64s(h, zero), acc_a[q]);
                acc_b[q] = simd.add_f64s(acc_b[q], masked);
                acc_w0[q] = simd.mul_add_e_f64s(masked, u, acc_w0[q]);
                acc_w1[q] = simd.mul_add_e_f64s(masked, v, acc_w1[q]);
            }
        }
        let sum = |acc: [S::f64s; R]| {
            let mut partial = [0.0; LANES];
            S::as_mut_simd_f64s(&mut partial).0.copy_from_slice(&acc);
            pairwise_total(&partial)
        };
        let sa = s * p.a[j];
        ga[j] = s * sum(acc_a);
        gb[j] = sa * sum(acc_b);
        gw[2 * j] = sa * sum(acc_w0);
        gw[2 * j + 1] = sa * sum(acc_w1);
    }
}

/// v where the comparison `on` holds, else 0. Where a mask is a vector of all-ones/all-zeros
/// lanes (AVX2, NEON) this is a bitwise and; pulp's select would go through a blend on the sign
/// bit, whose re-test of the mask costs the register that otherwise holds the last accumulator
/// of [`backward_d2`]. Elsewhere (bool or bit masks: scalar, AVX-512) it is pulp's select.
#[inline(always)]
fn where_on<S: pulp::Simd>(simd: S, on: S::m64s, v: S::f64s) -> S::f64s {
    if size_of::<S::m64s>() == size_of::<S::f64s>() {
        simd.and_f64s(pulp::bytemuck::cast(on), v)
    } else {
        simd.select_f64s(on, v, simd.splat_f64s(0.0))
    }
}

/// ((p₀+p₄)+(p₁+p₅)) + ((p₂+p₆)+(p₃+p₇)): the lanes of two 4-wide registers added, then the
/// four sums pairwise.
#[inline(always)]
fn pairwise_total(p: &[f64; LANES]) -> f64 {
    ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]))
}

/// The forward pass for any d in portable loops: scratch.out = s·Σ_j a_j relu(w_j·x_i + b_j).
#[inline(always)]
fn forward_general(p: Units<'_>, s: f64, d: usize, n_pad: usize, x: &[f64], scratch: &mut Scratch) {
    let out = &mut scratch.out[..n_pad];
    out.fill(0.0);
    let pre = &mut scratch.pre[..n_pad];
    for j in 0..p.b.len() {
        pre_activations(&p.w[j * d..(j + 1) * d], p.b[j], n_pad, x, pre);
        let aj = s * p.a[j];
        for (o, &h) in out.iter_mut().zip(pre.iter()) {
            *o += aj * relu(h);
        }
    }
}

/// pre_i = w·x_i + b.
#[inline(always)]
fn pre_activations(w: &[f64], b: f64, n_pad: usize, x: &[f64], pre: &mut [f64]) {
    pre.fill(b);
    for (k, &wk) in w.iter().enumerate() {
        for (p, &xv) in pre.iter_mut().zip(&x[k * n_pad..(k + 1) * n_pad]) {
            *p += wk * xv;
        }
    }
}

/// Σ over the lanes of LANES partial sums.
#[inline(always)]
fn total(acc: &[f64; LANES]) -> f64 {
    acc.iter().sum()
}

/// Σ_i u_i v_i with LANES partial sums (n_pad is a multiple of LANES).
#[inline(always)]
fn dot(u: &[f64], v: &[f64]) -> f64 {
    let mut acc = [0.0; LANES];
    for (cu, cv) in u.chunks_exact(LANES).zip(v.chunks_exact(LANES)) {
        for l in 0..LANES {
            acc[l] += cu[l] * cv[l];
        }
    }
    total(&acc)
}

/// Gradients of a block of units from the residuals r_i = ∂J/∂f(x_i), for any d in portable
/// loops: ∂J/∂a_j = s Σ r_i relu(h_ij), ∂J/∂b_j = s a_j Σ r_i 1_ij,
/// ∂J/∂W_jk = s a_j Σ r_i 1_ij x_ik.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_general(
    p: Units<'_>,
    s: f64,
    d: usize,
    n_pad: usize,
    x: &[f64],
    r: &[f64],
    (gw, gb, ga): (&mut [f64], &mut [f64], &mut [f64]),
    scratch: &mut Scratch,
) {
    let Scratch { pre, masked, .. } = scratch;
    let (pre, masked) = (&mut pre[..n_pad], &mut masked[..n_pad]);
    for j in 0..p.b.len() {
        pre_activations(&p.w[j * d..(j + 1) * d], p.b[j], n_pad, x, pre);
        let mut acc_a = [0.0; LANES];
        let mut acc_b = [0.0; LANES];
        for ((ch, cr), cm) in pre
            .chunks_exact(LANES)
            .zip(r.chunks_exact(LANES))
            .zip(masked.chunks_exact_mut(LANES))
        {
            for l in 0..LANES {
                cm[l] = if ch[l] > 0.0 { cr[l] } else { 0.0 };
                acc_a[l] += cr[l] * relu(ch[l]);
                acc_b[l] += cm[l];
            }
        }
        let sa = s * p.a[j];
        ga[j] = s * total(&acc_a);
        gb[j] = sa * total(&acc_b);
        for k in 0..d {
            gw[j * d + k] = sa * dot(masked, &x[k * n_pad..(k + 1) * n_pad]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{NetworkOptions, Parameterisation};
    use nalgebra::DMatrix;
    use pulp::Simd;

    fn data(d: usize, n: usize) -> Dataset {
        let inputs = DMatrix::from_fn(n, d, |i, k| ((i * 7 + k * 3) % 11) as f64 / 5.0 - 1.0);
        let labels: Vec<f64> = (0..n)
            .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
            .collect();
        Dataset::new(inputs, &labels).unwrap()
    }

    #[test]
    fn parallel_and_general_d_kernels_agree_with_the_plain_network() {
        for d in [1, 2, 3] {
            let data = data(d, 13);
            let net = TwoLayerRelu::init(
                d,
                &NetworkOptions {
                    width: 9,
                    parameterisation: Parameterisation::Ntk,
                    ..Default::default()
                },
            )
            .unwrap();
            let mut k = Kernel::new(&net, &data).unwrap();
            let plain = net.outputs(data.inputs()).unwrap();
            for parallel in [false, true] {
                k.forward(&net, parallel);
                for i in 0..13 {
                    assert!((k.out[i] - plain[i]).abs() < 1e-13);
                }
            }
            k.loss_and_residual(0.01);
            let mut g1 = Gradient::zeros(&net);
            let mut g2 = Gradient::zeros(&net);
            k.backward(&net, &mut g1, false);
            k.backward(&net, &mut g2, true);
            for (u, v) in g1.weights.iter().zip(&g2.weights) {
                assert!((u - v).abs() < 1e-15);
            }
        }
    }

    /// Gradient of the loss terms of `net` at its current outputs by one block (all units).
    fn block_gradient(
        k: &mut Kernel,
        net: &TwoLayerRelu,
        run: impl FnOnce(Backward<'_>),
    ) -> Gradient {
        let mut g = Gradient::zeros(net);
        let (w, b, a) = (&net.weights[..], &net.biases[..], &net.output_weights[..]);
        run(Backward {
            p: Units { w, b, a },
            s: net.output_scale(),
            d: k.d,
            n_pad: k.n_pad,
            x: &k.x,
            r: &k.residual,
            g: (&mut g.weights, &mut g.biases, &mut g.output_weights),
            scratch: &mut k.scratch[1],
        });
        g
    }

    fn assert_close(u: &Gradient, v: &Gradient) {
        let pairs = u
            .weights
            .iter()
            .zip(&v.weights)
            .chain(u.biases.iter().zip(&v.biases));
        for (p, q) in pairs.chain(u.output_weights.iter().zip(&v.output_weights)) {
            assert!((p - q).abs() < 1e-14 * (1.0 + q.abs()), "{p} vs {q}");
        }
    }

    #[test]
    fn simd_scalar_and_general_kernels_agree() {
        // The d = 2 kernels on the widest instruction set the CPU has, on pulp's scalar fallback
        // (what a CPU without AVX2 runs), and the portable any-d loops on the same network (odd
        // width: a unit without a partner in the forward pass; n = 21: 3 padded examples).
        let data = data(2, 21);
        let net = TwoLayerRelu::init(
            2,
            &NetworkOptions {
                width: 11,
                ..Default::default()
            },
        )
        .unwrap();
        let mut k = Kernel::new(&net, &data).unwrap();
        k.forward(&net, false);
        k.loss_and_residual(0.003);
        let (w, b, a) = (&net.weights[..], &net.biases[..], &net.output_weights[..]);
        let (s, n_pad) = (net.output_scale(), k.n_pad);
        let mut scalar = k.scratch[1].clone();
        pulp::Scalar::new().vectorize(Forward {
            p: Units { w, b, a },
            s,
            d: 2,
            n_pad,
            x: &k.x,
            scratch: &mut scalar,
        });
        let mut general = k.scratch[1].clone();
        forward_general(Units { w, b, a }, s, 2, n_pad, &k.x, &mut general);
        for i in 0..21 {
            let f = k.out[i] - net.output_bias;
            assert!((scalar.out[i] - f).abs() < 1e-13);
            assert!((general.out[i] - f).abs() < 1e-13);
        }
        let mut fast = Gradient::zeros(&net);
        k.backward(&net, &mut fast, false);
        let scalar = block_gradient(&mut k, &net, |op| pulp::Scalar::new().vectorize(op));
        assert_close(&fast, &scalar);
        let general = block_gradient(&mut k, &net, |op| {
            let Backward {
                p,
                s,
                d,
                n_pad,
                x,
                r,
                g,
                scratch,
            } = op;
            backward_general(p, s, d, n_pad, x, r, g, scratch)
        });
        assert_close(&fast, &general);
    }

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
            assert!(matches!(o.validate(), Err(Error::InvalidParameter { .. })));
        }
    }
}
