#!/usr/bin/env python3
"""The Python package against its peers, in one run (docs/benchmarks.md, "The Python package").

    .venv/bin/python benches/python_api.py --scipy /work/venv-bench/bin/python

1. ``System.rotation((6, 2), 0.5).fixed_point()`` per call (construction, Newton, the
   sensitivities and the NumPy results), against ``scipy.optimize.fsolve`` on the same
   fixed-point equations (benches/peers/scipy_baseline.py fixed-point; z only).
2. ``gstarve.phase_diagram("elasticity", grid=256)`` from Python against ``gstarve
   phase-diagram --grid 256``: the whole command (which also draws the PNG and writes the
   CSV) and the computation it reports on stderr.

Run it with the interpreter that has gstarve installed (``pip install .``) and a built
``target/release/gstarve``; ``--scipy`` names an interpreter with numpy and scipy.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import gstarve

ROOT = Path(__file__).resolve().parents[1]


def best_per_call(fn, calls: int, repeat: int) -> float:
    return best_per_call_with_cpu(fn, calls, repeat)[0]


def best_per_call_with_cpu(fn, calls: int, repeat: int):
    """Best wall-clock and best CPU (this thread's) seconds per call: on a loaded machine the
    wall clock also counts the time the scheduler gave to other processes."""
    fn()
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.thread_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
        best_cpu = min(best_cpu, (time.thread_time() - c0) / calls)
    return best, best_cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scipy", required=True, help="a Python interpreter with numpy and scipy")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--grid", type=int, default=256)
    a = p.parse_args()

    # 1. Fixed point of the rotation family.
    fp = gstarve.System.rotation((6, 2), 0.5).fixed_point()
    ours, ours_cpu = best_per_call_with_cpu(
        lambda: gstarve.System.rotation((6, 2), 0.5).fixed_point(), 20000, a.repeat
    )
    peer = json.loads(
        subprocess.run(
            [a.scipy, str(ROOT / "benches/peers/scipy_baseline.py"), "fixed-point",
             "--strengths", "6,2", "--coupling", "0.5", "--calls", "2000", "--repeat", str(a.repeat)],
            capture_output=True, text=True, check=True,
        ).stdout
    )
    gap = float(np.max(np.abs(np.array(peer["z"]) - fp.z)))
    print(f"fixed point: gstarve {ours * 1e6:.2f} µs/call ({ours_cpu * 1e6:.2f} µs CPU; residual {fp.residual:.1e}, "
          f"{fp.iterations} Newton iterations), fsolve {peer['us_per_call']:.1f} µs/call, "
          f"speed-up {peer['us_per_call'] / (ours * 1e6):.0f}×, max |Δz| = {gap:.1e}")

    # 2. 256² phase diagram: Python call against the command line.
    binary = ROOT / "target/release/gstarve"
    py_times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        d = gstarve.phase_diagram("elasticity", grid=a.grid)
        py_times.append(time.perf_counter() - t0)
    cli_times, cli_compute = [], []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            done = subprocess.run(
                [str(binary), "phase-diagram", "--grid", str(a.grid), "--out", out],
                capture_output=True, text=True, check=True,
            )
            cli_times.append(time.perf_counter() - t0)
            m = re.search(r"points in ([0-9.]+) s", done.stderr)
            cli_compute.append(float(m.group(1)))
    ours, whole, compute = min(py_times), min(cli_times), min(cli_compute)
    print(f"phase diagram {a.grid}²: Python {ours * 1e3:.1f} ms (its computation {d.wall_s * 1e3:.1f} ms); "
          f"CLI {whole * 1e3:.1f} ms for the command (computation {compute * 1e3:.1f} ms); "
          f"Python/CLI command {ours / whole:.2f}, Python/CLI computation {ours / compute:.2f}")


if __name__ == "__main__":
    main()
