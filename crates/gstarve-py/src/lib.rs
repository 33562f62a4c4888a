//! gstarve's Python bindings: the extension module `gstarve._core`, wrapped by the pure-Python
//! package in python/gstarve (types, defaults and documentation live there).
//!
//! - [`system`]: `System` (constructors, strengths and coupling as NumPy views, fixed point,
//!   simulate, check);
//! - [`sweeps`]: `phase_diagram` and its result, with its figure;
//! - [`ensemble`](mod@ensemble): `ensemble` (random systems' starvation statistics) and its result;
//! - [`interrupt`]: every computation runs without the GIL and stops on Ctrl-C; a panic
//!   becomes a Python exception;
//! - [`errors`]: rejected input → `ValueError`, numerical failure → `gstarve.NumericalError`;
//! - [`convert`]: NumPy arrays in (any layout) and out.

mod convert;
mod ensemble;
mod errors;
mod interrupt;
mod sweeps;
mod system;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<system::PySystem>()?;
    m.add_class::<system::PyFixedPoint>()?;
    m.add_class::<sweeps::PyPhaseDiagram>()?;
    m.add_function(wrap_pyfunction!(sweeps::phase_diagram, m)?)?;
    m.add_class::<ensemble::PyEnsemble>()?;
    m.add_function(wrap_pyfunction!(ensemble::ensemble, m)?)?;
    m.add("NumericalError", py.get_type::<errors::NumericalError>())?;
    m.add(
        "MASK_REASONS",
        sweeps::MASK_REASONS.map(|r| r.name()).to_vec(),
    )?;
    m.add("POLL_SECONDS", interrupt::POLL.as_secs_f64())?;
    Ok(())
}
