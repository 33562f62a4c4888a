//! The output rounds after an accepted step of the lanes' loop (`super::run`): the points due,
//! the watched crossings, their calls of [`LaneJobs::output`], and a flow's last point.

// Lane loops mirror `super::super::super::run` expression for expression (see soa.rs).
#![allow(clippy::needless_range_loop)]
use super::super::soa::{self, Soa, V};
use super::super::{LaneEnd, LaneJobs, LANES};
use super::{any, finish, select_into, set_lanes, Lanes, Mask};

/// Due lanes up to which an output round runs lane by lane ([`round_lane`]) rather than over all
/// [`LANES`] (91 387 of the 256² τ₉₀ diagram's 115 509 rounds have at most 2), and lanes up to
/// which [`Soa::rising`] does.
const FEW_DUE: usize = 4;

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
pub(super) fn outputs<const N: usize, J: LaneJobs<N>>(
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
        let jumps = count(&jump);
        if (1..=FEW_DUE).contains(&jumps) {
            // Few lanes (most steps that test): `Soa::rising` and the point in those lanes only.
            for l in set_lanes(&jump) {
                let (rising, root) =
                    soa.rising_lane(&st.scaled, st.fraction[l], half_spacing(st, l), l);
                jump[l] = rising;
                first[l] = first_after(st, l, root);
            }
        } else if jumps > 0 {
            let mut spacing = [0.0; LANES];
            for l in 0..LANES {
                spacing[l] = half_spacing(st, l);
            }
            let (rising, root) = soa.rising(&st.scaled, &st.fraction, &spacing);
            for l in 0..LANES {
                jump[l] &= rising[l];
                first[l] = first_after(st, l, root[l]);
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
        let mut at_end = [false; LANES];
        let mut dues = 0usize;
        for l in 0..LANES {
            due[l] = pending[l] & (st.next[l] < st.points[l]) & (st.last[l] | (tau[l] <= t_new[l]));
            at_end[l] = tau[l] >= t_new[l];
            dues += usize::from(due[l]);
        }
        if dues == 0 {
            break;
        }
        if dues <= FEW_DUE {
            // Few lanes due (most rounds): the same arithmetic lane by lane, only in those.
            for l in set_lanes(&due) {
                round_lane(soa, st, l, (tau[l], at_end[l]), (&from, jumped[l]), jobs);
            }
            jumped = [false; LANES];
            for l in 0..LANES {
                pending[l] &= st.active[l];
            }
            continue;
        }
        let mut theta = [0.0; LANES];
        for l in 0..LANES {
            theta[l] = (tau[l] - st.t[l]) / st.h[l];
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
            for l in set_lanes(&call) {
                let state: [f64; N] = std::array::from_fn(|i| m[i][l]);
                deliver(st, l, (tau[l], crossing[l]), &state, jobs);
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
    // Without a watch, the last step ends the flow once its points are delivered (the lanes
    // found by one vector test: a loop with a branch per lane cost 1.8 % of the kernel's samples).
    let mut done = [false; LANES];
    for l in 0..LANES {
        done[l] = accept[l] & st.active[l] & st.last[l];
    }
    if any(&done) {
        for l in set_lanes(&done) {
            finish(st, l, LaneEnd::Done, jobs);
        }
    }
}

/// The lanes set in `mask`, summed over all lanes (one vector reduction).
#[inline(always)]
fn count(mask: &Mask) -> usize {
    mask.iter().map(|&b| usize::from(b)).sum()
}

/// Lane l's output spacing t_end/(points − 1) in θ of its step, halved (for rounding): the
/// spacing [`Soa::rising`] tests its slope against.
#[inline(always)]
fn half_spacing<const N: usize>(st: &Lanes<N>, l: usize) -> f64 {
    0.5 * st.spacing[l] / st.h[l]
}

/// The first output point of lane l at or after θ = `root` of its step (the crossing that
/// [`Soa::rising`] estimates).
#[inline(always)]
fn first_after<const N: usize>(st: &Lanes<N>, l: usize, root: f64) -> f64 {
    let tau = st.t[l] + root * st.h[l];
    (tau * st.span[l] / st.t_end[l]).ceil()
}

/// An output round of `outputs` in lane l alone (due there, at τ, or at y₁ itself where
/// `at_end`): θ, the dense output, the crossing test, the call and the cursor's update, with the
/// expressions of the round over all lanes (`Soa::dense`'s polynomial), so the same bits. In a
/// round with at most [`FEW_DUE`] lanes due this replaces the round's divisions and dense output
/// in all [`LANES`] lanes.
#[inline(always)]
fn round_lane<const N: usize, J: LaneJobs<N>>(
    soa: &Soa<N>,
    st: &mut Lanes<N>,
    l: usize,
    (tau, at_end): (f64, bool),
    (from, jumped): (&V, bool),
    jobs: &mut J,
) {
    let (th, t1) = {
        let th = (tau - st.t[l]) / st.h[l];
        (th, 1.0 - th)
    };
    let c = &soa.cont;
    let m: [f64; N] = std::array::from_fn(|i| {
        if at_end {
            soa.ynew[i][l]
        } else {
            c[0][i][l] + th * (c[1][i][l] + t1 * (c[2][i][l] + th * (c[3][i][l] + t1 * c[4][i][l])))
        }
    });
    let mut acc = 0.0;
    let mut poison = 0.0;
    for i in 0..N {
        acc += st.weights[i][l] * m[i];
        poison += soa::poison(m[i]);
    }
    let finite = poison == 0.0;
    let crossed = (st.next[l] >= 1.0) & (acc / st.target[l] >= st.fraction[l]);
    let end = st.next[l] + 1.0 == st.points[l];
    if finite & jumped & crossed {
        st.next[l] = from[l];
        return;
    }
    if !finite | !st.watch[l] | crossed | end {
        deliver(st, l, (tau, crossed), &m, jobs);
    }
    if st.active[l] {
        for i in 0..N {
            st.prev[i][l] = m[i];
        }
        st.prev_tau[l] = tau;
        st.prev_k[l] = st.next[l];
        st.lazy[l] = false;
        st.next[l] += 1.0;
    }
}

/// Output point `st.next[l]` of lane l, at τ with the state `state` (`crossed`: its watch's
/// test holds there): the calls of [`super::Watch`]'s contract, and the end they imply.
#[cold]
fn deliver<const N: usize, J: LaneJobs<N>>(
    st: &mut Lanes<N>,
    l: usize,
    (tau, crossed): (f64, bool),
    state: &[f64; N],
    jobs: &mut J,
) {
    let k = st.next[l] as usize;
    if !state.iter().all(|v| v.is_finite()) {
        return finish(st, l, LaneEnd::Failed { tau }, jobs);
    }
    if !st.watch[l] {
        if !jobs.output(st.tag[l], k, tau, state) {
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
    jobs.output(st.tag[l], k, tau, state);
    let end = if crossed {
        LaneEnd::Stopped
    } else {
        LaneEnd::Done
    };
    finish(st, l, end, jobs);
}
