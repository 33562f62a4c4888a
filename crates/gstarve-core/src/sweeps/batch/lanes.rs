//! The damped Newton iteration and the sensitivity of docs/theory.md §12.4 and §5.3 for many
//! systems at once, one system per SIMD lane (pulp: AVX-512 (eight lanes) or AVX2 (four) on
//! x86_64, chosen at run time; NEON on aarch64; the scalar fallback elsewhere).
//!
//! Every lane runs exactly the iteration of [`super::steady`] (and of the general solver): the
//! same objective, gradient, Hessian H = UᵀDU + W, Cholesky step, Armijo backtracking, stopping
//! rules and failures. The lanes advance together, each on its own system: a lane whose system
//! has converged or failed records it and takes the next system of the block (the systems stream
//! through the lanes, so no lane idles until the slowest of a fixed group is done), and within a
//! line search each lane keeps its own step length t. The sensitivities are computed afterwards,
//! a group of converged systems per vector. The logistic terms are evaluated on every lane
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

use super::group::{set_lane, Group, Lanes};
use super::{Solved, Vector, BATCH_MAX_DIM, MAX_ITERATIONS, TOLERANCE};
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

/// Solve the systems `which` (indices into the block) in the instruction set's lanes, handing
/// each result to `sink` with its index.
pub(super) struct Lockstep<'a, F> {
    pub block: &'a Block<'a>,
    pub which: &'a [usize],
    pub sink: F,
}

impl<F: FnMut(usize, Result<&Solved, NumericalError>)> pulp::WithSimd for Lockstep<'_, F> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(mut self, simd: S) {
        let (block, which, sink) = (self.block, self.which, &mut self.sink);
        match (block.n, block.r) {
            (2, 2) => solve_stream::<S, 2, true>(simd, block, which, sink),
            (4, 4) => solve_stream::<S, 4, true>(simd, block, which, sink),
            (n, r) if n.max(r) <= 2 => solve_stream::<S, 2, false>(simd, block, which, sink),
            (n, r) if n.max(r) <= 4 => solve_stream::<S, 4, false>(simd, block, which, sink),
            _ => solve_stream::<S, BATCH_MAX_DIM, false>(simd, block, which, sink),
        }
    }
}

impl Block<'_> {
    /// z₀_j of system k: its start if finite, else 0.
    #[inline(always)]
    fn start(&self, k: usize, j: usize) -> f64 {
        self.start.map_or(0.0, |s| {
            let v = s[k * self.r + j];
            if v.is_finite() {
                v
            } else {
                0.0
            }
        })
    }
}

/// How a system's iteration ended.
#[derive(Clone, Copy)]
enum Status {
    Converged { iterations: usize, residual: f64 },
    Failed { iterations: usize, residual: f64 },
}

impl Status {
    /// How lane `l` ended: converged if its bit is set in `converged`, else failed.
    fn of_lane(converged: u8, l: usize, iterations: usize, residual: f64) -> Self {
        if converged & (1 << l) != 0 {
            Status::Converged {
                iterations,
                residual,
            }
        } else {
            Status::Failed {
                iterations,
                residual,
            }
        }
    }
}

/// A system's last z and how its iteration ended.
#[derive(Clone, Copy)]
struct Ended {
    z: Vector,
    status: Status,
}

/// The lanes holding the systems `systems` (at most the lane count; later lanes repeat the
/// last).
#[inline(always)]
fn group<S: Simd, const C: usize, const E: bool>(
    simd: S,
    block: &Block<'_>,
    systems: &[usize],
) -> Group<S, C, E> {
    let (n, r) = (block.n, block.r);
    let mut g = Group::<S, C, E> {
        simd,
        n,
        r,
        count: systems.len(),
        u: [[simd.splat_f64s(0.0); C]; C],
        weights: [simd.splat_f64s(0.0); C],
        strengths_squared: [simd.splat_f64s(0.0); C],
    };
    let sys = |l: usize| systems[l];
    for j in 0..r {
        for i in 0..n {
            g.u[j][i] = g.gather(|l| block.coupling[sys(l) * n * r + j * n + i]);
        }
        g.strengths_squared[j] = g.gather(|l| block.strengths_squared[sys(l) * r + j]);
        g.weights[j] = g.gather(|l| block.lambda[sys(l)] / block.strengths_squared[sys(l) * r + j]);
    }
    g
}

/// Lane l of the group now holds system k of the block.
#[inline(always)]
fn load_lane<S: Simd, const C: usize, const E: bool>(
    g: &mut Group<S, C, E>,
    block: &Block<'_>,
    l: usize,
    k: usize,
) {
    let (n, r) = (block.n, block.r);
    for j in 0..r {
        for i in 0..n {
            set_lane::<S>(&mut g.u[j][i], l, block.coupling[k * n * r + j * n + i]);
        }
        let s2 = block.strengths_squared[k * r + j];
        set_lane::<S>(&mut g.strengths_squared[j], l, s2);
        set_lane::<S>(&mut g.weights[j], l, block.lambda[k] / s2);
    }
}

/// The steady states and sensitivities of the systems `which`: the iteration streams them
/// through the lanes ([`newton`]), then the converged ones are finished a group of lanes at a
/// time ([`finish`]).
#[inline(always)]
fn solve_stream<S: Simd, const C: usize, const E: bool>(
    simd: S,
    block: &Block<'_>,
    which: &[usize],
    sink: &mut impl FnMut(usize, Result<&Solved, NumericalError>),
) {
    if which.is_empty() {
        return;
    }
    let lanes = S::F64_LANES.min(MAX_LANES);
    let ended = newton::<S, C, E>(simd, block, which, lanes);
    let mut converged = Vec::with_capacity(which.len());
    for (q, e) in ended.iter().enumerate() {
        match e.status {
            Status::Converged {
                iterations,
                residual,
            } => converged.push((q, iterations, residual)),
            Status::Failed {
                iterations,
                residual,
            } => sink(
                which[q],
                Err(NumericalError::NewtonFailed {
                    iterations,
                    residual,
                }),
            ),
        }
    }
    let mut systems = [0usize; MAX_LANES];
    for part in converged.chunks(lanes) {
        for (l, &(q, _, _)) in part.iter().enumerate() {
            systems[l] = which[q];
        }
        let g = group::<S, C, E>(simd, block, &systems[..part.len()]);
        let z: [S::f64s; C] = std::array::from_fn(|j| {
            g.gather(|l| {
                if j < block.r {
                    ended[part[l].0].z[j]
                } else {
                    0.0
                }
            })
        });
        let mut info = [(0, f64::NAN); MAX_LANES];
        for (l, &(_, iterations, residual)) in part.iter().enumerate() {
            info[l] = (iterations, residual);
        }
        finish(&g, &z, &info, |l, result| sink(systems[l], result));
    }
}

/// The damped Newton iteration (docs/theory.md §12.4) of every system of `which`, streamed
/// through the lanes: each lane iterates its own system, and a lane whose system has converged
/// or failed takes the next one at the following iteration (its z₀'s loss terms evaluated with
/// the other lanes' full Newton step), so no lane waits for the slowest of a group. Returns each
/// system's last z and status, in the order of `which`. The lanes' states (active, searching,
/// accepted, …) are bit sets, bit l for lane l.
#[inline(always)]
fn newton<S: Simd, const C: usize, const E: bool>(
    simd: S,
    block: &Block<'_>,
    which: &[usize],
    lanes: usize,
) -> Vec<Ended> {
    let s = simd;
    let count = which.len().min(lanes);
    let mut g = group::<S, C, E>(simd, block, &which[..count]);
    let blank = Ended {
        z: [0.0; BATCH_MAX_DIM],
        status: Status::Failed {
            iterations: 0,
            residual: f64::NAN,
        },
    };
    let mut ended = vec![blank; which.len()];
    // The system (its place in `which`) in each lane, and the iteration its count starts at.
    let mut slot: Lanes<usize> = [0; MAX_LANES];
    let mut first: Lanes<usize> = [0; MAX_LANES];
    for (l, k) in slot[..count].iter_mut().enumerate() {
        *k = l;
    }
    let used = ((1u16 << count) - 1) as u8;
    let mut active = used;
    let mut next = count;
    let mut z = [g.splat(0.0); C];
    for (j, zj) in z[..g.r()].iter_mut().enumerate() {
        *zj = g.gather(|l| block.start(which[l], j));
    }
    let mut here = g.local(&z);
    for it in 0.. {
        let top = here.residual;
        let scale = g.scale(&z);
        let converged =
            active & g.bits(s.less_than_or_equal_f64s(top, s.mul_f64s(g.splat(TOLERANCE), scale)));
        let mut exhausted = 0u8;
        for l in set(active & !converged) {
            if it - first[l] == MAX_ITERATIONS {
                exhausted |= 1 << l;
            }
        }
        if converged | exhausted != 0 {
            let res = g.scatter(top);
            end(
                &g,
                converged | exhausted,
                &z,
                &mut active,
                &mut ended,
                &slot,
                |l| Status::of_lane(converged, l, it - first[l], res[l]),
            );
        }
        // Free lanes take the next systems; their z₀ rides along as this iteration's trial.
        let mut fresh = 0u8;
        let mut start = [g.splat(0.0); C];
        for l in set(used & !active) {
            if next == which.len() {
                break;
            }
            load_lane(&mut g, block, l, which[next]);
            for j in 0..g.r() {
                set_lane::<S>(&mut start[j], l, block.start(which[next], j));
            }
            slot[l] = next;
            next += 1;
            fresh |= 1 << l;
        }
        if active == 0 {
            if fresh == 0 {
                break;
            }
            let at_start = g.local(&start);
            let fresh_mask = g.mask_of(fresh);
            z = g.select(fresh_mask, &start, &z);
            here = g.select_local(fresh_mask, &at_start, &here);
            for l in set(fresh) {
                first[l] = it + 1;
            }
            active = fresh;
            continue;
        }
        let (chol, bad) = g.cholesky(&g.hessian(&here.curvature));
        let bad = active & g.bits(bad);
        if bad != 0 {
            let res = g.scatter(top);
            end(&g, bad, &z, &mut active, &mut ended, &slot, |l| {
                Status::Failed {
                    iterations: it - first[l],
                    residual: res[l],
                }
            });
        }
        let x = g.cholesky_solve(&chol, &here.gradient);
        let mut step = [g.splat(0.0); C];
        let mut slope = g.splat(0.0);
        for j in 0..g.r() {
            step[j] = s.neg_f64s(x[j]);
            slope = s.add_f64s(slope, s.mul_f64s(here.gradient[j], step[j]));
        }
        // Armijo backtracking while the decrease −gᵀp is resolvable, each lane its own t.
        let floor = s.mul_f64s(
            g.splat(1e3 * f64::EPSILON),
            s.max_f64s(s.abs_f64s(here.value), g.splat(f64::MIN_POSITIVE)),
        );
        let mut pending = active & g.bits(s.greater_than_f64s(s.neg_f64s(slope), floor));
        let mut pending_mask = g.mask_of(pending);
        let mut accepted = 0u8;
        let mut t = g.splat(1.0);
        // The full step, the first trial of the line search and the fallback's trial below
        // alike (a lane that falls back never moved z): evaluated once, with the fresh lanes'
        // z₀ in their place.
        let mut full = g.axpy(&z, t, &step);
        if fresh != 0 {
            full = g.select(g.mask_of(fresh), &start, &full);
        }
        let at_full = g.local(&full);
        for k in 0..60 {
            if pending == 0 {
                break;
            }
            let (trial, there) = if k == 0 {
                (full, at_full)
            } else {
                let trial = g.axpy(&z, t, &step);
                (trial, g.local(&trial))
            };
            let bound = s.add_f64s(here.value, s.mul_f64s(s.mul_f64s(g.splat(1e-4), t), slope));
            let ok = s.and_m64s(pending_mask, s.less_than_or_equal_f64s(there.value, bound));
            z = g.select(ok, &trial, &z);
            here = g.select_local(ok, &there, &here);
            let ok_bits = g.bits(ok);
            accepted |= ok_bits;
            pending &= !ok_bits;
            pending_mask = s.and_m64s(pending_mask, s.not_m64s(ok));
            t = s.select_f64s(pending_mask, s.mul_f64s(t, g.splat(0.5)), t);
        }
        // No acceptable step: take the full one if it lowers the residual, else stop.
        let stuck = active & !accepted;
        let mut take = 0u8;
        if stuck != 0 {
            let trial_res = g.scatter(at_full.residual);
            let res = g.scatter(top);
            let scale = g.scatter(scale);
            let (mut converged, mut failed) = (0u8, 0u8);
            for l in set(stuck) {
                if trial_res[l] < res[l] {
                    take |= 1 << l;
                } else if res[l] <= 1e3 * TOLERANCE * scale[l] {
                    converged |= 1 << l;
                } else {
                    failed |= 1 << l;
                }
            }
            if converged | failed != 0 {
                end(
                    &g,
                    converged | failed,
                    &z,
                    &mut active,
                    &mut ended,
                    &slot,
                    |l| Status::of_lane(converged, l, it - first[l], res[l]),
                );
            }
        }
        for l in set(fresh) {
            first[l] = it + 1;
        }
        active |= fresh;
        take |= fresh;
        if take != 0 {
            let take_mask = g.mask_of(take);
            z = g.select(take_mask, &full, &z);
            here = g.select_local(take_mask, &at_full, &here);
        }
    }
    ended
}

/// The lanes of a bit set, in order.
#[inline(always)]
fn set(bits: u8) -> impl Iterator<Item = usize> {
    let mut b = bits;
    std::iter::from_fn(move || {
        (b != 0).then(|| {
            let l = b.trailing_zeros() as usize;
            b &= b - 1;
            l
        })
    })
}

/// Records the lanes `bits`, whose iteration ends with `status(lane)` and z as it is now, and
/// frees them.
#[inline(always)]
fn end<S: Simd, const C: usize, const E: bool>(
    g: &Group<S, C, E>,
    bits: u8,
    z: &[S::f64s; C],
    active: &mut u8,
    ended: &mut [Ended],
    slot: &Lanes<usize>,
    status: impl Fn(usize) -> Status,
) {
    let zs: [Lanes<f64>; C] = std::array::from_fn(|j| g.scatter(z[j]));
    for l in set(bits) {
        let e = &mut ended[slot[l]];
        for j in 0..g.r() {
            e.z[j] = zs[j][l];
        }
        e.status = status(l);
    }
    *active &= !bits;
}

/// m*, ∂z*/∂(s²) and E at each lane's converged z* (docs/theory.md §5.3, Cholesky form above;
/// `info` each lane's iterations and residual), each lane's result handed to `sink` with its
/// lane (lanes past the group's systems skipped).
#[inline(always)]
fn finish<S: Simd, const C: usize, const E: bool>(
    g: &Group<S, C, E>,
    z: &[S::f64s; C],
    info: &Lanes<(usize, f64)>,
    mut sink: impl FnMut(usize, Result<&Solved, NumericalError>),
) {
    let s = g.simd;
    let (n, r) = (g.n(), g.r());
    let at = g.local(z);
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
        let (iterations, residual) = info[l];
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
