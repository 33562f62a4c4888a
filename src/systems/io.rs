//! Reading and writing feature systems and numeric CSV inputs.
//!
//! System file (JSON, or TOML when the name ends in `.toml`):
//! `{"strengths": [s₁, …, s_r], "u": [[row of example 1], …], "v": [[…], …]?}`
//! where `u` is n × r and the optional `v` is p × r.

use std::path::Path;

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::FeatureSystem;
use crate::error::{Error, Result};
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
}

fn rows_to_matrix(what: &str, rows: &[Vec<f64>]) -> Result<DMatrix<f64>> {
    let ncols = rows.first().map_or(0, Vec::len);
    for (i, row) in rows.iter().enumerate() {
        if row.len() != ncols {
            return Err(Error::Shape(format!(
                "{what}: row {} has {} entries but row 1 has {ncols}",
                i + 1,
                row.len()
            )));
        }
    }
    Ok(DMatrix::from_fn(rows.len(), ncols, |i, j| rows[i][j]))
}

fn matrix_to_rows(a: &DMatrix<f64>) -> Vec<Vec<f64>> {
    a.row_iter().map(|r| r.iter().copied().collect()).collect()
}

impl SystemFile {
    /// Validate into a [`FeatureSystem`].
    pub fn into_system(self) -> Result<FeatureSystem> {
        let u = rows_to_matrix("u", &self.u)?;
        let sys = FeatureSystem::new(DVector::from_vec(self.strengths), u)?;
        match self.v {
            Some(v) => sys.with_features(rows_to_matrix("v", &v)?),
            None => Ok(sys),
        }
    }

    /// The file form of a system.
    pub fn from_system(sys: &FeatureSystem) -> Self {
        Self {
            strengths: sys.strengths().iter().copied().collect(),
            u: matrix_to_rows(sys.coupling()),
            v: sys.features().map(matrix_to_rows),
        }
    }
}

fn is_toml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

impl FeatureSystem {
    /// Read a system file (JSON, or TOML for `*.toml`).
    pub fn load(path: &Path) -> Result<Self> {
        let text = read_text(path)?;
        let parse_err = |message: String| Error::Parse {
            path: path.display().to_string(),
            message,
        };
        let file: SystemFile = if is_toml(path) {
            toml::from_str(&text).map_err(|e| parse_err(e.message().to_string()))?
        } else {
            serde_json::from_str(&text).map_err(|e| parse_err(e.to_string()))?
        };
        file.into_system()
    }

    /// Write this system to a file (JSON, or TOML for `*.toml`), atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let file = SystemFile::from_system(self);
        let text = if is_toml(path) {
            toml::to_string(&file).map_err(|e| Error::Parse {
                path: path.display().to_string(),
                message: e.to_string(),
            })?
        } else {
            serde_json::to_string_pretty(&file).map_err(|e| Error::Parse {
                path: path.display().to_string(),
                message: e.to_string(),
            })?
        };
        write_atomic(path, text.as_bytes())
    }
}

/// Read a numeric CSV matrix (comma-separated; a first line that is not numeric is a header).
pub fn read_matrix_csv(path: &Path) -> Result<DMatrix<f64>> {
    let text = read_text(path)?;
    let name = path.display().to_string();
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: std::result::Result<Vec<f64>, _> =
            fields.iter().map(|f| f.parse::<f64>()).collect();
        match parsed {
            Ok(row) => rows.push(row),
            Err(_) if rows.is_empty() && lineno == 0 => continue, // header
            Err(_) => {
                let bad = fields
                    .iter()
                    .find(|f| f.parse::<f64>().is_err())
                    .unwrap_or(&"");
                return Err(Error::Parse {
                    path: name,
                    message: format!("line {}: '{bad}' is not a number", lineno + 1),
                });
            }
        }
    }
    if rows.is_empty() {
        return Err(Error::Parse {
            path: name,
            message: "no numeric rows".into(),
        });
    }
    rows_to_matrix(&name, &rows)
}

/// Read a numeric CSV vector: one column, or one row.
pub fn read_vector_csv(path: &Path) -> Result<Vec<f64>> {
    let m = read_matrix_csv(path)?;
    if m.ncols() == 1 || m.nrows() == 1 {
        Ok(m.iter().copied().collect())
    } else {
        Err(Error::Shape(format!(
            "{}: expected one column (or one row) but found {}×{}",
            path.display(),
            m.nrows(),
            m.ncols()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn ragged_rows_are_rejected() {
        let f = SystemFile {
            strengths: vec![1.0, 1.0],
            u: vec![vec![1.0, 0.0], vec![0.0]],
            v: None,
        };
        assert!(matches!(f.into_system(), Err(Error::Shape(_))));
    }
}
