//! `.npz` system files: the zip archive of `.npy` arrays that NumPy's `np.savez` and
//! `np.savez_compressed` write, with the arrays of a system file (see [`super::io`]):
//!
//! ```text
//! strengths (r,)   u (n, r)   v (p, r), optional   z0 (r,), optional
//! ```
//!
//! (`np.savez("system.npz", strengths=s, u=U)` in Python). The archive is read and written by
//! the `zip` crate; each member by gstarve's own `.npy` parser, which checks every declared
//! size against the bytes it has before allocating (docs/benchmarks.md, "Reading .npy").
//! A member is decompressed only up to the size the archive declares for it, and only if that
//! size is one deflate can produce from the member's compressed bytes and one gstarve could use.

use std::io::{Cursor, Read, Write};
use std::path::Path;

use nalgebra::{DMatrix, DVector};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::npy::{npy_bytes, npy_vector_bytes, parse_npy_up_to, NpyArray};
use super::FeatureSystem;
use crate::error::{Error, InputError, OutputError, Result};

/// The most bytes one member may unpack to: 4·10⁸ float64 entries and a header.
const MAX_MEMBER_BYTES: u64 = 8 * 400_000_000 + 65_536;

/// The most bytes a member of `compressed` bytes may declare unpacked: deflate's largest ratio
/// (1032:1, plus a small header's worth), and never more than [`MAX_MEMBER_BYTES`].
fn member_limit(compressed: u64) -> u64 {
    MAX_MEMBER_BYTES.min(1032u64.saturating_mul(compressed).saturating_add(4096))
}

/// The members a system archive may hold (`name.npy`).
const MEMBERS: [&str; 5] = ["strengths", "u", "v", "z0", "labels"];

fn parse_error(path: &Path, message: String) -> Error {
    Error::Input(InputError::Parse {
        path: path.display().to_string(),
        message,
    })
}

/// The arrays of a system archive, in the order of [`MEMBERS`] (`None`: absent), each of rank 1
/// to 3 (a leading batch axis is allowed here; the readers check the shapes).
type Members = [Option<NpyArray>; 5];

/// Read a system and its initial responses from an `.npz` archive.
pub(super) fn read_npz(path: &Path) -> Result<(FeatureSystem, Option<DVector<f64>>)> {
    let [strengths, u, v, z0, labels] = read_members(path)?;
    let strengths =
        strengths.ok_or_else(|| parse_error(path, "no strengths.npy in the archive".into()))?;
    if strengths.shape.len() == 2 {
        return Err(parse_error(
            path,
            format!(
                "strengths has shape {:?}: the archive holds a batch of {} systems (a leading \
                 batch axis), and this reads one system (`gstarve simulate` reads a batch)",
                strengths.shape, strengths.shape[0]
            ),
        ));
    }
    system_of_members(path, strengths, u, v, z0, labels)
}

/// The systems of an `.npz` archive whose arrays have a leading batch axis (issue #17):
/// strengths (B, r), u (B, n, r), and optionally v (B, p, r), z0 (B, r), labels (B, n);
/// `None` when the archive holds one system (strengths 1-D).
pub(super) fn read_npz_batch(path: &Path) -> Result<Option<Vec<super::LoadedSystem>>> {
    let [strengths, u, v, z0, labels] = read_members(path)?;
    let strengths =
        strengths.ok_or_else(|| parse_error(path, "no strengths.npy in the archive".into()))?;
    if strengths.shape.len() != 2 {
        return Ok(None);
    }
    let batch = strengths.shape[0];
    let batch_shape = strengths.shape.clone();
    if batch == 0 {
        return Err(parse_error(
            path,
            "strengths has shape [0, ..]: no systems".into(),
        ));
    }
    // Member `what` of the batch, split along its first axis (each part of rank `rank` − 1).
    let split = |what: &str, a: Option<NpyArray>, rank: usize| -> Result<Vec<Option<NpyArray>>> {
        let Some(a) = a else {
            return Ok(vec![None; batch]);
        };
        if a.shape.len() != rank || a.shape[0] != batch {
            return Err(parse_error(
                path,
                format!(
                    "{what} has shape {:?}; with strengths of shape {:?} it must have {rank} \
                     dimensions, the first {batch} (one entry per system)",
                    a.shape, batch_shape
                ),
            ));
        }
        let shape = a.shape[1..].to_vec();
        let size: usize = shape.iter().product();
        Ok((0..batch)
            .map(|b| {
                Some(NpyArray {
                    shape: shape.clone(),
                    values: a.values[b * size..(b + 1) * size].to_vec(),
                    integral: a.integral,
                })
            })
            .collect())
    };
    let u = split("u", u, 3)?;
    let v = split("v", v, 3)?;
    let z0 = split("z0", z0, 2)?;
    let labels = split("labels", labels, 2)?;
    let strengths = split("strengths", Some(strengths), 2)?;
    let mut systems = Vec::with_capacity(batch);
    for (b, ((((s, u), v), z0), labels)) in strengths
        .into_iter()
        .zip(u)
        .zip(v)
        .zip(z0)
        .zip(labels)
        .enumerate()
    {
        let s = s.expect("split strengths");
        let one = system_of_members(path, s, u, v, z0, labels).map_err(|e| {
            let e = match e {
                Error::Input(InputError::Parse { message, .. }) => message,
                other => other.to_string(),
            };
            parse_error(path, format!("system {} of {batch}: {e}", b + 1))
        })?;
        systems.push(one);
    }
    Ok(Some(systems))
}

/// Read the members of a system archive.
fn read_members(path: &Path) -> Result<Members> {
    let bytes = std::fs::read(path).map_err(|source| {
        Error::Input(InputError::Read {
            path: path.display().to_string(),
            source,
        })
    })?;
    let mut archive = ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| parse_error(path, format!("not a readable .npz (zip) archive: {e}")))?;
    for name in archive.file_names() {
        let name = name.map_err(|e| parse_error(path, e.to_string()))?;
        let stem = name.strip_suffix(".npy").unwrap_or("");
        if !MEMBERS.contains(&stem) {
            return Err(parse_error(
                path,
                format!(
                    "unknown array '{name}' (a system archive holds strengths, u, v, z0, labels)"
                ),
            ));
        }
    }
    let mut member = |stem: &str| -> Result<Option<NpyArray>> {
        let name = format!("{stem}.npy");
        let mut file = match archive.by_name(&name) {
            Ok(file) => file,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(parse_error(path, format!("{name}: {e}"))),
        };
        // A member may not declare more than deflate can produce from its compressed bytes
        // (at most 1032:1) nor more than the largest system gstarve builds (an n × r coupling
        // of 4·10⁸ entries, 3.2 GB), and is read only up to what it declares.
        let declared = file.size();
        let limit = member_limit(file.compressed_size());
        if declared > limit {
            return Err(parse_error(
                path,
                format!("{name}: declares {declared} bytes unpacked, more than {limit} allowed"),
            ));
        }
        let mut data = Vec::new();
        (&mut file)
            .take(declared)
            .read_to_end(&mut data)
            .map_err(|e| parse_error(path, format!("{name}: {e}")))?;
        let origin = format!("{}:{name}", path.display());
        parse_npy_up_to(&data, &origin, 3).map(Some)
    };
    Ok([
        member("strengths")?,
        member("u")?,
        member("v")?,
        member("z0")?,
        member("labels")?,
    ])
}

/// One system from its arrays (`strengths` present), with the shapes checked.
fn system_of_members(
    path: &Path,
    strengths: NpyArray,
    u: Option<NpyArray>,
    v: Option<NpyArray>,
    z0: Option<NpyArray>,
    labels: Option<NpyArray>,
) -> Result<(FeatureSystem, Option<DVector<f64>>)> {
    let u = u.ok_or_else(|| parse_error(path, "no u.npy in the archive".into()))?;
    let vector = |what: &str, a: NpyArray| -> Result<DVector<f64>> {
        if a.shape.len() != 1 {
            return Err(parse_error(
                path,
                format!("{what} must be 1-D, found shape {:?}", a.shape),
            ));
        }
        Ok(DVector::from_vec(a.values))
    };
    let matrix = |what: &str, a: NpyArray| -> Result<DMatrix<f64>> {
        if a.shape.len() != 2 {
            return Err(parse_error(
                path,
                format!("{what} must be 2-D, found shape {:?}", a.shape),
            ));
        }
        Ok(a.into_matrix())
    };
    let strengths = vector("strengths", strengths)?;
    let u = matrix("u", u)?;
    let v = v.map(|v| matrix("v", v)).transpose()?;
    let z0 = z0.map(|z| vector("z0", z)).transpose()?;
    let labels = labels.map(|y| vector("labels", y)).transpose()?;
    super::io::system_from_arrays(
        strengths,
        u,
        v,
        z0.map(|z| z.iter().copied().collect()),
        labels.map(|y| y.iter().copied().collect()),
    )
}

/// The bytes of an `.npz` archive (members stored uncompressed, as `np.savez` writes them) of
/// `system` and its initial responses.
pub(super) fn npz_bytes(system: &FeatureSystem, z0: Option<&DVector<f64>>) -> Result<Vec<u8>> {
    let encode = |e: &dyn std::fmt::Display| {
        Error::Output(OutputError::Encode {
            format: "NPZ",
            detail: e.to_string(),
        })
    };
    let mut members: Vec<(&str, Vec<u8>)> = vec![
        ("strengths", npy_vector_bytes(system.strengths().as_slice())),
        ("u", npy_bytes(system.coupling())),
    ];
    if let Some(v) = system.features() {
        members.push(("v", npy_bytes(v)));
    }
    if let Some(z0) = z0 {
        members.push(("z0", npy_vector_bytes(z0.as_slice())));
    }
    if let Some(y) = system.labels() {
        members.push(("labels", npy_vector_bytes(y.as_slice())));
    }
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (stem, bytes) in members {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .large_file(bytes.len() as u64 >= u32::MAX as u64);
        writer
            .start_file(format!("{stem}.npy"), options)
            .map_err(|e| encode(&e))?;
        writer.write_all(&bytes).map_err(|e| encode(&e))?;
    }
    Ok(writer.finish().map_err(|e| encode(&e))?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::Spectrum;

    fn archive(members: &[(&str, Vec<u8>)], method: CompressionMethod) -> Vec<u8> {
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in members {
            let options = SimpleFileOptions::default().compression_method(method);
            writer.start_file(name.to_string(), options).unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn read_bytes(bytes: &[u8]) -> Result<(FeatureSystem, Option<DVector<f64>>)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.npz");
        std::fs::write(&path, bytes).unwrap();
        read_npz(&path)
    }

    /// Written and read back bit for bit, with V and z(0); a deflated archive (what
    /// `np.savez_compressed` writes) reads the same.
    #[test]
    fn round_trip_is_exact_and_compressed_archives_read() {
        let sys = FeatureSystem::random(7, Spectrum::Geometric { from: 3.0, to: 0.1 }, 5)
            .unwrap()
            .with_features(
                FeatureSystem::random(9, Spectrum::Geometric { from: 1.0, to: 1.0 }, 6)
                    .unwrap()
                    .coupling()
                    .columns(0, 7)
                    .into_owned(),
            )
            .unwrap();
        let z0 = DVector::from_fn(7, |j, _| j as f64 * 0.1 - 0.3);
        let bytes = npz_bytes(&sys, Some(&z0)).unwrap();
        let (back, z) = read_bytes(&bytes).unwrap();
        assert_eq!(back.strengths(), sys.strengths());
        assert_eq!(back.coupling(), sys.coupling());
        assert_eq!(back.features(), sys.features());
        assert_eq!(z.unwrap(), z0);
        let deflated = archive(
            &[
                (
                    "strengths.npy",
                    npy_vector_bytes(sys.strengths().as_slice()),
                ),
                ("u.npy", npy_bytes(sys.coupling())),
            ],
            CompressionMethod::Deflated,
        );
        let (back, z) = read_bytes(&deflated).unwrap();
        assert_eq!(back.coupling(), sys.coupling());
        assert!(z.is_none() && back.features().is_none());
    }

    /// Missing, unknown and misshapen members, a U without orthonormal columns and a file that
    /// is not a zip archive are refused with a message that names them.
    #[test]
    fn bad_archives_are_refused() {
        let u = DMatrix::<f64>::identity(3, 3);
        let s = npy_vector_bytes(&[2.0, 1.0, 0.5]);
        type Members = Vec<(&'static str, Vec<u8>)>;
        let cases: Vec<(Members, &str)> = vec![
            (vec![("u.npy", npy_bytes(&u))], "no strengths.npy"),
            (vec![("strengths.npy", s.clone())], "no u.npy"),
            (
                vec![
                    ("strengths.npy", s.clone()),
                    ("u.npy", npy_bytes(&u)),
                    ("w.npy", s.clone()),
                ],
                "unknown array 'w.npy'",
            ),
            (
                vec![("strengths", s.clone()), ("u.npy", npy_bytes(&u))],
                "unknown array 'strengths'",
            ),
            (
                // 2-D strengths: a batch of systems (issue #17), which one-system readers refuse.
                vec![("strengths.npy", npy_bytes(&u)), ("u.npy", npy_bytes(&u))],
                "holds a batch of 3 systems",
            ),
            (
                vec![("strengths.npy", s.clone()), ("u.npy", s.clone())],
                "u must be 2-D",
            ),
            (
                vec![
                    ("strengths.npy", s.clone()),
                    ("u.npy", npy_bytes(&(u.clone() * 2.0))),
                ],
                "orthonormal",
            ),
        ];
        for (members, needle) in cases {
            let err = read_bytes(&archive(&members, CompressionMethod::Stored)).unwrap_err();
            let text = format!("{err}");
            assert!(text.contains(needle), "'{needle}' not in '{text}'");
        }
        // The unpacking limit: deflate's ratio on small members, the largest system on big ones.
        assert_eq!(member_limit(1000), 1_036_096);
        assert_eq!(member_limit(u64::MAX), MAX_MEMBER_BYTES);
        let whole = npz_bytes(&FeatureSystem::decoupled(&[2.0, 1.0]).unwrap(), None).unwrap();
        let err = read_bytes(&whole[..whole.len() / 2]).unwrap_err();
        assert!(format!("{err}").contains("not a readable .npz"), "{err}");
    }
}
