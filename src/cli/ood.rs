//! `gstarve reproduce ood`: the out-of-distribution test on coloured digits (the paper's
//! Table 1 protocol on data we ship): arguments → a validated spec → the experiment, the
//! figure and the feature table; a table (or JSON) on stdout.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use gstarve_core::output::{check_output_dir, to_json_sorted, Layout};
use gstarve_net::deep::Precision;
use gstarve_net::experiments::ood::{
    ood_experiment, Method, MethodSettings, OodExperiment, OodSpec,
};
use gstarve_plot::{ood_figure, Formats, OodFigureOptions};
use serde::Serialize;

/// `gstarve reproduce ood`.
#[derive(Args, Debug)]
pub struct OodArgs {
    /// Restarts (each: its own split, flips and network).
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    restarts: i64,
    /// Hidden width h of the MLP 128 → h → h → 1.
    #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
    width: i64,
    /// Seed of restart 0 (restart k: seed + k).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: i64,
    /// Methods, from erm, sd, sd-classes, irm.
    #[arg(long, value_delimiter = ',', default_value = "erm,sd,sd-classes,irm")]
    methods: Vec<String>,
    /// Scale every method's steps and anneal step by this factor in (0, 1] (reduced runs).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    steps_scale: f64,
    /// SD with class targets: weights w₀,w₁ of the classes (labels 0 and 1).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,1",
        allow_negative_numbers = true
    )]
    class_weights: Vec<f64>,
    /// SD with class targets: margin targets γ₀,γ₁.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,1",
        allow_negative_numbers = true
    )]
    class_targets: Vec<f64>,
    /// Examples in the feature system at initialisation (a subsample of the training set).
    #[arg(long, default_value_t = 300, allow_negative_numbers = true)]
    feature_examples: i64,
    /// λ of the L2 steady state of the starvation matrix.
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    lambda: f64,
    /// Digit features whose starvation entries against the colour feature are reported.
    #[arg(long, default_value_t = 5, allow_negative_numbers = true)]
    digit_features: i64,
    /// Precision of training: f32 (as PyTorch) or f64.
    #[arg(long, default_value = "f32", value_name = "f32|f64")]
    precision: String,
    /// Output folder.
    #[arg(long, default_value = "plots/ood", value_name = "DIR")]
    out: PathBuf,
    /// Image formats: png, svg or png,svg (the CSV data is always written).
    #[arg(long = "format", default_value = "png,svg", value_name = "png,svg")]
    formats: String,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

fn count(name: &str, value: i64) -> Result<usize> {
    if value < 1 {
        bail!("{name} = {value} is invalid: it must be ≥ 1");
    }
    usize::try_from(value).map_err(|_| anyhow::anyhow!("{name} = {value} is too large"))
}

fn pair(name: &str, values: &[f64]) -> Result<[f64; 2]> {
    match values {
        [a, b] => Ok([*a, *b]),
        _ => bail!(
            "{name} has {} values: it takes two, for class 0 and class 1 (e.g. 1,1)",
            values.len()
        ),
    }
}

impl OodArgs {
    fn spec(&self) -> Result<OodSpec> {
        if self.seed < 0 {
            bail!("--seed = {} is invalid: it must be ≥ 0", self.seed);
        }
        if !(self.steps_scale > 0.0 && self.steps_scale <= 1.0) {
            bail!(
                "--steps-scale = {} is invalid: it must lie in (0, 1]",
                gstarve_core::error::number(self.steps_scale)
            );
        }
        let class_weights = pair("--class-weights", &self.class_weights)?;
        let class_targets = pair("--class-targets", &self.class_targets)?;
        let mut methods = Vec::new();
        for name in &self.methods {
            let method = Method::ALL
                .into_iter()
                .find(|m| m.name() == name.trim())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--methods: unknown method '{name}' (expected erm, sd, sd-classes or irm)"
                    )
                })?;
            if methods.iter().any(|m: &MethodSettings| m.method == method) {
                bail!("--methods: '{name}' is given twice");
            }
            let mut s = MethodSettings::reference(method);
            s.steps = ((s.steps as f64 * self.steps_scale).round() as usize).max(1);
            s.anneal_steps = (s.anneal_steps as f64 * self.steps_scale).round() as usize;
            if method == Method::SdClasses {
                s.class_weights = class_weights;
                s.class_targets = class_targets;
            }
            methods.push(s);
        }
        let precision = match self.precision.trim() {
            "f32" => Precision::F32,
            "f64" => Precision::F64,
            other => bail!("--precision = {other} is invalid: it must be f32 or f64"),
        };
        let spec = OodSpec {
            precision,
            width: count("--width", self.width)?,
            restarts: count("--restarts", self.restarts)?,
            seed: self.seed as u64,
            methods,
            feature_examples: count("--feature-examples", self.feature_examples)?,
            starvation_lambda: self.lambda,
            digit_features: count("--digit-features", self.digit_features)?,
            ..Default::default()
        };
        spec.validate()?;
        Ok(spec)
    }
}

#[derive(Serialize)]
struct MethodJson {
    method: &'static str,
    train_accuracy: f64,
    train_accuracy_std: f64,
    test_accuracy: f64,
    test_accuracy_std: f64,
    train_nll: f64,
    steps: usize,
    restarts: usize,
}

#[derive(Serialize)]
struct FeaturesJson {
    examples: usize,
    parameters: usize,
    colour_feature: usize,
    colour_strength: f64,
    colour_share: f64,
    digit_features: Vec<usize>,
    strength_ratios: Vec<f64>,
    lambda: f64,
    elasticity_colour_on_digit: Vec<Option<f64>>,
    elasticity_digit_on_colour: Vec<Option<f64>>,
    sd_max_abs_elasticity: f64,
    jacobian_check: f64,
}

#[derive(Serialize)]
struct OodJson {
    width: usize,
    restarts: usize,
    seed: u64,
    colour_agreement_train: f64,
    colour_agreement_test: f64,
    methods: Vec<MethodJson>,
    features: FeaturesJson,
    training_s: f64,
    analysis_s: f64,
}

impl OodJson {
    fn new(exp: &OodExperiment) -> Self {
        let f = &exp.features;
        let colour = f.shares.iter().find(|s| s.feature == f.colour_feature);
        Self {
            width: exp.spec.width,
            restarts: exp.spec.restarts,
            seed: exp.spec.seed,
            colour_agreement_train: exp.colour_agreement.0,
            colour_agreement_test: exp.colour_agreement.1,
            methods: exp
                .summaries
                .iter()
                .map(|s| MethodJson {
                    method: s.settings.method.name(),
                    train_accuracy: s.train_accuracy.mean,
                    train_accuracy_std: s.train_accuracy.std,
                    test_accuracy: s.test_accuracy.mean,
                    test_accuracy_std: s.test_accuracy.std,
                    train_nll: s.train_nll.mean,
                    steps: s.settings.steps,
                    restarts: s.restarts,
                })
                .collect(),
            features: FeaturesJson {
                examples: f.examples,
                parameters: f.parameters,
                colour_feature: f.colour_feature,
                colour_strength: colour.map_or(f64::NAN, |s| s.strength),
                colour_share: colour.map_or(f64::NAN, |s| s.colour_share),
                digit_features: f.digit_features.clone(),
                strength_ratios: f.strength_ratios.clone(),
                lambda: f.lambda,
                elasticity_colour_on_digit: f.colour_on_digit.clone(),
                elasticity_digit_on_colour: f.digit_on_colour.clone(),
                sd_max_abs_elasticity: f.sd_max_abs,
                jacobian_check: f.jacobian_check,
            },
            training_s: exp.wall_s.0,
            analysis_s: exp.wall_s.1,
        }
    }
}

/// Run `gstarve reproduce ood`.
pub fn run_ood(a: &OodArgs) -> Result<()> {
    let spec = a.spec()?;
    let formats = a
        .formats
        .parse::<Formats>()
        .map_err(|e| anyhow::anyhow!("--format: {e}"))?;
    check_output_dir(&a.out)?;
    super::outputs::before_work()?;
    let exp = ood_experiment(&spec, &|k, n| {
        eprintln!("gstarve: reproduce ood: restart {} of {n} done", k + 1)
    })?;
    ood_figure(
        &exp,
        &a.out,
        &OodFigureOptions {
            formats,
            ..Default::default()
        },
    )?;
    if a.json {
        println!("{}", to_json_sorted(&OodJson::new(&exp), Layout::Pretty)?);
        return Ok(());
    }
    println!(
        "coloured digits: {} restarts, MLP 128 → {h} → {h} → 1; colour = label on {:.1} % of training, {:.1} % of test examples",
        spec.restarts,
        100.0 * exp.colour_agreement.0,
        100.0 * exp.colour_agreement.1,
        h = spec.width
    );
    println!(
        "{:<12}{:>8}{:>20}{:>20}{:>12}",
        "method", "steps", "train accuracy %", "test accuracy %", "train nll"
    );
    for s in &exp.summaries {
        println!(
            "{:<12}{:>8}{:>20}{:>20}{:>12.4}",
            s.settings.method.name(),
            s.settings.steps,
            format!(
                "{:.1} ± {:.1}",
                100.0 * s.train_accuracy.mean,
                100.0 * s.train_accuracy.std
            ),
            format!(
                "{:.1} ± {:.1}",
                100.0 * s.test_accuracy.mean,
                100.0 * s.test_accuracy.std
            ),
            s.train_nll.mean
        );
    }
    for line in gstarve_plot::ood::features_caption(&exp.features) {
        println!("{line}");
    }
    println!(
        "training {:.1} s, feature analysis {:.1} s",
        exp.wall_s.0, exp.wall_s.1
    );
    Ok(())
}
