//! `gstarve ensemble`: the distribution of starvation-matrix entries E_ji over random systems,
//! against spectrum decay and coupling (docs/theory.md §7.5), as a figure with its per-cell CSV
//! (and optionally a per-system CSV); shardable like phase diagrams (`--shard I/N`, Slurm array
//! tasks, `gstarve merge DIR`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;
use gstarve_core::output::check_output_dir;
use gstarve_core::sweeps::ensemble::shards::EnsembleShardFile;
use gstarve_core::sweeps::ensemble::{
    ensemble, ensemble_systems, Coupling, Ensemble, EnsembleSpec,
};
use gstarve_core::sweeps::{config_hash, Progress, Shard};
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
    /// DIR/NAME.shard-I-of-N.json, resuming from that file if it exists; `gstarve merge DIR`
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
        return run_shard(a, &spec, shard);
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

/// Seconds between checkpoints of a shard's file (as phase-diagram shards).
const CHECKPOINT_S: f64 = 10.0;
/// Seconds of work per batch of a shard (after the first).
const BATCH_S: f64 = 2.0;

/// Compute this shard's systems, resuming from its file when it holds systems of the same
/// configuration, checkpointing at most every [`CHECKPOINT_S`] seconds.
fn run_shard(a: &EnsembleArgs, spec: &EnsembleSpec, shard: Shard) -> Result<()> {
    let start = Instant::now();
    let dir = &a.output.out;
    gstarve_core::output::ensure_dir(dir)?;
    let path = dir.join(format!("{}.{}.json", a.name(), shard.suffix()));
    let hash = config_hash(&a.canonical(spec));
    let total = spec.total_systems();
    let mut file = if path.exists() {
        let old = EnsembleShardFile::read(&path)?;
        if old.config_hash != hash || old.shard != [shard.index(), shard.count()] {
            bail!(
                "{} holds shard {}/{} of configuration {}, not shard {}/{} of {hash}: remove it \
                 or choose another --out",
                path.display(),
                old.shard[0],
                old.shard[1],
                old.config_hash,
                shard.index(),
                shard.count()
            );
        }
        old
    } else {
        EnsembleShardFile::new(shard, hash, super::shards::arguments_without_shard(), total)
    };
    let finished = file.finished_systems();
    let todo: Vec<usize> = shard
        .rows(total)
        .into_iter()
        .filter(|g| !finished.contains(g))
        .collect();
    if !finished.is_empty() {
        eprintln!(
            "shard {}/{}: resuming, {} of {} systems already in {}",
            shard.index(),
            shard.count(),
            finished.len(),
            finished.len() + todo.len(),
            path.display()
        );
    }
    let bar = match super::progress::terminal() {
        Progress::Observer(o) => Some(o),
        _ => None,
    };
    if let Some(o) = bar {
        o.begin("ensemble", "systems", todo.len());
    }
    // The first batch is a few systems per thread; each next one holds about BATCH_S seconds of
    // work at the rate measured so far (so a kill loses little, and rayon has work to balance).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let first = 4 * threads;
    let mut batch = first;
    let (mut done, mut last_write) = (0, Instant::now());
    while done < todo.len() {
        let chunk = &todo[done..(done + batch).min(todo.len())];
        let t = Instant::now();
        let base = done;
        let report = |k: usize, _: usize| {
            if let Some(o) = bar {
                o.advance(base + k, todo.len());
            }
        };
        let systems = ensemble_systems(spec, chunk, Progress::Callback(&report))?;
        file.push(&systems);
        done += chunk.len();
        let rate = chunk.len() as f64 / t.elapsed().as_secs_f64().max(1e-6);
        batch = ((rate * BATCH_S) as usize).clamp(first, 1 << 16);
        if last_write.elapsed().as_secs_f64() >= CHECKPOINT_S {
            file.write(&path)?;
            last_write = Instant::now();
        }
    }
    if let Some(o) = bar {
        o.end();
    }
    file.write(&path)?;
    eprintln!(
        "shard {}/{}: {} systems of {} in {:.3} s → {}",
        shard.index(),
        shard.count(),
        todo.len(),
        total,
        start.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}

/// Merge one complete set of ensemble shards (`files`, in shard order) into `dir`: the files the
/// unsharded run writes there, under its provenance and checks.
pub fn merge(stem: &str, files: &[(String, EnsembleShardFile)], dir: &Path) -> Result<()> {
    let (arguments, systems) =
        gstarve_core::sweeps::ensemble::shards::merge_ensemble_shards(files)?;
    let (command, clap_command, matches) = super::shards::rebuild(&arguments, &files[0].0, dir)?;
    let Some(super::Command::Ensemble(args)) = command else {
        bail!("{}: its arguments are not an ensemble command", files[0].0);
    };
    let spec = args.spec()?;
    let hash = config_hash(&args.canonical(&spec));
    if hash != files[0].1.config_hash {
        bail!(
            "{}: the shards' configuration {} is not what this gstarve computes from their \
             arguments ({hash}): they were made by another version",
            files[0].0,
            files[0].1.config_hash
        );
    }
    if systems.len() != spec.total_systems() {
        bail!(
            "{}: the shards hold {} systems, the ensemble has {}",
            files[0].0,
            systems.len(),
            spec.total_systems()
        );
    }
    let e = Ensemble::assemble(spec, systems, 0.0);
    eprintln!(
        "merged {} shards of {stem}: {} systems in {} cells",
        files.len(),
        e.systems.len(),
        e.cells.len()
    );
    let prepared = super::outputs::Prepared::new(&clap_command, &matches)?;
    super::outputs::before_work()?;
    let batch = gstarve_core::output::Batch::begin();
    write_ensemble(&e, &args, dir)?;
    prepared.commit(batch)
}
