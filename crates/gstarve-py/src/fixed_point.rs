//! `gstarve._core.FixedPoint`: a steady state with its sensitivities, binary or multi-class, as
//! `gstarve fixed-point --json`. The numbers stay in Rust until an attribute is read; each array
//! is built on its first read and the same array is returned afterwards (a fixed point of the
//! rotation family costs a few microseconds, and five NumPy arrays built eagerly cost about as
//! much again; docs/benchmarks.md, "The Python package").

use gstarve_core::solvers::steady::SteadyState;
use gstarve_core::solvers::steady_softmax::SoftmaxSteadyState;
use gstarve_core::theory::sensitivity::SteadyStateReport;
use nalgebra::{DMatrix, DVector};
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::convert::{array2, array2_masked};

/// The multi-class part of a steady state (docs/theory.md §9).
struct Classes {
    classes: usize,
    labels: Vec<usize>,
    logits: DMatrix<f64>,
    probabilities: DMatrix<f64>,
}

/// A steady state z* of the flow (docs/theory.md §4; multi-class §9), as `gstarve fixed-point
/// --json`.
///
/// Attributes:
///     z: the responses z* (r).
///     margins: the margins (n): m* = U z* for a binary system, F_{i,yᵢ} − max_{k≠yᵢ} F_ik for a
///         multi-class one.
///     alpha: the dual variables α* = σ(−m*) (n; binary logistic loss), else None.
///     sensitivity: ∂z_j*/∂(s_i²), rows j, columns i (r × r), where known (L2; SD: zero),
///         else None.
///     elasticity: the starvation matrix E_ji = ∂log|z_j*|/∂log s_i² (r × r; NaN where
///         masked: z_j* = 0), where known, else None. Negative off-diagonal entries are
///         starvation.
///     residual: the fixed-point residual (units of z).
///     iterations: Newton iterations.
///     method: how the steady state was found (`newton`, `sd-scalar`).
///     classes: the number of classes c of a multi-class system, else None.
///     labels: the class labels (n, integers in 0..c−1) of a multi-class system, else None.
///     logits: the logits F (n × c, row i: example i) of a multi-class system, else None.
///     probabilities: the softmax probabilities (n × c) of a multi-class system, else None.
#[pyclass(frozen, module = "gstarve._core", name = "FixedPoint")]
pub struct PyFixedPoint {
    z: DVector<f64>,
    margins: DVector<f64>,
    alpha: Option<DVector<f64>>,
    sensitivity: Option<DMatrix<f64>>,
    elasticity: Option<DMatrix<Option<f64>>>,
    residual: f64,
    iterations: usize,
    method: &'static str,
    multiclass: Option<Classes>,
    arrays: Arrays,
}

/// The NumPy arrays, each built on its first read.
struct Arrays {
    z: PyOnceLock<Py<PyArray1<f64>>>,
    margins: PyOnceLock<Py<PyArray1<f64>>>,
    alpha: PyOnceLock<Option<Py<PyArray1<f64>>>>,
    sensitivity: PyOnceLock<Option<Py<PyArray2<f64>>>>,
    elasticity: PyOnceLock<Option<Py<PyArray2<f64>>>>,
    labels: PyOnceLock<Option<Py<PyArray1<u64>>>>,
    logits: PyOnceLock<Option<Py<PyArray2<f64>>>>,
    probabilities: PyOnceLock<Option<Py<PyArray2<f64>>>>,
}

impl Default for Arrays {
    fn default() -> Self {
        Self {
            z: PyOnceLock::new(),
            margins: PyOnceLock::new(),
            alpha: PyOnceLock::new(),
            sensitivity: PyOnceLock::new(),
            elasticity: PyOnceLock::new(),
            labels: PyOnceLock::new(),
            logits: PyOnceLock::new(),
            probabilities: PyOnceLock::new(),
        }
    }
}

impl PyFixedPoint {
    /// A binary system's steady state with its sensitivities.
    pub fn binary(report: SteadyStateReport) -> Self {
        let SteadyState {
            responses,
            margins,
            alpha,
            residual,
            iterations,
            method,
        } = report.steady_state;
        Self {
            z: responses,
            margins,
            alpha,
            sensitivity: report.derivatives,
            elasticity: report.elasticities,
            residual,
            iterations,
            method,
            multiclass: None,
            arrays: Arrays::default(),
        }
    }

    /// A multi-class system's steady state (α is None, the method Newton), with the
    /// sensitivities where known.
    pub fn multiclass(
        steady_state: SoftmaxSteadyState,
        labels: &[usize],
        classes: usize,
        sensitivity: Option<(DMatrix<f64>, DMatrix<Option<f64>>)>,
    ) -> Self {
        let margins = steady_state.margins(labels);
        let (sensitivity, elasticity) = match sensitivity {
            Some((d, e)) => (Some(d), Some(e)),
            None => (None, None),
        };
        Self {
            z: steady_state.responses,
            margins,
            alpha: None,
            sensitivity,
            elasticity,
            residual: steady_state.residual,
            iterations: steady_state.iterations,
            method: "newton",
            multiclass: Some(Classes {
                classes,
                labels: labels.to_vec(),
                logits: steady_state.logits,
                probabilities: steady_state.probabilities,
            }),
            arrays: Arrays::default(),
        }
    }
}

fn vector(py: Python<'_>, v: &DVector<f64>) -> Py<PyArray1<f64>> {
    PyArray1::from_slice(py, v.as_slice()).unbind()
}

#[pymethods]
impl PyFixedPoint {
    #[getter]
    fn z(&self, py: Python<'_>) -> Py<PyArray1<f64>> {
        let a = self.arrays.z.get_or_init(py, || vector(py, &self.z));
        a.clone_ref(py)
    }

    #[getter]
    fn margins(&self, py: Python<'_>) -> Py<PyArray1<f64>> {
        let a = self
            .arrays
            .margins
            .get_or_init(py, || vector(py, &self.margins));
        a.clone_ref(py)
    }

    #[getter]
    fn alpha(&self, py: Python<'_>) -> Option<Py<PyArray1<f64>>> {
        let a = self
            .arrays
            .alpha
            .get_or_init(py, || self.alpha.as_ref().map(|a| vector(py, a)));
        a.as_ref().map(|a| a.clone_ref(py))
    }

    #[getter]
    fn sensitivity(&self, py: Python<'_>) -> Option<Py<PyArray2<f64>>> {
        let a = self.arrays.sensitivity.get_or_init(py, || {
            self.sensitivity.as_ref().map(|d| array2(py, d).unbind())
        });
        a.as_ref().map(|a| a.clone_ref(py))
    }

    #[getter]
    fn elasticity(&self, py: Python<'_>) -> Option<Py<PyArray2<f64>>> {
        let a = self.arrays.elasticity.get_or_init(py, || {
            self.elasticity
                .as_ref()
                .map(|e| array2_masked(py, e).unbind())
        });
        a.as_ref().map(|a| a.clone_ref(py))
    }

    #[getter]
    fn residual(&self) -> f64 {
        self.residual
    }

    #[getter]
    fn iterations(&self) -> usize {
        self.iterations
    }

    #[getter]
    fn method(&self) -> &'static str {
        self.method
    }

    #[getter]
    fn classes(&self) -> Option<usize> {
        self.multiclass.as_ref().map(|m| m.classes)
    }

    #[getter]
    fn labels(&self, py: Python<'_>) -> Option<Py<PyArray1<u64>>> {
        let a = self.arrays.labels.get_or_init(py, || {
            self.multiclass.as_ref().map(|m| {
                let labels: Vec<u64> = m.labels.iter().map(|&k| k as u64).collect();
                PyArray1::from_vec(py, labels).unbind()
            })
        });
        a.as_ref().map(|a| a.clone_ref(py))
    }

    #[getter]
    fn logits(&self, py: Python<'_>) -> Option<Py<PyArray2<f64>>> {
        let a = self.arrays.logits.get_or_init(py, || {
            self.multiclass
                .as_ref()
                .map(|m| array2(py, &m.logits).unbind())
        });
        a.as_ref().map(|a| a.clone_ref(py))
    }

    #[getter]
    fn probabilities(&self, py: Python<'_>) -> Option<Py<PyArray2<f64>>> {
        let a = self.arrays.probabilities.get_or_init(py, || {
            self.multiclass
                .as_ref()
                .map(|m| array2(py, &m.probabilities).unbind())
        });
        a.as_ref().map(|a| a.clone_ref(py))
    }

    fn __repr__(&self) -> String {
        // At most 6 entries of a vector, then its length.
        let fmt = |v: &DVector<f64>| {
            let parts: Vec<String> = v.iter().take(6).map(|x| format!("{x:.6}")).collect();
            let more = if v.len() > 6 {
                format!(", … ({} entries)", v.len())
            } else {
                String::new()
            };
            format!("[{}{more}]", parts.join(", "))
        };
        let classes = self
            .multiclass
            .as_ref()
            .map(|m| format!(", classes={}", m.classes))
            .unwrap_or_default();
        format!(
            "FixedPoint(z={}, margins={}, residual={:e}, iterations={}, method={:?}{classes})",
            fmt(&self.z),
            fmt(&self.margins),
            self.residual,
            self.iterations,
            self.method
        )
    }
}
