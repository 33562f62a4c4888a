//! Shard files of format 1 (JSON, written by gstarve before the binary format 2), read into
//! the same [`ShardFile`] as the binary ones, so a merge takes them (alone or mixed with binary
//! shards of the same sweep) and a shard rerun carries their items over. Nothing writes them.
//!
//! A phase diagram's file: `{"format": 1, "shard": [I, N], "config_hash": "<16 hex>",
//! "arguments": [...], "columns": nx, "rows": ny, "finished": [{"iy", "config", "value", "mask",
//! "z1", "z2", "boundary", "reference", "resolution"}, ...]}`, each field by column; an
//! ensemble's adds `"kind": "ensemble"`, has `"systems"` for the grid size and finished entries
//! `{"index", "config", "seed", "failure", "residual", "iterations", "elasticities"}`. Numbers
//! are exact: finite values shortest-exact, NaN as null, infinities as "inf" and "-inf".

use std::path::Path;

use serde::Deserialize;

use super::format::{read_bytes, Record, ShardFile, ShardHeader};
use super::{parse_error, EnsembleSystems, PhaseRows, Shard, ShardKind};
use crate::error::Result;
use crate::sweeps::ensemble::SystemOutcome;
use crate::sweeps::measures::{MaskReason, PointRecord};

/// An f64 as format 1 wrote it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Exact(f64);

impl<'de> Deserialize<'de> for Exact {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(ExactVisitor)
    }
}

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
            _ => Err(E::custom(format!("'{t}' is not a number"))),
        }
    }
}

#[derive(Deserialize)]
struct Row {
    iy: usize,
    config: String,
    value: Vec<Exact>,
    mask: Vec<String>,
    z1: Vec<Exact>,
    z2: Vec<Exact>,
    boundary: Vec<Exact>,
    reference: Vec<Exact>,
    resolution: Vec<Exact>,
}

#[derive(Deserialize)]
struct System {
    index: usize,
    config: String,
    seed: u64,
    failure: Option<String>,
    residual: Exact,
    iterations: usize,
    elasticities: Vec<Exact>,
}

#[derive(Deserialize)]
struct File {
    format: u32,
    kind: Option<String>,
    shard: [usize; 2],
    config_hash: String,
    arguments: Vec<String>,
    columns: Option<usize>,
    rows: Option<usize>,
    systems: Option<usize>,
    #[serde(default)]
    finished: Vec<serde_json::Value>,
}

fn hash(text: &str, shown: &str) -> Result<u64> {
    u64::from_str_radix(text, 16)
        .map_err(|_| parse_error(shown, format!("'{text}' is not a configuration hash")))
}

fn row(r: Row, columns: usize, shown: &str) -> Result<Record> {
    let n = r.value.len();
    let lengths = [&r.z1, &r.z2, &r.boundary, &r.reference, &r.resolution].map(Vec::len);
    if n != columns || r.mask.len() != n || lengths.iter().any(|&m| m != n) {
        return Err(parse_error(
            shown,
            format!("row {}: its columns are not {columns} points each", r.iy),
        ));
    }
    let points = (0..n)
        .map(|ix| {
            let mask = match r.mask[ix].as_str() {
                "none" => None,
                name => Some(MaskReason::from_name(name).ok_or_else(|| {
                    parse_error(
                        shown,
                        format!("point ({ix}, {}): unknown mask '{name}'", r.iy),
                    )
                })?),
            };
            Ok(PointRecord {
                value: r.value[ix].0,
                mask,
                responses: [r.z1[ix].0, r.z2[ix].0],
                boundary: r.boundary[ix].0,
                reference: r.reference[ix].0,
                resolution: r.resolution[ix].0,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut payload = Vec::new();
    PhaseRows::encode(&points, &mut payload);
    Ok(Record {
        index: r.iy,
        config: hash(&r.config, shown)?,
        payload,
    })
}

fn system(s: System, shown: &str) -> Result<Record> {
    let outcome = SystemOutcome {
        index: s.index,
        seed: s.seed,
        failure: s.failure,
        residual: s.residual.0,
        iterations: s.iterations,
        elasticities: s.elasticities.iter().map(|e| e.0).collect(),
    };
    let mut payload = Vec::new();
    EnsembleSystems::encode(&outcome, &mut payload);
    Ok(Record {
        index: s.index,
        config: hash(&s.config, shown)?,
        payload,
    })
}

fn entry<T: serde::de::DeserializeOwned>(v: serde_json::Value, shown: &str) -> Result<T> {
    serde_json::from_value(v)
        .map_err(|e| parse_error(shown, format!("not a gstarve shard file: {e}")))
}

/// Parse a format-1 shard file's text (`shown` names it in errors).
pub fn parse(text: &str, shown: &str) -> Result<ShardFile> {
    let bad = |e: String| parse_error(shown, format!("not a gstarve shard file: {e}"));
    let f: File = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    if f.format != 1 {
        return Err(bad(format!("JSON shard format {} (expected 1)", f.format)));
    }
    let shard = Shard::new(f.shard[0], f.shard[1]).map_err(|e| bad(e.to_string()))?;
    let config = hash(&f.config_hash, shown)?;
    let (kind, items, records) = match f.kind.as_deref() {
        Some("ensemble") => {
            let items = f.systems.ok_or_else(|| bad("no system count".into()))?;
            let records = f
                .finished
                .into_iter()
                .map(|v| system(entry(v, shown)?, shown))
                .collect::<Result<Vec<_>>>()?;
            (EnsembleSystems::KIND, items, records)
        }
        None => {
            let (Some(columns), Some(items)) = (f.columns, f.rows) else {
                return Err(bad("no grid size".into()));
            };
            let records = f
                .finished
                .into_iter()
                .map(|v| row(entry(v, shown)?, columns, shown))
                .collect::<Result<Vec<_>>>()?;
            (PhaseRows::KIND, items, records)
        }
        Some(other) => return Err(bad(format!("unknown kind '{other}'"))),
    };
    Ok(ShardFile {
        header: ShardHeader {
            kind: kind.to_string(),
            shard,
            items,
            config,
            arguments: f.arguments,
            provenance: String::new(),
        },
        records,
    })
}

/// Read a format-1 shard file of kind `K`.
pub fn read<K: ShardKind>(path: &Path) -> Result<ShardFile> {
    let shown = path.display().to_string();
    let bytes = read_bytes(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| parse_error(&shown, "not a gstarve shard file: not UTF-8 text".into()))?;
    let file = parse(&text, &shown)?;
    if file.header.kind != K::KIND {
        return Err(parse_error(
            &shown,
            format!(
                "a shard of a {} sweep, not of a {}",
                file.header.kind,
                K::KIND
            ),
        ));
    }
    Ok(file)
}
