//! A command's outputs as one: its provenance (installed for every file and JSON document it
//! writes), the files it will write (checked before any work: a file made by another command
//! or configuration is replaced only with `--force`), the batch that makes them visible
//! together, and the signal handler that removes its temporary files on SIGINT and SIGTERM.
//!
//! The refusal to replace a file is found when the command starts and raised by
//! [`before_work`], which each command calls once its options are validated and before its
//! computation, so that a rejected option is reported first; a command that never calls it
//! gets the refusal when it commits, still before any file is replaced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use anyhow::{bail, Result};
use clap::ArgMatches;
use gstarve_core::output::provenance::{self, has_sidecar, recorded, sidecar_path, Recorded};
use gstarve_core::output::{Batch, Provenance};
use gstarve_core::sweeps::measures::Measure;
use gstarve_plot::{Formats, GALLERY_NAMES};
use serde_json::Value;

/// Options that choose where and in which form results go, not what they are: left out of the
/// configuration hash.
const OUTPUT_ONLY: &[&str] = &[
    "out",
    "out-kernel",
    "out-labels",
    "format",
    "name",
    "json",
    "force",
];

/// The commit gstarve was built from, when built from a git checkout (build.rs).
pub const GIT: Option<&str> = option_env!("GSTARVE_GIT");

/// What `gstarve --version` prints after the name: `0.1.0 (git <commit>)`.
pub fn version_line() -> &'static str {
    static LINE: OnceLock<String> = OnceLock::new();
    LINE.get_or_init(|| match GIT {
        Some(git) => format!("{} (git {git})", env!("CARGO_PKG_VERSION")),
        None => format!(
            "{} (not built from a git checkout)",
            env!("CARGO_PKG_VERSION")
        ),
    })
}

/// The default job's gallery (`gstarve` with no subcommand): its folder, formats and grid.
pub const DEFAULT_JOB: [(&str, &str); 3] =
    [("out", "plots"), ("format", "png,svg"), ("grid", "128")];

/// The command path (`gstarve reproduce moons`) and every option of its leaf command as
/// resolved, given or default, by long name; and whether it has a `--name` option.
fn command_and_parameters(
    command: &clap::Command,
    matches: &ArgMatches,
) -> (String, BTreeMap<String, Value>, bool) {
    let mut path = vec![command.get_name().to_string()];
    let (mut cmd, mut m) = (command, matches);
    while let Some((name, sub)) = m.subcommand() {
        path.push(name.to_string());
        match cmd.find_subcommand(name) {
            Some(c) => cmd = c,
            None => break,
        }
        m = sub;
    }
    let mut parameters = BTreeMap::new();
    if path.len() == 1 {
        // The default job: its fixed options.
        for (k, v) in DEFAULT_JOB {
            parameters.insert(k.to_string(), Value::from(v));
        }
    }
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if matches!(id, "help" | "version") {
            continue;
        }
        let Ok(Some(raw)) = m.try_get_raw(id) else {
            continue;
        };
        let values: Vec<Value> = raw
            .map(|v| Value::from(v.to_string_lossy().into_owned()))
            .collect();
        let key = arg.get_long().unwrap_or(id).to_string();
        let value = match <[Value; 1]>::try_from(values) {
            Ok([one]) => one,
            Err(many) => Value::from(many),
        };
        parameters.insert(key, value);
    }
    // `--force` is global: it is read from the top level whatever the subcommand.
    parameters.insert(
        "force".to_string(),
        Value::from(matches.get_flag("force").to_string()),
    );
    let named = cmd.get_arguments().any(|a| a.get_long() == Some("name"));
    (path.join(" "), parameters, named)
}

fn text<'a>(parameters: &'a BTreeMap<String, Value>, key: &str) -> Option<&'a str> {
    parameters.get(key).and_then(Value::as_str)
}

/// The default file stem of `gstarve phase-diagram`: it names the measure, so that diagrams of
/// different measures never share a file.
pub fn phase_diagram_stem(measure: Measure) -> String {
    format!("phase-diagram-{}", measure.name())
}

/// A figure's files: `<stem>.png`/`.svg`/`.pdf` as chosen, `<stem>.csv` and its sidecar.
fn figure_files(dir: &Path, stem: &str, formats: Formats) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if formats.png {
        files.push(dir.join(format!("{stem}.png")));
    }
    if formats.svg {
        files.push(dir.join(format!("{stem}.svg")));
    }
    if formats.pdf {
        files.push(dir.join(format!("{stem}.pdf")));
    }
    let csv = dir.join(format!("{stem}.csv"));
    files.push(sidecar_path(&csv));
    files.push(csv);
    files
}

/// A data file and, when its format cannot hold the provenance, its sidecar.
fn data_file(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    if has_sidecar(path) {
        files.push(sidecar_path(path));
    }
    files
}

/// The files a command will write, known from its options before any work.
fn planned(command: &str, p: &BTreeMap<String, Value>) -> Vec<PathBuf> {
    let leaf = command.strip_prefix("gstarve").unwrap_or(command).trim();
    let path = |key: &str| text(p, key).map(PathBuf::from);
    if leaf == "simulate" {
        return path("out")
            .map(|dir| data_file(&dir.join("trajectories.csv")))
            .unwrap_or_default();
    }
    if leaf == "system" || leaf == "network" {
        return ["out", "out-kernel", "out-labels"]
            .iter()
            .filter_map(|k| path(k))
            .flat_map(|f| data_file(&f))
            .collect();
    }
    if leaf == "reproduce ood" {
        // The figure and, beside it, the feature table (gstarve_plot::ood_figure).
        return match (
            path("out"),
            text(p, "format").and_then(|f| f.parse::<Formats>().ok()),
        ) {
            (Some(dir), Some(formats)) => {
                let mut files = figure_files(&dir, "ood-accuracy", formats);
                files.extend(data_file(&dir.join("ood-features.csv")));
                files
            }
            _ => Vec::new(),
        };
    }
    let stems: Vec<String> = match leaf {
        "" | "gallery" => GALLERY_NAMES.iter().map(|s| s.to_string()).collect(),
        "reproduce toy" => vec!["toy-figure".into()],
        "reproduce moons" => ["moons-responses", "moons-boundary", "moons-features"]
            .map(String::from)
            .to_vec(),
        "reproduce moons-sd-classes" => [
            "moons-sd-classes-responses",
            "moons-sd-classes-boundary",
            "moons-sd-classes-features",
        ]
        .map(String::from)
        .to_vec(),
        "reproduce moons-width" => vec!["moons-linearised".into(), "moons-width".into()],
        "reproduce multiclass" => ["responses", "regions", "starvation"]
            .map(|k| format!("multiclass-{k}"))
            .to_vec(),
        "reproduce remedies" => vec!["remedies-boundary".into(), "remedies".into()],
        // A shard writes only its own file, checked against its configuration by the shard.
        "phase-diagram" if text(p, "shard").is_some() || super::shards::slurm_task() => Vec::new(),
        "phase-diagram" => match text(p, "name") {
            Some(name) => vec![name.to_string()],
            None => text(p, "measure")
                .and_then(|m| m.parse::<Measure>().ok())
                .map(phase_diagram_stem)
                .into_iter()
                .collect(),
        },
        // An ensemble shard writes only its own file, as a phase-diagram shard.
        "ensemble" if text(p, "shard").is_some() || super::shards::slurm_task() => Vec::new(),
        "ensemble" => vec![text(p, "name").unwrap_or("ensemble").to_string()],
        _ => text(p, "name").map(String::from).into_iter().collect(),
    };
    let (Some(dir), Some(formats)) = (
        path("out"),
        text(p, "format").and_then(|f| f.parse::<Formats>().ok()),
    ) else {
        return Vec::new();
    };
    // Tables without a figure.
    let tables: &[&str] = match leaf {
        "reproduce moons" => &["moons-reversal.csv"],
        "reproduce moons-sd-classes" => &["moons-sd-classes-margins.csv"],
        _ => &[],
    };
    let mut files: Vec<PathBuf> = stems
        .iter()
        .flat_map(|stem| figure_files(&dir, stem, formats))
        .chain(tables.iter().flat_map(|t| data_file(&dir.join(t))))
        .collect();
    if leaf == "ensemble" && text(p, "per-system") == Some("true") {
        files.extend(
            stems
                .iter()
                .flat_map(|stem| data_file(&super::ensemble::systems_csv(&dir, stem))),
        );
    }
    files
}

/// The refusal to replace `path` without `--force`, when it was not made by this
/// configuration; `Ok(true)` when it exists and may be replaced.
fn may_replace(path: &Path, ours: &Provenance, force: bool, named: bool) -> Result<bool> {
    let found = recorded(path);
    let why = match &found {
        Recorded::Missing => return Ok(false),
        Recorded::Made(p) if p.config == ours.config => return Ok(true),
        _ if force => return Ok(true),
        Recorded::Made(p) => format!(
            "was made by `{}` with another configuration (config {}, this run {})",
            p.command, p.config, ours.config
        ),
        Recorded::Unknown => {
            "records no gstarve provenance (another program's file, or an older gstarve's)"
                .to_string()
        }
    };
    let what_to_do = if ours.command == "gstarve" {
        // The default job has no options but --force.
        "run `gstarve --force` to replace it, or move it away"
    } else if named {
        "give --force to replace it, or write elsewhere with --out or --name"
    } else {
        "give --force to replace it, or write elsewhere with --out"
    };
    bail!("{} exists and {why}; {what_to_do}", path.display())
}

/// The refusal found by [`Prepared::new`], waiting for [`before_work`].
static REFUSAL: Mutex<Option<anyhow::Error>> = Mutex::new(None);

fn take_refusal() -> Option<anyhow::Error> {
    REFUSAL.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Called by each command after validating its options and before its computation: fails if
/// a file it will write may not be replaced (made by another configuration, no `--force`).
pub fn before_work() -> Result<()> {
    match take_refusal() {
        Some(refusal) => Err(refusal),
        None => Ok(()),
    }
}

/// A command about to run: its provenance is installed, its planned files checked.
pub struct Prepared {
    planned: Vec<PathBuf>,
    /// The command has a `--name` option (a file stem).
    named: bool,
    /// Planned files that exist and will be replaced.
    pub replaced: Vec<PathBuf>,
    force: bool,
    provenance: Provenance,
}

impl Prepared {
    /// Install the provenance of the command `matches` holds and check the files it will write
    /// (a refusal is raised by [`before_work`]).
    pub fn new(command: &clap::Command, matches: &ArgMatches) -> Result<Self> {
        let (name, parameters, named) = command_and_parameters(command, matches);
        let force = matches.get_flag("force");
        let provenance = Provenance::new(
            env!("CARGO_PKG_VERSION"),
            GIT.map(String::from),
            name,
            parameters,
            OUTPUT_ONLY,
        );
        let planned = planned(&provenance.command, &provenance.parameters);
        let mut replaced = Vec::new();
        for path in &planned {
            match may_replace(path, &provenance, force, named) {
                Ok(true) => replaced.push(path.clone()),
                Ok(false) => {}
                Err(refusal) => {
                    *REFUSAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(refusal);
                    break;
                }
            }
        }
        provenance::install(provenance.clone());
        Ok(Self {
            planned,
            named,
            replaced,
            force,
            provenance,
        })
    }

    /// Rename every staged output into place (checking any file that was not planned, which
    /// should not happen) and report each on stderr.
    pub fn commit(&self, batch: Batch) -> Result<()> {
        commit_all(std::slice::from_ref(self), batch)
    }
}

/// [`Prepared::commit`] for one batch holding the outputs of several prepared commands (a merge
/// of several sets of shards): a file none of them planned is checked against the first.
pub fn commit_all(prepared: &[Prepared], batch: Batch) -> Result<()> {
    before_work()?;
    for target in batch.targets() {
        if !prepared.iter().any(|p| p.planned.contains(&target)) {
            eprintln!(
                "gstarve: warning: {} was not checked before computing",
                target.display()
            );
            if let Some(p) = prepared.first() {
                may_replace(&target, &p.provenance, p.force, p.named)?;
            }
        }
    }
    for path in batch.commit()? {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// On SIGINT and SIGTERM: remove every temporary file (after a commit in progress, which
/// finishes first) and end the process by the signal, as its default action would.
#[cfg(unix)]
pub fn remove_temporaries_on_signals() -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            gstarve_core::output::abandon();
            let _ = signal_hook::low_level::emulate_default_handler(signal);
            std::process::exit(128 + signal);
        }
    });
    Ok(())
}

/// Elsewhere, Ctrl-C ends the process with its temporary files (no handler).
#[cfg(not(unix))]
pub fn remove_temporaries_on_signals() -> Result<()> {
    Ok(())
}
