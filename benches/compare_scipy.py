#!/usr/bin/env python3
"""Side-by-side timing of gstarve against the SciPy/NumPy baseline, on the same system files.

Usage: python3 benches/compare_scipy.py [--baseline benches/peers/scipy_baseline.py] [--python PY]
           [--sizes 2,10,100,1000] [--repeat 3] [--out docs/benchmarks.md]

Needs a release build (cargo build --release) and a Python with numpy + scipy for the baseline.
Systems: `gstarve system --random N --seed 1 --spectrum 10:0.1`; flow to tau = 1000 with 1001
output points, rtol 1e-8, atol 1e-10, lambda 0.01; GD with eta = 1e-3 (10 000 steps, 1000 at
n = 1000). Trajectory error is the max over the grid of |z - z_ref|, z_ref from gstarve with
rtol 1e-12. Prints a Markdown table (and writes it with --out)."""
import argparse, json, os, subprocess, sys, tempfile

GSTARVE = os.path.join(os.path.dirname(__file__), "..", "target", "release", "gstarve")


def run(cmd, env=None):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout


def gstarve_flow(system, rtol, atol, method="auto", repeat=3):
    best = None
    for _ in range(repeat):
        out = json.loads(run([GSTARVE, "simulate", "--system", system, "--methods", "flow",
                              "--t-end", "1000", "--points", "1001", "--rtol", str(rtol),
                              "--atol", str(atol), "--method", method, "--json"]))
        r = out["runs"][0]
        if best is None or r["stats"]["wall_s"] < best["stats"]["wall_s"]:
            best = r
    return best


def number(text):
    # The baseline writes repr() of NumPy scalars, e.g. "np.float64(0.5)".
    text = text.strip()
    if text.startswith("np.float64(") and text.endswith(")"):
        text = text[len("np.float64("):-1]
    return float(text)


def read_csv(path):
    rows = [l.strip().split(",") for l in open(path) if l.strip()]
    return [[number(x) for x in r[1:]] for r in rows[1:]]


def max_err(a, b):
    return max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", default=os.path.join(os.path.dirname(__file__), "peers", "scipy_baseline.py"))
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--sizes", default="2,10,100,1000")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out")
    a = p.parse_args()
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    tmp = tempfile.mkdtemp()
    flow_rows, gd_rows = [], []
    for n in [int(x) for x in a.sizes.split(",")]:
        system = os.path.join(tmp, f"sys{n}.json")
        run([GSTARVE, "system", "--random", str(n), "--seed", "1", "--spectrum", "10:0.1", "--out", system])
        ref = gstarve_flow(system, 1e-12, 1e-14, repeat=1)
        ours = gstarve_flow(system, 1e-8, 1e-10, repeat=a.repeat)
        our_err = max_err(ours["z"], ref["z"])
        methods = ["LSODA", "DOP853", "RK45"] if n <= 100 else ["RK45"]
        scipy = []
        for m in methods:
            csv = os.path.join(tmp, f"scipy{n}{m}.csv")
            rep = a.repeat if n < 1000 else 1
            line = run([a.python, a.baseline, "flow", "--system", system, "--methods", m,
                        "--repeat", str(rep), "--csv", csv], env=env).strip().splitlines()[-1]
            d = json.loads(line)
            d["err"] = max_err(read_csv(csv), ref["z"])
            scipy.append(d)
        best = min(scipy, key=lambda d: d["wall_s"])
        flow_rows.append((n, ours, our_err, best))
        steps = 1000 if n >= 1000 else 10000
        # Best of --repeat, as the NumPy baseline reports its best of --repeat.
        g = min((json.loads(run([GSTARVE, "simulate", "--system", system, "--methods", "gd", "--eta", "1e-3",
                                 "--steps", str(steps), "--points", "2", "--json"]))["runs"][0]
                 for _ in range(a.repeat)), key=lambda r: r["stats"]["wall_s"])
        npd = json.loads(run([a.python, a.baseline, "gd", "--system", system, "--steps", str(steps),
                              "--repeat", str(a.repeat)], env=env).strip().splitlines()[-1])
        gd_rows.append((n, 1e6 * g["stats"]["wall_s"] / steps, npd["us_per_step"]))
        print(f"n={n} done", file=sys.stderr)
    lines = ["| n | gstarve flow | solver | RHS evals | error vs ref | best SciPy | method | RHS evals | error vs ref | speed-up |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for n, ours, err, best in flow_rows:
        lines.append(f"| {n} | {1e3*ours['stats']['wall_s']:.3f} ms | {ours['stats']['solver'].split(' ')[0]} | "
                     f"{ours['stats']['rhs_evals']} | {err:.1e} | {1e3*best['wall_s']:.2f} ms | {best['method']} | "
                     f"{best['nfev']} | {best['err']:.1e} | {best['wall_s']/ours['stats']['wall_s']:.1f}× |")
    lines += ["", "| n | gstarve GD µs/step | NumPy µs/step | speed-up |", "|---|---|---|---|"]
    for n, ours, numpy in gd_rows:
        lines.append(f"| {n} | {ours:.3f} | {numpy:.2f} | {numpy/ours:.1f}× |")
    table = "\n".join(lines)
    print(table)
    if a.out:
        with open(a.out + ".tmp", "w") as fh:
            fh.write(table + "\n")
        os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
