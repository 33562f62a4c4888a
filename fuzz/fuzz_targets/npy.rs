//! A `.npy` array (`--features`, `--kernel`, `--labels` as `.npy`): `read_matrix` and
//! `read_vector` on arbitrary bytes, and `parse_npy` itself. An accepted array has 1 or 2
//! dimensions whose product is its number of values (so no header can make it allocate more
//! than the file holds); a refused one is a one-line input error.
#![no_main]

use gstarve_core::systems::{parse_npy, read_matrix, read_vector};
use gstarve_fuzz::{assert_input_rejection, with_file};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match parse_npy(data, "fuzz.npy") {
        Ok(a) => {
            assert!(matches!(a.shape.len(), 1 | 2), "shape {:?}", a.shape);
            assert_eq!(a.shape.iter().product::<usize>(), a.values.len());
            // Every value decoded from at least one byte of the file.
            assert!(a.values.len() <= data.len());
        }
        Err(e) => assert_input_rejection(&e),
    }
    with_file("array.npy", data, |path| {
        match read_matrix(path) {
            Ok(m) => assert!(m.len() <= data.len()),
            Err(e) => assert_input_rejection(&e),
        }
        match read_vector(path) {
            Ok(v) => assert!(v.len() <= data.len()),
            Err(e) => assert_input_rejection(&e),
        }
    });
});
