//! The lanes' loop: `super::super::run`'s control flow — budget, smallest step, last step, error
//! test, PI controller, stiffness test, output times, acceptance — for every lane at once, as
//! selects between per-lane arrays, so that the bookkeeping after a step is vector arithmetic as
//! the step is. Only what happens once per flow (start, end) or per delivered output runs lane by
//! lane; the output rounds after a step are in `outputs`.

// Lane loops mirror `super::super::run` expression for expression (see soa.rs).
#![allow(clippy::needless_range_loop)]
use super::super::stages::initial_step;
use super::super::{
    BETA, EXPO1, FAC1, FAC2, FAC_OLD_MIN, HMIN_REL, NONSTIFF_RESET, SAFE, STIFF_STEPS,
    STIFF_TEST_START, TOL_SCALE,
};
use super::soa::{rhs_one, Soa, V};
use super::{LaneEnd, LaneExp, LaneFlow, LaneJobs, LANES};

mod outputs;
use outputs::outputs;

type Mask = [bool; LANES];

/// Whether any lane of `mask` is set: an OR over all lanes rather than `Iterator::any`'s early
/// exit, so that it is one vector reduction, and inlined into the lanes' loop (out of line it
/// is compiled without the loop's vector features: 1.3 % of the τ₉₀ diagram's samples).
#[inline(always)]
fn any(mask: &Mask) -> bool {
    mask.iter().fold(false, |acc, &b| acc | b)
}

/// The lanes set in `mask`, in order: a loop over the set bits of a word, so that a loop over
/// few lanes runs only those (a loop over all lanes that skips the others has a branch per lane,
/// or the compiler vectorises it and computes every lane).
#[inline(always)]
fn set_lanes(mask: &Mask) -> impl Iterator<Item = usize> {
    let mut bits = 0u64;
    for l in 0..LANES {
        bits |= u64::from(mask[l]) << l;
    }
    std::iter::from_fn(move || {
        (bits != 0).then(|| {
            let l = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            l
        })
    })
}

/// Whether every lane of `mask` is set (one vector reduction, as [`any`]).
#[inline(always)]
fn all(mask: &Mask) -> bool {
    mask.iter().fold(true, |acc, &b| acc & b)
}

/// `if take { a } else { b }` as a blend of the bits (both values computed): in a loop over the
/// lanes it compiles to vector code, where a select between two loaded values can become a
/// branch, or a load from a selected address, per lane.
#[inline(always)]
fn blend(take: bool, a: f64, b: f64) -> f64 {
    let m = 0u64.wrapping_sub(u64::from(take));
    f64::from_bits((a.to_bits() & m) | (b.to_bits() & !m))
}

/// `dst[l] = src[l]` in the lanes of `mask` ([`blend`]).
#[inline(always)]
fn select_into(dst: &mut V, src: &V, mask: &Mask) {
    for l in 0..LANES {
        dst[l] = blend(mask[l], src[l], dst[l]);
    }
}

/// The per-lane state that is not the integrator's arithmetic. Counts are held as f64 (exact
/// below 2⁵³), so that every array is one vector type.
struct Lanes<const N: usize> {
    active: Mask,
    tag: [usize; LANES],
    t: V,
    h: V,
    t_end: V,
    /// Output points, points − 1 (the grid's divisor), t_end/(points − 1) (the grid's spacing)
    /// and its inverse (for estimates of a grid index; the grid itself is [`Self::times`]).
    points: V,
    span: V,
    spacing: V,
    density: V,
    /// The next output point to deliver.
    next: V,
    max_steps: V,
    attempts: V,
    accepted: V,
    ln_fac_old: V,
    reject: Mask,
    last: Mask,
    stiff: V,
    nonstiff: V,
    /// Lanes whose flow has a [`super::Watch`]: its weights, target, fraction, the weights over
    /// the target (for [`Soa::below`]) and the last output point evaluated (m, τ, k).
    watch: Mask,
    weights: [V; N],
    target: V,
    fraction: V,
    scaled: [V; N],
    prev: [V; N],
    prev_tau: V,
    prev_k: V,
    /// Lanes whose last point `prev_k` was not evaluated (in a step [`Soa::below`] cleared):
    /// that step's dense-output coefficients, y₁, t, h and t_new, to evaluate it if a crossing
    /// in a later step needs it.
    lazy: Mask,
    lazy_cont: [[V; N]; 5],
    lazy_end: [V; N],
    lazy_t: V,
    lazy_h: V,
    lazy_t_new: V,
}

impl<const N: usize> Lanes<N> {
    fn new() -> Self {
        let zero = [0.0; LANES];
        Self {
            active: [false; LANES],
            tag: [0; LANES],
            t: zero,
            h: zero,
            t_end: [1.0; LANES],
            points: [2.0; LANES],
            span: [1.0; LANES],
            spacing: [1.0; LANES],
            density: [1.0; LANES],
            next: zero,
            max_steps: zero,
            attempts: zero,
            accepted: zero,
            ln_fac_old: zero,
            reject: [false; LANES],
            last: [false; LANES],
            stiff: zero,
            nonstiff: zero,
            watch: [false; LANES],
            weights: [zero; N],
            target: [1.0; LANES],
            fraction: zero,
            scaled: [zero; N],
            prev: [zero; N],
            prev_tau: zero,
            prev_k: zero,
            lazy: [false; LANES],
            lazy_cont: [[zero; N]; 5],
            lazy_end: [zero; N],
            lazy_t: zero,
            lazy_h: [1.0; LANES],
            lazy_t_new: zero,
        }
    }

    /// Output time k of every lane ([`crate::ode::uniform_times`]'s formula).
    #[inline(always)]
    fn times(&self, k: &V) -> V {
        // The quotients first, in a loop of their own: in one loop with the select, the compiler
        // moves the division into a branch per lane.
        let mut out = [0.0; LANES];
        for l in 0..LANES {
            out[l] = self.t_end[l] * k[l] / self.span[l];
        }
        for l in 0..LANES {
            out[l] = if k[l] + 1.0 == self.points[l] {
                self.t_end[l]
            } else {
                out[l]
            };
        }
        out
    }

    /// In the lanes of `lanes`, the last output point at or before `t_new` (before the last one,
    /// which is due only in the last step): the estimate k = ⌊t_new·(points − 1)/t_end⌋ (by the
    /// product with `density`), corrected against [`Self::times`] until exact (any estimate gives
    /// the same point; a worse one only takes more rounds of the correction).
    #[inline(always)]
    fn last_due(&self, t_new: &V, lanes: &Mask) -> V {
        let mut k = [0.0; LANES];
        for l in 0..LANES {
            let est = (t_new[l] * self.density[l]).floor();
            // `clamp` by comparisons (`clamp`'s check of its bounds keeps the loop scalar); a lane
            // whose estimate is NaN is not in `lanes` (their t_new are finite), and not read.
            k[l] = est.max(0.0).min(self.points[l] - 2.0);
        }
        let mut next = [0.0; LANES];
        loop {
            // k + 1 in a loop of its own (`array::map` stays out of line).
            for l in 0..LANES {
                next[l] = k[l] + 1.0;
            }
            let (up, down) = (self.times(&next), self.times(&k));
            let mut moved = false;
            for l in 0..LANES {
                let step_up = lanes[l] & (k[l] + 1.0 <= self.points[l] - 2.0) & (up[l] <= t_new[l]);
                let step_down = lanes[l] & (k[l] > 0.0) & (down[l] > t_new[l]);
                moved |= step_up | step_down;
                k[l] += if step_up {
                    1.0
                } else if step_down {
                    -1.0
                } else {
                    0.0
                };
            }
            if !moved {
                return k;
            }
        }
    }
}

/// Start `f` in lane l: its parameters, m₀ (output 0), f(m₀) and the initial step. `false` if
/// it ended at once (then [`LaneJobs::end`] has been called).
#[inline(always)]
fn start<E: LaneExp, const N: usize, J: LaneJobs<N>>(
    soa: &mut Soa<N>,
    st: &mut Lanes<N>,
    l: usize,
    f: &LaneFlow<N>,
    jobs: &mut J,
) -> bool {
    let valid = f.t_end.is_finite()
        && f.t_end > 0.0
        && f.points >= 2
        && f.max_steps > 0
        && f.m0.iter().all(|v| v.is_finite());
    if !valid {
        jobs.end(f.tag, LaneEnd::Failed { tau: 0.0 });
        return false;
    }
    if f.watch.is_none() && !jobs.output(f.tag, 0, 0.0, &f.m0) {
        jobs.end(f.tag, LaneEnd::Stopped);
        return false;
    }
    let (rtol, atol) = (TOL_SCALE * f.rtol, TOL_SCALE * f.atol);
    let mut k1 = [0.0; N];
    rhs_one::<E, N>(f, &f.m0, &mut k1);
    let (mut arg, mut f1) = ([0.0; N], [0.0; N]);
    // The closure inlined too: out of line (LLVM's choice for n = 3, 4) it is baseline code,
    // whose `mul_add`s are calls of the software `fma` (see `start_for`).
    let h = initial_step(
        #[inline(always)]
        |a, b| rhs_one::<E, N>(f, a, b),
        &f.m0,
        &k1,
        (&mut arg, &mut f1),
        f.t_end,
        rtol,
        atol,
    );
    for i in 0..N {
        soa.y[i][l] = f.m0[i];
        soa.k[0][i][l] = k1[i];
        for j in 0..N {
            soa.p.gram[j][i][l] = f.gram[j][i];
        }
        st.prev[i][l] = f.m0[i];
    }
    soa.p.decay[l] = f.decay;
    soa.p.sd[l] = f.lambda_sd;
    soa.rtol[l] = rtol;
    soa.atol[l] = atol;
    st.active[l] = true;
    st.tag[l] = f.tag;
    st.t[l] = 0.0;
    st.h[l] = h;
    st.t_end[l] = f.t_end;
    st.points[l] = f.points as f64;
    st.span[l] = (f.points - 1) as f64;
    st.spacing[l] = f.t_end / st.span[l];
    st.density[l] = st.span[l] / f.t_end;
    st.next[l] = 1.0;
    st.max_steps[l] = f.max_steps as f64;
    st.attempts[l] = 0.0;
    st.accepted[l] = 0.0;
    st.ln_fac_old[l] = FAC_OLD_MIN.ln();
    st.reject[l] = false;
    st.stiff[l] = 0.0;
    st.nonstiff[l] = 0.0;
    st.watch[l] = f.watch.is_some();
    st.prev_tau[l] = 0.0;
    st.prev_k[l] = 0.0;
    st.lazy[l] = false;
    if let Some(w) = f.watch {
        for i in 0..N {
            st.weights[i][l] = w.weights[i];
            st.scaled[i][l] = w.weights[i] / w.target;
        }
        st.target[l] = w.target;
        st.fraction[l] = w.fraction;
    }
    true
}

/// The instruction sets `run` is compiled for (as the const parameter `ISA`: its caller's
/// `target_feature`s, [`super::run_lanes`]).
pub(super) const BASELINE: u8 = 0;
pub(super) const AVX2: u8 = 1;
pub(super) const AVX512: u8 = 2;

/// [`start`] for `run::<_, _, _, ISA>`: out of line, compiled for the same instruction set, so that
/// its `mul_add`s (f(m₀) and the initial step's evaluation) are FMA instructions, not calls of
/// the software `fma` of the baseline x86-64, and the lanes' loop stays as compact as without it
/// (inlined into the loop, the τ₉₀ diagram took ≈ 1.6 % more CPU time: docs/benchmarks.md, "τ₉₀
/// against JAX, seventh pass").
#[inline(always)]
fn start_for<E: LaneExp, const N: usize, J: LaneJobs<N>, const ISA: u8>(
    soa: &mut Soa<N>,
    st: &mut Lanes<N>,
    l: usize,
    f: &LaneFlow<N>,
    jobs: &mut J,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if ISA == AVX512 {
            // SAFETY: `run::<_, _, _, AVX512>` runs only in `run_avx512`, on a processor with its
            // features, which are `start_avx512`'s.
            return unsafe { start_avx512::<E, N, J>(soa, st, l, f, jobs) };
        }
        if ISA == AVX2 {
            // SAFETY: as above, `run_avx2`'s features.
            return unsafe { start_avx2::<E, N, J>(soa, st, l, f, jobs) };
        }
    }
    start_baseline::<E, N, J>(soa, st, l, f, jobs)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma,avx512f,avx512dq,avx512vl")]
unsafe fn start_avx512<E: LaneExp, const N: usize, J: LaneJobs<N>>(
    soa: &mut Soa<N>,
    st: &mut Lanes<N>,
    l: usize,
    f: &LaneFlow<N>,
    jobs: &mut J,
) -> bool {
    start::<E, N, J>(soa, st, l, f, jobs)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma")]
unsafe fn start_avx2<E: LaneExp, const N: usize, J: LaneJobs<N>>(
    soa: &mut Soa<N>,
    st: &mut Lanes<N>,
    l: usize,
    f: &LaneFlow<N>,
    jobs: &mut J,
) -> bool {
    start::<E, N, J>(soa, st, l, f, jobs)
}

#[inline(never)]
fn start_baseline<E: LaneExp, const N: usize, J: LaneJobs<N>>(
    soa: &mut Soa<N>,
    st: &mut Lanes<N>,
    l: usize,
    f: &LaneFlow<N>,
    jobs: &mut J,
) -> bool {
    start::<E, N, J>(soa, st, l, f, jobs)
}

/// End lane l's flow.
fn finish<const N: usize, J: LaneJobs<N>>(st: &mut Lanes<N>, l: usize, end: LaneEnd, jobs: &mut J) {
    st.active[l] = false;
    jobs.end(st.tag[l], end);
}

#[inline(always)]
pub(super) fn run<E: LaneExp, const N: usize, J: LaneJobs<N>, const ISA: u8>(jobs: &mut J) {
    let mut soa = Box::new(Soa::<N>::new());
    let mut st = Box::new(Lanes::<N>::new());
    let ln_fac_min = FAC_OLD_MIN.ln();
    loop {
        // Free lanes take the next flows (`end` may have queued more); the lanes are scanned only
        // when one is free (one vector test: the scan's branch per lane cost 1.4 % of the
        // kernel's samples).
        if !all(&st.active) {
            for l in 0..LANES {
                while !st.active[l] {
                    let Some(f) = jobs.next() else { break };
                    start_for::<E, N, J, ISA>(&mut soa, &mut st, l, &f, jobs);
                }
            }
        }
        if !any(&st.active) {
            return;
        }
        // Before the step: the budget, the smallest step, the last step (`super::super::run`).
        let mut fail = [false; LANES];
        for l in 0..LANES {
            let hmin = HMIN_REL * st.t[l].abs().max(1e-3 * st.t_end[l]);
            fail[l] = st.active[l] & ((st.attempts[l] >= st.max_steps[l]) | (st.h[l] < hmin));
        }
        if any(&fail) {
            for l in (0..LANES).filter(|&l| fail[l]) {
                let tau = st.t[l];
                finish(&mut st, l, LaneEnd::Failed { tau }, jobs);
            }
        }
        for l in 0..LANES {
            let last = st.t[l] + 1.01 * st.h[l] >= st.t_end[l];
            st.last[l] = last;
            st.h[l] = if last { st.t_end[l] - st.t[l] } else { st.h[l] };
            soa.h[l] = if st.active[l] { st.h[l] } else { 0.0 };
        }
        // The squared error norms.
        let err = soa.step::<E>();
        // The error test and the controller.
        let (mut accept, mut refuse, mut broken) = ([false; LANES], [false; LANES], [false; LANES]);
        let (mut ln_err, mut e, mut t_new) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
        for l in 0..LANES {
            let a = st.active[l];
            st.attempts[l] += if a { 1.0 } else { 0.0 };
            broken[l] = a & !err[l].is_finite();
            accept[l] = a & (err[l] <= 1.0);
            refuse[l] = a & (err[l] > 1.0) & err[l].is_finite();
        }
        // ln of the norm, from its square, and the controller's exponential, for all lanes at
        // once (`LaneExp`'s array forms).
        let mut clamped = [0.0; LANES];
        for l in 0..LANES {
            clamped[l] = err[l].max(1e-32);
        }
        let ln_sq = E::ln_lanes(&clamped);
        let mut arg = [0.0; LANES];
        for l in 0..LANES {
            ln_err[l] = 0.5 * ln_sq[l];
            // ρ = SAFE · facold^BETA / err^EXPO1 after an accepted step, SAFE / err^EXPO1 after a
            // rejected one (clamped below).
            arg[l] = if accept[l] {
                BETA * st.ln_fac_old[l] - EXPO1 * ln_err[l]
            } else {
                -EXPO1 * ln_err[l]
            };
        }
        let exp_arg = E::exp_lanes(&arg);
        for l in 0..LANES {
            e[l] = SAFE * exp_arg[l];
            st.accepted[l] += if accept[l] { 1.0 } else { 0.0 };
            st.ln_fac_old[l] = if accept[l] {
                ln_err[l].max(ln_fac_min)
            } else {
                st.ln_fac_old[l]
            };
            t_new[l] = if st.last[l] {
                st.t_end[l]
            } else {
                st.t[l] + st.h[l]
            };
        }
        // The stiffness test.
        let mut test = [false; LANES];
        for l in 0..LANES {
            test[l] = accept[l] & (st.accepted[l] >= STIFF_TEST_START as f64);
        }
        if any(&test) {
            let hl = soa.stiffness();
            let mut stiff_end = [false; LANES];
            for l in 0..LANES {
                let hit = test[l] & (hl[l] > 3.25);
                let calm = test[l] & !hit & (st.stiff[l] > 0.0);
                let nonstiff = st.nonstiff[l] + 1.0;
                st.nonstiff[l] = if hit {
                    0.0
                } else if calm {
                    nonstiff
                } else {
                    st.nonstiff[l]
                };
                st.stiff[l] = if hit {
                    st.stiff[l] + 1.0
                } else if calm & (nonstiff == NONSTIFF_RESET as f64) {
                    0.0
                } else {
                    st.stiff[l]
                };
                stiff_end[l] = hit & (st.stiff[l] == STIFF_STEPS as f64);
            }
            for l in (0..LANES).filter(|&l| stiff_end[l]) {
                accept[l] = false;
                finish(&mut st, l, LaneEnd::Stiff { tau: t_new[l] }, jobs);
            }
        }
        if any(&accept) {
            outputs(&mut soa, &mut st, &accept, &t_new, jobs);
        }
        // Accept (y ← y₁, k₁ ← k₇, FSAL; no growth right after a rejection) or shrink.
        let mut keep = [false; LANES];
        for l in 0..LANES {
            keep[l] = accept[l] & st.active[l];
        }
        for i in 0..N {
            select_into(&mut soa.y[i], &soa.ynew[i], &keep);
            let k7 = soa.k[6][i];
            select_into(&mut soa.k[0][i], &k7, &keep);
        }
        select_into(&mut st.t, &t_new, &keep);
        for l in 0..LANES {
            let h = st.h[l];
            // `clamp(FAC1, FAC2)` by comparisons (e is finite: `clamp`'s check of its bounds
            // keeps the loop scalar).
            #[allow(clippy::manual_clamp)]
            let grown = h * e[l].max(FAC1).min(FAC2);
            let grown = blend(st.reject[l], grown.min(h), grown);
            let shrunk = blend(refuse[l], h * e[l].max(FAC1), blend(broken[l], h * 0.25, h));
            st.h[l] = blend(keep[l], grown, shrunk);
            st.reject[l] = (st.reject[l] & !keep[l]) | refuse[l] | broken[l];
        }
    }
}
