#!/usr/bin/env python3
"""The network experiments of issue #16 against PyTorch, both sides in one run.

For each experiment (moons, remedies, ood) this runs `gstarve reproduce EXPERIMENT` and its
PyTorch peer in benches/peers/ (torch_moons_paper.py, torch_remedies.py, torch_ood.py) one
after the other, `--repeat` times alternating (gstarve, torch, gstarve, torch, ...), and prints
for each the wall time and the CPU time (user + system, the children's rusage) and the ratios
torch / gstarve, with the load average before and after. The same experiment on both sides:
the same settings, seeds/restarts, epochs, grid and curvature numbers (see each peer's
docstring); `--scale` runs a reduced experiment on both sides alike (fewer seeds/restarts).

    python3 benches/compare_torch_networks.py --python /work/venv-peers/bin/python \\
        [--experiments moons,remedies,ood] [--seeds 10] [--restarts 10] [--repeat 1] \\
        [--gstarve target/release/gstarve] [--threads 2]

PyTorch runs with 2 intra-op threads and OMP_WAIT_POLICY=PASSIVE (no spinning on a shared
machine); gstarve with its default rayon pool (all cores). Output folders go to a temporary
directory. Needs torch, numpy, scikit-learn on the peer's Python.
"""
import argparse
import os
import resource
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(cmd, env):
    """(wall, cpu) of one child process; its output is kept for the log."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit("failed (%d): %s\n%s" % (out.returncode, " ".join(cmd), out.stderr[-2000:]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout.strip().splitlines()[-1:]


def load():
    return "%.1f" % os.getloadavg()[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--python", default="python3")
    p.add_argument("--gstarve", default=os.path.join(HERE, "..", "target", "release", "gstarve"))
    p.add_argument("--experiments", default="moons,remedies,ood")
    p.add_argument("--seeds", type=int, default=10, help="moons and remedies seeds")
    p.add_argument("--restarts", type=int, default=10, help="ood restarts")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    tmp = tempfile.mkdtemp(prefix="gstarve-vs-torch-")
    peers = os.path.join(HERE, "peers")
    sides = {
        "moons": (
            [a.gstarve, "reproduce", "moons", "--seeds", str(a.seeds)],
            [a.python, os.path.join(peers, "torch_moons_paper.py"), "--seeds", str(a.seeds),
             "--threads", str(a.threads)],
        ),
        "remedies": (
            [a.gstarve, "reproduce", "remedies", "--seeds", str(a.seeds)],
            [a.python, os.path.join(peers, "torch_remedies.py"), "--seeds", str(a.seeds),
             "--threads", str(a.threads)],
        ),
        "ood": (
            [a.gstarve, "reproduce", "ood", "--restarts", str(a.restarts)],
            [a.python, os.path.join(peers, "torch_ood.py"), str(a.restarts), str(a.threads)],
        ),
    }
    rows = []
    for name in a.experiments.split(","):
        ours, theirs = sides[name]
        for k in range(a.repeat):
            out = os.path.join(tmp, "%s-%d" % (name, k))
            l0 = load()
            gw, gc, glast = timed(ours + ["--out", out], env)
            tw, tc, tlast = timed(theirs, env)
            rows.append((name, gw, gc, tw, tc, l0, load()))
            print("%s #%d: gstarve %.1f s wall %.1f s CPU | torch %.1f s wall %.1f s CPU | "
                  "ratio wall %.2f CPU %.2f | load %s -> %s" % (
                      name, k + 1, gw, gc, tw, tc, tw / gw, tc / gc, l0, load()), flush=True)
            print("   gstarve: %s\n   torch:   %s" % (" ".join(glast), " ".join(tlast)), flush=True)
    print("\n| experiment | gstarve wall | gstarve CPU | PyTorch wall | PyTorch CPU | ratio (wall) "
          "| ratio (CPU) | load before → after |")
    print("|---|---|---|---|---|---|---|---|")
    for name, gw, gc, tw, tc, l0, l1 in rows:
        print("| %s | %.1f s | %.1f s | %.1f s | %.1f s | %.2f× | %.2f× | %s → %s |" % (
            name, gw, gc, tw, tc, tw / gw, tc / gc, l0, l1))


if __name__ == "__main__":
    main()
