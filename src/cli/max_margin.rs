//! `gstarve max-margin`: the limit λ → 0 of the L2 steady state (docs/theory.md §11): ẑ, its
//! direction, α̂, the support vectors, the margins, the KKT residuals and the limit elasticities.

use anyhow::Result;
use clap::Args;
use gstarve_core::output::{to_json_sorted, Layout};
use gstarve_core::solvers::max_margin::KktResiduals;
use gstarve_core::theory::max_margin::{elasticity_path, limit};
use gstarve_plot::{limit_path, LimitPathOptions};
use nalgebra::DVector;
use serde::Serialize;

use super::commands::{default_system, fmt_vec};
use super::SystemArgs;

/// `gstarve max-margin`.
#[derive(Args, Debug)]
pub struct MaxMarginArgs {
    #[command(flatten)]
    system: SystemArgs,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Also draw E₂₁(λ) of the L2 steady state against log₁₀(1/λ), λ = 1e-1 … 1e-12 (half
    /// decades), with its limit E^∞₂₁, into DIR/max-margin-path.{png,csv} (docs/theory.md §11.3).
    #[arg(long, value_name = "DIR")]
    path_figure: Option<std::path::PathBuf>,
}

/// λ = 10^(−1 − k/2), k = 0 … 22: 1e-1 to 1e-12 in half decades.
fn path_lambdas() -> Vec<f64> {
    (0..=22)
        .map(|k| 10f64.powf(-1.0 - 0.5 * k as f64))
        .collect()
}

/// `gstarve max-margin --json` (keys sorted).
#[derive(Serialize)]
struct MaxMarginJson {
    /// ẑ = argmin ½zᵀS⁻²z subject to Uz ≥ 1.
    z_hat: Vec<f64>,
    /// ẑ/‖ẑ‖₂.
    direction: Vec<f64>,
    /// α̂ ≥ 0.
    alpha: Vec<f64>,
    /// α̂_i > 0.
    support: Vec<bool>,
    /// U ẑ.
    margins: Vec<f64>,
    /// Every example a support vector (K⁻¹1 > 0): ẑ = Uᵀ1, SD's direction.
    all_support: bool,
    /// K⁻¹1 = US⁻²Uᵀ1.
    inverse_gram_ones: Vec<f64>,
    /// E^∞_ji = lim_{λ→0} ∂log|z_j*|/∂log s_i² (rows j, columns i), `null` where ẑ_j = 0.
    elasticity: Vec<Vec<Option<f64>>>,
    kkt: KktResiduals,
    /// Pivoting rounds (Cholesky solves of the support system).
    iterations: usize,
}

/// Run `gstarve max-margin`.
pub fn max_margin(a: &MaxMarginArgs) -> Result<()> {
    let loaded = a.system.load_or(default_system)?;
    let lim = limit(&loaded.system)?;
    let sol = &lim.solution;
    if let Some(dir) = &a.path_figure {
        if loaded.system.rank() < 2 {
            anyhow::bail!("--path-figure draws E₂₁: the system needs at least 2 features");
        }
        let points = elasticity_path(&loaded.system, &lim, (1, 0), &path_lambdas())?;
        let limit = lim.elasticities[(1, 0)]
            .ok_or_else(|| anyhow::anyhow!("E₂₁ has no limit here: ẑ₂ = 0"))?;
        gstarve_core::output::ensure_dir(dir)?;
        let written = limit_path(&points, limit, dir, &LimitPathOptions::default())?;
        for p in written.images.iter().chain([&written.data]) {
            eprintln!("wrote {}", p.display());
        }
    }
    let to_vec = |v: &DVector<f64>| v.iter().copied().collect::<Vec<f64>>();
    let elasticity: Vec<Vec<Option<f64>>> = lim
        .elasticities
        .row_iter()
        .map(|row| row.iter().copied().collect())
        .collect();
    if a.json {
        let value = MaxMarginJson {
            z_hat: to_vec(&sol.z_hat),
            direction: to_vec(&sol.direction),
            alpha: to_vec(&sol.alpha),
            support: sol.support.clone(),
            margins: to_vec(&sol.margins),
            all_support: lim.all_support(),
            inverse_gram_ones: to_vec(&lim.inverse_gram_ones),
            elasticity,
            kkt: sol.kkt,
            iterations: sol.iterations,
        };
        println!("{}", to_json_sorted(&value, Layout::Compact)?);
        return Ok(());
    }
    let supports = sol.support.iter().filter(|&&s| s).count();
    println!("z_hat     = {}", fmt_vec(sol.z_hat.as_slice()));
    println!("direction = {}", fmt_vec(sol.direction.as_slice()));
    println!("alpha     = {}", fmt_vec(sol.alpha.as_slice()));
    println!("margins   = {}", fmt_vec(sol.margins.as_slice()));
    println!(
        "support vectors: {supports} of {}{}",
        sol.support.len(),
        if lim.all_support() {
            " (all: ẑ = Uᵀ1, the SD direction; no starvation survives λ → 0)"
        } else {
            " (not all: starvation may survive λ → 0)"
        }
    );
    let k = sol.kkt;
    println!(
        "KKT residuals: primal {:.1e}, dual {:.1e}, complementarity {:.1e}, support margins \
         {:.1e}, stationarity {:.1e} ({} pivoting rounds)",
        k.primal_infeasibility,
        k.dual_infeasibility,
        k.complementarity,
        k.support_margin_error,
        k.stationarity,
        sol.iterations
    );
    Ok(())
}
