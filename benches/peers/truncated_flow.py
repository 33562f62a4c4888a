#!/usr/bin/env python3
"""NumPy/SciPy peer of gstarve on truncated systems at large n (docs/benchmarks.md, "Truncated
systems at large n"): the same n x r system, read from the .npy files that `cargo bench --bench
truncated` writes, and the code a user would write with SciPy.

Usage: python3 benches/peers/truncated_flow.py DIR [--repeat 3]

DIR holds flow_u.npy (n x r), flow_s.npy (r x 1) for the flow and fp_u.npy, fp_s.npy for the fixed
point. Prints one JSON object on stdout.

- Flow: dz/dtau = S^2 U^T sigma(-Uz) - lambda z (docs/theory.md section 3.2), lambda = 0.01,
  z(0) = 0, tau in [0, 1000], 1001 output points, rtol 1e-8, atol 1e-10, with solve_ivp and the
  analytic r x r Jacobian -S^2 U^T diag(sigma'(m)) U - lambda I, for BDF, LSODA and Radau; the
  best is the reference for the ratio.
- Fixed point and sensitivity (docs/theory.md section 5.3): damped Newton on the objective
  L(z) = sum softplus(-Uz) + lambda/2 sum z^2/s^2 with a Cholesky solve of the Hessian
  U^T D U + lambda S^-2, stopped at max_j |grad_j / W_jj| <= 1e-12 max(1, |z|_inf) (gstarve's
  rule); then J = I + S^2 U^T D U / lambda and the r x r derivatives J^-1 diag(U^T sigma(-m))/lambda.
"""
import argparse, json, os, time

import numpy as np
from scipy.integrate import solve_ivp
from scipy.linalg import cho_factor, cho_solve, lu_factor, lu_solve
from scipy.special import expit

LAMBDA = 0.01


def flow(u, s2, method):
    r = u.shape[1]
    eye = np.eye(r)

    def rhs(_t, z):
        return s2 * (u.T @ expit(-(u @ z))) - LAMBDA * z

    def jac(_t, z):
        p = expit(-(u @ z))
        d = p * (1.0 - p)
        return -(s2[:, None] * (u.T @ (d[:, None] * u))) - LAMBDA * eye

    t_eval = np.linspace(0.0, 1000.0, 1001)
    start = time.perf_counter()
    sol = solve_ivp(rhs, (0.0, 1000.0), np.zeros(r), method=method, jac=jac, t_eval=t_eval,
                    rtol=1e-8, atol=1e-10)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "ok": bool(sol.success), "nfev": int(sol.nfev), "njev": int(sol.njev),
            "z_end": sol.y[:, -1].tolist()}


def fixed_point_and_sensitivity(u, s2):
    start = time.perf_counter()
    r = u.shape[1]
    w = LAMBDA / s2
    z = np.zeros(r)

    def objective(z):
        return np.logaddexp(0.0, -(u @ z)).sum() + 0.5 * (w * z * z).sum()

    value = objective(z)
    for it in range(201):
        m = u @ z
        p = expit(-m)
        grad = w * z - u.T @ p
        if np.max(np.abs(grad / w)) <= 1e-12 * max(1.0, np.max(np.abs(z))):
            break
        d = p * (1.0 - p)
        h = u.T @ (d[:, None] * u)
        h[np.diag_indices(r)] += w
        step = -cho_solve(cho_factor(h, lower=True), grad)
        slope = grad @ step
        t = 1.0
        for _ in range(60):
            trial = z + t * step
            tv = objective(trial)
            if tv <= value + 1e-4 * t * slope or -slope < 1e3 * np.finfo(float).eps * abs(value):
                break
            t *= 0.5
        z, value = trial, tv
    m = u @ z
    p = expit(-m)
    d = p * (1.0 - p)
    jac = np.eye(r) + (s2[:, None] * (u.T @ (d[:, None] * u))) / LAMBDA
    drive = (u.T @ p) / LAMBDA
    sens = lu_solve(lu_factor(jac), np.diag(drive))
    wall = time.perf_counter() - start
    return {"wall_s": wall, "iterations": it, "z": z.tolist(), "sensitivity": sens.tolist()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--methods", default="BDF,LSODA,Radau")
    a = ap.parse_args()
    out = {"flow": {}, "threads": os.environ.get("OPENBLAS_NUM_THREADS", "default")}
    u = np.load(os.path.join(a.dir, "flow_u.npy"))
    s2 = np.load(os.path.join(a.dir, "flow_s.npy")).ravel() ** 2
    for method in a.methods.split(","):
        runs = [flow(u, s2, method) for _ in range(a.repeat)]
        best = min(runs, key=lambda x: x["wall_s"])
        best["walls"] = [x["wall_s"] for x in runs]
        out["flow"][method] = best
    u = np.load(os.path.join(a.dir, "fp_u.npy"))
    s2 = np.load(os.path.join(a.dir, "fp_s.npy")).ravel() ** 2
    runs = [fixed_point_and_sensitivity(u, s2) for _ in range(a.repeat)]
    best = min(runs, key=lambda x: x["wall_s"])
    best["walls"] = [x["wall_s"] for x in runs]
    out["fixed_point"] = best
    print(json.dumps(out))


if __name__ == "__main__":
    main()
