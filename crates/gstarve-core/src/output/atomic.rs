//! The one place that writes files. Every output is first written in full to a temporary file
//! beside its target (`.gstarve-XXXXXX.tmp`), then renamed into place, so that no file is ever
//! left half-written; with a provenance installed ([`super::provenance`]) each file carries it.
//!
//! Outside a [`Batch`], each call ([`write_atomic`], [`write_all_atomic`], [`write_files`]) is
//! one output: its files are staged, then renamed together. Inside a batch (the command line
//! opens one per command), every file of every call is only staged, and [`Batch::commit`]
//! renames them all at the end: a command's outputs become visible together, or, when it fails
//! or is dropped, not at all, and its temporary files (and the folders it created for them) are
//! removed.
//!
//! Durability: a checkpoint ([`write_now`]) is synced to the disk before its rename, so it
//! survives a crash of the machine, not only of the process. Other outputs are renamed without a
//! sync (≈ 6 ms a file on this project's test machine): they are whole or absent whatever
//! becomes of the process, but a power loss right after a command may lose its newest outputs.
//!
//! Every staged temporary file is registered here, so that [`abandon`] (called by a signal
//! handler) can remove them all. A commit holds the register while it renames, so `abandon`
//! waits for a commit in progress to finish: a command interrupted then leaves its new set
//! whole.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tempfile::TempPath;

use super::provenance;
use crate::error::{Error, OutputError, Result};

fn write_error(path: &Path, source: std::io::Error) -> Error {
    Error::Output(OutputError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// One file to write: its path, its bytes, and notes for its sidecar (a table's comments; see
/// [`super::provenance`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    /// Where the file goes.
    pub path: PathBuf,
    /// Its content.
    pub bytes: Vec<u8>,
    /// Notes on the content, kept in the sidecar of a file that has one.
    pub notes: Vec<String>,
}

impl OutputFile {
    /// A file with no notes.
    pub fn new(path: impl Into<PathBuf>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.into(),
            bytes: bytes.into(),
            notes: Vec::new(),
        }
    }
}

/// A temporary file waiting to be renamed onto its target.
struct Staged {
    /// The temporary file (deleted when dropped).
    temp: TempPath,
    target: PathBuf,
    /// Part of the open batch (renamed by [`Batch::commit`]), or of one call.
    batched: bool,
}

/// Every staged temporary file of the process, and the open batch.
struct Register {
    staged: Vec<Staged>,
    batch_open: bool,
    /// Folders a batch created, removed again (when empty) if it does not commit.
    created_dirs: Vec<PathBuf>,
}

static REGISTER: Mutex<Register> = Mutex::new(Register {
    staged: Vec::new(),
    batch_open: false,
    created_dirs: Vec::new(),
});

fn register() -> MutexGuard<'static, Register> {
    REGISTER.lock().unwrap_or_else(|e| e.into_inner())
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// How a staged file is committed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Staging {
    /// A command's output: joins the open batch, if any.
    Output,
    /// A checkpoint: committed on its own, now, and synced to the disk before its rename.
    Checkpoint,
}

/// Write `bytes` to a new temporary file in the folder of `path` and register it (in the open
/// batch, if any); returns the temporary file's path, the key of its entry.
fn stage(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    stage_in(path, bytes, Staging::Output)
}

/// [`stage`], outside any batch when `join_batch` is false.
fn stage_in(path: &Path, bytes: &[u8], staging: Staging) -> Result<PathBuf> {
    let io_err = |source| write_error(path, source);
    // Created and registered under the lock: `abandon` either sees the file or has already
    // taken the register for good (and this call never returns).
    let (mut file, key) = {
        let mut reg = register();
        let tmp = tempfile::Builder::new()
            .prefix(".gstarve-")
            .suffix(".tmp")
            .tempfile_in(folder_of(path))
            .map_err(io_err)?;
        let (file, temp) = tmp.into_parts();
        let key = temp.to_path_buf();
        let batched = staging == Staging::Output && reg.batch_open;
        reg.staged.push(Staged {
            temp,
            target: path.to_path_buf(),
            batched,
        });
        (file, key)
    };
    let written = (|| {
        file.write_all(bytes)?;
        file.flush()?;
        if staging == Staging::Checkpoint {
            file.sync_data()?;
        }
        // The temporary file is created private (0600); outputs are ordinary files (0644).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        }
        Ok(())
    })();
    if let Err(source) = written {
        drop_staged(&[key]);
        return Err(io_err(source));
    }
    Ok(key)
}

/// Forget (and delete) the staged files with these keys.
fn drop_staged(keys: &[PathBuf]) {
    register()
        .staged
        .retain(|s| !keys.iter().any(|k| k.as_path() == &*s.temp));
}

/// Rename the staged files `selected` picks onto their targets, in staging order; a later file
/// for the same target replaces an earlier one. Holds the register throughout.
fn commit(selected: impl Fn(&Staged) -> bool) -> Result<Vec<PathBuf>> {
    let mut reg = register();
    let (chosen, kept): (Vec<Staged>, Vec<Staged>) = std::mem::take(&mut reg.staged)
        .into_iter()
        .partition(&selected);
    reg.staged = kept;
    let mut renamed: Vec<PathBuf> = Vec::with_capacity(chosen.len());
    let superseded: Vec<bool> = (0..chosen.len())
        .map(|i| chosen[i + 1..].iter().any(|s| s.target == chosen[i].target))
        .collect();
    let mut failure = None;
    for (staged, superseded) in chosen.into_iter().zip(superseded) {
        // Superseded by a later file for the same target, or after a failure: deleted on drop.
        if failure.is_some() || superseded {
            continue;
        }
        let target = staged.target.clone();
        match staged.temp.persist(&target) {
            Ok(()) => renamed.push(target),
            Err(e) => failure = Some(write_error(&target, e.error)),
        }
    }
    match failure {
        Some(err) => Err(err),
        None => Ok(renamed),
    }
}

/// The files to stage for `files`: each with its provenance, when one is installed (files
/// whose provenance goes to a sidecar are borrowed, not copied).
fn stamped(files: &[OutputFile]) -> Result<Vec<(PathBuf, Cow<'_, [u8]>)>> {
    let Some(p) = provenance::installed() else {
        return Ok(files
            .iter()
            .map(|f| (f.path.clone(), Cow::Borrowed(&f.bytes[..])))
            .collect());
    };
    let mut out = Vec::with_capacity(files.len() * 2);
    for f in files {
        out.extend(provenance::stamp(&p, &f.path, &f.bytes, &f.notes)?);
    }
    Ok(out)
}

/// Write several files as one output (a figure's images and its data, with their sidecars):
/// every file is first written in full to a temporary file beside its target, and only when
/// all of them are staged are they renamed into place (inside a [`Batch`]: when the batch
/// commits). A failure while staging (a missing folder, a full disk, a refused permission)
/// therefore writes none of them, and leaves no temporary file behind. Each rename is atomic on
/// its own; should one fail after others succeeded, the files already renamed stay complete.
pub fn write_files(files: &[OutputFile]) -> Result<()> {
    let all = stamped(files)?;
    let mut keys = Vec::with_capacity(all.len());
    for (path, bytes) in &all {
        match stage(path, bytes) {
            Ok(key) => keys.push(key),
            Err(err) => {
                drop_staged(&keys);
                return Err(err);
            }
        }
    }
    commit(|s| !s.batched && keys.iter().any(|k| k.as_path() == &*s.temp))?;
    Ok(())
}

/// Write `bytes` to `path` atomically now, even while a [`Batch`] is open: for checkpoints
/// (a sharded sweep's file), which must reach the disk while the command still runs, whatever
/// becomes of the command's other outputs. Stamped with the provenance like any output.
pub fn write_now(path: &Path, bytes: &[u8]) -> Result<()> {
    let file = [OutputFile::new(path, bytes)];
    let all = stamped(&file)?;
    let mut keys = Vec::with_capacity(all.len());
    for (path, bytes) in &all {
        match stage_in(path, bytes, Staging::Checkpoint) {
            Ok(key) => keys.push(key),
            Err(err) => {
                drop_staged(&keys);
                return Err(err);
            }
        }
    }
    commit(|s| !s.batched && keys.iter().any(|k| k.as_path() == &*s.temp))?;
    Ok(())
}

/// Write `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_files(&[OutputFile::new(path, bytes)])
}

/// [`write_files`] for files without notes.
pub fn write_all_atomic<P: AsRef<Path>, B: AsRef<[u8]>>(files: &[(P, B)]) -> Result<()> {
    let files: Vec<OutputFile> = files
        .iter()
        .map(|(p, b)| OutputFile::new(p.as_ref(), b.as_ref()))
        .collect();
    write_files(&files)
}

/// Create a folder (and its parents) for output. Inside a [`Batch`], the folders it creates
/// are removed again (when still empty) if the batch does not commit.
pub fn ensure_dir(path: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(path);
    while let Some(dir) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(dir.to_path_buf());
        at = dir.parent();
    }
    std::fs::create_dir_all(path).map_err(|source| write_error(path, source))?;
    let mut reg = register();
    if reg.batch_open {
        // Outermost first, so that they are removed innermost first.
        reg.created_dirs.extend(missing.into_iter().rev());
    }
    Ok(())
}

/// A command's outputs as one: while a batch is open, every write of the process is staged,
/// and only [`Batch::commit`] renames the files into place. Dropping the batch without
/// committing it (an error, a panic) deletes its temporary files and the folders it created.
/// One batch at a time per process.
#[must_use = "a batch writes nothing until it is committed"]
pub struct Batch {
    _private: (),
}

impl Batch {
    /// Open the process's batch. Panics if one is open already.
    pub fn begin() -> Self {
        let mut reg = register();
        assert!(!reg.batch_open, "an output batch is open already");
        reg.batch_open = true;
        reg.created_dirs.clear();
        Batch { _private: () }
    }

    /// The targets staged so far, in staging order (sidecars included).
    pub fn targets(&self) -> Vec<PathBuf> {
        register()
            .staged
            .iter()
            .filter(|s| s.batched)
            .map(|s| s.target.clone())
            .collect()
    }

    /// Rename every staged file into place; returns the files written (each once, sidecars
    /// included), in staging order.
    pub fn commit(self) -> Result<Vec<PathBuf>> {
        let renamed = commit(|s| s.batched);
        let mut reg = register();
        reg.created_dirs.clear();
        reg.batch_open = false;
        renamed
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        let mut reg = register();
        if !reg.batch_open {
            return;
        }
        reg.staged.retain(|s| !s.batched);
        for dir in std::mem::take(&mut reg.created_dirs).iter().rev() {
            // Only an empty folder goes; anything else put there stays.
            let _ = std::fs::remove_dir(dir);
        }
        reg.batch_open = false;
    }
}

/// For a process about to die (a signal handler's last act before the default action): delete
/// every staged temporary file and the folders an open batch created, and keep the register
/// locked, so that no file is staged or renamed afterwards. A commit in progress holds the
/// register, so this waits for it to finish: an interrupted command leaves either none of its
/// outputs or all of them. Does not return the register: the caller must end the process.
pub fn abandon() {
    let mut reg = register();
    reg.staged.clear();
    for dir in std::mem::take(&mut reg.created_dirs).iter().rev() {
        let _ = std::fs::remove_dir(dir);
    }
    std::mem::forget(reg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::names;

    // No test here opens a Batch: the batch is process-wide, and the other tests of this crate
    // write files in parallel. The batch is tested through the command line
    // (tests/interfaces/outputs.rs), where a process is one command.

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

    #[test]
    fn a_later_file_for_the_same_target_wins() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.csv");
        write_all_atomic(&[(&a, b"old".as_slice()), (&a, b"new".as_slice())]).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["a.csv"]);
    }
}
