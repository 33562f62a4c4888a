//! `gstarve reproduce remedies`: the paper's Figure 3 (arguments → validated spec → the
//! library's experiment and figures; a table or JSON on stdout).

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use gstarve_core::output::{check_output_dir, to_json_sorted, Layout};
use gstarve_net::experiments::remedies::{
    remedies_experiment, RemediesExperiment, RemediesSpec, Remedy,
};
use gstarve_plot::{remedies_figures, Formats, RemediesFigureOptions, Written};
use serde::Serialize;

/// A count ≥ 1 given as a signed number.
fn positive(name: &str, value: i64) -> Result<usize> {
    if value < 1 {
        bail!("{name} = {value} is invalid: it must be ≥ 1");
    }
    usize::try_from(value).map_err(|_| anyhow::anyhow!("{name} = {value} is too large"))
}

/// `gstarve reproduce remedies`. Defaults: the authors' `moon_fig_3.py`.
#[derive(Args, Debug)]
pub struct RemediesArgs {
    /// Seeds 0…N−1 (each: its own data and initialisation); the figure averages the outputs.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    seeds: i64,
    /// Epochs of the baseline (the "longer" panel trains 10× as many).
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    epochs: i64,
    /// Hidden width of the two-layer panels.
    #[arg(long, default_value_t = 500, allow_negative_numbers = true)]
    width: i64,
    /// Linear layers of the deeper panel.
    #[arg(long, default_value_t = 5, allow_negative_numbers = true)]
    deep_layers: i64,
    /// Hidden width of the deeper panel.
    #[arg(long, default_value_t = 500, allow_negative_numbers = true)]
    deep_width: i64,
    /// SGD's learning rate (mean loss, as PyTorch's).
    #[arg(long, default_value_t = 1e-2, allow_negative_numbers = true)]
    lr: f64,
    /// SGD's momentum.
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    momentum: f64,
    /// Number of points.
    #[arg(long, default_value_t = 300, allow_negative_numbers = true)]
    n: i64,
    /// Noise of the moons.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    noise: f64,
    /// Margin Δ of the moons.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    margin: f64,
    /// Only these panels, by letter (a–j, the paper's order: a none, b weight decay, c longer,
    /// d Adam 1e-4, e Adam 3e-3, f rotation, g dropout, h BatchNorm, i deeper, j SD).
    #[arg(long, value_delimiter = ',', value_name = "a,b,…")]
    panels: Option<Vec<String>>,
    /// Points per axis of the grid over [−2, 2]².
    #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
    grid: i64,
    /// Output folder.
    #[arg(long, default_value = "plots/remedies", value_name = "DIR")]
    out: PathBuf,
    /// Image formats: png, svg or png,svg (the CSV data is always written).
    #[arg(long = "format", default_value = "png", value_name = "png,svg")]
    formats: String,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

impl RemediesArgs {
    fn spec(&self) -> Result<RemediesSpec> {
        let deep = Remedy::Deeper {
            layers: positive("--deep-layers", self.deep_layers)?,
            width: positive("--deep-width", self.deep_width)?,
        };
        let all: Vec<Remedy> = Remedy::paper()
            .into_iter()
            .map(|r| match r {
                Remedy::Deeper { .. } => deep,
                r => r,
            })
            .collect();
        let remedies = match &self.panels {
            None => all,
            Some(letters) => {
                let mut chosen = Vec::new();
                for l in letters {
                    let l = l.trim();
                    let k = match l.as_bytes() {
                        [c @ b'a'..=b'z'] => (c - b'a') as usize,
                        _ => usize::MAX,
                    };
                    let Some(r) = all.get(k) else {
                        bail!("--panels: '{l}' is not a panel (expected letters a to j)");
                    };
                    if chosen.contains(r) {
                        bail!("--panels: '{l}' is given twice");
                    }
                    chosen.push(*r);
                }
                chosen
            }
        };
        let spec = RemediesSpec {
            remedies,
            seeds: positive("--seeds", self.seeds)?,
            n: positive("--n", self.n)?,
            noise: self.noise,
            margin: self.margin,
            width: positive("--width", self.width)?,
            epochs: positive("--epochs", self.epochs)?,
            learning_rate: self.lr,
            momentum: self.momentum,
            grid_points: positive("--grid", self.grid)?,
            grid_extent: 2.0,
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// One panel of `gstarve reproduce remedies --json`.
#[derive(Serialize)]
struct PanelJson {
    name: String,
    label: String,
    engine: &'static str,
    epochs: usize,
    x2_share_mean: f64,
    x2_share_std: f64,
    x2_share_min: f64,
    x2_share_max: f64,
    x2_shares: Vec<f64>,
    train_accuracy_mean: f64,
    final_loss_mean: f64,
    wall_s: f64,
}

/// `gstarve reproduce remedies --json` (keys sorted).
#[derive(Serialize)]
struct RemediesJson {
    seeds: usize,
    epochs: usize,
    width: usize,
    n: usize,
    margin: f64,
    panels: Vec<PanelJson>,
    largest_share: String,
    wall_s: f64,
    files: Vec<String>,
}

impl RemediesJson {
    fn new(exp: &RemediesExperiment, written: &[Written]) -> Self {
        let panels: Vec<PanelJson> = exp
            .panels
            .iter()
            .map(|p| {
                let (mean, std, min, max) = p.share();
                PanelJson {
                    name: p.remedy.name(),
                    label: p.remedy.label(),
                    engine: p.remedy.engine().name(),
                    epochs: p.epochs,
                    x2_share_mean: mean,
                    x2_share_std: std,
                    x2_share_min: min,
                    x2_share_max: max,
                    x2_shares: p.runs.iter().map(|r| r.curved_share).collect(),
                    train_accuracy_mean: p.accuracy().0,
                    final_loss_mean: p.mean_final_loss(),
                    wall_s: p.wall_s(),
                }
            })
            .collect();
        let largest_share = panels
            .iter()
            .max_by(|a, b| a.x2_share_mean.total_cmp(&b.x2_share_mean))
            .map(|p| p.name.clone())
            .unwrap_or_default();
        Self {
            seeds: exp.spec.seeds,
            epochs: exp.spec.epochs,
            width: exp.spec.width,
            n: exp.spec.n,
            margin: exp.spec.margin,
            panels,
            largest_share,
            wall_s: exp.wall_s,
            files: written
                .iter()
                .flat_map(|w| w.images.iter().chain(std::iter::once(&w.data)))
                .map(|p| p.display().to_string())
                .collect(),
        }
    }
}

/// Run `gstarve reproduce remedies`.
pub fn run_remedies(a: &RemediesArgs) -> Result<()> {
    let spec = a.spec()?;
    let formats = a
        .formats
        .parse::<Formats>()
        .map_err(|e| anyhow::anyhow!("--format: {e}"))?;
    check_output_dir(&a.out)?;
    super::outputs::before_work()?;
    let exp = remedies_experiment(&spec, crate::cli::progress::terminal())?;
    let written = remedies_figures(
        &exp,
        &a.out,
        &RemediesFigureOptions {
            formats,
            ..Default::default()
        },
    )?;
    if a.json {
        println!(
            "{}",
            to_json_sorted(&RemediesJson::new(&exp, &written), Layout::Pretty)?
        );
        return Ok(());
    }
    println!(
        "remedies on two moons (Δ = {:+}): {} seeds, {} epochs, width {}, n = {}",
        spec.margin, spec.seeds, spec.epochs, spec.width, spec.n
    );
    println!(
        "{:<32}{:>18}{:>9}{:>20}{:>10}{:>11}{:>9}",
        "panel", "engine", "epochs", "x₂ share", "accuracy", "loss", "time"
    );
    for p in &exp.panels {
        let (mean, std, _, _) = p.share();
        println!(
            "{:<32}{:>18}{:>9}{:>20}{:>10.3}{:>11.4}{:>8.1}s",
            p.remedy.label(),
            p.remedy.engine().name(),
            p.epochs,
            format!("{mean:.3} ± {std:.3}"),
            p.accuracy().0,
            p.mean_final_loss(),
            p.wall_s()
        );
    }
    println!(
        "{} runs in {:.1} s",
        spec.seeds * spec.remedies.len(),
        exp.wall_s
    );
    Ok(())
}
