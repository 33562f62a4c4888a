//! NumPy arrays in and out. Inputs arrive as float64 arrays of any memory layout (the Python
//! layer converts dtypes with `numpy.asarray(…, dtype=float64)`, which copies only when it must);
//! they are read through their strides, so C order, Fortran order and non-contiguous views give
//! the same matrix. Outputs are new arrays, except the system's strengths and coupling, which
//! are read-only views of the system's own memory.

use gstarve_core::systems::FeatureSystem;
use nalgebra::DMatrix;
use numpy::ndarray::{ArrayView1, ArrayView2, ShapeBuilder};
use numpy::{PyArray1, PyArray2, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors::invalid;

/// A 2-D float64 array as a matrix; `what` names it in the error for another dimension.
pub fn matrix(what: &str, array: &PyReadonlyArrayDyn<'_, f64>) -> PyResult<DMatrix<f64>> {
    let view = array.as_array();
    if view.ndim() != 2 {
        return Err(invalid(format!(
            "{what} must be a 2-D array (rows × columns), got shape {:?}",
            array.shape()
        )));
    }
    let (rows, cols) = (view.shape()[0], view.shape()[1]);
    Ok(DMatrix::from_fn(rows, cols, |i, j| view[[i, j]]))
}

/// A 1-D float64 array as a vector; `what` names it in the error for another dimension.
pub fn vector(what: &str, array: &PyReadonlyArrayDyn<'_, f64>) -> PyResult<Vec<f64>> {
    let view = array.as_array();
    if view.ndim() != 1 {
        return Err(invalid(format!(
            "{what} must be a 1-D array, got shape {:?}",
            array.shape()
        )));
    }
    Ok(view.iter().copied().collect())
}

/// A vector as a new 1-D array.
pub fn array1<'py>(py: Python<'py>, values: Vec<f64>) -> Bound<'py, PyArray1<f64>> {
    PyArray1::from_vec(py, values)
}

/// An r × c matrix as a new 2-D array (C order).
pub fn array2<'py>(py: Python<'py>, m: &DMatrix<f64>) -> Bound<'py, PyArray2<f64>> {
    let (rows, cols) = m.shape();
    // nalgebra stores columns contiguously: the transpose of a C-order (cols × rows) array.
    let fortran = ArrayView2::from_shape((rows, cols).f(), m.as_slice())
        .expect("a matrix's storage has rows × cols entries");
    PyArray2::from_array(py, &fortran)
}

/// A matrix with masked (`None`) entries as a new 2-D array with NaN there.
pub fn array2_masked<'py>(py: Python<'py>, m: &DMatrix<Option<f64>>) -> Bound<'py, PyArray2<f64>> {
    array2(py, &m.map(|v| v.unwrap_or(f64::NAN)))
}

/// The strengths of the system held by `owner` as a read-only 1-D view (no copy): the array
/// keeps `owner` alive, and a system never changes after construction.
pub fn strengths_view<'py>(
    owner: Bound<'py, PyAny>,
    system: &FeatureSystem,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let view = ArrayView1::from(system.strengths().as_slice());
    // SAFETY: the data belongs to the frozen system inside `owner`, which the array references
    // and which is never mutated or moved while it lives; the array is made read-only below.
    let array = unsafe { PyArray1::borrow_from_array(&view, owner) };
    array.call_method1("setflags", (false,))?;
    Ok(array)
}

/// The coupling U (n × r) of the system held by `owner` as a read-only 2-D view in Fortran order
/// (nalgebra's column-major storage; no copy).
pub fn coupling_view<'py>(
    owner: Bound<'py, PyAny>,
    system: &FeatureSystem,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let u = system.coupling();
    let view = ArrayView2::from_shape(u.shape().f(), u.as_slice())
        .expect("a matrix's storage has rows × cols entries");
    // SAFETY: as in `strengths_view`.
    let array = unsafe { PyArray2::borrow_from_array(&view, owner) };
    array.call_method1("setflags", (false,))?;
    Ok(array)
}

/// A serialisable library value (solver statistics, a check row, a truncation) as the Python
/// object its JSON would load as: dicts, lists, floats, ints, strings, `None` (non-finite
/// numbers, which JSON writes as null, stay floats here).
pub fn to_python<'py, T: serde::Serialize>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let tree = serde_json::to_value(value)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("cannot encode: {e}")))?;
    json_to_python(py, &tree)
}

fn json_to_python<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use pyo3::types::{PyDict, PyList};
    use pyo3::IntoPyObjectExt;
    use serde_json::Value;
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_bound_py_any(py)?,
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_bound_py_any(py)?,
            (None, Some(i)) => i.into_bound_py_any(py)?,
            _ => n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)?,
        },
        Value::String(s) => s.into_bound_py_any(py)?,
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_python(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_python(py, v)?)?;
            }
            dict.into_any()
        }
    })
}
