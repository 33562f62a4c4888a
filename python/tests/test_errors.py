"""Bad input raises ValueError with the command line's message; numerical failure raises
gstarve.NumericalError; nothing crashes the interpreter."""

from __future__ import annotations

import numpy as np
import pytest

import gstarve


def test_rejected_values_carry_the_cli_message(cli):
    cases = [
        (lambda: gstarve.System.rotation((-1, 2), 0.5), ["fixed-point", "--strengths=-1,2", "--coupling", "0.5"]),
        (lambda: gstarve.System.rotation((1, 2, 3), 0.5), None),
        (lambda: gstarve.System.rotation((4, 2), 0.5).fixed_point(lam=-1), ["fixed-point", "--strengths", "4,2", "--coupling", "0.5", "--lambda", "-1"]),
        (lambda: gstarve.System.rotation((40, 2), 0.5).simulate(eta=0.05, steps=10), ["simulate", "--strengths", "40,2", "--coupling", "0.5", "--steps", "10"]),
        (lambda: gstarve.System.random(0), ["fixed-point", "--random", "0"]),
    ]
    for call, flags in cases:
        with pytest.raises(ValueError) as raised:
            call()
        if flags is not None:
            assert str(raised.value) == cli.error(*flags)


def test_rejected_files_carry_the_cli_message(cli, tmp_path):
    phi = np.ones((4, 2))
    phi[2, 1] = np.nan
    y = np.array([1.0, -1.0, 1.0, 2.0])
    np.save(tmp_path / "phi.npy", phi)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "y_ok.npy", np.array([1.0, -1, 1, -1]))
    with pytest.raises(ValueError) as raised:
        gstarve.System.from_features(phi, [1, -1, 1, -1])
    assert str(raised.value) == cli.error(
        "fixed-point", "--features", str(tmp_path / "phi.npy"), "--labels", str(tmp_path / "y_ok.npy"))
    # A label ≥ 2 makes a multi-class system (classes 0..2), where −1 is no class: the CLI's line.
    with pytest.raises(ValueError) as raised:
        gstarve.System.from_features(np.ones((4, 2)), y)
    assert str(raised.value) == cli.error(
        "fixed-point", "--features", str(tmp_path / "phi.npy"), "--labels", str(tmp_path / "y.npy"))
    assert "label y_2 = -1 is invalid" in str(raised.value)
    with pytest.raises(ValueError, match="labels has 3 entries|3"):
        gstarve.System.from_features(np.ones((4, 2)), [1, -1, 1])
    with pytest.raises(ValueError) as raised:
        gstarve.System.load(tmp_path / "missing.json")
    assert "missing.json" in str(raised.value)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: gstarve.System.from_features(np.ones(4), [1, -1, 1, -1]), "2-D array"),
        (lambda: gstarve.System.from_features(np.ones((4, 2)), np.ones((4, 1))), "1-D array"),
        (lambda: gstarve.System.from_features(np.ones((4, 2)) * 1j, [1, -1, 1, -1]), "must be real"),
        (lambda: gstarve.System.from_features([["a", "b"]], [1]), "array of numbers"),
        (lambda: gstarve.System.from_kernel(np.ones((3, 2)), [1, -1, 1]), "square"),
        (lambda: gstarve.System.from_features(np.eye(3), [1, -1, 1], rank=4), "rank = 4 is invalid"),
        (lambda: gstarve.System.rotation((4, 2), 0.5).fixed_point(reg="l3"), "reg 'l3' is invalid"),
        (lambda: gstarve.System.rotation((4, 2), 0.5).fixed_point(loss="hinge"), "loss 'hinge'"),
        (lambda: gstarve.System.rotation((4, 2), 0.5).fixed_point(reg="none"), "steady state"),
        (lambda: gstarve.System.rotation((4, 2), 0.5).simulate(methods=["sgd"]), "unknown method"),
        (lambda: gstarve.System.rotation((4, 2), 0.5).simulate(method="euler"), "euler"),
        (lambda: gstarve.System.rotation((4, 2), 0.5).simulate(points=0), "points"),
        (lambda: gstarve.System.rotation((4, 2), 0.5).simulate(t_end=-1.0), "t_end"),
        (lambda: gstarve.System.rotation((4, 2), 0.5).simulate(z0=[1.0]), "z0 has 1 entries"),
        (lambda: gstarve.System.rotation((4, 2), 0.5).simulate(z0=[1.0, np.inf]), "z0 entry 2"),
        (lambda: gstarve.System.rotation((4, 2), 0.5).simulate(methods=["gd-theta"]), "gd-theta"),
        (lambda: gstarve.phase_diagram(grid=0), "points"),
        (lambda: gstarve.phase_diagram(x=("ratio", 5, 1)), "ratio"),
        (lambda: gstarve.phase_diagram(x=("mass", 1, 5)), "mass"),
        (lambda: gstarve.phase_diagram(x=("ratio", 1)), "expected (parameter, from, to)"),
        (lambda: gstarve.phase_diagram("entropy"), "unknown measure"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=None) as raised:
        call()
    assert message in str(raised.value), str(raised.value)


def test_numerical_failure_raises_numerical_error():
    system = gstarve.System.rotation((40, 2), 0.5)
    with pytest.raises(gstarve.NumericalError, match="diverged"):
        # η·λ = 3 > 2: the weight-decay part alone doubles |z| every step.
        system.simulate(methods=["gd"], eta=300.0, steps=2000, allow_unstable=True, fixed_point=False)
    with pytest.raises(gstarve.NumericalError, match="budget|steps"):
        system.simulate(methods=["flow"], t_end=1e4, max_steps=20, method="dopri5", fixed_point=False)
    assert issubclass(gstarve.NumericalError, RuntimeError)


def test_unwritable_output_raises_os_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError):
        gstarve.System.rotation((4, 2), 0.5).save(tmp_path / "file" / "s.json")
