//! Reading and writing feature systems and numeric CSV inputs.
//!
//! System file (JSON, TOML when the name ends in `.toml`, or a NumPy `.npz` archive of the same
//! arrays, see [`super::npz`]):
//! `{"strengths": [s₁, …, s_r], "u": [[row of example 1], …], "v": [[…], …]?, "z0": [z₁(0), …]?,
//! "labels": [y₁, …, y_n]?}`
//! where `u` is n × r, the optional `v` is p × r, the optional `z0` (length r) holds initial
//! responses z(0) (e.g. a network's UᵀY f₀, written by `gstarve network`; `simulate` starts
//! from it unless `--z0` is given) and the optional `labels` (length n, ±1 or 0/1) the labels
//! that per-class settings need (docs/theory.md §10.1; U is label-signed already). Files without
//! the optional fields read as before. A `"gstarve"` key (a `[gstarve]` table in TOML), the
//! provenance gstarve writes into its files, is read and ignored.

use std::path::Path;

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::FeatureSystem;
use crate::error::{Error, InputError, OutputError, Result};
use crate::output::write_atomic;

/// The on-disk form of a feature system.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemFile {
    /// Strengths s₁ … s_r.
    pub strengths: Vec<f64>,
    /// Coupling U, one row per example.
    pub u: Vec<Vec<f64>>,
    /// Features V (p × r), one row per parameter, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<Vec<Vec<f64>>>,
    /// Initial responses z(0), when the system carries them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z0: Option<Vec<f64>>,
    /// Labels y (±1 or 0/1), one per example, when the system carries them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<f64>>,
    /// The provenance of a file gstarve wrote (see [`crate::output::provenance`]): read and
    /// ignored; written by the output layer, not from here.
    #[serde(default, skip_serializing)]
    pub gstarve: Option<serde_json::Value>,
}

fn rows_to_matrix(what: &str, rows: &[Vec<f64>]) -> Result<DMatrix<f64>> {
    let ncols = rows.first().map_or(0, Vec::len);
    for (i, row) in rows.iter().enumerate() {
        if row.len() != ncols {
            return Err(Error::Input(InputError::Ragged {
                what: what.to_string(),
                row: i + 1,
                found: row.len(),
                expected: ncols,
            }));
        }
    }
    Ok(DMatrix::from_fn(rows.len(), ncols, |i, j| rows[i][j]))
}

fn matrix_to_rows(a: &DMatrix<f64>) -> Vec<Vec<f64>> {
    a.row_iter().map(|r| r.iter().copied().collect()).collect()
}

impl SystemFile {
    /// Validate into a [`FeatureSystem`] (dropping any initial responses).
    pub fn into_system(self) -> Result<FeatureSystem> {
        Ok(self.into_system_with_initial()?.0)
    }

    /// Validate into a [`FeatureSystem`] and its initial responses z(0), if the file has them.
    pub fn into_system_with_initial(self) -> Result<(FeatureSystem, Option<DVector<f64>>)> {
        let u = rows_to_matrix("u", &self.u)?;
        let v = self.v.map(|v| rows_to_matrix("v", &v)).transpose()?;
        system_from_arrays(
            DVector::from_vec(self.strengths),
            u,
            v,
            self.z0,
            self.labels,
        )
    }

    /// The file form of a system.
    pub fn from_system(sys: &FeatureSystem) -> Self {
        Self {
            strengths: sys.strengths().iter().copied().collect(),
            u: matrix_to_rows(sys.coupling()),
            v: sys.features().map(matrix_to_rows),
            z0: None,
            labels: sys.labels().map(|y| y.iter().copied().collect()),
            gstarve: None,
        }
    }
}

fn is_toml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| {
        Error::Input(InputError::Read {
            path: path.display().to_string(),
            source,
        })
    })
}

impl FeatureSystem {
    /// Read a system file (JSON; TOML for `*.toml`; a NumPy archive for `*.npz`).
    pub fn load(path: &Path) -> Result<Self> {
        Ok(Self::load_with_initial(path)?.0)
    }

    /// Read a system file and its initial responses z(0), when it has them.
    pub fn load_with_initial(path: &Path) -> Result<(Self, Option<DVector<f64>>)> {
        if is_npz(path) {
            return super::npz::read_npz(path);
        }
        let text = read_text(path)?;
        let parse_err = |message: String| {
            Error::Input(InputError::Parse {
                path: path.display().to_string(),
                message,
            })
        };
        let file: SystemFile = if is_toml(path) {
            toml::from_str(&text).map_err(|e| parse_err(toml_message(&text, &e)))?
        } else {
            serde_json::from_str(&text).map_err(|e| parse_err(e.to_string()))?
        };
        file.into_system_with_initial()
    }

    /// Write this system to a file (JSON; TOML for `*.toml`; `.npz` for `*.npz`), atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.save_with_initial(path, None)
    }

    /// Write this system and initial responses z(0) to a file, atomically.
    pub fn save_with_initial(&self, path: &Path, z0: Option<&DVector<f64>>) -> Result<()> {
        write_atomic(path, &self.file_bytes(path, z0)?)
    }

    /// The bytes [`Self::save_with_initial`] writes to `path` (JSON, or TOML for `*.toml`),
    /// for callers that write several files as one output.
    pub fn file_bytes(&self, path: &Path, z0: Option<&DVector<f64>>) -> Result<Vec<u8>> {
        if let Some(z0) = z0 {
            if z0.len() != self.rank() {
                return Err(Error::Input(InputError::Length {
                    what: "z0",
                    found: z0.len(),
                    expected: self.rank(),
                    rule: "one per feature",
                }));
            }
        }
        if is_npz(path) {
            return super::npz::npz_bytes(self, z0);
        }
        let mut file = SystemFile::from_system(self);
        file.z0 = z0.map(|z| z.iter().copied().collect());
        let text = if is_toml(path) {
            toml::to_string(&file).map_err(|e| encode("TOML", e.to_string()))?
        } else {
            serde_json::to_string_pretty(&file).map_err(|e| encode("JSON", e.to_string()))?
        };
        Ok(text.into_bytes())
    }
}

/// A validated system and its initial responses from the arrays of a system file (JSON, TOML or
/// `.npz`): U n × r with orthonormal columns, s ≥ 0, V p × r, z(0) finite, one per feature.
pub(super) fn system_from_arrays(
    strengths: DVector<f64>,
    u: DMatrix<f64>,
    v: Option<DMatrix<f64>>,
    z0: Option<Vec<f64>>,
    labels: Option<Vec<f64>>,
) -> Result<(FeatureSystem, Option<DVector<f64>>)> {
    let sys = FeatureSystem::new(strengths, u)?;
    let sys = match v {
        Some(v) => sys.with_features(v)?,
        None => sys,
    };
    let sys = match labels {
        Some(y) => sys.with_labels(&y)?,
        None => sys,
    };
    let z0 = match z0 {
        Some(z0) => {
            if z0.len() != sys.rank() {
                return Err(Error::Input(InputError::Length {
                    what: "z0",
                    found: z0.len(),
                    expected: sys.rank(),
                    rule: "one per feature",
                }));
            }
            if let Some((i, &value)) = z0.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(Error::Input(InputError::NonFinite {
                    what: "z0".into(),
                    row: i + 1,
                    col: 1,
                    value,
                }));
            }
            Some(DVector::from_vec(z0))
        }
        None => None,
    };
    Ok((sys, z0))
}

/// A TOML error on one line: its message and the line it points at (the crate's own display
/// spans several lines, quoting the source).
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace(['\n', '\r'], " ");
    match e.span() {
        Some(span) => {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
            format!("line {line}: {message}")
        }
        None => message,
    }
}

fn is_npz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

/// An encoder's failure as an output error.
fn encode(format: &'static str, detail: String) -> Error {
    Error::Output(OutputError::Encode { format, detail })
}

/// Read a numeric CSV matrix (comma-separated), split by [`super::split_csv`]'s rule: a
/// byte-order mark is removed, a first row of names only is a header, a first row mixing names
/// and numbers is refused, `#` lines and empty lines are skipped.
pub fn read_matrix_csv(path: &Path) -> Result<DMatrix<f64>> {
    let text = read_text(path)?;
    let name = path.display().to_string();
    let split = super::split_csv(&text, &name)?;
    let mut rows: Vec<Vec<f64>> = Vec::with_capacity(split.rows.len());
    for row in &split.rows {
        let parsed: std::result::Result<Vec<f64>, _> =
            row.fields.iter().map(|f| f.parse::<f64>()).collect();
        match parsed {
            Ok(values) => rows.push(values),
            Err(_) => {
                let bad = row
                    .fields
                    .iter()
                    .find(|f| f.parse::<f64>().is_err())
                    .unwrap_or(&"");
                return Err(Error::Input(InputError::Parse {
                    path: name,
                    message: format!("line {}: '{bad}' is not a number", row.line),
                }));
            }
        }
    }
    if rows.is_empty() {
        return Err(Error::Input(InputError::Parse {
            path: name,
            message: "no numeric rows".into(),
        }));
    }
    rows_to_matrix(&name, &rows)
}

/// Whether `path` names a `.npy` file (by its extension, case-insensitive).
fn is_npy(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// Read a numeric matrix: a `.npy` file (a 2-D array; a 1-D array is one column), or CSV.
pub fn read_matrix(path: &Path) -> Result<DMatrix<f64>> {
    if is_npy(path) {
        Ok(super::npy::read_npy(path)?.into_matrix())
    } else {
        read_matrix_csv(path)
    }
}

/// Read a numeric vector: a `.npy` file (1-D, or a matrix with one column or one row), or
/// CSV (one column, or one row).
pub fn read_vector(path: &Path) -> Result<Vec<f64>> {
    if !is_npy(path) {
        return read_vector_csv(path);
    }
    let a = super::npy::read_npy(path)?;
    match a.shape[..] {
        [_] => Ok(a.values),
        [rows, cols] if rows == 1 || cols == 1 => Ok(a.values),
        [rows, cols] => Err(Error::Input(InputError::MatrixShape {
            what: path.display().to_string(),
            rows,
            cols,
            rule: "a vector is one column (or one row)",
        })),
        _ => unreachable!("read_npy returns rank 1 or 2"),
    }
}

/// Read a numeric CSV vector: one column, or one row.
pub fn read_vector_csv(path: &Path) -> Result<Vec<f64>> {
    let m = read_matrix_csv(path)?;
    if m.ncols() == 1 || m.nrows() == 1 {
        Ok(m.iter().copied().collect())
    } else {
        Err(Error::Input(InputError::MatrixShape {
            what: path.display().to_string(),
            rows: m.nrows(),
            cols: m.ncols(),
            rule: "a vector is one column (or one row)",
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::InputError;

    #[test]
    fn json_and_toml_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let sys = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
        for name in ["s.json", "s.toml"] {
            let p = dir.path().join(name);
            sys.save(&p).unwrap();
            assert_eq!(FeatureSystem::load(&p).unwrap(), sys);
        }
    }

    #[test]
    fn initial_responses_round_trip_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let sys = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
        let p = dir.path().join("s.json");
        let z0 = DVector::from_vec(vec![0.25, -1.5]);
        sys.save_with_initial(&p, Some(&z0)).unwrap();
        let (back, z) = FeatureSystem::load_with_initial(&p).unwrap();
        assert_eq!(back, sys);
        assert_eq!(z, Some(z0));
        std::fs::write(&p, r#"{"strengths": [1], "u": [[1]], "z0": [1, 2]}"#).unwrap();
        assert!(matches!(
            FeatureSystem::load(&p),
            Err(Error::Input(InputError::Length {
                what: "z0",
                found: 2,
                expected: 1,
                ..
            }))
        ));
    }

    /// The optional labels survive JSON, TOML and .npz, and a wrong count is rejected.
    #[test]
    fn labels_round_trip() {
        let sys = FeatureSystem::rotation(3.0, 1.0, 0.2)
            .unwrap()
            .with_labels(&[1.0, 0.0])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        for name in ["s.json", "s.toml", "s.npz"] {
            let p = dir.path().join(name);
            sys.save(&p).unwrap();
            let back = FeatureSystem::load(&p).unwrap();
            assert_eq!(back.labels().unwrap().as_slice(), &[1.0, -1.0], "{name}");
        }
        let p = dir.path().join("bad.json");
        std::fs::write(
            &p,
            r#"{"strengths":[1,1],"u":[[1,0],[0,1]],"labels":[1,-1,1]}"#,
        )
        .unwrap();
        let err = FeatureSystem::load(&p).unwrap_err().to_string();
        assert!(err.contains("labels: 3 given, 2 expected"), "{err}");
    }

    #[test]
    fn ragged_rows_are_rejected() {
        let f = SystemFile {
            strengths: vec![1.0, 1.0],
            u: vec![vec![1.0, 0.0], vec![0.0]],
            v: None,
            z0: None,
            labels: None,
            gstarve: None,
        };
        assert!(matches!(
            f.into_system(),
            Err(Error::Input(InputError::Ragged {
                row: 2,
                found: 1,
                expected: 2,
                ..
            }))
        ));
    }
}
