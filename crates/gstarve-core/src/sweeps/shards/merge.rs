//! The merge of a set of shard files: every shard 1..N once, one sweep (kind, configuration,
//! arguments, item count), every item exactly once and computed under that configuration;
//! anything else is an error naming the first offence and its file.

use super::format::{ShardFile, ShardHeader};
use super::{hash_text, parse_error, Shard, ShardKind};
use crate::error::{Error, InputError, Result};

/// A complete sweep out of its shards.
#[derive(Debug)]
pub struct Merged<T> {
    /// The header of shard 1 (the sweep's kind, configuration and arguments).
    pub header: ShardHeader,
    /// The items, in index order.
    pub items: Vec<T>,
}

/// Check a set of shard files (`(name, file)`, in any order) and return the sweep's items in
/// order, decoded as `K`'s.
pub fn merge_shards<K: ShardKind>(files: &[(String, ShardFile)]) -> Result<Merged<K::Item>> {
    let Some((first_path, first)) = files.iter().min_by_key(|(_, f)| f.header.shard.index()) else {
        return Err(Error::Input(InputError::Empty {
            what: "shard folder",
            rule: "it holds no shard files (NAME.shard-I-of-N.bin)",
        }));
    };
    let h = &first.header;
    let count = h.shard.count();
    let mut seen = vec![None::<&str>; count];
    for (path, f) in files {
        let g = &f.header;
        if g.kind != K::KIND {
            return Err(parse_error(
                path,
                format!("a shard of a {} sweep, not of a {}", g.kind, K::KIND),
            ));
        }
        if g.config == h.config && g.arguments != h.arguments {
            return Err(parse_error(
                path,
                format!(
                    "its command line differs from {first_path}'s ({:?} against {:?}): shards \
                     of one run record the same arguments",
                    g.arguments.join(" "),
                    h.arguments.join(" ")
                ),
            ));
        }
        if g.config != h.config {
            return Err(parse_error(
                path,
                format!(
                    "configuration {} differs from {first_path}'s {}: shards of different runs",
                    hash_text(g.config),
                    hash_text(h.config)
                ),
            ));
        }
        if g.shard.count() != count || g.items != h.items {
            return Err(parse_error(
                path,
                format!(
                    "shard {}/{} of {} {} does not match {first_path} (shard {}/{count} of {})",
                    g.shard.index(),
                    g.shard.count(),
                    g.items,
                    K::UNIT,
                    h.shard.index(),
                    h.items
                ),
            ));
        }
        let slot = &mut seen[g.shard.index() - 1];
        if let Some(other) = slot {
            return Err(parse_error(
                path,
                format!("shard {}/{count} is also in {other}", g.shard.index()),
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
    let unit = K::UNIT.trim_end_matches('s');
    let mut items: Vec<Option<K::Item>> = (0..h.items).map(|_| None).collect();
    for (path, f) in files {
        for r in &f.records {
            if r.index >= h.items {
                return Err(parse_error(
                    path,
                    format!("{unit} {} is outside the sweep's {}", r.index, h.items),
                ));
            }
            if r.config != h.config {
                return Err(parse_error(
                    path,
                    format!(
                        "{unit} {} was computed under configuration {}, not {}",
                        r.index,
                        hash_text(r.config),
                        hash_text(h.config)
                    ),
                ));
            }
            let slot = &mut items[r.index];
            if slot.is_some() {
                return Err(parse_error(
                    path,
                    format!("{unit} {} appears more than once", r.index),
                ));
            }
            let item = K::decode(r.index, &r.payload)
                .map_err(|e| parse_error(path, format!("{unit} {}: {e}", r.index)))?;
            *slot = Some(item);
        }
    }
    if let Some(g) = items.iter().position(Option::is_none) {
        return Err(parse_error(
            first_path,
            format!(
                "{unit} {g} is missing: its shard {}/{count} has not finished",
                Shard::of_item(g, count)
            ),
        ));
    }
    Ok(Merged {
        header: h.clone(),
        items: items.into_iter().flatten().collect(),
    })
}
