//! `gstarve._core.SimulateOptions`: the arguments of `System.simulate` and `simulate_many`,
//! converted from Python once and shared by both (each system then validates them against its
//! own rank and kind in `PySystem::simulation_config`).

use numpy::PyReadonlyArrayDyn;
use pyo3::prelude::*;

use crate::convert::vector;

/// The settings of a simulation, as `gstarve simulate`'s flags (names as in Python's
/// `System.simulate`).
#[pyclass(frozen, module = "gstarve._core", name = "SimulateOptions")]
pub struct SimulateOptions {
    pub methods: Vec<String>,
    pub loss: String,
    pub reg: String,
    pub lam: f64,
    pub eta: f64,
    pub steps: usize,
    pub t_end: Option<f64>,
    pub points: usize,
    pub rtol: f64,
    pub atol: f64,
    pub max_steps: u64,
    pub method: String,
    pub z0: Option<Vec<f64>>,
    pub allow_unstable: bool,
    pub fixed_point: bool,
}

#[pymethods]
impl SimulateOptions {
    #[new]
    #[pyo3(signature = (methods, loss, reg, lam, eta, steps, t_end, points, rtol, atol, max_steps, method, z0, allow_unstable, fixed_point))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        methods: Vec<String>,
        loss: String,
        reg: String,
        lam: f64,
        eta: f64,
        steps: usize,
        t_end: Option<f64>,
        points: usize,
        rtol: f64,
        atol: f64,
        max_steps: u64,
        method: String,
        z0: Option<PyReadonlyArrayDyn<'_, f64>>,
        allow_unstable: bool,
        fixed_point: bool,
    ) -> PyResult<Self> {
        Ok(Self {
            methods,
            loss,
            reg,
            lam,
            eta,
            steps,
            t_end,
            points,
            rtol,
            atol,
            max_steps,
            method,
            z0: z0.map(|z| vector("z0", &z)).transpose()?,
            allow_unstable,
            fixed_point,
        })
    }
}
