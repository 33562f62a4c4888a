#!/usr/bin/env python3
"""gstarve's small flows against JAX odeint, both sides in one run on the same systems (issue #17;
docs/benchmarks.md, "Small flows against JAX").

Usage: python3 benches/compare_jax.py [--python /work/venv-peers/bin/python] [--sizes 2,10]
           [--runs 3] [--repeat 2000]

Needs `cargo build --release -p gstarve-core --example small_flow` and a Python with jax, numpy and scipy for
benches/peers/jax_small_flow.py. For each n and each run: the example integrates the flow of a
Haar system with geometric strengths 10 .. 0.1 (s = (10, 0.1) at n = 2), lambda = 0.01,
tau <= 1000, 1001 points, rtol 1e-8, atol 1e-10, and writes the system and its responses; the
peer times JAX on the same system and measures both errors against a DOP853 reference at
rtol 1e-13. Prints a Markdown table: per-flow times (median of 7 batches), the ratio in each run,
the errors.
"""
import argparse
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
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
    a = p.parse_args()
    print("| n | run | gstarve µs/flow | evaluations | JAX µs/flow | JAX / gstarve "
          "| gstarve error | JAX error |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(x) for x in a.sizes.split(",")]:
            for run in range(a.runs):
                path = os.path.join(tmp, f"flow_{n}.json")
                subprocess.run([a.example, str(a.repeat), str(n), "1", path], check=True,
                               capture_output=True)
                with open(path) as f:
                    ours = json.load(f)
                peer = json.loads(subprocess.run(
                    [a.python, PEER, path, "--repeat", str(a.jax_repeat)], check=True,
                    capture_output=True, text=True).stdout)
                g, j = ours["per_flow_s"], peer["jax_per_flow_s"]
                print(f"| {n} | {run + 1} | {g * 1e6:.1f} | {ours['rhs_evals']} | {j * 1e6:.1f} "
                      f"| {j / g:.1f}× | {peer['gstarve_error']:.1e} | {peer['jax_error']:.1e} |",
                      flush=True)


if __name__ == "__main__":
    main()
