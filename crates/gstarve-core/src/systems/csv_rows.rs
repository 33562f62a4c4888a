//! The one rule by which every reader of a user's CSV file (features Φ, labels y, a kernel Θ,
//! a network's data set) splits it into rows, so that no row is ever lost silently:
//!
//! - a UTF-8 byte-order mark at the start of the file (as Excel writes one) is removed;
//! - empty lines and lines starting with `#` are skipped;
//! - fields are separated by commas, surrounding spaces trimmed;
//! - the first remaining row is a header only when **every** field in it is non-numeric
//!   (`x1,x2,y`); when every field is a number it is data; a first row that mixes the two
//!   (`x1,0.5`, or a damaged number) is rejected with an error naming row 1, rather than being
//!   guessed at.

use crate::error::{Error, InputError, Result};

/// The UTF-8 byte-order mark, U+FEFF.
const BOM: char = '\u{feff}';

/// One row of a CSV file: its 1-based line number in the file and its fields, trimmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvRow<'a> {
    /// 1-based line number.
    pub line: usize,
    /// The fields, trimmed.
    pub fields: Vec<&'a str>,
}

/// A CSV file split by the rule of the module: its header row, if it has one, and its data rows
/// (not yet parsed as numbers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvRows<'a> {
    /// The header row, when the first row is all names.
    pub header: Option<CsvRow<'a>>,
    /// Every other row.
    pub rows: Vec<CsvRow<'a>>,
}

/// Whether a field reads as a number (as `f64` parses it: `1`, `-2.5e-3`, `nan`, `inf`).
fn is_number(field: &str) -> bool {
    field.parse::<f64>().is_ok()
}

/// Split CSV `text` into a header and rows by the rule of the module; `origin` (usually the file
/// name) names the file in the error for a first row that mixes names and numbers.
pub fn split_csv<'a>(text: &'a str, origin: &str) -> Result<CsvRows<'a>> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let mut header = None;
    let mut rows: Vec<CsvRow<'a>> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let row = CsvRow {
            line: index + 1,
            fields: content.split(',').map(str::trim).collect(),
        };
        if header.is_none() && rows.is_empty() {
            let numbers = row.fields.iter().filter(|f| is_number(f)).count();
            if numbers == 0 {
                header = Some(row);
                continue;
            }
            if numbers < row.fields.len() {
                let name = row.fields.iter().find(|f| !is_number(f)).copied();
                let number = row.fields.iter().find(|f| is_number(f)).copied();
                return Err(Error::Input(InputError::MixedHeader {
                    path: origin.to_string(),
                    line: row.line,
                    name: name.unwrap_or_default().to_string(),
                    number: number.unwrap_or_default().to_string(),
                }));
            }
        }
        rows.push(row);
    }
    Ok(CsvRows { header, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(rows: &[CsvRow<'a>]) -> Vec<Vec<&'a str>> {
        rows.iter().map(|r| r.fields.clone()).collect()
    }

    #[test]
    fn a_byte_order_mark_never_costs_a_row() {
        let plain = split_csv("1,2\n3,4\n", "t.csv").unwrap();
        let marked = split_csv("\u{feff}1,2\n3,4\n", "t.csv").unwrap();
        assert_eq!(plain, marked);
        assert_eq!(fields(&marked.rows), [["1", "2"], ["3", "4"]]);
        assert!(marked.header.is_none());
        // A marked header is still a header, and its first name has no mark.
        let marked = split_csv("\u{feff}x, y\r\n1,2\r\n", "t.csv").unwrap();
        assert_eq!(marked.header.unwrap().fields, ["x", "y"]);
        assert_eq!(marked.rows.len(), 1);
    }

    #[test]
    fn a_header_is_all_names_and_a_mixed_first_row_is_refused() {
        let rows = split_csv("# comment\n\nx1,x2,y\n0.5,1,0\n", "t.csv").unwrap();
        let header = rows.header.unwrap();
        assert_eq!((header.line, header.fields), (3, vec!["x1", "x2", "y"]));
        assert_eq!(rows.rows[0].line, 4);
        // A header-less numeric file keeps every row.
        let rows = split_csv("-1,2e-1\n3,4\n", "t.csv").unwrap();
        assert!(rows.header.is_none());
        assert_eq!(rows.rows.len(), 2);
        let err = split_csv("# c\nx1,0.5,y\n1,2,3\n", "t.csv").unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Input(InputError::MixedHeader { line: 2, name, number, .. })
                    if name == "x1" && number == "0.5"
            ),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains("t.csv: row 1 (line 2)"), "{text}");
        // A damaged number in a first data row is refused, not dropped as a header.
        assert!(split_csv("1,2x\n3,4\n", "t.csv").is_err());
        // Only the first row can be a header: a later row of names is data (and its reader
        // reports the value that is not a number).
        let rows = split_csv("1,2\nx,y\n", "t.csv").unwrap();
        assert!(rows.header.is_none());
        assert_eq!(rows.rows.len(), 2);
    }
}
