"""Feature systems and what gstarve computes from them."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._arrays import as_float64

PathLike = Union[str, "os.PathLike[str]"]

#: Defaults shared with the command line (``gstarve simulate --help``).
DEFAULT_LAMBDA = 0.01
DEFAULT_ETA = 0.05
DEFAULT_STEPS = 5000
DEFAULT_POINTS = 501
DEFAULT_MAX_STEPS = 1_000_000


#: A steady state z* with margins, α, residual, iterations and sensitivities; for a multi-class
#: system also classes, labels, logits and probabilities (the extension's own type, built
#: without a Python-level constructor, its arrays on first read: a fixed point costs
#: microseconds).
FixedPoint = _core.FixedPoint

@dataclass(frozen=True)
class Run:
    """One method's trajectory, as an entry of ``runs`` in ``gstarve simulate --json``.

    Attributes:
        method: ``gd``, ``gd-theta``, ``flow`` or ``dual``.
        step: the GD step index k of each output (GD), or the output-grid index (flow, dual).
        tau: the output times (points): learning time τ = ηk for GD.
        z: the responses (points × r).
        z_final: the responses at the end (r).
        stats: the work done (solver, wall_s, rhs_evals, jacobian_evals, steps_accepted,
            steps_rejected, lu_factorisations).
    """

    method: str
    step: np.ndarray
    tau: np.ndarray
    z: np.ndarray
    z_final: np.ndarray
    stats: Dict[str, Any]


class Simulation(Dict[str, Run]):
    """The runs of :meth:`System.simulate`, keyed by method, with the steady state.

    Attributes:
        fixed_point: the steady state (z, margins, alpha, residual, iterations; no
            sensitivities), or None when there is none or it was not asked for.
        fixed_point_note: why there is no steady state, or None.
    """

    fixed_point: Optional[Dict[str, Any]]
    fixed_point_note: Optional[str]


class CheckRow(NamedTuple):
    """One prediction of the theory against the exact numerics (a row of ``gstarve check``).

    ``passed`` is True (PASS) or False (FAIL); None for a comparison that makes no claim (INFO).
    """

    name: str
    predicted: float
    measured: float
    tolerance: float
    passed: Optional[bool]
    section: str = ""
    regime: str = ""
    error: float = float("nan")
    verdict: str = ""
    compared: int = 0
    masked: int = 0


class CheckReport(List[CheckRow]):
    """The rows of :meth:`System.check`.

    Attributes:
        passed: whether every row that makes a claim passed (False when none applies).
        note: why no prediction applies (the list is then empty), else None.
    """

    passed: bool
    note: Optional[str]


def _check_row(row: Dict[str, Any]) -> CheckRow:
    verdict = row["verdict"]
    return CheckRow(
        name=row["prediction"],
        predicted=row["predicted"],
        measured=row["numerical"],
        tolerance=row["tolerance"],
        passed=None if verdict == "INFO" else verdict == "PASS",
        section=row["section"],
        regime=row["regime"],
        error=row["error"],
        verdict=verdict,
        compared=row["compared"],
        masked=row["masked"],
    )


def _with_classes(system: "System") -> "System":
    """Warn, as the command line does, about classes no example carries."""
    classes = system.classes
    if classes is not None:
        counts = np.bincount(system.labels, minlength=classes)
        for k in np.flatnonzero(counts == 0):
            warnings.warn(
                f"class {k} has no examples (of {classes} classes): its outputs are only pushed "
                "down",
                stacklevel=3,
            )
    return system


class System:
    """A feature system: strengths s (r) and coupling U (n × r, orthonormal columns).

    Build one with :meth:`rotation`, :meth:`random`, :meth:`from_features`,
    :meth:`from_kernel` or :meth:`load`; systems never change after construction.
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: "_core.System") -> None:
        self._inner = inner

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def rotation(cls, strengths: Sequence[float], coupling: Optional[float] = None) -> "System":
        """The two-feature rotation family U(δ) of docs/theory.md §5.4 with strengths (s₁, s₂).

        Without ``coupling``, the decoupled system U = I with any number of strengths (as
        ``--strengths`` alone on the command line).
        """
        values = [float(s) for s in strengths]
        return cls(_core.System.rotation(values, None if coupling is None else float(coupling)))

    @classmethod
    def random(
        cls,
        n: int,
        seed: int = 0,
        spectrum: Tuple[float, float] = (10.0, 0.1),
        rank: Optional[int] = None,
    ) -> "System":
        """A random system of n examples: Haar coupling (ChaCha12 seeded by ``seed``) and the
        geometric spectrum s₁ = a … s_n = b for ``spectrum=(a, b)``; ``rank`` keeps the top
        features only (an n × rank coupling, never n × n; docs/theory.md §8.7)."""
        a, b = spectrum
        return cls(_core.System.random(int(n), int(seed), float(a), float(b), rank))

    @classmethod
    def from_features(
        cls, phi: Any, labels: Any, rank: Optional[int] = None, *, classes: Optional[int] = None
    ) -> "System":
        """The SVD of YΦ (docs/theory.md §1.2) for features Φ (n × p, e.g. per-example
        Jacobians) and labels y (n; ±1 or 0/1). ``rank`` keeps the top features (a partial SVD).
        The system keeps Φ and y for θ-space GD (``simulate(methods=("gd-theta",))``).

        With class labels 0 … c−1 (any label ≥ 2, or ``classes=c``) it is the multi-class
        softmax system of the output Jacobian Φ (docs/theory.md §9.1): Φ has n·c rows (row
        i·c + k: output k of example i), or n rows shared by the c outputs (Φ ⊗ I_c).
        """
        return _with_classes(
            cls(
                _core.System.from_features(
                    as_float64(phi, "features Φ"), as_float64(labels, "labels"), rank, classes
                )
            )
        )

    @classmethod
    def from_kernel(
        cls,
        kernel: Any,
        labels: Any,
        rank: Optional[int] = None,
        strength_floor: Optional[float] = None,
        *,
        classes: Optional[int] = None,
    ) -> "System":
        """The eigendecomposition of YΘY (docs/theory.md §8.6) for an unsigned NTK Gram matrix
        Θ (n × n, symmetric positive semi-definite) and labels y. Features with
        s_j² ≤ ``strength_floor``·s₁² (default 1e-12) are dropped and reported in
        :attr:`truncation`; ``rank`` keeps the top features only.

        With class labels 0 … c−1 (any label ≥ 2, or ``classes=c``) it is the multi-class
        softmax system of Θ (nc × nc, or n × n meaning Θ ⊗ I_c; docs/theory.md §9.1).
        """
        return _with_classes(
            cls(
                _core.System.from_kernel(
                    as_float64(kernel, "kernel Θ"),
                    as_float64(labels, "labels"),
                    rank,
                    strength_floor,
                    classes,
                )
            )
        )

    @classmethod
    def load(cls, path: PathLike) -> "System":
        """A system file: JSON or TOML ``{"strengths": [...], "u": [[...], ...]}``, or a NumPy
        archive ``*.npz`` of the arrays ``strengths`` and ``u`` (and ``z0``); a JSON or TOML file
        with ``classes`` and ``labels`` is a multi-class system (``gstarve system --out``)."""
        return cls(_core.System.load(os.fspath(path)))

    @classmethod
    def load_many(cls, path: PathLike) -> List["System"]:
        """The systems of a file that holds many — a JSON list of system objects, or a NumPy
        archive whose arrays have a leading batch axis (``strengths`` (B, r), ``u`` (B, n, r),
        optionally ``z0`` (B, r), ``v``, ``labels``) — in order; any other system file gives
        a list of its one system. For :func:`simulate_many`."""
        return [cls(inner) for inner in _core.load_systems(os.fspath(path))]

    def save(self, path: PathLike) -> None:
        """Write the system (JSON, TOML for ``*.toml``, NumPy archive for ``*.npz``), atomically."""
        self._inner.save(os.fspath(path))

    # -- properties --------------------------------------------------------------------------

    @property
    def strengths(self) -> np.ndarray:
        """The strengths s (r), a read-only view of the system's memory."""
        return self._inner.strengths

    @property
    def u(self) -> np.ndarray:
        """The coupling U (n × r, orthonormal columns), a read-only Fortran-order view."""
        return self._inner.u

    @property
    def examples(self) -> int:
        """The number of examples n (a multi-class coupling has n·c rows)."""
        return self._inner.examples

    @property
    def classes(self) -> Optional[int]:
        """The number of classes c of a multi-class (softmax) system, else None."""
        return self._inner.classes

    @property
    def labels(self) -> Optional[np.ndarray]:
        """The class labels (n, integers 0 … c−1) of a multi-class system, else None."""
        return self._inner.labels

    @property
    def rank(self) -> int:
        """The number of features r."""
        return self._inner.rank

    @property
    def truncation(self) -> Optional[Dict[str, Any]]:
        """What construction dropped (``dropped_features``, ``dropped_strength_share``,
        ``strength_floor``, ``rank``), or None."""
        return self._inner.truncation

    @property
    def initial(self) -> Optional[np.ndarray]:
        """The initial responses z(0) stored in the system's file, or None."""
        return self._inner.initial

    def __repr__(self) -> str:
        return repr(self._inner)

    # -- computations ------------------------------------------------------------------------

    def fixed_point(
        self, reg: str = "l2", lam: float = DEFAULT_LAMBDA, loss: str = "logistic"
    ) -> FixedPoint:
        """The steady state z* (Newton) with margins, α, residual, iterations, the
        sensitivities ∂z*/∂s² and the starvation matrix (docs/theory.md §4, §5.3).

        ``reg`` is ``"l2"`` (weight decay), ``"sd"`` (Spectral Decoupling) or ``"none"``;
        ``loss`` is ``"logistic"`` or ``"squared"``. Raises :class:`NumericalError` if Newton
        does not converge, ``ValueError`` if there is no steady state (e.g. no regulariser).

        For a multi-class system (softmax cross-entropy, docs/theory.md §9) the result also has
        ``classes``, ``labels``, ``logits`` and ``probabilities`` (n × c), its margins are
        F_{i,yᵢ} − max_{k≠yᵢ} F_ik and ``alpha`` is None (as ``gstarve fixed-point --json``).
        """
        return self._inner.fixed_point(loss, reg, float(lam))

    def simulate(
        self,
        methods: Iterable[str] = ("flow", "gd"),
        reg: str = "l2",
        lam: float = DEFAULT_LAMBDA,
        eta: float = DEFAULT_ETA,
        steps: int = DEFAULT_STEPS,
        t_end: Optional[float] = None,
        points: int = DEFAULT_POINTS,
        *,
        loss: str = "logistic",
        rtol: float = 1e-8,
        atol: float = 1e-10,
        max_steps: int = DEFAULT_MAX_STEPS,
        method: str = "auto",
        z0: Any = None,
        allow_unstable: bool = False,
        fixed_point: bool = True,
    ) -> Simulation:
        """Run GD (``"gd"``), θ-space GD (``"gd-theta"``, systems from features), the exact
        flow (``"flow"``) and the dual (``"dual"``) from z0 (default: the file's z(0), else 0).

        GD takes ``steps`` steps of size ``eta`` (refused beyond the stability bound
        η(λ + s₁²/4) < 2 unless ``allow_unstable``) and records ``points`` of them; the flow and
        the dual run to ``t_end`` (default η·steps) on ``points`` output times at tolerances
        ``rtol``/``atol`` with ``method`` (auto, dop853, dopri5, bdf, rodas4, dp45, rkc) and at
        most ``max_steps`` step attempts. Returns a dict keyed by method; each :class:`Run` has
        ``.tau`` (points), ``.z`` (points × r) and ``.stats``. A multi-class system runs
        ``"flow"`` and ``"gd"`` (softmax cross-entropy; ``loss="squared"`` is refused).
        """
        options = _simulate_options(
            methods, reg, lam, eta, steps, t_end, points, loss, rtol, atol, max_steps, method, z0,
            allow_unstable, fixed_point,
        )
        return _simulation(self._inner.simulate(options))

    def check(
        self,
        reg: str = "l2",
        lam: float = DEFAULT_LAMBDA,
        loss: str = "logistic",
        tolerance_scale: float = 1.0,
    ) -> CheckReport:
        """Every prediction of docs/theory.md that applies to this system, computed from its
        closed form and compared with an independent numerical computation (``gstarve check``).

        Returns rows (name, predicted, measured, tolerance, passed, …); ``report.passed`` says
        whether all claims held. When no prediction applies the list is empty and
        ``report.note`` says why. ``tolerance_scale`` multiplies every tolerance.
        """
        rows, passed, note = self._inner.check(loss, reg, float(lam), float(tolerance_scale))
        report = CheckReport(_check_row(r) for r in rows)
        report.passed = bool(passed) and note is None
        report.note = note
        return report


def _simulate_options(
    methods, reg, lam, eta, steps, t_end, points, loss, rtol, atol, max_steps, method, z0,
    allow_unstable, fixed_point,
) -> "_core.SimulateOptions":
    """The arguments of :meth:`System.simulate` and :func:`simulate_many`, converted once."""
    names = [str(m).replace("_", "-") for m in ([methods] if isinstance(methods, str) else methods)]
    return _core.SimulateOptions(
        names,
        loss,
        reg,
        float(lam),
        float(eta),
        int(steps),
        None if t_end is None else float(t_end),
        int(points),
        float(rtol),
        float(atol),
        int(max_steps),
        method,
        None if z0 is None else as_float64(z0, "z0"),
        bool(allow_unstable),
        bool(fixed_point),
    )


def _simulation(out: Dict[str, Any]) -> Simulation:
    result = Simulation((run["method"], Run(**run)) for run in out["runs"])
    result.fixed_point = out["fixed_point"]
    result.fixed_point_note = out["fixed_point_note"]
    return result


def simulate_many(
    systems: Sequence[System],
    methods: Iterable[str] = ("flow", "gd"),
    reg: str = "l2",
    lam: float = DEFAULT_LAMBDA,
    eta: float = DEFAULT_ETA,
    steps: int = DEFAULT_STEPS,
    t_end: Optional[float] = None,
    points: int = DEFAULT_POINTS,
    *,
    loss: str = "logistic",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    max_steps: int = DEFAULT_MAX_STEPS,
    method: str = "auto",
    z0: Any = None,
    allow_unstable: bool = False,
    fixed_point: bool = True,
) -> List[Simulation]:
    """:meth:`System.simulate` with the same arguments on every system (binary systems, e.g.
    from :meth:`System.load_many`), in parallel in the Rust core without the GIL; one
    :class:`Simulation` per system, in order, equal to ``system.simulate(...)``. Each system
    starts from ``z0`` if given, else from its own z(0), else from 0. A bad argument raises
    ``ValueError`` naming the system (``system i of N``); nothing is returned unless every
    system ran (as ``gstarve simulate`` on a file of many systems)."""
    options = _simulate_options(
        methods, reg, lam, eta, steps, t_end, points, loss, rtol, atol, max_steps, method, z0,
        allow_unstable, fixed_point,
    )
    return [_simulation(out) for out in _core.simulate_many([s._inner for s in systems], options)]
