//! The subcommands fixed-point, system, toy and check (simulate: `simulate`), and the text
//! helpers they share: each turns its arguments into library calls and prints the result.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use gstarve_core::model::{DualDynamics, Loss, PrimalDynamics, Regulariser};
use gstarve_core::output::{check_output_file, to_json_sorted, Layout};
use gstarve_core::reference::{self, paper_toy};
use gstarve_core::solvers::gd::GdOptions;
use gstarve_core::solvers::steady::steady_state;
use gstarve_core::systems::FeatureSystem;
use gstarve_core::systems::Truncation;
use gstarve_core::theory::checks::{
    all_passed, check_multiclass, check_system, nothing_to_check, CheckOptions, PredictionCheck,
    Verdict,
};
use gstarve_core::theory::sensitivity::steady_state_report;
use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use super::{ModelArgs, SystemArgs};

pub(super) fn default_system() -> gstarve_core::Result<FeatureSystem> {
    Ok(paper_toy(4.0))
}

/// A table entry: 6 decimals for ordinary magnitudes, exponent form outside
/// 10⁻⁴ ≤ |x| < 10⁹ (a diverged run's 1e308 is not 309 digits).
pub(crate) fn fmt_entry(x: f64) -> String {
    if x == 0.0 || !x.is_finite() || (1e-4..1e9).contains(&x.abs()) {
        format!("{x:.6}")
    } else {
        format!("{x:.6e}")
    }
}

pub(super) fn fmt_vec(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|&x| fmt_entry(x)).collect();
    format!("({})", parts.join(", "))
}

/// `gstarve fixed-point`.
#[derive(Args, Debug)]
pub struct FixedPointArgs {
    #[command(flatten)]
    system: SystemArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// One line on what a strength floor dropped, if it dropped anything.
pub(super) fn print_truncation(truncation: Option<Truncation>) {
    if let Some(t) = truncation.filter(|t| t.dropped_features > 0 && t.rank.is_some()) {
        println!(
            "kept the top {} features: dropped {} ({:.3e} of Σs²)",
            t.rank.unwrap_or_default(),
            t.dropped_features,
            t.dropped_strength_share
        );
        return;
    }
    if let Some(t) = truncation.filter(|t| t.dropped_features > 0) {
        println!(
            "dropped {} negligible features (s² ≤ {:e}·s₁²; {:.3e} of Σs²)",
            t.dropped_features, t.strength_floor, t.dropped_strength_share
        );
    }
}

/// `gstarve fixed-point --json` (keys sorted, as printed since the first release).
#[derive(Serialize)]
struct FixedPointJson {
    /// z*.
    z: Vec<f64>,
    /// m* = Uz*.
    margins: Vec<f64>,
    /// The dual variables α* (logistic loss).
    alpha: Option<Vec<f64>>,
    residual: f64,
    iterations: usize,
    method: &'static str,
    /// ∂z_j*/∂s_i² (rows j, columns i), where known.
    sensitivity: Option<Vec<Vec<f64>>>,
    /// E_ji = ∂log|z_j*|/∂log s_i², `null` where masked.
    elasticity: Option<Vec<Vec<Option<f64>>>>,
    /// What a strength floor dropped (--kernel, or --strength-floor).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    truncation: Option<Truncation>,
}

/// The rows of an r × r matrix.
fn matrix_rows<T: Copy>(m: &DMatrix<T>) -> Vec<Vec<T>> {
    m.row_iter()
        .map(|row| row.iter().copied().collect())
        .collect()
}

/// Run `gstarve fixed-point`.
pub fn fixed_point(a: &FixedPointArgs) -> Result<()> {
    let loaded = a.system.load_any_or(default_system)?;
    if let Some(mc) = &loaded.multiclass {
        return super::multiclass::fixed_point(mc, loaded.truncation, &a.model, a.json);
    }
    let (loss, regulariser) = a.model.model()?;
    let report = steady_state_report(&loaded.system, loss, regulariser)?;
    let fp = &report.steady_state;
    let to_vec = |v: &DVector<f64>| v.iter().copied().collect::<Vec<f64>>();
    // Sensitivities (docs/theory.md §5.3): L2 by the implicit-function formula, SD identically
    // zero where its closed form applies.
    let sensitivity = report.derivatives.as_ref().map(matrix_rows);
    let elasticity = report.elasticities.as_ref().map(matrix_rows);
    if a.json {
        let value = FixedPointJson {
            z: to_vec(&fp.responses),
            margins: to_vec(&fp.margins),
            alpha: fp.alpha.as_ref().map(to_vec),
            residual: fp.residual,
            iterations: fp.iterations,
            method: fp.method,
            sensitivity,
            elasticity,
            truncation: loaded.truncation,
        };
        println!("{}", to_json_sorted(&value, Layout::Compact)?);
    } else {
        print_truncation(loaded.truncation);
        println!("z*       = {}", fmt_vec(fp.responses.as_slice()));
        println!("margins  = {}", fmt_vec(fp.margins.as_slice()));
        if let Some(alpha) = &fp.alpha {
            println!("alpha    = {}", fmt_vec(alpha.as_slice()));
        }
        println!(
            "residual = {:.3e} after {} iterations ({})",
            fp.residual, fp.iterations, fp.method
        );
        if let Some(e) = &elasticity {
            println!("elasticity E_ji = ∂log|z_j*|/∂log s_i² (rows j, columns i; negative = starvation):");
            for row in e {
                let cells: Vec<String> = row
                    .iter()
                    .map(|v| v.map_or("   masked".to_string(), |x| format!("{x:>9.5}")))
                    .collect();
                println!("  [{}]", cells.join(", "));
            }
        }
    }
    Ok(())
}

/// `gstarve system`.
#[derive(Args, Debug)]
pub struct SystemCmdArgs {
    #[command(flatten)]
    system: SystemArgs,
    /// Output file (JSON; TOML for *.toml; a NumPy archive of strengths, u, v for *.npz).
    #[arg(long, short, value_name = "FILE")]
    out: PathBuf,
}

/// Run `gstarve system`.
pub fn system(a: &SystemCmdArgs) -> Result<()> {
    check_output_file(&a.out)?;
    let loaded = a.system.load_any_or(|| {
        Err(gstarve_core::Error::Input(
            gstarve_core::error::InputError::Unsupported(
                "give a system source, e.g. --random 100 --seed 1 --spectrum 10:0.1".into(),
            ),
        ))
    })?;
    super::outputs::before_work()?;
    if let Some(mc) = &loaded.multiclass {
        mc.save(&a.out, None)
            .with_context(|| format!("writing the system to {}", a.out.display()))?;
        eprintln!(
            "wrote {} ({} examples, {} classes, {} features)",
            a.out.display(),
            mc.examples(),
            mc.classes(),
            mc.rank()
        );
        return Ok(());
    }
    loaded
        .system
        .save(&a.out)
        .with_context(|| format!("writing the system to {}", a.out.display()))?;
    eprintln!(
        "{}: {} examples, {} features",
        a.out.display(),
        loaded.system.examples(),
        loaded.system.rank()
    );
    Ok(())
}

/// `gstarve toy`.
#[derive(Args, Debug, Default)]
pub struct ToyArgs {
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// One l of `gstarve toy --json`.
#[derive(Serialize)]
struct ToyRow {
    l: i32,
    l2_fixed_point: Vec<f64>,
    l2_gd_end: Vec<f64>,
    sd_fixed_point: Vec<f64>,
    sd_gd_end: Vec<f64>,
}

/// `gstarve toy --json`.
#[derive(Serialize)]
struct ToyJson {
    toy: Vec<ToyRow>,
}

/// Run `gstarve toy` (also the default with no subcommand).
pub fn toy(a: &ToyArgs) -> Result<()> {
    let mut rows = Vec::new();
    for l in 2..=6 {
        let sys = paper_toy(f64::from(l));
        let l2 = PrimalDynamics::new(
            &sys,
            Loss::Logistic,
            Regulariser::L2 {
                lambda: reference::TOY_LAMBDA_L2,
            },
        )?;
        let sd = PrimalDynamics::new(
            &sys,
            Loss::Logistic,
            Regulariser::SpectralDecoupling {
                lambda: reference::TOY_LAMBDA_SD,
            },
        )?;
        let gd = GdOptions::new(reference::TOY_ETA, reference::TOY_STEPS, 2, false)?;
        let z0 = DVector::zeros(2);
        let gd_l2 = gstarve_core::solvers::gd::gradient_descent(&l2, &z0, &gd)?;
        let gd_sd = gstarve_core::solvers::gd::gradient_descent(&sd, &z0, &gd)?;
        let fp_l2 = steady_state(&l2)?;
        let fp_sd = steady_state(&sd)?;
        let last = |s: &gstarve_core::ode::OdeSolution| {
            s.states.last().map(|z| z.to_vec()).unwrap_or_default()
        };
        rows.push(ToyRow {
            l,
            l2_fixed_point: fp_l2.responses.iter().copied().collect(),
            l2_gd_end: last(&gd_l2),
            sd_fixed_point: fp_sd.responses.iter().copied().collect(),
            sd_gd_end: last(&gd_sd),
        });
    }
    if a.json {
        println!(
            "{}",
            to_json_sorted(&ToyJson { toy: rows }, Layout::Compact)?
        );
        return Ok(());
    }
    println!(
        "The paper's toy (docs/theory.md §6.1): U = U(δ = 0.5), s = (l, 2); L2 λ = 0.01, SD λ = 0.002;"
    );
    println!(
        "GD η = 0.05 for 5000 steps from z = 0. Feature 1 starves feature 2 under L2 (z₂* falls"
    );
    println!("as l grows); SD gives every l the same steady state.\n");
    println!(
        "{:>2}  {:>22}  {:>22}  {:>22}  {:>22}",
        "l", "L2 fixed point z*", "L2 GD after 5000", "SD fixed point z*", "SD GD after 5000"
    );
    for r in &rows {
        // l unpadded, as the table has always printed it.
        println!(
            "{}  {:>22}  {:>22}  {:>22}  {:>22}",
            r.l,
            fmt_vec(&r.l2_fixed_point),
            fmt_vec(&r.l2_gd_end),
            fmt_vec(&r.sd_fixed_point),
            fmt_vec(&r.sd_gd_end)
        );
    }
    println!("\nMore: gstarve --help, gstarve simulate --help.");
    Ok(())
}

/// `gstarve check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    system: SystemArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Multiply every tolerance by this factor (a tiny value shows the checker fail).
    #[arg(long, default_value_t = 1.0)]
    tolerance_scale: f64,
    /// Print the table as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// `gstarve check --json` (keys sorted at every level, as printed since the first release).
#[derive(Serialize)]
struct CheckJson<'a> {
    passed: bool,
    checks: &'a [PredictionCheck],
}

/// Run `gstarve check`: exit status 1 if any applicable prediction fails, 3 if none applies.
pub fn check(a: &CheckArgs) -> Result<()> {
    let loaded = a.system.load_any_or(default_system)?;
    let options = CheckOptions {
        tolerance_scale: a.tolerance_scale,
        ..CheckOptions::default()
    };
    let (loss, regulariser) = match &loaded.multiclass {
        Some(_) => (Loss::Logistic, super::multiclass::regulariser(&a.model)?),
        None => a.model.model()?,
    };
    let rows = match &loaded.multiclass {
        Some(mc) => {
            let rows = check_multiclass(mc, regulariser, &options)?;
            if rows.is_empty() {
                return Err(NothingToCheck(
                    "a multi-class system without a regulariser has no steady state \
                     (docs/theory.md §9.3)",
                )
                .into());
            }
            rows
        }
        None => check_system(&loaded.system, loss, regulariser, &options)?,
    };
    if matches!(
        (loss, regulariser),
        (Loss::Logistic, Regulariser::L2 { .. })
    ) && loaded.multiclass.is_none()
        && loaded.system.examples() > DualDynamics::MAX_EXAMPLES
    {
        eprintln!(
            "note: no dual row: the dual flow needs the n × n Gram matrix (n = {} > {})",
            loaded.system.examples(),
            DualDynamics::MAX_EXAMPLES
        );
    }
    if rows.is_empty() {
        let reason = nothing_to_check(&loaded.system, loss, regulariser)
            .unwrap_or("no prediction of docs/theory.md applies to this system");
        return Err(NothingToCheck(reason).into());
    }
    if rows.iter().all(|r| r.verdict == Verdict::Info) {
        return Err(NothingToCheck(
            "every row is a comparison (INFO), none a claim that holds here: no prediction was checked",
        )
        .into());
    }
    let passed = all_passed(&rows);
    if a.json {
        let value = CheckJson {
            passed,
            checks: &rows,
        };
        println!("{}", to_json_sorted(&value, Layout::Compact)?);
    } else {
        println!(
            "{:<58} {:<4} {:>14} {:>14} {:>10} {:>10}  {:<4}  regime",
            "prediction", "§", "predicted", "numerical", "error", "tolerance", ""
        );
        for r in &rows {
            let verdict = match r.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::Info => "INFO",
            };
            println!(
                "{:<58} {:<4} {:>14.8} {:>14.8} {:>10.2e} {:>10.2e}  {verdict}  {}",
                r.prediction, r.section, r.predicted, r.numerical, r.error, r.tolerance, r.regime
            );
        }
        let failed = rows.iter().filter(|r| r.verdict == Verdict::Fail).count();
        println!(
            "\n{} predictions checked: {} passed, {failed} failed{}",
            rows.iter().filter(|r| r.verdict != Verdict::Info).count(),
            rows.iter().filter(|r| r.verdict == Verdict::Pass).count(),
            if rows.iter().any(|r| r.verdict == Verdict::Info) {
                " (INFO rows are comparisons, not claims)"
            } else {
                ""
            }
        );
    }
    if !passed {
        return Err(CheckFailed.into());
    }
    Ok(())
}

/// Some prediction failed (exit status 1).
#[derive(Debug)]
pub struct CheckFailed;

impl std::fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "some predictions failed their tolerance (see the FAIL rows above)"
        )
    }
}

impl std::error::Error for CheckFailed {}

/// No prediction applies to the setting (exit status 3).
#[derive(Debug)]
pub struct NothingToCheck(pub &'static str);

impl std::fmt::Display for NothingToCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "nothing to check: {}", self.0)
    }
}

impl std::error::Error for NothingToCheck {}
