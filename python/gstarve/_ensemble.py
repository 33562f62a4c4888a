"""Ensembles of random systems: how common starvation is (docs/theory.md §7.5)."""

from __future__ import annotations

import os
from typing import List, Sequence, Union

import numpy as np

from . import _core

#: The per-cell statistics, as the columns of ``gstarve ensemble``'s CSV.
STATISTICS = (
    "systems", "failed", "entries", "masked", "starving", "fraction", "fraction_se",
    "systems_starving", "mean", "min", "q05", "q25", "q50", "q75", "q95", "max",
)


class Ensemble:
    """A computed ensemble: per cell (coupling, decay) the statistics of the off-diagonal
    starvation-matrix entries E_ji of its random systems.

    Every per-cell array is ``len(couplings) × len(decays)``: ``fraction[ic, id]`` is the
    fraction of entries that starve at coupling ``couplings[ic]`` and decay ``decays[id]``.

    Attributes:
        decays: the spectrum decays s₁/s_n (columns).
        couplings: the couplings as text, ``"haar"`` or δ (rows).
        fraction, fraction_se, q05, q25, q50, q75, q95, mean, min, max, starving, entries,
        masked, failed, systems, systems_starving: the CSV's columns as arrays
        (:data:`STATISTICS`).
        elasticities: every system's n(n−1) off-diagonal entries,
            couplings × decays × systems × n(n−1) (row j, then i ≠ j; NaN where masked).
        seeds: every system's seed, couplings × decays × systems (a Haar system is
            ``System.random(n, seed=seed, spectrum=(decay * weakest, weakest))``).
        wall_s: seconds of computation.
    """

    def __init__(self, inner: "_core.Ensemble") -> None:
        self._inner = inner
        self.decays: np.ndarray = inner.decays
        self.couplings: List[str] = inner.couplings
        self.n: int = inner.n
        self.wall_s: float = inner.wall_s
        for name in STATISTICS:
            setattr(self, name, inner.statistic(name))

    @property
    def elasticities(self) -> np.ndarray:
        return self._inner.elasticities

    @property
    def seeds(self) -> np.ndarray:
        return self._inner.seeds

    def to_csv(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Write the per-cell CSV as ``gstarve ensemble`` does, atomically."""
        self._inner.to_csv(os.fspath(path))

    def to_systems_csv(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Write the per-system CSV as ``gstarve ensemble --per-system`` does, atomically."""
        self._inner.to_systems_csv(os.fspath(path))

    def __repr__(self) -> str:
        return repr(self._inner)


def ensemble(
    n: int = 8,
    decays: Sequence[float] = (1, 2, 4, 8, 16, 32),
    couplings: Sequence[Union[float, str]] = (0, 0.05, 0.1, 0.2, 0.4, "haar"),
    systems: int = 200,
    *,
    seed: int = 0,
    lam: float = 0.01,
    weakest: float = 2.0,
    threshold: float = 0.0,
) -> Ensemble:
    """The distribution of starvation-matrix entries over random systems, as
    ``gstarve ensemble`` (docs/theory.md §7.5; the same systems for the same arguments).

    Each cell (a coupling and a decay) holds ``systems`` random systems of ``n`` examples and
    features with strengths s_j = weakest·decay^((n−j)/(n−1)) and a coupling that is Haar
    (``"haar"``) or U = exp(δA) for a number δ ≥ 0. An entry starves when
    E_ji < −max(threshold, 1e-10). Runs in parallel without the GIL; Ctrl-C stops it.
    """
    inner = _core.ensemble(
        int(n),
        [float(d) for d in decays],
        [c if isinstance(c, str) else repr(float(c)) for c in couplings],
        int(systems),
        int(seed),
        float(lam),
        float(weakest),
        float(threshold),
    )
    return Ensemble(inner)
