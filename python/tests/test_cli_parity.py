"""The bindings compute what the command line computes: every number of its --json output
agrees to 1e-12 (relative to max(1, |value|)), through the same library calls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gstarve
from conftest import close, csv_rows

SYSTEMS = [
    # (Python constructor, the command line's system flags)
    (lambda: gstarve.System.rotation((6, 2), 0.5), ["--strengths", "6,2", "--coupling", "0.5"]),
    (lambda: gstarve.System.rotation((3, 1, 0.5)), ["--strengths", "3,1,0.5"]),
    (
        lambda: gstarve.System.random(6, seed=3, spectrum=(3, 0.5)),
        ["--random", "6", "--seed", "3", "--spectrum", "3:0.5"],
    ),
]
MODELS = [
    (dict(reg="l2", lam=0.01), ["--reg", "l2", "--lambda", "0.01"]),
    (dict(reg="sd", lam=0.002), ["--reg", "sd", "--lambda", "0.002"]),
    (dict(reg="l2", lam=0.05, loss="squared"), ["--lambda", "0.05", "--loss", "squared"]),
]


def assert_fixed_point(fp: gstarve.FixedPoint, expected: dict) -> None:
    close(fp.z, expected["z"])
    close(fp.margins, expected["margins"])
    if expected["alpha"] is None:
        assert fp.alpha is None
    else:
        close(fp.alpha, expected["alpha"])
    close(fp.residual, expected["residual"], tol=1e-12)
    assert fp.iterations == expected["iterations"]
    assert fp.method == expected["method"]
    for name in ("sensitivity", "elasticity"):
        if expected[name] is None:
            assert getattr(fp, name) is None
        else:
            close(getattr(fp, name), expected[name])


@pytest.mark.parametrize("make, flags", SYSTEMS)
@pytest.mark.parametrize("model, model_flags", MODELS)
def test_fixed_point_equals_the_cli(cli, make, flags, model, model_flags):
    expected = cli.json("fixed-point", *flags, *model_flags)
    assert_fixed_point(make().fixed_point(**model), expected)


def test_fixed_point_masks_what_the_cli_masks(cli):
    # s₂ = 0: z₂* = 0, its row of elasticities is masked (null in JSON, NaN here).
    expected = cli.json("fixed-point", "--strengths", "3,0", "--coupling", "0.3")
    fp = gstarve.System.rotation((3, 0), 0.3).fixed_point()
    assert_fixed_point(fp, expected)
    assert np.isnan(fp.elasticity[1]).all() and not np.isnan(fp.elasticity[0]).any()


def test_simulate_equals_the_cli(cli):
    args = ["--methods", "gd,flow,dual", "--eta", "0.05", "--steps", "2000", "--points", "41"]
    expected = cli.json("simulate", "--strengths", "4,2", "--coupling", "0.5", *args)
    runs = gstarve.System.rotation((4, 2), 0.5).simulate(
        methods=("gd", "flow", "dual"), eta=0.05, steps=2000, points=41
    )
    assert list(runs) == ["gd", "flow", "dual"]
    for run in expected["runs"]:
        got = runs[run["method"]]
        close(got.tau, run["tau"])
        close(got.z, run["z"])
        close(got.z_final, run["z_final"])
        assert list(got.step) == run["step"]
        assert got.z.shape == (41, 2) and got.tau.shape == (41,)
        stats = {k: v for k, v in run["stats"].items() if k != "wall_s"}
        assert {k: v for k, v in got.stats.items() if k != "wall_s"} == stats
    fp = expected["fixed_point"]
    close(runs.fixed_point["z"], fp["z"])
    assert runs.fixed_point["iterations"] == fp["iterations"]


def test_simulate_from_z0_with_a_method_and_tolerances(cli):
    args = ["--methods", "flow", "--t-end", "30", "--points", "7", "--method", "bdf",
            "--rtol", "1e-6", "--atol", "1e-9", "--z0", "1,-0.5", "--no-fixed-point"]
    expected = cli.json("simulate", "--strengths", "6,2", "--coupling", "0.3", *args)
    runs = gstarve.System.rotation((6, 2), 0.3).simulate(
        methods=["flow"], t_end=30, points=7, method="bdf", rtol=1e-6, atol=1e-9,
        z0=np.array([1.0, -0.5], dtype=np.float32), fixed_point=False,
    )
    close(runs["flow"].z, expected["runs"][0]["z"])
    assert runs["flow"].stats["solver"] == expected["runs"][0]["stats"]["solver"] == "bdf"
    assert runs.fixed_point is None and expected["fixed_point"] is None


@pytest.mark.parametrize(
    "make, flags, model",
    [
        (lambda: gstarve.System.rotation((6, 2), 0.5), ["--strengths", "6,2", "--coupling", "0.5"], {}),
        (
            lambda: gstarve.System.random(6, seed=3, spectrum=(3, 0.5)),
            ["--random", "6", "--seed", "3", "--spectrum", "3:0.5", "--lambda", "0.05"],
            dict(lam=0.05),
        ),
    ],
)
def test_check_equals_the_cli(cli, make, flags, model):
    expected = cli.json("check", *flags)
    report = make().check(**model)
    assert report.passed == expected["passed"] and report.note is None
    assert len(report) == len(expected["checks"])
    for row, want in zip(report, expected["checks"]):
        assert row.name == want["prediction"] and row.verdict == want["verdict"]
        assert row.section == want["section"]
        for got, key in [(row.predicted, "predicted"), (row.measured, "numerical"),
                         (row.tolerance, "tolerance")]:
            close(got, want[key], tol=1e-12)
        # Errors are differences of nearby numbers: compared on the scale of the values.
        assert abs(row.error - want["error"]) <= 1e-12 * max(1.0, abs(want["predicted"]))
        assert row.passed == {"PASS": True, "FAIL": False, "INFO": None}[want["verdict"]]


def test_check_with_nothing_to_check_says_why():
    report = gstarve.System.rotation((6, 2), 0.5).check(reg="none")
    assert list(report) == [] and not report.passed and "regulari" in report.note


def features(n=12, p=5, seed=0):
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(n, p))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return phi, y


def test_features_and_kernels_equal_the_cli(cli, tmp_path):
    phi, y = features()
    np.save(tmp_path / "phi.npy", phi)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "k.npy", phi @ phi.T)
    expected = cli.json("fixed-point", "--features", str(tmp_path / "phi.npy"),
                        "--labels", str(tmp_path / "y.npy"))
    assert_fixed_point(gstarve.System.from_features(phi, y).fixed_point(), expected)
    expected = cli.json("fixed-point", "--kernel", str(tmp_path / "k.npy"),
                        "--labels", str(tmp_path / "y.npy"), "--rank", "4")
    system = gstarve.System.from_kernel(phi @ phi.T, y, rank=4)
    assert_fixed_point(system.fixed_point(), expected)
    assert system.truncation["rank"] == 4 and system.truncation["dropped_features"] == 8


def test_random_system_equals_the_cli_file(cli, tmp_path):
    done = cli.run("system", "--random", "7", "--seed", "11", "--spectrum", "5:0.2",
                   "--out", str(tmp_path / "sys.json"))
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "sys.json").read_text())
    system = gstarve.System.random(7, seed=11, spectrum=(5, 0.2))
    close(system.strengths, data["strengths"], tol=0)
    close(system.u, data["u"], tol=0)
    loaded = gstarve.System.load(tmp_path / "sys.json")
    assert np.array_equal(loaded.u, system.u) and np.array_equal(loaded.strengths, system.strengths)


def test_phase_diagram_equals_the_cli_csv(cli, tmp_path):
    done = cli.run("phase-diagram", "--measure", "ratio", "--x", "ratio:1:5",
                   "--y", "lambda:1e-3:1e-1:log", "--grid", "12", "--name", "phase-diagram",
                   "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    expected = csv_rows(tmp_path / "phase-diagram.csv")
    d = gstarve.phase_diagram("ratio", x=("ratio", 1, 5), y=("lambda", 1e-3, 1e-1, "log"), grid=12)
    assert d.value.shape == (12, 12) and d.mask.shape == (12, 12)
    body = expected[1:]
    assert len(body) == 144
    for k, row in enumerate(body):
        iy, ix = divmod(k, 12)
        assert float(row[0]) == d.x[ix] and float(row[1]) == d.y[iy]
        if row[3] != "none":
            assert d.mask[iy, ix] and d.mask_reason[iy, ix] == row[3]
        else:
            assert float(row[2]) == d.value[iy, ix] and not d.mask[iy, ix]
        assert float(row[5]) == d.z2[iy, ix]
    # The Python CSV is the command line's, byte for byte.
    d.to_csv(tmp_path / "py.csv")
    assert (tmp_path / "py.csv").read_bytes() == (tmp_path / "phase-diagram.csv").read_bytes()
