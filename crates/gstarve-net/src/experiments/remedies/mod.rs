//! The paper's Figure 3: common remedies against Gradient Starvation on two moons with margin
//! Δ = +0.1, each trained over several seeds, with the decision boundary of the seed-averaged
//! output and a number for how curved it is.
//!
//! The settings are those of the authors' `moon_fig_3.py`: width 500, n = 300, noise 0.1, full
//! batch, SGD with η = 10⁻² and momentum 0.9 **without** weight decay, 1000 epochs, 10 seeds,
//! outputs averaged over the seeds on a 100 × 100 grid of [−2, 2]²; each panel changes one thing
//! ([`Remedy::paper`]).
//!
//! **Engines.** The panels that are two-layer networks trained by SGD (none, weight decay,
//! longer, rotation, SD) run on the hand-written network ([`crate::network`], the NTK bridge);
//! Adam, dropout and BatchNorm on [`TwoLayerMlp`] (hand-written passes of the candle network's
//! two-layer case: candle's per-operation cost made these panels slower than PyTorch,
//! docs/benchmarks.md), the deeper network on [`crate::deep`] (candle). All draw the
//! initialisation the same way, so for a given seed every two-layer panel starts from the same
//! network (the authors' script draws a new one per panel), and the engines agree to rounding
//! on the same run (`deep::tests`, `deep::two_layer_tests`).
//!
//! **Curvature** (the x₂ share of [`moons`](super::moons)): the mean over the training points
//! of |∂f/∂e₂| / (|∂f/∂e₁| + |∂f/∂e₂|) by central differences (h = 10⁻⁵), where e₁ is the
//! folded, linearly separating axis and e₂ the curved moon axis, both rotated with the data
//! (for unrotated data e₁ = x₁, e₂ = x₂, and the number is [`super::moons::curved_share`]'s).
//! A straight boundary along e₂ scores 0; the paper's claim, "only SD curves the boundary", is
//! that SD's share is the largest.

use std::time::Instant;

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

mod panels;

pub use panels::{Engine, Remedy};

use crate::data::{two_moons, Dataset, MoonsOptions};
use crate::deep::{train_mlp, Mlp, MlpOptions, MlpTrainOptions, Optimiser, Precision, TwoLayerMlp};
use crate::network::{train, NetworkOptions, Parameterisation, TrainOptions, TwoLayerRelu};
use gstarve_core::error::{Error, InputError, Result};
use gstarve_core::model::{nan_max, nan_min};
use gstarve_core::sweeps::progress::{Progress, Tracker};

/// The experiment's specification. Defaults: the authors' `moon_fig_3.py` (module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct RemediesSpec {
    /// The panels (default [`Remedy::paper`]).
    pub remedies: Vec<Remedy>,
    /// Seeds 0…seeds−1 (data and initialisation).
    pub seeds: usize,
    /// Number of points n.
    pub n: usize,
    /// Noise of the moons.
    pub noise: f64,
    /// Margin Δ.
    pub margin: f64,
    /// Hidden width of the two-layer panels.
    pub width: usize,
    /// Epochs of the baseline (a [`Remedy::Longer`] panel multiplies them).
    pub epochs: usize,
    /// SGD's learning rate.
    pub learning_rate: f64,
    /// SGD's momentum.
    pub momentum: f64,
    /// Points per axis of the grid.
    pub grid_points: usize,
    /// Half-width a of the grid's square [−a, a]².
    pub grid_extent: f64,
}

impl Default for RemediesSpec {
    fn default() -> Self {
        Self {
            remedies: Remedy::paper(),
            seeds: 10,
            n: 300,
            noise: 0.1,
            margin: 0.1,
            width: 500,
            epochs: 1000,
            learning_rate: 1e-2,
            momentum: 0.9,
            grid_points: 100,
            grid_extent: 2.0,
        }
    }
}

impl RemediesSpec {
    /// Check everything before any work.
    pub fn validate(&self) -> Result<()> {
        let count = |name, value: usize, lo: usize, hi: usize, rule| {
            if (lo..=hi).contains(&value) {
                Ok(())
            } else {
                Err(Error::Input(InputError::InvalidParameter {
                    name,
                    value: value as f64,
                    rule,
                }))
            }
        };
        count("seeds", self.seeds, 1, 10_000, "between 1 and 10⁴ seeds")?;
        count(
            "epochs",
            self.epochs,
            1,
            10_000_000,
            "between 1 and 10⁷ epochs",
        )?;
        count(
            "width",
            self.width,
            1,
            100_000,
            "the width must be between 1 and 10⁵",
        )?;
        count(
            "grid_points",
            self.grid_points,
            2,
            4096,
            "the grid needs between 2 and 4096 points per axis",
        )?;
        if self.remedies.is_empty() {
            return Err(Error::Input(InputError::Empty {
                what: "remedies",
                rule: "the experiment needs at least one panel",
            }));
        }
        if !(self.grid_extent.is_finite() && self.grid_extent > 0.0) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "grid_extent",
                value: self.grid_extent,
                rule: "the grid's half-width must be finite and > 0",
            }));
        }
        self.sgd(0.0, 0.0).validate()?;
        for r in &self.remedies {
            r.validate()?;
            self.moons(r, 0).validate()?;
        }
        Ok(())
    }

    fn moons(&self, remedy: &Remedy, seed: u64) -> MoonsOptions {
        MoonsOptions {
            n: self.n,
            noise: self.noise,
            margin: self.margin,
            angle_degrees: remedy.rotation(),
            seed,
        }
    }

    fn sgd(&self, weight_decay: f64, spectral_decoupling: f64) -> TrainOptions {
        TrainOptions {
            epochs: self.epochs,
            learning_rate: self.learning_rate,
            momentum: self.momentum,
            weight_decay,
            spectral_decoupling,
            record_every: self.epochs,
            parallel: false,
        }
    }

    /// Epochs of a panel.
    pub fn epochs_of(&self, remedy: &Remedy) -> usize {
        match *remedy {
            Remedy::Longer(k) => self.epochs * k,
            _ => self.epochs,
        }
    }
}

/// One trained network of a panel.
#[derive(Clone, Debug)]
pub struct RemedyRun {
    /// The seed (data and initialisation).
    pub seed: u64,
    /// The curvature measure of the module documentation.
    pub curved_share: f64,
    /// Training accuracy (fraction with y·ŷ > 0, evaluation mode).
    pub accuracy: f64,
    /// Mean logistic loss (+ SD term) of the trained network, evaluation mode.
    pub final_loss: f64,
    /// Wall-clock time of this run (training, grid, share) in seconds.
    pub wall_s: f64,
}

/// Everything about one panel.
#[derive(Clone, Debug)]
pub struct RemedyResult {
    /// The remedy.
    pub remedy: Remedy,
    /// Epochs trained.
    pub epochs: usize,
    /// One entry per seed.
    pub runs: Vec<RemedyRun>,
    /// Grid abscissae x₁ (columns).
    pub x: Vec<f64>,
    /// Grid ordinates x₂ (rows, increasing).
    pub y: Vec<f64>,
    /// The output averaged over the seeds at (x₁(c), x₂(r)), entry (r, c) (evaluation mode).
    pub mean_output: DMatrix<f64>,
    /// The first seed's training data (drawn in the figure).
    pub data: Dataset,
}

/// Mean, population standard deviation, minimum and maximum of some values.
pub fn summary(values: &[f64]) -> (f64, f64, f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let min = values.iter().copied().fold(f64::INFINITY, nan_min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, nan_max);
    (mean, std, min, max)
}

impl RemedyResult {
    /// Statistics over seeds of the x₂ share: (mean, std, min, max).
    pub fn share(&self) -> (f64, f64, f64, f64) {
        summary(&self.runs.iter().map(|r| r.curved_share).collect::<Vec<_>>())
    }

    /// Statistics over seeds of the training accuracy.
    pub fn accuracy(&self) -> (f64, f64, f64, f64) {
        summary(&self.runs.iter().map(|r| r.accuracy).collect::<Vec<_>>())
    }

    /// Mean over seeds of the final loss.
    pub fn mean_final_loss(&self) -> f64 {
        summary(&self.runs.iter().map(|r| r.final_loss).collect::<Vec<_>>()).0
    }

    /// Total wall-clock time of the panel's runs in seconds.
    pub fn wall_s(&self) -> f64 {
        self.runs.iter().map(|r| r.wall_s).sum()
    }
}

/// The experiment's result.
#[derive(Clone, Debug)]
pub struct RemediesExperiment {
    /// What was run.
    pub spec: RemediesSpec,
    /// One entry per panel, in the order of `spec.remedies`.
    pub panels: Vec<RemedyResult>,
    /// Wall-clock time of the whole experiment in seconds.
    pub wall_s: f64,
}

/// A trained network of either engine.
enum Trained {
    HandWritten(TwoLayerRelu),
    HandWrittenMlp(TwoLayerMlp),
    Candle(Mlp),
}

impl Trained {
    fn outputs(&self, inputs: &DMatrix<f64>) -> Result<DVector<f64>> {
        match self {
            Self::HandWritten(net) => net.outputs(inputs),
            Self::HandWrittenMlp(net) => net.outputs(inputs),
            Self::Candle(net) => net.outputs(inputs),
        }
    }
}

/// Mean over the data of |∂f/∂e₂| / (|∂f/∂e₁| + |∂f/∂e₂|), e₁ = (cos α, sin α),
/// e₂ = (−sin α, cos α), by central differences of step h = 10⁻⁵ evaluated in one batch (d = 2
/// only; NaN else, or when no point has a nonzero gradient). With α = 0 this is
/// [`super::moons::curved_share`].
pub fn axis_share(
    outputs: impl Fn(&DMatrix<f64>) -> Result<DVector<f64>>,
    data: &Dataset,
    angle_degrees: f64,
) -> Result<f64> {
    if data.dim() != 2 {
        return Ok(f64::NAN);
    }
    let h = 1e-5;
    let (sin, cos) = angle_degrees.to_radians().sin_cos();
    let axes = [(cos, sin), (-sin, cos)];
    let n = data.len();
    // Rows: x + h e₁, x − h e₁, x + h e₂, x − h e₂ for each point, in blocks of n.
    let shifted = DMatrix::from_fn(4 * n, 2, |r, k| {
        let (block, i) = (r / n, r % n);
        let (u1, u2) = axes[block / 2];
        let sign = if block % 2 == 0 { 1.0 } else { -1.0 };
        data.inputs()[(i, k)] + sign * h * if k == 0 { u1 } else { u2 }
    });
    let f = outputs(&shifted)?;
    let mut total = 0.0;
    let mut count = 0usize;
    for i in 0..n {
        let d1 = (f[i] - f[n + i]).abs();
        let d2 = (f[2 * n + i] - f[3 * n + i]).abs();
        if d1 + d2 > 0.0 {
            total += d2 / (d1 + d2);
            count += 1;
        }
    }
    Ok(if count == 0 {
        f64::NAN
    } else {
        total / count as f64
    })
}

fn grid_axis(spec: &RemediesSpec) -> Vec<f64> {
    let (a, g) = (spec.grid_extent, spec.grid_points);
    (0..g)
        .map(|k| -a + 2.0 * a * k as f64 / (g - 1) as f64)
        .collect()
}

fn train_one(spec: &RemediesSpec, remedy: &Remedy, data: &Dataset, seed: u64) -> Result<Trained> {
    let epochs = spec.epochs_of(remedy);
    let mlp_sgd = MlpTrainOptions {
        epochs,
        optimiser: Optimiser::Sgd {
            learning_rate: spec.learning_rate,
            momentum: spec.momentum,
            weight_decay: 0.0,
        },
        spectral_decoupling: 0.0,
    };
    let (mlp, train_options) = match *remedy {
        Remedy::Adam(lr) => (
            MlpOptions::default(),
            MlpTrainOptions {
                optimiser: Optimiser::adam(lr),
                ..mlp_sgd
            },
        ),
        Remedy::Dropout(p) => (
            MlpOptions {
                dropout: p,
                ..Default::default()
            },
            mlp_sgd,
        ),
        Remedy::BatchNorm => (
            MlpOptions {
                batch_norm: true,
                ..Default::default()
            },
            mlp_sgd,
        ),
        // f32 as PyTorch's default: the deeper network is matrix products of 300 × 500 × 500,
        // about twice as fast as in f64 (docs/benchmarks.md); evaluated in f64 below.
        Remedy::Deeper { layers, width } => (
            MlpOptions {
                layers,
                width,
                precision: Precision::F32,
                ..Default::default()
            },
            mlp_sgd,
        ),
        _ => {
            let (wd, sd) = match *remedy {
                Remedy::WeightDecay(wd) => (wd, 0.0),
                Remedy::SpectralDecoupling(c) => (0.0, c),
                _ => (0.0, 0.0),
            };
            let mut net = TwoLayerRelu::init(
                data.dim(),
                &NetworkOptions {
                    width: spec.width,
                    parameterisation: Parameterisation::PyTorch,
                    seed,
                    zero_output: false,
                },
            )?;
            let options = TrainOptions {
                epochs,
                record_every: epochs,
                ..spec.sgd(wd, sd)
            };
            train(&mut net, data, None, &options)?;
            return Ok(Trained::HandWritten(net));
        }
    };
    let width = match remedy {
        Remedy::Deeper { width, .. } => *width,
        _ => spec.width,
    };
    let options = MlpOptions { width, seed, ..mlp };
    if options.layers == 2 {
        let mut net = TwoLayerMlp::init(data.dim(), &options)?;
        net.train(data, &train_options)?;
        return Ok(Trained::HandWrittenMlp(net));
    }
    let mut net = Mlp::init(data.dim(), &options)?;
    train_mlp(&mut net, data, &train_options)?;
    // The grid and the central differences of the share in f64 (h = 10⁻⁵ is too close to
    // f32's resolution).
    Ok(Trained::Candle(net.with_precision(Precision::F64)?))
}

struct RunOutput {
    run: RemedyRun,
    grid: DMatrix<f64>,
    data: Dataset,
}

fn one_run(spec: &RemediesSpec, remedy: &Remedy, seed: u64) -> Result<RunOutput> {
    let start = Instant::now();
    let data = two_moons(&spec.moons(remedy, seed))?;
    let net = train_one(spec, remedy, &data, seed)?;
    let outputs = net.outputs(data.inputs())?;
    let sd = match *remedy {
        Remedy::SpectralDecoupling(c) => c,
        _ => 0.0,
    };
    let n = data.len() as f64;
    let (mut loss, mut correct) = (0.0, 0usize);
    for (f, y) in outputs.iter().zip(data.labels().iter()) {
        let t = -f * y;
        loss += (t.max(0.0) + (-t.abs()).exp().ln_1p()) / n + sd * f * f / n;
        correct += usize::from(f * y > 0.0);
    }
    let axis = grid_axis(spec);
    let g = axis.len();
    let points = DMatrix::from_fn(
        g * g,
        2,
        |i, k| {
            if k == 0 {
                axis[i % g]
            } else {
                axis[i / g]
            }
        },
    );
    let values = net.outputs(&points)?;
    let grid = DMatrix::from_fn(g, g, |r, c| values[r * g + c]);
    let curved_share = axis_share(|x| net.outputs(x), &data, remedy.rotation())?;
    Ok(RunOutput {
        run: RemedyRun {
            seed,
            curved_share,
            accuracy: correct as f64 / n,
            final_loss: loss,
            wall_s: start.elapsed().as_secs_f64(),
        },
        grid,
        data,
    })
}

/// Run the experiment: every (panel, seed) pair in parallel (rayon, one task each, the most
/// expensive panels first), a progress tick per finished run.
pub fn remedies_experiment(spec: &RemediesSpec, progress: Progress) -> Result<RemediesExperiment> {
    spec.validate()?;
    let start = Instant::now();
    // Deeper networks, then the other candle panels, then the hand-written ones; longer first.
    let cost = |r: &Remedy| {
        let rank = match (r, r.engine()) {
            (Remedy::Deeper { .. }, _) => 2.0,
            (_, Engine::Candle) => 1.0,
            _ => 0.0,
        };
        rank * 1e12 + spec.epochs_of(r) as f64
    };
    let mut jobs: Vec<(usize, u64)> = (0..spec.remedies.len())
        .flat_map(|p| (0..spec.seeds as u64).map(move |seed| (p, seed)))
        .collect();
    jobs.sort_by(|a, b| cost(&spec.remedies[b.0]).total_cmp(&cost(&spec.remedies[a.0])));
    let tracker = Tracker::with_unit(progress, jobs.len(), "remedies", "runs");
    let outputs: Vec<((usize, u64), Result<RunOutput>)> = jobs
        .par_iter()
        .with_max_len(1)
        .map(|&(p, seed)| {
            let out = one_run(spec, &spec.remedies[p], seed);
            tracker.tick();
            ((p, seed), out)
        })
        .collect();
    drop(tracker);
    let mut by_panel: Vec<Vec<(u64, RunOutput)>> =
        (0..spec.remedies.len()).map(|_| Vec::new()).collect();
    for ((p, seed), out) in outputs {
        by_panel[p].push((seed, out?));
    }
    let axis = grid_axis(spec);
    let mut panels = Vec::with_capacity(spec.remedies.len());
    for (remedy, mut outs) in spec.remedies.iter().zip(by_panel) {
        outs.sort_by_key(|(seed, _)| *seed);
        let g = axis.len();
        let mut mean_output = DMatrix::zeros(g, g);
        for (_, o) in &outs {
            mean_output += &o.grid;
        }
        mean_output /= outs.len() as f64;
        let data = outs
            .first()
            .map(|(_, o)| o.data.clone())
            .ok_or(Error::Input(InputError::Empty {
                what: "seeds",
                rule: "the experiment needs at least one",
            }))?;
        panels.push(RemedyResult {
            remedy: *remedy,
            epochs: spec.epochs_of(remedy),
            runs: outs.into_iter().map(|(_, o)| o.run).collect(),
            x: axis.clone(),
            y: axis.clone(),
            mean_output,
            data,
        });
    }
    Ok(RemediesExperiment {
        spec: spec.clone(),
        panels,
        wall_s: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_share_at_zero_angle_is_the_moons_share() {
        let data = two_moons(&MoonsOptions {
            n: 60,
            ..Default::default()
        })
        .unwrap();
        let net = TwoLayerRelu::init(
            2,
            &NetworkOptions {
                width: 30,
                seed: 4,
                ..Default::default()
            },
        )
        .unwrap();
        let ours = axis_share(|x| net.outputs(x), &data, 0.0).unwrap();
        let moons = super::super::moons::curved_share(&net, &data);
        assert!((ours - moons).abs() < 1e-12, "{ours} against {moons}");
    }

    #[test]
    fn axis_share_follows_a_rotated_linear_function() {
        // f = cos β·(e₁·x) + sin β·(e₂·x) has share sin β/(cos β + sin β) in the rotated frame.
        let data = two_moons(&MoonsOptions {
            n: 20,
            ..Default::default()
        })
        .unwrap();
        let (alpha, beta) = (-45f64, 0.3f64);
        let (s, c) = alpha.to_radians().sin_cos();
        let f = |x: &DMatrix<f64>| -> Result<DVector<f64>> {
            Ok(DVector::from_fn(x.nrows(), |i, _| {
                let (a, b) = (x[(i, 0)], x[(i, 1)]);
                beta.cos() * (c * a + s * b) + beta.sin() * (-s * a + c * b)
            }))
        };
        let share = axis_share(f, &data, alpha).unwrap();
        let expected = beta.sin() / (beta.cos() + beta.sin());
        assert!(
            (share - expected).abs() < 1e-9,
            "{share} against {expected}"
        );
    }
}
