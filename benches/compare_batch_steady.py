#!/usr/bin/env python3
"""Many small systems at once (issue #17, item 2): gstarve's batched steady states plus
starvation matrices against the vectorised NumPy Newton of peers/numpy_batch_steady.py, in one
run, on 10^5 random 4-feature systems (Haar coupling, strengths 10 -> 0.1, lambda = 0.01).

Usage: compare_batch_steady.py [--python PY] [--systems 100000] [--n 4] [--example PATH]

Build the gstarve side first: `cargo build --release -p gstarve-core --example batch_steady`.
Both sides draw their systems before the clock starts and report the best of 3 solves; gstarve
runs once on all cores (rayon) and once on one (RAYON_NUM_THREADS=1), NumPy on one core; the
CPU times of the one-thread runs are compared too (a proxy that a loaded machine distorts less
than the wall clock).
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--systems", type=int, default=100_000)
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--example", default=os.path.join(HERE, "..", "target", "release", "examples",
                                                     "batch_steady"))
    a = p.parse_args()
    args = [a.example, str(a.systems), str(a.n)]
    rows, cpu = {}, {}
    for label, threads in (("all cores", None), ("one core", "1")):
        env = dict(os.environ)
        if threads:
            env["RAYON_NUM_THREADS"] = threads
        out = subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout
        print(f"gstarve ({label}): {out.strip()}")
        rows[label] = float(re.search(r"batch ([0-9.]+) s", out).group(1))
        cpu[label] = re.search(r"batch CPU ([0-9.na]+) s", out)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([a.python, os.path.join(HERE, "peers", "numpy_batch_steady.py"),
                          "--systems", str(a.systems), "--n", str(a.n)],
                         env=env, check=True, capture_output=True, text=True).stdout
    print(out.strip())
    numpy = float(re.search(r"NumPy ([0-9.]+) s", out).group(1))
    for label, t in rows.items():
        print(f"NumPy / gstarve ({label}): {numpy / t:.1f}x")
    # CPU times, both sides on one thread: the ratio a loaded machine distorts least.
    numpy_cpu = re.search(r"CPU ([0-9.]+) s", out)
    if numpy_cpu and cpu["one core"]:
        g = float(cpu["one core"].group(1))
        print(f"CPU, one thread each: NumPy {numpy_cpu.group(1)} s, gstarve {g:.3f} s, "
              f"{float(numpy_cpu.group(1)) / g:.1f}x")


if __name__ == "__main__":
    main()
