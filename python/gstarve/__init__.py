"""gstarve: Gradient Starvation made computable, from Python.

In the neural-tangent regime a network trained with cross-entropy follows, in the SVD basis
YΦ = U S Vᵀ of its label-signed features, the feature responses z = S Vᵀθ with

    dz/dτ = S² Uᵀ σ(−U z) − λ z

(Pezeshki et al., *Gradient Starvation*, NeurIPS 2021; docs/theory.md §3.2). This package runs
gstarve's Rust core in-process: build a :class:`System`, then compute its steady state
(:meth:`System.fixed_point`), simulate GD and the exact flow (:meth:`System.simulate`), check
the theory's predictions (:meth:`System.check`), find the max-margin limit
(:func:`max_margin`) or sweep a phase diagram (:func:`phase_diagram`, in shards with
:func:`merge_shards`; figures through :mod:`gstarve.plot`). Multi-class (softmax) systems come
from :meth:`System.from_features` and :meth:`System.from_kernel` with class labels.

Bad input raises ``ValueError`` with the command line's message, a numerical failure raises
:class:`NumericalError`, and every computation runs without the GIL and stops on Ctrl-C.
See docs/python.md.
"""

from __future__ import annotations

from . import plot
from ._core import NumericalError
from ._ensemble import Ensemble, ensemble
from ._max_margin import MaxMargin, max_margin
from ._sweeps import PhaseDiagram, PhaseDiagramShard, merge_shards, phase_diagram
from ._system import CheckReport, CheckRow, FixedPoint, Run, Simulation, System, simulate_many

__all__ = [
    "CheckReport",
    "CheckRow",
    "Ensemble",
    "FixedPoint",
    "MaxMargin",
    "NumericalError",
    "PhaseDiagram",
    "PhaseDiagramShard",
    "Run",
    "Simulation",
    "System",
    "ensemble",
    "max_margin",
    "merge_shards",
    "phase_diagram",
    "plot",
    "simulate_many",
]
