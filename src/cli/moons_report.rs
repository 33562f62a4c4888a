//! What `gstarve reproduce moons` and `reproduce moons-sd-classes` print: the run, its figures,
//! and a table (or one JSON object) on stdout.

use anyhow::Result;
use gstarve_core::output::{check_output_dir, to_json_sorted, Layout};
use gstarve_net::experiments::{
    moons_experiment, reversal, Band, MoonsExperiment, MoonsSpec, Reversal, SettingResult,
};
use gstarve_plot::moons_paper::reversal_caption;
use gstarve_plot::{moons_figures, MoonsFigureOptions, Written};
use serde::Serialize;

use super::moons::MoonsArgs;

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
    /// |z| of the overlay features at the last epoch, mean over seeds.
    final_abs_overlay: Vec<f64>,
    /// SD per class (docs/theory.md §10.1): (λ₀, λ₁), sum convention; null without.
    class_lambda: Option<[f64; 2]>,
    /// SD per class: margin targets (γ₀, γ₁); null without.
    class_target: Option<[f64; 2]>,
    /// Each class's mean final margin, mean over seeds (class 0: label −1).
    mean_class_margins: [f64; 2],
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
            final_abs_overlay: s
                .overlay_bands
                .last()
                .map(|b| b.iter().map(|x| x.mean).collect())
                .unwrap_or_default(),
            class_lambda: s.setting.class_targets.map(|t| t.lambda),
            class_target: s.setting.class_targets.map(|t| t.target),
            mean_class_margins: s.mean_class_margins(),
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
    /// The Figure-2 features, 1-based.
    overlay: Vec<usize>,
    /// Epochs of the seed-averaged decision boundaries.
    boundary_epochs: Vec<usize>,
    /// The reversal of the paper's Figure 2 (null unless the three paper settings ran).
    reversal: Option<ReversalJson>,
}

/// One feature of the reversal in the JSON.
#[derive(Serialize)]
struct FeatureOrderJson {
    /// 1-based.
    feature: usize,
    role: &'static str,
    overlap: f64,
    margin: f64,
    sd: f64,
    observed_order: String,
    paper_order: &'static str,
    agrees: bool,
    records_in_order: usize,
    records: usize,
    settled_from_epoch: Option<usize>,
}

/// The reversal in the JSON.
#[derive(Serialize)]
struct ReversalJson {
    holds: bool,
    features: Vec<FeatureOrderJson>,
}

impl ReversalJson {
    fn new(r: &Reversal) -> Self {
        Self {
            holds: r.holds(),
            features: r
                .features
                .iter()
                .map(|f| FeatureOrderJson {
                    feature: f.feature + 1,
                    role: f.role,
                    overlap: f.finals[0],
                    margin: f.finals[1],
                    sd: f.finals[2],
                    observed_order: f.observed.clone(),
                    paper_order: f.expected,
                    agrees: f.agrees,
                    records_in_order: f.records_in_order,
                    records: f.records,
                    settled_from_epoch: f.settled_from,
                })
                .collect(),
        }
    }
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
            overlay: spec.overlay.iter().map(|j| j + 1).collect(),
            boundary_epochs: spec.boundary_epochs.clone(),
            reversal: reversal(exp).as_ref().map(ReversalJson::new),
        }
    }
}

/// Run the experiment `spec` with the output options of `a`; files named `<prefix>-…`.
pub(super) fn run_experiment(a: &MoonsArgs, spec: &MoonsSpec, prefix: &str) -> Result<()> {
    let formats = a.image_formats()?;
    spec.validate()?;
    check_output_dir(a.out())?;
    super::outputs::before_work()?;
    let exp = moons_experiment(spec, crate::cli::progress::terminal())?;
    let written = moons_figures(
        &exp,
        a.out(),
        &MoonsFigureOptions {
            formats,
            prefix: prefix.to_string(),
        },
    )?;
    if a.json() {
        let out = MoonsJson::new(spec, &exp, &written);
        println!("{}", to_json_sorted(&out, Layout::Pretty)?);
    } else {
        print_table(spec, &exp);
    }
    Ok(())
}

fn print_table(spec: &MoonsSpec, exp: &MoonsExperiment) {
    let features: Vec<usize> = spec.features.iter().map(|j| j + 1).collect();
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
    let labels: Vec<String> = exp
        .settings
        .iter()
        .map(|s| s.setting.label().replace('\u{a0}', " "))
        .collect();
    let w = labels
        .iter()
        .map(|l| l.chars().count() + 2)
        .max()
        .unwrap_or(22)
        .max(22);
    println!("final oriented responses z_j, mean ± std over seeds:");
    print!("{:<w$}", "setting");
    for j in &features {
        print!("{:>18}", format!("z{j}"));
    }
    println!("{:>10}{:>10}{:>10}", "loss", "accuracy", "x₂ share");
    for (s, label) in exp.settings.iter().zip(&labels) {
        print!("{label:<w$}");
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
    if exp
        .settings
        .iter()
        .any(|s| s.setting.class_targets.is_some())
    {
        println!("mean final margin y·ŷ per class (class 0: y = −1), mean over seeds:");
        for (s, label) in exp.settings.iter().zip(&labels) {
            let m = s.mean_class_margins();
            println!("  {label:<w$} class 0: {:.3}   class 1: {:.3}", m[0], m[1]);
        }
    }
    if let Some(rev) = reversal(exp) {
        println!("the paper's Figure 2, final mean |z_j| over seeds:");
        for line in reversal_caption(&rev) {
            println!("  {line}");
        }
    }
    println!(
        "{} runs in {:.1} s",
        spec.seeds * spec.settings.len(),
        exp.wall_s
    );
}
