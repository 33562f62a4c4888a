//! CSV tables through the `csv` crate, plain enough for every reader: a header row, then rows
//! with exactly as many fields as the header; no comment lines (a table's comments go to the
//! sidecar of its file, see [`super::provenance`]), no empty field, no quoting. A field is
//! refused when it is empty or holds a comma, a quote, a `#` or a line break, so that
//! `pandas.read_csv(path)`, `numpy.genfromtxt(path, delimiter=",", names=True)` and
//! `csv.DictReader` all read a file alike without options. Numbers are formatted by the
//! [`Cell`] they are given as, so that each file keeps one number format per column; every
//! number format gstarve uses is the shortest text that reads back as the same `f64` (up to 17
//! significant digits).
//!
//! ```
//! use gstarve_core::output::{Cell, Table};
//!
//! let mut table = Table::with_comments(&["lambda = 0.01"], ["method", "step", "tau"])?;
//! table.row([Cell::Text("gd"), Cell::from(3usize), Cell::Sci(0.15)])?;
//! assert_eq!(table.notes(), ["lambda = 0.01"]);
//! assert_eq!(table.into_string()?, "method,step,tau\ngd,3,1.5e-1\n");
//! # Ok::<(), gstarve_core::Error>(())
//! ```

use std::fmt::{self, Display, Write as _};
use std::path::Path;

use super::atomic::{write_files, OutputFile};
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
    /// [`Cell::Sci`] for a finite number, `nan` otherwise (masked values; every CSV reader
    /// reads it as NaN).
    FiniteSci(f64),
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
            Cell::FiniteSci(v) if v.is_finite() => write!(f, "{v:e}"),
            Cell::FiniteSci(_) => f.write_str("nan"),
        }
    }
}

/// The texts of `values` as [`Cell::Sci`] writes them: a grid's coordinates, formatted once and
/// then given to every row as [`Cell::Text`] (the same bytes, without formatting each number
/// again on every line).
pub fn sci_texts(values: &[f64]) -> Vec<String> {
    values.iter().map(|&v| Cell::Sci(v).to_string()).collect()
}

fn encode_error(detail: impl Display) -> Error {
    Error::Output(OutputError::Encode {
        format: "CSV",
        detail: detail.to_string(),
    })
}

/// A field's text when every reader can take it as is: not empty, and none of `,`, `"`, `#`
/// (a comment to NumPy), or a line break.
fn plain_field(text: &str) -> Result<&str> {
    if text.is_empty() {
        return Err(encode_error("an empty field (write an explicit value)"));
    }
    if let Some(c) = text
        .chars()
        .find(|c| matches!(c, ',' | '"' | '#' | '\n' | '\r'))
    {
        return Err(encode_error(format!(
            "field '{text}' holds {c:?}, which not every CSV reader takes unquoted"
        )));
    }
    Ok(text)
}

/// A CSV table being assembled in memory; [`Table::write`] writes it atomically.
pub struct Table {
    writer: csv::Writer<Vec<u8>>,
    /// Comments on the table, written to its file's sidecar.
    notes: Vec<String>,
    /// One field's text, reused across fields.
    field: String,
    /// The header line's bytes (for [`Table::append`]).
    header: Vec<u8>,
    /// The number of columns.
    columns: usize,
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

    /// A table with comments (kept beside the data: in its file's sidecar, as `notes`), then
    /// the column names, which must be distinct.
    pub fn with_comments<I, S>(comments: &[&str], header: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let mut names: Vec<String> = Vec::new();
        for name in header {
            let name = plain_field(name.as_ref())?;
            if names.iter().any(|n| n == name) {
                return Err(encode_error(format!("column '{name}' appears twice")));
            }
            names.push(name.to_string());
            writer.write_field(name).map_err(encode_error)?;
        }
        writer.write_record(None::<&[u8]>).map_err(encode_error)?;
        writer.flush().map_err(encode_error)?;
        let header = writer.get_ref().clone();
        Ok(Self {
            writer,
            notes: comments.iter().map(|c| c.to_string()).collect(),
            field: String::new(),
            header,
            columns: names.len(),
        })
    }

    /// Append the rows of `part`, a table with the same columns (its header is not repeated,
    /// its notes are dropped): a large table assembled from parts formatted in parallel.
    pub fn append(&mut self, part: Table) -> Result<()> {
        self.append_all(vec![part])
    }

    /// [`Self::append`] every part in order, the room for all of them reserved once (a large
    /// table's bytes are not copied again as they grow).
    pub fn append_all(&mut self, parts: Vec<Table>) -> Result<()> {
        let mut rows = Vec::with_capacity(parts.len());
        for part in parts {
            if part.header != self.header {
                return Err(encode_error(
                    "an appended table has other columns than the table it is appended to",
                ));
            }
            let header = part.header.len();
            rows.push((header, part.into_bytes()?));
        }
        let writer = std::mem::replace(&mut self.writer, csv::Writer::from_writer(Vec::new()));
        let mut bytes = writer.into_inner().map_err(encode_error)?;
        bytes.reserve(rows.iter().map(|(h, r)| r.len() - h).sum());
        for (header, r) in &rows {
            bytes.extend_from_slice(&r[*header..]);
        }
        // The new writer counts the fields of its first record afresh; `row` checks the width.
        self.writer = csv::Writer::from_writer(bytes);
        Ok(())
    }

    /// The table's comments.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Append one row; it must have as many cells as the header has columns.
    pub fn row<'c, I>(&mut self, cells: I) -> Result<()>
    where
        I: IntoIterator<Item = Cell<'c>>,
    {
        let mut width = 0;
        for cell in cells {
            width += 1;
            self.field.clear();
            // Writing into a String cannot fail.
            let _ = write!(self.field, "{cell}");
            // Only text can be empty or hold a character readers take apart; numbers, counts
            // and booleans are never empty and are made of digits, signs, '.', 'e', letters.
            let field = match cell {
                Cell::Text(_) => plain_field(&self.field)?,
                _ => self.field.as_str(),
            };
            self.writer.write_field(field).map_err(encode_error)?;
        }
        if width != self.columns {
            return Err(encode_error(format!(
                "a row of {width} fields in a table of {} columns",
                self.columns
            )));
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

    /// The table as a file to write at `path`, its comments as the file's notes.
    pub fn into_output(self, path: &Path) -> Result<OutputFile> {
        let notes = self.notes.clone();
        Ok(OutputFile {
            path: path.to_path_buf(),
            bytes: self.into_bytes()?,
            notes,
        })
    }

    /// Write the table to `path` atomically (with its sidecar, when a provenance is installed).
    pub fn write(self, path: &Path) -> Result<()> {
        write_files(&[self.into_output(path)?])
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
            Cell::FiniteSci(f64::NAN),
            Cell::FiniteSci(f64::INFINITY),
            Cell::FiniteSci(250.0),
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
                "nan",
                "nan",
                "2.5e2"
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
    fn appended_parts_give_the_table_written_in_one_go() {
        let row = |t: &mut Table, i: usize| t.row([Cell::from(i), Cell::Sci(0.5 * i as f64)]);
        let mut whole = Table::with_comments(&["note"], ["i", "x"]).unwrap();
        (0..7).try_for_each(|i| row(&mut whole, i)).unwrap();
        let mut table = Table::with_comments(&["note"], ["i", "x"]).unwrap();
        row(&mut table, 0).unwrap();
        for range in [1..3, 3..3, 3..7] {
            let mut part = Table::new(["i", "x"]).unwrap();
            range
                .into_iter()
                .try_for_each(|i| row(&mut part, i))
                .unwrap();
            table.append(part).unwrap();
        }
        assert_eq!(table.notes(), ["note"]);
        // The width is still checked after an append.
        assert!(table.row([Cell::Int(1)]).is_err());
        let parts = || {
            [0..4, 4..4, 4..7].map(|range| {
                let mut part = Table::new(["i", "x"]).unwrap();
                range
                    .into_iter()
                    .try_for_each(|i| row(&mut part, i))
                    .unwrap();
                part
            })
        };
        let mut table = Table::with_comments(&["note"], ["i", "x"]).unwrap();
        for part in parts() {
            table.append(part).unwrap();
        }
        let mut at_once = Table::with_comments(&["note"], ["i", "x"]).unwrap();
        at_once.append_all(parts().into()).unwrap();
        let whole = whole.into_string().unwrap();
        assert_eq!(table.into_string().unwrap(), whole);
        assert_eq!(at_once.into_string().unwrap(), whole);
        let mut table = Table::new(["i", "x"]).unwrap();
        assert!(table.append(Table::new(["i", "y"]).unwrap()).is_err());
        let [first, ..] = parts();
        let other = Table::new(["i", "y"]).unwrap();
        assert!(table.append_all(vec![first, other]).is_err());
    }

    #[test]
    fn fields_every_reader_takes_unquoted_and_nothing_else() {
        for bad in ["", "a, b", "say \"x\"", "#1", "two\nlines"] {
            let mut table = Table::new(["name"]).unwrap();
            let err = table.row([Cell::Text(bad)]).unwrap_err();
            assert!(err.to_string().contains("CSV"), "{bad:?}: {err}");
            assert!(Table::new([bad]).is_err(), "header {bad:?}");
        }
        assert!(Table::new(["a", "a"]).is_err());
        let mut table = Table::new(["name", "value"]).unwrap();
        table
            .row([Cell::Text("margin+0.1"), Cell::Sci(-1.0)])
            .unwrap();
        assert_eq!(
            table.into_string().unwrap(),
            "name,value\nmargin+0.1,-1e0\n"
        );
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
        // Without a provenance installed, no sidecar; the comment is not in the CSV.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("k,x,y,z\n"), "{text}");
        let mut reader = csv::Reader::from_path(&path).unwrap();
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
}
