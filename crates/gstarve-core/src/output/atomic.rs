//! The one place that writes files: every output goes to a temporary file beside its target and
//! is renamed into place, so that no file is ever left half-written.

use std::io::Write;
use std::path::Path;

use tempfile::NamedTempFile;

use crate::error::{Error, OutputError, Result};

fn write_error(path: &Path, source: std::io::Error) -> Error {
    Error::Output(OutputError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// `bytes` in a temporary file in the folder of `path` (not yet renamed into place).
fn stage(path: &Path, bytes: &[u8]) -> Result<NamedTempFile> {
    let io_err = |source| write_error(path, source);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".gstarve-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io_err)?;
    tmp.write_all(bytes).map_err(io_err)?;
    tmp.flush().map_err(io_err)?;
    // The temporary file is created private (0600); outputs are ordinary files (0644).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(io_err)?;
    }
    Ok(tmp)
}

/// Write `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    stage(path, bytes)?
        .persist(path)
        .map_err(|e| write_error(path, e.error))?;
    Ok(())
}

/// Write several files as one output (a figure's images and its data): every file is first
/// written in full to a temporary file beside its target, and only when all of them are staged
/// are they renamed into place, in order. A failure while staging (a missing folder, a full
/// disk, a refused permission) therefore writes none of them, and leaves no temporary file
/// behind. Each rename is atomic on its own; should one fail after others succeeded, the files
/// already renamed stay complete.
pub fn write_all_atomic<P: AsRef<Path>, B: AsRef<[u8]>>(files: &[(P, B)]) -> Result<()> {
    let staged = files
        .iter()
        .map(|(path, bytes)| stage(path.as_ref(), bytes.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    for (tmp, (path, _)) in staged.into_iter().zip(files) {
        let path = path.as_ref();
        tmp.persist(path).map_err(|e| write_error(path, e.error))?;
    }
    Ok(())
}

/// Create a folder (and its parents) for output.
pub fn ensure_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|source| write_error(path, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn files_are_written_whole_with_no_temporary_left() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.csv");
        write_atomic(&a, b"x,y\n1,2\n").unwrap();
        write_all_atomic(&[
            (dir.path().join("b.png"), b"png".as_slice()),
            (dir.path().join("b.csv"), b"x\n1\n".as_slice()),
        ])
        .unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"x,y\n1,2\n");
        assert_eq!(std::fs::read(dir.path().join("b.png")).unwrap(), b"png");
        assert_eq!(names(dir.path()), ["a.csv", "b.csv", "b.png"]);
    }

    #[test]
    fn a_failed_multi_file_write_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("figure.png");
        // The second file's folder does not exist: staging fails after the first file is staged.
        let bad = dir.path().join("missing").join("figure.csv");
        let err = write_all_atomic(&[(&good, b"image".as_slice()), (&bad, b"x\n".as_slice())])
            .unwrap_err();
        assert!(matches!(err, Error::Output(OutputError::Write { .. })));
        assert!(err.to_string().contains("figure.csv"), "{err}");
        // Neither the first file nor any temporary file is left behind.
        assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
    }
}
