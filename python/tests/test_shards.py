"""Phase diagrams in shards from Python: the merged shards are the unsharded diagram bit for bit
(every field, the CSV bytes), shards survive pickling exactly, the merge refuses incomplete or
mixed sets with a message, and the concurrent.futures example of docs/scale-out.md runs as
written."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest

import gstarve

ROOT = Path(__file__).resolve().parents[2]
SWEEP = dict(measure="elasticity", x=("ratio", 1, 5), y=("coupling", 0.05, 0.95), grid=13)
FIELDS = ("x", "y", "value", "mask", "z1", "z2", "boundary", "reference", "resolution")


def assert_identical(a: gstarve.PhaseDiagram, b: gstarve.PhaseDiagram) -> None:
    for name in FIELDS:
        u, v = getattr(a, name), getattr(b, name)
        assert u.shape == v.shape and u.dtype == v.dtype, name
        # Bit for bit, NaN where NaN.
        assert np.array_equal(u, v, equal_nan=u.dtype.kind == "f"), name
    assert a.masked == b.masked and a.measure == b.measure and a.parameters == b.parameters
    assert (a.mask_reason == b.mask_reason).all()


@pytest.mark.parametrize("measure", ["elasticity", "ratio"])
@pytest.mark.parametrize("count", [1, 3, 4])
def test_merged_shards_are_the_unsharded_diagram(tmp_path, measure, count):
    sweep = dict(SWEEP, measure=measure)
    whole = gstarve.phase_diagram(**sweep)
    parts = [gstarve.phase_diagram(**sweep, shard=(i, count)) for i in range(1, count + 1)]
    for i, p in enumerate(parts, start=1):
        assert p.shard == (i, count)
        assert p.rows == list(range(i - 1, 13, count))  # round-robin, as --shard i/n
        assert p.config_hash == parts[0].config_hash
    # Order does not matter, pickling changes nothing.
    parts = [pickle.loads(pickle.dumps(p)) for p in reversed(parts)]
    merged = gstarve.merge_shards(parts)
    assert_identical(merged, whole)
    whole.to_csv(tmp_path / "whole.csv")
    merged.to_csv(tmp_path / "merged.csv")
    assert (tmp_path / "whole.csv").read_bytes() == (tmp_path / "merged.csv").read_bytes()


def test_merge_refuses_incomplete_repeated_and_mixed_shards():
    a = [gstarve.phase_diagram(**SWEEP, shard=(i, 3)) for i in (1, 2, 3)]
    with pytest.raises(ValueError, match=r"shard 2/3 is missing"):
        gstarve.merge_shards([a[0], a[2]])
    with pytest.raises(ValueError, match=r"shard 1/3 is also in"):
        gstarve.merge_shards([a[0], a[0], a[1], a[2]])
    other = gstarve.phase_diagram(**dict(SWEEP, grid=12), shard=(2, 3))
    with pytest.raises(ValueError, match="differs from"):
        gstarve.merge_shards([a[0], other, a[2]])
    with pytest.raises(ValueError, match="holds no shard"):
        gstarve.merge_shards([])
    with pytest.raises(TypeError):
        gstarve.merge_shards([gstarve.phase_diagram(**SWEEP)])


@pytest.mark.parametrize("shard", [(0, 3), (4, 3), (1, 0), (1.5, 2), "1/2", (1, 2, 3)])
def test_bad_shards_raise(shard):
    with pytest.raises(ValueError, match="shard"):
        gstarve.phase_diagram(**SWEEP, shard=shard)


def example(title: str) -> str:
    """The Python block after the heading `title` in docs/scale-out.md."""
    text = (ROOT / "docs" / "scale-out.md").read_text()
    section = text[text.index(title):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_concurrent_futures_example_runs_as_documented():
    namespace = {"__name__": "scale_out_example"}
    exec(compile(example("### concurrent.futures"), "docs/scale-out.md", "exec"), namespace)
    sweep = dict(measure="ratio", x=("ratio", 1, 5), y=("lambda", 1e-3, 1e-1, "log"), grid=16)
    merged = namespace["diagram_in_shards"](workers=2, shards=5, **sweep)
    assert_identical(merged, gstarve.phase_diagram(**sweep))


def test_the_dask_example_runs_on_a_local_cluster():
    pytest.importorskip("dask.distributed")
    code = example("### Dask").replace('grid=1024', 'grid=12').replace("shards = 64", "shards = 3")
    code = code.replace('gstarve.plot.phase_diagram(d, "tau90.png", log_colour=True)', "")
    code = code.replace('measure="tau90"', 'measure="elasticity"')
    namespace = {"__name__": "scale_out_dask_example"}
    exec(compile(code, "docs/scale-out.md", "exec"), namespace)
    sweep = dict(measure="elasticity", x=("ratio", 1, 5), y=("coupling", 0.05, 0.95), grid=12)
    assert_identical(namespace["d"], gstarve.phase_diagram(**sweep))
