//! The real network against its linearisation (docs/theory.md §1.1, §8.3), as a function of width.
//!
//! For each width m a network in the NTK parameterisation is trained on two moons with plain
//! full-batch gradient descent on the mean logistic loss (no momentum, no weight decay, no SD:
//! the regime the theory describes), recording the outputs ŷ and z_real = UᵀYŷ in the SVD basis
//! of YΦ at initialisation. The same system is then run by the theory from z(0) = UᵀYf₀:
//!
//! - the **flow** dz/dτ = S²Uᵀσ(−Uz) ([`primal_flow`], regulariser none), and
//! - **GD** z ← z + (η/n)·S²Uᵀσ(−Uz) ([`gradient_descent`]), which is exactly gradient descent on
//!   the linearised network ŷ_lin = f₀ + Φθ,
//!
//! both compared at the recorded epochs k, at τ = η·k/n (the mean-loss → sum mapping of
//! `network::train`, μ = 0). The linearised outputs are ŷ_lin = y ⊙ (Uz + (Yf₀ − Uz(0))): the
//! part of Yf₀ the basis cannot carry (nonzero only when r < n) stays put.
//!
//! **Gaps** (all maxima over the recorded epochs; K = the number of leading features compared):
//!
//! ```text
//! response gap = max_k ‖z_real,1..K(k) − z_lin,1..K(k)‖∞ / max_k ‖z_lin,1..K(k)‖∞
//! output gap   = max_k max_i |ŷ_i(k) − ŷ_lin,i(k)|
//! ```
//!
//! each against the flow and against linearised GD. The zero-output ("doubled") initialisation
//! is the default, so that f₀ = 0 and every width starts from the same z(0) = 0.

use std::time::Instant;

use nalgebra::DVector;
use rayon::prelude::*;

use crate::data::{two_moons, Dataset, MoonsOptions};
use crate::network::{
    network_features, train, NetworkOptions, Parameterisation, TrainOptions, TwoLayerRelu,
};
use gstarve_core::error::{Error, InputError, Result};
use gstarve_core::model::{nan_max, Loss, PrimalDynamics, Regulariser};
use gstarve_core::ode::{FlowMethod, FlowOptions};
use gstarve_core::solvers::flow::primal_flow;
use gstarve_core::solvers::gd::{gradient_descent, GdOptions};
use gstarve_core::sweeps::progress::{Progress, Tracker};

/// The width sweep's specification. Defaults: widths 50, 200, 1000, 5000 (NTK,
/// zero output), two moons n = 300, noise 0.1, Δ = +0.1, seed 0, 2000 epochs of plain GD with
/// η = 0.5 on the mean loss (τ_end = η·k/n ≈ 3.3), a record every 10 epochs, 5 leading features.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearisationSpec {
    /// Widths m to compare.
    pub widths: Vec<usize>,
    /// Number of points n.
    pub n: usize,
    /// Noise of the moons.
    pub noise: f64,
    /// Margin Δ.
    pub margin: f64,
    /// Seed of the data and the initialisation.
    pub seed: u64,
    /// Start from f₀ ≡ 0 (doubled network; widths must be even).
    pub zero_output: bool,
    /// Epochs of plain GD.
    pub epochs: usize,
    /// Learning rate η on the mean loss.
    pub learning_rate: f64,
    /// Record every this many epochs.
    pub record_every: usize,
    /// Number K of leading features in the response gap.
    pub top: usize,
}

impl Default for LinearisationSpec {
    fn default() -> Self {
        Self {
            widths: vec![50, 200, 1000, 5000],
            n: 300,
            noise: 0.1,
            margin: 0.1,
            seed: 0,
            zero_output: true,
            epochs: 2000,
            learning_rate: 0.5,
            record_every: 10,
            top: 5,
        }
    }
}

impl LinearisationSpec {
    /// The training options of every width (plain GD, nothing else).
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
        if self.widths.is_empty() {
            return Err(Error::Input(InputError::Empty {
                what: "widths",
                rule: "give at least one width",
            }));
        }
        for &m in &self.widths {
            if m == 0 || m > 1_000_000 || (self.zero_output && m % 2 == 1) {
                return Err(Error::Input(InputError::InvalidParameter {
                    name: "widths",
                    value: m as f64,
                    rule: "every width must be between 1 and 10⁶ (and even with the zero-output start)",
                }));
            }
        }
        if self.epochs == 0 || self.epochs > 100_000_000 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "epochs",
                value: self.epochs as f64,
                rule: "between 1 and 10⁸ epochs",
            }));
        }
        if self.top == 0 || self.top > self.n {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "top",
                value: self.top as f64,
                rule: "compare between 1 and n leading features",
            }));
        }
        self.training().validate()?;
        MoonsOptions {
            n: self.n,
            noise: self.noise,
            margin: self.margin,
            ..Default::default()
        }
        .validate()
    }
}

/// The comparison at one width.
#[derive(Clone, Debug)]
pub struct WidthComparison {
    /// Width m.
    pub width: usize,
    /// Number of parameters p = 4m + 1.
    pub parameters: usize,
    /// Number of features r = min(n, p).
    pub rank: usize,
    /// Strengths of the K leading features.
    pub strengths: Vec<f64>,
    /// Recorded epochs.
    pub epochs: Vec<usize>,
    /// τ = η·k/n of the records.
    pub tau: Vec<f64>,
    /// z_real of the K leading features per record.
    pub real: Vec<Vec<f64>>,
    /// The flow's z of the K leading features per record.
    pub flow: Vec<Vec<f64>>,
    /// Linearised GD's z of the K leading features per record.
    pub gd: Vec<Vec<f64>>,
    /// Response gap against the flow (module docs).
    pub response_gap_flow: f64,
    /// Response gap against linearised GD.
    pub response_gap_gd: f64,
    /// Output gap max|ŷ − ŷ_lin| against the flow.
    pub output_gap_flow: f64,
    /// Output gap against linearised GD.
    pub output_gap_gd: f64,
    /// max_k max_i |ŷ_lin,i(k)| (flow), the scale of the output gap.
    pub output_scale: f64,
    /// Final mean training loss of the real network.
    pub final_loss: f64,
    /// Wall-clock seconds (features, training, flow and GD).
    pub wall_s: f64,
}

/// The sweep's result.
#[derive(Clone, Debug)]
pub struct LinearisationSweep {
    /// What was run.
    pub spec: LinearisationSpec,
    /// One entry per width, in the order given.
    pub widths: Vec<WidthComparison>,
    /// Wall-clock seconds of the whole sweep.
    pub wall_s: f64,
}

/// max |x| over `v`; NaN if any x is NaN (a diverged run must not pass as a small gap).
fn max_abs(v: impl Iterator<Item = f64>) -> f64 {
    v.fold(0.0, |a, x| nan_max(a, x.abs()))
}

fn compare(spec: &LinearisationSpec, data: &Dataset, width: usize) -> Result<WidthComparison> {
    let start = Instant::now();
    let mut net = TwoLayerRelu::init(
        data.dim(),
        &NetworkOptions {
            width,
            parameterisation: Parameterisation::Ntk,
            seed: spec.seed,
            zero_output: spec.zero_output,
        },
    )?;
    let features = network_features(&net, data)?;
    let sys = &features.system;
    let k_top = spec.top.min(sys.rank());
    let record = train(&mut net, data, Some(sys), &spec.training())?;
    let dynamics = PrimalDynamics::new(sys, Loss::Logistic, Regulariser::None)?;
    let n = data.len() as f64;
    let eta = spec.learning_rate / n;
    let z0 = &features.initial_responses;
    let outside = data.labels().component_mul(&features.initial_output) - sys.margins(z0);
    // Flow and GD segment by segment between consecutive records, each from the previous end.
    let mut flow = vec![z0.clone()];
    let mut gd = vec![z0.clone()];
    for w in record.epochs.windows(2) {
        let steps = w[1] - w[0];
        let f_prev = flow.last().cloned().unwrap_or_else(|| z0.clone());
        let sol = primal_flow(
            &dynamics,
            &f_prev,
            &FlowOptions::new(eta * steps as f64, 2, 1e-10, 1e-12, FlowMethod::Auto)?,
        )?;
        flow.push(sol.states.last().map_or(f_prev, DVector::from_column_slice));
        let g_prev = gd.last().cloned().unwrap_or_else(|| z0.clone());
        let sol = gradient_descent(&dynamics, &g_prev, &GdOptions::new(eta, steps, 2, false)?)?;
        gd.push(sol.states.last().map_or(g_prev, DVector::from_column_slice));
    }
    let linear_outputs =
        |z: &DVector<f64>| (sys.margins(z) + &outside).component_mul(data.labels());
    let lead = |z: &DVector<f64>| z.iter().take(k_top).copied().collect::<Vec<f64>>();
    let gaps = |lin: &[DVector<f64>]| {
        let mut num: f64 = 0.0;
        let mut den: f64 = 0.0;
        let mut out: f64 = 0.0;
        let mut scale: f64 = 0.0;
        for ((real, y), z) in record.responses.iter().zip(&record.outputs).zip(lin) {
            num = nan_max(num, max_abs((0..k_top).map(|j| real[j] - z[j])));
            den = nan_max(den, max_abs(z.iter().take(k_top).copied()));
            let y_lin = linear_outputs(z);
            out = nan_max(out, max_abs(y.iter().zip(y_lin.iter()).map(|(a, b)| a - b)));
            scale = nan_max(scale, max_abs(y_lin.iter().copied()));
        }
        (if den > 0.0 { num / den } else { num }, out, scale)
    };
    let (response_gap_flow, output_gap_flow, output_scale) = gaps(&flow);
    let (response_gap_gd, output_gap_gd, _) = gaps(&gd);
    Ok(WidthComparison {
        width,
        parameters: net.num_parameters(),
        rank: sys.rank(),
        strengths: sys.strengths().iter().take(k_top).copied().collect(),
        epochs: record.epochs.clone(),
        tau: record.tau.clone(),
        real: record.responses.iter().map(lead).collect(),
        flow: flow.iter().map(lead).collect(),
        gd: gd.iter().map(lead).collect(),
        response_gap_flow,
        response_gap_gd,
        output_gap_flow,
        output_gap_gd,
        output_scale,
        final_loss: *record.loss.last().unwrap_or(&f64::NAN),
        wall_s: start.elapsed().as_secs_f64(),
    })
}

/// Run the width sweep (widths in parallel, a progress tick per finished width).
pub fn linearisation_sweep(
    spec: &LinearisationSpec,
    progress: Progress,
) -> Result<LinearisationSweep> {
    spec.validate()?;
    let start = Instant::now();
    let data = two_moons(&MoonsOptions {
        n: spec.n,
        noise: spec.noise,
        margin: spec.margin,
        angle_degrees: 0.0,
        seed: spec.seed,
    })?;
    let tracker = Tracker::with_unit(progress, spec.widths.len(), "widths", "widths");
    // Largest widths first, so the longest run starts at once.
    let mut order: Vec<usize> = (0..spec.widths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(spec.widths[i]));
    let mut done: Vec<(usize, Result<WidthComparison>)> = order
        .par_iter()
        .map(|&i| {
            let r = compare(spec, &data, spec.widths[i]);
            tracker.tick();
            (i, r)
        })
        .collect();
    drop(tracker);
    done.sort_by_key(|(i, _)| *i);
    let widths = done
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Result<Vec<_>>>()?;
    Ok(LinearisationSweep {
        spec: spec.clone(),
        widths,
        wall_s: start.elapsed().as_secs_f64(),
    })
}
