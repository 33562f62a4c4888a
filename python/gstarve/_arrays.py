"""Array arguments: anything NumPy can read as real numbers, as float64 in any memory layout."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_float64(value: Any, name: str) -> np.ndarray:
    """``value`` as a float64 array without copying when it already is one.

    float32 and integer arrays are converted; Fortran-order arrays and non-contiguous views are
    passed as they are (the extension reads them through their strides). Complex numbers are
    rejected rather than silently losing their imaginary part.
    """
    array = np.asarray(value)
    if np.iscomplexobj(array):
        raise ValueError(f"{name} must be real, got a complex array (dtype {array.dtype})")
    if array.dtype.kind not in "fiub":
        try:
            return np.asarray(array, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be an array of numbers, got dtype {array.dtype}") from err
    return np.asarray(array, dtype=np.float64)
