//! Sharded ensembles: the layout of [`crate::sweeps::shards`] with systems as the points. System
//! g (global index cell·M + k) goes to shard g mod N + 1, round-robin, so every shard draws
//! systems from every cell; each system depends only on the specification and g, so its entries
//! are bit for bit the same in any shard, and the merged output equals the unsharded one byte for
//! byte.
//!
//! A file is JSON: `"kind": "ensemble"`, the shard (I, N), the configuration's hash, the
//! arguments that rebuild the run, the number of systems, and one entry per finished system with
//! its index, the configuration hash, its seed, failure, residual, iterations and its n(n−1)
//! off-diagonal E_ji, every number exact ([`Exact`]).

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::SystemOutcome;
use crate::error::{Error, InputError, Result};
use crate::sweeps::shards::{Exact, Shard, SHARD_FORMAT};

/// The `kind` of an ensemble's shard file.
pub const ENSEMBLE_KIND: &str = "ensemble";

/// One finished system in a shard file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnsembleShardEntry {
    /// Global index cell·M + k.
    pub index: usize,
    /// Hash of the configuration that computed it.
    pub config: String,
    /// The system's seed.
    pub seed: u64,
    /// Its numerical failure, if any.
    pub failure: Option<String>,
    /// Fixed-point residual.
    pub residual: Exact,
    /// Newton iterations.
    pub iterations: usize,
    /// Off-diagonal E_ji (row-major, NaN where masked).
    pub elasticities: Vec<Exact>,
}

impl EnsembleShardEntry {
    fn new(config: &str, s: &SystemOutcome) -> Self {
        Self {
            index: s.index,
            config: config.to_string(),
            seed: s.seed,
            failure: s.failure.clone(),
            residual: Exact(s.residual),
            iterations: s.iterations,
            elasticities: s.elasticities.iter().map(|&e| Exact(e)).collect(),
        }
    }

    fn outcome(&self) -> SystemOutcome {
        SystemOutcome {
            index: self.index,
            seed: self.seed,
            failure: self.failure.clone(),
            residual: self.residual.0,
            iterations: self.iterations,
            elasticities: self.elasticities.iter().map(|e| e.0).collect(),
        }
    }
}

/// The contents of one ensemble shard's file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnsembleShardFile {
    /// [`SHARD_FORMAT`].
    pub format: u32,
    /// [`ENSEMBLE_KIND`].
    pub kind: String,
    /// (I, N).
    pub shard: [usize; 2],
    /// Hash of the configuration.
    pub config_hash: String,
    /// The arguments that rebuild the run.
    pub arguments: Vec<String>,
    /// Systems in the whole ensemble.
    pub systems: usize,
    /// The finished systems.
    pub finished: Vec<EnsembleShardEntry>,
}

fn parse_error(path: &str, message: String) -> Error {
    Error::Input(InputError::Parse {
        path: path.to_string(),
        message,
    })
}

/// Whether a shard file's text is an ensemble's (its `kind`), without keeping its contents.
pub fn is_ensemble_shard(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Kind {
        kind: Option<String>,
    }
    serde_json::from_str::<Kind>(text).is_ok_and(|k| k.kind.as_deref() == Some(ENSEMBLE_KIND))
}

impl EnsembleShardFile {
    /// An empty file for `shard` of an ensemble of `systems` systems.
    pub fn new(shard: Shard, config_hash: String, arguments: Vec<String>, systems: usize) -> Self {
        Self {
            format: SHARD_FORMAT,
            kind: ENSEMBLE_KIND.into(),
            shard: [shard.index(), shard.count()],
            config_hash,
            arguments,
            systems,
            finished: Vec::new(),
        }
    }

    /// Parse a file's text (`path` names it in errors).
    pub fn parse(text: &str, path: &str) -> Result<Self> {
        let file: Self = serde_json::from_str(text)
            .map_err(|e| parse_error(path, format!("not a gstarve ensemble shard file: {e}")))?;
        if file.format != SHARD_FORMAT || file.kind != ENSEMBLE_KIND {
            return Err(parse_error(
                path,
                format!(
                    "shard format {} of kind '{}' (this gstarve reads {SHARD_FORMAT}, '{ENSEMBLE_KIND}')",
                    file.format, file.kind
                ),
            ));
        }
        Ok(file)
    }

    /// Read a file.
    pub fn read(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| {
            Error::Input(InputError::Read {
                path: shown.clone(),
                source,
            })
        })?;
        Self::parse(&text, &shown)
    }

    /// Write it atomically and at once (see [`crate::sweeps::ShardFile::write`]).
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string(self)
            .map_err(|e| parse_error(&path.display().to_string(), e.to_string()))?;
        crate::output::write_now(path, text.as_bytes())
    }

    /// The systems this file holds.
    pub fn finished_systems(&self) -> BTreeSet<usize> {
        self.finished.iter().map(|e| e.index).collect()
    }

    /// Append finished systems.
    pub fn push(&mut self, systems: &[SystemOutcome]) {
        for s in systems {
            let entry = EnsembleShardEntry::new(&self.config_hash, s);
            self.finished.push(entry);
        }
    }
}

/// Check a complete set of ensemble shard files and return every system in index order, with
/// the arguments that rebuild the run: every shard 1..N once, one configuration, every system
/// exactly once; anything else is an error naming the first offence.
pub fn merge_ensemble_shards(
    files: &[(String, EnsembleShardFile)],
) -> Result<(Vec<String>, Vec<SystemOutcome>)> {
    let Some((first_path, first)) = files.first() else {
        return Err(Error::Input(InputError::Empty {
            what: "shard folder",
            rule: "it holds no shard files (NAME.shard-I-of-N.json)",
        }));
    };
    let count = first.shard[1];
    let mut seen = vec![None::<&str>; count];
    for (path, f) in files {
        if f.config_hash != first.config_hash || f.arguments != first.arguments {
            return Err(parse_error(
                path,
                format!(
                    "configuration {} differs from {first_path}'s {}: shards of different runs",
                    f.config_hash, first.config_hash
                ),
            ));
        }
        if f.shard[1] != count
            || f.systems != first.systems
            || f.shard[0] == 0
            || f.shard[0] > count
        {
            return Err(parse_error(
                path,
                format!(
                    "shard {}/{} of {} systems does not match {first_path} (shard {}/{count} of {})",
                    f.shard[0], f.shard[1], f.systems, first.shard[0], first.systems
                ),
            ));
        }
        let slot = &mut seen[f.shard[0] - 1];
        if let Some(other) = slot {
            return Err(parse_error(
                path,
                format!("shard {}/{count} is also in {other}", f.shard[0]),
            ));
        }
        *slot = Some(path);
    }
    if let Some(missing) = seen.iter().position(Option::is_none) {
        return Err(parse_error(
            first_path,
            format!("shard {}/{count} is missing", missing + 1),
        ));
    }
    let total = first.systems;
    let mut systems: Vec<Option<SystemOutcome>> = vec![None; total];
    for (path, f) in files {
        for e in &f.finished {
            if e.index >= total {
                return Err(parse_error(
                    path,
                    format!("system {} is outside the ensemble's {total}", e.index),
                ));
            }
            if e.config != first.config_hash {
                return Err(parse_error(
                    path,
                    format!(
                        "system {} was computed under configuration {}, not {}",
                        e.index, e.config, first.config_hash
                    ),
                ));
            }
            let slot = &mut systems[e.index];
            if slot.is_some() {
                return Err(parse_error(
                    path,
                    format!("system {} appears more than once", e.index),
                ));
            }
            *slot = Some(e.outcome());
        }
    }
    if let Some(g) = systems.iter().position(Option::is_none) {
        return Err(parse_error(
            first_path,
            format!(
                "system {g} is missing: its shard {}/{count} has not finished",
                g % count + 1
            ),
        ));
    }
    Ok((
        first.arguments.clone(),
        systems.into_iter().flatten().collect(),
    ))
}
