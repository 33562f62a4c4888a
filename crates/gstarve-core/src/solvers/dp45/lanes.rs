//! DP45 across many small systems at once (issue #17): the method of [`super`] step for step —
//! the same stages, error norm, controller, stiffness test, dense output and output grid — on
//! [`LANES`] logistic margin flows side by side, stored as a struct of arrays (one array of
//! lanes per component and stage), so that the stages and σ(−m) of all lanes are computed by
//! the same vector instructions. Each lane keeps its own step size, acceptance, output cursor
//! and stiffness count, and takes the next flow of the queue ([`LaneJobs`]) as soon as its flow
//! ends; a lane's arithmetic never reads another lane, so a flow's result does not depend on
//! which flows share its steps (what makes batched and sharded sweeps equal to the one-system
//! path point by point).
//!
//! The flow of a lane is docs/theory.md §3.3's margin flow of the logistic loss,
//!
//! ```text
//! dm/dτ = K (σ(−m) − λ_SD m) − μ m,    K = U S² Uᵀ (n × n, n = r = N ≤ 4),
//! ```
//!
//! evaluated with the operations of [`crate::model::MarginFlowN`] in the same order. With
//! [`LibmExp`] every lane reproduces [`super::Dp45`] on that flow bit for bit (tested); with
//! [`FastExp`] (the branch-free exponential of [`crate::model::fast_exp`], which vectorises) the
//! exponentials differ from the platform's in the last bit now and then, and the results agree
//! to the integration tolerance (tested, and measured in docs/benchmarks.md). The code is
//! compiled for the processor's vector width and chosen at run time ([`run_lanes`]; no fused
//! multiply-adds, so the result does not depend on the instruction set).

// The lane loops index every array of the struct of arrays by the same lane l and component i,
// mirroring `Stages::step` expression for expression; iterator chains over six arrays would hide
// that correspondence.
#![allow(clippy::needless_range_loop)]
use super::stages::{
    initial_step, A21, A31, A32, A41, A42, A43, A51, A52, A53, A54, A61, A62, A63, A64, A65, A71,
    A73, A74, A75, A76, D1, D3, D4, D5, D6, D7, E1, E3, E4, E5, E6, E7,
};
use super::{
    BETA, EXPO1, FACC1, FACC2, FAC_OLD_MIN, HMIN_REL, NONSTIFF_RESET, SAFE, STIFF_STEPS,
    STIFF_TEST_START, TOL_SCALE,
};
use crate::model::{fast_exp, Loss, MarginFlowN};

/// Flows integrated side by side.
pub const LANES: usize = 8;
type V = [f64; LANES];

/// The exponential a lane evaluates σ(−m) and its step-size controller with.
pub trait LaneExp {
    /// e^x.
    fn exp(x: f64) -> f64;
}

/// The platform's `f64::exp`: the lanes reproduce [`super::Dp45`] bit for bit (not vectorised).
#[derive(Clone, Copy, Debug)]
pub struct LibmExp;

impl LaneExp for LibmExp {
    #[inline(always)]
    fn exp(x: f64) -> f64 {
        x.exp()
    }
}

/// [`fast_exp::exp`]: vectorised across the lanes, within 1 ulp.
#[derive(Clone, Copy, Debug)]
pub struct FastExp;

impl LaneExp for FastExp {
    #[inline(always)]
    fn exp(x: f64) -> f64 {
        fast_exp::exp(x)
    }
}

/// One flow for the lanes: the margin flow above from `m0` over [0, `t_end`], output at
/// `points` evenly spaced times (the driver's [`crate::ode::uniform_times`]), at the
/// tolerances the caller asks of [`super::Dp45`] (it applies [`TOL_SCALE`] itself).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LaneFlow<const N: usize> {
    /// K, column-major: `gram[j][i]` = K_ij.
    pub gram: [[f64; N]; N],
    /// μ = λ_L2.
    pub decay: f64,
    /// λ_SD.
    pub lambda_sd: f64,
    /// The initial margins.
    pub m0: [f64; N],
    /// The final time (> 0).
    pub t_end: f64,
    /// Output points, τ = 0 and `t_end` included (≥ 2).
    pub points: usize,
    /// Relative tolerance, as given to [`super::Dp45`].
    pub rtol: f64,
    /// Absolute tolerance, as given to [`super::Dp45`].
    pub atol: f64,
    /// Step attempts allowed.
    pub max_steps: u64,
    /// The caller's name for this flow, passed back with its outputs and its end.
    pub tag: usize,
}

impl<const N: usize> LaneFlow<N> {
    /// The parameters of `flow` (K, μ, λ_SD), if its model is the logistic loss without class
    /// targets (the only right-hand side the lanes evaluate); the rest is the caller's.
    pub fn parameters(flow: &MarginFlowN<N>) -> Option<([[f64; N]; N], f64, f64)> {
        let model = flow.model();
        (model.loss() == Loss::Logistic && model.examples().is_none())
            .then(|| (*flow.gram(), model.decay(), model.lambda_sd()))
    }
}

/// How a lane's flow ended.
#[derive(Clone, Debug, PartialEq)]
pub enum LaneEnd {
    /// Every output point was delivered.
    Done,
    /// [`LaneJobs::output`] asked to stop.
    Stopped,
    /// The stiffness test fired at τ (as [`crate::ode::StepFailure::Stiff`]).
    Stiff {
        /// Time reached.
        tau: f64,
    },
    /// The flow could not continue (invalid flow, step size underflow, budget, a non-finite
    /// output): the caller runs the one-system path, which reports the reason.
    Failed {
        /// Time reached.
        tau: f64,
    },
}

/// The queue of flows and the receiver of their outputs.
pub trait LaneJobs<const N: usize> {
    /// The next flow, if any (called whenever a lane is free, also after [`Self::end`]).
    fn next(&mut self) -> Option<LaneFlow<N>>;
    /// Output point `k` (at τ) of flow `tag`: the margins there. `false` stops the flow.
    fn output(&mut self, tag: usize, k: usize, tau: f64, m: &[f64; N]) -> bool;
    /// Flow `tag` ended.
    fn end(&mut self, tag: usize, end: LaneEnd);
}

/// The state of one lane that is not arithmetic across lanes.
#[derive(Clone, Copy, Debug)]
struct Control {
    tag: usize,
    t: f64,
    h: f64,
    t_end: f64,
    points: usize,
    next: usize,
    max_steps: u64,
    attempts: u64,
    accepted: u64,
    ln_fac_old: f64,
    reject: bool,
    breakdown: bool,
    last: bool,
    stiff: u32,
    nonstiff: u32,
}

impl Control {
    /// Output time k: [`crate::ode::uniform_times`]'s formula.
    #[inline]
    fn time(&self, k: usize) -> f64 {
        if k + 1 == self.points {
            self.t_end
        } else {
            self.t_end * k as f64 / (self.points - 1) as f64
        }
    }
}

/// The lanes' arrays: `x[i][l]` is component i of lane l.
struct Soa<const N: usize> {
    y: [V; N],
    k: [[V; N]; 7],
    arg: [V; N],
    y6: [V; N],
    ynew: [V; N],
    p: Params<N>,
    h: V,
    rtol: V,
    atol: V,
}

/// The lanes' flow parameters: `gram[j][i][l]` = K_ij of lane l, μ and λ_SD.
struct Params<const N: usize> {
    gram: [[V; N]; N],
    decay: V,
    sd: V,
}

/// σ(−x) as [`crate::model::sigmoid_neg`] computes it (e = e^{−|x|}; e/(1 + e) for x ≥ 0,
/// 1/(1 + e) otherwise), without a branch on x's sign.
#[inline(always)]
fn sigmoid_neg<E: LaneExp>(x: f64) -> f64 {
    let e = E::exp(-x.abs());
    let num = if x >= 0.0 { e } else { 1.0 };
    num / (1.0 + e)
}

/// The right-hand side for one lane (MarginFlowN's operations).
#[inline(always)]
fn rhs_one<E: LaneExp, const N: usize>(f: &LaneFlow<N>, m: &[f64], dm: &mut [f64]) {
    let mut w = [0.0; N];
    for (wi, &mi) in w.iter_mut().zip(m) {
        *wi = sigmoid_neg::<E>(mi) - f.lambda_sd * mi;
    }
    let mut out = [0.0; N];
    for (col, &wj) in f.gram.iter().zip(&w) {
        for (o, &kij) in out.iter_mut().zip(col) {
            *o += kij * wj;
        }
    }
    for ((d, o), &mi) in dm.iter_mut().zip(out).zip(m) {
        *d = o - f.decay * mi;
    }
}

/// The right-hand side of every lane at `m` into `dm`.
#[inline(always)]
fn rhs_lanes<E: LaneExp, const N: usize>(p: &Params<N>, m: &[V; N], dm: &mut [V; N]) {
    let mut w = [[0.0; LANES]; N];
    for (wi, mi) in w.iter_mut().zip(m) {
        for l in 0..LANES {
            wi[l] = sigmoid_neg::<E>(mi[l]) - p.sd[l] * mi[l];
        }
    }
    let mut out = [[0.0; LANES]; N];
    for (col, wj) in p.gram.iter().zip(&w) {
        for (o, kij) in out.iter_mut().zip(col) {
            for l in 0..LANES {
                o[l] += kij[l] * wj[l];
            }
        }
    }
    for ((d, o), mi) in dm.iter_mut().zip(&out).zip(m) {
        for l in 0..LANES {
            d[l] = o[l] - p.decay[l] * mi[l];
        }
    }
}

impl<const N: usize> Soa<N> {
    fn new() -> Self {
        Self {
            y: [[0.0; LANES]; N],
            k: [[[0.0; LANES]; N]; 7],
            arg: [[0.0; LANES]; N],
            y6: [[0.0; LANES]; N],
            ynew: [[0.0; LANES]; N],
            p: Params {
                gram: [[[0.0; LANES]; N]; N],
                decay: [0.0; LANES],
                sd: [0.0; LANES],
            },
            h: [0.0; LANES],
            rtol: [1.0; LANES],
            atol: [1.0; LANES],
        }
    }

    /// One step of every lane with its `h` (the expressions of `Stages::step`, lane by lane);
    /// the error norms (∞ where not finite).
    #[inline(always)]
    fn step<E: LaneExp>(&mut self) -> V {
        let h = self.h;
        for i in 0..N {
            for l in 0..LANES {
                self.arg[i][l] = self.y[i][l] + h[l] * A21 * self.k[0][i][l];
            }
        }
        rhs_lanes::<E, N>(&self.p, &self.arg, &mut self.k[1]);
        for i in 0..N {
            for l in 0..LANES {
                self.arg[i][l] =
                    self.y[i][l] + h[l] * (A31 * self.k[0][i][l] + A32 * self.k[1][i][l]);
            }
        }
        rhs_lanes::<E, N>(&self.p, &self.arg, &mut self.k[2]);
        for i in 0..N {
            for l in 0..LANES {
                self.arg[i][l] = self.y[i][l]
                    + h[l]
                        * (A41 * self.k[0][i][l] + A42 * self.k[1][i][l] + A43 * self.k[2][i][l]);
            }
        }
        rhs_lanes::<E, N>(&self.p, &self.arg, &mut self.k[3]);
        for i in 0..N {
            for l in 0..LANES {
                self.arg[i][l] = self.y[i][l]
                    + h[l]
                        * (A51 * self.k[0][i][l]
                            + A52 * self.k[1][i][l]
                            + A53 * self.k[2][i][l]
                            + A54 * self.k[3][i][l]);
            }
        }
        rhs_lanes::<E, N>(&self.p, &self.arg, &mut self.k[4]);
        for i in 0..N {
            for l in 0..LANES {
                self.y6[i][l] = self.y[i][l]
                    + h[l]
                        * (A61 * self.k[0][i][l]
                            + A62 * self.k[1][i][l]
                            + A63 * self.k[2][i][l]
                            + A64 * self.k[3][i][l]
                            + A65 * self.k[4][i][l]);
            }
        }
        rhs_lanes::<E, N>(&self.p, &self.y6, &mut self.k[5]);
        for i in 0..N {
            for l in 0..LANES {
                self.ynew[i][l] = self.y[i][l]
                    + h[l]
                        * (A71 * self.k[0][i][l]
                            + A73 * self.k[2][i][l]
                            + A74 * self.k[3][i][l]
                            + A75 * self.k[4][i][l]
                            + A76 * self.k[5][i][l]);
            }
        }
        rhs_lanes::<E, N>(&self.p, &self.ynew, &mut self.k[6]);
        let mut sum = [0.0; LANES];
        let mut finite = [true; LANES];
        for i in 0..N {
            for l in 0..LANES {
                finite[l] &= self.ynew[i][l].is_finite();
                let e = h[l]
                    * (E1 * self.k[0][i][l]
                        + E3 * self.k[2][i][l]
                        + E4 * self.k[3][i][l]
                        + E5 * self.k[4][i][l]
                        + E6 * self.k[5][i][l]
                        + E7 * self.k[6][i][l]);
                let sc =
                    self.atol[l] + self.rtol[l] * self.y[i][l].abs().max(self.ynew[i][l].abs());
                sum[l] += (e / sc) * (e / sc);
            }
        }
        let mut err = [0.0; LANES];
        for l in 0..LANES {
            let e = (sum[l] / N as f64).sqrt();
            err[l] = if finite[l] && e.is_finite() {
                e
            } else {
                f64::INFINITY
            };
        }
        err
    }

    /// Lane l's stiffness estimate h·λ̂ (`Stages::stiffness`).
    fn stiffness(&self, l: usize, h: f64) -> f64 {
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..N {
            num += (self.k[6][i][l] - self.k[5][i][l]).powi(2);
            den += (self.ynew[i][l] - self.y6[i][l]).powi(2);
        }
        if den > 0.0 {
            h * (num / den).sqrt()
        } else {
            0.0
        }
    }

    /// Lane l's dense output at θ of the step from y of size h (`prepare_dense` and `dense`).
    fn dense(&self, l: usize, h: f64, theta: f64) -> [f64; N] {
        let k = &self.k;
        let t1 = 1.0 - theta;
        let mut out = [0.0; N];
        for (i, o) in out.iter_mut().enumerate() {
            let y = self.y[i][l];
            let ydiff = self.ynew[i][l] - y;
            let bspl = h * k[0][i][l] - ydiff;
            let r4 = ydiff - h * k[6][i][l] - bspl;
            let r5 = h
                * (D1 * k[0][i][l]
                    + D3 * k[2][i][l]
                    + D4 * k[3][i][l]
                    + D5 * k[4][i][l]
                    + D6 * k[5][i][l]
                    + D7 * k[6][i][l]);
            *o = y + theta * (ydiff + t1 * (bspl + theta * (r4 + t1 * r5)));
        }
        out
    }
}

/// Integrate every flow of `jobs` ([`LaneJobs::next`] until it returns `None` with no lane
/// running), [`LANES`] at a time, with the exponential `E`.
///
/// The lane loops are plain array loops that the compiler vectorises; they are compiled for
/// AVX-512 (8 lanes in one register) and AVX2 besides the baseline, and the widest the processor
/// has runs (detected at run time). pulp's dispatch would serve for AVX2, but its AVX-512 level
/// needs a pulp feature the workspace does not enable. No level enables FMA, so every level
/// computes the same bits.
pub fn run_lanes<E: LaneExp, const N: usize, J: LaneJobs<N>>(jobs: &mut J) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            // SAFETY: the processor has the features `run_avx512` is compiled for.
            return unsafe { run_avx512::<E, N, J>(jobs) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has the features `run_avx2` is compiled for.
            return unsafe { run_avx2::<E, N, J>(jobs) };
        }
    }
    run::<E, N, J>(jobs)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,avx512f,avx512dq,avx512vl")]
unsafe fn run_avx512<E: LaneExp, const N: usize, J: LaneJobs<N>>(jobs: &mut J) {
    run::<E, N, J>(jobs)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2")]
unsafe fn run_avx2<E: LaneExp, const N: usize, J: LaneJobs<N>>(jobs: &mut J) {
    run::<E, N, J>(jobs)
}

/// Start `f` in lane l: its parameters, m₀ (output 0), f(m₀) and the initial step. `None` if it
/// ended at once (then [`LaneJobs::end`] has been called).
#[inline(always)]
fn start<E: LaneExp, const N: usize, J: LaneJobs<N>>(
    soa: &mut Soa<N>,
    l: usize,
    f: &LaneFlow<N>,
    jobs: &mut J,
) -> Option<Control> {
    let valid = f.t_end.is_finite()
        && f.t_end > 0.0
        && f.points >= 2
        && f.max_steps > 0
        && f.m0.iter().all(|v| v.is_finite());
    if !valid {
        jobs.end(f.tag, LaneEnd::Failed { tau: 0.0 });
        return None;
    }
    if !jobs.output(f.tag, 0, 0.0, &f.m0) {
        jobs.end(f.tag, LaneEnd::Stopped);
        return None;
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
    }
    soa.p.decay[l] = f.decay;
    soa.p.sd[l] = f.lambda_sd;
    soa.rtol[l] = rtol;
    soa.atol[l] = atol;
    Some(Control {
        tag: f.tag,
        t: 0.0,
        h,
        t_end: f.t_end,
        points: f.points,
        next: 1,
        max_steps: f.max_steps,
        attempts: 0,
        accepted: 0,
        ln_fac_old: FAC_OLD_MIN.ln(),
        reject: false,
        breakdown: false,
        last: false,
        stiff: 0,
        nonstiff: 0,
    })
}

#[inline(always)]
fn run<E: LaneExp, const N: usize, J: LaneJobs<N>>(jobs: &mut J) {
    let mut soa = Box::new(Soa::<N>::new());
    let mut lanes: [Option<Control>; LANES] = [None; LANES];
    loop {
        // Free lanes take the next flows (`end` may have queued more).
        for (l, lane) in lanes.iter_mut().enumerate() {
            while lane.is_none() {
                let Some(f) = jobs.next() else { break };
                *lane = start::<E, N, J>(&mut soa, l, &f, jobs);
            }
        }
        if lanes.iter().all(Option::is_none) {
            return;
        }
        // Before the step: the budget, the smallest step, the last step (`super::run`).
        for (l, lane) in lanes.iter_mut().enumerate() {
            soa.h[l] = 0.0;
            let Some(c) = lane else { continue };
            let hmin = HMIN_REL * c.t.abs().max(1e-3 * c.t_end);
            if c.attempts >= c.max_steps || c.h < hmin {
                jobs.end(c.tag, LaneEnd::Failed { tau: c.t });
                *lane = None;
                continue;
            }
            c.last = c.t + 1.01 * c.h >= c.t_end;
            if c.last {
                c.h = c.t_end - c.t;
            }
            soa.h[l] = c.h;
        }
        let err = soa.step::<E>();
        for (l, lane) in lanes.iter_mut().enumerate() {
            let Some(c) = lane else { continue };
            c.attempts += 1;
            let err = err[l];
            if !err.is_finite() {
                c.reject = true;
                c.breakdown = true;
                c.h *= 0.25;
                continue;
            }
            c.breakdown = false;
            let ln_err = err.max(1e-16).ln();
            if err > 1.0 {
                c.reject = true;
                c.h /= (E::exp(EXPO1 * ln_err) / SAFE).min(FACC1);
                continue;
            }
            c.accepted += 1;
            let fac = (E::exp(EXPO1 * ln_err - BETA * c.ln_fac_old) / SAFE).clamp(FACC2, FACC1);
            c.ln_fac_old = ln_err.max(FAC_OLD_MIN.ln());
            let t_new = if c.last { c.t_end } else { c.t + c.h };
            if c.accepted >= STIFF_TEST_START {
                if soa.stiffness(l, c.h) > 3.25 {
                    c.nonstiff = 0;
                    c.stiff += 1;
                    if c.stiff == STIFF_STEPS {
                        jobs.end(c.tag, LaneEnd::Stiff { tau: t_new });
                        *lane = None;
                        continue;
                    }
                } else if c.stiff > 0 {
                    c.nonstiff += 1;
                    if c.nonstiff == NONSTIFF_RESET {
                        c.stiff = 0;
                    }
                }
            }
            // The output times due, from the new state or the dense output.
            let mut ended = None;
            while c.next < c.points {
                let tau = c.time(c.next);
                if !(c.last || tau <= t_new) {
                    break;
                }
                let m = if tau >= t_new {
                    std::array::from_fn(|i| soa.ynew[i][l])
                } else {
                    soa.dense(l, c.h, (tau - c.t) / c.h)
                };
                let k = c.next;
                c.next += 1;
                if !m.iter().all(|v| v.is_finite()) {
                    ended = Some(LaneEnd::Failed { tau });
                    break;
                }
                if !jobs.output(c.tag, k, tau, &m) {
                    ended = Some(LaneEnd::Stopped);
                    break;
                }
            }
            if ended.is_none() && c.last {
                ended = Some(LaneEnd::Done);
            }
            if let Some(end) = ended {
                jobs.end(c.tag, end);
                *lane = None;
                continue;
            }
            // Accept: y ← y₁, k₁ ← k₇ (FSAL).
            for i in 0..N {
                soa.y[i][l] = soa.ynew[i][l];
                soa.k[0][i][l] = soa.k[6][i][l];
            }
            c.t = t_new;
            let mut h_new = c.h / fac;
            if c.reject {
                h_new = h_new.min(c.h);
            }
            c.reject = false;
            c.h = h_new;
        }
    }
}
