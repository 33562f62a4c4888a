//! gstarve's Python bindings: the extension module `gstarve._core`, wrapped by the pure-Python
//! package in python/gstarve (types, defaults and documentation live there).
//!
//! - [`system`]: `System` (constructors, strengths and coupling as NumPy views, fixed point,
//!   simulate, check);
//! - [`fixed_point`]: the steady state's result (binary and multi-class), arrays built lazily;
//! - [`multiclass`]: multi-class (softmax) systems' construction and steady state;
//! - [`max_margin`]: `max_margin`, the limit λ → 0 (docs/theory.md §11);
//! - [`options`]: `SimulateOptions`, the arguments of `System.simulate` and `simulate_many`;
//! - [`many`]: files of many systems (`load_systems`) and `simulate_many`;
//! - [`sweeps`]: `phase_diagram` and its result, with its figure;
//! - [`ensemble`](mod@ensemble): `ensemble` (random systems' starvation statistics) and its result;
//! - [`shards`]: phase diagrams in shards (`phase_diagram_shard`, pickled), and `merge_shards`;
//! - [`interrupt`]: every computation runs without the GIL and stops on Ctrl-C; a panic
//!   becomes a Python exception;
//! - [`errors`]: rejected input → `ValueError`, numerical failure → `gstarve.NumericalError`;
//! - [`convert`]: NumPy arrays in (any layout) and out.

mod convert;
mod ensemble;
mod errors;
mod fixed_point;
mod interrupt;
mod many;
mod max_margin;
mod multiclass;
mod options;
mod shards;
mod sweeps;
mod system;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<system::PySystem>()?;
    m.add_class::<options::SimulateOptions>()?;
    m.add_class::<fixed_point::PyFixedPoint>()?;
    m.add_class::<max_margin::PyMaxMargin>()?;
    m.add_class::<sweeps::PyPhaseDiagram>()?;
    m.add_class::<shards::PyPhaseDiagramShard>()?;
    m.add_function(wrap_pyfunction!(max_margin::max_margin, m)?)?;
    m.add_function(wrap_pyfunction!(many::simulate_many, m)?)?;
    m.add_function(wrap_pyfunction!(many::load_systems, m)?)?;
    m.add_function(wrap_pyfunction!(sweeps::phase_diagram, m)?)?;
    m.add_class::<ensemble::PyEnsemble>()?;
    m.add_function(wrap_pyfunction!(ensemble::ensemble, m)?)?;
    m.add_function(wrap_pyfunction!(shards::phase_diagram_shard, m)?)?;
    m.add_function(wrap_pyfunction!(shards::_phase_diagram_shard, m)?)?;
    m.add_function(wrap_pyfunction!(shards::merge_shards, m)?)?;
    m.add("NumericalError", py.get_type::<errors::NumericalError>())?;
    m.add(
        "MASK_REASONS",
        sweeps::MASK_REASONS.map(|r| r.name()).to_vec(),
    )?;
    m.add("POLL_SECONDS", interrupt::POLL.as_secs_f64())?;
    Ok(())
}
