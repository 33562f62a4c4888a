//! A numeric CSV file (`--features`, `--kernel`, `--labels` as CSV): `read_matrix` and
//! `read_vector` on arbitrary bytes. An accepted matrix is non-empty and rectangular, with no
//! more entries than the file has fields; a vector is one of its rows or columns; a refused file
//! is a one-line input error.
#![no_main]

use gstarve_core::systems::{read_matrix, read_vector};
use gstarve_fuzz::{assert_input_rejection, with_file};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let fields = 1 + data.iter().filter(|&&b| b == b',' || b == b'\n').count();
    with_file("matrix.csv", data, |path| {
        let matrix = read_matrix(path);
        match &matrix {
            Ok(m) => {
                assert!(m.nrows() >= 1 && m.ncols() >= 1, "shape {:?}", m.shape());
                assert!(m.len() <= fields);
            }
            Err(e) => assert_input_rejection(e),
        }
        match read_vector(path) {
            Ok(v) => {
                let m = matrix.expect("a vector is read from a matrix");
                assert!(m.nrows() == 1 || m.ncols() == 1);
                assert_eq!(v.len(), m.len());
                assert!(v
                    .iter()
                    .zip(m.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
            }
            Err(e) => assert_input_rejection(&e),
        }
    });
});
