//! An append-only file that becomes an output when it is complete: the work in progress of a
//! long resumable job (a sweep's shard) grows in `FILE.part` as pieces finish, each appended
//! and flushed to the operating system at once, so a killed job keeps every piece it finished;
//! [`Journal::finish`] renames it onto `FILE`, so `FILE` appears complete or not at all.
//!
//! A journal is deliberately not part of a command's [`Batch`](super::Batch) and is not removed
//! on a signal: keeping it is what lets the job resume. What a valid piece is (and how to find
//! where a torn last piece starts) is the writer's format; [`Journal::resume`] keeps a prefix
//! of the length the writer found valid.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, OutputError, Result};

fn write_error(path: &Path, source: std::io::Error) -> Error {
    Error::Output(OutputError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// An output file in progress (see the module documentation).
#[derive(Debug)]
pub struct Journal {
    file: File,
    part: PathBuf,
    target: PathBuf,
}

impl Journal {
    /// The work-in-progress file of `target`: `target` with `.part` appended.
    pub fn part_path(target: &Path) -> PathBuf {
        let mut name = target.as_os_str().to_owned();
        name.push(".part");
        PathBuf::from(name)
    }

    /// Start `target`'s journal afresh (replacing any), beginning with `header`.
    pub fn create(target: &Path, header: &[u8]) -> Result<Self> {
        let part = Self::part_path(target);
        let file = File::create(&part).map_err(|e| write_error(&part, e))?;
        let mut journal = Self {
            file,
            part,
            target: target.to_path_buf(),
        };
        journal.append(header)?;
        Ok(journal)
    }

    /// Continue `target`'s existing journal after its first `valid` bytes (anything after them,
    /// a piece torn by a kill, is cut off).
    pub fn resume(target: &Path, valid: u64) -> Result<Self> {
        let part = Self::part_path(target);
        let file = OpenOptions::new()
            .append(true)
            .open(&part)
            .and_then(|f| f.set_len(valid).map(|()| f))
            .map_err(|e| write_error(&part, e))?;
        Ok(Self {
            file,
            part,
            target: target.to_path_buf(),
        })
    }

    /// Append `bytes` and hand them to the operating system (they survive the process).
    pub fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.file
            .write_all(bytes)
            .and_then(|()| self.file.flush())
            .map_err(|e| write_error(&self.part, e))
    }

    /// The journal is complete: sync it to the disk and rename it onto its target (atomic;
    /// replaces the target), so the finished file survives a crash of the machine too.
    pub fn finish(self) -> Result<PathBuf> {
        self.file
            .sync_data()
            .map_err(|e| write_error(&self.part, e))?;
        drop(self.file);
        std::fs::rename(&self.part, &self.target).map_err(|e| write_error(&self.target, e))?;
        Ok(self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_grows_resumes_after_a_torn_piece_and_appears_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.bin");
        let mut j = Journal::create(&target, b"head").unwrap();
        j.append(b"-one").unwrap();
        drop(j);
        // A killed writer: the journal holds what was appended, the target does not exist.
        let part = Journal::part_path(&target);
        assert_eq!(std::fs::read(&part).unwrap(), b"head-one");
        assert!(!target.exists());
        // A torn piece after the valid prefix is cut off on resume.
        std::fs::write(&part, b"head-one-tw").unwrap();
        let mut j = Journal::resume(&target, 8).unwrap();
        j.append(b"-two").unwrap();
        assert_eq!(j.finish().unwrap(), target);
        assert_eq!(std::fs::read(&target).unwrap(), b"head-one-two");
        assert!(!part.exists());
    }
}
