//! Gradient starvation with c classes (docs/theory.md §9): a c-output two-layer ReLU network
//! trained on c interleaved spirals, against the softmax flow of its feature system.
//!
//! 1. **Data and network**: [`spirals`] (n points, c classes); an NTK network of width m with
//!    the zero-output start (F₀ = 0, so z(0) = 0), its feature system Φ = U S Vᵀ (n·c rows).
//! 2. **Training**: plain full-batch GD on the mean cross-entropy (no momentum, no weight decay:
//!    the regime of the linearised theory), recording z_real = Uᵀ vec(F) every few epochs.
//! 3. **Linearised flow**: dz/dτ = S² Uᵀ vec(Y − P(Uz)) (no regulariser) from z = 0, on the
//!    records' times τ = η·k/n (the mean → sum mapping of docs/theory.md §8.5).
//! 4. **Class-discriminating features**: the K features the labels drive hardest at the start,
//!    ranked by |dz_j/dτ(0)| = s_j² |(Uᵀ vec(Y − 1/c))_j| (P(0) = 1/c). Directions that move all
//!    c logits of an example together have zero drive (softmax ignores them: each row of Y − P
//!    sums to 0), so they are never chosen. The chosen features are listed by index.
//! 5. **Gaps** over the chosen features, relative to the flow's largest response:
//!    `gap(k) = ‖z_real(k) − z_flow(k)‖∞ / max_k ‖z_flow(k)‖∞`; the early gap is the largest over
//!    the records up to a tenth of training, the response gap over all of them.
//! 6. **Starvation matrix**: the elasticities E_ji (docs/theory.md §9.3) of the whole system at
//!    its L2 steady state with λ (sum convention), the block of the chosen features.
//! 7. **Decision regions**: the trained network's predicted class on a grid around the data.

use std::time::Instant;

use nalgebra::{DMatrix, DVector};

use crate::data::{spirals, ClassDataset, SpiralsOptions};
use crate::network::{
    multiclass_features, train_multiclass, MulticlassRelu, NetworkOptions, Parameterisation,
    TrainOptions,
};
use gstarve_core::error::{Error, InputError, Result};
use gstarve_core::model::{nan_max, Regulariser, SoftmaxDynamics};
use gstarve_core::ode::{FlowMethod, FlowOptions};
use gstarve_core::solvers::softmax_flow::softmax_flow;
use gstarve_core::sweeps::starvation_matrix::{starvation_matrix_multiclass, StarvationMatrix};

/// Most classes the experiment draws (its figure colours classes with the 8 Okabe–Ito colours).
pub const MAX_EXPERIMENT_CLASSES: usize = 8;

/// The experiment's specification. Defaults: 3 spirals of n = 150 points (0.5 turns, noise
/// 0.05, seed 0), width 300, 1000 epochs of GD with η = 1 on the mean loss, a record every 10
/// epochs, K = 4 features, λ = 1 for the starvation matrix, a 160² grid of decision regions.
#[derive(Clone, Debug, PartialEq)]
pub struct MulticlassSpec {
    /// The data set (its seed also seeds the network).
    pub data: SpiralsOptions,
    /// Hidden width m (even: zero-output start).
    pub width: usize,
    /// Epochs of plain GD.
    pub epochs: usize,
    /// Learning rate η on the mean loss.
    pub learning_rate: f64,
    /// Record every this many epochs (must divide `epochs`).
    pub record_every: usize,
    /// Number K of class-discriminating features followed.
    pub top: usize,
    /// L2 λ (sum convention) of the starvation matrix's steady state.
    pub lambda: f64,
    /// Points per axis of the decision-region grid.
    pub grid: usize,
}

impl Default for MulticlassSpec {
    fn default() -> Self {
        Self {
            data: SpiralsOptions {
                n: 150,
                ..Default::default()
            },
            width: 300,
            epochs: 1000,
            learning_rate: 1.0,
            record_every: 10,
            top: 4,
            lambda: 1.0,
            grid: 160,
        }
    }
}

impl MulticlassSpec {
    /// The training options (plain GD, nothing else).
    pub fn training(&self) -> TrainOptions {
        TrainOptions {
            epochs: self.epochs,
            learning_rate: self.learning_rate,
            momentum: 0.0,
            weight_decay: 0.0,
            spectral_decoupling: 0.0,
            record_every: self.record_every,
            parallel: false,
        }
    }

    /// Check everything before any work.
    pub fn validate(&self) -> Result<()> {
        self.data.validate()?;
        let c = self.data.classes;
        if c > MAX_EXPERIMENT_CLASSES {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "classes",
                value: c as f64,
                rule: "the multi-class experiment draws at most 8 classes (one colour each)",
            }));
        }
        if self.width == 0 || self.width > 100_000 || self.width % 2 == 1 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "width",
                value: self.width as f64,
                rule: "the width must be even (zero-output start) and between 2 and 10⁵",
            }));
        }
        if self.epochs == 0 || self.epochs > 10_000_000 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "epochs",
                value: self.epochs as f64,
                rule: "between 1 and 10⁷ epochs",
            }));
        }
        if self.record_every == 0 || !self.epochs.is_multiple_of(self.record_every) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "record_every",
                value: self.record_every as f64,
                rule: "records must be ≥ 1 epoch apart and divide the epochs",
            }));
        }
        if self.top == 0 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "top",
                value: 0.0,
                rule: "follow at least one feature",
            }));
        }
        if !(2..=2048).contains(&self.grid) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "grid",
                value: self.grid as f64,
                rule: "between 2 and 2048 points per axis",
            }));
        }
        Regulariser::L2 {
            lambda: self.lambda,
        }
        .validated()?;
        self.training().validate()
    }
}

/// The trained network's predicted classes on a grid: `classes[(r, col)]` at
/// (`x[col]`, `y[r]`).
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionRegions {
    /// x₁ values (nx).
    pub x: Vec<f64>,
    /// x₂ values (ny).
    pub y: Vec<f64>,
    /// Predicted class, ny × nx.
    pub classes: DMatrix<usize>,
}

/// The experiment's result.
#[derive(Clone, Debug)]
pub struct MulticlassExperiment {
    /// What was run.
    pub spec: MulticlassSpec,
    /// The data set.
    pub data: ClassDataset,
    /// Parameters p of the network.
    pub parameters: usize,
    /// Features r of its system (n·c when p ≥ n·c).
    pub rank: usize,
    /// The chosen features' 0-based indices, ascending.
    pub features: Vec<usize>,
    /// Their strengths.
    pub strengths: Vec<f64>,
    /// Their initial rates dz_j/dτ(0).
    pub initial_rates: Vec<f64>,
    /// Recorded epochs.
    pub epochs: Vec<usize>,
    /// τ = η·k/n of the records.
    pub tau: Vec<f64>,
    /// z_real of the chosen features per record.
    pub real: Vec<Vec<f64>>,
    /// The linearised flow's z of the chosen features per record.
    pub flow: Vec<Vec<f64>>,
    /// The gap per record (module docs).
    pub gaps: Vec<f64>,
    /// Largest gap up to a tenth of training.
    pub early_gap: f64,
    /// Largest gap over all records.
    pub response_gap: f64,
    /// Mean cross-entropy per record.
    pub loss: Vec<f64>,
    /// Training accuracy per record.
    pub accuracy: Vec<f64>,
    /// The linearised flow's training accuracy at the end (argmax of its logits Uz).
    pub flow_accuracy: f64,
    /// Starvation matrix of the chosen features (L2 λ steady state of the whole system).
    pub starvation: StarvationMatrix,
    /// Decision regions of the trained network.
    pub regions: DecisionRegions,
    /// Wall-clock seconds.
    pub wall_s: f64,
}

/// Run the experiment (module documentation).
pub fn multiclass_experiment(spec: &MulticlassSpec) -> Result<MulticlassExperiment> {
    spec.validate()?;
    let start = Instant::now();
    let data = spirals(&spec.data)?;
    let c = data.classes();
    let mut net = MulticlassRelu::init(
        data.dim(),
        c,
        &NetworkOptions {
            width: spec.width,
            parameterisation: Parameterisation::Ntk,
            seed: spec.data.seed,
            zero_output: true,
        },
    )?;
    let features = multiclass_features(&net, &data)?;
    let sys = &features.system;
    let record = train_multiclass(&mut net, &data, Some(sys), &spec.training())?;
    let dynamics = SoftmaxDynamics::new(sys, Regulariser::None)?;
    let rates0 = dynamics.rhs(&DVector::zeros(sys.rank()));
    let mut order: Vec<usize> = (0..sys.rank()).collect();
    order.sort_by(|&a, &b| rates0[b].abs().total_cmp(&rates0[a].abs()));
    let mut chosen: Vec<usize> = order.into_iter().take(spec.top.min(sys.rank())).collect();
    chosen.sort_unstable();
    let n = data.len() as f64;
    let t_end = spec.learning_rate * spec.epochs as f64 / n;
    let flow = softmax_flow(
        &dynamics,
        &DVector::zeros(sys.rank()),
        &FlowOptions::new(t_end, record.epochs.len(), 1e-10, 1e-12, FlowMethod::Auto)?,
    )?;
    let pick = |z: &[f64]| chosen.iter().map(|&j| z[j]).collect::<Vec<f64>>();
    let real: Vec<Vec<f64>> = record
        .responses
        .iter()
        .map(|z| pick(z.as_slice()))
        .collect();
    let flow_z: Vec<Vec<f64>> = flow.states.iter().map(pick).collect();
    let scale = flow_z
        .iter()
        .flatten()
        .fold(0.0f64, |m, &v| nan_max(m, v.abs()))
        .max(f64::MIN_POSITIVE);
    let gaps: Vec<f64> = real
        .iter()
        .zip(&flow_z)
        .map(|(a, b)| {
            a.iter()
                .zip(b)
                .fold(0.0f64, |m, (x, y)| nan_max(m, (x - y).abs()))
                / scale
        })
        .collect();
    let early_end = spec.epochs / 10;
    let early_gap = record
        .epochs
        .iter()
        .zip(&gaps)
        .filter(|(&k, _)| k <= early_end)
        .fold(0.0f64, |m, (_, &g)| nan_max(m, g));
    let response_gap = gaps.iter().fold(0.0f64, |m, &g| nan_max(m, g));
    let flow_end = DVector::from_column_slice(flow.states.last().expect("a final state"));
    let (logits, _) = dynamics.logits_and_probabilities(&flow_end);
    let flow_accuracy = data
        .labels()
        .iter()
        .enumerate()
        .filter(|&(i, &y)| (0..c).all(|k| k == y || logits[(i, k)] < logits[(i, y)]))
        .count() as f64
        / n;
    let starvation = starvation_matrix_multiclass(
        sys,
        Regulariser::L2 {
            lambda: spec.lambda,
        },
    )?
    .block(&chosen)?;
    let regions = decision_regions(&net, &data, spec.grid)?;
    Ok(MulticlassExperiment {
        spec: spec.clone(),
        parameters: net.parameters().len(),
        rank: sys.rank(),
        strengths: chosen
            .iter()
            .map(|&j| sys.system().strengths()[j])
            .collect(),
        initial_rates: chosen.iter().map(|&j| rates0[j]).collect(),
        features: chosen,
        epochs: record.epochs,
        tau: record.tau,
        real,
        flow: flow_z,
        gaps,
        early_gap,
        response_gap,
        loss: record.loss,
        accuracy: record.accuracy,
        flow_accuracy,
        starvation,
        regions,
        data,
        wall_s: start.elapsed().as_secs_f64(),
    })
}

/// The predicted class on a grid over the data's bounding box padded by 15 %.
fn decision_regions(
    net: &MulticlassRelu,
    data: &ClassDataset,
    grid: usize,
) -> Result<DecisionRegions> {
    let x = data.inputs();
    let range = |col: usize| {
        let (lo, hi) = x
            .column(col)
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let pad = 0.15 * (hi - lo).max(1e-3);
        (lo - pad, hi + pad)
    };
    let at = |(lo, hi): (f64, f64), k: usize| lo + (hi - lo) * k as f64 / (grid - 1) as f64;
    let (rx, ry) = (range(0), range(1));
    let xs: Vec<f64> = (0..grid).map(|k| at(rx, k)).collect();
    let ys: Vec<f64> = (0..grid).map(|k| at(ry, k)).collect();
    let points = DMatrix::from_fn(grid * grid, 2, |p, col| {
        if col == 0 {
            xs[p % grid]
        } else {
            ys[p / grid]
        }
    });
    let predicted = net.predict(&points)?;
    Ok(DecisionRegions {
        classes: DMatrix::from_fn(grid, grid, |r, col| predicted[r * grid + col]),
        x: xs,
        y: ys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reduced run: the network follows its linearised softmax flow early in training, both
    /// learn the training set, and the starvation block is that of the whole matrix.
    #[test]
    fn a_reduced_run_follows_the_linearised_flow() {
        let spec = MulticlassSpec {
            data: SpiralsOptions {
                n: 60,
                ..Default::default()
            },
            width: 200,
            epochs: 200,
            record_every: 10,
            grid: 20,
            ..Default::default()
        };
        let exp = multiclass_experiment(&spec).unwrap();
        assert_eq!(exp.rank, 180);
        assert_eq!(exp.features.len(), 4);
        assert!(exp.early_gap < 0.05, "early gap {}", exp.early_gap);
        assert_eq!(exp.regions.classes.shape(), (20, 20));
        assert_eq!(exp.starvation.rank(), 4);
        assert!(exp.accuracy.last().unwrap() > &0.6);
    }

    #[test]
    fn rejects_bad_specs() {
        for spec in [
            MulticlassSpec {
                record_every: 7,
                ..Default::default()
            },
            MulticlassSpec {
                width: 301,
                ..Default::default()
            },
            MulticlassSpec {
                data: SpiralsOptions {
                    classes: 9,
                    n: 90,
                    ..Default::default()
                },
                ..Default::default()
            },
        ] {
            assert!(matches!(
                spec.validate(),
                Err(Error::Input(InputError::InvalidParameter { .. }))
            ));
        }
        let one = MulticlassSpec {
            data: SpiralsOptions {
                classes: 1,
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(matches!(
            one.validate(),
            Err(Error::Input(InputError::TooFewClasses { classes: 1 }))
        ));
    }
}
