//! The paper's two-moons experiment (its Figures 1 and 2, and the SD panel of Figure 3): real
//! two-layer ReLU networks trained on two moons with margin Δ, with and without Spectral
//! Decoupling (plain, or with a weight and a margin target per class, docs/theory.md §10.1),
//! over several seeds, their feature responses in each seed's own initial basis, and their
//! outputs on a grid of the plane averaged over the seeds.
//!
//! For every setting (Δ, SD coefficient) and seed s:
//!
//! 1. data: [`two_moons`] with `seed = s` (n points, noise, margin Δ);
//! 2. network: [`TwoLayerRelu::init`] with `seed = s` (the paper's PyTorch parameterisation by
//!    default);
//! 3. basis: the SVD YΦ = U S Vᵀ of **that seed's** network at initialisation
//!    ([`network_features`]); "feature j" is the j-th singular direction (s₁ ≥ s₂ ≥ …);
//! 4. training: [`train`] (full batch, SGD with momentum and weight decay, SD), recording
//!    z_real = UᵀYŷ every `record_every` epochs;
//! 5. orientation: docs/theory.md §1.4 lets a column pair (U_j, V_j) flip sign, so each response is
//!    multiplied by the sign of its **final** value: every feature ends positive.
//!
//! Across seeds the oriented responses are summarised per record by mean, standard deviation
//! (population, over the seeds), minimum and maximum; the paper's Figure 2 instead averages
//! |z_j| over the seeds (the `overlay` features, [`reversal`]). Every seed's network is evaluated
//! on a grid of the plane at the `boundary_epochs`, and the outputs are averaged over the seeds,
//! as the authors' scripts do for their Figures 1 and 2; the decision boundary is the zero
//! contour of that average.
//!
//! All runs (settings × seeds) are independent and run in parallel (rayon), each sequentially.

use std::time::Instant;

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::data::{Dataset, MoonsOptions};
use crate::network::{ClassTargets, NetworkOptions, Parameterisation, TrainOptions};
use gstarve_core::error::{Error, InputError, Result};
use gstarve_core::model::{nan_max, nan_min};
use gstarve_core::sweeps::progress::{Progress, Tracker};

pub mod reversal;
mod run;

pub use reversal::{reversal, FeatureOrder, Reversal};
pub use run::curved_share;
use run::{one_run, RunOutput};

/// One training setting of the experiment: the data margin Δ and the SD coefficient.
#[derive(Clone, Debug, PartialEq)]
pub struct MoonsSetting {
    /// Short name used in file names and CSV (e.g. `margin+0.1-sd`).
    pub name: String,
    /// Margin Δ of the two moons (+0.1 separates, −0.1 overlaps).
    pub margin: f64,
    /// SD coefficient c on mean ŷ² (0: none).
    pub spectral_decoupling: f64,
    /// SD with a weight and a margin target per class (docs/theory.md §10.1), added to the
    /// objective beside `spectral_decoupling` (None: none).
    pub class_targets: Option<ClassTargets>,
}

impl MoonsSetting {
    /// A setting named after its Δ and SD.
    pub fn new(margin: f64, spectral_decoupling: f64) -> Self {
        let sd = if spectral_decoupling > 0.0 { "-sd" } else { "" };
        Self {
            name: format!("margin{margin:+}{sd}"),
            margin,
            spectral_decoupling,
            class_targets: None,
        }
    }

    /// A setting with SD per class (and no plain SD), named `margin<Δ>-sd-classes`.
    pub fn with_class_targets(margin: f64, targets: ClassTargets) -> Self {
        Self {
            name: format!("margin{margin:+}-sd-classes"),
            margin,
            spectral_decoupling: 0.0,
            class_targets: Some(targets),
        }
    }

    /// Whether any SD term (plain or per class) is on.
    pub fn has_sd(&self) -> bool {
        self.spectral_decoupling > 0.0 || self.class_targets.is_some()
    }

    /// A human label, e.g. "Δ = +0.1, SD 0.003".
    pub fn label(&self) -> String {
        let minus = |x: f64| format!("{x}").replace('-', "\u{2212}");
        let sd = match (&self.class_targets, self.spectral_decoupling > 0.0) {
            (Some(t), _) => format!(
                ", SD per class λ\u{a0}=\u{a0}({},\u{a0}{}), γ\u{a0}=\u{a0}({},\u{a0}{})",
                minus(round4(t.lambda[0])),
                minus(round4(t.lambda[1])),
                minus(t.target[0]),
                minus(t.target[1])
            ),
            (None, true) => format!(", SD {}", self.spectral_decoupling),
            (None, false) => ", no SD".to_string(),
        };
        let margin = format!("{:+}", self.margin).replace('-', "\u{2212}");
        format!("Δ\u{a0}=\u{a0}{margin}{sd}")
    }

    /// The paper's three settings: Δ = −0.1, Δ = +0.1, and Δ = +0.1 with SD `sd`.
    pub fn paper(sd: f64) -> Vec<Self> {
        vec![
            Self::new(-0.1, 0.0),
            Self::new(0.1, 0.0),
            Self::new(0.1, sd),
        ]
    }
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// The experiment's specification. Defaults: the paper's settings (the authors' Figure 2
/// script): width 500 (PyTorch parameterisation), n = 300, noise 0.1, full batch, lr 1e-2,
/// momentum 0.9, weight decay 2e-4, SD 0.003, 10 000 epochs, 10 seeds (0…9), the leading 5
/// features, a record every 50 epochs, |z| of features 2 and 7 for the Figure-2 overlay, and the
/// outputs averaged over the seeds on a 100² grid of [−2, 2]² after 1000 epochs (the authors'
/// Figure 1) and after 10 000 (their Figure 2).
#[derive(Clone, Debug, PartialEq)]
pub struct MoonsSpec {
    /// The settings (default [`MoonsSetting::paper`] with SD 0.003).
    pub settings: Vec<MoonsSetting>,
    /// Seeds 0…seeds−1 (data and initialisation).
    pub seeds: usize,
    /// Number of points n.
    pub n: usize,
    /// Noise of the moons.
    pub noise: f64,
    /// Network width and parameterisation (the seed is overwritten per run).
    pub network: NetworkOptions,
    /// Training options (the SD coefficient is overwritten per setting).
    pub training: TrainOptions,
    /// The features to follow, 0-based (default 0..5).
    pub features: Vec<usize>,
    /// The features of the paper's Figure 2, 0-based, whose |z| is averaged over seeds (default
    /// [1, 6]: features 2 and 7; the first is the leading feature, the second the weak one of
    /// [`reversal`]).
    pub overlay: Vec<usize>,
    /// Epochs at which every seed's network is evaluated on the grid, increasing, each ≤ the
    /// number of epochs (default [1000, 10 000]).
    pub boundary_epochs: Vec<usize>,
    /// Points per axis of the decision-boundary grid (default 100, as the authors').
    pub grid_points: usize,
    /// Half-width of the square [−a, a]² of the decision-boundary grid (default 2).
    pub grid_extent: f64,
}

impl Default for MoonsSpec {
    fn default() -> Self {
        Self {
            settings: MoonsSetting::paper(0.003),
            seeds: 10,
            n: 300,
            noise: 0.1,
            network: NetworkOptions {
                width: 500,
                parameterisation: Parameterisation::PyTorch,
                seed: 0,
                zero_output: false,
            },
            training: TrainOptions {
                record_every: 50,
                ..TrainOptions::default()
            },
            features: (0..5).collect(),
            overlay: vec![1, 6],
            boundary_epochs: vec![1000, 10_000],
            grid_points: 100,
            grid_extent: 2.0,
        }
    }
}

impl MoonsSpec {
    /// Check everything before any work.
    pub fn validate(&self) -> Result<()> {
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
        count("seeds", self.seeds, 1, 10_000, "between 1 and 10⁴ seeds")?;
        count(
            "epochs",
            self.training.epochs,
            1,
            100_000_000,
            "between 1 and 10⁸ epochs",
        )?;
        count(
            "width",
            self.network.width,
            1,
            1_000_000,
            "the width must be between 1 and 10⁶",
        )?;
        count(
            "grid_points",
            self.grid_points,
            2,
            4096,
            "the grid needs between 2 and 4096 points per axis",
        )?;
        if self.settings.is_empty() {
            return Err(Error::Input(InputError::Empty {
                what: "settings",
                rule: "the experiment needs at least one",
            }));
        }
        if self.features.is_empty() {
            return Err(Error::Input(InputError::Empty {
                what: "features to follow",
                rule: "choose at least one",
            }));
        }
        if !(self.grid_extent.is_finite() && self.grid_extent > 0.0) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "grid_extent",
                value: self.grid_extent,
                rule: "the grid's half-width must be finite and > 0",
            }));
        }
        // Features exist only up to the rank r = min(n, p).
        let p = self.network.width * 4 + 1;
        let rank = self.n.min(p);
        if let Some(&j) = self
            .features
            .iter()
            .chain(&self.overlay)
            .find(|&&j| j >= rank)
        {
            return Err(Error::Input(InputError::ResponseOutOfRange {
                index: j + 1,
                rank,
            }));
        }
        if self.boundary_epochs.is_empty() {
            return Err(Error::Input(InputError::Empty {
                what: "boundary epochs",
                rule: "choose at least one epoch for the decision boundaries",
            }));
        }
        let epochs = self.training.epochs;
        let mut previous = None;
        for &k in &self.boundary_epochs {
            if k > epochs || previous.is_some_and(|p| k <= p) {
                return Err(Error::Input(InputError::InvalidParameter {
                    name: "boundary_epochs",
                    value: k as f64,
                    rule: "boundary epochs must increase and be ≤ the number of epochs",
                }));
            }
            previous = Some(k);
        }
        self.training.validate()?;
        for s in &self.settings {
            TrainOptions {
                spectral_decoupling: s.spectral_decoupling,
                ..self.training
            }
            .validate()?;
            if let Some(t) = s.class_targets {
                ClassTargets::new(t.lambda, t.target)?;
            }
            MoonsOptions {
                n: self.n,
                noise: self.noise,
                margin: s.margin,
                ..Default::default()
            }
            .validate()?;
        }
        Ok(())
    }
}

/// One trained network.
#[derive(Clone, Debug)]
pub struct SeedRun {
    /// The seed (data and initialisation).
    pub seed: u64,
    /// Strengths s_j of the followed features at initialisation.
    pub strengths: Vec<f64>,
    /// The sign each followed feature was multiplied by (so that its final response is > 0).
    pub signs: Vec<f64>,
    /// Label alignment (Uᵀ1)_j/√n of each followed feature, oriented by `signs`: the cosine
    /// between U_j and the all-correct margin direction 1/√n. SD's steady state is
    /// z* = μ*·Uᵀ1 (docs/theory.md §4.2), so a feature with alignment ≈ 0 (such as the mean-output
    /// mode u ≈ y/√n of a balanced data set) has a response near 0 and no meaningful sign.
    pub alignments: Vec<f64>,
    /// Oriented responses: `responses[record][k]` for feature `features[k]`.
    pub responses: Vec<Vec<f64>>,
    /// |z_j| of the overlay features: `overlay[record][k]` for feature `overlay[k]`.
    pub overlay: Vec<Vec<f64>>,
    /// Mean final margin y·ŷ of each class (class 0: label −1, class 1: label +1; NaN for an
    /// empty class).
    pub class_margins: [f64; 2],
    /// Reliance on the curved axis in input space: the mean over the training points of
    /// |∂f/∂x₂| / (|∂f/∂x₁| + |∂f/∂x₂|) of the trained network (central differences). x₁ is the
    /// folded, linearly separating axis, x₂ the curved moon axis: a network that has starved
    /// the curved feature draws a straight boundary and scores near 0. (d = 2 only; NaN else.)
    pub curved_share: f64,
    /// Final training loss (mean logistic + SD term, as PyTorch prints it).
    pub final_loss: f64,
    /// Final training accuracy (fraction of examples with y·ŷ > 0).
    pub accuracy: f64,
}

/// Summary statistics over seeds of one feature at one record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Band {
    /// Mean over seeds.
    pub mean: f64,
    /// Population standard deviation over seeds.
    pub std: f64,
    /// Smallest value over seeds.
    pub min: f64,
    /// Largest value over seeds.
    pub max: f64,
}

impl Band {
    fn of(values: &[f64]) -> Self {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Self {
            mean,
            std: var.sqrt(),
            min: values.iter().copied().fold(f64::INFINITY, nan_min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, nan_max),
        }
    }
}

/// The networks' outputs on a grid of the plane at one epoch, averaged over the seeds, with the
/// first seed's data (the points drawn).
#[derive(Clone, Debug)]
pub struct DecisionBoundary {
    /// Grid abscissae x₁ (columns).
    pub x: Vec<f64>,
    /// Grid ordinates x₂ (rows, increasing).
    pub y: Vec<f64>,
    /// Mean over the seeds of f(x₁(c), x₂(r)) at entry (r, c).
    pub output: DMatrix<f64>,
    /// The training data of the first seed.
    pub data: Dataset,
    /// The seed of `data`.
    pub seed: u64,
    /// The epoch (updates done) of the networks evaluated.
    pub epoch: usize,
    /// How many seeds' outputs are averaged.
    pub seeds: usize,
}

/// Everything about one setting.
#[derive(Clone, Debug)]
pub struct SettingResult {
    /// The setting.
    pub setting: MoonsSetting,
    /// Recorded epochs (shared by all seeds).
    pub epochs: Vec<usize>,
    /// Learning time τ = η·k/(n(1−μ)) of the records, in the sum convention of docs/theory.md
    /// §8.5 (see `network::train`).
    pub tau: Vec<f64>,
    /// One entry per seed.
    pub runs: Vec<SeedRun>,
    /// `bands[record][k]`: statistics over seeds of feature `features[k]`.
    pub bands: Vec<Vec<Band>>,
    /// `overlay_bands[record][k]`: statistics over seeds of |z_j|, j = `overlay[k]`.
    pub overlay_bands: Vec<Vec<Band>>,
    /// The seed-averaged outputs at each of the spec's `boundary_epochs`, in that order.
    pub boundaries: Vec<DecisionBoundary>,
}

impl SettingResult {
    /// Mean over seeds of the final oriented response of each followed feature.
    pub fn final_means(&self) -> Vec<f64> {
        self.bands
            .last()
            .map(|b| b.iter().map(|x| x.mean).collect())
            .unwrap_or_default()
    }

    /// Mean over seeds of the strength s_j of each followed feature.
    pub fn mean_strengths(&self) -> Vec<f64> {
        mean_over_runs(&self.runs, |r| &r.strengths)
    }

    /// Mean over seeds of the oriented label alignment (Uᵀ1)_j/√n of each followed feature.
    pub fn mean_alignments(&self) -> Vec<f64> {
        mean_over_runs(&self.runs, |r| &r.alignments)
    }

    /// Mean over seeds of the curved-axis share [`SeedRun::curved_share`].
    pub fn mean_curved_share(&self) -> f64 {
        self.runs.iter().map(|r| r.curved_share).sum::<f64>() / self.runs.len() as f64
    }

    /// Mean over seeds of the final training loss.
    pub fn mean_final_loss(&self) -> f64 {
        self.runs.iter().map(|r| r.final_loss).sum::<f64>() / self.runs.len() as f64
    }

    /// Mean over seeds of the final training accuracy.
    pub fn mean_accuracy(&self) -> f64 {
        self.runs.iter().map(|r| r.accuracy).sum::<f64>() / self.runs.len() as f64
    }

    /// Mean over seeds of each class's mean final margin.
    pub fn mean_class_margins(&self) -> [f64; 2] {
        let n = self.runs.len() as f64;
        [0, 1].map(|c| self.runs.iter().map(|r| r.class_margins[c]).sum::<f64>() / n)
    }

    /// The seed-averaged outputs at the last boundary epoch.
    pub fn final_boundary(&self) -> Option<&DecisionBoundary> {
        self.boundaries.last()
    }
}

fn mean_over_runs(runs: &[SeedRun], field: impl Fn(&SeedRun) -> &Vec<f64>) -> Vec<f64> {
    let k = runs.first().map(|r| field(r).len()).unwrap_or(0);
    (0..k)
        .map(|i| runs.iter().map(|r| field(r)[i]).sum::<f64>() / runs.len() as f64)
        .collect()
}

/// The experiment's result.
#[derive(Clone, Debug)]
pub struct MoonsExperiment {
    /// What was run.
    pub spec: MoonsSpec,
    /// One entry per setting, in the order of `spec.settings`.
    pub settings: Vec<SettingResult>,
    /// Wall-clock time of the whole experiment in seconds.
    pub wall_s: f64,
}

/// Run the experiment: every (setting, seed) pair in parallel, a progress tick per finished run.
pub fn moons_experiment(spec: &MoonsSpec, progress: Progress) -> Result<MoonsExperiment> {
    spec.validate()?;
    let start = Instant::now();
    let jobs: Vec<(usize, u64)> = (0..spec.settings.len())
        .flat_map(|s| (0..spec.seeds as u64).map(move |seed| (s, seed)))
        .collect();
    let tracker = Tracker::with_unit(progress, jobs.len(), "two moons", "runs");
    let outputs: Vec<Result<RunOutput>> = jobs
        .par_iter()
        .map(|&(s, seed)| {
            let out = one_run(spec, &spec.settings[s], seed);
            tracker.tick();
            out
        })
        .collect();
    drop(tracker);
    let mut outputs = outputs.into_iter();
    let mut settings = Vec::with_capacity(spec.settings.len());
    for setting in &spec.settings {
        let mut runs = Vec::with_capacity(spec.seeds);
        let mut first: Option<(Dataset, Vec<usize>, Vec<f64>)> = None;
        let mut sums: Vec<DMatrix<f64>> = Vec::new();
        for _ in 0..spec.seeds {
            let mut out = outputs.next().ok_or(Error::Input(InputError::Empty {
                what: "runs",
                rule: "every seed of every setting runs",
            }))??;
            let grids = std::mem::take(&mut out.grids);
            if sums.is_empty() {
                sums = grids;
            } else {
                for (sum, grid) in sums.iter_mut().zip(&grids) {
                    *sum += grid;
                }
            }
            if first.is_none() {
                first = Some((out.data, out.epochs, out.tau));
            }
            runs.push(out.run);
        }
        let (data, epochs, tau) = first.ok_or(Error::Input(InputError::Empty {
            what: "experiment",
            rule: "it needs at least one seed",
        }))?;
        let a = spec.grid_extent;
        let g = spec.grid_points;
        let axis: Vec<f64> = (0..g)
            .map(|k| -a + 2.0 * a * k as f64 / (g - 1) as f64)
            .collect();
        let boundaries = sums
            .into_iter()
            .zip(&spec.boundary_epochs)
            .map(|(sum, &epoch)| DecisionBoundary {
                x: axis.clone(),
                y: axis.clone(),
                output: sum / spec.seeds as f64,
                data: data.clone(),
                seed: runs[0].seed,
                epoch,
                seeds: spec.seeds,
            })
            .collect();
        let records = epochs.len();
        let bands_of = |field: fn(&SeedRun) -> &Vec<Vec<f64>>, count: usize| -> Vec<Vec<Band>> {
            (0..records)
                .map(|i| {
                    (0..count)
                        .map(|k| {
                            let values: Vec<f64> = runs.iter().map(|r| field(r)[i][k]).collect();
                            Band::of(&values)
                        })
                        .collect()
                })
                .collect()
        };
        let bands = bands_of(|r| &r.responses, spec.features.len());
        let overlay_bands = bands_of(|r| &r.overlay, spec.overlay.len());
        settings.push(SettingResult {
            setting: setting.clone(),
            epochs,
            tau,
            runs,
            bands,
            overlay_bands,
            boundaries,
        });
    }
    Ok(MoonsExperiment {
        spec: spec.clone(),
        settings,
        wall_s: start.elapsed().as_secs_f64(),
    })
}
