#!/usr/bin/env python3
"""SciPy/NumPy baseline for gstarve: what a researcher would write instead.

Solves the same problems as gstarve, on the same system files, so the two can be timed side by
side in one run on one machine (quote ratios, not absolute times).

System file: JSON {"strengths": [s_1..s_n], "u": [[row of example 1], ...]}.
Dynamics (docs/theory.md §3.2, L2 regulariser): dz/dtau = S^2 U^T sigma(-U z) - lambda z, z(0) = 0.

  flow   python3 scipy_baseline.py flow --system sys.json [--lambda 0.01] [--t-end 1000]
         [--points 1001] [--rtol 1e-8] [--atol 1e-10] [--methods LSODA,DOP853,RK45] [--csv out.csv]
         solve_ivp with each method (LSODA/BDF/Radau get the analytic Jacobian); prints wall
         seconds (best of --repeat), RHS evaluations and z(T); --csv writes the first method's
         trajectory on the output grid (columns tau,z1..zn).
  gd     python3 scipy_baseline.py gd --system sys.json [--lambda 0.01] [--eta 1e-3] [--steps 10000]
         NumPy gradient descent in z space; prints wall seconds, microseconds per step, z_final.
  phase  python3 scipy_baseline.py phase [--grid 64] [--lambda 0.01] [--s2 2]
         Starvation ratio rho = z2*(s1,s2,delta)/z2*(s2,s2,delta) for the 2-feature rotation
         family on a grid of r = s1/s2 in [1, 5] and delta in [0.05, 0.95] (docs/theory.md §7.2),
         steady states by scipy.optimize.fsolve; prints wall seconds and a few grid values.
  fixed-point  python3 scipy_baseline.py fixed-point [--strengths 6,2] [--coupling 0.5]
         [--lambda 0.01] [--calls 2000]
         The L2 steady state of the 2-feature rotation family, z = (S^2/lambda) U^T sigma(-U z),
         by scipy.optimize.fsolve from z = 0 (xtol 1e-12, as `phase`), building U per call as
         System.rotation does; prints microseconds per call (best of --repeat) and z.

Needs numpy and scipy (python3 -m venv v && v/bin/pip install numpy scipy)."""
import argparse, json, sys, time
import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import fsolve
from scipy.special import expit as sigmoid


def load(path):
    d = json.load(open(path))
    return np.asarray(d["strengths"], float), np.asarray(d["u"], float)


def l2_rhs(s, u, lam):
    s2 = s * s
    def f(t, z):
        return s2 * (u.T @ sigmoid(-(u @ z))) - lam * z
    def jac(t, z):
        m = u @ z
        d = sigmoid(m) * sigmoid(-m)
        return -(s2[:, None] * (u.T @ (d[:, None] * u))) - lam * np.eye(len(z))
    return f, jac


def best(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter(); out = fn(); times.append(time.perf_counter() - t0)
    return min(times), out


def cmd_flow(a):
    s, u = load(a.system)
    f, jac = l2_rhs(s, u, a.lam)
    grid = np.linspace(0.0, a.t_end, a.points)
    first = None
    for method in a.methods.split(","):
        kw = {"jac": jac} if method in ("LSODA", "BDF", "Radau") else {}
        run = lambda: solve_ivp(f, (0.0, a.t_end), np.zeros(len(s)), method=method, t_eval=grid,
                                rtol=a.rtol, atol=a.atol, **kw)
        wall, sol = best(run, a.repeat)
        first = first or sol
        print(json.dumps({"method": method, "n": len(s), "wall_s": wall, "nfev": int(sol.nfev),
                          "njev": int(sol.njev), "nlu": int(sol.nlu), "z_final": sol.y[:, -1].tolist()}))
    if a.csv:
        with open(a.csv, "w") as fh:
            fh.write("tau," + ",".join(f"z{j+1}" for j in range(len(s))) + "\n")
            for k, t in enumerate(first.t):
                fh.write(f"{t!r}," + ",".join(repr(v) for v in first.y[:, k]) + "\n")


def cmd_gd(a):
    s, u = load(a.system)
    f, _ = l2_rhs(s, u, a.lam)
    def run():
        z = np.zeros(len(s))
        for _ in range(a.steps):
            z = z + a.eta * f(0.0, z)
        return z
    wall, z = best(run, a.repeat)
    print(json.dumps({"method": "gd", "n": len(s), "wall_s": wall, "us_per_step": 1e6 * wall / a.steps,
                      "z_final": z.tolist()}))


def cmd_phase(a):
    rs = np.linspace(1.0, 5.0, a.grid)
    ds = np.linspace(0.05, 0.95, a.grid)
    def zstar(s1, s2, d):
        c = np.sqrt(1 - d * d); u = np.array([[c, -d], [d, c]]); s2v = np.array([s1 * s1, s2 * s2])
        g = lambda z: z - (s2v / a.lam) * (u.T @ sigmoid(-(u @ z)))
        return fsolve(g, np.array([5.0, 2.0]), xtol=1e-12)
    def run():
        rho = np.empty((a.grid, a.grid))
        for j, d in enumerate(ds):
            base = zstar(a.s2, a.s2, d)[1]
            for i, r in enumerate(rs):
                rho[j, i] = zstar(r * a.s2, a.s2, d)[1] / base
        return rho
    wall, rho = best(run, a.repeat)
    print(json.dumps({"method": "phase-fsolve", "grid": a.grid, "wall_s": wall,
                      "rho_corners": [rho[0, 0], rho[0, -1], rho[-1, 0], rho[-1, -1]],
                      "rho_center": rho[a.grid // 2, a.grid // 2]}))


def cmd_fixed_point(a):
    s1, s2 = (float(v) for v in a.strengths.split(","))
    def solve():
        c = np.sqrt(1 - a.coupling ** 2)
        u = np.array([[c, -a.coupling], [a.coupling, c]])
        s2v = np.array([s1 * s1, s2 * s2])
        g = lambda z: z - (s2v / a.lam) * (u.T @ sigmoid(-(u @ z)))
        return fsolve(g, np.zeros(2), xtol=1e-12)
    def run():
        for _ in range(a.calls):
            z = solve()
        return z
    wall, z = best(run, a.repeat)
    print(json.dumps({"method": "fixed-point-fsolve", "calls": a.calls,
                      "us_per_call": wall / a.calls * 1e6, "z": list(z)}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("flow", "gd", "phase", "fixed-point"):
        q = sub.add_parser(name)
        q.add_argument("--lambda", dest="lam", type=float, default=0.01)
        q.add_argument("--repeat", type=int, default=3)
        if name not in ("phase", "fixed-point"):
            q.add_argument("--system", required=True)
    fl = sub.choices["flow"]
    fl.add_argument("--t-end", type=float, default=1000.0)
    fl.add_argument("--points", type=int, default=1001)
    fl.add_argument("--rtol", type=float, default=1e-8)
    fl.add_argument("--atol", type=float, default=1e-10)
    fl.add_argument("--methods", default="LSODA,DOP853,RK45")
    fl.add_argument("--csv")
    g = sub.choices["gd"]
    g.add_argument("--eta", type=float, default=1e-3)
    g.add_argument("--steps", type=int, default=10000)
    ph = sub.choices["phase"]
    ph.add_argument("--grid", type=int, default=64)
    ph.add_argument("--s2", type=float, default=2.0)
    fp = sub.choices["fixed-point"]
    fp.add_argument("--strengths", default="6,2")
    fp.add_argument("--coupling", type=float, default=0.5)
    fp.add_argument("--calls", type=int, default=2000)
    a = p.parse_args()
    {"flow": cmd_flow, "gd": cmd_gd, "phase": cmd_phase, "fixed-point": cmd_fixed_point}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
