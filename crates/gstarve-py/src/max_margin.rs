//! `gstarve._core.max_margin`: the limit λ → 0 of the L2 steady state (docs/theory.md §11), as
//! `gstarve max-margin --json`: ẑ, its direction, α̂, the support vectors, the margins, K⁻¹1, the
//! limit elasticities and the KKT residuals.

use gstarve_core::theory::max_margin::{limit, MaxMarginLimit};
use nalgebra::DVector;
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{array2_masked, to_python};
use crate::interrupt::compute;
use crate::system::PySystem;

/// The max-margin solution ẑ = argmin ½zᵀS⁻²z subject to Uz ≥ 1 and the limit of the
/// starvation matrix (docs/theory.md §11), as `gstarve max-margin --json`.
///
/// Attributes:
///     z_hat: ẑ (r).
///     direction: ẑ/‖ẑ‖₂, the limit direction of z*(λ) as λ → 0 (r).
///     alpha: α̂ ≥ 0, the dual variables (n).
///     support: whether example i is a support vector, α̂_i > 0 (n, bool).
///     margins: U ẑ (n; exactly 1 on support vectors).
///     all_support: every example is a support vector (then ẑ = Uᵀ1, SD's direction).
///     inverse_gram_ones: K⁻¹1 = U S⁻² Uᵀ 1 (n).
///     elasticity: E^∞_ji = lim_{λ→0} ∂log|z_j*|/∂log s_i² (r × r; NaN where ẑ_j = 0).
///     kkt: the KKT residuals (dict: primal_infeasibility, dual_infeasibility,
///         complementarity, support_margin_error, stationarity).
///     iterations: pivoting rounds (Cholesky solves of the support system).
#[pyclass(frozen, get_all, module = "gstarve._core", name = "MaxMargin")]
pub struct PyMaxMargin {
    z_hat: Py<PyArray1<f64>>,
    direction: Py<PyArray1<f64>>,
    alpha: Py<PyArray1<f64>>,
    support: Py<PyArray1<bool>>,
    margins: Py<PyArray1<f64>>,
    all_support: bool,
    inverse_gram_ones: Py<PyArray1<f64>>,
    elasticity: Py<PyArray2<f64>>,
    kkt: Py<PyDict>,
    iterations: usize,
}

#[pymethods]
impl PyMaxMargin {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "MaxMargin(z_hat={}, support={}, all_support={}, iterations={})",
            self.z_hat.bind(py).repr()?,
            self.support.bind(py).repr()?,
            if self.all_support { "True" } else { "False" },
            self.iterations
        ))
    }
}

/// The max-margin limit of a binary system.
#[pyfunction]
pub fn max_margin(py: Python<'_>, system: &PySystem) -> PyResult<PyMaxMargin> {
    let features = system.binary("max_margin")?;
    let lim: MaxMarginLimit = compute(py, || limit(features))?;
    let sol = &lim.solution;
    let vector = |v: &DVector<f64>| PyArray1::from_slice(py, v.as_slice()).unbind();
    let kkt = to_python(py, &sol.kkt)?.cast_into::<PyDict>()?.unbind();
    Ok(PyMaxMargin {
        z_hat: vector(&sol.z_hat),
        direction: vector(&sol.direction),
        alpha: vector(&sol.alpha),
        support: PyArray1::from_slice(py, &sol.support).unbind(),
        margins: vector(&sol.margins),
        all_support: lim.all_support(),
        inverse_gram_ones: vector(&lim.inverse_gram_ones),
        elasticity: array2_masked(py, &lim.elasticities).unbind(),
        kkt,
        iterations: sol.iterations,
    })
}
