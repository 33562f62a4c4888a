//! The sweep axis `PARAMETER:FROM:TO[:log]` (`phase-diagram --x/--y`): `Axis::parse` on
//! arbitrary text, with the number of points (`--grid`) from the first two bytes. An accepted
//! axis has ≥ 1 point, finite ends in the parameter's domain with FROM < TO (FROM = TO with one
//! point) and FROM > 0 on a log axis, and every grid value is finite, within [FROM, TO] and in
//! increasing order; a refused one is a one-line input error.
#![no_main]

use gstarve_core::sweeps::{Axis, Spacing};
use gstarve_fuzz::assert_input_rejection;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else { return };
    // Up to 4096 points, the most a grid axis can have (4096² points in all).
    let points = usize::from(u16::from_le_bytes([*a, *b]) % 4097);
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match Axis::parse(text, points) {
        Ok(axis) => {
            assert_eq!(axis.points, points);
            assert!(points >= 1);
            assert!(axis.start.is_finite() && axis.end.is_finite());
            assert!(axis.parameter.check(axis.start).is_ok());
            assert!(axis.parameter.check(axis.end).is_ok());
            if points == 1 {
                assert_eq!(axis.start, axis.end);
            } else {
                assert!(axis.start < axis.end, "{axis:?}");
            }
            if axis.spacing == Spacing::Log {
                assert!(axis.start > 0.0);
            }
            let values = axis.values();
            assert_eq!(values.len(), points);
            for (i, v) in values.iter().enumerate() {
                assert!(v.is_finite(), "{axis:?}: value {i} = {v}");
                assert!(
                    *v >= axis.start && *v <= axis.end,
                    "{axis:?}: value {i} = {v}"
                );
            }
            assert!(
                values.windows(2).all(|w| w[0] <= w[1]),
                "{axis:?}: values not increasing"
            );
        }
        Err(e) => assert_input_rejection(&e),
    }
});
