"""Figures from Python, drawn by gstarve's own renderer (the command line's figures, with their
data as CSV beside them)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Union

from ._sweeps import PhaseDiagram


def phase_diagram(
    result: PhaseDiagram, path: Union[str, "os.PathLike[str]"], *, log_colour: bool = False
) -> List[Path]:
    """Draw a phase diagram into ``path`` (``*.png`` or ``*.svg``) and its data into the CSV
    of the same stem beside it, as ``gstarve phase-diagram`` does; returns the files written.

    ``log_colour`` uses a logarithmic colour scale (positive measures such as ``tau90``).
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"path {str(path)!r} is invalid: the figure is written as .png or .svg")
    directory = target.parent if str(target.parent) else Path(".")
    written = result._inner.plot(
        os.fspath(directory), target.stem, suffix == ".png", suffix == ".svg", bool(log_colour)
    )
    return [Path(p) for p in written]
