//! CSV tables through the `csv` crate: optional `#` comment lines, a header, then rows with
//! exactly as many fields as the header (the writer refuses a row of another width). Numbers are
//! formatted by the [`Cell`] they are given as, so that each file keeps one number format per
//! column.
//!
//! ```
//! use gstarve_core::output::{Cell, Table};
//!
//! let mut table = Table::with_comments(&["lambda = 0.01"], ["method", "step", "tau"])?;
//! table.row([Cell::Text("gd"), Cell::from(3usize), Cell::Sci(0.15)])?;
//! assert_eq!(table.into_string()?, "# lambda = 0.01\nmethod,step,tau\ngd,3,1.5e-1\n");
//! # Ok::<(), gstarve_core::Error>(())
//! ```

use std::fmt::{self, Display, Write as _};
use std::path::Path;

use super::atomic::write_atomic;
use crate::error::{Error, OutputError, Result};

/// One field of a table row and the format it is written in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    /// Text as is.
    Text(&'a str),
    /// An integer (indices, counts, epochs).
    Int(u64),
    /// `true` or `false`.
    Bool(bool),
    /// A number in Rust's shortest round-trip form (`{}`: 0.1, 2, -0.1).
    Plain(f64),
    /// A number in shortest round-trip scientific notation (`{:e}`: 1.5e-1, 7.812049e0).
    Sci(f64),
    /// A number in scientific notation with this many digits after the point (`{:.6e}`).
    SciDigits(f64, usize),
    /// A number with this many digits after the point (`{:.4}`).
    Fixed(f64, usize),
    /// [`Cell::Sci`] for a finite number, empty otherwise (masked values).
    FiniteSci(f64),
    /// An empty field.
    Empty,
}

impl From<usize> for Cell<'_> {
    fn from(v: usize) -> Self {
        Cell::Int(v as u64)
    }
}

impl From<u64> for Cell<'_> {
    fn from(v: u64) -> Self {
        Cell::Int(v)
    }
}

impl<'a> From<&'a str> for Cell<'a> {
    fn from(v: &'a str) -> Self {
        Cell::Text(v)
    }
}

impl Display for Cell<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Cell::Text(t) => f.write_str(t),
            Cell::Int(v) => write!(f, "{v}"),
            Cell::Bool(v) => write!(f, "{v}"),
            Cell::Plain(v) => write!(f, "{v}"),
            Cell::Sci(v) => write!(f, "{v:e}"),
            Cell::SciDigits(v, digits) => write!(f, "{v:.digits$e}"),
            Cell::Fixed(v, digits) => write!(f, "{v:.digits$}"),
            Cell::FiniteSci(v) if v.is_finite() => write!(f, "{v:e}"),
            Cell::FiniteSci(_) | Cell::Empty => Ok(()),
        }
    }
}

fn encode_error(detail: impl Display) -> Error {
    Error::Output(OutputError::Encode {
        format: "CSV",
        detail: detail.to_string(),
    })
}

/// A CSV table being assembled in memory; [`Table::write`] writes it atomically.
pub struct Table {
    writer: csv::Writer<Vec<u8>>,
    /// One field's text, reused across fields.
    field: String,
}

impl Table {
    /// A table with the given column names.
    pub fn new<I, S>(header: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::with_comments(&[], header)
    }

    /// A table that starts with `# <comment>` lines, then the column names.
    pub fn with_comments<I, S>(comments: &[&str], header: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut preamble = Vec::new();
        for c in comments {
            preamble.extend_from_slice(b"# ");
            preamble.extend_from_slice(c.as_bytes());
            preamble.push(b'\n');
        }
        let mut writer = csv::Writer::from_writer(preamble);
        for name in header {
            writer.write_field(name.as_ref()).map_err(encode_error)?;
        }
        writer.write_record(None::<&[u8]>).map_err(encode_error)?;
        Ok(Self {
            writer,
            field: String::new(),
        })
    }

    /// Append one row; it must have as many cells as the header has columns.
    pub fn row<'c, I>(&mut self, cells: I) -> Result<()>
    where
        I: IntoIterator<Item = Cell<'c>>,
    {
        for cell in cells {
            self.field.clear();
            // Writing into a String cannot fail.
            let _ = write!(self.field, "{cell}");
            self.writer.write_field(&self.field).map_err(encode_error)?;
        }
        self.writer
            .write_record(None::<&[u8]>)
            .map_err(encode_error)
    }

    /// The table's bytes.
    pub fn into_bytes(self) -> Result<Vec<u8>> {
        self.writer.into_inner().map_err(encode_error)
    }

    /// The table's text.
    pub fn into_string(self) -> Result<String> {
        String::from_utf8(self.into_bytes()?).map_err(encode_error)
    }

    /// Write the table to `path` atomically.
    pub fn write(self, path: &Path) -> Result<()> {
        write_atomic(path, &self.into_bytes()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_their_formats() {
        let text: Vec<String> = [
            Cell::Text("steady-l2"),
            Cell::from(12usize),
            Cell::Bool(true),
            Cell::Plain(0.1),
            Cell::Plain(2.0),
            Cell::Sci(7.812049),
            Cell::Sci(0.0),
            Cell::SciDigits(-0.5, 6),
            Cell::Fixed(1.23456, 4),
            Cell::FiniteSci(f64::NAN),
            Cell::FiniteSci(250.0),
            Cell::Empty,
        ]
        .iter()
        .map(Cell::to_string)
        .collect();
        assert_eq!(
            text,
            [
                "steady-l2",
                "12",
                "true",
                "0.1",
                "2",
                "7.812049e0",
                "0e0",
                "-5.000000e-1",
                "1.2346",
                "",
                "2.5e2",
                ""
            ]
        );
    }

    #[test]
    fn a_row_of_the_wrong_width_is_refused() {
        let mut table = Table::new(["a", "b"]).unwrap();
        table.row([Cell::Int(1), Cell::Int(2)]).unwrap();
        let err = table.row([Cell::Int(1)]).unwrap_err();
        assert!(matches!(
            err,
            Error::Output(OutputError::Encode { format: "CSV", .. })
        ));
    }

    #[test]
    fn a_table_round_trips_through_the_csv_reader() {
        let values = [
            [0.0, 1.0, -2.5],
            [1e-300, f64::MAX, 7.812048624141294],
            [-0.1, 1.0 / 3.0, 6.02214076e23],
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut table =
            Table::with_comments(&["a comment, with a comma"], ["k", "x", "y", "z"]).unwrap();
        for (k, row) in values.iter().enumerate() {
            let cells = [Cell::from(k)]
                .into_iter()
                .chain(row.iter().map(|&v| Cell::Sci(v)));
            table.row(cells).unwrap();
        }
        table.write(&path).unwrap();
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .from_path(&path)
            .unwrap();
        assert_eq!(reader.headers().unwrap(), vec!["k", "x", "y", "z"]);
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), values.len());
        for (k, (record, row)) in rows.iter().zip(&values).enumerate() {
            assert_eq!(record[0].parse::<usize>().unwrap(), k);
            for (field, &v) in record.iter().skip(1).zip(row) {
                // Shortest round-trip notation: the very same f64 comes back.
                assert_eq!(field.parse::<f64>().unwrap().to_bits(), v.to_bits());
            }
        }
    }

    #[test]
    fn text_with_commas_is_quoted_and_read_back() {
        let mut table = Table::new(["name", "value"]).unwrap();
        table.row([Cell::Text("a, b"), Cell::Sci(1.0)]).unwrap();
        let text = table.into_string().unwrap();
        assert_eq!(text, "name,value\n\"a, b\",1e0\n");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(&record[0], "a, b");
    }
}
