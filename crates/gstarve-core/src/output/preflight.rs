//! Output paths checked before any computation, so that a run that cannot write its results
//! fails at once instead of after minutes of work: [`check_output_dir`] for an output folder
//! (created later, when the results are written), [`check_output_file`] for one output file.
//!
//! Nothing is created: a folder's nearest existing ancestor must be a folder in which a file can
//! be created (tested with a temporary file, removed at once), and a file's folder must exist.

use std::path::{Path, PathBuf};

use crate::error::{Error, OutputError, Result};

fn unwritable(path: &Path, reason: String) -> Error {
    Error::Output(OutputError::Unwritable {
        path: path.display().to_string(),
        reason,
    })
}

/// `path` with an empty parent read as the current folder.
fn or_current(path: &Path) -> &Path {
    if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    }
}

/// Whether a file can be created in the existing folder `dir` (a temporary file, removed).
fn check_creatable_in(dir: &Path, target: &Path) -> Result<()> {
    tempfile::Builder::new()
        .prefix(".gstarve-check-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| {
            unwritable(
                target,
                format!("no file can be created in {}: {e}", dir.display()),
            )
        })
}

/// Check that `dir` can serve as an output folder: it is a folder in which files can be created,
/// or it does not exist yet and its nearest existing ancestor is such a folder.
pub fn check_output_dir(dir: &Path) -> Result<()> {
    let dir = or_current(dir);
    let mut existing: PathBuf = dir.to_path_buf();
    loop {
        match std::fs::metadata(&existing) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) if existing == dir => {
                return Err(unwritable(
                    dir,
                    "it is a file, and an output folder is needed".into(),
                ))
            }
            Ok(_) => {
                return Err(unwritable(
                    dir,
                    format!("{} is a file, not a folder", existing.display()),
                ))
            }
            // Not there (or below a file, which the parent's turn reports): look one level up.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                match existing.parent() {
                    Some(parent) if or_current(parent) != existing => {
                        existing = or_current(parent).to_path_buf()
                    }
                    _ => break,
                }
            }
            Err(e) => {
                return Err(unwritable(
                    dir,
                    format!("{} cannot be inspected: {e}", existing.display()),
                ))
            }
        }
    }
    check_creatable_in(&existing, dir)
}

/// Check that `file` can be written: it is not a folder, and its folder exists and files can be
/// created in it.
pub fn check_output_file(file: &Path) -> Result<()> {
    if file.is_dir() {
        return Err(unwritable(
            file,
            "it is a folder, and an output file is needed".into(),
        ));
    }
    let dir = or_current(file.parent().unwrap_or(Path::new(".")));
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => check_creatable_in(dir, file),
        Ok(_) => Err(unwritable(
            file,
            format!("{} is a file, not a folder", dir.display()),
        )),
        Err(_) => Err(unwritable(
            file,
            format!("its folder {} does not exist", dir.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::names;

    #[test]
    fn folders_are_checked_without_creating_anything() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        check_output_dir(d.path()).unwrap();
        check_output_dir(&d.path().join("new").join("deeper")).unwrap();
        let err = check_output_dir(&file).unwrap_err().to_string();
        assert!(err.contains("it is a file"), "{err}");
        let err = check_output_dir(&file.join("sub")).unwrap_err().to_string();
        assert!(
            err.contains("file/sub") && err.contains("is a file, not a folder"),
            "{err}"
        );
        // Nothing was created, and no temporary file is left.
        assert_eq!(names(d.path()), ["file"]);
    }

    #[test]
    fn files_need_an_existing_folder_and_are_not_folders() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        check_output_file(&d.path().join("new.json")).unwrap();
        check_output_file(&file).unwrap();
        let err = check_output_file(d.path()).unwrap_err().to_string();
        assert!(err.contains("it is a folder"), "{err}");
        let err = check_output_file(&file.join("x.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a file, not a folder"), "{err}");
        let err = check_output_file(&d.path().join("no").join("x.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
        assert_eq!(names(d.path()), ["file"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_read_only_folder_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let ro = d.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        // Root ignores permissions: the check is meaningful only when the OS refuses.
        let refused = std::fs::write(ro.join("probe"), b"").is_err();
        let _ = std::fs::remove_file(ro.join("probe"));
        if refused {
            assert!(check_output_dir(&ro.join("sub")).is_err());
            assert!(check_output_file(&ro.join("x.json")).is_err());
        }
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}
