#!/usr/bin/env python3
"""gstarve's small flows against JAX odeint, both sides in one run on the same systems (issue #17;
docs/benchmarks.md, "Small flows against JAX").

Usage: python3 benches/compare_jax.py [--python /work/venv-peers/bin/python] [--sizes 2,10]
           [--runs 3] [--repeat 2000] [--tau90 GRID [--jax-rows K]] [--work-precision RTOLS]

Needs `cargo build --release -p gstarve-core --example small_flow` and a Python with jax, numpy and scipy for
benches/peers/jax_small_flow.py. For each n and each run: the example integrates the flow of a
Haar system with geometric strengths 10 .. 0.1 (s = (10, 0.1) at n = 2), lambda = 0.01,
tau <= 1000, 1001 points, rtol 1e-8, atol 1e-10, and writes the system and its responses; the
peer times JAX on the same system and measures both errors against a DOP853 reference at
rtol 1e-13. Prints a Markdown table: per-flow times (median of 7 batches), the ratio in each run,
the errors, and the CPU time per flow of each side with its ratio (on a loaded machine the wall
clock of both sides is inflated by other processes, unevenly; CPU time much less).

With --tau90 GRID (sizes then default to none): `gstarve phase-diagram --measure tau90 --grid
GRID` (the whole command, wall-clock) against benches/peers/jax_tau90.py, jax.vmap(odeint) over
the coarse pass of the same flows on the first K grid rows (--jax-rows, default 16; 0 = all),
scaled to the whole grid, in each run.

With --work-precision RTOLS (comma-separated, e.g. 1e-6,1e-7,1e-8,1e-9,1e-10; atol = rtol / 100 on
both sides): a work-precision comparison per n, the way explicit integrators are compared: both
sides at every rtol (time per flow and error against the DOP853 reference), then, for each JAX
point, gstarve's time at JAX's error, interpolated log-linearly between the two gstarve points
that bracket it, and the ratio at equal accuracy. The two Dormand-Prince implementations differ
in their error norms and controllers, so at equal rtol they reach different errors (gstarve's is
smaller at n = 2); equal rtol is not equal accuracy.
"""
import math
import argparse
import json
import os
import resource
import subprocess
import tempfile

import time

HERE = os.path.dirname(os.path.abspath(__file__))
GSTARVE = os.path.join(HERE, "..", "target", "release", "gstarve")
TAU90_PEER = os.path.join(HERE, "peers", "jax_tau90.py")
EXAMPLE = os.path.join(HERE, "..", "target", "release", "examples", "small_flow")
PEER = os.path.join(HERE, "peers", "jax_small_flow.py")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--python", default="/work/venv-peers/bin/python")
    p.add_argument("--sizes", default="2,10")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--repeat", type=int, default=2000)
    p.add_argument("--jax-repeat", type=int, default=210)
    p.add_argument("--example", default=EXAMPLE,
                   help="the small_flow binary (e.g. one built from an older commit)")
    p.add_argument("--tau90", type=int, default=0, help="grid of the tau90 comparison")
    p.add_argument("--jax-rows", type=int, default=16)
    p.add_argument("--gstarve", default=GSTARVE)
    p.add_argument("--work-precision", default="",
                   help="comma-separated rtols of a work-precision comparison (atol = rtol/100)")
    a = p.parse_args()
    if a.tau90:
        tau90(a)
        return
    if a.work_precision:
        work_precision(a)
        return
    print("| n | run | gstarve µs/flow | evaluations | JAX µs/flow | JAX / gstarve "
          "| gstarve error | JAX error | gstarve CPU µs/flow | JAX CPU µs/flow | CPU ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(x) for x in a.sizes.split(",")]:
            for run in range(a.runs):
                path = os.path.join(tmp, f"flow_{n}.json")
                # CPU time of the example (user + system): what a loaded machine does not
                # inflate the way it inflates the wall clock. It includes the set-up and the
                # JSON, a few flows' worth; divided by every flow the example integrates.
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run([a.example, str(a.repeat), str(n), "1", path], check=True,
                               capture_output=True)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                flows = 7 * max(1, -(-a.repeat // 7)) + 1
                g_cpu = (after.ru_utime + after.ru_stime - before.ru_utime
                         - before.ru_stime) / flows
                with open(path) as f:
                    ours = json.load(f)
                peer = json.loads(subprocess.run(
                    [a.python, PEER, path, "--repeat", str(a.jax_repeat)], check=True,
                    capture_output=True, text=True).stdout)
                g, j = ours["per_flow_s"], peer["jax_per_flow_s"]
                j_cpu = peer["jax_cpu_per_flow_s"]
                print(f"| {n} | {run + 1} | {g * 1e6:.1f} | {ours['rhs_evals']} | {j * 1e6:.1f} "
                      f"| {j / g:.1f}× | {peer['gstarve_error']:.1e} | {peer['jax_error']:.1e} "
                      f"| {g_cpu * 1e6:.1f} | {j_cpu * 1e6:.1f} | {j_cpu / g_cpu:.1f}× |",
                      flush=True)


def one_pair(a, tmp, n, rtol):
    """gstarve's example and JAX at one rtol (atol = rtol / 100): times and errors."""
    path = os.path.join(tmp, f"flow_{n}_{rtol:g}.json")
    subprocess.run([a.example, str(a.repeat), str(n), "1", path, "auto", repr(rtol)],
                   check=True, capture_output=True)
    with open(path) as f:
        ours = json.load(f)
    if abs(ours.get("rtol", 1e-8) - rtol) > 1e-3 * rtol:
        raise SystemExit(f"{a.example} ignored rtol {rtol:g} (an example built before it took one)")
    peer = json.loads(subprocess.run(
        [a.python, PEER, path, "--repeat", str(a.jax_repeat), "--rtol", repr(rtol),
         "--atol", repr(rtol * 1e-2)], check=True, capture_output=True, text=True).stdout)
    return (ours["per_flow_s"], peer["gstarve_error"], ours["rhs_evals"],
            peer["jax_per_flow_s"], peer["jax_error"])


def at_error(curve, error):
    """Time at `error` on a (error, time) curve, log-linear between the bracketing points."""
    pts = sorted(curve)
    for (e0, t0), (e1, t1) in zip(pts, pts[1:]):
        if e0 <= error <= e1 and e0 < e1:
            w = (math.log(error) - math.log(e0)) / (math.log(e1) - math.log(e0))
            return math.exp((1 - w) * math.log(t0) + w * math.log(t1))
    return None


def work_precision(a):
    rtols = [float(x) for x in a.work_precision.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(x) for x in a.sizes.split(",")]:
            print(f"\nn = {n}\n")
            print("| rtol | gstarve µs/flow | gstarve error | evaluations | JAX µs/flow "
                  "| JAX error | ratio at equal rtol |")
            print("|---|---|---|---|---|---|---|")
            ours, theirs = [], []
            for rtol in rtols:
                g, ge, evals, j, je = one_pair(a, tmp, n, rtol)
                ours.append((ge, g))
                theirs.append((rtol, je, j))
                print(f"| {rtol:.0e} | {g * 1e6:.1f} | {ge:.1e} | {evals} | {j * 1e6:.1f} "
                      f"| {je:.1e} | {j / g:.1f}× |", flush=True)
            print("\n| JAX rtol | JAX error | JAX µs/flow | gstarve µs/flow at that error "
                  "| ratio at equal accuracy |")
            print("|---|---|---|---|---|")
            for rtol, je, j in theirs:
                g = at_error(ours, je)
                if g is None:
                    print(f"| {rtol:.0e} | {je:.1e} | {j * 1e6:.1f} | outside gstarve's range "
                          "| — |")
                else:
                    print(f"| {rtol:.0e} | {je:.1e} | {j * 1e6:.1f} | {g * 1e6:.1f} "
                          f"| {j / g:.1f}× |", flush=True)


def tau90(a):
    print("| grid | run | gstarve s (whole command) | JAX s (rows timed) | JAX s, whole grid "
          "| JAX / gstarve |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(a.runs):
            start = time.perf_counter()
            subprocess.run([a.gstarve, "phase-diagram", "--measure", "tau90", "--grid",
                            str(a.tau90), "--out", tmp, "--format", "png", "--force"],
                           check=True, capture_output=True)
            ours = time.perf_counter() - start
            csv = os.path.join(tmp, "phase-diagram-tau90.csv")
            peer = json.loads(subprocess.run(
                [a.python, TAU90_PEER, csv, "--rows", str(a.jax_rows), "--repeat", "1"],
                check=True, capture_output=True, text=True).stdout)
            with open(csv) as f:
                flows = sum(1 for line in f if ",none," in line)  # unmasked points: τ₉₀ flows
            whole = peer["per_point_s"] * flows
            print(f"| {a.tau90}² | {run + 1} | {ours:.2f} | {peer['jax_median_s']:.2f} "
                  f"({peer['points']} points) | {whole:.1f} | {whole / ours:.1f}× |", flush=True)


if __name__ == "__main__":
    main()
