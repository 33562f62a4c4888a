//! One (setting, seed) run of the two-moons experiment: data, network, its initial feature
//! basis, training (with the grid evaluations at the boundary epochs), and what is kept of it.

use nalgebra::DMatrix;

use super::{MoonsSetting, MoonsSpec, SeedRun};
use crate::data::{two_moons, Dataset, MoonsOptions};
use crate::network::{
    network_features, train_observed, NetworkOptions, TrainOptions, TwoLayerRelu,
};
use gstarve_core::error::{Error, InputError, Result};

/// What one run hands to the aggregation.
pub(super) struct RunOutput {
    pub(super) run: SeedRun,
    pub(super) epochs: Vec<usize>,
    pub(super) tau: Vec<f64>,
    /// f on the grid at each of the spec's boundary epochs.
    pub(super) grids: Vec<DMatrix<f64>>,
    pub(super) data: Dataset,
}

fn empty_record(what: &'static str) -> Error {
    Error::Input(InputError::Empty {
        what,
        rule: "training records at least one epoch",
    })
}

pub(super) fn one_run(spec: &MoonsSpec, setting: &MoonsSetting, seed: u64) -> Result<RunOutput> {
    let data = two_moons(&MoonsOptions {
        n: spec.n,
        noise: spec.noise,
        margin: setting.margin,
        angle_degrees: 0.0,
        seed,
    })?;
    let mut net = TwoLayerRelu::init(
        data.dim(),
        &NetworkOptions {
            seed,
            ..spec.network
        },
    )?;
    let features = network_features(&net, &data)?;
    let rank = features.system.rank();
    if let Some(&j) = spec
        .features
        .iter()
        .chain(&spec.overlay)
        .find(|&&j| j >= rank)
    {
        return Err(Error::Input(InputError::ResponseOutOfRange {
            index: j + 1,
            rank,
        }));
    }
    let options = TrainOptions {
        spectral_decoupling: setting.spectral_decoupling,
        parallel: false,
        ..spec.training
    };
    let (a, g) = (spec.grid_extent, spec.grid_points);
    let mut grids = Vec::with_capacity(spec.boundary_epochs.len());
    let mut observe = |k: usize, net: &TwoLayerRelu| -> Result<()> {
        if spec.boundary_epochs.contains(&k) {
            grids.push(net.evaluate_grid((-a, a), (-a, a), g, g)?);
        }
        Ok(())
    };
    let record = train_observed(
        &mut net,
        &data,
        Some(&features.system),
        &options,
        setting.class_targets.as_ref(),
        &mut observe,
    )?;
    let last = record
        .responses
        .last()
        .ok_or_else(|| empty_record("training record"))?;
    let signs: Vec<f64> = spec
        .features
        .iter()
        .map(|&j| if last[j] < 0.0 { -1.0 } else { 1.0 })
        .collect();
    let responses = record
        .responses
        .iter()
        .map(|z| {
            spec.features
                .iter()
                .zip(&signs)
                .map(|(&j, s)| s * z[j])
                .collect()
        })
        .collect();
    let overlay = record
        .responses
        .iter()
        .map(|z| spec.overlay.iter().map(|&j| z[j].abs()).collect())
        .collect();
    let outputs = record
        .outputs
        .last()
        .ok_or_else(|| empty_record("training record"))?;
    let labels = data.labels();
    let correct = outputs
        .iter()
        .zip(labels.iter())
        .filter(|(f, y)| **f * **y > 0.0)
        .count();
    let class_margins = [0usize, 1].map(|c| {
        let margins: Vec<f64> = outputs
            .iter()
            .zip(labels.iter())
            .filter(|(_, &y)| usize::from(y > 0.0) == c)
            .map(|(f, y)| f * y)
            .collect();
        margins.iter().sum::<f64>() / margins.len() as f64
    });
    let curved_share = curved_share(&net, &data);
    let column_sums = features.system.coupling_column_sums();
    let root_n = (data.len() as f64).sqrt();
    let alignments = spec
        .features
        .iter()
        .zip(&signs)
        .map(|(&j, s)| s * column_sums[j] / root_n)
        .collect();
    let strengths = spec
        .features
        .iter()
        .map(|&j| features.system.strengths()[j])
        .collect();
    Ok(RunOutput {
        run: SeedRun {
            seed,
            strengths,
            signs,
            alignments,
            responses,
            overlay,
            class_margins,
            curved_share,
            final_loss: *record.loss.last().unwrap_or(&f64::NAN),
            accuracy: correct as f64 / data.len() as f64,
        },
        epochs: record.epochs,
        tau: record.tau,
        grids,
        data,
    })
}

/// Mean over the data of |∂f/∂x₂| / (|∂f/∂x₁| + |∂f/∂x₂|) (see [`SeedRun::curved_share`]).
pub fn curved_share(net: &TwoLayerRelu, data: &Dataset) -> f64 {
    if data.dim() != 2 {
        return f64::NAN;
    }
    let h = 1e-5;
    let mut total = 0.0;
    let mut count = 0usize;
    for row in data.inputs().row_iter() {
        let (x1, x2) = (row[0], row[1]);
        let d1 = (net.output(&[x1 + h, x2]) - net.output(&[x1 - h, x2])).abs();
        let d2 = (net.output(&[x1, x2 + h]) - net.output(&[x1, x2 - h])).abs();
        if d1 + d2 > 0.0 {
            total += d2 / (d1 + d2);
            count += 1;
        }
    }
    if count == 0 {
        f64::NAN
    } else {
        total / count as f64
    }
}
