"""The max-margin limit of the L2 steady state (docs/theory.md §11)."""

from __future__ import annotations

from . import _core
from ._system import System

#: The max-margin solution with its KKT residuals (the extension's type): ``z_hat``,
#: ``direction``, ``alpha``, ``support``, ``margins``, ``all_support``, ``inverse_gram_ones``,
#: ``elasticity``, ``kkt``, ``iterations``, as ``gstarve max-margin --json``.
MaxMargin = _core.MaxMargin


def max_margin(system: System) -> MaxMargin:
    """The limit λ → 0 of the L2 steady state (docs/theory.md §11), as ``gstarve max-margin``.

    ẑ = argmin ½zᵀS⁻²z subject to Uz ≥ 1 (block principal pivoting), with ``direction``
    ẑ/‖ẑ‖₂ (the limit direction of z*(λ)), the dual variables ``alpha`` α̂ ≥ 0, the support
    vectors ``support`` (α̂_i > 0), the ``margins`` Uẑ, ``all_support`` (then ẑ = Uᵀ1, SD's
    direction), ``inverse_gram_ones`` K⁻¹1, the limit starvation matrix ``elasticity``
    E^∞_ji (r × r, NaN where ẑ_j = 0), the KKT residuals ``kkt`` (a dict:
    ``primal_infeasibility``, ``dual_infeasibility``, ``complementarity``,
    ``support_margin_error``, ``stationarity``) and the pivoting ``iterations``.

    Needs a binary system with as many features as examples (r = n) and every s_j > 0;
    anything else raises ``ValueError`` with the command line's message.
    """
    if not isinstance(system, System):
        raise TypeError(f"max_margin takes a gstarve.System, got {type(system).__name__}")
    return _core.max_margin(system._inner)
