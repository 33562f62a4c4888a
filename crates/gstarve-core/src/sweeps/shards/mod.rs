//! Sharded sweeps, for job arrays (Slurm) and resumable runs — one mechanism for every sweep
//! that shards (phase diagrams by grid row, ensembles by system). A sweep is a list of items
//! 0..M; item g goes to shard g mod N + 1, round-robin, so cheap and costly regions are spread
//! evenly. Each item's result depends only on the sweep's configuration and g (a phase-diagram
//! row is computed left to right, each steady state warm-started from its neighbour; an
//! ensemble's system is seeded by its index), so it is bit for bit the same whichever shard
//! computes it, and the merged output equals the unsharded one byte for byte.
//!
//! - [`format`]: the shard file — a header (kind, shard I/N, item count, configuration hash, the
//!   arguments that rebuild the sweep, provenance), then one record per finished item with its
//!   index, the configuration hash and its result, every f64 bit for bit, each record with its
//!   own checksum; little-endian binary;
//! - [`run`]: computing a shard — finished items are appended to `FILE.part` batch by batch
//!   ([`Journal`](crate::output::Journal)), so a killed job keeps them and a rerun computes only
//!   the rest; the complete file is renamed onto `FILE`, which appears whole or not at all;
//! - [`merge`](mod@merge): checks that a set of shard files is one sweep's, every shard once,
//!   every item once and from that configuration, and returns the items in order;
//! - [`kinds`]: what one item's result is, per sweep ([`ShardKind`]);
//! - [`legacy`]: the JSON shard files of earlier versions, still merged.

pub mod format;
pub mod kinds;
pub mod legacy;
pub mod merge;
pub mod run;

use std::hash::Hasher;
use std::str::FromStr;

use crate::error::{Error, InputError, Result};

pub use format::{ShardFile, ShardHeader, SHARD_FORMAT};
pub use kinds::{EnsembleSystems, PhaseRows, ShardKind};
pub use merge::{merge_shards, Merged};
pub use run::{ShardReport, ShardRun};

/// Shard I of N (1 ≤ I ≤ N).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shard {
    index: usize,
    count: usize,
}

fn invalid(text: &str, rule: &str) -> Error {
    Error::Input(InputError::InvalidText {
        name: "shard",
        text: text.to_string(),
        rule: rule.to_string(),
    })
}

impl Shard {
    /// Shard `index` of `count`, 1 ≤ index ≤ count.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 || index == 0 || index > count {
            return Err(invalid(
                &format!("{index}/{count}"),
                "a shard is I/N with 1 ≤ I ≤ N",
            ));
        }
        Ok(Self { index, count })
    }

    /// The shard a Slurm array task stands for, from `SLURM_ARRAY_TASK_ID`,
    /// `SLURM_ARRAY_TASK_MIN` and `SLURM_ARRAY_TASK_COUNT` read through `var`: I = ID − MIN + 1,
    /// N = COUNT. `None` outside an array job (no `SLURM_ARRAY_TASK_ID`). An array with gaps or
    /// a step (`--array=0-15:2`) has IDs that do not map onto 1..N, which is refused.
    pub fn from_slurm(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        let Some(id) = var("SLURM_ARRAY_TASK_ID") else {
            return Ok(None);
        };
        let read = |name: &str, text: Option<String>| -> Result<usize> {
            let text = text.ok_or_else(|| {
                invalid(
                    &id,
                    &format!("SLURM_ARRAY_TASK_ID is set but {name} is not"),
                )
            })?;
            text.trim()
                .parse()
                .map_err(|_| invalid(&text, &format!("{name} must be a whole number ≥ 0")))
        };
        let task = read("SLURM_ARRAY_TASK_ID", Some(id.clone()))?;
        let min = read("SLURM_ARRAY_TASK_MIN", var("SLURM_ARRAY_TASK_MIN"))?;
        let count = read("SLURM_ARRAY_TASK_COUNT", var("SLURM_ARRAY_TASK_COUNT"))?;
        if task < min || task - min >= count {
            return Err(invalid(
                &id,
                "SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN must be below SLURM_ARRAY_TASK_COUNT \
                 (use a contiguous array such as --array=0-15, or pass --shard I/N)",
            ));
        }
        Self::new(task - min + 1, count).map(Some)
    }

    /// I (1-based).
    pub fn index(&self) -> usize {
        self.index
    }

    /// N.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The items of a sweep of `items` items that this shard computes: g ≡ I − 1 (mod N).
    pub fn items(&self, items: usize) -> Vec<usize> {
        (self.index - 1..items).step_by(self.count).collect()
    }

    /// The shard that computes item `g`.
    pub fn of_item(g: usize, count: usize) -> usize {
        g % count + 1
    }

    /// The file stem suffix of this shard's file, `shard-I-of-N`.
    pub fn suffix(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// `I/N`.
    fn from_str(text: &str) -> Result<Self> {
        let rule = "a shard is I/N with whole numbers 1 ≤ I ≤ N, e.g. 3/8";
        let (i, n) = text.split_once('/').ok_or_else(|| invalid(text, rule))?;
        let parse = |t: &str| t.trim().parse::<usize>().map_err(|_| invalid(text, rule));
        Self::new(parse(i)?, parse(n)?).map_err(|_| invalid(text, rule))
    }
}

/// A stable 64-bit hash (FNV-1a) of a configuration's canonical text: the same text gives the
/// same hash on every machine and build. Shown as 16 hex digits ([`hash_text`]).
pub fn config_hash(canonical: &str) -> u64 {
    let mut h = fnv::FnvHasher::default();
    h.write(canonical.as_bytes());
    h.finish()
}

/// A configuration hash as 16 hex digits, as messages (and earlier JSON shard files) show it.
pub fn hash_text(hash: u64) -> String {
    format!("{hash:016x}")
}

fn parse_error(path: &str, message: String) -> Error {
    Error::Input(InputError::Parse {
        path: path.to_string(),
        message,
    })
}

#[cfg(test)]
mod tests;
