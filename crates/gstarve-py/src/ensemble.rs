//! `gstarve._core.ensemble` and its result: the distribution of starvation-matrix entries over
//! random systems (docs/theory.md §7.5, as `gstarve ensemble`), computed in parallel without the
//! GIL; per-cell statistics as arrays over (coupling, decay), and every system's entries.

use std::path::PathBuf;

use gstarve_core::sweeps::ensemble::{
    ensemble as compute_ensemble, Coupling, Ensemble, EnsembleSpec,
};
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;

use crate::errors::{invalid, IntoPy};
use crate::interrupt::{compute, compute_sweep};
use numpy::{Ix3, Ix4, PyArray};

/// A computed ensemble.
#[pyclass(frozen, module = "gstarve._core", name = "Ensemble")]
pub struct PyEnsemble {
    ensemble: Ensemble,
}

/// An ensemble of `systems` random systems per (coupling, decay) cell; couplings are `"haar"` or
/// a δ ≥ 0 as text.
#[pyfunction]
#[pyo3(signature = (n, decays, couplings, systems, seed, lam, weakest, threshold))]
#[allow(clippy::too_many_arguments)]
pub fn ensemble(
    py: Python<'_>,
    n: usize,
    decays: Vec<f64>,
    couplings: Vec<String>,
    systems: usize,
    seed: u64,
    lam: f64,
    weakest: f64,
    threshold: f64,
) -> PyResult<PyEnsemble> {
    let couplings = couplings
        .iter()
        .map(|c| c.parse::<Coupling>())
        .collect::<gstarve_core::Result<Vec<_>>>()
        .py_err()?;
    let spec = EnsembleSpec {
        n,
        decays,
        couplings,
        systems,
        seed,
        lambda: lam,
        weakest,
        threshold,
    };
    spec.validate().py_err()?;
    let ensemble = compute_sweep(py, |progress| compute_ensemble(&spec, progress))?;
    Ok(PyEnsemble { ensemble })
}

impl PyEnsemble {
    /// One statistic of every cell as a (couplings × decays) array.
    fn cells<'py>(
        &self,
        py: Python<'py>,
        f: impl Fn(&gstarve_core::sweeps::ensemble::CellSummary) -> f64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let e = &self.ensemble;
        let v: Vec<f64> = e.cells.iter().map(f).collect();
        PyArray1::from_vec(py, v).reshape([e.spec.couplings.len(), e.spec.decays.len()])
    }
}

#[pymethods]
impl PyEnsemble {
    /// The decays (columns).
    #[getter]
    fn decays<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.ensemble.spec.decays)
    }

    /// The couplings (rows), as text: "haar" or δ.
    #[getter]
    fn couplings(&self) -> Vec<String> {
        self.ensemble
            .spec
            .couplings
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    /// Name → (couplings × decays) array, for every numeric column of the CSV.
    fn statistic<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyArray2<f64>>> {
        use gstarve_core::sweeps::ensemble::CellSummary as C;
        let f: Box<dyn Fn(&C) -> f64> = match name {
            "systems" => Box::new(|c| c.systems as f64),
            "failed" => Box::new(|c| c.failed as f64),
            "entries" => Box::new(|c| c.entries as f64),
            "masked" => Box::new(|c| c.masked as f64),
            "starving" => Box::new(|c| c.starving as f64),
            "fraction" => Box::new(|c| c.fraction),
            "fraction_se" => Box::new(|c| c.fraction_se),
            "systems_starving" => Box::new(|c| c.systems_starving as f64),
            "mean" => Box::new(|c| c.mean),
            "min" => Box::new(|c| c.min),
            "q05" => Box::new(|c| c.quantiles[0]),
            "q25" => Box::new(|c| c.quantiles[1]),
            "q50" => Box::new(|c| c.quantiles[2]),
            "q75" => Box::new(|c| c.quantiles[3]),
            "q95" => Box::new(|c| c.quantiles[4]),
            "max" => Box::new(|c| c.max),
            other => {
                return Err(invalid(format!(
                    "statistic '{other}' is invalid: one of the CSV's columns, e.g. fraction, q50"
                )))
            }
        };
        self.cells(py, f)
    }

    /// Every system's off-diagonal entries: couplings × decays × systems × n(n−1) (row j, then
    /// i ≠ j; NaN where masked or where the system failed).
    #[getter]
    fn elasticities<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray<f64, Ix4>>> {
        let e = &self.ensemble;
        let n = e.spec.n;
        let k = n * (n - 1);
        let mut v = Vec::with_capacity(e.systems.len() * k);
        for s in &e.systems {
            if s.elasticities.len() == k {
                v.extend_from_slice(&s.elasticities);
            } else {
                v.extend(std::iter::repeat_n(f64::NAN, k));
            }
        }
        let shape = [
            e.spec.couplings.len(),
            e.spec.decays.len(),
            e.spec.systems,
            k,
        ];
        PyArray1::from_vec(py, v).reshape(shape)
    }

    /// Every system's seed: couplings × decays × systems.
    #[getter]
    fn seeds<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray<u64, Ix3>>> {
        let e = &self.ensemble;
        let v: Vec<u64> = e.systems.iter().map(|s| s.seed).collect();
        let shape = [e.spec.couplings.len(), e.spec.decays.len(), e.spec.systems];
        PyArray1::from_vec(py, v).reshape(shape)
    }

    /// n.
    #[getter]
    fn n(&self) -> usize {
        self.ensemble.spec.n
    }

    /// Wall-clock seconds of the computation.
    #[getter]
    fn wall_s(&self) -> f64 {
        self.ensemble.wall_s
    }

    /// Write the per-cell CSV as the command line does, atomically.
    fn to_csv(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        compute(py, || self.ensemble.cells_table()?.write(&path))
    }

    /// Write the per-system CSV as `gstarve ensemble --per-system` does, atomically.
    fn to_systems_csv(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        compute(py, || self.ensemble.systems_table()?.write(&path))
    }

    fn __repr__(&self) -> String {
        let s = &self.ensemble.spec;
        format!(
            "<gstarve Ensemble n={} decays={} couplings={} systems={} per cell>",
            s.n,
            s.decays.len(),
            s.couplings.len(),
            s.systems
        )
    }
}
