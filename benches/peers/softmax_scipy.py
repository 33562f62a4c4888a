#!/usr/bin/env python3
"""SciPy/NumPy peers of gstarve's multi-class softmax numerics (docs/benchmarks.md, "Multi-class
softmax"), on a multi-class system file as gstarve reads it (docs/theory.md section 9.1:
"classes", "labels", "strengths", "u" with n*c rows, example-major), under L2 with weight lam:

    F(z) = S^2 U^T vec(Y - P(Uz)) - lam z,   dF/dz = -S^2 U^T H U - lam I,
    H = blockdiag_i(diag(p_i) - p_i p_i^T)   (section 9.2)

flow   scipy.integrate.solve_ivp from z0 (the file's, else 0) on tau = linspace(0, T, points),
       each method of --methods (LSODA and BDF with the analytic Jacobian; DOP853, RK45);
fixed  NumPy damped Newton on grad L = W z - U^T vec(Y - P), W = lam S^-2, Hessian U^T H U + W
       (np.linalg.solve), an Armijo search on L, stopping as gstarve does
       (max_j |g_j / W_jj| <= 1e-12 max(1, |z|_inf), solvers::steady_softmax); then the
       sensitivities dz*/d(s_i^2) = J^-1 diag(U^T vec(Y - P*) / lam), J = I + lam^-1 S^2 U^T H U
       (section 9.3), by np.linalg.solve.

Usage: python3 benches/peers/softmax_scipy.py flow SYSTEM --lam L --t-end T --points N
           --rtol R --atol A [--methods LSODA,BDF,DOP853,RK45] [--repeat 3] [--compare REF.npy]
       python3 benches/peers/softmax_scipy.py fixed SYSTEM --lam L [--repeat 3] [--compare Z.npy]
Prints one JSON object per method: best wall time of the solve (the file's loading excluded),
its walls, counts, and with --compare the max |dz| against the array in REF.npy (flow: points x r
trajectory; fixed: z* of length r, then the sensitivity matrix r x r in Z.npy's sibling
Z_sens.npy when present).
"""
import argparse, json, os, time

import numpy as np
from scipy.integrate import solve_ivp


def load(path):
    with open(path) as f:
        d = json.load(f)
    c = int(d["classes"])
    labels = np.asarray(d["labels"], dtype=int)
    s = np.asarray(d["strengths"], dtype=float)
    u = np.ascontiguousarray(np.asarray(d["u"], dtype=float))
    n = labels.size
    y = np.zeros((n, c))
    y[np.arange(n), labels] = 1.0
    z0 = np.asarray(d["z0"], dtype=float) if d.get("z0") is not None else np.zeros(s.size)
    return u, s, y, z0


class Softmax:
    def __init__(self, u, s, y, lam):
        self.u, self.s2, self.y, self.lam = u, s * s, y, lam
        self.n, self.c = y.shape
        self.r = u.shape[1]
        self.u3 = u.reshape(self.n, self.c, self.r)

    def probabilities(self, z):
        f = (self.u @ z).reshape(self.n, self.c)
        e = np.exp(f - f.max(axis=1, keepdims=True))
        return f, e / e.sum(axis=1, keepdims=True)

    def drive(self, z):
        _, p = self.probabilities(z)
        return self.u.T @ (self.y - p).ravel()

    def rhs(self, t, z):
        return self.s2 * self.drive(z) - self.lam * z

    def curvature_gram(self, z):
        """U^T H U = U^T diag(p) U - sum_i (p_i^T U_i)^T (p_i^T U_i)."""
        _, p = self.probabilities(z)
        g = self.u.T @ (self.u * p.reshape(-1, 1))
        q = np.einsum("ik,ikr->ir", p, self.u3)
        g -= q.T @ q
        return g

    def jac(self, t, z):
        j = -(self.s2[:, None] * self.curvature_gram(z))
        j[np.diag_indices_from(j)] -= self.lam
        return j

    def objective(self, z, w):
        f, _ = self.probabilities(z)
        top = f.max(axis=1, keepdims=True)
        ce = (top[:, 0] + np.log(np.exp(f - top).sum(axis=1)) - (f * self.y).sum(axis=1)).sum()
        return ce + 0.5 * (w * z * z).sum()


def newton(m, tol=1e-12, max_iterations=200):
    w = m.lam / m.s2
    x = np.zeros(m.r)
    value = m.objective(x, w)
    for it in range(max_iterations + 1):
        g = w * x - m.drive(x)
        res = np.abs(g / w).max()
        if res <= tol * max(1.0, np.abs(x).max()):
            return x, res, it
        hess = m.curvature_gram(x)
        hess[np.diag_indices_from(hess)] += w
        step = -np.linalg.solve(hess, g)
        slope = g @ step
        t, accepted = 1.0, False
        if -slope > 1e3 * np.finfo(float).eps * max(abs(value), np.finfo(float).tiny):
            for _ in range(60):
                trial = x + t * step
                tv = m.objective(trial, w)
                if tv <= value + 1e-4 * t * slope:
                    x, value, accepted = trial, tv, True
                    break
                t *= 0.5
        if not accepted:
            trial = x + step
            if np.abs((w * trial - m.drive(trial)) / w).max() < res:
                x, value = trial, m.objective(trial, w)
            else:
                return x, res, it
    raise RuntimeError("Newton did not converge")


def sensitivities(m, z):
    j = (m.s2 / m.lam)[:, None] * m.curvature_gram(z)
    j[np.diag_indices_from(j)] += 1.0
    return np.linalg.solve(j, np.diag(m.drive(z) / m.lam))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["flow", "fixed"])
    p.add_argument("system")
    p.add_argument("--lam", type=float, required=True)
    p.add_argument("--t-end", type=float, default=1000.0)
    p.add_argument("--points", type=int, default=1001)
    p.add_argument("--rtol", type=float, default=1e-8)
    p.add_argument("--atol", type=float, default=1e-10)
    p.add_argument("--methods", default="LSODA,BDF,DOP853,RK45")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--compare")
    a = p.parse_args()
    u, s, y, z0 = load(a.system)
    m = Softmax(u, s, y, a.lam)
    ref = np.load(a.compare) if a.compare else None
    if a.what == "flow":
        grid = np.linspace(0.0, a.t_end, a.points)
        for method in a.methods.split(","):
            walls, sol = [], None
            for _ in range(a.repeat):
                t = time.perf_counter()
                kw = {"jac": m.jac} if method in ("LSODA", "BDF", "Radau") else {}
                sol = solve_ivp(m.rhs, (0.0, a.t_end), z0, method=method, t_eval=grid,
                                rtol=a.rtol, atol=a.atol, **kw)
                walls.append(time.perf_counter() - t)
            out = {"method": method, "wall_s": min(walls), "walls": walls, "success": bool(sol.success),
                   "nfev": int(sol.nfev), "njev": int(sol.njev), "nlu": int(sol.nlu)}
            if ref is not None and sol.success:
                out["max_abs_dz"] = float(np.abs(sol.y.T - ref).max())
            print(json.dumps(out), flush=True)
    else:
        walls = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            z, res, it = newton(m)
            d = sensitivities(m, z)
            walls.append(time.perf_counter() - t)
        out = {"method": "numpy-newton", "wall_s": min(walls), "walls": walls, "iterations": it,
               "residual": float(res)}
        if ref is not None:
            out["max_abs_dz"] = float(np.abs(z - ref.ravel()).max())
            sens = a.compare[:-len(".npy")] + "_sens.npy"
            if os.path.exists(sens):
                ours = np.load(sens)
                out["max_abs_dsens"] = float(np.abs(d - ours).max())
                out["max_abs_sens"] = float(np.abs(ours).max())
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
