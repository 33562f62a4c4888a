//! The shard file, little-endian binary (format 2; format 1 was JSON, [`super::legacy`]):
//!
//! ```text
//! header  "GSSHARD\0" · format u32 · body length u32 · body · CRC-32 of all before it (u32)
//! body    kind · shard I u64 · N u64 · items M u64 · configuration hash u64 ·
//!         arguments (u32 count, then each) · provenance (JSON text, or empty)
//! record  item g u64 · configuration hash u64 · payload length u32 · payload ·
//!         CRC-32 of the record before it (u32)
//! text    u32 length · UTF-8
//! ```
//!
//! Records follow the header in the order they finished. A payload is one item's result as its
//! [`ShardKind`](super::ShardKind) encodes it (every f64 as its 8 bytes: bit for bit). The
//! checksums find a record torn by a kill (or damage): [`ShardFile::parse_prefix`] keeps the
//! records before it, [`ShardFile::parse`] refuses the file.

use std::path::Path;

use super::{hash_text, parse_error, Shard};
use crate::error::{Error, InputError, Result};

/// The version of the shard-file layout this gstarve writes.
pub const SHARD_FORMAT: u32 = 2;

const MAGIC: &[u8; 8] = b"GSSHARD\0";

/// Everything in a shard file before its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardHeader {
    /// What the items are ([`ShardKind::KIND`](super::ShardKind::KIND)).
    pub kind: String,
    /// Which shard.
    pub shard: Shard,
    /// Items in the whole sweep (M).
    pub items: usize,
    /// Hash of the configuration ([`config_hash`](super::config_hash) of its canonical text).
    pub config: u64,
    /// The arguments that rebuild the sweep (for a merge to write its output).
    pub arguments: Vec<String>,
    /// The provenance of the command that wrote the file (JSON), or empty.
    pub provenance: String,
}

/// One finished item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Item index g.
    pub index: usize,
    /// Hash of the configuration that computed it.
    pub config: u64,
    /// Its result, as its kind encodes it.
    pub payload: Vec<u8>,
}

/// A shard file's contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardFile {
    /// The header.
    pub header: ShardHeader,
    /// The finished items, in the order they finished.
    pub records: Vec<Record>,
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

impl ShardHeader {
    /// The header's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        put_text(&mut body, &self.kind);
        for v in [self.shard.index(), self.shard.count(), self.items] {
            body.extend_from_slice(&(v as u64).to_le_bytes());
        }
        body.extend_from_slice(&self.config.to_le_bytes());
        body.extend_from_slice(&(self.arguments.len() as u32).to_le_bytes());
        for a in &self.arguments {
            put_text(&mut body, a);
        }
        put_text(&mut body, &self.provenance);
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&SHARD_FORMAT.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Whether `other` is the same shard of the same sweep (provenance aside).
    pub fn same_sweep(&self, other: &ShardHeader) -> bool {
        (
            &self.kind,
            self.shard,
            self.items,
            self.config,
            &self.arguments,
        ) == (
            &other.kind,
            other.shard,
            other.items,
            other.config,
            &other.arguments,
        )
    }

    /// `shard I/N of configuration H` for messages.
    pub fn describe(&self) -> String {
        format!(
            "shard {}/{} of configuration {}",
            self.shard.index(),
            self.shard.count(),
            hash_text(self.config)
        )
    }
}

/// Append the record of item `index` (configuration `config`, result `payload`) to `out`.
pub fn encode_record(out: &mut Vec<u8>, index: usize, config: u64, payload: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&(index as u64).to_le_bytes());
    out.extend_from_slice(&config.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Reads little-endian fields; `None` past the end.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub(crate) fn f64(&mut self) -> Option<f64> {
        self.u64().map(f64::from_bits)
    }

    pub(crate) fn text(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }

    pub(crate) fn usize(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }

    pub(crate) fn at(&self) -> usize {
        self.at
    }

    pub(crate) fn done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

/// Whether `bytes` start like a binary shard file.
pub fn is_binary_shard(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

fn parse_header(c: &mut Cursor, shown: &str) -> Result<ShardHeader> {
    let bad = |what: &str| parse_error(shown, format!("not a gstarve shard file: {what}"));
    if c.take(8) != Some(MAGIC.as_slice()) {
        return Err(bad("it does not start with GSSHARD"));
    }
    let format = c.u32().ok_or_else(|| bad("its header is cut short"))?;
    if format != SHARD_FORMAT {
        return Err(parse_error(
            shown,
            format!("shard format {format} (this gstarve reads {SHARD_FORMAT}, and JSON format 1)"),
        ));
    }
    let len = c.u32().ok_or_else(|| bad("its header is cut short"))? as usize;
    let body = c.take(len).ok_or_else(|| bad("its header is cut short"))?;
    let end = c.at();
    let crc = c.u32().ok_or_else(|| bad("its header is cut short"))?;
    if crc != crc32fast::hash(&c.bytes[..end]) {
        return Err(bad("its header's checksum does not match (a damaged file)"));
    }
    let mut b = Cursor::new(body);
    let header = (|| {
        let kind = b.text()?;
        let (index, count, items) = (b.usize()?, b.usize()?, b.usize()?);
        let config = b.u64()?;
        let n = b.u32()? as usize;
        let arguments = (0..n).map(|_| b.text()).collect::<Option<Vec<_>>>()?;
        let provenance = b.text()?;
        Some((kind, index, count, items, config, arguments, provenance))
    })();
    let Some((kind, index, count, items, config, arguments, provenance)) = header else {
        return Err(bad("its header does not parse"));
    };
    let shard = Shard::new(index, count)
        .map_err(|_| bad(&format!("its shard {index}/{count} is not 1 ≤ I ≤ N")))?;
    Ok(ShardHeader {
        kind,
        shard,
        items,
        config,
        arguments,
        provenance,
    })
}

/// The next complete, intact record, or `None` (the end, or a torn or damaged record).
fn next_record(c: &mut Cursor) -> Option<Record> {
    let start = c.at();
    let index = c.usize()?;
    let config = c.u64()?;
    let len = c.u32()? as usize;
    let payload = c.take(len)?.to_vec();
    let end = c.at();
    let crc = c.u32()?;
    (crc == crc32fast::hash(&c.bytes[start..end])).then_some(Record {
        index,
        config,
        payload,
    })
}

impl ShardFile {
    /// An empty file with `header`.
    pub fn new(header: ShardHeader) -> Self {
        Self {
            header,
            records: Vec::new(),
        }
    }

    /// The whole file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.header.encode();
        for r in &self.records {
            encode_record(&mut out, r.index, r.config, &r.payload);
        }
        out
    }

    /// Parse a complete shard file (`shown` names it in errors): a torn or damaged record is an
    /// error.
    pub fn parse(bytes: &[u8], shown: &str) -> Result<Self> {
        let (file, valid) = Self::parse_prefix(bytes, shown)?;
        if valid != bytes.len() {
            return Err(parse_error(
                shown,
                format!(
                    "record {} (at byte {valid}) is cut short or damaged: the shard file is \
                     incomplete; rerun its shard",
                    file.records.len() + 1
                ),
            ));
        }
        Ok(file)
    }

    /// Parse the intact start of a shard file (a killed shard's work in progress): the header
    /// (which must be intact) and every record up to the first torn or damaged one; returns the
    /// length in bytes of what was kept.
    pub fn parse_prefix(bytes: &[u8], shown: &str) -> Result<(Self, usize)> {
        let mut c = Cursor::new(bytes);
        let header = parse_header(&mut c, shown)?;
        let mut records = Vec::new();
        let mut valid = c.at();
        while !c.done() {
            match next_record(&mut c) {
                Some(r) => {
                    records.push(r);
                    valid = c.at();
                }
                None => break,
            }
        }
        Ok((Self { header, records }, valid))
    }

    /// Read a complete shard file.
    pub fn read(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let bytes = read_bytes(path)?;
        Self::parse(&bytes, &shown)
    }
}

/// A file's bytes (an input error naming it if it cannot be read).
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| {
        Error::Input(InputError::Read {
            path: path.display().to_string(),
            source,
        })
    })
}
