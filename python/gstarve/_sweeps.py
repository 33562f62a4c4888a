"""Starvation phase diagrams over the rotation family (docs/theory.md §7.1)."""

from __future__ import annotations

import os
from typing import Dict, Iterable, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core

AxisSpec = Union[Tuple[str, float, float], Tuple[str, float, float, str], Sequence[object]]


class PhaseDiagram:
    """A computed phase diagram: a measure over a grid of two parameters, x fastest.

    Every 2-D array is ny × nx (rows: y, columns: x), so ``value[iy, ix]`` is the measure at
    ``(x[ix], y[iy])``; ``plt.pcolormesh(d.x, d.y, d.value)`` draws it.

    Attributes:
        x, y: the axis values (nx, ny).
        value: the measure (NaN where masked).
        mask: True where the measure is undefined (the reason is in :attr:`mask_reason`).
        z1, z2: the L2 steady state z* at each point.
        boundary: a smooth field whose sign changes are the phase boundary (NaN if none).
        reference: the reference response of the ratios (else NaN).
        resolution: τ₉₀ only, the width of the interval that brackets each value (else NaN).
        masked: masked points by reason (name → count).
        measure, label: the measure's name and its label in the paper's notation.
        parameters: the swept parameters' names (x, y).
        wall_s: seconds of computation.
    """

    def __init__(self, inner: "_core.PhaseDiagram") -> None:
        self._inner = inner
        self.x: np.ndarray = inner.x
        self.y: np.ndarray = inner.y
        self.value: np.ndarray = inner.value
        self._codes: np.ndarray = inner.mask_codes
        self.mask: np.ndarray = self._codes != 0
        self.masked: Dict[str, int] = inner.masked
        self.measure: str = inner.measure
        self.label: str = inner.label
        self.parameters: Tuple[str, str] = inner.parameters
        self.wall_s: float = inner.wall_s

    @property
    def z1(self) -> np.ndarray:
        return self._inner.z1

    @property
    def z2(self) -> np.ndarray:
        return self._inner.z2

    @property
    def boundary(self) -> np.ndarray:
        return self._inner.boundary

    @property
    def reference(self) -> np.ndarray:
        return self._inner.reference

    @property
    def resolution(self) -> np.ndarray:
        return self._inner.resolution

    @property
    def mask_reason(self) -> np.ndarray:
        """The reason each point is masked (``""`` where it is not), ny × nx strings."""
        names = np.array([""] + list(_core.MASK_REASONS))
        return names[self._codes]

    def to_csv(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Write the data as ``gstarve phase-diagram`` writes its CSV, atomically."""
        self._inner.to_csv(os.fspath(path))

    def __repr__(self) -> str:
        return repr(self._inner)


def _axis(spec: AxisSpec, name: str) -> Tuple[str, float, float, bool]:
    parts = list(spec)
    if len(parts) == 3:
        parts.append("linear")
    if len(parts) != 4 or str(parts[3]) not in ("log", "linear"):
        raise ValueError(
            f"{name} = {spec!r} is invalid: expected (parameter, from, to) or "
            f"(parameter, from, to, 'log'), e.g. ('ratio', 1, 5) or ('lambda', 1e-3, 1e-1, 'log')"
        )
    return str(parts[0]), float(parts[1]), float(parts[2]), parts[3] == "log"  # type: ignore[arg-type]


def phase_diagram(
    measure: str = "elasticity",
    x: AxisSpec = ("ratio", 1.0, 5.0),
    y: AxisSpec = ("coupling", 0.05, 0.95),
    grid: int = 128,
    *,
    ratio: float = 2.0,
    delta: float = 0.5,
    lam: float = 0.01,
    s2: float = 2.0,
    shard: Optional[Tuple[int, int]] = None,
) -> Union[PhaseDiagram, "PhaseDiagramShard"]:
    """A starvation phase diagram (docs/theory.md §7.1), as ``gstarve phase-diagram``.

    ``measure`` is ``elasticity`` (E₂₁), ``ratio`` (ρ), ``sd-recovery``, ``sd-recovery-loss``
    or ``tau90``; ``x`` and ``y`` are ``(parameter, from, to)`` or ``(parameter, from, to,
    "log")`` with parameter one of ``ratio`` (r = s₁/s₂), ``coupling`` (δ), ``lambda``, ``s2``;
    ``grid`` points per axis. The parameters not swept take ``ratio``, ``delta``, ``lam`` and
    ``s2``. Points where the measure is undefined are masked with their reason, never filled in.
    Runs in parallel without the GIL; Ctrl-C stops it at the next grid point.

    ``shard=(i, n)`` (1 ≤ i ≤ n) computes only shard i of n — the grid rows iy ≡ i − 1 (mod
    n), round-robin as ``gstarve phase-diagram --shard i/n`` — and returns a
    :class:`PhaseDiagramShard` (picklable: it crosses to worker processes and back exactly);
    :func:`merge_shards` of all n shards is the unsharded diagram, bit for bit
    (docs/scale-out.md).
    """
    args = (
        measure,
        _axis(x, "x"),
        _axis(y, "y"),
        int(grid),
        float(ratio),
        float(delta),
        float(lam),
        float(s2),
    )
    if shard is not None:
        i, n = _shard(shard)
        return _core.phase_diagram_shard(*args, i, n)
    return PhaseDiagram(_core.phase_diagram(*args))


#: One shard of a phase diagram (the extension's type): ``shard`` (i, n), ``rows`` (the grid
#: rows it holds), ``config_hash`` (equal for every shard of one sweep) and ``wall_s``.
PhaseDiagramShard = _core.PhaseDiagramShard


def _shard(spec: object) -> Tuple[int, int]:
    try:
        i, n = spec  # type: ignore[misc]
        if int(i) != i or int(n) != n or i < 0 or n < 0:
            raise ValueError
        return int(i), int(n)
    except (TypeError, ValueError):
        raise ValueError(
            f"shard = {spec!r} is invalid: a shard is (i, n) with whole numbers 1 ≤ i ≤ n, e.g. (3, 8)"
        ) from None


def merge_shards(shards: Iterable["PhaseDiagramShard"]) -> PhaseDiagram:
    """The phase diagram of all n shards of one sweep (from ``phase_diagram(..., shard=(i, n))``
    for i = 1 … n, in any order), identical to the unsharded call's (its ``wall_s`` is the
    shards' total). Raises ``ValueError`` naming the first problem when a shard is missing or
    repeated or the shards come from different sweeps (the checks of ``gstarve merge``).
    """
    parts = list(shards)
    for p in parts:
        if not isinstance(p, PhaseDiagramShard):
            raise TypeError(f"merge_shards takes PhaseDiagramShard objects, got {type(p).__name__}")
    return PhaseDiagram(_core.merge_shards(parts))
