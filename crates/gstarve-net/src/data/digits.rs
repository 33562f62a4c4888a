//! The UCI optical-recognition-of-handwritten-digits test set (Alpaydin and Kaynak 1998;
//! CC BY 4.0), shipped in the repository as `crates/gstarve-net/data/digits.csv.gz`: the very
//! file scikit-learn ships (`sklearn/datasets/data/digits.csv.gz`, SHA-256 09f66e6d…aa22), with
//! its attribution in `crates/gstarve-net/data/README.md`.
//!
//! 1797 examples, one per line: 64 pixel counts in 0…16 (an 8 × 8 image, row by row) and the
//! digit 0…9, comma-separated, no header. The file is compiled into the library
//! (`include_bytes!`), so nothing is read at run time.

use std::io::Read;

use gstarve_core::error::{Error, InputError, Result};

/// Pixels of one image (8 × 8, row by row).
pub const DIGIT_PIXELS: usize = 64;
/// The largest pixel count (each pixel counts the on-pixels of a 4 × 4 block).
pub const DIGIT_MAX_PIXEL: u8 = 16;

/// The data file, gzip-compressed as scikit-learn ships it.
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Handwritten digits: images with pixel counts 0…16 and their digit 0…9.
#[derive(Clone, Debug, PartialEq)]
pub struct Digits {
    /// One image per example, [`DIGIT_PIXELS`] counts each.
    pub images: Vec<[u8; DIGIT_PIXELS]>,
    /// The digit shown, 0…9.
    pub digits: Vec<u8>,
}

impl Digits {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.digits.len()
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.digits.is_empty()
    }
}

/// The shipped data set (1797 examples), decompressed and parsed.
pub fn optical_digits() -> Result<Digits> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_string(&mut text)
        .map_err(|e| {
            Error::Input(InputError::InvalidText {
                name: "digits data file",
                text: "crates/gstarve-net/data/digits.csv.gz".into(),
                rule: format!("it must be gzip-compressed UTF-8 text ({e})"),
            })
        })?;
    parse_digits_csv(&text)
}

/// Parse digits in the shipped layout (see the module documentation); every line is checked:
/// 65 integer fields, pixels in 0…16, digit in 0…9.
pub fn parse_digits_csv(text: &str) -> Result<Digits> {
    let mut images = Vec::new();
    let mut digits = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |rule: &str| {
            Error::Input(InputError::InvalidText {
                name: "digits line",
                text: format!("{} ({})", k + 1, shorten(line)),
                rule: rule.to_string(),
            })
        };
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != DIGIT_PIXELS + 1 {
            return Err(bad(&format!(
                "it must have {} fields (64 pixels and the digit), found {}",
                DIGIT_PIXELS + 1,
                fields.len()
            )));
        }
        let mut image = [0u8; DIGIT_PIXELS];
        for (pixel, field) in image.iter_mut().zip(&fields) {
            *pixel = integer(field)
                .filter(|&v| v <= DIGIT_MAX_PIXEL)
                .ok_or_else(|| bad("pixels must be integers in 0…16"))?;
        }
        let digit = integer(fields[DIGIT_PIXELS])
            .filter(|&d| d <= 9)
            .ok_or_else(|| bad("the digit (last field) must be an integer in 0…9"))?;
        images.push(image);
        digits.push(digit);
    }
    if digits.is_empty() {
        return Err(Error::Input(InputError::EmptyDataset {
            origin: "digits data".into(),
            detail: "it has no examples",
        }));
    }
    Ok(Digits { images, digits })
}

/// An integer field, written as `7` or `7.0` (NumPy's text output).
fn integer(field: &str) -> Option<u8> {
    let digits = field.strip_suffix(".0").unwrap_or(field);
    digits.parse::<u8>().ok()
}

fn shorten(line: &str) -> String {
    match line.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_file_is_sklearns_digits() {
        let d = optical_digits().unwrap();
        assert_eq!(d.len(), 1797);
        // Class counts and the pixel total, as `awk` counts them in the file (and as
        // sklearn.datasets.load_digits() gives them).
        let mut counts = [0usize; 10];
        for &k in &d.digits {
            counts[k as usize] += 1;
        }
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        let total: u64 = d.images.iter().flatten().map(|&p| p as u64).sum();
        assert_eq!(total, 561_718);
        assert_eq!(&d.images[0][..8], &[0, 0, 5, 13, 9, 1, 0, 0]);
        assert_eq!(d.digits[..3], [0, 1, 2]);
    }

    #[test]
    fn bad_lines_are_named() {
        let short = "1,2,3";
        let err = parse_digits_csv(short).unwrap_err().to_string();
        assert!(err.contains("65 fields"), "{err}");
        let mut line = vec!["0"; 64];
        line.push("3");
        line[5] = "17";
        let err = parse_digits_csv(&line.join(",")).unwrap_err().to_string();
        assert!(err.contains("0…16"), "{err}");
        line[5] = "16.0";
        line[64] = "10";
        let err = parse_digits_csv(&line.join(",")).unwrap_err().to_string();
        assert!(err.contains("0…9"), "{err}");
        line[64] = "9";
        let ok = parse_digits_csv(&line.join(",")).unwrap();
        assert_eq!((ok.images[0][5], ok.digits[0]), (16, 9));
        assert!(parse_digits_csv("\n").is_err());
    }
}
