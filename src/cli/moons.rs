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
    linearisation_sweep, moons_experiment, Band, LinearisationSpec, LinearisationSweep,
    MoonsExperiment, MoonsSetting, MoonsSpec, SettingResult, WidthComparison,
};
use gstarve_net::network::{NetworkOptions, Parameterisation, TrainOptions};
use gstarve_plot::{moons_figures, width_figures, Formats, MoonsFigureOptions, Written};
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
    /// Points per axis of the decision-boundary grid over [−2, 2]².
    #[arg(long, default_value_t = 121, allow_negative_numbers = true)]
    grid: i64,
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
        let spec = MoonsSpec {
            settings: MoonsSetting::paper(self.sd),
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
            grid_points,
            grid_extent: 2.0,
        };
        if self.sd <= 0.0 {
            bail!(
                "--sd = {} is invalid: the SD setting needs a coefficient > 0",
                gstarve_core::error::number(self.sd)
            );
        }
        spec.validate()?;
        Ok(spec)
    }
}

/// One setting in `gstarve reproduce moons --json`: the final oriented responses over seeds.
#[derive(Serialize)]
struct MoonsSettingJson<'a> {
    name: &'a str,
    margin: f64,
    sd: f64,
    final_mean: Vec<f64>,
    final_std: Vec<f64>,
    final_min: Vec<f64>,
    final_max: Vec<f64>,
    mean_strengths: Vec<f64>,
    mean_alignments: Vec<f64>,
    mean_final_loss: f64,
    mean_accuracy: f64,
    mean_curved_share: f64,
}

impl<'a> MoonsSettingJson<'a> {
    fn new(s: &'a SettingResult) -> Self {
        let last = s.bands.last().cloned().unwrap_or_default();
        let column = |f: fn(&Band) -> f64| last.iter().map(f).collect();
        Self {
            name: &s.setting.name,
            margin: s.setting.margin,
            sd: s.setting.spectral_decoupling,
            final_mean: column(|b| b.mean),
            final_std: column(|b| b.std),
            final_min: column(|b| b.min),
            final_max: column(|b| b.max),
            mean_strengths: s.mean_strengths(),
            mean_alignments: s.mean_alignments(),
            mean_final_loss: s.mean_final_loss(),
            mean_accuracy: s.mean_accuracy(),
            mean_curved_share: s.mean_curved_share(),
        }
    }
}

/// `gstarve reproduce moons --json` (keys sorted, as printed since the first release).
#[derive(Serialize)]
struct MoonsJson<'a> {
    seeds: usize,
    epochs: usize,
    width: usize,
    n: usize,
    /// 1-based.
    features: Vec<usize>,
    band: &'static str,
    orientation: &'static str,
    settings: Vec<MoonsSettingJson<'a>>,
    wall_s: f64,
    files: Vec<String>,
}

impl<'a> MoonsJson<'a> {
    fn new(spec: &MoonsSpec, exp: &'a MoonsExperiment, written: &[Written]) -> Self {
        Self {
            seeds: spec.seeds,
            epochs: spec.training.epochs,
            width: spec.network.width,
            n: spec.n,
            features: spec.features.iter().map(|j| j + 1).collect(),
            band: "mean ± std over seeds (population std); min and max also given",
            orientation: "each seed's feature j is the j-th singular direction of its own YΦ at initialisation, sign flipped so its final response is > 0",
            settings: exp.settings.iter().map(MoonsSettingJson::new).collect(),
            wall_s: exp.wall_s,
            files: written
                .iter()
                .flat_map(|w| w.images.iter().chain(std::iter::once(&w.data)))
                .map(|p| p.display().to_string())
                .collect(),
        }
    }
}

/// Run `gstarve reproduce moons`.
pub fn run_moons(a: &MoonsArgs) -> Result<()> {
    let spec = a.spec()?;
    let formats = formats(&a.formats)?;
    spec.validate()?;
    check_output_dir(&a.out)?;
    super::outputs::before_work()?;
    let exp = moons_experiment(&spec, crate::cli::progress::terminal())?;
    let written = moons_figures(
        &exp,
        &a.out,
        &MoonsFigureOptions {
            formats,
            ..Default::default()
        },
    )?;
    let features: Vec<usize> = spec.features.iter().map(|j| j + 1).collect();
    if a.json {
        let out = MoonsJson::new(&spec, &exp, &written);
        println!("{}", to_json_sorted(&out, Layout::Pretty)?);
    } else {
        println!(
            "two moons: {} seeds × {} epochs, width {}, n = {}, lr {}, momentum {}, weight decay {}",
            spec.seeds,
            spec.training.epochs,
            spec.network.width,
            spec.n,
            spec.training.learning_rate,
            spec.training.momentum,
            spec.training.weight_decay
        );
        println!("final oriented responses z_j, mean ± std over seeds:");
        print!("{:<22}", "setting");
        for j in &features {
            print!("{:>18}", format!("z{j}"));
        }
        println!("{:>10}{:>10}{:>10}", "loss", "accuracy", "x₂ share");
        for s in &exp.settings {
            print!("{:<22}", s.setting.label().replace('\u{a0}', " "));
            for b in s.bands.last().into_iter().flatten() {
                print!("{:>18}", format!("{:.3} ± {:.3}", b.mean, b.std));
            }
            println!(
                "{:>10.4}{:>10.3}{:>10.3}",
                s.mean_final_loss(),
                s.mean_accuracy(),
                s.mean_curved_share()
            );
        }
        println!(
            "{} runs in {:.1} s",
            spec.seeds * spec.settings.len(),
            exp.wall_s
        );
    }
    Ok(())
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
