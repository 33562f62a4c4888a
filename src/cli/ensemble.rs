//! `gstarve ensemble`: the distribution of starvation-matrix entries E_ji over random systems,
//! against spectrum decay and coupling (docs/theory.md §7.5), as a figure with its per-cell CSV
//! (and optionally a per-system CSV); shardable like phase diagrams (`--shard I/N`, Slurm array
//! tasks, `gstarve merge DIR`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use gstarve_core::output::check_output_dir;
use gstarve_core::sweeps::ensemble::{
    ensemble, ensemble_systems, Coupling, Ensemble, EnsembleSpec,
};
use gstarve_core::sweeps::shards::{merge_shards, EnsembleSystems, ShardFile};
use gstarve_plot::{ensemble_figure, EnsembleOptions, FigureSize};

use super::figures::{FigureLook, FigureOutput};

/// `gstarve ensemble`.
#[derive(Args, Debug)]
#[command(
    after_help = "Each cell (a spectrum decay and a coupling) holds --systems random systems of \
    n examples and n features: strengths s_j = s_n·decay^((n−j)/(n−1)) (s_n = --weakest), \
    coupling U Haar-random ('haar') or U = exp(δA) with A antisymmetric, A_ij ~ N(0,1) below \
    the diagonal (a number δ; 0 is decoupled). For each system, the starvation matrix E_ji = \
    ∂log|z_j*|/∂log s_i² at the L2 steady state (logistic loss); per cell, over the off-diagonal \
    entries of all its systems: the fraction that starve (E_ji < −max(threshold, 1e-10)) with its standard \
    error over systems, the systems with any starving entry, and the entries' mean, min, \
    5/25/50/75/95 % quantiles and max. System k of cell c is seeded from (--seed, c, k) alone, \
    so shards and the unsharded run draw the same systems; a Haar system is `gstarve \
    fixed-point --random n --spectrum s1:sn --seed SEED` with the seed of the per-system CSV. \
    See docs/usage.md and docs/theory.md §7.5."
)]
pub struct EnsembleArgs {
    /// Examples and features of each system (2–2000).
    #[arg(long, default_value_t = 8)]
    n: usize,
    /// Spectrum decays s₁/s_n ≥ 1, comma-separated (the horizontal axis).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2,4,8,16,32",
        allow_negative_numbers = true
    )]
    decay: Vec<f64>,
    /// Couplings, comma-separated: a near-identity strength δ ≥ 0 (U = exp(δA)) or `haar`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0,0.05,0.1,0.2,0.4,haar",
        allow_hyphen_values = true
    )]
    coupling: Vec<String>,
    /// Random systems per cell.
    #[arg(long, default_value_t = 200)]
    systems: usize,
    /// The ensemble's seed (each system's own seed derives from it, its cell and its index).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// λ of L2.
    #[arg(long = "lambda", default_value_t = 0.01, allow_negative_numbers = true)]
    lambda: f64,
    /// The weakest strength s_n (> 0); s₁ = decay·s_n.
    #[arg(long, default_value_t = 2.0, allow_negative_numbers = true)]
    weakest: f64,
    /// An entry starves when E_ji < −max(threshold, 1e-10) (threshold ≥ 0; the floor 1e-10 keeps
    /// rounding noise around E_ji = 0 out of the count).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    threshold: f64,
    /// Also write NAME-systems.csv, one line per system (seed, status, residual, iterations,
    /// entries, starving, fraction, min, median, max).
    #[arg(long)]
    per_system: bool,
    /// File stem [default: ensemble].
    #[arg(long)]
    name: Option<String>,
    /// Compute only shard I of N (systems I−1, I−1+N, … in cell order) into
    /// DIR/NAME.shard-I-of-N.bin, resuming from what an earlier run of it finished; `gstarve merge DIR`
    /// then writes the outputs of the whole run. Without the flag, a Slurm array task is shard
    /// ID−MIN+1 of COUNT. See docs/scale-out.md.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    #[command(flatten)]
    output: FigureOutput,
    #[command(flatten)]
    look: FigureLook,
}

impl EnsembleArgs {
    /// The ensemble these arguments ask for, validated.
    pub fn spec(&self) -> Result<EnsembleSpec> {
        let couplings = self
            .coupling
            .iter()
            .map(|c| c.parse::<Coupling>())
            .collect::<gstarve_core::Result<Vec<_>>>()?;
        let spec = EnsembleSpec {
            n: self.n,
            decays: self.decay.clone(),
            couplings,
            systems: self.systems,
            seed: self.seed,
            lambda: self.lambda,
            weakest: self.weakest,
            threshold: self.threshold,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// The file stem.
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| "ensemble".into())
    }

    fn options(&self) -> Result<EnsembleOptions> {
        Ok(EnsembleOptions {
            name: self.name(),
            formats: self.output.formats,
            size: self.look.size(FigureSize::PAGE)?,
        })
    }

    /// The configuration a shard's results depend on, as canonical text.
    fn canonical(&self, spec: &EnsembleSpec) -> String {
        format!(
            "gstarve {}; ensemble; {spec:?}; output: name {:?}, formats {:?}, per-system {}, look {:?}",
            env!("CARGO_PKG_VERSION"),
            self.name(),
            self.output.formats,
            self.per_system,
            self.look
        )
    }
}

/// Run `gstarve ensemble` (or one shard of it).
pub fn run_ensemble(a: &EnsembleArgs) -> Result<()> {
    let spec = a.spec()?;
    a.options()?;
    check_output_dir(&a.output.out)?;
    if let Some(shard) = super::shards::requested(a.shard.as_deref())? {
        return super::shards::run_shard::<EnsembleSystems>(
            &a.output.out,
            &a.name(),
            shard,
            &a.canonical(&spec),
            spec.total_systems(),
            "ensemble",
            |systems, progress| ensemble_systems(&spec, systems, progress),
        );
    }
    super::outputs::before_work()?;
    let e = ensemble(&spec, super::progress::terminal())?;
    eprintln!(
        "{} systems in {} cells in {:.3} s; {} failed",
        e.systems.len(),
        e.cells.len(),
        e.wall_s,
        e.failed()
    );
    print_cells(&e);
    write_ensemble(&e, a, &a.output.out)
}

/// The cells on stdout: decay, coupling, fraction ± standard error, median.
fn print_cells(e: &Ensemble) {
    println!("decay\tcoupling\tfraction starving ± se\tmedian E_ji\tsystems starving");
    for c in &e.cells {
        println!(
            "{}\t{}\t{:.4} ± {:.4}\t{:.4e}\t{}/{}",
            c.decay,
            c.coupling,
            c.fraction,
            c.fraction_se,
            c.quantiles[2],
            c.systems_starving,
            c.systems - c.failed
        );
    }
}

/// The per-system CSV of the ensemble named `name` in `dir`.
pub fn systems_csv(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}-systems.csv"))
}

/// Write a computed ensemble's figure, CSV (and per-system CSV) into `dir` as `a` asks.
pub fn write_ensemble(e: &Ensemble, a: &EnsembleArgs, dir: &Path) -> Result<()> {
    ensemble_figure(e, dir, &a.options()?)?;
    if a.per_system {
        e.systems_table()?.write(&systems_csv(dir, &a.name()))?;
    }
    Ok(())
}

/// Check a set of ensemble shards (`files`, of the ensemble named `stem`) and rebuild the
/// ensemble the unsharded run computes, to be written into `dir`.
pub fn merge_checked(
    stem: &str,
    files: &[(String, ShardFile)],
    dir: &Path,
) -> Result<super::shards::Checked> {
    let merged = merge_shards::<EnsembleSystems>(files)?;
    let path = &files[0].0;
    let (parsed, command, matches) =
        super::shards::rebuild(&merged.header, path, dir, |c| match c {
            super::Command::Ensemble(a) => Ok(a.canonical(&a.spec()?)),
            _ => bail!("{path}: its arguments are not an ensemble command"),
        })?;
    let super::Command::Ensemble(args) = parsed else {
        unreachable!("rebuild's canonical accepts only an ensemble command")
    };
    let spec = args.spec()?;
    if merged.items.len() != spec.total_systems() {
        bail!(
            "{path}: the shards hold {} systems, the ensemble has {}",
            merged.items.len(),
            spec.total_systems()
        );
    }
    let e = Ensemble::assemble(spec, merged.items, 0.0);
    Ok(super::shards::Checked {
        summary: format!(
            "merged {} shards of {stem}: {} systems in {} cells",
            files.len(),
            e.systems.len(),
            e.cells.len()
        ),
        command,
        matches,
        write: Box::new(move |dir| write_ensemble(&e, &args, dir)),
    })
}
