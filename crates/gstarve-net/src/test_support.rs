//! Helpers of the crate's tests.

use gstarve_core::model::nan_max;

/// max_i |a_i − b_i| over two slices of the same length; NaN if any difference is NaN, so that
/// a NaN fails every `gap < tol` it meets (a fold with `f64::max` would skip it and pass).
pub(crate) fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .fold(0.0, |m, (x, y)| nan_max(m, (x - y).abs()))
}

#[test]
fn a_nan_difference_is_not_skipped() {
    assert_eq!(max_abs_diff(&[1.0, 2.0], &[1.5, 2.0]), 0.5);
    assert!(max_abs_diff(&[f64::NAN, 2.0], &[1.0, 2.0]).is_nan());
    assert!(max_abs_diff(&[1.0, 2.0], &[1.0, f64::NAN]).is_nan());
}
