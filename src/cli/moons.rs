//! `gstarve reproduce moons` and `gstarve reproduce moons-width`: arguments → validated specs →
//! the library's experiment and figures; a table (or JSON) on stdout.
//!
//! Counts are read as signed integers and formats as text, so that a negative count or an
//! unknown format is rejected by our validation in one line (clap's own errors span several).

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use gstarve_core::output::{check_output_dir, to_json_sorted, Layout};
use gstarve_net::experiments::{
    linearisation_sweep, LinearisationSpec, LinearisationSweep, MoonsSetting, MoonsSpec,
    WidthComparison,
};
use gstarve_net::network::{NetworkOptions, Parameterisation, TrainOptions};
use gstarve_plot::{width_figures, Formats, MoonsFigureOptions};
use serde::Serialize;

/// A count ≥ 1 given as a signed number.
fn positive(name: &str, value: i64) -> Result<usize> {
    if value < 1 {
        bail!("{name} = {value} is invalid: it must be ≥ 1");
    }
    usize::try_from(value).map_err(|_| anyhow::anyhow!("{name} = {value} is too large"))
}

fn formats(text: &str) -> Result<Formats> {
    text.parse::<Formats>()
        .map_err(|e| anyhow::anyhow!("--format: {e}"))
}

/// `gstarve reproduce moons`.
#[derive(Args, Debug)]
pub struct MoonsArgs {
    /// Seeds 0…N−1 (each seed: its own data, network and feature basis).
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    seeds: i64,
    /// Epochs (full-batch updates).
    #[arg(long, default_value_t = 10_000, allow_negative_numbers = true)]
    epochs: i64,
    /// Hidden width m.
    #[arg(long, default_value_t = 500, allow_negative_numbers = true)]
    width: i64,
    /// Responses to follow: feature indices j of z_j, 1-based (e.g. 1,2,3); default: --top.
    #[arg(
        long,
        value_delimiter = ',',
        conflicts_with_all = ["top", "features"],
        allow_negative_numbers = true
    )]
    responses: Option<Vec<i64>>,
    /// The old spelling of --responses, kept working with a warning: everywhere else
    /// --features names a file of features Φ.
    #[arg(
        long,
        value_delimiter = ',',
        conflicts_with = "top",
        allow_negative_numbers = true,
        hide = true
    )]
    features: Option<Vec<i64>>,
    /// Follow the leading k features.
    #[arg(long, default_value_t = 5, allow_negative_numbers = true)]
    top: i64,
    /// Learning rate (mean loss, as PyTorch's SGD).
    #[arg(long, default_value_t = 1e-2, allow_negative_numbers = true)]
    lr: f64,
    /// Momentum.
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    momentum: f64,
    /// Weight decay.
    #[arg(long, default_value_t = 2e-4, allow_negative_numbers = true)]
    weight_decay: f64,
    /// SD coefficient of the third setting (on mean ŷ²).
    #[arg(long, default_value_t = 0.003, allow_negative_numbers = true)]
    sd: f64,
    /// Number of points.
    #[arg(long, default_value_t = 300, allow_negative_numbers = true)]
    n: i64,
    /// Noise of the moons.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    noise: f64,
    /// Parameterisation: pytorch (the paper's) or ntk.
    #[arg(long = "param", default_value = "pytorch")]
    parameterisation: Parameterisation,
    /// Record (and plot) every k epochs.
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    record_every: i64,
    /// Points per axis of the decision-boundary grid over [−2, 2]² (the authors': 100).
    #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
    grid: i64,
    /// Epochs at which the networks' outputs are averaged over the seeds on the grid (the
    /// decision boundaries), increasing; default: 1000 (the authors' Figure 1) and the last
    /// epoch (10 000 by default, their Figure 2), or the last alone when --epochs ≤ 1000.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    boundary_epochs: Option<Vec<i64>>,
    /// The two features of the paper's Figure 2, 1-based: |z| averaged over seeds, the settings
    /// overlaid; the first is read as the leading feature, the second as the weak one.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "2,7",
        allow_negative_numbers = true
    )]
    overlay_responses: Vec<i64>,
    /// Output folder.
    #[arg(long, default_value = "plots/moons", value_name = "DIR")]
    out: PathBuf,
    /// Image formats: png, svg or png,svg (the CSV data is always written).
    #[arg(long = "format", default_value = "png", value_name = "png,svg")]
    formats: String,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

impl MoonsArgs {
    fn spec(&self) -> Result<MoonsSpec> {
        if self.sd <= 0.0 {
            bail!(
                "--sd = {} is invalid: the SD setting needs a coefficient > 0",
                gstarve_core::error::number(self.sd)
            );
        }
        self.spec_for(MoonsSetting::paper(self.sd))
    }

    /// The output folder.
    pub(super) fn out(&self) -> &std::path::Path {
        &self.out
    }

    /// The image formats.
    pub(super) fn image_formats(&self) -> Result<Formats> {
        formats(&self.formats)
    }

    /// Whether JSON goes to stdout.
    pub(super) fn json(&self) -> bool {
        self.json
    }

    /// The SD coefficient of the plain-SD setting.
    pub(super) fn sd(&self) -> f64 {
        self.sd
    }

    /// The number of points n (validated by the spec).
    pub(super) fn points(&self) -> Result<usize> {
        positive("--n", self.n)
    }

    /// The noise of the moons.
    pub(super) fn noise(&self) -> f64 {
        self.noise
    }

    /// The spec of the experiment with these `settings` and every other option from the flags.
    pub(super) fn spec_for(&self, settings: Vec<MoonsSetting>) -> Result<MoonsSpec> {
        let seeds = positive("--seeds", self.seeds)?;
        let epochs = positive("--epochs", self.epochs)?;
        let width = positive("--width", self.width)?;
        let n = positive("--n", self.n)?;
        let record_every = positive("--record-every", self.record_every)?;
        let grid_points = positive("--grid", self.grid)?;
        if self.features.is_some() {
            eprintln!(
                "gstarve: warning: reproduce moons --features is deprecated: it takes feature \
                 indices, so it is now --responses (--features names a file everywhere else)"
            );
        }
        let features = match self.responses.as_ref().or(self.features.as_ref()) {
            Some(list) => list
                .iter()
                .map(|&j| positive("--responses", j).map(|j| j - 1))
                .collect::<Result<Vec<_>>>()?,
            None => {
                let top = positive("--top", self.top)?;
                if top > n {
                    bail!("--top = {top} is invalid: there are only --n = {n} examples (features)");
                }
                (0..top).collect()
            }
        };
        let overlay = self
            .overlay_responses
            .iter()
            .map(|&j| positive("--overlay-responses", j).map(|j| j - 1))
            .collect::<Result<Vec<_>>>()?;
        if overlay.len() != 2 {
            bail!(
                "--overlay-responses has {} values: give two features (the leading one, then the weak one)",
                overlay.len()
            );
        }
        let boundary_epochs = match &self.boundary_epochs {
            Some(list) => {
                let mut out = Vec::with_capacity(list.len());
                for &k in list {
                    if k < 0 || k as u64 > epochs as u64 {
                        bail!(
                            "--boundary-epochs = {k} is invalid: it must be between 0 and --epochs = {epochs}"
                        );
                    }
                    if out.last().is_some_and(|&p| k as usize <= p) {
                        bail!("--boundary-epochs = {k} is invalid: the epochs must increase");
                    }
                    out.push(k as usize);
                }
                out
            }
            None if epochs > 1000 => vec![1000, epochs],
            None => vec![epochs],
        };
        let spec = MoonsSpec {
            settings,
            seeds,
            n,
            noise: self.noise,
            network: NetworkOptions {
                width,
                parameterisation: self.parameterisation,
                seed: 0,
                zero_output: false,
            },
            training: TrainOptions {
                epochs,
                learning_rate: self.lr,
                momentum: self.momentum,
                weight_decay: self.weight_decay,
                spectral_decoupling: 0.0,
                record_every,
                parallel: false,
            },
            features,
            overlay,
            boundary_epochs,
            grid_points,
            grid_extent: 2.0,
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// Run `gstarve reproduce moons`.
pub fn run_moons(a: &MoonsArgs) -> Result<()> {
    let spec = a.spec()?;
    super::moons_report::run_experiment(a, &spec, "moons")
}

/// `gstarve reproduce moons-width`.
#[derive(Args, Debug)]
pub struct MoonsWidthArgs {
    /// Widths m (NTK parameterisation; even, for the zero-output start).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "50,200,1000,5000",
        allow_negative_numbers = true
    )]
    widths: Vec<i64>,
    /// Epochs of plain GD (no momentum, weight decay or SD).
    #[arg(long, default_value_t = 2000, allow_negative_numbers = true)]
    epochs: i64,
    /// Learning rate on the mean loss.
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    lr: f64,
    /// Record every k epochs.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    record_every: i64,
    /// Number K of leading features in the response gap (and the figure).
    #[arg(long, default_value_t = 5, allow_negative_numbers = true)]
    top: i64,
    /// Number of points.
    #[arg(long, default_value_t = 300, allow_negative_numbers = true)]
    n: i64,
    /// Noise of the moons.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    noise: f64,
    /// Margin Δ.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    margin: f64,
    /// Seed of the data and the initialisation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Start from the network's own f₀ instead of the zero-output (doubled) initialisation.
    #[arg(long)]
    nonzero_start: bool,
    /// Output folder.
    #[arg(long, default_value = "plots/moons", value_name = "DIR")]
    out: PathBuf,
    /// Image formats: png, svg or png,svg (the CSV data is always written).
    #[arg(long = "format", default_value = "png", value_name = "png,svg")]
    formats: String,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

/// The settings of `gstarve reproduce moons-width --json`.
#[derive(Serialize)]
struct MoonsWidthSettingsJson {
    parameterisation: &'static str,
    zero_output: bool,
    n: usize,
    noise: f64,
    margin: f64,
    seed: u64,
    epochs: usize,
    learning_rate: f64,
    momentum: f64,
    weight_decay: f64,
    sd: f64,
    record_every: usize,
    top: usize,
    tau_end: f64,
}

/// One width of `gstarve reproduce moons-width --json`.
#[derive(Serialize)]
struct WidthRowJson {
    width: usize,
    parameters: usize,
    rank: usize,
    s1: Option<f64>,
    response_gap_flow: f64,
    response_gap_gd: f64,
    output_gap_flow: f64,
    output_gap_gd: f64,
    output_scale: f64,
    final_loss: f64,
    wall_s: f64,
}

impl WidthRowJson {
    fn new(w: &WidthComparison) -> Self {
        Self {
            width: w.width,
            parameters: w.parameters,
            rank: w.rank,
            s1: w.strengths.first().copied(),
            response_gap_flow: w.response_gap_flow,
            response_gap_gd: w.response_gap_gd,
            output_gap_flow: w.output_gap_flow,
            output_gap_gd: w.output_gap_gd,
            output_scale: w.output_scale,
            final_loss: w.final_loss,
            wall_s: w.wall_s,
        }
    }
}

/// `gstarve reproduce moons-width --json` (keys sorted, as printed since the first release).
#[derive(Serialize)]
struct MoonsWidthJson {
    settings: MoonsWidthSettingsJson,
    gaps: &'static str,
    widths: Vec<WidthRowJson>,
    wall_s: f64,
}

impl MoonsWidthJson {
    fn new(spec: &LinearisationSpec, sweep: &LinearisationSweep) -> Self {
        Self {
            settings: MoonsWidthSettingsJson {
                parameterisation: "ntk",
                zero_output: spec.zero_output,
                n: spec.n,
                noise: spec.noise,
                margin: spec.margin,
                seed: spec.seed,
                epochs: spec.epochs,
                learning_rate: spec.learning_rate,
                momentum: 0.0,
                weight_decay: 0.0,
                sd: 0.0,
                record_every: spec.record_every,
                top: spec.top,
                tau_end: spec.learning_rate * spec.epochs as f64 / spec.n as f64,
            },
            gaps: "response gap = max_k ‖z_real − z_lin‖∞ / max_k ‖z_lin‖∞ over the leading `top` features; output gap = max_k max_i |ŷ − ŷ_lin|",
            widths: sweep.widths.iter().map(WidthRowJson::new).collect(),
            wall_s: sweep.wall_s,
        }
    }
}

/// Run `gstarve reproduce moons-width`.
pub fn run_moons_width(a: &MoonsWidthArgs) -> Result<()> {
    let spec = LinearisationSpec {
        widths: a
            .widths
            .iter()
            .map(|&m| positive("--widths", m))
            .collect::<Result<Vec<_>>>()?,
        n: positive("--n", a.n)?,
        noise: a.noise,
        margin: a.margin,
        seed: a.seed,
        zero_output: !a.nonzero_start,
        epochs: positive("--epochs", a.epochs)?,
        learning_rate: a.lr,
        record_every: positive("--record-every", a.record_every)?,
        top: positive("--top", a.top)?,
    };
    spec.validate()?;
    let formats = formats(&a.formats)?;
    check_output_dir(&a.out)?;
    super::outputs::before_work()?;
    let sweep = linearisation_sweep(&spec, crate::cli::progress::terminal())?;
    width_figures(
        &sweep,
        &a.out,
        &MoonsFigureOptions {
            formats,
            ..Default::default()
        },
    )?;
    if a.json {
        let out = MoonsWidthJson::new(&spec, &sweep);
        println!("{}", to_json_sorted(&out, Layout::Pretty)?);
    } else {
        println!(
            "real network vs linearisation: NTK, {} start, n = {}, Δ = {}, plain GD η = {} for {} epochs (τ_end = {:.4}), leading {} features",
            if spec.zero_output { "zero-output" } else { "f₀" },
            spec.n,
            spec.margin,
            spec.learning_rate,
            spec.epochs,
            spec.learning_rate * spec.epochs as f64 / spec.n as f64,
            spec.top
        );
        println!(
            "{:>7}{:>8}{:>6}{:>10}{:>14}{:>14}{:>14}{:>14}{:>9}",
            "width", "p", "r", "s1", "z gap flow", "z gap GD", "ŷ gap flow", "ŷ gap GD", "time s"
        );
        for w in &sweep.widths {
            println!(
                "{:>7}{:>8}{:>6}{:>10.4}{:>14.4e}{:>14.4e}{:>14.4e}{:>14.4e}{:>9.2}",
                w.width,
                w.parameters,
                w.rank,
                w.strengths.first().copied().unwrap_or(f64::NAN),
                w.response_gap_flow,
                w.response_gap_gd,
                w.output_gap_flow,
                w.output_gap_gd,
                w.wall_s
            );
        }
        println!("{} widths in {:.1} s", sweep.widths.len(), sweep.wall_s);
    }
    Ok(())
}
