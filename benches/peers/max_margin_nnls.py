#!/usr/bin/env python3
"""SciPy peer of `gstarve max-margin` (docs/benchmarks.md, "Max-margin limit"): the dual of the
hard-margin problem of docs/theory.md section 11.1,

    alpha = argmax_{alpha >= 0} 1^T alpha - 1/2 alpha^T K alpha,   K = U S^2 U^T,

as the non-negative least-squares problem min_{alpha >= 0} ||A alpha - b||^2 with A = S U^T,
b = S^-1 U^T 1 (A^T A = K, A^T b = 1), solved by scipy.optimize.nnls; then z_hat = S^2 U^T alpha.

Usage: python3 benches/peers/max_margin_nnls.py DIR [--repeat 3]
DIR holds u.npy (n x n) and s.npy (n x 1). Prints one JSON object: the best wall time of the
solve (A, b and z_hat included), the number of support vectors and z_hat.
"""
import argparse, json, os, time

import numpy as np
from scipy.optimize import nnls


def solve(u, s):
    a = s[:, None] * u.T
    b = (u.T @ np.ones(u.shape[0])) / s
    alpha, _ = nnls(a, b, maxiter=50 * u.shape[0])
    return alpha, (s * s) * (u.T @ alpha)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    u = np.load(os.path.join(args.dir, "u.npy"))
    s = np.load(os.path.join(args.dir, "s.npy")).ravel()
    walls = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        alpha, z = solve(u, s)
        walls.append(time.perf_counter() - t)
    print(json.dumps({
        "wall_s": min(walls),
        "walls": walls,
        "supports": int((alpha > 0).sum()),
        "z_hat": z.tolist(),
        "min_margin": float((u @ z).min()),
    }))


if __name__ == "__main__":
    main()
