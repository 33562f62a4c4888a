"""Multi-class (softmax) systems and the max-margin limit from Python: every number equals the
command line's --json output to 1e-12 (relative to max(1, |value|)), and bad input raises the
command line's message."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gstarve
from conftest import close


def class_data(n=9, p=4, classes=3, seed=0, shared=True):
    """Features (n × p shared by the outputs, or n·c × p) and labels 0..c−1, every class used."""
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(n if shared else n * classes, p))
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    return phi, labels.astype(float)


def files(tmp_path, **arrays):
    paths = {}
    for name, a in arrays.items():
        np.save(tmp_path / f"{name}.npy", a)
        paths[name] = str(tmp_path / f"{name}.npy")
    return paths


def assert_multiclass(fp, expected):
    close(fp.z, expected["z"])
    close(fp.margins, expected["margins"])
    assert fp.alpha is None and expected["alpha"] is None
    close(fp.residual, expected["residual"])
    assert fp.iterations == expected["iterations"] and fp.method == expected["method"]
    assert fp.classes == expected["classes"]
    assert fp.labels.tolist() == expected["labels"]
    close(fp.logits, expected["logits"])
    close(fp.probabilities, expected["probabilities"])
    n, c = len(expected["labels"]), expected["classes"]
    assert fp.logits.shape == fp.probabilities.shape == (n, c)
    for name in ("sensitivity", "elasticity"):
        if expected[name] is None:
            assert getattr(fp, name) is None
        else:
            close(getattr(fp, name), expected[name])


MODELS = [
    (dict(reg="l2", lam=0.01), ["--reg", "l2", "--lambda", "0.01"]),
    (dict(reg="sd", lam=0.05), ["--reg", "sd", "--lambda", "0.05"]),
]


@pytest.mark.parametrize("model, flags", MODELS)
@pytest.mark.parametrize("shared", [True, False])
def test_multiclass_features_fixed_point_equals_the_cli(cli, tmp_path, model, flags, shared):
    phi, labels = class_data(shared=shared)
    p = files(tmp_path, phi=phi, y=labels)
    expected = cli.json("fixed-point", "--features", p["phi"], "--labels", p["y"], *flags)
    system = gstarve.System.from_features(phi, labels)
    assert system.classes == 3 and system.examples == 9
    assert system.labels.tolist() == labels.astype(int).tolist()
    assert_multiclass(system.fixed_point(**model), expected)
    # Probabilities are a softmax of the logits, rows summing to 1.
    fp = system.fixed_point(**model)
    assert np.allclose(fp.probabilities.sum(axis=1), 1.0, atol=1e-14)


def test_multiclass_kernel_with_classes_and_rank_equals_the_cli(cli, tmp_path):
    # Labels 0/1 with classes=2: the two-class softmax system (not the binary one).
    phi, labels = class_data(n=8, p=8, classes=2, seed=4)
    kernel = phi @ phi.T
    p = files(tmp_path, k=kernel, y=labels)
    expected = cli.json("fixed-point", "--kernel", p["k"], "--labels", p["y"], "--classes", "2",
                        "--rank", "5")
    system = gstarve.System.from_kernel(kernel, labels, rank=5, classes=2)
    assert system.classes == 2 and system.rank == 5
    assert_multiclass(system.fixed_point(), expected)
    for key in ("dropped_features", "dropped_strength_share", "rank"):
        close(system.truncation[key], expected[key])


def test_multiclass_features_with_rank_equals_the_cli(cli, tmp_path):
    # --rank on multi-class --features keeps the top features, as System.from_features(rank=…).
    phi, labels = class_data(n=9, p=6, seed=3)
    p = files(tmp_path, phi=phi, y=labels)
    expected = cli.json("fixed-point", "--features", p["phi"], "--labels", p["y"], "--rank", "4")
    system = gstarve.System.from_features(phi, labels, rank=4)
    assert system.rank == 4 and len(expected["z"]) == 4
    assert_multiclass(system.fixed_point(), expected)
    for key in ("dropped_features", "dropped_strength_share", "rank"):
        close(system.truncation[key], expected[key])


def test_multiclass_simulate_equals_the_cli(cli, tmp_path):
    phi, labels = class_data(seed=2)
    p = files(tmp_path, phi=phi, y=labels)
    args = ["--methods", "flow,gd", "--eta", "0.05", "--steps", "400", "--points", "21"]
    expected = cli.json("simulate", "--features", p["phi"], "--labels", p["y"], *args)
    runs = gstarve.System.from_features(phi, labels).simulate(
        methods=("flow", "gd"), eta=0.05, steps=400, points=21
    )
    assert list(runs) == ["flow", "gd"]
    for run in expected["runs"]:
        got = runs[run["method"]]
        close(got.tau, run["tau"])
        close(got.z, run["z"])
        close(got.z_final, run["z_final"])
    close(runs.fixed_point["z"], expected["fixed_point"]["z"])
    close(runs.fixed_point["margins"], expected["fixed_point"]["margins"])
    assert runs.fixed_point["alpha"] is None


def test_multiclass_check_and_save_load(cli, tmp_path):
    phi, labels = class_data(seed=5)
    system = gstarve.System.from_features(phi, labels)
    system.save(tmp_path / "mc.json")
    loaded = gstarve.System.load(tmp_path / "mc.json")
    assert loaded.classes == 3 and np.array_equal(loaded.labels, system.labels)
    assert np.array_equal(loaded.u, system.u)
    expected = cli.json("check", "--system", str(tmp_path / "mc.json"))
    report = loaded.check()
    assert [r.name for r in report] == [c["prediction"] for c in expected["checks"]]
    assert report.passed == expected["passed"]
    for row, want in zip(report, expected["checks"]):
        close(row.measured, want["numerical"])
    assert gstarve.System.from_features(phi, labels).check(reg="none").note is not None


def test_multiclass_bad_input_raises_the_cli_message(cli, tmp_path):
    phi, labels = class_data()
    system = gstarve.System.from_features(phi, labels)
    with pytest.raises(ValueError, match="softmax cross-entropy"):
        system.fixed_point(loss="squared")
    with pytest.raises(ValueError, match="not available for a multi-class"):
        system.simulate(methods=("dual",))
    with pytest.raises(ValueError, match="method gd-theta is not available for a multi-class"):
        system.simulate(methods=("gd-theta",))
    with pytest.raises(ValueError, match="does not support multi-class"):
        gstarve.max_margin(system)
    bad = labels.copy()
    bad[3] = 1.5
    p = files(tmp_path, phi=phi, y=bad)
    message = cli.error("fixed-point", "--features", p["phi"], "--labels", p["y"])
    with pytest.raises(ValueError) as err:
        gstarve.System.from_features(phi, bad)
    assert str(err.value) == message
    with pytest.raises(ValueError, match="class"):
        gstarve.System.from_features(phi, labels, classes=1)
    with pytest.warns(UserWarning, match="class 3 has no examples"):
        gstarve.System.from_features(phi, labels, classes=4)


SYSTEMS = [
    (lambda: gstarve.System.rotation((6, 2), 0.5), ["--strengths", "6,2", "--coupling", "0.5"]),
    (lambda: gstarve.System.rotation((4, 1, 0.5)), ["--strengths", "4,1,0.5"]),
    (
        lambda: gstarve.System.random(7, seed=3, spectrum=(4, 0.3)),
        ["--random", "7", "--seed", "3", "--spectrum", "4:0.3"],
    ),
]


@pytest.mark.parametrize("make, flags", SYSTEMS)
def test_max_margin_equals_the_cli(cli, make, flags):
    expected = cli.json("max-margin", *flags)
    mm = gstarve.max_margin(make())
    for name in ("z_hat", "direction", "alpha", "margins", "inverse_gram_ones", "elasticity"):
        close(getattr(mm, name), expected[name])
    assert mm.support.dtype == bool and mm.support.tolist() == expected["support"]
    assert mm.all_support == expected["all_support"]
    assert mm.iterations == expected["iterations"]
    assert set(mm.kkt) == set(expected["kkt"])
    for key, value in expected["kkt"].items():
        close(mm.kkt[key], value)
        assert mm.kkt[key] <= 1e-10
    # ẑ is feasible, tight on the support vectors, and its direction has unit norm.
    assert (mm.margins >= 1 - 1e-12).all()
    assert np.allclose(mm.margins[mm.support], 1.0, atol=1e-12)
    assert abs(np.linalg.norm(mm.direction) - 1) < 1e-14


def test_max_margin_bad_input_raises_the_cli_message(cli):
    message = cli.error("max-margin", "--random", "6", "--rank", "3", "--seed", "1")
    with pytest.raises(ValueError) as err:
        gstarve.max_margin(gstarve.System.random(6, seed=1, rank=3))
    assert str(err.value) == message
    with pytest.raises(TypeError):
        gstarve.max_margin("not a system")


def test_fixed_point_arrays_are_built_once_and_stay():
    fp = gstarve.System.rotation((6, 2), 0.5).fixed_point()
    assert fp.z is fp.z and fp.elasticity is fp.elasticity
    assert fp.classes is None and fp.labels is None and fp.logits is None
    assert fp.z.dtype == np.float64 and fp.sensitivity.shape == (2, 2)
    assert "iterations=10" in repr(fp)
    big = gstarve.System.random(20, seed=1, spectrum=(3, 1)).fixed_point()
    assert "(20 entries)" in repr(big) and big.margins.shape == (20,)
