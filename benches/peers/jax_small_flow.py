#!/usr/bin/env python3
"""JAX peer of gstarve's small flows (issue #17; docs/benchmarks.md, "Small flows against JAX").

Usage: jax_small_flow.py SYSTEM.json [--repeat 200] [--rtol 1e-8] [--atol 1e-10]

SYSTEM.json is what `target/release/examples/small_flow REPEATS N SEED OUT.json` writes: the
strengths s, the coupling U (row-major), lambda, the output grid tau and gstarve's responses z
on it. This script integrates the same flow

    dz/dtau = S^2 U^T sigma(-U z) - lambda z,   z(0) = 0   (docs/theory.md section 3.2)

with `jax.experimental.ode.odeint` (Dormand-Prince 5(4), jit-compiled, float64, rtol 1e-8,
atol 1e-10 unless --rtol/--atol; compile time excluded: one warm-up call), and a tight reference with SciPy's DOP853
(rtol 1e-13, atol 1e-15) on the same grid. Prints one JSON object: the median time per JAX flow
over 7 batches (wall clock, and the process's CPU time, all threads), and the largest error max_k,j |z_j(tau_k) - z_ref| of JAX and of gstarve.
"""
import argparse
import json
import time

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental.ode import odeint  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402
from scipy.special import expit  # noqa: E402


def reference(u, s2, lam, tau):
    def rhs(_t, z):
        return s2 * (u.T @ expit(-(u @ z))) - lam * z

    sol = solve_ivp(rhs, (0.0, tau[-1]), np.zeros(u.shape[1]), method="DOP853", t_eval=tau,
                    rtol=1e-13, atol=1e-15)
    assert sol.success, sol.message
    return sol.y.T


def jax_flow(u, s2, lam, tau, repeat, rtol, atol):
    uj, s2j = jnp.asarray(u), jnp.asarray(s2)

    def rhs(z, _t):
        return s2j * (uj.T @ jax.nn.sigmoid(-(uj @ z))) - lam * z

    @jax.jit
    def solve(z0, t):
        return odeint(rhs, z0, t, rtol=rtol, atol=atol, mxstep=100_000)

    z0, t = jnp.zeros(u.shape[1]), jnp.asarray(tau)
    z = solve(z0, t).block_until_ready()  # compile
    batches, per_batch = 7, max(1, repeat // 7)
    times, cpu = [], []
    for _ in range(batches):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(per_batch):
            z = solve(z0, t).block_until_ready()
        times.append((time.perf_counter() - start) / per_batch)
        cpu.append((time.process_time() - start_cpu) / per_batch)
    times.sort()
    cpu.sort()
    return np.asarray(z), times[batches // 2], times, cpu[batches // 2]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("system")
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--rtol", type=float, default=1e-8)
    p.add_argument("--atol", type=float, default=1e-10)
    a = p.parse_args()
    with open(a.system) as f:
        sys_ = json.load(f)
    u = np.asarray(sys_["u"], dtype=float)
    s2 = np.asarray(sys_["s"], dtype=float) ** 2
    lam, tau = float(sys_["lambda"]), np.asarray(sys_["tau"], dtype=float)
    ref = reference(u, s2, lam, tau)
    z_jax, per, times, cpu = jax_flow(u, s2, lam, tau, a.repeat, a.rtol, a.atol)
    z_gs = np.asarray(sys_["z"], dtype=float)
    print(json.dumps({
        "n": int(sys_["n"]),
        "jax_version": jax.__version__,
        "rtol": a.rtol,
        "atol": a.atol,
        "jax_per_flow_s": per,
        "jax_batch_times_s": times,
        "jax_cpu_per_flow_s": cpu,
        "jax_error": float(np.abs(z_jax - ref).max()),
        "gstarve_error": float(np.abs(z_gs - ref).max()),
        "reference_scale": float(np.abs(ref).max()),
    }))


if __name__ == "__main__":
    main()
