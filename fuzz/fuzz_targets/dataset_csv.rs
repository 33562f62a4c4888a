//! A data set (`gstarve network --data FILE.csv`): `read_dataset_csv` on arbitrary bytes. An
//! accepted file gives n ≥ 1 examples of d ≥ 1 finite inputs with labels exactly ±1, no more
//! examples than lines; a refused one is a one-line input error.
#![no_main]

use gstarve_fuzz::{assert_input_rejection, with_file};
use gstarve_net::data::read_dataset_csv;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let lines = 1 + data.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
    match with_file("data.csv", data, read_dataset_csv) {
        Ok(set) => {
            assert!(set.len() >= 1 && set.dim() >= 1);
            assert!(set.len() <= lines);
            assert!(set.inputs().iter().all(|x| x.is_finite()));
            assert!(set.labels().iter().all(|&y| y == 1.0 || y == -1.0));
        }
        Err(e) => assert_input_rejection(&e),
    }
});
