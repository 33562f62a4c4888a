#!/usr/bin/env python3
"""Vectorised NumPy peer of gstarve's batched steady states (issue #17, item 2;
docs/benchmarks.md, "Small flows against JAX, and many small systems at once").

Usage: numpy_batch_steady.py [--systems 100000] [--n 4]

Draws B random n x n systems the same way gstarve does (Haar coupling from the QR of a Gaussian
matrix with the signs of R's diagonal fixed, geometric strengths 10 -> 0.1), lambda = 0.01, and
solves all of them at once: Newton on grad L = W z - U^T sigma(-Uz) (W = lambda S^-2) with the
batched Hessian U^T D U + W and np.linalg.solve over the batch, every system stepping until all
have max_j |grad_j / W_jj| <= 1e-12 max(1, |z|_inf) (converged systems drop out: each step works
on the systems still iterating only; a halving Armijo line search per system on L while its
decrease is resolvable, trial points evaluated for the systems still searching only);
then J = I + S^2 U^T D U / lambda and dz*/ds_i^2 = J^-1 diag(U^T sigma(-m)) / lambda, and the
elasticities. Prints the wall time of the solve (systems drawn beforehand), best of 3, and its
CPU time.
"""
import argparse
import time

import numpy as np
from scipy.special import expit


def systems(b, n, rng):
    g = rng.standard_normal((b, n, n))
    q, r = np.linalg.qr(g)
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    s = np.geomspace(10.0, 0.1, n)
    return q, np.broadcast_to(s * s, (b, n)).copy()


def objective(u, w, z):
    m = (u @ z[:, :, None])[:, :, 0]
    return np.logaddexp(0.0, -m).sum(axis=1) + 0.5 * (w * z * z).sum(axis=1)


def solve(u, s2, lam):
    b, n, _ = u.shape
    w = lam / s2
    z = np.zeros((b, n))
    # The systems still iterating: each Newton step works on them only (compacted), as a
    # vectorised peer that does not step converged systems would.
    idx = np.arange(b)
    for _ in range(200):
        if idx.size == 0:
            break
        ua, wa, za = u[idx], w[idx], z[idx]
        uta = ua.transpose(0, 2, 1)
        m = (ua @ za[:, :, None])[:, :, 0]
        psi = expit(-m)
        grad = wa * za - (uta @ psi[:, :, None])[:, :, 0]
        res = np.abs(grad / wa).max(axis=1)
        scale = np.maximum(1.0, np.abs(za).max(axis=1))
        keep = res > 1e-12 * scale
        if not keep.all():
            idx, ua, uta, wa, za, m, psi, grad, res, scale = (
                v[keep] for v in (idx, ua, uta, wa, za, m, psi, grad, res, scale))
            if idx.size == 0:
                break
        value = np.logaddexp(0.0, -m).sum(axis=1) + 0.5 * (wa * za * za).sum(axis=1)
        d = psi * (1.0 - psi)
        h = uta @ (d[:, :, None] * ua) + wa[:, :, None] * np.eye(n)
        step = -np.linalg.solve(h, grad[:, :, None])[:, :, 0]
        slope = (grad * step).sum(axis=1)
        resolvable = -slope > 1e3 * 2.2e-16 * np.abs(value)
        t = np.ones(idx.size)
        pending = resolvable.copy()
        for _ in range(60):
            if not pending.any():
                break
            tv = objective(ua[pending], wa[pending], za[pending] + t[pending, None] * step[pending])
            bad = tv > value[pending] + 1e-4 * t[pending] * slope[pending]
            where = np.flatnonzero(pending)
            t[where[bad]] *= 0.5
            pending[where[~bad]] = False
        z[idx] = za + t[:, None] * step
        # A full step that no longer lowers the residual ends that system's iteration.
        idx = idx[resolvable | (res > 1e-9 * scale)]
    m = (u @ z[:, :, None])[:, :, 0]
    ut = u.transpose(0, 2, 1)
    psi = expit(-m)
    d = psi * (1.0 - psi)
    jac = np.eye(n) + s2[:, :, None] * (ut @ (d[:, :, None] * u)) / lam
    drive = (ut @ psi[:, :, None])[:, :, 0] / lam
    der = np.linalg.solve(jac, drive[:, None, :] * np.eye(n))
    ela = s2[:, None, :] * der / z[:, :, None]
    return z, der, ela


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--systems", type=int, default=100_000)
    p.add_argument("--n", type=int, default=4)
    a = p.parse_args()
    u, s2 = systems(a.systems, a.n, np.random.default_rng(1))
    best, best_cpu = np.inf, np.inf
    for _ in range(3):
        start, cpu = time.perf_counter(), time.process_time()
        solve(u, s2, 0.01)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    # The process's CPU time (all its threads): a proxy a loaded machine distorts less.
    print(f"{a.systems} systems, n = {a.n}: NumPy {best:.3f} s "
          f"({best / a.systems * 1e6:.2f} µs/system); CPU {best_cpu:.3f} s")


if __name__ == "__main__":
    main()
