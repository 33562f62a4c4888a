//! Out of distribution: the Colored-MNIST protocol on the shipped optical digits
//! ([`crate::data::coloured_digits`]), an MLP 128 → h → h → 1 trained by ERM, SD, SD with class
//! targets (docs/theory.md §10) and IRM v1 over restarts (hand-written passes, [`train`]; candle's
//! autodiff, [`mlp`], is the oracle in the tests), and the network's feature
//! system at initialisation with the colour feature's strength and starvation entries against
//! the digit features ([`features`](mod@features)).
//!
//! Restart k uses the environments of seed `seed + k` and a network drawn from
//! ChaCha12(`seed + k + 2³²`) (Xavier-uniform weights, zero biases, as the reference): every
//! method starts restart k from the same network on the same data. The runs (restarts ×
//! methods) are independent and spread over rayon's pool, each single-threaded.

mod features;
mod mlp;
#[cfg(test)]
mod oracle;
mod train;
#[cfg(test)]
mod train_tests;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use nalgebra::DMatrix;
use rand::{RngCore, SeedableRng};
use rayon::prelude::*;

pub use features::{colour_starvation, ColourStarvation, FeatureShare};

use crate::data::{coloured_digits, optical_digits, ColouredDigits, ColouredSpec, Digits};
use crate::deep::Precision;
use gstarve_core::error::{Error, InputError, Result};

/// A training objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Empirical risk minimisation (the mean logistic loss).
    Erm,
    /// Spectral Decoupling, the reference schedule.
    Sd,
    /// SD with a weight and margin target per class (docs/theory.md §10).
    SdClasses,
    /// IRM v1 (Arjovsky et al. 2019).
    Irm,
}

impl Method {
    /// The name in tables and files.
    pub fn name(self) -> &'static str {
        match self {
            Method::Erm => "erm",
            Method::Sd => "sd",
            Method::SdClasses => "sd-classes",
            Method::Irm => "irm",
        }
    }

    /// Every method, in table order.
    pub const ALL: [Method; 4] = [Method::Erm, Method::Sd, Method::SdClasses, Method::Irm];
}

/// One method's hyper-parameters (Adam, full batch).
#[derive(Clone, Debug, PartialEq)]
pub struct MethodSettings {
    /// The objective.
    pub method: Method,
    /// Full-batch Adam steps.
    pub steps: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// L2 weight on ‖θ‖² (IRM only, as the reference).
    pub l2: f64,
    /// The step from which the penalty takes its full weight.
    pub anneal_steps: usize,
    /// SD: the coefficient c; IRM: the penalty weight P.
    pub coefficient: f64,
    /// SD with class targets: weight w_c of class 0 (label 0) and class 1.
    pub class_weights: [f64; 2],
    /// SD with class targets: margin target γ_c of class 0 and class 1.
    pub class_targets: [f64; 2],
}

impl MethodSettings {
    /// The reference Colored-MNIST settings (the Gradient Starvation authors' `cmnist.py` runs
    /// for ERM and SD, the IRM paper's for IRM); SD with class targets takes SD's schedule,
    /// weights 1 and margin target 1 for both classes.
    pub fn reference(method: Method) -> Self {
        let base = Self {
            method,
            steps: 1001,
            learning_rate: 1e-4,
            l2: 0.0,
            anneal_steps: 0,
            coefficient: 0.0,
            class_weights: [1.0, 1.0],
            class_targets: [0.0, 0.0],
        };
        match method {
            Method::Erm => base,
            Method::Sd => Self {
                steps: 2001,
                anneal_steps: 450,
                coefficient: 2e-5,
                ..base
            },
            Method::SdClasses => Self {
                method,
                class_targets: [1.0, 1.0],
                ..Self::reference(Method::Sd)
            },
            Method::Irm => Self {
                steps: 501,
                learning_rate: 0.000_489_853_656_654_683_4,
                l2: 0.001_107_945_68,
                anneal_steps: 190,
                coefficient: 91_257.186_131_159_03,
                ..base
            },
        }
    }

    fn validate(&self) -> Result<()> {
        let invalid = |name, value: f64, rule| {
            Err(Error::Input(InputError::InvalidParameter {
                name,
                value,
                rule,
            }))
        };
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return invalid(
                "learning_rate",
                self.learning_rate,
                "it must be finite and > 0",
            );
        }
        for (name, v) in [("l2", self.l2), ("coefficient", self.coefficient)] {
            if !(v.is_finite() && v >= 0.0) {
                return invalid(name, v, "it must be finite and ≥ 0");
            }
        }
        for &w in &self.class_weights {
            if !(w.is_finite() && w > 0.0) {
                return invalid("class_weights", w, "class weights must be finite and > 0");
            }
        }
        for &g in &self.class_targets {
            if !g.is_finite() {
                return invalid("class_targets", g, "margin targets must be finite");
            }
        }
        Ok(())
    }
}

/// The experiment's options.
#[derive(Clone, Debug, PartialEq)]
pub struct OodSpec {
    /// The protocol.
    pub data: ColouredSpec,
    /// Hidden width h.
    pub width: usize,
    /// Restarts (each: its own environments and network).
    pub restarts: usize,
    /// Seed of restart 0.
    pub seed: u64,
    /// The methods, in table order.
    pub methods: Vec<MethodSettings>,
    /// Training examples (the first of the pooled, shuffled set) in the feature system.
    pub feature_examples: usize,
    /// λ of the L2 steady state at which the starvation matrix is evaluated.
    pub starvation_lambda: f64,
    /// Digit features whose starvation entries are reported.
    pub digit_features: usize,
    /// The precision of training (f32 by default, as PyTorch's).
    pub precision: Precision,
}

impl Default for OodSpec {
    fn default() -> Self {
        Self {
            data: ColouredSpec::default(),
            width: 100,
            restarts: 10,
            seed: 0,
            methods: Method::ALL
                .iter()
                .map(|&m| MethodSettings::reference(m))
                .collect(),
            feature_examples: 300,
            starvation_lambda: 0.01,
            digit_features: 5,
            precision: Precision::F32,
        }
    }
}

impl OodSpec {
    /// Check every option (the data protocol against the shipped 1797 examples).
    pub fn validate(&self) -> Result<()> {
        self.data.validate(1797)?;
        let count = |name, value: usize, lo: usize, hi: usize, rule| {
            if value < lo || value > hi {
                Err(Error::Input(InputError::InvalidParameter {
                    name,
                    value: value as f64,
                    rule,
                }))
            } else {
                Ok(())
            }
        };
        count(
            "width",
            self.width,
            1,
            4096,
            "the hidden width must be in 1…4096",
        )?;
        count(
            "restarts",
            self.restarts,
            1,
            1000,
            "restarts must be in 1…1000",
        )?;
        let train = self.data.train_per_environment * self.data.train_colour_noise.len();
        count(
            "feature_examples",
            self.feature_examples,
            2,
            train.min(2000),
            "the feature system takes 2 … min(2000, training examples) examples",
        )?;
        count(
            "digit_features",
            self.digit_features,
            1,
            self.feature_examples - 1,
            "at least one digit feature, fewer than the examples of the feature system",
        )?;
        if !(self.starvation_lambda.is_finite() && self.starvation_lambda > 0.0) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "starvation_lambda",
                value: self.starvation_lambda,
                rule: "λ must be finite and > 0",
            }));
        }
        if self.methods.is_empty() {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "methods",
                value: 0.0,
                rule: "at least one method",
            }));
        }
        self.methods.iter().try_for_each(MethodSettings::validate)
    }
}

/// The initial weights of the MLP (f64; layer k's weight is out × in, row by row).
#[derive(Clone, Debug, PartialEq)]
pub struct MlpWeights {
    /// Input dimension.
    pub inputs: usize,
    /// Hidden width h.
    pub width: usize,
    /// First layer, h × inputs.
    pub w1: Vec<f64>,
    /// First bias (h).
    pub b1: Vec<f64>,
    /// Second layer, h × h.
    pub w2: Vec<f64>,
    /// Second bias (h).
    pub b2: Vec<f64>,
    /// Output layer, 1 × h.
    pub w3: Vec<f64>,
    /// Output bias (1).
    pub b3: Vec<f64>,
}

impl MlpWeights {
    /// Xavier-uniform weights U(−a, a), a = √(6/(fan_in + fan_out)), and zero biases, from
    /// ChaCha12(`seed`): one 64-bit word per weight, layer by layer, row by row,
    /// u = (w >> 11)·2⁻⁵³ and weight (2u − 1)·a.
    pub fn xavier(inputs: usize, width: usize, seed: u64) -> Self {
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(seed);
        let mut layer = |rows: usize, cols: usize| -> Vec<f64> {
            let a = (6.0 / (rows + cols) as f64).sqrt();
            (0..rows * cols)
                .map(|_| {
                    let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
                    (2.0 * u - 1.0) * a
                })
                .collect()
        };
        let w1 = layer(width, inputs);
        let w2 = layer(width, width);
        let w3 = layer(1, width);
        Self {
            inputs,
            width,
            w1,
            b1: vec![0.0; width],
            w2,
            b2: vec![0.0; width],
            w3,
            b3: vec![0.0],
        }
    }

    /// Number of parameters p.
    pub fn parameters(&self) -> usize {
        self.w1.len() + self.b1.len() + self.w2.len() + self.b2.len() + self.w3.len() + 1
    }
}

/// One training run.
#[derive(Clone, Debug, PartialEq)]
pub struct OodRun {
    /// The method.
    pub method: Method,
    /// Restart index.
    pub restart: usize,
    /// Accuracy on the pooled training environments.
    pub train_accuracy: f64,
    /// Accuracy on the test environment.
    pub test_accuracy: f64,
    /// The final mean logistic loss on the training environments.
    pub train_nll: f64,
}

/// Mean and population standard deviation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanStd {
    /// Mean.
    pub mean: f64,
    /// Population standard deviation (NumPy's default, as the reference prints).
    pub std: f64,
}

impl MeanStd {
    fn of(values: &[f64]) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Self {
            mean,
            std: var.sqrt(),
        }
    }
}

/// One method over restarts.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodSummary {
    /// Its settings.
    pub settings: MethodSettings,
    /// Training accuracy over restarts.
    pub train_accuracy: MeanStd,
    /// Test accuracy over restarts.
    pub test_accuracy: MeanStd,
    /// Final training nll over restarts.
    pub train_nll: MeanStd,
    /// Restarts.
    pub restarts: usize,
}

/// The experiment's results.
#[derive(Clone, Debug)]
pub struct OodExperiment {
    /// The options.
    pub spec: OodSpec,
    /// Every run, restart by restart.
    pub runs: Vec<OodRun>,
    /// Per method, in the order of [`OodSpec::methods`].
    pub summaries: Vec<MethodSummary>,
    /// The feature system of restart 0's network at initialisation.
    pub features: ColourStarvation,
    /// Share of colour = label in the pooled training and the test environment, averaged
    /// over restarts.
    pub colour_agreement: (f64, f64),
    /// Wall-clock seconds: training, and the feature analysis.
    pub wall_s: (f64, f64),
}

fn pooled(envs: &ColouredDigits) -> train::TrainingData {
    let rows: usize = envs.train.iter().map(|e| e.len()).sum();
    let cols = envs.test.inputs.ncols();
    let mut inputs = DMatrix::zeros(rows, cols);
    let mut labels = Vec::with_capacity(rows);
    let mut start = 0;
    for env in &envs.train {
        inputs.rows_mut(start, env.len()).copy_from(&env.inputs);
        labels.extend_from_slice(&env.labels);
        start += env.len();
    }
    train::TrainingData {
        inputs,
        labels,
        environment_sizes: envs.train.iter().map(|e| e.len()).collect(),
        test_inputs: envs.test.inputs.clone(),
        test_labels: envs.test.labels.clone(),
    }
}

/// The network seed of restart `k`.
pub fn network_seed(seed: u64, k: usize) -> u64 {
    seed.wrapping_add(k as u64).wrapping_add(1 << 32)
}

/// Restart `k`'s environments, pooled training data, initial network and colour agreements
/// (pooled training, test).
struct Restart {
    envs: ColouredDigits,
    data: train::TrainingData,
    weights: MlpWeights,
    agreement: (f64, f64),
}

fn restart(spec: &OodSpec, digits: &Digits, k: usize) -> Result<Restart> {
    let envs = coloured_digits(digits, &spec.data, spec.seed.wrapping_add(k as u64))?;
    let data = pooled(&envs);
    let weights = MlpWeights::xavier(data.inputs.ncols(), spec.width, network_seed(spec.seed, k));
    let n_train = data.labels.len() as f64;
    let train_agree = envs
        .train
        .iter()
        .map(|e| e.colour_agreement() * e.len() as f64)
        .sum::<f64>()
        / n_train;
    let agreement = (train_agree, envs.test.colour_agreement());
    Ok(Restart {
        envs,
        data,
        weights,
        agreement,
    })
}

/// One method's run on one restart, in the spec's precision.
fn run(spec: &OodSpec, r: &Restart, settings: &MethodSettings, k: usize) -> Result<OodRun> {
    let end = match spec.precision {
        Precision::F32 => train::train::<f32>(&r.weights, settings, &r.data)?,
        Precision::F64 => train::train::<f64>(&r.weights, settings, &r.data)?,
    };
    Ok(OodRun {
        method: settings.method,
        restart: k,
        train_accuracy: end.train_accuracy,
        test_accuracy: end.test_accuracy,
        train_nll: end.train_nll,
    })
}

/// Run the experiment: every method on every restart (the runs in parallel on rayon's pool, the
/// longest first), then the feature analysis of restart 0; `on_restart(k, restarts)` is called
/// when every method of restart k is done.
pub fn ood_experiment(
    spec: &OodSpec,
    on_restart: &(dyn Fn(usize, usize) + Sync),
) -> Result<OodExperiment> {
    spec.validate()?;
    let digits = optical_digits()?;
    let start = Instant::now();
    let restarts: Vec<Restart> = (0..spec.restarts)
        .into_par_iter()
        .map(|k| restart(spec, &digits, k))
        .collect::<Result<_>>()?;
    // (restart, method) pairs, the longest runs first so that the last ones to start are short.
    let mut jobs: Vec<(usize, usize)> = (0..spec.restarts)
        .flat_map(|k| (0..spec.methods.len()).map(move |m| (k, m)))
        .collect();
    jobs.sort_by_key(|&(k, m)| (std::cmp::Reverse(spec.methods[m].steps), k, m));
    let remaining: Vec<AtomicUsize> = (0..spec.restarts)
        .map(|_| AtomicUsize::new(spec.methods.len()))
        .collect();
    let mut done: Vec<((usize, usize), OodRun)> = jobs
        .par_iter()
        .with_max_len(1)
        .map(|&(k, m)| {
            let outcome = run(spec, &restarts[k], &spec.methods[m], k);
            if remaining[k].fetch_sub(1, Ordering::AcqRel) == 1 {
                on_restart(k, spec.restarts);
            }
            outcome.map(|r| ((k, m), r))
        })
        .collect::<Result<_>>()?;
    done.sort_by_key(|&(key, _)| key);
    let runs: Vec<OodRun> = done.into_iter().map(|(_, r)| r).collect();
    let training_s = start.elapsed().as_secs_f64();
    let r = spec.restarts as f64;
    let colour_agreement = (
        restarts.iter().map(|o| o.agreement.0).sum::<f64>() / r,
        restarts.iter().map(|o| o.agreement.1).sum::<f64>() / r,
    );
    let summaries = spec
        .methods
        .iter()
        .map(|settings| {
            let of = |f: fn(&OodRun) -> f64| {
                let v: Vec<f64> = runs
                    .iter()
                    .filter(|r| r.method == settings.method)
                    .map(f)
                    .collect();
                MeanStd::of(&v)
            };
            MethodSummary {
                settings: settings.clone(),
                train_accuracy: of(|r| r.train_accuracy),
                test_accuracy: of(|r| r.test_accuracy),
                train_nll: of(|r| r.train_nll),
                restarts: spec.restarts,
            }
        })
        .collect();
    let analysis = Instant::now();
    let first = &restarts[0];
    let features = colour_starvation(&first.weights, &first.envs, spec)?;
    Ok(OodExperiment {
        spec: spec.clone(),
        runs,
        summaries,
        features,
        colour_agreement,
        wall_s: (training_s, analysis.elapsed().as_secs_f64()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_settings_keep_their_method() {
        for m in Method::ALL {
            assert_eq!(MethodSettings::reference(m).method, m);
        }
        let c = MethodSettings::reference(Method::SdClasses);
        assert_eq!(
            (c.steps, c.anneal_steps, c.class_targets),
            (2001, 450, [1.0, 1.0])
        );
    }
}
