//! `gstarve reproduce multiclass`: a c-output network on c spirals against the softmax flow of
//! its feature system (docs/theory.md §9; gstarve_net::experiments::multiclass), three figures
//! and a summary (or JSON) on stdout.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use gstarve_core::output::{check_output_dir, to_json_sorted, Layout};
use gstarve_net::data::SpiralsOptions;
use gstarve_net::experiments::{multiclass_experiment, MulticlassExperiment, MulticlassSpec};
use gstarve_plot::{multiclass_figures, Formats, MoonsFigureOptions};
use serde::Serialize;

/// `gstarve reproduce multiclass`.
#[derive(Args, Debug)]
pub struct MulticlassArgs {
    /// Number of classes c (spiral arms), 2–8.
    #[arg(long, default_value_t = 3, allow_negative_numbers = true)]
    classes: i64,
    /// Number of points n (split evenly over the classes).
    #[arg(long, default_value_t = 150, allow_negative_numbers = true)]
    n: i64,
    /// Turns of each spiral arm.
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    turns: f64,
    /// Noise of the spirals (standard deviation per coordinate).
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    noise: f64,
    /// Seed of the data and the network (ChaCha12).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Hidden width m (even: the network starts from f ≡ 0).
    #[arg(long, default_value_t = 300, allow_negative_numbers = true)]
    width: i64,
    /// Epochs of plain full-batch GD.
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    epochs: i64,
    /// Learning rate on the mean cross-entropy.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    lr: f64,
    /// Record every k epochs (must divide --epochs).
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    record_every: i64,
    /// Follow the k class-discriminating features (largest |dz_j/dτ| at τ = 0).
    #[arg(long, default_value_t = 4, allow_negative_numbers = true)]
    top: i64,
    /// L2 λ (sum convention) of the steady state whose starvation matrix is drawn.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    lambda: f64,
    /// Points per axis of the decision-region grid.
    #[arg(long, default_value_t = 160, allow_negative_numbers = true)]
    grid: i64,
    /// Output folder.
    #[arg(long, default_value = "plots/multiclass", value_name = "DIR")]
    out: PathBuf,
    /// Image formats: png, svg, pdf or a list (the CSV data is always written).
    #[arg(long = "format", default_value = "png", value_name = "png,svg")]
    formats: String,
    /// Print one JSON object on stdout instead of the summary.
    #[arg(long)]
    json: bool,
}

fn count(name: &str, value: i64) -> Result<usize> {
    if value < 1 {
        bail!("{name} = {value} is invalid: it must be ≥ 1");
    }
    usize::try_from(value).map_err(|_| anyhow::anyhow!("{name} = {value} is too large"))
}

impl MulticlassArgs {
    fn spec(&self) -> Result<MulticlassSpec> {
        if self.classes < 2 {
            bail!(
                "--classes = {} is invalid: a multi-class data set needs at least 2 classes",
                self.classes
            );
        }
        Ok(MulticlassSpec {
            data: SpiralsOptions {
                n: count("--n", self.n)?,
                classes: count("--classes", self.classes)?,
                turns: self.turns,
                noise: self.noise,
                seed: self.seed,
            },
            width: count("--width", self.width)?,
            epochs: count("--epochs", self.epochs)?,
            learning_rate: self.lr,
            record_every: count("--record-every", self.record_every)?,
            top: count("--top", self.top)?,
            lambda: self.lambda,
            grid: count("--grid", self.grid)?,
        })
    }
}

/// `gstarve reproduce multiclass --json`.
#[derive(Serialize)]
struct MulticlassJson {
    classes: usize,
    n: usize,
    width: usize,
    parameters: usize,
    rank: usize,
    epochs: usize,
    learning_rate: f64,
    tau_end: f64,
    /// 1-based indices of the class-discriminating features.
    features: Vec<usize>,
    strengths: Vec<f64>,
    initial_rates: Vec<f64>,
    early_gap: f64,
    response_gap: f64,
    final_loss: f64,
    accuracy: f64,
    flow_accuracy: f64,
    lambda: f64,
    /// E_ji among the chosen features (rows j, columns i, in the order of `features`).
    elasticity: Vec<Vec<Option<f64>>>,
    wall_s: f64,
    files: Vec<String>,
}

impl MulticlassJson {
    fn new(exp: &MulticlassExperiment, files: Vec<String>) -> Self {
        let s = &exp.spec;
        let e = &exp.starvation.elasticities;
        Self {
            classes: s.data.classes,
            n: s.data.n,
            width: s.width,
            parameters: exp.parameters,
            rank: exp.rank,
            epochs: s.epochs,
            learning_rate: s.learning_rate,
            tau_end: exp.tau.last().copied().unwrap_or(0.0),
            features: exp.features.iter().map(|j| j + 1).collect(),
            strengths: exp.strengths.clone(),
            initial_rates: exp.initial_rates.clone(),
            early_gap: exp.early_gap,
            response_gap: exp.response_gap,
            final_loss: exp.loss.last().copied().unwrap_or(f64::NAN),
            accuracy: exp.accuracy.last().copied().unwrap_or(f64::NAN),
            flow_accuracy: exp.flow_accuracy,
            lambda: s.lambda,
            elasticity: e
                .row_iter()
                .map(|row| row.iter().copied().collect())
                .collect(),
            wall_s: exp.wall_s,
            files,
        }
    }
}

/// Run `gstarve reproduce multiclass`.
pub fn run_multiclass(a: &MulticlassArgs) -> Result<()> {
    let spec = a.spec()?;
    spec.validate()?;
    let formats: Formats = a
        .formats
        .parse()
        .map_err(|e| anyhow::anyhow!("--format: {e}"))?;
    check_output_dir(&a.out)?;
    super::outputs::before_work()?;
    let exp = multiclass_experiment(&spec)?;
    let written = multiclass_figures(
        &exp,
        &a.out,
        &MoonsFigureOptions {
            prefix: "multiclass".into(),
            formats,
        },
    )?;
    let files: Vec<String> = written
        .iter()
        .flat_map(|w| w.images.iter().chain(std::iter::once(&w.data)))
        .map(|p| p.display().to_string())
        .collect();
    if a.json {
        let out = MulticlassJson::new(&exp, files);
        println!("{}", to_json_sorted(&out, Layout::Pretty)?);
        return Ok(());
    }
    let json = MulticlassJson::new(&exp, files);
    println!(
        "{} spirals, n = {}; NTK width {} (p = {}, r = {}), zero-output start; plain GD η = {} for \
         {} epochs (τ_end = {:.4})",
        json.classes,
        json.n,
        json.width,
        json.parameters,
        json.rank,
        json.learning_rate,
        json.epochs,
        json.tau_end
    );
    println!(
        "class-discriminating features {:?} (strengths {:?})",
        json.features,
        json.strengths
            .iter()
            .map(|s| format!("{s:.4}"))
            .collect::<Vec<_>>()
    );
    println!(
        "response gap network vs linearised softmax flow: {:.3e} up to epoch {}, {:.3e} overall",
        json.early_gap,
        spec.epochs / 10,
        json.response_gap
    );
    println!(
        "training accuracy: network {:.1} %, linearised flow {:.1} %; final mean loss {:.4}",
        100.0 * json.accuracy,
        100.0 * json.flow_accuracy,
        json.final_loss
    );
    let pairs: Vec<String> = exp
        .starvation
        .starving_pairs()
        .iter()
        .map(|&(j, i)| {
            format!(
                "z{} by s{}",
                exp.starvation.feature_number(j),
                exp.starvation.feature_number(i)
            )
        })
        .collect();
    println!(
        "starvation (L2 λ = {}, E_ji < 0): {}",
        spec.lambda,
        if pairs.is_empty() {
            "none".to_string()
        } else {
            pairs.join(", ")
        }
    );
    println!("in {:.1} s", exp.wall_s);
    Ok(())
}
