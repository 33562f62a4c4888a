//! The lanes' loop: `super::super::run`'s control flow — budget, smallest step, last step, error
//! test, PI controller, stiffness test, output times, acceptance — for every lane at once, as
//! selects between per-lane arrays, so that the bookkeeping after a step is vector arithmetic as
//! the step is. Only what happens once per flow (start, end) or per delivered output runs lane by
//! lane.

// Lane loops mirror `super::super::run` expression for expression (see soa.rs).
#![allow(clippy::needless_range_loop)]
use super::super::stages::initial_step;
use super::super::{
    BETA, EXPO1, FAC1, FAC2, FAC_OLD_MIN, HMIN_REL, NONSTIFF_RESET, SAFE, STIFF_STEPS,
    STIFF_TEST_START, TOL_SCALE,
};
use super::soa::{self, rhs_one, Soa, V};
use super::{LaneEnd, LaneExp, LaneFlow, LaneJobs, LANES};

type Mask = [bool; LANES];

fn any(mask: &Mask) -> bool {
    mask.iter().any(|&b| b)
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
    let h = initial_step(
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

/// End lane l's flow.
fn finish<const N: usize, J: LaneJobs<N>>(st: &mut Lanes<N>, l: usize, end: LaneEnd, jobs: &mut J) {
    st.active[l] = false;
    jobs.end(st.tag[l], end);
}

#[inline(always)]
pub(super) fn run<E: LaneExp, const N: usize, J: LaneJobs<N>>(jobs: &mut J) {
    let mut soa = Box::new(Soa::<N>::new());
    let mut st = Box::new(Lanes::<N>::new());
    let ln_fac_min = FAC_OLD_MIN.ln();
    loop {
        // Free lanes take the next flows (`end` may have queued more).
        for l in 0..LANES {
            while !st.active[l] {
                let Some(f) = jobs.next() else { break };
                start::<E, N, J>(&mut soa, &mut st, l, &f, jobs);
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

/// The output points due in the step just taken, in the lanes where it was accepted: every one
/// delivered to [`LaneJobs::output`], or with a watch only the ones its contract names (the
/// others evaluated only as far as the crossing test needs: not at all in a step that
/// [`Soa::below`] clears; the last point in it, which a crossing in a later step needs, is
/// evaluated from the step's coefficients, kept, only if that crossing comes).
///
/// In a step where the watched sum rises between output points by more than rounding can undo
/// ([`Soa::rising`]), the test holds from the first crossing on, so the points before the one
/// just ahead of the crossing estimated on the dense output need no test: the lane starts there
/// (if that point already crosses, it goes back to the step's first point and tests every point
/// in order, as without the estimate). The points delivered are the same, bit for bit.
#[inline(always)]
fn outputs<const N: usize, J: LaneJobs<N>>(
    soa: &mut Soa<N>,
    st: &mut Lanes<N>,
    accept: &Mask,
    t_new: &V,
    jobs: &mut J,
) {
    soa.prepare_dense();
    // Where a watched lane jumped ahead (see below), the point it would have evaluated first.
    let from = st.next;
    let mut jumped = [false; LANES];
    if any(&st.watch) {
        let below = soa.below(&st.scaled, &st.fraction);
        let (mut skip, mut jump, mut first) = ([false; LANES], [false; LANES], [0.0; LANES]);
        for l in 0..LANES {
            // In a flow's last step `last_due` stops before the last point, which is delivered.
            let watched = accept[l] & st.watch[l];
            skip[l] = watched & below[l];
            jump[l] = watched & !below[l];
        }
        if any(&jump) {
            let mut spacing = [0.0; LANES];
            for l in 0..LANES {
                // Output points are t_end/(points − 1) apart; half that in θ, for rounding.
                spacing[l] = 0.5 * st.spacing[l] / st.h[l];
            }
            let (rising, root) = soa.rising(&st.scaled, &st.fraction, &spacing);
            for l in 0..LANES {
                jump[l] &= rising[l];
                // The first output point at or after the estimated crossing.
                let tau = st.t[l] + root[l] * st.h[l];
                first[l] = (tau * st.span[l] / st.t_end[l]).ceil();
            }
        }
        let mut moved = [false; LANES];
        for l in 0..LANES {
            moved[l] = skip[l] | jump[l];
        }
        if any(&moved) {
            let last = st.last_due(t_new, &moved);
            // Outside a flow's last step a cleared step's last point is kept unevaluated (its
            // step's coefficients kept instead), as the point before a later crossing.
            let mut keep = [false; LANES];
            for l in 0..LANES {
                keep[l] = skip[l] & !st.last[l] & (last[l] >= st.next[l]);
            }
            if any(&keep) {
                for (saved, c) in st.lazy_cont.iter_mut().zip(&soa.cont) {
                    for i in 0..N {
                        select_into(&mut saved[i], &c[i], &keep);
                    }
                }
                for i in 0..N {
                    select_into(&mut st.lazy_end[i], &soa.ynew[i], &keep);
                }
                select_into(&mut st.lazy_t, &st.t, &keep);
                select_into(&mut st.lazy_h, &st.h, &keep);
                select_into(&mut st.lazy_t_new, t_new, &keep);
                select_into(&mut st.prev_k, &last, &keep);
                for l in 0..LANES {
                    st.lazy[l] |= keep[l];
                }
            }
            for l in 0..LANES {
                let target = if skip[l] {
                    last[l]
                } else {
                    (first[l] - 1.0).min(last[l])
                };
                st.next[l] = if keep[l] {
                    last[l] + 1.0
                } else if moved[l] {
                    st.next[l].max(target)
                } else {
                    st.next[l]
                };
                jumped[l] = jump[l] & (st.next[l] > from[l]);
            }
        }
    }
    let mut pending = *accept;
    loop {
        let tau = st.times(&st.next);
        let mut due = [false; LANES];
        let mut theta = [0.0; LANES];
        let mut at_end = [false; LANES];
        for l in 0..LANES {
            theta[l] = (tau[l] - st.t[l]) / st.h[l];
        }
        for l in 0..LANES {
            due[l] = pending[l] & (st.next[l] < st.points[l]) & (st.last[l] | (tau[l] <= t_new[l]));
            at_end[l] = tau[l] >= t_new[l];
        }
        if !any(&due) {
            break;
        }
        let m = soa.dense(&theta, &at_end);
        // Lanes that need a call: a non-finite state, every point without a watch, the crossing
        // and the last point with one.
        let (mut call, mut crossing, mut back) = ([false; LANES], [false; LANES], [false; LANES]);
        for l in 0..LANES {
            let mut acc = 0.0;
            let mut poison = 0.0;
            for i in 0..N {
                acc += st.weights[i][l] * m[i][l];
                poison += soa::poison(m[i][l]);
            }
            let finite = poison == 0.0;
            let crossed = (st.next[l] >= 1.0) & (acc / st.target[l] >= st.fraction[l]);
            let end = st.next[l] + 1.0 == st.points[l];
            // A lane that jumped past points and crosses at the first one it evaluates may have
            // crossed at one of those: it goes back and tests them in order.
            back[l] = due[l] & finite & jumped[l] & crossed;
            call[l] = due[l] & !back[l] & (!finite | !st.watch[l] | crossed | end);
            crossing[l] = crossed;
        }
        if any(&call) {
            for l in (0..LANES).filter(|&l| call[l]) {
                deliver(st, l, (tau[l], crossing[l]), &m, jobs);
            }
        }
        let mut take = [false; LANES];
        for l in 0..LANES {
            take[l] = due[l] & st.active[l] & !back[l];
        }
        select_into(&mut st.next, &from, &back);
        for i in 0..N {
            select_into(&mut st.prev[i], &m[i], &take);
        }
        select_into(&mut st.prev_tau, &tau, &take);
        select_into(&mut st.prev_k, &st.next, &take);
        for l in 0..LANES {
            jumped[l] = false;
            st.lazy[l] &= !take[l];
            st.next[l] += if take[l] { 1.0 } else { 0.0 };
            pending[l] &= st.active[l];
        }
    }
    // Without a watch, the last step ends the flow once its points are delivered.
    for l in 0..LANES {
        if accept[l] && st.active[l] && st.last[l] {
            finish(st, l, LaneEnd::Done, jobs);
        }
    }
}

/// Output point `st.next[l]` of lane l, at τ with the states `m` (`crossed`: its watch's
/// test holds there): the calls of [`super::Watch`]'s contract, and the end they imply.
#[cold]
fn deliver<const N: usize, J: LaneJobs<N>>(
    st: &mut Lanes<N>,
    l: usize,
    (tau, crossed): (f64, bool),
    m: &[V; N],
    jobs: &mut J,
) {
    let k = st.next[l] as usize;
    let state: [f64; N] = std::array::from_fn(|i| m[i][l]);
    if !state.iter().all(|v| v.is_finite()) {
        return finish(st, l, LaneEnd::Failed { tau }, jobs);
    }
    if !st.watch[l] {
        if !jobs.output(st.tag[l], k, tau, &state) {
            finish(st, l, LaneEnd::Stopped, jobs);
        }
        return;
    }
    // A watch: the crossing (or the last point) and the point before it, then the end.
    let (prev, prev_tau) = if st.lazy[l] {
        // Evaluated as `outputs` would have in its step (`Lanes::times`, `Soa::dense`).
        let k = [st.prev_k[l]; LANES];
        let tau = st.times(&k)[l];
        let (th, t1) = {
            let th = (tau - st.lazy_t[l]) / st.lazy_h[l];
            (th, 1.0 - th)
        };
        let c = &st.lazy_cont;
        let state: [f64; N] = std::array::from_fn(|i| {
            if tau >= st.lazy_t_new[l] {
                st.lazy_end[i][l]
            } else {
                c[0][i][l]
                    + th * (c[1][i][l] + t1 * (c[2][i][l] + th * (c[3][i][l] + t1 * c[4][i][l])))
            }
        });
        (state, tau)
    } else {
        (std::array::from_fn(|i| st.prev[i][l]), st.prev_tau[l])
    };
    if !prev.iter().all(|v| v.is_finite()) {
        return finish(st, l, LaneEnd::Failed { tau: prev_tau }, jobs);
    }
    jobs.output(st.tag[l], st.prev_k[l] as usize, prev_tau, &prev);
    jobs.output(st.tag[l], k, tau, &state);
    let end = if crossed {
        LaneEnd::Stopped
    } else {
        LaneEnd::Done
    };
    finish(st, l, end, jobs);
}
