"""The NumPy/SciPy peer of `gstarve ensemble` (docs/theory.md §7.5): the same ensemble computed
the way one would in a notebook — per system, the L2 steady state by scipy.optimize.fsolve on
λz = S²Uᵀσ(−Uz) (with its analytic Jacobian, the peer's best case), then the starvation matrix
E_ji = (z_i/z_j)(J⁻¹)_ji with J = I + λ⁻¹S²UᵀDU, then per cell the fraction of off-diagonal entries
with E_ji < −1e-10 (gstarve's noise floor) and the type-7 quantiles (np.quantile's default).

The systems are drawn with NumPy's generator (Haar by QR with R's signs, near-identity by
scipy.linalg.expm), so they are other draws than gstarve's: the statistics agree within their
standard errors, not to the bit. Timing is of the computation only (after imports), one run.

    python benches/peers/ensemble_fsolve.py --n 8 --systems 200 \
        --decay 1,2,4,8,16,32 --coupling 0,0.05,0.1,0.2,0.4,haar
"""

import argparse
import time

import numpy as np
from scipy.linalg import expm
from scipy.optimize import fsolve
from scipy.special import expit


def coupling(n, kind, rng):
    if kind == "haar":
        q, r = np.linalg.qr(rng.standard_normal((n, n)))
        return q * np.sign(np.diag(r))
    delta = float(kind)
    a = np.zeros((n, n))
    low = np.tril_indices(n, -1)
    a[low] = rng.standard_normal(len(low[0]))
    a -= a.T
    return expm(delta * a)


def starvation(s, u, lam):
    s2 = s * s

    def f(z):
        return lam * z - s2 * (u.T @ expit(-(u @ z)))

    def jac(z):
        m = u @ z
        d = expit(m) * expit(-m)
        return lam * np.eye(len(z)) + s2[:, None] * ((u.T * d) @ u)

    z, info, ok, msg = fsolve(f, np.zeros(len(s)), fprime=jac, xtol=1e-13, full_output=True)
    if ok != 1:
        return None
    m = u @ z
    d = expit(m) * expit(-m)
    j = np.eye(len(s)) + (s2[:, None] / lam) * ((u.T * d) @ u)
    drive = (u.T @ expit(-m)) / lam
    deriv = np.linalg.solve(j, np.diag(drive))
    e = s2[None, :] * deriv / z[:, None]
    return e[~np.eye(len(s), dtype=bool)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--systems", type=int, default=200)
    p.add_argument("--decay", default="1,2,4,8,16,32")
    p.add_argument("--coupling", default="0,0.05,0.1,0.2,0.4,haar")
    p.add_argument("--lambda", dest="lam", type=float, default=0.01)
    p.add_argument("--weakest", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    decays = [float(d) for d in a.decay.split(",")]
    couplings = a.coupling.split(",")
    n = a.n
    t0 = time.perf_counter()
    rows, failed = [], 0
    for c in couplings:
        for k in decays:
            s = a.weakest * k ** ((n - 1 - np.arange(n)) / (n - 1))
            entries = []
            for _ in range(a.systems):
                e = starvation(s, coupling(n, c, rng), a.lam)
                if e is None:
                    failed += 1
                else:
                    entries.append(e)
            x = np.concatenate(entries)
            q = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
            rows.append((k, c, np.mean(x < -1e-10), q))
    wall = time.perf_counter() - t0
    total = len(decays) * len(couplings) * a.systems
    print(f"scipy fsolve peer: {total} systems of n = {n} in {wall:.3f} s "
          f"({1e6 * wall / total:.1f} µs per system), {failed} failed")
    for k, c, f, q in rows:
        print(f"{k:g}\t{c}\t{f:.4f}\t{q[2]:.4e}")


if __name__ == "__main__":
    main()
