//! The damped Newton iteration and the sensitivity of docs/theory.md §12.4 and §5.3 for a group
//! of systems at once, one system per SIMD lane (pulp: AVX2 on x86_64, NEON on aarch64, the
//! scalar fallback elsewhere; the workspace does not enable pulp's AVX-512 level).
//!
//! Every lane runs exactly the iteration of [`super::steady`] (and of the general solver): the
//! same objective, gradient, Hessian H = UᵀDU + W, Cholesky step, Armijo backtracking, stopping
//! rules and failures. The lanes advance in lockstep; a lane that has converged or failed is
//! frozen (its values are selected, never overwritten) while the others go on, and within a line
//! search each lane keeps its own step length t. The logistic terms are evaluated on every lane
//! by the branch-free [`crate::model::fast_exp`] and [`crate::model::fast_log1p`] (each within
//! 1 ulp of the platform's `exp`/`log1p`, which the one-system path calls; vectorised by the
//! compiler), one exponential per margin:
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

use super::group::{Group, Lanes, Local};
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
/// count, handing each result to `sink` with its index.
pub(super) struct Lockstep<'a, F> {
    pub block: &'a Block<'a>,
    pub which: &'a [usize],
    pub sink: F,
}

impl<F: FnMut(usize, Result<&Solved, NumericalError>)> pulp::WithSimd for Lockstep<'_, F> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(mut self, simd: S) {
        let lanes = S::F64_LANES.min(MAX_LANES);
        let (n, r) = (self.block.n, self.block.r);
        for group in self.which.chunks(lanes) {
            let sink = &mut self.sink;
            match (n, r) {
                (2, 2) => solve_group::<S, 2, true>(simd, self.block, group, sink),
                (4, 4) => solve_group::<S, 4, true>(simd, self.block, group, sink),
                _ if n.max(r) <= 2 => solve_group::<S, 2, false>(simd, self.block, group, sink),
                _ if n.max(r) <= 4 => solve_group::<S, 4, false>(simd, self.block, group, sink),
                _ => solve_group::<S, BATCH_MAX_DIM, false>(simd, self.block, group, sink),
            }
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
fn solve_group<S: Simd, const C: usize, const E: bool>(
    simd: S,
    block: &Block<'_>,
    group: &[usize],
    sink: &mut impl FnMut(usize, Result<&Solved, NumericalError>),
) {
    let (n, r) = (block.n, block.r);
    let mut g = Group::<S, C, E> {
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
    let (status, at) = newton(&g, &mut z);
    finish(&g, &z, &at, &status, |l, result| sink(group[l], result));
}

/// The lockstep damped Newton iteration from z (docs/theory.md §12.4); z ends at each lane's z*,
/// and the loss terms returned are those at it (kept in step with z, lane by lane).
#[inline(always)]
fn newton<S: Simd, const C: usize, const E: bool>(
    g: &Group<S, C, E>,
    z: &mut [S::f64s; C],
) -> (Lanes<Status>, Local<S::f64s, C>) {
    let s = g.simd;
    let mut status = [Status::Running; MAX_LANES];
    let mut active = [false; MAX_LANES];
    active[..g.count].fill(true);
    let mut here = g.local(z);
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
        for j in 0..g.r() {
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
        // The full step, the first trial of the line search and the fallback's trial below
        // alike (a lane that falls back never moved z): evaluated once.
        let full = g.axpy(z, t, &step);
        let at_full = g.local(&full);
        for k in 0..60 {
            if !pending.contains(&true) {
                break;
            }
            let (trial, there) = if k == 0 {
                (full, at_full)
            } else {
                let trial = g.axpy(z, t, &step);
                (trial, g.local(&trial))
            };
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
            let (trial, there) = (full, at_full);
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
    (status, here)
}

/// m*, ∂z*/∂(s²) and E at each converged lane's z* (docs/theory.md §5.3, Cholesky form above;
/// `at` the loss terms at z), each lane's result handed to `sink` with its lane (lanes past the group's systems skipped).
#[inline(always)]
fn finish<S: Simd, const C: usize, const E: bool>(
    g: &Group<S, C, E>,
    z: &[S::f64s; C],
    at: &Local<S::f64s, C>,
    status: &Lanes<Status>,
    mut sink: impl FnMut(usize, Result<&Solved, NumericalError>),
) {
    let s = g.simd;
    let (n, r) = (g.n(), g.r());
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
    let mut out = Solved {
        z: [0.0; BATCH_MAX_DIM],
        m: [0.0; BATCH_MAX_DIM],
        residual: f64::NAN,
        iterations: 0,
        derivatives: [[0.0; BATCH_MAX_DIM]; BATCH_MAX_DIM],
        elasticities: [[f64::NAN; BATCH_MAX_DIM]; BATCH_MAX_DIM],
    };
    for l in 0..g.count {
        let (iterations, residual) = match status[l] {
            Status::Converged {
                iterations,
                residual,
            } => (iterations, residual),
            Status::Failed {
                iterations,
                residual,
            } => {
                sink(
                    l,
                    Err(NumericalError::NewtonFailed {
                        iterations,
                        residual,
                    }),
                );
                continue;
            }
            // Not reached: the iteration ends every lane of the group converged or failed.
            Status::Running => {
                sink(
                    l,
                    Err(NumericalError::NewtonFailed {
                        iterations: 0,
                        residual: f64::NAN,
                    }),
                );
                continue;
            }
        };
        out.iterations = iterations;
        out.residual = residual;
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
                out.elasticities[j][i] = if out.z[j].abs() > zero {
                    s2[i][l] * ds[j][i][l] / out.z[j]
                } else {
                    f64::NAN
                };
            }
        }
        sink(l, Ok(&out));
    }
}
