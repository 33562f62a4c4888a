//! Sweeps in shards on the command line, one mechanism for every sweep that shards
//! (`phase-diagram` and `ensemble` with `--shard I/N`, or a Slurm array task), and
//! `gstarve merge DIR`: see `gstarve_core::sweeps::shards` for the file format and its
//! guarantees. A sweep supplies its canonical configuration, its items and how to compute them
//! ([`run_shard`]), and how to write its outputs from the merged items ([`Checked`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, FromArgMatches};
use gstarve_core::output::provenance;
use gstarve_core::sweeps::shards::format::is_binary_shard;
use gstarve_core::sweeps::shards::{
    hash_text, legacy, EnsembleSystems, PhaseRows, ShardHeader, ShardKind, ShardRun,
};
use gstarve_core::sweeps::{config_hash, Progress, Shard, ShardFile};

use super::{Cli, Command};

/// Whether this process is a Slurm array task (which makes a sweep a shard).
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

/// `arguments` without the option `name` and its value (`--name V` or `--name=V`).
fn without_option(arguments: impl IntoIterator<Item = String>, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut args = arguments.into_iter();
    let joined = format!("{name}=");
    while let Some(arg) = args.next() {
        if arg == name {
            args.next();
        } else if !arg.starts_with(&joined) {
            out.push(arg);
        }
    }
    out
}

/// The file of `shard` of the sweep named `name` in `dir`.
fn shard_path(dir: &Path, name: &str, shard: Shard) -> PathBuf {
    dir.join(format!("{name}.{}.bin", shard.suffix()))
}

/// Compute shard `shard` of the `items` items of a sweep of kind `K` (configuration
/// `canonical`, file stem `name`, in `dir`) with `compute`, resuming from what an earlier run
/// of it finished, and report on stderr.
pub fn run_shard<K: ShardKind>(
    dir: &Path,
    name: &str,
    shard: Shard,
    canonical: &str,
    items: usize,
    message: &'static str,
    compute: impl FnMut(&[usize], Progress) -> gstarve_core::Result<Vec<K::Item>>,
) -> Result<()> {
    gstarve_core::output::ensure_dir(dir)?;
    let path = shard_path(dir, name, shard);
    let header = ShardHeader {
        kind: K::KIND.to_string(),
        shard,
        items,
        config: config_hash(canonical),
        arguments: without_option(std::env::args().skip(1), "--shard"),
        provenance: provenance::installed()
            .and_then(|p| serde_json::to_string(&p).ok())
            .unwrap_or_default(),
    };
    let run = ShardRun::<K>::open(&path, header)?;
    let (i, n, unit) = (shard.index(), shard.count(), K::UNIT);
    if run.resumed() > 0 {
        eprintln!(
            "shard {i}/{n}: resuming, {} of {} {unit} already in {}",
            run.resumed(),
            run.resumed() + run.todo().len(),
            run.resumed_from().display()
        );
    }
    let report = run.run(message, super::progress::terminal(), compute)?;
    eprintln!(
        "shard {i}/{n}: {} {unit} of {items} in {:.3} s → {}",
        report.computed,
        report.wall_s,
        report.path.display()
    );
    Ok(())
}

/// `gstarve merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The folder the shards wrote into (their NAME.shard-I-of-N.bin files, or the .json files
    /// of earlier versions); the merged output is written there, as the unsharded run would
    /// have written it.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

/// What writes a merged set's outputs (the unsharded run's files) into a folder.
pub type WriteOutputs = Box<dyn FnOnce(&Path) -> Result<()>>;

/// A set of shards merged and checked, ready to write: the command it rebuilt (for its
/// provenance and the checks of the files it writes) and what writes its outputs into a folder.
pub struct Checked {
    /// What was merged, for stderr (`merged N shards of NAME: …`).
    pub summary: String,
    pub command: clap::Command,
    pub matches: clap::ArgMatches,
    pub write: WriteOutputs,
}

/// Merge every set of shards in a folder into the outputs of their unsharded runs: every set is
/// read and checked first, then all outputs are written as one batch (all appear, or none).
pub fn merge(m: &MergeArgs) -> Result<()> {
    let entries = std::fs::read_dir(&m.dir)
        .with_context(|| format!("cannot read the folder {}", m.dir.display()))?;
    let mut sets = BTreeMap::<(String, String), Vec<(String, ShardFile)>>::new();
    let mut unfinished = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if let Some(file) = path.to_str().and_then(|p| p.strip_suffix(".part")) {
            if let Some(stem) = shard_stem(Path::new(file)) {
                unfinished.push((stem, path.display().to_string()));
            }
            continue;
        }
        let Some(stem) = shard_stem(&path) else {
            continue;
        };
        let shown = path.display().to_string();
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read the shard file {shown}"))?;
        let mut file = if is_binary_shard(&bytes) {
            ShardFile::parse(&bytes, &shown)?
        } else {
            let text = String::from_utf8(bytes)
                .map_err(|_| anyhow::anyhow!("{shown}: not a gstarve shard file"))?;
            legacy::parse(&text, &shown)?
        };
        // The output folder, however it was spelled, is replaced by DIR in the merge.
        file.header.arguments = without_option(std::mem::take(&mut file.header.arguments), "--out");
        let key = (stem, file.header.kind.clone());
        sets.entry(key).or_default().push((shown, file));
    }
    if sets.is_empty() {
        bail!(
            "{} holds no shard files (NAME.shard-I-of-N.bin, written by phase-diagram --shard \
             or ensemble --shard)",
            m.dir.display()
        );
    }
    let mut checked = Vec::new();
    for ((stem, kind), files) in sets {
        let set = match kind.as_str() {
            PhaseRows::KIND => super::phase_diagram::merge_checked(&stem, &files, &m.dir),
            EnsembleSystems::KIND => super::ensemble::merge_checked(&stem, &files, &m.dir),
            other => bail!("{}: shards of an unknown sweep '{other}'", files[0].0),
        };
        let set = set.map_err(|e| match unfinished.iter().find(|(s, _)| *s == stem) {
            Some((_, part)) => e.context(format!(
                "{part} is the work in progress of a shard still running or killed (rerun it)"
            )),
            None => e,
        })?;
        // The refusal to replace a file of another configuration, before anything is written.
        super::outputs::Prepared::new(&set.command, &set.matches)?;
        super::outputs::before_work()?;
        checked.push(set);
    }
    let batch = gstarve_core::output::Batch::begin();
    let mut prepared = Vec::with_capacity(checked.len());
    for set in checked {
        // Installs the set's provenance for the files it stages.
        prepared.push(super::outputs::Prepared::new(&set.command, &set.matches)?);
        eprintln!("{}", set.summary);
        (set.write)(&m.dir)?;
    }
    super::outputs::commit_all(&prepared, batch)
}

/// NAME for a file NAME.shard-I-of-N.bin (or .json).
fn shard_stem(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let name = name
        .strip_suffix(".bin")
        .or_else(|| name.strip_suffix(".json"))?;
    let (stem, suffix) = name.rsplit_once(".shard-")?;
    let (i, n) = suffix.split_once("-of-")?;
    (i.parse::<usize>().is_ok() && n.parse::<usize>().is_ok()).then(|| stem.to_string())
}

/// The command a set of shards records, with its output folder replaced by `dir`, parsed as
/// the command line would be; refused unless its configuration hash is `config` (`path` names
/// the set, `canonical` gives the configuration this gstarve computes for the command).
pub fn rebuild(
    header: &ShardHeader,
    path: &str,
    dir: &Path,
    canonical: impl FnOnce(&Command) -> Result<String>,
) -> Result<(Command, clap::Command, clap::ArgMatches)> {
    let mut full = vec!["gstarve".to_string()];
    full.extend(without_option(header.arguments.iter().cloned(), "--out"));
    full.extend(["--out".to_string(), dir.display().to_string()]);
    let (command, matches) = super::parse(full.into_iter().map(Into::into).collect())
        .map_err(|e| anyhow::anyhow!("{path}: its arguments no longer parse: {}", e.kind()))?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    let Some(parsed) = cli.command else {
        bail!("{path}: its arguments name no command");
    };
    let hash = config_hash(&canonical(&parsed)?);
    if hash != header.config {
        bail!(
            "{path}: the shards' configuration {} is not what this gstarve computes from their \
             arguments ({}): they were made by another version",
            hash_text(header.config),
            hash_text(hash)
        );
    }
    Ok((parsed, command, matches))
}
