//! Every file and every text gstarve writes goes through this module:
//!
//! - [`atomic`](mod@atomic): the one place that writes files — each through a temporary file
//!   renamed into place ([`write_atomic`]), several as one output ([`write_all_atomic`],
//!   [`write_files`]), a whole command's as one ([`Batch`]), and output folders
//!   ([`ensure_dir`]);
//! - [`journal`](mod@journal): an append-only file renamed into place when complete (a
//!   resumable job's work in progress, [`Journal`]);
//! - [`provenance`](mod@provenance): which gstarve, command and parameters made each file,
//!   embedded in it or in its sidecar `FILE.json`;
//! - [`table`](mod@table): CSV through the `csv` crate ([`Table`], rows of typed [`Cell`]s);
//! - [`json`](mod@json): JSON text of typed results ([`to_json`], [`to_json_sorted`]);
//! - [`preflight`](mod@preflight): output paths checked before any computation
//!   ([`check_output_dir`], [`check_output_file`]).

pub mod atomic;
pub mod journal;
pub mod json;
pub mod preflight;
pub mod provenance;
pub mod table;

pub use atomic::{
    abandon, ensure_dir, write_all_atomic, write_atomic, write_files, write_now, Batch, OutputFile,
};
pub use journal::Journal;
pub use json::{to_json, to_json_sorted, Layout};
pub use preflight::{check_output_dir, check_output_file};
pub use provenance::Provenance;
pub use table::{Cell, Table};

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    /// The names of the entries of `dir`, sorted: what a test sees written there.
    pub(crate) fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}
