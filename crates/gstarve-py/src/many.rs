//! Many systems at once (issue #17): `load_systems` (a file that holds many systems: a JSON
//! list, or an `.npz` with a leading batch axis) and `simulate_many` (`System.simulate` on every
//! system, in parallel without the GIL, as `gstarve simulate` on such a file).

use std::path::PathBuf;

use gstarve_core::simulation::{simulate_many as run_many, Method};
use gstarve_core::systems::FeatureSystem;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::errors::invalid;
use crate::interrupt::compute;
use crate::options::SimulateOptions;
use crate::system::PySystem;

/// The systems of a file that holds many (in order), or the one system of any other file.
#[pyfunction]
pub fn load_systems(py: Python<'_>, path: PathBuf) -> PyResult<Vec<PySystem>> {
    match compute(py, || FeatureSystem::load_many(&path))? {
        Some(many) => Ok(many
            .into_iter()
            .map(|(system, initial)| PySystem::with_initial(system, initial))
            .collect()),
        None => Ok(vec![PySystem::load_path(py, &path)?]),
    }
}

/// `System.simulate` with the same arguments on every system (binary systems), in order; each
/// starts from `z0` if given, else from its own z(0), else from 0.
#[pyfunction]
pub fn simulate_many<'py>(
    py: Python<'py>,
    systems: Vec<PyRef<'py, PySystem>>,
    options: PyRef<'py, SimulateOptions>,
) -> PyResult<Bound<'py, PyList>> {
    if systems.is_empty() {
        return Err(invalid("systems is empty: give at least one System"));
    }
    let count = systems.len();
    let mut loaded = Vec::with_capacity(count);
    let mut shared = None;
    for (i, s) in systems.iter().enumerate() {
        let named = |e: PyErr| {
            invalid(format!(
                "system {} of {count}: {}",
                i + 1,
                e.value(py).str().map(|t| t.to_string()).unwrap_or_default()
            ))
        };
        let (system, _, multiclass) = s.parts();
        if multiclass.is_some() {
            return Err(named(invalid(
                "simulate_many takes binary systems; run System.simulate on a multi-class one",
            )));
        }
        let mut config = s.simulation_config(&options).map_err(named)?;
        if config.methods.contains(&Method::GdTheta) {
            return Err(named(invalid(
                "method gd-theta needs one system built from features: use System.simulate",
            )));
        }
        loaded.push((system.clone(), config.initial.take()));
        shared.get_or_insert(config);
    }
    let config = shared.expect("at least one system");
    let reports = compute(py, || run_many(&loaded, &config))?;
    let out = PyList::empty(py);
    for (s, report) in systems.iter().zip(&reports) {
        out.append(s.simulation_dict(py, report, options.fixed_point)?)?;
    }
    Ok(out)
}
