//! Multi-class system files (JSON, or TOML for `*.toml`):
//! `{"classes": c, "labels": [y₁, …, y_n], "strengths": [s₁, …, s_r], "u": [[row 1], …], "z0": [...]?}`
//! with `u` of n·c rows, example-major (row i·c + k is output k of example i). The key `classes`
//! is what makes a file multi-class; files without it are the binary system files of
//! `systems::io`, read as before.

use std::path::Path;

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::MulticlassSystem;
use crate::error::{Error, InputError, OutputError, Result};
use crate::output::write_atomic;

/// The on-disk form of a multi-class system.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MulticlassFile {
    /// The number of classes c.
    pub classes: usize,
    /// One label per example, in 0..c−1.
    pub labels: Vec<usize>,
    /// Strengths s₁ … s_r.
    pub strengths: Vec<f64>,
    /// Coupling U, n·c rows (example-major) × r.
    pub u: Vec<Vec<f64>>,
    /// Initial responses z(0), when the system carries them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z0: Option<Vec<f64>>,
    /// The provenance of a file gstarve wrote (see [`crate::output::provenance`]): read and
    /// ignored; written by the output layer, not from here.
    #[serde(default, skip_serializing)]
    pub gstarve: Option<serde_json::Value>,
}

impl MulticlassFile {
    /// Validate into a [`MulticlassSystem`] and its initial responses.
    pub fn into_system(self) -> Result<(MulticlassSystem, Option<DVector<f64>>)> {
        let ncols = self.u.first().map_or(0, Vec::len);
        if let Some((i, row)) = self.u.iter().enumerate().find(|(_, r)| r.len() != ncols) {
            return Err(Error::Input(InputError::Ragged {
                what: "u".into(),
                row: i + 1,
                found: row.len(),
                expected: ncols,
            }));
        }
        // The class checks first: a wrong label or class count is the clearer message.
        if self.classes < 2 {
            return Err(Error::Input(InputError::TooFewClasses {
                classes: self.classes,
            }));
        }
        if let Some((i, &y)) = self
            .labels
            .iter()
            .enumerate()
            .find(|(_, &y)| y >= self.classes)
        {
            return Err(Error::Input(InputError::ClassLabel {
                index: i + 1,
                value: y as f64,
                classes: self.classes,
            }));
        }
        if self.u.len() != self.labels.len() * self.classes {
            return Err(Error::Input(InputError::Length {
                what: "rows of u",
                found: self.u.len(),
                expected: self.labels.len() * self.classes,
                rule: "n·c: one row per example and class (row i·c + k is output k of example i)",
            }));
        }
        let u = DMatrix::from_fn(self.u.len(), ncols, |i, j| self.u[i][j]);
        let (system, z0) = crate::systems::io::system_from_arrays(
            DVector::from_vec(self.strengths),
            u,
            None,
            self.z0,
            None,
        )?;
        Ok((
            MulticlassSystem::new(system, self.classes, self.labels)?,
            z0,
        ))
    }

    /// The file form of a system.
    pub fn from_system(sys: &MulticlassSystem, z0: Option<&DVector<f64>>) -> Self {
        let u = sys.system().coupling();
        Self {
            classes: sys.classes(),
            labels: sys.labels().to_vec(),
            strengths: sys.system().strengths().iter().copied().collect(),
            u: u.row_iter().map(|r| r.iter().copied().collect()).collect(),
            z0: z0.map(|z| z.iter().copied().collect()),
            gstarve: None,
        }
    }
}

impl MulticlassSystem {
    /// Read `path` as a multi-class system file if it is one (JSON or TOML with the key
    /// `classes`); `Ok(None)` for any other file (`.npz`, or a binary system file), which the
    /// caller reads as a binary system.
    pub fn load_if_multiclass(
        path: &Path,
    ) -> Result<Option<(MulticlassSystem, Option<DVector<f64>>)>> {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
        {
            return Ok(None);
        }
        let text = std::fs::read_to_string(path).map_err(|source| {
            Error::Input(InputError::Read {
                path: path.display().to_string(),
                source,
            })
        })?;
        let parse_err = |message: String| {
            Error::Input(InputError::Parse {
                path: path.display().to_string(),
                message,
            })
        };
        let toml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let has_classes = if toml {
            text.parse::<toml::Table>()
                .map(|t| t.contains_key("classes"))
                .unwrap_or(false)
        } else {
            serde_json::from_str::<serde_json::Value>(&text)
                .map(|v| v.get("classes").is_some())
                .unwrap_or(false)
        };
        if !has_classes {
            return Ok(None);
        }
        let file: MulticlassFile = if toml {
            toml::from_str(&text).map_err(|e| parse_err(e.message().to_string()))?
        } else {
            serde_json::from_str(&text).map_err(|e| parse_err(e.to_string()))?
        };
        file.into_system().map(Some)
    }

    /// Write this system (and initial responses) to `path` as JSON, or TOML for `*.toml`,
    /// atomically. `.npz` is not supported for multi-class systems.
    pub fn save(&self, path: &Path, z0: Option<&DVector<f64>>) -> Result<()> {
        let toml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
        {
            return Err(Error::Input(InputError::Unsupported(
                "a multi-class system is written as JSON or TOML, not .npz".into(),
            )));
        }
        let file = MulticlassFile::from_system(self, z0);
        let encode = |format: &'static str, detail: String| {
            Error::Output(OutputError::Encode { format, detail })
        };
        let text = if toml {
            toml::to_string(&file).map_err(|e| encode("TOML", e.to_string()))?
        } else {
            serde_json::to_string_pretty(&file).map_err(|e| encode("JSON", e.to_string()))?
        };
        write_atomic(path, text.as_bytes())
    }
}
