//! System files that hold many systems (issue #17): a JSON list of system objects (each as in
//! [`super::io`]), or an `.npz` archive whose arrays have a leading batch axis (strengths
//! (B, r), u (B, n, r), and optionally v (B, p, r), z0 (B, r), labels (B, n)). A file that
//! holds one system reads as `None`, so that callers fall back to [`FeatureSystem::load`].

use std::path::Path;

use nalgebra::DVector;

use super::io::SystemFile;
use super::FeatureSystem;
use crate::error::{Error, InputError, Result};

/// A system and the initial responses z(0) its file gives it, if any.
pub type LoadedSystem = (FeatureSystem, Option<DVector<f64>>);

impl FeatureSystem {
    /// The systems of a file that holds many (a JSON list, or an `.npz` with a leading batch
    /// axis), in order; `None` if the file holds one system (or is TOML, which has no list
    /// form). Each system is validated as [`FeatureSystem::load`] validates one; an error names
    /// the system (1-based) and the rule.
    pub fn load_many(path: &Path) -> Result<Option<Vec<LoadedSystem>>> {
        let extension = |e: &str| path.extension().is_some_and(|x| x.eq_ignore_ascii_case(e));
        if extension("npz") {
            return super::npz::read_npz_batch(path);
        }
        if extension("toml") {
            return Ok(None);
        }
        let parse = |message: String| {
            Error::Input(InputError::Parse {
                path: path.display().to_string(),
                message,
            })
        };
        let text = std::fs::read_to_string(path).map_err(|source| {
            Error::Input(InputError::Read {
                path: path.display().to_string(),
                source,
            })
        })?;
        // Only a list is ours; anything else (an object, or text that is not JSON) is left to
        // the one-system reader, which reports it as it always has.
        if !text.trim_start().starts_with('[') {
            return Ok(None);
        }
        let list: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| parse(e.to_string()))?;
        if list.is_empty() {
            return Err(parse("the list holds no systems".into()));
        }
        let count = list.len();
        list.into_iter()
            .enumerate()
            .map(|(i, value)| {
                let named = |e: String| parse(format!("system {} of {count}: {e}", i + 1));
                let file: SystemFile =
                    serde_json::from_value(value).map_err(|e| named(e.to_string()))?;
                file.into_system_with_initial()
                    .map_err(|e| named(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::Spectrum;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn json_lists_and_batched_npz_read_every_system() {
        let dir = tempfile::tempdir().unwrap();
        let a = FeatureSystem::rotation(4.0, 2.0, 0.3).unwrap();
        let b = FeatureSystem::random(3, Spectrum::Geometric { from: 3.0, to: 0.5 }, 7).unwrap();
        let mut fa = serde_json::to_value(SystemFile::from_system(&a)).unwrap();
        fa["z0"] = serde_json::json!([0.5, -0.25]);
        let fb = serde_json::to_value(SystemFile::from_system(&b)).unwrap();
        let list = serde_json::to_vec(&serde_json::json!([fa, fb])).unwrap();
        let path = write(dir.path(), "many.json", &list);
        let many = FeatureSystem::load_many(&path).unwrap().unwrap();
        assert_eq!(many.len(), 2);
        assert_eq!(many[0].0.coupling(), a.coupling());
        assert_eq!(many[0].1.as_ref().unwrap().as_slice(), &[0.5, -0.25]);
        assert_eq!(many[1].0.strengths(), b.strengths());
        assert!(many[1].1.is_none());
        // One system: not ours.
        let one = write(dir.path(), "one.json", &serde_json::to_vec(&fb).unwrap());
        assert!(FeatureSystem::load_many(&one).unwrap().is_none());
        // Bad members are named by their place in the list.
        let mut bad = fb.clone();
        bad["u"][0][0] = serde_json::json!(7.0);
        let bad_list = serde_json::to_vec(&serde_json::json!([fa, bad])).unwrap();
        let e = FeatureSystem::load_many(&write(dir.path(), "bad.json", &bad_list))
            .unwrap_err()
            .to_string();
        assert!(e.contains("system 2 of 2"), "{e}");
        let e = FeatureSystem::load_many(&write(dir.path(), "empty.json", b"[]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no systems"), "{e}");
    }

    /// A `.npy` member (C order, float64) of the given shape.
    fn npy(shape: &[usize], values: &[f64]) -> Vec<u8> {
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let mut header = format!(
            "{{'descr': '<f8', 'fortran_order': False, 'shape': ({},), }}",
            dims.join(", ")
        );
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    fn npz(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, bytes) in members {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn npz_with_a_batch_axis() {
        let dir = tempfile::tempdir().unwrap();
        let rot = |d: f64| {
            let c = (1.0f64 - d * d).sqrt();
            [c, -d, d, c]
        };
        let u: Vec<f64> = [0.1, 0.5, 0.9].iter().flat_map(|&d| rot(d)).collect();
        let s = [4.0, 2.0, 3.0, 1.0, 5.0, 0.5];
        let z0 = [0.0, 0.0, 1.0, 2.0, -1.0, 0.5];
        let bytes = npz(&[
            ("strengths.npy", npy(&[3, 2], &s)),
            ("u.npy", npy(&[3, 2, 2], &u)),
            ("z0.npy", npy(&[3, 2], &z0)),
        ]);
        let path = write(dir.path(), "batch.npz", &bytes);
        let many = FeatureSystem::load_many(&path).unwrap().unwrap();
        assert_eq!(many.len(), 3);
        for (b, (sys, z)) in many.iter().enumerate() {
            let expected = FeatureSystem::rotation(s[2 * b], s[2 * b + 1], [0.1, 0.5, 0.9][b]);
            assert_eq!(sys.coupling(), expected.unwrap().coupling());
            assert_eq!(z.as_ref().unwrap().as_slice(), &z0[2 * b..2 * b + 2]);
        }
        // The one-system reader refuses it, naming the batch.
        let e = FeatureSystem::load(&path).unwrap_err().to_string();
        assert!(e.contains("batch of 3 systems"), "{e}");
        // A member without the batch axis is refused, naming the shapes.
        let bad = npz(&[
            ("strengths.npy", npy(&[3, 2], &s)),
            ("u.npy", npy(&[2, 2], &u[..4])),
        ]);
        let e = FeatureSystem::load_many(&write(dir.path(), "bad.npz", &bad))
            .unwrap_err()
            .to_string();
        assert!(e.contains("u has shape [2, 2]"), "{e}");
        // A system that breaks a rule is named.
        let mut u_bad = u.clone();
        u_bad[4] = 3.0;
        let bad = npz(&[
            ("strengths.npy", npy(&[3, 2], &s)),
            ("u.npy", npy(&[3, 2, 2], &u_bad)),
        ]);
        let e = FeatureSystem::load_many(&write(dir.path(), "bad2.npz", &bad))
            .unwrap_err()
            .to_string();
        assert!(e.contains("system 2 of 3"), "{e}");
    }
}
