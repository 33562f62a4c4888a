#!/usr/bin/env python3
"""JAX peer of gstarve's tau90 phase diagram (issue #17; docs/benchmarks.md, "Small flows against
JAX", item 2): jax.vmap(odeint) over the coarse pass of the same flows.

Usage: jax_tau90.py DIAGRAM.csv [--rows K] [--repeat 3]

DIAGRAM.csv is what `gstarve phase-diagram --measure tau90 --out DIR` writes (x = r,
y = delta, z1, z2 = the steady state; lambda = 0.01, s2 = 2 unless --lambda, --s2). For each
grid point of the first K rows (all rows if K = 0) this script builds the same flow as
gstarve's first coarse window: the rotation system s = (r s2, s2), U = [[c, -d], [d, c]],
z(0) = 0, over
[0, T] with T = 8 / rate_min (rate_min = lambda + the smallest eigenvalue of S U^T D U S,
D = diag(sigma'(U z*)), docs/theory.md section 5.6) on 513 output points at rtol 1e-9,
atol 1e-11 (gstarve's learning-time defaults), and integrates all of them with
jax.vmap(jax.experimental.ode.odeint) (jit-compiled, float64; compile excluded by one warm-up
call). gstarve also runs the fine pass and later windows, so this is a lower bound on what
JAX would need for the diagram. Prints one JSON object: points, the median seconds of
`repeat` timed calls, and the per-point time.
"""
import argparse
import json
import time

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental.ode import odeint  # noqa: E402


def read(path, lam, s2):
    with open(path) as f:
        rows = [line.rstrip("\n").split(",") for line in f if not line.startswith("#")]
    header, body = rows[0], rows[1:]
    col = {name: i for i, name in enumerate(header)}
    data = np.array([[float(r[col[k]]) for k in ("r", "delta", "z1", "z2")] for r in body
                     if r[col["mask"]] == "none"])
    return data, lam, s2


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("csv")
    p.add_argument("--rows", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--lambda", dest="lam", type=float, default=0.01)
    p.add_argument("--s2", type=float, default=2.0)
    a = p.parse_args()
    data, lam, s2 = read(a.csv, a.lam, a.s2)
    if a.rows:
        couplings = np.unique(data[:, 1])[: a.rows]
        data = data[np.isin(data[:, 1], couplings)]
    r, d, z1, z2 = data.T
    c = np.sqrt(1 - d * d)
    u = np.stack([np.stack([c, -d], -1), np.stack([d, c], -1)], -2)  # (B, 2, 2)
    s = np.stack([r * s2, np.full_like(r, s2)], -1)  # (B, 2)
    zstar = np.stack([z1, z2], -1)
    m = np.einsum("bij,bj->bi", u, zstar)
    dd = 1 / (2 + 2 * np.cosh(m))  # sigma'(m)
    h = np.einsum("bi,bki,bk,bkj,bj->bij", s, u, dd, u, s)
    rate = lam + np.linalg.eigvalsh(h)[:, 0]
    t_end = 8.0 / rate
    grid = np.linspace(0.0, 1.0, 513)

    def flow(uj, s2j, tj):
        def rhs(z, _t):
            return tj * (s2j * (uj.T @ jax.nn.sigmoid(-(uj @ z))) - lam * z)

        # The window [0, T] as [0, 1] in rescaled time (one shared grid for vmap).
        return odeint(rhs, jnp.zeros(2), jnp.asarray(grid), rtol=1e-9, atol=1e-11,
                      mxstep=1_000_000)

    solve = jax.jit(jax.vmap(flow))
    args = (jnp.asarray(u), jnp.asarray(s * s), jnp.asarray(t_end))
    solve(*args).block_until_ready()  # compile
    times = []
    for _ in range(a.repeat):
        start = time.perf_counter()
        solve(*args).block_until_ready()
        times.append(time.perf_counter() - start)
    times.sort()
    med = times[len(times) // 2]
    print(json.dumps({"points": int(len(r)), "jax_version": jax.__version__,
                      "jax_median_s": med, "jax_times_s": times,
                      "per_point_s": med / len(r)}))


if __name__ == "__main__":
    main()
