//! Training the c-output network on the mean softmax cross-entropy, and its feature system.
//!
//! **Objective** (mean over examples, as the binary network's, docs/theory.md §8.5):
//!
//! ```text
//! J(θ) = (1/n) Σᵢ [log Σ_k e^{f_k(xᵢ)} − f_{yᵢ}(xᵢ)] + (wd/2)‖θ‖²
//! ∂J/∂f_k(xᵢ) = (p_ik − [k = yᵢ])/n =: r_ik,   p = softmax(f(xᵢ))
//! ```
//!
//! and backpropagation through the layers of the module documentation of
//! [`super`](super): ∂J/∂c_k = Σᵢ r_ik, ∂J/∂A_kj = s Σᵢ r_ik relu(h_ij), δ_ij = s 1_ij Σ_k r_ik A_kj,
//! ∂J/∂b_j = Σᵢ δ_ij, ∂J/∂W_jl = Σᵢ δ_ij x_il (plus wd·θ).
//!
//! **Update**: `torch.optim.SGD` as for the binary network (v ← μv + g, θ ← θ − ηv with g
//! including wd·θ); k updates of rate η on the mean loss are learning time τ = η·k/(n(1−μ)) of
//! the sum convention.
//!
//! **Feature system** (docs/theory.md §9.1): the thin SVD Φ = U S Vᵀ of the n·c × p Jacobian at
//! initialisation, with the labels ([`MulticlassSystem::from_features`]). The linearised network
//! F = F₀ + Φθ has responses z = S Vᵀθ = Uᵀ vec(F − F₀) when U is square (r = nc); z(0) is
//! Uᵀ vec(F₀), which the zero-output start makes 0. The real network's responses during training
//! are read in the same basis: z_real = Uᵀ vec(F).

use nalgebra::{DMatrix, DVector};

use super::MulticlassRelu;
use crate::data::ClassDataset;
use crate::network::TrainOptions;
use gstarve_core::error::{Error, InputError, NumericalError, Result};
use gstarve_core::systems::MulticlassSystem;

/// The network's feature system at initialisation and its initial state.
#[derive(Clone, Debug)]
pub struct MulticlassFeatures {
    /// Strengths S and coupling U (n·c × r) from Φ = U S Vᵀ, with the labels.
    pub system: MulticlassSystem,
    /// z(0) = Uᵀ vec(F₀) (zero for a zero-output network).
    pub initial_responses: DVector<f64>,
    /// ‖vec(F₀) − U z(0)‖₂: the part of the initial logits outside the basis (0 up to rounding
    /// when r = nc).
    pub initial_output_outside: f64,
}

/// vec(F) of logits F (n × c), example-major (entry i·c + k = F_ik).
pub fn vec_logits(f: &DMatrix<f64>) -> DVector<f64> {
    let (n, c) = f.shape();
    DVector::from_fn(n * c, |row, _| f[(row / c, row % c)])
}

/// The feature system of `net` on `data` (see the module documentation).
pub fn multiclass_features(
    net: &MulticlassRelu,
    data: &ClassDataset,
) -> Result<MulticlassFeatures> {
    check_classes(net, data)?;
    let phi = net.jacobian(data.inputs())?;
    let system = MulticlassSystem::from_features(&phi, data.labels().to_vec(), data.classes())?;
    let f0 = vec_logits(&net.outputs(data.inputs())?);
    let u = system.system().coupling();
    let initial_responses = u.tr_mul(&f0);
    let initial_output_outside = (&f0 - u * &initial_responses).norm();
    Ok(MulticlassFeatures {
        system,
        initial_responses,
        initial_output_outside,
    })
}

fn check_classes(net: &MulticlassRelu, data: &ClassDataset) -> Result<()> {
    if net.classes() != data.classes() {
        return Err(Error::Input(InputError::Length {
            what: "network outputs",
            found: net.classes(),
            expected: data.classes(),
            rule: "one output per class of the data set",
        }));
    }
    net.check_inputs(data.inputs())
}

/// Mean cross-entropy of logits F (n × c) and r = ∂/∂F of it (n × c).
fn loss_and_residual(f: &DMatrix<f64>, labels: &[usize]) -> (f64, DMatrix<f64>) {
    let (n, c) = f.shape();
    let mut r = DMatrix::zeros(n, c);
    let mut loss = 0.0;
    for (i, &y) in labels.iter().enumerate() {
        let top = (0..c).map(|k| f[(i, k)]).fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = (0..c).map(|k| (f[(i, k)] - top).exp()).sum();
        loss += top + sum.ln() - f[(i, y)];
        for k in 0..c {
            r[(i, k)] = ((f[(i, k)] - top).exp() / sum - f64::from(u8::from(k == y))) / n as f64;
        }
    }
    (loss / n as f64, r)
}

/// ∂(mean cross-entropy)/∂θ by backpropagation (module docs), in the order of
/// [`MulticlassRelu::parameters`], and the mean cross-entropy.
fn backprop(net: &MulticlassRelu, data: &ClassDataset) -> (f64, Vec<f64>, DMatrix<f64>) {
    let (d, m, c) = (net.input_dim, net.width(), net.classes);
    let s = net.output_scale();
    let x = data.inputs();
    let f = net.outputs(x).expect("checked inputs");
    let (loss, r) = loss_and_residual(&f, data.labels());
    let mut g = vec![0.0; net.num_parameters()];
    let (off_b, off_a, off_c) = (m * d, m * d + m, m * d + m + c * m);
    let mut h = vec![0.0; m];
    let mut xi = vec![0.0; d];
    for i in 0..data.len() {
        xi.iter_mut().enumerate().for_each(|(l, v)| *v = x[(i, l)]);
        net.hidden(&xi, &mut h);
        for k in 0..c {
            g[off_c + k] += r[(i, k)];
        }
        for j in (0..m).filter(|&j| h[j] > 0.0) {
            let mut back = 0.0;
            for k in 0..c {
                g[off_a + k * m + j] += s * r[(i, k)] * h[j];
                back += r[(i, k)] * net.output_weights[k * m + j];
            }
            let delta = s * back;
            g[off_b + j] += delta;
            for l in 0..d {
                g[j * d + l] += delta * xi[l];
            }
        }
    }
    (loss, g, f)
}

/// J(θ) of the module documentation: mean cross-entropy + (wd/2)‖θ‖².
pub fn multiclass_objective(
    net: &MulticlassRelu,
    data: &ClassDataset,
    weight_decay: f64,
) -> Result<f64> {
    check_classes(net, data)?;
    let (loss, _) = loss_and_residual(&net.outputs(data.inputs())?, data.labels());
    let norm2: f64 = net.parameters().iter().map(|t| t * t).sum();
    Ok(loss + 0.5 * weight_decay * norm2)
}

/// ∇J(θ) by backpropagation, in the order of [`MulticlassRelu::parameters`].
pub fn multiclass_objective_gradient(
    net: &MulticlassRelu,
    data: &ClassDataset,
    weight_decay: f64,
) -> Result<Vec<f64>> {
    check_classes(net, data)?;
    let (_, mut g, _) = backprop(net, data);
    for (gi, t) in g.iter_mut().zip(net.parameters()) {
        *gi += weight_decay * t;
    }
    Ok(g)
}

/// What [`train_multiclass`] records, at epochs 0, r, 2r, … and the last one.
#[derive(Clone, Debug, Default)]
pub struct MulticlassRecord {
    /// Epochs k (updates done).
    pub epochs: Vec<usize>,
    /// Learning time τ = η·k/(n(1−μ)) (module docs).
    pub tau: Vec<f64>,
    /// Mean cross-entropy (no weight decay).
    pub loss: Vec<f64>,
    /// Training accuracy: the share of examples whose largest logit is their label's.
    pub accuracy: Vec<f64>,
    /// Logits F (n × c).
    pub logits: Vec<DMatrix<f64>>,
    /// z_real = Uᵀ vec(F) in the basis given to [`train_multiclass`] (empty without one).
    pub responses: Vec<DVector<f64>>,
}

fn accuracy(f: &DMatrix<f64>, labels: &[usize]) -> f64 {
    let c = f.ncols();
    let right = labels
        .iter()
        .enumerate()
        .filter(|&(i, &y)| (0..c).all(|k| k == y || f[(i, k)] < f[(i, y)]))
        .count();
    right as f64 / labels.len() as f64
}

/// Train `net` on `data` with full-batch SGD on the mean cross-entropy (module docs; the
/// options' `spectral_decoupling` must be 0 and `parallel` is ignored), recording the logits and,
/// with a `basis` (the feature system at initialisation), z_real = Uᵀ vec(F). A non-finite loss
/// stops training ([`NumericalError::TrainingDiverged`]).
pub fn train_multiclass(
    net: &mut MulticlassRelu,
    data: &ClassDataset,
    basis: Option<&MulticlassSystem>,
    options: &TrainOptions,
) -> Result<MulticlassRecord> {
    options.validate()?;
    check_classes(net, data)?;
    if options.spectral_decoupling != 0.0 {
        return Err(Error::Input(InputError::Unsupported(
            "Spectral Decoupling is not implemented for the multi-class network".into(),
        )));
    }
    let n = data.len();
    if let Some(b) = basis {
        if b.system().examples() != n * data.classes() {
            return Err(Error::Input(InputError::Length {
                what: "rows of the basis U",
                found: b.system().examples(),
                expected: n * data.classes(),
                rule: "n·c: one per example and class of the data set",
            }));
        }
    }
    let time_per_epoch = options.learning_rate / (n as f64 * (1.0 - options.momentum));
    let (lr, mu, wd) = (
        options.learning_rate,
        options.momentum,
        options.weight_decay,
    );
    let mut theta = net.parameters();
    let mut velocity = vec![0.0; theta.len()];
    let mut record = MulticlassRecord::default();
    for k in 0..=options.epochs {
        let (loss, g, f) = backprop(net, data);
        if !loss.is_finite() {
            return Err(Error::Numerical(NumericalError::TrainingDiverged {
                epoch: k,
                loss,
                learning_rate: lr,
            }));
        }
        if k % options.record_every == 0 || k == options.epochs {
            if let Some(b) = basis {
                record
                    .responses
                    .push(b.system().coupling().tr_mul(&vec_logits(&f)));
            }
            record.epochs.push(k);
            record.tau.push(k as f64 * time_per_epoch);
            record.loss.push(loss);
            record.accuracy.push(accuracy(&f, data.labels()));
            record.logits.push(f);
        }
        if k == options.epochs {
            break;
        }
        for ((t, v), gi) in theta.iter_mut().zip(velocity.iter_mut()).zip(&g) {
            *v = mu * *v + gi + wd * *t;
            *t -= lr * *v;
        }
        net.set_parameters(&theta)?;
    }
    Ok(record)
}
