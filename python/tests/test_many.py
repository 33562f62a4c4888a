"""Many systems at once (issue #17): a file of many systems (a JSON list, or an .npz with a
leading batch axis) gives one result per system, from Python (System.load_many,
simulate_many) and from `gstarve simulate`, each equal to the one-system run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gstarve
from conftest import close, csv_rows

ARGS = dict(methods=("flow", "gd"), lam=0.01, eta=0.05, steps=400, points=21)
CLI_ARGS = ["--methods", "flow,gd", "--lambda", "0.01", "--eta", "0.05", "--steps", "400",
            "--points", "21"]


def systems() -> list:
    return [
        gstarve.System.rotation((6, 2), 0.5),
        gstarve.System.rotation((3, 1), 0.9),
        gstarve.System.random(3, seed=4, spectrum=(3, 0.5)),
    ]


def write_list(path: Path, items: list, z0: list) -> None:
    entries = []
    for s, z in zip(items, z0):
        entry = {"strengths": s.strengths.tolist(), "u": s.u.tolist()}
        if z is not None:
            entry["z0"] = z
        entries.append(entry)
    path.write_text(json.dumps(entries))


def test_json_list_simulates_each_system_as_alone(tmp_path: Path, cli) -> None:
    items = systems()
    path = tmp_path / "many.json"
    write_list(path, items, [None, [0.5, -0.5], None])
    loaded = gstarve.System.load_many(path)
    assert len(loaded) == 3
    np.testing.assert_array_equal(loaded[2].u, items[2].u)
    np.testing.assert_array_equal(loaded[1].initial, [0.5, -0.5])
    many = gstarve.simulate_many(loaded, **ARGS)
    assert len(many) == 3
    for one_system, result in zip(loaded, many):
        alone = one_system.simulate(**ARGS)
        for method in ("flow", "gd"):
            np.testing.assert_array_equal(result[method].z, alone[method].z)
            np.testing.assert_array_equal(result[method].tau, alone[method].tau)
        np.testing.assert_array_equal(result.fixed_point["z"], alone.fixed_point["z"])
    # The second system starts from its file's z(0).
    np.testing.assert_array_equal(many[1]["flow"].z[0], [0.5, -0.5])
    # The command line: one JSON entry per system, numbered, each the one-system --json.
    out = cli.json("simulate", "--system", str(path), *CLI_ARGS)
    assert [e["system"] for e in out["systems"]] == [1, 2, 3]
    for entry, result in zip(out["systems"], many):
        flow = next(r for r in entry["runs"] if r["method"] == "flow")
        close(result["flow"].z, flow["z"])
    # --out: one trajectories.csv with a system column; z columns up to the largest rank.
    done = cli.run("simulate", "--system", str(path), *CLI_ARGS, "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert "system 3 of 3 (3 × 3)" in done.stdout
    rows = csv_rows(tmp_path / "o" / "trajectories.csv")
    assert rows[0] == ["system", "method", "step", "tau", "z1", "z2", "z3"]
    first = [r for r in rows[1:] if r[0] == "1" and r[1] == "flow"]
    assert len(first) == 21 and first[-1][6] == "nan"
    close([float(v) for v in first[-1][4:6]], many[0]["flow"].z[-1])


def test_npz_with_a_batch_axis(tmp_path: Path, cli) -> None:
    items = systems()[:2]
    path = tmp_path / "batch.npz"
    np.savez(path, strengths=np.stack([s.strengths for s in items]),
             u=np.stack([s.u for s in items]))
    loaded = gstarve.System.load_many(path)
    assert len(loaded) == 2
    many = gstarve.simulate_many(loaded, **ARGS)
    for one_system, result in zip(items, many):
        np.testing.assert_array_equal(result["flow"].z, one_system.simulate(**ARGS)["flow"].z)
    out = cli.json("simulate", "--system", str(path), *CLI_ARGS)
    assert len(out["systems"]) == 2
    # A one-system file is a list of one.
    single = tmp_path / "one.npz"
    np.savez(single, strengths=items[0].strengths, u=items[0].u)
    assert len(gstarve.System.load_many(single)) == 1


def test_bad_input_names_the_system(tmp_path: Path, cli) -> None:
    items = systems()[:2]
    path = tmp_path / "bad.json"
    write_list(path, items, [None, None])
    entries = json.loads(path.read_text())
    entries[1]["u"][0][0] = 3.0
    path.write_text(json.dumps(entries))
    with pytest.raises(ValueError, match="system 2 of 2"):
        gstarve.System.load_many(path)
    line = cli.error("simulate", "--system", str(path))
    assert "system 2 of 2" in line and "\n" not in line
    good = tmp_path / "good.json"
    write_list(good, items, [None, None])
    assert "--rank applies to one system" in cli.error(
        "simulate", "--system", str(good), "--rank", "1")
    assert "system 1 of 2" in cli.error("simulate", "--system", str(good), "--z0", "1,2,3")
    with pytest.raises(ValueError, match="system 1 of 2: z0 has 3 entries"):
        gstarve.simulate_many(items, z0=[1.0, 2.0, 3.0], **ARGS)
    with pytest.raises(ValueError, match="empty"):
        gstarve.simulate_many([], **ARGS)
