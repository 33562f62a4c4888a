//! Every file and every text gstarve writes goes through this module:
//!
//! - [`atomic`](mod@atomic): the one place that writes files — each through a temporary file
//!   renamed into place ([`write_atomic`]), several as one output ([`write_all_atomic`]), and
//!   output folders ([`ensure_dir`]);
//! - [`table`](mod@table): CSV through the `csv` crate ([`Table`], rows of typed [`Cell`]s);
//! - [`json`](mod@json): JSON text of typed results ([`to_json`], [`to_json_sorted`]);
//! - [`preflight`](mod@preflight): output paths checked before any computation
//!   ([`check_output_dir`], [`check_output_file`]).

pub mod atomic;
pub mod json;
pub mod preflight;
pub mod table;

pub use atomic::{ensure_dir, write_all_atomic, write_atomic};
pub use json::{to_json, to_json_sorted, Layout};
pub use preflight::{check_output_dir, check_output_file};
pub use table::{Cell, Table};
