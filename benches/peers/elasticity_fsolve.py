#!/usr/bin/env python3
"""SciPy peer of `gstarve phase-diagram --measure elasticity` (issue #17, item 2;
docs/benchmarks.md, "Batched steady states").

Usage: elasticity_fsolve.py [--grid 1024] [--stride 32] [--lambda 0.01] [--s2 2]

The rotation family's defaults (r in [1, 5] on x, delta in [0.05, 0.95] on y, lambda = 0.01,
s2 = 2): per grid point, z* by scipy.optimize.fsolve on z - (S^2/lambda) U^T sigma(-Uz) = 0 with
its analytic Jacobian J = I + S^2 U^T D U / lambda (xtol 1e-12, from the left neighbour's z* in
the sample, z = 0 at a row's start), then E21 = s1^2 (J^-1 e_1)_2 (U^T sigma(-m*))_1 / (lambda z2*)
by one 2x2 solve. Times a sample of the grid (every `stride`-th row and column, the grid's own
values) and scales the time per point to the whole grid; prints JSON.
"""
import argparse
import json
import time

import numpy as np
from scipy.optimize import fsolve
from scipy.special import expit


def elasticity(s1, s2, d, lam, start):
    c = np.sqrt(1.0 - d * d)
    u = np.array([[c, -d], [d, c]])
    sq = np.array([s1 * s1, s2 * s2])

    def g(z):
        return z - (sq / lam) * (u.T @ expit(-(u @ z)))

    def jac(z):
        p = expit(-(u @ z))
        return np.eye(2) + (sq / lam)[:, None] * (u.T @ ((p * (1.0 - p))[:, None] * u))

    z = fsolve(g, start, fprime=jac, xtol=1e-12)
    drive = (u.T @ expit(-(u @ z))) / lam
    col = np.linalg.solve(jac(z), np.array([drive[0], 0.0]))
    return s1 * s1 * col[1] / z[1], z


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--grid", type=int, default=1024)
    p.add_argument("--stride", type=int, default=32)
    p.add_argument("--lambda", dest="lam", type=float, default=0.01)
    p.add_argument("--s2", type=float, default=2.0)
    a = p.parse_args()
    rs = np.linspace(1.0, 5.0, a.grid)[:: a.stride]
    ds = np.linspace(0.05, 0.95, a.grid)[:: a.stride]
    start = time.perf_counter()
    values = np.empty((len(ds), len(rs)))
    for j, d in enumerate(ds):
        z = np.zeros(2)
        for i, r in enumerate(rs):
            values[j, i], z = elasticity(r * a.s2, a.s2, d, a.lam, z)
    wall = time.perf_counter() - start
    points = values.size
    print(json.dumps({"method": "elasticity-fsolve", "grid": a.grid, "sampled_points": points,
                      "wall_s": wall, "us_per_point": 1e6 * wall / points,
                      "scaled_wall_s": wall / points * a.grid * a.grid,
                      "e21_first_row": values[0, :4].tolist()}))


if __name__ == "__main__":
    main()
