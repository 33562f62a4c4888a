//! Data sets from CSV: one example per line, columns x₁, …, x_d, y (comma-separated).
//!
//! Rows are split by gstarve-core's one rule for a user's CSV ([`gstarve_core::systems::split_csv`]):
//! a UTF-8 byte-order mark is removed; a first row of names only is a header; a first row that
//! mixes names and numbers is refused (naming row 1); empty lines and lines starting with `#`
//! are skipped. Labels must be all in {−1, +1} or all in {0, 1} (0 ↦ −1): the set is {0, 1} when any
//! label is 0, else {−1, +1}, and the first label outside it is reported with its line. Every
//! entry must be a finite number, every row must have as many columns as the header, if there is one, and the first data
//! row (at least two: one input and the label), and there must be at least one row.

use std::path::Path;

use nalgebra::DMatrix;

use super::Dataset;
use gstarve_core::error::{Error, InputError, Result};
use gstarve_core::systems::{split_csv, CsvRow};

/// Read a data set from a CSV file (see the module documentation for the format).
pub fn read_dataset_csv(path: &Path) -> Result<Dataset> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        Error::Input(InputError::Read {
            path: path.display().to_string(),
            source,
        })
    })?;
    parse_dataset_csv(&text, &path.display().to_string())
}

/// Parse CSV text as a data set; `origin` names it in errors (usually the file name).
pub fn parse_dataset_csv(text: &str, origin: &str) -> Result<Dataset> {
    let split = split_csv(text, origin)?;
    let header_columns = split.header.as_ref().map(|h| h.fields.len());
    let mut rows: Vec<(usize, Vec<f64>)> = Vec::with_capacity(split.rows.len());
    let mut expected = 0;
    for CsvRow { line, fields } in &split.rows {
        let line = *line;
        if let (true, Some(columns)) = (rows.is_empty(), header_columns) {
            if fields.len() != columns {
                return Err(Error::Input(InputError::DatasetColumns {
                    path: origin.into(),
                    line,
                    found: fields.len(),
                    expected: columns,
                }));
            }
        }
        if rows.is_empty() {
            expected = fields.len();
            if expected < 2 {
                return Err(Error::Input(InputError::DatasetColumns {
                    path: origin.into(),
                    line,
                    found: expected,
                    expected: 2,
                }));
            }
        } else if fields.len() != expected {
            return Err(Error::Input(InputError::DatasetColumns {
                path: origin.into(),
                line,
                found: fields.len(),
                expected,
            }));
        }
        let mut row = Vec::with_capacity(expected);
        for (k, f) in fields.iter().enumerate() {
            match f.parse::<f64>() {
                Ok(v) if v.is_finite() => row.push(v),
                _ => {
                    return Err(Error::Input(InputError::DatasetValue {
                        path: origin.into(),
                        line,
                        column: k + 1,
                        text: (*f).to_string(),
                    }))
                }
            }
        }
        rows.push((line, row));
    }
    if rows.is_empty() {
        return Err(Error::Input(InputError::EmptyDataset {
            origin: origin.into(),
            detail: "no data rows (x₁, …, x_d, y)",
        }));
    }
    let d = expected - 1;
    let zero_one = rows.iter().any(|(_, r)| r[d] == 0.0);
    let mut labels = Vec::with_capacity(rows.len());
    for (line, r) in &rows {
        let y = r[d];
        let valid = if zero_one {
            y == 0.0 || y == 1.0
        } else {
            y == -1.0 || y == 1.0
        };
        if !valid {
            return Err(Error::Input(InputError::DatasetLabel {
                path: origin.into(),
                line: *line,
                value: y,
            }));
        }
        labels.push(y);
    }
    let inputs = DMatrix::from_fn(rows.len(), d, |i, k| rows[i].1[k]);
    Dataset::new(inputs, &labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_comments_and_zero_one_labels() {
        let data = parse_dataset_csv("x1,x2,y\n# c\n0.5,1,0\n\n-1,2e-1,1\n", "t.csv").unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data.dim(), 2);
        assert_eq!(data.labels().as_slice(), &[-1.0, 1.0]);
        assert_eq!(data.inputs()[(1, 1)], 0.2);
    }

    #[test]
    fn a_byte_order_mark_keeps_every_row() {
        let plain = parse_dataset_csv("0.5,1,1\n-1,2,-1\n1,1,1\n", "t.csv").unwrap();
        let marked = parse_dataset_csv("\u{feff}0.5,1,1\n-1,2,-1\n1,1,1\n", "t.csv").unwrap();
        assert_eq!(marked.len(), 3);
        assert_eq!(marked.inputs(), plain.inputs());
        assert_eq!(marked.labels(), plain.labels());
    }

    #[test]
    fn each_error_names_line_and_value() {
        let e = parse_dataset_csv("1,2,1\n1,2\n", "t.csv").unwrap_err();
        assert!(matches!(
            e,
            Error::Input(InputError::DatasetColumns {
                line: 2,
                found: 2,
                expected: 3,
                ..
            })
        ));
        // A first data row shorter than the header is a column error, not a bad label.
        let e = parse_dataset_csv("x1,x2,y\n0.1,0.3\n", "t.csv").unwrap_err();
        assert!(matches!(
            e,
            Error::Input(InputError::DatasetColumns {
                line: 2,
                found: 2,
                expected: 3,
                ..
            })
        ));
        let e = parse_dataset_csv("1,2,1\n1,nan,-1\n", "t.csv").unwrap_err();
        assert!(matches!(
            e,
            Error::Input(InputError::DatasetValue {
                line: 2,
                column: 2,
                ..
            })
        ));
        let e = parse_dataset_csv("1,2,1\n1,3,-1\n1,3,0\n", "t.csv").unwrap_err();
        assert!(
            matches!(e, Error::Input(InputError::DatasetLabel { line: 2, value, .. }) if value == -1.0)
        );
        let e = parse_dataset_csv("1,2,2\n", "t.csv").unwrap_err();
        assert!(
            matches!(e, Error::Input(InputError::DatasetLabel { line: 1, value, .. }) if value == 2.0)
        );
        let e = parse_dataset_csv("x,y\n\n", "t.csv").unwrap_err();
        assert!(matches!(e, Error::Input(InputError::EmptyDataset { .. })));
        // A first row mixing names and numbers is refused, naming row 1.
        let e = parse_dataset_csv("x1,0.5,y\n1,2,1\n", "t.csv").unwrap_err();
        assert!(matches!(
            e,
            Error::Input(InputError::MixedHeader { line: 1, .. })
        ));
        let e = parse_dataset_csv("1\n", "t.csv").unwrap_err();
        assert!(matches!(
            e,
            Error::Input(InputError::DatasetColumns { found: 1, .. })
        ));
        assert!(e.to_string().contains("t.csv: line 1"));
    }
}
