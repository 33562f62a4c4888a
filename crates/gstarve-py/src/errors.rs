//! gstarve's errors as Python exceptions: rejected input is a `ValueError` carrying the library's
//! one-line message (the command line prints the same line, naming flags where Python names
//! keyword arguments), a numerical failure is `gstarve.NumericalError` (a `RuntimeError`), an
//! output that could not be written an `OSError`.

use gstarve_core::Error;
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::PyErr;

create_exception!(
    gstarve,
    NumericalError,
    PyRuntimeError,
    "A computation did not reach an answer gstarve can stand behind (a diverged GD run, a failed \
     integration, Newton without convergence, a singular matrix); the message names the numbers."
);

/// The Python exception for a library error.
pub fn to_py(err: Error) -> PyErr {
    let message = err.to_string();
    match err {
        Error::Input(_) => PyValueError::new_err(message),
        Error::Numerical(_) => NumericalError::new_err(message),
        Error::Output(e) => {
            // The I/O error that caused it, when there is one, completes the line.
            let cause = std::error::Error::source(&e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            PyOSError::new_err(format!("{message}{cause}"))
        }
    }
}

/// A `ValueError` with `message`.
pub fn invalid(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}

/// Library results as Python results.
pub trait IntoPy<T> {
    /// The error, if any, as its Python exception.
    fn py_err(self) -> Result<T, PyErr>;
}

impl<T> IntoPy<T> for gstarve_core::Result<T> {
    fn py_err(self) -> Result<T, PyErr> {
        self.map_err(to_py)
    }
}
