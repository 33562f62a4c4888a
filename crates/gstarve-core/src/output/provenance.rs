//! Provenance: which gstarve, which command and which parameters made a file.
//!
//! The command line installs one [`Provenance`] per run ([`install`]); from then on every file
//! written through [`super::atomic`] carries it, in the form its format allows:
//!
//! | file | where the provenance goes |
//! |---|---|
//! | `*.json` | a `"gstarve"` key in the top-level object (the other keys unchanged) |
//! | `*.png` | an iTXt chunk `gstarve` (the JSON below) and a tEXt chunk `Software` |
//! | `*.svg` | `<metadata id="gstarve">` (the JSON below, XML-escaped) after the `<svg>` tag |
//! | `*.toml` | a `[gstarve]` table at the end |
//! | anything else (`*.csv`, `*.npy`, `*.npz`) | a sidecar `FILE.json` beside `FILE` ([`sidecar_path`]: `trajectories.csv` → `trajectories.csv.json`), `{"gstarve": …, "notes": […]}` |
//!
//! The sidecar's name keeps the data file's whole name, extension included, so it can never be
//! the name of another output: gstarve's JSON outputs never end in `.csv.json`, `.npy.json` or
//! `.npz.json`. The provenance itself is
//! `{"version", "git" (when built from a git checkout), "command", "parameters", "config"}`:
//! `parameters` holds every option of the command as resolved (given or default), and `config`
//! is a hash of the command and of the parameters that determine the results (not the output
//! folder, file names or formats), so that a file can be recognised as made by the same
//! configuration ([`recorded`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, OutputError, Result};

/// Which gstarve, command and parameters made a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// gstarve's version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// The commit gstarve was built from, when built from a git checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<String>,
    /// The command, e.g. `gstarve phase-diagram`.
    pub command: String,
    /// Every option of the command, as resolved (given or default), by its long name.
    pub parameters: BTreeMap<String, Value>,
    /// Hash (FNV-1a, 64 bits, hex) of the command and the parameters that determine the results.
    pub config: String,
}

impl Provenance {
    /// The provenance of a run; `config` hashes `command` and `parameters` less those named in
    /// `output_only` (options that choose where and in which format results go, not what they
    /// are).
    pub fn new(
        version: impl Into<String>,
        git: Option<String>,
        command: impl Into<String>,
        parameters: BTreeMap<String, Value>,
        output_only: &[&str],
    ) -> Self {
        let command = command.into();
        let mut hasher = fnv::FnvHasher::default();
        hasher.write(command.as_bytes());
        hasher.write_u8(0);
        for (name, value) in &parameters {
            if !output_only.contains(&name.as_str()) {
                hasher.write(name.as_bytes());
                hasher.write_u8(b'=');
                hasher.write(value.to_string().as_bytes());
                hasher.write_u8(0);
            }
        }
        Self {
            version: version.into(),
            git,
            command,
            parameters,
            config: format!("{:016x}", hasher.finish()),
        }
    }

    /// The one-line summary written in PNG `Software` chunks: `gstarve 0.1.0 (git abc…)`.
    pub fn software(&self) -> String {
        match &self.git {
            Some(git) => format!("gstarve {} (git {git})", self.version),
            None => format!("gstarve {}", self.version),
        }
    }

    fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| encode("JSON", e.to_string()))
    }
}

static INSTALLED: RwLock<Option<Provenance>> = RwLock::new(None);

/// Make `provenance` the one every later output of this process carries.
pub fn install(provenance: Provenance) {
    *INSTALLED.write().unwrap_or_else(|e| e.into_inner()) = Some(provenance);
}

/// The provenance installed for this process, if any.
pub fn installed() -> Option<Provenance> {
    INSTALLED.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The sidecar of a file whose format cannot hold metadata: `FILE.json`.
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// Where a file's format keeps its provenance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Carrier {
    Json,
    Png,
    Svg,
    Toml,
    Sidecar,
}

fn carrier(path: &Path) -> Carrier {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" => Carrier::Json,
        "png" => Carrier::Png,
        "svg" => Carrier::Svg,
        "toml" => Carrier::Toml,
        _ => Carrier::Sidecar,
    }
}

/// True when `path` is written with a sidecar (its format cannot hold metadata).
pub fn has_sidecar(path: &Path) -> bool {
    carrier(path) == Carrier::Sidecar
}

fn encode(format: &'static str, detail: impl ToString) -> Error {
    Error::Output(OutputError::Encode {
        format,
        detail: detail.to_string(),
    })
}

/// The files to write for `bytes` at `path` under `provenance`: the file with its provenance
/// embedded, or the file unchanged and its sidecar (with `notes`, e.g. a table's comments).
pub(crate) fn stamp<'a>(
    provenance: &Provenance,
    path: &Path,
    bytes: &'a [u8],
    notes: &[String],
) -> Result<Vec<(PathBuf, Cow<'a, [u8]>)>> {
    let json = provenance.to_json()?;
    let stamped = match carrier(path) {
        Carrier::Json => json_with(bytes, &json)?,
        Carrier::Png => png_with(bytes, &provenance.software(), &json)?,
        Carrier::Svg => svg_with(bytes, &json)?,
        Carrier::Toml => {
            #[derive(Serialize)]
            struct Table<'a> {
                gstarve: &'a Provenance,
            }
            let table = toml::to_string(&Table {
                gstarve: provenance,
            })
            .map_err(|e| encode("TOML", e))?;
            let mut out = bytes.to_vec();
            if !out.ends_with(b"\n") {
                out.push(b'\n');
            }
            out.push(b'\n');
            out.extend_from_slice(table.as_bytes());
            out
        }
        Carrier::Sidecar => {
            #[derive(Serialize)]
            struct Sidecar<'a> {
                gstarve: &'a Provenance,
                #[serde(skip_serializing_if = "<[String]>::is_empty")]
                notes: &'a [String],
            }
            let sidecar = serde_json::to_string_pretty(&Sidecar {
                gstarve: provenance,
                notes,
            })
            .map_err(|e| encode("JSON", e))?;
            // The file itself unchanged, not copied (a large table's bytes).
            return Ok(vec![
                (path.to_path_buf(), Cow::Borrowed(bytes)),
                (
                    sidecar_path(path),
                    Cow::Owned((sidecar + "\n").into_bytes()),
                ),
            ]);
        }
    };
    Ok(vec![(path.to_path_buf(), Cow::Owned(stamped))])
}

/// `text`, a JSON object, with the provenance as its first key `"gstarve"`.
pub(crate) fn embed_in_json(provenance: &Provenance, text: &str) -> Result<String> {
    let bytes = json_with(text.as_bytes(), &provenance.to_json()?)?;
    String::from_utf8(bytes).map_err(|e| encode("JSON", e))
}

/// A JSON document with `"gstarve": <json>` as the first key of its top-level object.
fn json_with(bytes: &[u8], json: &str) -> Result<Vec<u8>> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .filter(|&i| bytes[i] == b'{')
        .ok_or_else(|| encode("JSON", "provenance needs a JSON object at the top level"))?;
    let rest = &bytes[start + 1..];
    let empty = rest
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'}');
    let pretty = rest.first() == Some(&b'\n');
    let mut out = bytes[..=start].to_vec();
    if pretty {
        out.extend_from_slice(b"\n  ");
    }
    out.extend_from_slice(b"\"gstarve\":");
    if pretty {
        out.push(b' ');
    }
    out.extend_from_slice(json.as_bytes());
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    Ok(out)
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = Vec::with_capacity(data.len() + 12);
    chunk.extend_from_slice(&(data.len() as u32).to_be_bytes());
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    chunk.extend_from_slice(&crc.finalize().to_be_bytes());
    chunk
}

/// A PNG with a tEXt `Software` chunk and an iTXt `gstarve` chunk (UTF-8, uncompressed) right
/// after its header chunk.
fn png_with(bytes: &[u8], software: &str, json: &str) -> Result<Vec<u8>> {
    // Signature (8), then IHDR: length 13, type, 13 bytes, CRC: 33 bytes in all.
    const IHDR_END: usize = 8 + 4 + 4 + 13 + 4;
    if bytes.len() < IHDR_END || !bytes.starts_with(PNG_SIGNATURE) || &bytes[12..16] != b"IHDR" {
        return Err(encode("PNG", "not a PNG image with its IHDR chunk first"));
    }
    let mut text = b"Software\0".to_vec();
    text.extend(
        software
            .chars()
            .map(|c| if c.is_ascii() { c as u8 } else { b'?' }),
    );
    // iTXt: keyword, NUL, compression flag 0, method 0, language tag NUL, translated keyword NUL.
    let mut itxt = b"gstarve\0\0\0\0\0".to_vec();
    itxt.extend_from_slice(json.as_bytes());
    let mut out = bytes[..IHDR_END].to_vec();
    out.extend(png_chunk(b"tEXt", &text));
    out.extend(png_chunk(b"iTXt", &itxt));
    out.extend_from_slice(&bytes[IHDR_END..]);
    Ok(out)
}

/// The text of the iTXt chunk `gstarve` of a PNG, if it has one.
fn png_provenance(bytes: &[u8]) -> Option<&[u8]> {
    let mut at = PNG_SIGNATURE.len();
    if !bytes.starts_with(PNG_SIGNATURE) {
        return None;
    }
    while at + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().ok()?) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = bytes.get(at + 8..at + 8 + len)?;
        if kind == b"iTXt" {
            if let Some(text) = data.strip_prefix(b"gstarve\0\0\0\0\0") {
                return Some(text);
            }
        }
        if kind == b"IDAT" || kind == b"IEND" {
            return None;
        }
        at += len + 12;
    }
    None
}

const SVG_OPEN: &str = "<metadata id=\"gstarve\">";
const SVG_CLOSE: &str = "</metadata>";

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// An SVG with `<metadata id="gstarve">` right after its opening `<svg …>` tag.
fn svg_with(bytes: &[u8], json: &str) -> Result<Vec<u8>> {
    let text = std::str::from_utf8(bytes).map_err(|e| encode("SVG", e))?;
    let open = text
        .find("<svg")
        .and_then(|i| text[i..].find('>').map(|j| i + j + 1))
        .ok_or_else(|| encode("SVG", "no <svg> element"))?;
    let mut out = String::with_capacity(text.len() + json.len() + 64);
    out.push_str(&text[..open]);
    out.push('\n');
    out.push_str(SVG_OPEN);
    out.push_str(&xml_escape(json));
    out.push_str(SVG_CLOSE);
    out.push_str(&text[open..]);
    Ok(out.into_bytes())
}

fn svg_provenance(text: &str) -> Option<String> {
    let start = text.find(SVG_OPEN)? + SVG_OPEN.len();
    let end = start + text[start..].find(SVG_CLOSE)?;
    Some(xml_unescape(&text[start..end]))
}

/// What an existing path records about its maker.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    /// Nothing is there.
    Missing,
    /// Something is there with no readable gstarve provenance (another program's file, a file
    /// from a gstarve without provenance, or a folder).
    Unknown,
    /// A file gstarve made, with its provenance.
    Made(Box<Provenance>),
}

/// What the file at `path` records about its maker (its embedded provenance, or its sidecar's).
pub fn recorded(path: &Path) -> Recorded {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(_) => return Recorded::Missing,
    };
    if !meta.is_file() {
        return Recorded::Unknown;
    }
    let found = match carrier(path) {
        Carrier::Sidecar => read_json_key(&sidecar_path(path)),
        Carrier::Json => read_json_key(path),
        Carrier::Png => std::fs::read(path)
            .ok()
            .and_then(|b| png_provenance(&b).and_then(|t| serde_json::from_slice(t).ok())),
        Carrier::Svg => std::fs::read_to_string(path)
            .ok()
            .and_then(|t| svg_provenance(&t))
            .and_then(|t| serde_json::from_str(&t).ok()),
        Carrier::Toml => std::fs::read_to_string(path)
            .ok()
            .and_then(|t| toml::from_str::<toml::Table>(&t).ok())
            .and_then(|t| t.get("gstarve").cloned())
            .and_then(|v| v.try_into().ok()),
    };
    match found {
        Some(p) => Recorded::Made(Box::new(p)),
        None => Recorded::Unknown,
    }
}

fn read_json_key(path: &Path) -> Option<Provenance> {
    let text = std::fs::read(path).ok()?;
    let mut value: Value = serde_json::from_slice(&text).ok()?;
    serde_json::from_value(value.get_mut("gstarve")?.take()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(lambda: f64, out: &str) -> Provenance {
        let parameters = BTreeMap::from([
            ("lambda".to_string(), Value::from(lambda.to_string())),
            ("out".to_string(), Value::from(out)),
        ]);
        Provenance::new(
            "0.1.0",
            Some("abc".into()),
            "gstarve x <&>",
            parameters,
            &["out"],
        )
    }

    #[test]
    fn the_config_hash_ignores_output_options_only() {
        assert_eq!(sample(0.5, "a").config, sample(0.5, "b").config);
        assert_ne!(sample(0.5, "a").config, sample(0.25, "a").config);
        assert_eq!(sample(0.5, "a").config.len(), 16);
        // FNV-1a is fixed: the same configuration hashes the same in every build.
        let empty = Provenance::new("0", None, "", BTreeMap::new(), &[]);
        // FNV-1a 64 of the single byte 0: (offset ^ 0) * prime mod 2⁶⁴.
        let expected = 0xcbf2_9ce4_8422_2325_u64.wrapping_mul(0x0000_0100_0000_01b3);
        assert_eq!(empty.config, format!("{expected:016x}"));
    }

    #[test]
    fn every_carrier_round_trips() {
        let p = sample(0.5, "a");
        let dir = tempfile::tempdir().unwrap();
        // A PNG's frame: signature, 1×1 RGB header, end.
        let mut png = Vec::new();
        let ihdr = [0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0];
        png.extend_from_slice(PNG_SIGNATURE);
        png.extend(png_chunk(b"IHDR", &ihdr));
        png.extend(png_chunk(b"IEND", &[]));
        let cases: [(&str, &[u8]); 6] = [
            ("a.json", b"{\n  \"x\": 1\n}"),
            ("b.json", b"{}"),
            ("c.png", &png),
            (
                "d.svg",
                b"<?xml version=\"1.0\"?>\n<svg width=\"2\">\n</svg>\n",
            ),
            ("e.toml", b"strengths = [1.0]\n"),
            ("f.csv", b"x\n1\n"),
        ];
        for (name, bytes) in cases {
            let path = dir.path().join(name);
            assert_eq!(recorded(&path), Recorded::Missing);
            let files = stamp(&p, &path, bytes, &["a note".to_string()]).unwrap();
            for (file, content) in &files {
                std::fs::write(file, content).unwrap();
            }
            assert_eq!(
                recorded(&path),
                Recorded::Made(Box::new(p.clone())),
                "{name}"
            );
            if name.ends_with(".json") {
                let v: Value = serde_json::from_slice(&files[0].1).unwrap();
                assert_eq!(v["gstarve"]["config"], p.config.as_str());
            }
        }
        // The CSV itself is untouched; its sidecar holds the provenance and the notes.
        assert_eq!(std::fs::read(dir.path().join("f.csv")).unwrap(), b"x\n1\n");
        let side: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("f.csv.json")).unwrap()).unwrap();
        assert_eq!(side["notes"][0], "a note");
        // Every chunk of the stamped PNG has a valid CRC, and the Software chunk is there.
        let stamped = std::fs::read(dir.path().join("c.png")).unwrap();
        let mut at = 8;
        let mut kinds = Vec::new();
        while at < stamped.len() {
            let len = u32::from_be_bytes(stamped[at..at + 4].try_into().unwrap()) as usize;
            let body = &stamped[at + 4..at + 8 + len];
            let crc = u32::from_be_bytes(stamped[at + 8 + len..at + 12 + len].try_into().unwrap());
            assert_eq!(crc32fast::hash(body), crc);
            kinds.push(String::from_utf8_lossy(&body[..4]).to_string());
            at += len + 12;
        }
        assert_eq!(kinds, ["IHDR", "tEXt", "iTXt", "IEND"]);
        // A file without provenance, and a folder, are "unknown".
        std::fs::write(dir.path().join("g.png"), &png).unwrap();
        assert_eq!(recorded(&dir.path().join("g.png")), Recorded::Unknown);
        assert_eq!(recorded(dir.path()), Recorded::Unknown);
    }

    #[test]
    fn a_json_array_or_a_broken_png_is_refused() {
        let p = sample(0.5, "a");
        assert!(stamp(&p, Path::new("x.json"), b"[1]", &[]).is_err());
        assert!(stamp(&p, Path::new("x.png"), b"not a png", &[]).is_err());
        assert!(stamp(&p, Path::new("x.svg"), b"<html/>", &[]).is_err());
    }
}
