//! Outputs that could not be produced or written.

/// A figure or file that could not be produced or written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A figure asked for with no output format.
    #[error("figure {figure}: no output format chosen (choose PNG, SVG or both)")]
    NoOutputFormat {
        /// The figure's file stem.
        figure: String,
    },
    /// A figure with nothing to draw (no finite data in the chosen window).
    #[error("figure {figure} has no finite data to draw")]
    EmptyFigure {
        /// The figure's file stem.
        figure: String,
    },
    /// The plotting backend failed while drawing a figure.
    #[error("drawing {figure} as {format} failed: {detail}")]
    Render {
        /// The figure's file stem.
        figure: String,
        /// `png` or `svg`.
        format: &'static str,
        /// The backend's message.
        detail: String,
    },
    /// A result that could not be encoded as CSV or JSON (for a table: a row whose width is not
    /// the header's).
    #[error("cannot encode {format}: {detail}")]
    Encode {
        /// `CSV`, `JSON` or `TOML`.
        format: &'static str,
        /// The encoder's message.
        detail: String,
    },
    /// An output path found unusable before any computation (a folder that is a file, a parent
    /// that is a file, a folder without write permission).
    #[error("cannot write {path}: {reason}")]
    Unwritable {
        /// The output path as given.
        path: String,
        /// Why not.
        reason: String,
    },
    /// A file or folder that could not be written (the I/O error is its source).
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}
