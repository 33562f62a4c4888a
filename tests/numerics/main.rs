//! The numerical integration tests, one binary (one link) for all: the solvers against each
//! other, SciPy's accuracy and the steady states ([`solvers`]); statements of docs/theory.md
//! on random systems ([`properties`]); the reference values of docs/theory.md §6.2
//! ([`reference_values`]); the large-n paths ([`large_n`]); truncated n × r systems
//! ([`truncated`]).
//!
//! Run with `cargo test --release --test numerics` (a module: `… --test numerics properties::`).

mod large_n;
mod properties;
mod reference_values;
mod solvers;
mod truncated;

/// max(m, e) that propagates NaN, for the folds of gaps: a fold with `f64::max` would skip a
/// NaN difference, so a NaN result would pass `gap < tol`.
fn nan_max(m: f64, e: f64) -> f64 {
    if m.is_nan() || e.is_nan() {
        f64::NAN
    } else {
        m.max(e)
    }
}
