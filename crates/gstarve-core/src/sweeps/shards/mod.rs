//! Sharded sweeps, for job arrays (Slurm) and resumable runs: a sweep's grid rows are dealt
//! round-robin to N shards (row iy goes to shard iy mod N + 1, so cheap and costly regions are
//! spread evenly), each shard computes its rows and keeps them in its own file, and a merge checks
//! that every point is there exactly once, from one configuration, before the ordinary output is
//! written from them.
//!
//! A row is the unit because its points are computed left to right, each steady state
//! warm-started from its neighbour ([`phase_diagram_rows`](super::phase_diagram::phase_diagram_rows)):
//! a row's records are bit for bit the same whichever shard computes it, so the merged output
//! equals the unsharded one byte for byte.
//!
//! A shard file is JSON: the shard (I, N), the configuration's hash, the arguments that rebuild
//! the sweep, the grid size and one entry per finished row with its index iy, the configuration
//! hash again and each field of its records by column (ix = 0, 1, …), every number exact
//! ([`Exact`]). The caller rewrites it atomically as rows finish, so a killed shard loses only
//! the rows in flight and a rerun with the same configuration computes only the rows missing.

use std::collections::BTreeSet;
use std::hash::Hasher;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::measures::{MaskReason, PointRecord};
use crate::error::{Error, InputError, Result};

/// The version of the shard-file layout.
pub const SHARD_FORMAT: u32 = 1;

/// Shard I of N (1 ≤ I ≤ N).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

    /// The rows of a grid of `rows` rows that this shard computes: iy ≡ I − 1 (mod N).
    pub fn rows(&self, rows: usize) -> Vec<usize> {
        (self.index - 1..rows).step_by(self.count).collect()
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

/// A stable 64-bit hash (FNV-1a) of a configuration's canonical text, as 16 hex digits: the same
/// text gives the same hash on every machine and build.
pub fn config_hash(canonical: &str) -> String {
    let mut h = fnv::FnvHasher::default();
    h.write(canonical.as_bytes());
    format!("{:016x}", h.finish())
}

/// An f64 in a shard file, exactly: finite values as JSON numbers (written shortest-exact and
/// read back to the same bits), NaN as null, infinities as "inf" and "-inf".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exact(pub f64);

impl Serialize for Exact {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            v if v.is_finite() => s.serialize_f64(v),
            v if v.is_nan() => s.serialize_none(),
            v if v > 0.0 => s.serialize_str("inf"),
            _ => s.serialize_str("-inf"),
        }
    }
}

impl<'de> Deserialize<'de> for Exact {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(ExactVisitor)
    }
}

/// Reads what [`Exact`] writes (a visitor, not an untagged enum: no buffering per number).
struct ExactVisitor;

impl serde::de::Visitor<'_> for ExactVisitor {
    type Value = Exact;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number, null, \"inf\" or \"-inf\"")
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<Exact, E> {
        Ok(Exact(v))
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<Exact, E> {
        Ok(Exact(v as f64))
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<Exact, E> {
        Ok(Exact(v as f64))
    }

    fn visit_unit<E>(self) -> std::result::Result<Exact, E> {
        Ok(Exact(f64::NAN))
    }

    fn visit_str<E: serde::de::Error>(self, t: &str) -> std::result::Result<Exact, E> {
        match t {
            "inf" => Ok(Exact(f64::INFINITY)),
            "-inf" => Ok(Exact(f64::NEG_INFINITY)),
            _ => Err(E::custom(format!(
                "'{t}' is not a number (expected a number, null, \"inf\" or \"-inf\")"
            ))),
        }
    }
}

/// One finished grid row in a shard file: its index, the hash of the configuration that
/// computed it, and each field of its records by column (ix = 0, 1, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardRow {
    /// Row index.
    pub iy: usize,
    /// Hash of the configuration that computed it.
    pub config: String,
    /// [`PointRecord::value`].
    pub value: Vec<Exact>,
    /// [`MaskReason::name`], or "none".
    pub mask: Vec<String>,
    /// z₁*.
    pub z1: Vec<Exact>,
    /// z₂*.
    pub z2: Vec<Exact>,
    /// [`PointRecord::boundary`].
    pub boundary: Vec<Exact>,
    /// [`PointRecord::reference`].
    pub reference: Vec<Exact>,
    /// [`PointRecord::resolution`].
    pub resolution: Vec<Exact>,
}

impl ShardRow {
    /// Row `iy` of `records`, computed under `config`.
    pub fn new(iy: usize, config: &str, records: &[PointRecord]) -> Self {
        let column = |f: fn(&PointRecord) -> f64| records.iter().map(|r| Exact(f(r))).collect();
        Self {
            iy,
            config: config.to_string(),
            value: column(|r| r.value),
            mask: records
                .iter()
                .map(|r| r.mask.map_or("none", MaskReason::name).to_string())
                .collect(),
            z1: column(|r| r.responses[0]),
            z2: column(|r| r.responses[1]),
            boundary: column(|r| r.boundary),
            reference: column(|r| r.reference),
            resolution: column(|r| r.resolution),
        }
    }

    /// The number of points, if every column has the same length.
    fn len(&self) -> Option<usize> {
        let n = self.value.len();
        [
            self.mask.len(),
            self.z1.len(),
            self.z2.len(),
            self.boundary.len(),
            self.reference.len(),
            self.resolution.len(),
        ]
        .iter()
        .all(|&m| m == n)
        .then_some(n)
    }

    /// The records back, bit for bit (a NaN as the canonical NaN).
    pub fn records(&self, path: &str) -> Result<Vec<PointRecord>> {
        let n = self.len().ok_or_else(|| {
            parse_error(
                path,
                format!("row {}: its columns differ in length", self.iy),
            )
        })?;
        (0..n)
            .map(|ix| {
                let mask = match self.mask[ix].as_str() {
                    "none" => None,
                    name => Some(MaskReason::from_name(name).ok_or_else(|| {
                        parse_error(
                            path,
                            format!("point ({ix}, {}): unknown mask '{name}'", self.iy),
                        )
                    })?),
                };
                Ok(PointRecord {
                    value: self.value[ix].0,
                    mask,
                    responses: [self.z1[ix].0, self.z2[ix].0],
                    boundary: self.boundary[ix].0,
                    reference: self.reference[ix].0,
                    resolution: self.resolution[ix].0,
                })
            })
            .collect()
    }
}

fn parse_error(path: &str, message: String) -> Error {
    Error::Input(InputError::Parse {
        path: path.to_string(),
        message,
    })
}

/// The contents of one shard's file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardFile {
    /// [`SHARD_FORMAT`].
    pub format: u32,
    /// (I, N).
    pub shard: [usize; 2],
    /// Hash of the configuration ([`config_hash`] of its canonical text).
    pub config_hash: String,
    /// The arguments that rebuild the sweep (for a merge to write its output).
    pub arguments: Vec<String>,
    /// Grid size: columns (x points).
    pub columns: usize,
    /// Grid size: rows (y points).
    pub rows: usize,
    /// The finished rows.
    pub finished: Vec<ShardRow>,
}

impl ShardFile {
    /// An empty file for `shard` of a `columns` × `rows` sweep.
    pub fn new(
        shard: Shard,
        config_hash: String,
        arguments: Vec<String>,
        columns: usize,
        rows: usize,
    ) -> Self {
        Self {
            format: SHARD_FORMAT,
            shard: [shard.index, shard.count],
            config_hash,
            arguments,
            columns,
            rows,
            finished: Vec::new(),
        }
    }

    /// Read a shard file.
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

    /// Parse a shard file's text (`shown` names it in errors).
    pub fn parse(text: &str, shown: &str) -> Result<Self> {
        let file: ShardFile = serde_json::from_str(text)
            .map_err(|e| parse_error(shown, format!("not a gstarve shard file: {e}")))?;
        if file.format != SHARD_FORMAT {
            return Err(parse_error(
                shown,
                format!(
                    "shard format {} (this gstarve reads {SHARD_FORMAT})",
                    file.format
                ),
            ));
        }
        Ok(file)
    }

    /// Write it atomically and at once, even inside a command's output batch (a reader sees
    /// the previous complete file or this one).
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string(self)
            .map_err(|e| parse_error(&path.display().to_string(), e.to_string()))?;
        crate::output::write_now(path, text.as_bytes())
    }

    /// The rows this file holds.
    pub fn finished_rows(&self) -> BTreeSet<usize> {
        self.finished.iter().map(|r| r.iy).collect()
    }

    /// Append row `iy`'s records.
    pub fn push_row(&mut self, iy: usize, records: &[PointRecord]) {
        let row = ShardRow::new(iy, &self.config_hash, records);
        self.finished.push(row);
    }
}

/// Check a complete set of shard files (`(path, file)`) and return the grid's records,
/// row-major, with the arguments that rebuild the sweep. Every shard 1..N must be there once,
/// all from the same configuration and arguments, and every grid point exactly once, computed
/// under that configuration; anything else is an error naming the first offence.
pub fn merge_shards(files: &[(String, ShardFile)]) -> Result<(Vec<String>, Vec<PointRecord>)> {
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
        if f.shard[1] != count || (f.columns, f.rows) != (first.columns, first.rows) {
            return Err(parse_error(
                path,
                format!(
                    "shard {}/{} of a {}×{} grid does not match {first_path} (shard {}/{count} of {}×{})",
                    f.shard[0], f.shard[1], f.columns, f.rows, first.shard[0], first.columns, first.rows
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
    let (nx, ny) = (first.columns, first.rows);
    let mut records: Vec<Option<PointRecord>> = vec![None; nx * ny];
    for (path, f) in files {
        for row in &f.finished {
            if row.iy >= ny {
                return Err(parse_error(
                    path,
                    format!("row {} is outside the {nx}×{ny} grid", row.iy),
                ));
            }
            if row.config != first.config_hash {
                return Err(parse_error(
                    path,
                    format!(
                        "row {} was computed under configuration {}, not {}",
                        row.iy, row.config, first.config_hash
                    ),
                ));
            }
            let points = row.records(path)?;
            if points.len() != nx {
                return Err(parse_error(
                    path,
                    format!("row {} has {} points, not {nx}", row.iy, points.len()),
                ));
            }
            for (ix, p) in points.into_iter().enumerate() {
                let slot = &mut records[row.iy * nx + ix];
                if slot.is_some() {
                    return Err(parse_error(
                        path,
                        format!("point ({ix}, {}) appears more than once", row.iy),
                    ));
                }
                *slot = Some(p);
            }
        }
    }
    if let Some(k) = records.iter().position(Option::is_none) {
        return Err(parse_error(
            first_path,
            format!(
                "point ({}, {}) is missing: its shard {}/{count} has not finished",
                k % nx,
                k / nx,
                (k / nx) % count + 1
            ),
        ));
    }
    Ok((
        first.arguments.clone(),
        records.into_iter().flatten().collect(),
    ))
}

#[cfg(test)]
mod tests;
