//! NumPy `.npy` arrays of real numbers, read and written without trusting the header.
//!
//! The format (NEP 1): the magic `\x93NUMPY`, a version (1.0, 2.0 or 3.0), the length of a
//! header (2 bytes in version 1, 4 bytes after), the header — a Python dict literal
//! `{'descr': '<f8', 'fortran_order': False, 'shape': (n, p), }` — and the raw data. gstarve
//! reads 1-D and 2-D arrays of float64, float32, signed and unsigned integers and booleans, in
//! either byte order and in C or Fortran order, into f64. Before it allocates anything it checks
//! that the data the header declares (with overflow-checked products) is exactly what the file
//! holds, so a 100-byte file cannot ask for terabytes, and a truncated file is an error naming
//! both sizes. Object arrays (pickles), structured and string dtypes are refused.
//!
//! The parser is written here rather than taken from a crate: the maintained one (npyz 0.9)
//! multiplies the declared shape without overflow checks (a panic in debug builds on a hostile
//! header) and allocates from it before reading; see docs/benchmarks.md, "Reading .npy".

use std::path::Path;

use nalgebra::DMatrix;

use crate::error::{Error, InputError, Result};
use crate::output::write_atomic;

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Longest header accepted (NumPy itself refuses headers over 10 000 bytes by default).
const MAX_HEADER: usize = 65_536;

/// A 1-D or 2-D array read from a `.npy` file, as f64 in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// The declared shape (one or two entries).
    pub shape: Vec<usize>,
    /// The values, row-major (C order) whatever the file's order.
    pub values: Vec<f64>,
    /// Whether the file stored integers or booleans (labels), not floats.
    pub integral: bool,
}

impl NpyArray {
    /// The array as an n × p matrix (a 1-D array of length n is n × 1).
    pub fn into_matrix(self) -> DMatrix<f64> {
        let (rows, cols) = match self.shape[..] {
            [n] => (n, 1),
            [n, p] => (n, p),
            _ => unreachable!("parse_npy accepts rank 1 or 2 only"),
        };
        DMatrix::from_row_slice(rows, cols, &self.values)
    }
}

/// The element types gstarve reads.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Float,
    Signed,
    Unsigned,
    Bool,
}

/// Read a `.npy` file (see the module documentation).
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).map_err(|source| {
        Error::Input(InputError::Read {
            path: path.display().to_string(),
            source,
        })
    })?;
    parse_npy(&bytes, &path.display().to_string())
}

/// Parse the bytes of a `.npy` file; `origin` names it in errors.
pub fn parse_npy(bytes: &[u8], origin: &str) -> Result<NpyArray> {
    parse_npy_up_to(bytes, origin, 2)
}

/// [`parse_npy`] accepting arrays of up to `max_rank` (≤ 3) dimensions: the members of a system
/// archive with a leading batch axis (issue #17). [`NpyArray::into_matrix`] takes rank 1 or 2
/// only: the caller checks the shape.
pub(crate) fn parse_npy_up_to(bytes: &[u8], origin: &str, max_rank: usize) -> Result<NpyArray> {
    let fail = |message: String| {
        Error::Input(InputError::Parse {
            path: origin.to_string(),
            message,
        })
    };
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(fail("not a .npy file (no \\x93NUMPY magic)".into()));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(fail(format!(".npy format version {v} is not supported"))),
    };
    if header_len > MAX_HEADER || start + header_len > bytes.len() {
        return Err(fail(format!(
            "the header declares {header_len} bytes but the file has {} after the preamble",
            bytes.len().saturating_sub(start)
        )));
    }
    let header = std::str::from_utf8(&bytes[start..start + header_len])
        .map_err(|_| fail("the header is not text".into()))?;
    let descr = dict_string(header, "descr").ok_or_else(|| {
        fail("the header has no 'descr' string (structured dtypes are not supported)".into())
    })?;
    let fortran = match dict_value(header, "fortran_order") {
        Some(v) if v.starts_with("True") => true,
        Some(v) if v.starts_with("False") => false,
        _ => return Err(fail("the header has no 'fortran_order' True/False".into())),
    };
    let shape = dict_shape(header).ok_or_else(|| fail("the header has no valid 'shape'".into()))?;
    let (kind, size, little) = dtype(&descr).ok_or_else(|| {
        fail(format!(
            "dtype '{descr}' is not supported: use float64, float32, integers or booleans \
             (object arrays and strings cannot be read)"
        ))
    })?;
    if shape.is_empty() || shape.len() > max_rank.clamp(2, 3) {
        return Err(fail(format!(
            "the array has {} dimensions; gstarve reads vectors and matrices (1 or 2){}",
            shape.len(),
            if max_rank > 2 {
                ", or a batch of them (3)"
            } else {
                ""
            }
        )));
    }
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| fail(format!("the shape {shape:?} overflows")))?;
    let data = &bytes[start + header_len..];
    let declared = count
        .checked_mul(size)
        .ok_or_else(|| fail(format!("the shape {shape:?} overflows")))?;
    if declared != data.len() {
        return Err(fail(format!(
            "the header declares {count} values of {size} bytes ({declared} bytes) but the file \
             holds {} bytes of data{}",
            data.len(),
            if declared > data.len() {
                " (truncated?)"
            } else {
                ""
            }
        )));
    }
    let mut values: Vec<f64> = data
        .chunks_exact(size)
        .map(|b| decode(b, kind, little))
        .collect();
    if fortran && shape.len() == 2 {
        let (n, p) = (shape[0], shape[1]);
        let column_major = values;
        values = (0..n * p)
            .map(|k| column_major[(k % p) * n + k / p])
            .collect();
    }
    if fortran && shape.len() == 3 {
        // C index (a·n1 + b)·n2 + c holds Fortran index a + n0·(b + n1·c).
        let (n0, n1, n2) = (shape[0], shape[1], shape[2]);
        let fortran_order = values;
        values = (0..n0 * n1 * n2)
            .map(|k| {
                let (a, b, c) = (k / (n1 * n2), (k / n2) % n1, k % n2);
                fortran_order[a + n0 * (b + n1 * c)]
            })
            .collect();
    }
    Ok(NpyArray {
        shape,
        values,
        integral: kind != Kind::Float,
    })
}

/// Write `matrix` as a C-order little-endian float64 `.npy` file (format 1.0), atomically.
pub fn write_npy(path: &Path, matrix: &DMatrix<f64>) -> Result<()> {
    write_atomic(path, &npy_bytes(matrix))
}

/// The bytes of `matrix` as a C-order little-endian float64 `.npy` file (format 1.0), for
/// callers that write several files as one output.
pub fn npy_bytes(matrix: &DMatrix<f64>) -> Vec<u8> {
    let (n, p) = matrix.shape();
    npy_with_shape(&format!("({n}, {p})"), n * p, |i| matrix[(i / p, i % p)])
}

/// The bytes of a 1-D float64 `.npy` array of shape (n,).
pub fn npy_vector_bytes(values: &[f64]) -> Vec<u8> {
    npy_with_shape(&format!("({},)", values.len()), values.len(), |i| values[i])
}

/// A format-1.0 little-endian float64 `.npy` file: `shape` as NumPy writes it, `len` values in
/// C order given by `value(k)`.
fn npy_with_shape(shape: &str, len: usize, value: impl Fn(usize) -> f64) -> Vec<u8> {
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad with spaces so that the data starts at a multiple of 64 bytes, ending with '\n'.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + 8 * len);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[1, 0]);
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for k in 0..len {
        bytes.extend_from_slice(&value(k).to_le_bytes());
    }
    bytes
}

/// The element kind, size and byte order of a NumPy type string (`<f8`, `|u1`, …).
fn dtype(descr: &str) -> Option<(Kind, usize, bool)> {
    let mut chars = descr.chars();
    let order = chars.next()?;
    let little = match order {
        '<' | '|' => true,
        '>' => false,
        _ => return None,
    };
    let kind = match chars.next()? {
        'f' => Kind::Float,
        'i' => Kind::Signed,
        'u' => Kind::Unsigned,
        'b' => Kind::Bool,
        _ => return None,
    };
    let size: usize = chars.as_str().parse().ok()?;
    let valid = match kind {
        Kind::Float => matches!(size, 4 | 8),
        Kind::Signed | Kind::Unsigned => matches!(size, 1 | 2 | 4 | 8),
        Kind::Bool => size == 1,
    };
    valid.then_some((kind, size, little))
}

/// One element as f64 (integers beyond 2⁵³ round, as NumPy's astype(float) does).
fn decode(b: &[u8], kind: Kind, little: bool) -> f64 {
    let mut buf = [0u8; 8];
    let n = b.len();
    if little {
        buf[..n].copy_from_slice(b);
    } else {
        for (k, &x) in b.iter().rev().enumerate() {
            buf[k] = x;
        }
    }
    let raw = u64::from_le_bytes(buf);
    match (kind, n) {
        (Kind::Float, 8) => f64::from_bits(raw),
        (Kind::Float, _) => f64::from(f32::from_bits(raw as u32)),
        (Kind::Unsigned | Kind::Bool, _) => raw as f64,
        (Kind::Signed, _) => {
            // Sign-extend the n-byte integer.
            let shift = 64 - 8 * n as u32;
            (((raw << shift) as i64) >> shift) as f64
        }
    }
}

/// The text after `'key':` in the header dict, trimmed.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?;
    Some(rest.trim_start())
}

/// A quoted string value of the header dict.
fn dict_string(header: &str, key: &str) -> Option<String> {
    let v = dict_value(header, key)?;
    let quote = v.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = &v[1..];
    Some(body[..body.find(quote)?].to_string())
}

/// The shape tuple of the header dict, e.g. `(3, 4)`, `(5,)` or `()`.
fn dict_shape(header: &str) -> Option<Vec<usize>> {
    let v = dict_value(header, "shape")?.strip_prefix('(')?;
    let inner = &v[..v.find(')')?];
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.npy` file with the given header dict and data bytes (format 1.0).
    fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = dict.to_string();
        header.push('\n');
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    fn f64s(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn writes_and_reads_back_exactly() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k.npy");
        let m = DMatrix::from_row_slice(2, 3, &[1.0, -2.5, 3.0, 1e-300, f64::MAX, -0.0]);
        write_npy(&p, &m).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        // NumPy's alignment: the data starts at a multiple of 64 bytes.
        assert_eq!((bytes.len() - 48) % 64, 0);
        let back = read_npy(&p).unwrap();
        assert_eq!(back.shape, vec![2, 3]);
        assert_eq!(back.into_matrix(), m);
    }

    #[test]
    fn reads_fortran_order_float32_integers_and_big_endian() {
        // [[1, 2, 3], [4, 5, 6]] stored column by column.
        let a = parse_npy(
            &npy(
                "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                &f64s(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]),
            ),
            "f.npy",
        )
        .unwrap();
        assert_eq!(a.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let f32s: Vec<u8> = [0.5f32, -1.25]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let b = parse_npy(
            &npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                &f32s,
            ),
            "g.npy",
        )
        .unwrap();
        assert_eq!((b.values, b.integral), (vec![0.5, -1.25], false));
        let labels = parse_npy(
            &npy(
                "{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }",
                &[255, 1, 0],
            ),
            "y.npy",
        )
        .unwrap();
        assert_eq!(
            (labels.values, labels.integral),
            (vec![-1.0, 1.0, 0.0], true)
        );
        let big: Vec<u8> = (-7i32).to_be_bytes().to_vec();
        let c = parse_npy(
            &npy(
                "{'descr': '>i4', 'fortran_order': False, 'shape': (1,), }",
                &big,
            ),
            "h.npy",
        )
        .unwrap();
        assert_eq!(c.values, vec![-7.0]);
    }

    #[test]
    fn bad_files_are_errors_naming_the_problem() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"hello world".to_vec(), "magic"),
            (
                npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", &[0; 16]),
                "object arrays",
            ),
            (
                npy("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", &[0; 12]),
                "not supported",
            ),
            (
                npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }", &f64s(&[0.0; 8])),
                "3 dimensions",
            ),
            (
                npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", &f64s(&[1.0; 3])),
                "truncated",
            ),
            (
                // A 100-byte file that asks for 10¹⁸ values: refused before any allocation.
                npy(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000000000), }",
                    &[0; 16],
                ),
                "declares 1000000000000000000 values",
            ),
            (
                npy(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551615, 3), }",
                    &[0; 16],
                ),
                "overflows",
            ),
            (
                npy("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }", &[0; 8]),
                "structured",
            ),
        ];
        for (bytes, needle) in cases {
            let err = parse_npy(&bytes, "x.npy").unwrap_err().to_string();
            assert!(
                err.contains("x.npy") && err.contains(needle),
                "{needle}: {err}"
            );
        }
        // A header length beyond the file.
        let mut short = npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
            &[],
        );
        short[8] = 0xff;
        assert!(parse_npy(&short, "s.npy")
            .unwrap_err()
            .to_string()
            .contains("header declares"));
    }
}
