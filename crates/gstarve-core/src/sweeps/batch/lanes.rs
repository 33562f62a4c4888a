//! The damped Newton iteration and the sensitivity of docs/theory.md §12.4 and §5.3 for a group
//! of systems at once, one system per SIMD lane (pulp: AVX2 on x86_64, NEON on aarch64, the
//! scalar fallback elsewhere; the workspace does not enable pulp's AVX-512 level).
//!
//! Every lane runs exactly the iteration of [`super::steady`] (and of the general solver): the
//! same objective, gradient, Hessian H = UᵀDU + W, Cholesky step, Armijo backtracking, stopping
//! rules and failures. The lanes advance in lockstep; a lane that has converged or failed is
//! frozen (its values are selected, never overwritten) while the others go on, and within a line
//! search each lane keeps its own step length t. The logistic terms are evaluated lane by lane
//! with the scalar `exp`/`log1p` of the one-system path (one exponential per margin):
//!
//! ```text
//! e = exp(−|m|),  ψ = σ(−m) = (m ≥ 0 ? e : 1)/(1 + e),  σ'(m) = e/(1 + e)²,
//! ℓ(m) = max(−m, 0) + log1p(e)
//! ```
//!
//! Only additions, multiplications, divisions and square roots run on the vectors (no fused
//! multiply-add), each on its own lane, so a system's result is the same bit for bit whichever
//! other systems share its group, whichever instruction set runs, and however a sweep is sharded.
//!
//! The sensitivity uses the Hessian's Cholesky factor in place of an LU of J: with J = W⁻¹H
//! (docs/theory.md §12.4) and every s_i > 0, §5.3's ∂z*/∂(s_i²) = (z_i*/s_i²) J⁻¹e_i becomes
//!
//! ```text
//! ∂z*/∂(s_i²) = ((Uᵀψ*)_i / s_i²) · H⁻¹ e_i,      E_ji = (Uᵀψ*)_i (H⁻¹)_ji / z_j*
//! ```
//!
//! (z_i*/s_i² read as (Uᵀψ*)_i/λ, as in §5.3), so no pivoting varies from lane to lane. Systems
//! with a zero strength (a pinned feature) are left to [`super::steady`].

// Index loops over the n examples and r features (≤ C) of vectors and matrices of lanes, as the
// formulas read them (as in `super::steady`).
#![allow(clippy::needless_range_loop)]

use pulp::Simd;

use super::{Solved, BATCH_MAX_DIM, MAX_ITERATIONS, TOLERANCE};
use crate::error::NumericalError;
use crate::theory::sensitivity::ZERO_RESPONSE_TOLERANCE;

/// The widest vector of f64 lanes pulp provides (AVX-512: 8).
pub(super) const MAX_LANES: usize = 8;

/// The systems of one block, struct of arrays, each with every strength > 0.
pub(super) struct Block<'a> {
    pub n: usize,
    pub r: usize,
    /// s_j² of every system of the block, r per system.
    pub strengths_squared: &'a [f64],
    /// U of every system, n·r per system, column-major.
    pub coupling: &'a [f64],
    /// λ of every system.
    pub lambda: &'a [f64],
    /// Starting points z₀ (r per system), or `None` for z₀ = 0.
    pub start: Option<&'a [f64]>,
}

/// Solve the systems `which` (indices into the block) in groups of the instruction set's lane
/// count, writing each result at its index in `out`.
pub(super) struct Lockstep<'a> {
    pub block: &'a Block<'a>,
    pub which: &'a [usize],
    pub out: &'a mut [Option<Result<Solved, NumericalError>>],
}

impl pulp::WithSimd for Lockstep<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let lanes = S::F64_LANES.min(MAX_LANES);
        let capacity = self.block.n.max(self.block.r);
        for group in self.which.chunks(lanes) {
            let solved = match capacity {
                0..=2 => solve_group::<S, 2>(simd, self.block, group),
                3..=4 => solve_group::<S, 4>(simd, self.block, group),
                _ => solve_group::<S, BATCH_MAX_DIM>(simd, self.block, group),
            };
            for (l, result) in solved.into_iter().take(group.len()).enumerate() {
                self.out[group[l]] = Some(result);
            }
        }
    }
}

/// Per-lane scalars (only the first `S::F64_LANES` are used).
type Lanes<T> = [T; MAX_LANES];

/// The lanes of one group and the vector operations on them, for systems with n, r ≤ C.
struct Group<S: Simd, const C: usize> {
    simd: S,
    n: usize,
    r: usize,
    /// Lanes in use (≤ S::F64_LANES; the rest repeat the last system and are never active).
    count: usize,
    /// u[j][i] = U_ij of each lane.
    u: [[S::f64s; C]; C],
    /// W_jj = λ/s_j².
    weights: [S::f64s; C],
    strengths_squared: [S::f64s; C],
}

/// The loss terms at one point: L, ψ = σ(−m), D = σ'(m).
#[derive(Clone, Copy)]
struct Local<V, const C: usize> {
    value: V,
    psi: [V; C],
    curvature: [V; C],
}

impl<S: Simd, const C: usize> Group<S, C> {
    fn lanes(&self) -> usize {
        S::F64_LANES.min(MAX_LANES)
    }

    /// A vector whose lane l is `f(l)` (l < count; later lanes repeat the last).
    #[inline(always)]
    fn gather(&self, f: impl Fn(usize) -> f64) -> S::f64s {
        let mut b = [0.0; MAX_LANES];
        for (l, v) in b[..self.lanes()].iter_mut().enumerate() {
            *v = f(l.min(self.count - 1));
        }
        self.simd.partial_load_f64s(&b[..self.lanes()])
    }

    #[inline(always)]
    fn scatter(&self, v: S::f64s) -> Lanes<f64> {
        let mut b = [0.0; MAX_LANES];
        self.simd.partial_store_f64s(&mut b[..self.lanes()], v);
        b
    }

    #[inline(always)]
    fn splat(&self, v: f64) -> S::f64s {
        self.simd.splat_f64s(v)
    }

    /// A mask from per-lane flags.
    #[inline(always)]
    fn mask(&self, flags: &Lanes<bool>) -> S::m64s {
        let v = self.gather(|l| if flags[l] { 1.0 } else { 0.0 });
        self.simd.greater_than_f64s(v, self.splat(0.0))
    }

    #[inline(always)]
    fn flags(&self, mask: S::m64s) -> Lanes<bool> {
        let v = self.scatter(
            self.simd
                .select_f64s(mask, self.splat(1.0), self.splat(0.0)),
        );
        let mut out = [false; MAX_LANES];
        for l in 0..self.count {
            out[l] = v[l] > 0.0;
        }
        out
    }

    /// m = U z, summed over features in order.
    #[inline(always)]
    fn margins(&self, z: &[S::f64s; C]) -> [S::f64s; C] {
        let s = self.simd;
        let mut m = [self.splat(0.0); C];
        for j in 0..self.r {
            for i in 0..self.n {
                m[i] = s.add_f64s(m[i], s.mul_f64s(self.u[j][i], z[j]));
            }
        }
        m
    }

    /// Uᵀv.
    #[inline(always)]
    fn transpose_apply(&self, v: &[S::f64s; C]) -> [S::f64s; C] {
        let s = self.simd;
        let mut out = [self.splat(0.0); C];
        for (j, o) in out[..self.r].iter_mut().enumerate() {
            for i in 0..self.n {
                *o = s.add_f64s(*o, s.mul_f64s(self.u[j][i], v[i]));
            }
        }
        out
    }

    /// L, ψ and σ' at z, lane by lane for the lanes in `which` (the others hold zeros).
    #[inline(always)]
    fn local(&self, z: &[S::f64s; C], which: &Lanes<bool>) -> Local<S::f64s, C> {
        let s = self.simd;
        let m = self.margins(z);
        let mut loss = [0.0; MAX_LANES];
        let mut psi = [self.splat(0.0); C];
        let mut curvature = [self.splat(0.0); C];
        for i in 0..self.n {
            let mi = self.scatter(m[i]);
            let (mut p, mut d) = ([0.0; MAX_LANES], [0.0; MAX_LANES]);
            for l in (0..self.count).filter(|&l| which[l]) {
                let x = mi[l];
                let e = (-x.abs()).exp();
                p[l] = if x >= 0.0 {
                    e / (1.0 + e)
                } else {
                    1.0 / (1.0 + e)
                };
                d[l] = e / ((1.0 + e) * (1.0 + e));
                loss[l] += (-x).max(0.0) + e.ln_1p();
            }
            psi[i] = s.partial_load_f64s(&p[..self.lanes()]);
            curvature[i] = s.partial_load_f64s(&d[..self.lanes()]);
        }
        let mut penalty = self.splat(0.0);
        for j in 0..self.r {
            penalty = s.add_f64s(penalty, s.mul_f64s(s.mul_f64s(self.weights[j], z[j]), z[j]));
        }
        let value = s.add_f64s(
            s.partial_load_f64s(&loss[..self.lanes()]),
            s.mul_f64s(self.splat(0.5), penalty),
        );
        Local {
            value,
            psi,
            curvature,
        }
    }

    /// ∇L = W z − Uᵀψ.
    #[inline(always)]
    fn gradient(&self, z: &[S::f64s; C], psi: &[S::f64s; C]) -> [S::f64s; C] {
        let s = self.simd;
        let ut_psi = self.transpose_apply(psi);
        let mut g = [self.splat(0.0); C];
        for j in 0..self.r {
            g[j] = s.sub_f64s(s.mul_f64s(self.weights[j], z[j]), ut_psi[j]);
        }
        g
    }

    /// max_j |g_j / W_jj|, NaN counted as ∞.
    #[inline(always)]
    fn residual(&self, g: &[S::f64s; C]) -> S::f64s {
        let s = self.simd;
        let mut acc = self.splat(0.0);
        for j in 0..self.r {
            let e = s.abs_f64s(s.div_f64s(g[j], self.weights[j]));
            let e = s.select_f64s(s.equal_f64s(e, e), e, self.splat(f64::INFINITY));
            acc = s.max_f64s(acc, e);
        }
        acc
    }

    /// max(1, ‖z‖∞).
    #[inline(always)]
    fn scale(&self, z: &[S::f64s; C]) -> S::f64s {
        let s = self.simd;
        let mut acc = self.splat(0.0);
        for v in &z[..self.r] {
            acc = s.max_f64s(acc, s.abs_f64s(*v));
        }
        s.max_f64s(acc, self.splat(1.0))
    }

    /// H = UᵀDU + W.
    #[inline(always)]
    fn hessian(&self, d: &[S::f64s; C]) -> [[S::f64s; C]; C] {
        let s = self.simd;
        let mut h = [[self.splat(0.0); C]; C];
        for a in 0..self.r {
            for c in 0..=a {
                let mut v = self.splat(0.0);
                for i in 0..self.n {
                    v = s.add_f64s(v, s.mul_f64s(s.mul_f64s(self.u[a][i], d[i]), self.u[c][i]));
                }
                h[a][c] = v;
                h[c][a] = v;
            }
        }
        for j in 0..self.r {
            h[j][j] = s.add_f64s(h[j][j], self.weights[j]);
        }
        h
    }

    /// The Cholesky factor L of H (lower, row-major) and the lanes where H is not positive
    /// definite (a pivot ≤ 0 or NaN).
    #[inline(always)]
    fn cholesky(&self, h: &[[S::f64s; C]; C]) -> ([[S::f64s; C]; C], S::m64s) {
        let s = self.simd;
        let zero = self.splat(0.0);
        let mut l = [[zero; C]; C];
        let mut bad = s.less_than_f64s(zero, zero);
        for j in 0..self.r {
            let mut sq = zero;
            for p in 0..j {
                sq = s.add_f64s(sq, s.mul_f64s(l[j][p], l[j][p]));
            }
            let d = s.sub_f64s(h[j][j], sq);
            bad = s.or_m64s(bad, s.not_m64s(s.greater_than_f64s(d, zero)));
            let d = s.sqrt_f64s(d);
            l[j][j] = d;
            for i in j + 1..self.r {
                let mut v = h[i][j];
                for p in 0..j {
                    v = s.sub_f64s(v, s.mul_f64s(l[i][p], l[j][p]));
                }
                l[i][j] = s.div_f64s(v, d);
            }
        }
        (l, bad)
    }

    /// x = H⁻¹b from the Cholesky factor.
    #[inline(always)]
    fn cholesky_solve(&self, l: &[[S::f64s; C]; C], b: &[S::f64s; C]) -> [S::f64s; C] {
        let s = self.simd;
        let mut y = [self.splat(0.0); C];
        for i in 0..self.r {
            let mut v = b[i];
            for p in 0..i {
                v = s.sub_f64s(v, s.mul_f64s(l[i][p], y[p]));
            }
            y[i] = s.div_f64s(v, l[i][i]);
        }
        let mut x = [self.splat(0.0); C];
        for i in (0..self.r).rev() {
            let mut v = y[i];
            for p in i + 1..self.r {
                v = s.sub_f64s(v, s.mul_f64s(l[p][i], x[p]));
            }
            x[i] = s.div_f64s(v, l[i][i]);
        }
        x
    }

    /// z + t·p.
    #[inline(always)]
    fn axpy(&self, z: &[S::f64s; C], t: S::f64s, p: &[S::f64s; C]) -> [S::f64s; C] {
        let s = self.simd;
        let mut out = *z;
        for j in 0..self.r {
            out[j] = s.add_f64s(z[j], s.mul_f64s(p[j], t));
        }
        out
    }

    fn select(&self, mask: S::m64s, a: &[S::f64s; C], b: &[S::f64s; C]) -> [S::f64s; C] {
        let mut out = *b;
        for j in 0..C {
            out[j] = self.simd.select_f64s(mask, a[j], b[j]);
        }
        out
    }

    fn select_local(
        &self,
        mask: S::m64s,
        a: &Local<S::f64s, C>,
        b: &Local<S::f64s, C>,
    ) -> Local<S::f64s, C> {
        Local {
            value: self.simd.select_f64s(mask, a.value, b.value),
            psi: self.select(mask, &a.psi, &b.psi),
            curvature: self.select(mask, &a.curvature, &b.curvature),
        }
    }
}

/// How a lane's iteration ended.
#[derive(Clone, Copy)]
enum Status {
    Running,
    Converged { iterations: usize, residual: f64 },
    Failed { iterations: usize, residual: f64 },
}

/// The steady states and sensitivities of the systems `group` (at most the lane count).
#[inline(always)]
fn solve_group<S: Simd, const C: usize>(
    simd: S,
    block: &Block<'_>,
    group: &[usize],
) -> Lanes<Result<Solved, NumericalError>> {
    let (n, r) = (block.n, block.r);
    let mut g = Group::<S, C> {
        simd,
        n,
        r,
        count: group.len(),
        u: [[simd.splat_f64s(0.0); C]; C],
        weights: [simd.splat_f64s(0.0); C],
        strengths_squared: [simd.splat_f64s(0.0); C],
    };
    let sys = |l: usize| group[l];
    for j in 0..r {
        for i in 0..n {
            g.u[j][i] = g.gather(|l| block.coupling[sys(l) * n * r + j * n + i]);
        }
        g.strengths_squared[j] = g.gather(|l| block.strengths_squared[sys(l) * r + j]);
        g.weights[j] = g.gather(|l| block.lambda[sys(l)] / block.strengths_squared[sys(l) * r + j]);
    }
    let mut z = [simd.splat_f64s(0.0); C];
    if let Some(start) = block.start {
        for (j, zj) in z[..r].iter_mut().enumerate() {
            *zj = g.gather(|l| {
                let v = start[sys(l) * r + j];
                if v.is_finite() {
                    v
                } else {
                    0.0
                }
            });
        }
    }
    let status = newton(&g, &mut z);
    finish(&g, &z, &status)
}

/// The lockstep damped Newton iteration from z (docs/theory.md §12.4); z ends at each lane's z*.
#[inline(always)]
fn newton<S: Simd, const C: usize>(g: &Group<S, C>, z: &mut [S::f64s; C]) -> Lanes<Status> {
    let s = g.simd;
    let mut status = [Status::Running; MAX_LANES];
    let mut active = [false; MAX_LANES];
    active[..g.count].fill(true);
    let mut here = g.local(z, &active);
    for it in 0..=MAX_ITERATIONS {
        let grad = g.gradient(z, &here.psi);
        let residual = g.residual(&grad);
        let scale = g.scale(z);
        let res = g.scatter(residual);
        let converged =
            g.flags(s.less_than_or_equal_f64s(residual, s.mul_f64s(g.splat(TOLERANCE), scale)));
        for l in 0..g.count {
            if active[l] && converged[l] {
                status[l] = Status::Converged {
                    iterations: it,
                    residual: res[l],
                };
                active[l] = false;
            }
        }
        if !active.contains(&true) {
            break;
        }
        if it == MAX_ITERATIONS {
            for l in (0..g.count).filter(|&l| active[l]) {
                status[l] = Status::Failed {
                    iterations: MAX_ITERATIONS,
                    residual: res[l],
                };
            }
            break;
        }
        let (chol, bad) = g.cholesky(&g.hessian(&here.curvature));
        let bad = g.flags(bad);
        for l in 0..g.count {
            if active[l] && bad[l] {
                status[l] = Status::Failed {
                    iterations: it,
                    residual: res[l],
                };
                active[l] = false;
            }
        }
        let x = g.cholesky_solve(&chol, &grad);
        let mut step = [g.splat(0.0); C];
        let mut slope = g.splat(0.0);
        for j in 0..g.r {
            step[j] = s.neg_f64s(x[j]);
            slope = s.add_f64s(slope, s.mul_f64s(grad[j], step[j]));
        }
        // Armijo backtracking while the decrease −gᵀp is resolvable, each lane its own t.
        let floor = s.mul_f64s(
            g.splat(1e3 * f64::EPSILON),
            s.max_f64s(s.abs_f64s(here.value), g.splat(f64::MIN_POSITIVE)),
        );
        let resolvable = g.flags(s.greater_than_f64s(s.neg_f64s(slope), floor));
        let mut pending = [false; MAX_LANES];
        for l in 0..g.count {
            pending[l] = active[l] && resolvable[l];
        }
        let mut accepted = [false; MAX_LANES];
        let mut t = g.splat(1.0);
        for _ in 0..60 {
            if !pending.contains(&true) {
                break;
            }
            let trial = g.axpy(z, t, &step);
            let there = g.local(&trial, &pending);
            let bound = s.add_f64s(here.value, s.mul_f64s(s.mul_f64s(g.splat(1e-4), t), slope));
            let ok = s.and_m64s(
                g.mask(&pending),
                s.less_than_or_equal_f64s(there.value, bound),
            );
            *z = g.select(ok, &trial, z);
            here = g.select_local(ok, &there, &here);
            let ok = g.flags(ok);
            for l in 0..g.count {
                accepted[l] |= ok[l];
                pending[l] &= !ok[l];
            }
            t = s.select_f64s(g.mask(&pending), s.mul_f64s(t, g.splat(0.5)), t);
        }
        // No acceptable step: take the full one if it lowers the residual, else stop.
        let mut stuck = [false; MAX_LANES];
        for l in 0..g.count {
            stuck[l] = active[l] && !accepted[l];
        }
        if stuck.contains(&true) {
            let trial = g.axpy(z, g.splat(1.0), &step);
            let there = g.local(&trial, &stuck);
            let trial_res = g.scatter(g.residual(&g.gradient(&trial, &there.psi)));
            let scale = g.scatter(scale);
            let mut take = [false; MAX_LANES];
            for l in (0..g.count).filter(|&l| stuck[l]) {
                if trial_res[l] < res[l] {
                    take[l] = true;
                } else if res[l] <= 1e3 * TOLERANCE * scale[l] {
                    status[l] = Status::Converged {
                        iterations: it,
                        residual: res[l],
                    };
                    active[l] = false;
                } else {
                    status[l] = Status::Failed {
                        iterations: it,
                        residual: res[l],
                    };
                    active[l] = false;
                }
            }
            let take_mask = g.mask(&take);
            *z = g.select(take_mask, &trial, z);
            here = g.select_local(take_mask, &there, &here);
        }
    }
    status
}

/// m*, ∂z*/∂(s²) and E at each converged lane's z* (docs/theory.md §5.3, Cholesky form above).
#[inline(always)]
fn finish<S: Simd, const C: usize>(
    g: &Group<S, C>,
    z: &[S::f64s; C],
    status: &Lanes<Status>,
) -> Lanes<Result<Solved, NumericalError>> {
    let s = g.simd;
    let (n, r) = (g.n, g.r);
    let mut all = [false; MAX_LANES];
    all[..g.count].fill(true);
    let at = g.local(z, &all);
    let m = g.margins(z);
    let drive = g.transpose_apply(&at.psi);
    let (chol, _) = g.cholesky(&g.hessian(&at.curvature));
    // Column i of H⁻¹ scaled by (Uᵀψ)_i / s_i².
    let mut derivatives = [[g.splat(0.0); C]; C];
    for i in 0..r {
        let mut e = [g.splat(0.0); C];
        e[i] = g.splat(1.0);
        let col = g.cholesky_solve(&chol, &e);
        let c = s.div_f64s(drive[i], g.strengths_squared[i]);
        for j in 0..r {
            derivatives[j][i] = s.mul_f64s(col[j], c);
        }
    }
    let zs: [Lanes<f64>; C] = std::array::from_fn(|j| g.scatter(z[j]));
    let ms: [Lanes<f64>; C] = std::array::from_fn(|i| g.scatter(m[i]));
    let ds: [[Lanes<f64>; C]; C] =
        std::array::from_fn(|j| std::array::from_fn(|i| g.scatter(derivatives[j][i])));
    let s2: [Lanes<f64>; C] = std::array::from_fn(|j| g.scatter(g.strengths_squared[j]));
    std::array::from_fn(|l| {
        let (iterations, residual) = match status[l] {
            Status::Converged {
                iterations,
                residual,
            } => (iterations, residual),
            Status::Failed {
                iterations,
                residual,
            } => {
                return Err(NumericalError::NewtonFailed {
                    iterations,
                    residual,
                })
            }
            // Lanes past the group's systems.
            Status::Running => {
                return Err(NumericalError::NewtonFailed {
                    iterations: 0,
                    residual: f64::NAN,
                })
            }
        };
        let mut out = Solved {
            z: [0.0; BATCH_MAX_DIM],
            m: [0.0; BATCH_MAX_DIM],
            residual,
            iterations,
            derivatives: [[0.0; BATCH_MAX_DIM]; BATCH_MAX_DIM],
            elasticities: [[f64::NAN; BATCH_MAX_DIM]; BATCH_MAX_DIM],
        };
        for j in 0..r {
            out.z[j] = zs[j][l];
        }
        for i in 0..n {
            out.m[i] = ms[i][l];
        }
        let zmax = out.z[..r].iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let zero = ZERO_RESPONSE_TOLERANCE * zmax.max(1.0);
        for j in 0..r {
            for i in 0..r {
                out.derivatives[j][i] = ds[j][i][l];
                if out.z[j].abs() > zero {
                    out.elasticities[j][i] = s2[i][l] * ds[j][i][l] / out.z[j];
                }
            }
        }
        Ok(out)
    })
}
