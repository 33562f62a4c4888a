//! Sharded phase diagrams (`phase-diagram --shard I/N`, or a Slurm array task) and
//! `gstarve merge DIR`: see `gstarve_core::sweeps::shards` for the layout and its guarantees.
//! Ensembles shard the same way (their runner is in `super::ensemble`); a merge recognises
//! their files by their kind.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, FromArgMatches};
use gstarve_core::sweeps::ensemble::shards::{is_ensemble_shard, EnsembleShardFile};
use gstarve_core::sweeps::{
    config_hash, merge_shards, phase_diagram_rows, PhaseDiagram, PhaseDiagramSpec, Progress, Shard,
    ShardFile,
};

use super::phase_diagram::{self, PhaseDiagramArgs};
use super::{Cli, Command};

/// Rows computed in parallel between two looks at the clock.
const ROWS_PER_BATCH: usize = 16;
/// Seconds between checkpoints: a shard rewrites its file when a batch ends this long after the
/// last write (and at the end), so a killed job loses at most this much work plus one batch,
/// and a fast sweep writes its file once.
const CHECKPOINT_S: f64 = 10.0;

/// Whether this process is a Slurm array task (which makes a phase diagram a shard).
pub fn slurm_task() -> bool {
    std::env::var_os("SLURM_ARRAY_TASK_ID").is_some()
}

/// The shard asked for: `--shard I/N`, else a Slurm array task's variables, else none.
pub fn requested(flag: Option<&str>) -> Result<Option<Shard>> {
    if let Some(text) = flag {
        return Ok(Some(text.parse()?));
    }
    Ok(Shard::from_slurm(|k| std::env::var(k).ok())?)
}

/// The configuration a shard's results depend on, as canonical text: the program version, the
/// sweep's specification (every f64 printed exactly) and what the merged output is written as.
fn canonical(spec: &PhaseDiagramSpec, a: &PhaseDiagramArgs) -> String {
    format!(
        "gstarve {}; phase-diagram; {spec:?}; output: {}",
        env!("CARGO_PKG_VERSION"),
        a.output_identity()
    )
}

/// The command's arguments without `--shard` (what a merge parses to rebuild the sweep).
pub(super) fn arguments_without_shard() -> Vec<String> {
    let mut out = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--shard" {
            args.next();
        } else if !arg.starts_with("--shard=") {
            out.push(arg);
        }
    }
    out
}

/// The file of `shard` for the diagram named `name` in `dir`.
fn shard_path(dir: &Path, name: &str, shard: Shard) -> PathBuf {
    dir.join(format!("{name}.{}.json", shard.suffix()))
}

/// Compute this shard's rows of the diagram, resuming from its file when it holds rows of the
/// same configuration, and checkpointing after every batch.
pub fn run_shard(a: &PhaseDiagramArgs, spec: &PhaseDiagramSpec, shard: Shard) -> Result<()> {
    let start = Instant::now();
    let dir = &a.output_dir();
    gstarve_core::output::ensure_dir(dir)?;
    let path = shard_path(dir, &a.name(), shard);
    let hash = config_hash(&canonical(spec, a));
    let (nx, ny) = (spec.grid.x.points, spec.grid.y.points);
    let mut file = if path.exists() {
        let old = ShardFile::read(&path)?;
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
        ShardFile::new(shard, hash, arguments_without_shard(), nx, ny)
    };
    let finished = file.finished_rows();
    let todo: Vec<usize> = shard
        .rows(ny)
        .into_iter()
        .filter(|iy| !finished.contains(iy))
        .collect();
    if !finished.is_empty() {
        eprintln!(
            "shard {}/{}: resuming, {} of {} rows already in {}",
            shard.index(),
            shard.count(),
            finished.len(),
            finished.len() + todo.len(),
            path.display()
        );
    }
    let mut last_write = Instant::now();
    // One bar over the shard's rows (the batches report into it from their worker threads).
    let bar = match super::progress::terminal() {
        Progress::Observer(o) => Some(o),
        _ => None,
    };
    if let Some(o) = bar {
        o.begin(spec.measure.name(), "rows", todo.len());
    }
    for (k, batch) in todo.chunks(ROWS_PER_BATCH).enumerate() {
        let base = k * ROWS_PER_BATCH;
        let report = |done: usize, _: usize| {
            if let Some(o) = bar {
                o.advance(base + done, todo.len());
            }
        };
        let rows = phase_diagram_rows(spec, batch, Progress::Callback(&report))?;
        for (&iy, row) in batch.iter().zip(&rows) {
            file.push_row(iy, row);
        }
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
        "shard {}/{}: {} rows of {} in {:.3} s → {}",
        shard.index(),
        shard.count(),
        todo.len(),
        ny,
        start.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}

/// `gstarve merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The folder the shards wrote into (their NAME.shard-I-of-N.json files); the merged output
    /// is written there, as the unsharded run would have written it.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

/// Merge every complete set of shards in a folder into the outputs of the unsharded run.
pub fn merge(m: &MergeArgs) -> Result<()> {
    let entries = std::fs::read_dir(&m.dir)
        .with_context(|| format!("cannot read the folder {}", m.dir.display()))?;
    let mut groups = std::collections::BTreeMap::<String, Vec<(String, ShardFile)>>::new();
    let mut ensembles =
        std::collections::BTreeMap::<String, Vec<(String, EnsembleShardFile)>>::new();
    for entry in entries {
        let path = entry?.path();
        let Some(stem) = shard_stem(&path) else {
            continue;
        };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the shard file {shown}"))?;
        if is_ensemble_shard(&text) {
            let file = EnsembleShardFile::parse(&text, &shown)?;
            ensembles.entry(stem).or_default().push((shown, file));
            continue;
        }
        let file = ShardFile::parse(&text, &shown)?;
        groups.entry(stem).or_default().push((shown, file));
    }
    if groups.is_empty() && ensembles.is_empty() {
        bail!(
            "{} holds no shard files (NAME.shard-I-of-N.json, written by phase-diagram --shard \
             or ensemble --shard)",
            m.dir.display()
        );
    }
    for (stem, mut files) in ensembles {
        files.sort_by_key(|(_, f)| f.shard[0]);
        super::ensemble::merge(&stem, &files, &m.dir)?;
    }
    for (stem, mut files) in groups {
        files.sort_by_key(|(_, f)| f.shard[0]);
        let (arguments, records) = merge_shards(&files)?;
        let (args, command, matches) = rebuild_phase_diagram(&arguments, &files[0].0, &m.dir)?;
        let spec = args.spec()?;
        let hash = config_hash(&canonical(&spec, &args));
        if hash != files[0].1.config_hash {
            bail!(
                "{}: the shards' configuration {} is not what this gstarve computes from their \
                 arguments ({hash}): they were made by another version",
                files[0].0,
                files[0].1.config_hash
            );
        }
        let diagram = PhaseDiagram::assemble(spec, records, 0.0);
        eprintln!(
            "merged {} shards of {stem}: {}×{} points",
            files.len(),
            diagram.x.len(),
            diagram.y.len()
        );
        // The files the unsharded command writes into DIR: its provenance, its checks against
        // files there, one batch.
        let prepared = super::outputs::Prepared::new(&command, &matches)?;
        super::outputs::before_work()?;
        let batch = gstarve_core::output::Batch::begin();
        phase_diagram::write_phase_diagram(&diagram, &args, &m.dir)?;
        prepared.commit(batch)?;
    }
    Ok(())
}

/// NAME for a file NAME.shard-I-of-N.json.
fn shard_stem(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?.strip_suffix(".json")?;
    let (stem, suffix) = name.rsplit_once(".shard-")?;
    let (i, n) = suffix.split_once("-of-")?;
    (i.parse::<usize>().is_ok() && n.parse::<usize>().is_ok()).then(|| stem.to_string())
}

/// The phase-diagram command a shard file records, with its output folder replaced by `dir`,
/// parsed as the command line would be.
fn rebuild_phase_diagram(
    arguments: &[String],
    path: &str,
    dir: &Path,
) -> Result<(PhaseDiagramArgs, clap::Command, clap::ArgMatches)> {
    match rebuild(arguments, path, dir)? {
        (Some(Command::PhaseDiagram(a)), command, matches) => Ok((a, command, matches)),
        _ => bail!("{path}: its arguments are not a phase-diagram command"),
    }
}

/// The command a shard file records, with its output folder replaced by `dir`, parsed as the
/// command line would be.
pub(super) fn rebuild(
    arguments: &[String],
    path: &str,
    dir: &Path,
) -> Result<(Option<Command>, clap::Command, clap::ArgMatches)> {
    let mut full = vec!["gstarve".to_string()];
    let mut recorded = arguments.iter();
    while let Some(arg) = recorded.next() {
        if arg == "--out" {
            recorded.next();
        } else if !arg.starts_with("--out=") {
            full.push(arg.clone());
        }
    }
    full.extend(["--out".to_string(), dir.display().to_string()]);
    let (command, matches) = super::parse(full.into_iter().map(Into::into).collect())
        .map_err(|e| anyhow::anyhow!("{path}: its arguments no longer parse: {}", e.kind()))?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    Ok((cli.command, command, matches))
}
