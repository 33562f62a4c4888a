//! The Dormand–Prince 5(4) step on preallocated stages: the coefficients of `dopri5.f`, the
//! step with its error norm, the continuous extension `CONTD5`, the stiffness estimate h·λ̂ and
//! Hairer's initial step.

use crate::ode::OdeProblem;

// --- Dormand–Prince 5(4): dopri5.f (CDOPRI). ---
pub(super) const A21: f64 = 1.0 / 5.0;
pub(super) const A31: f64 = 3.0 / 40.0;
pub(super) const A32: f64 = 9.0 / 40.0;
pub(super) const A41: f64 = 44.0 / 45.0;
pub(super) const A42: f64 = -56.0 / 15.0;
pub(super) const A43: f64 = 32.0 / 9.0;
pub(super) const A51: f64 = 19372.0 / 6561.0;
pub(super) const A52: f64 = -25360.0 / 2187.0;
pub(super) const A53: f64 = 64448.0 / 6561.0;
pub(super) const A54: f64 = -212.0 / 729.0;
pub(super) const A61: f64 = 9017.0 / 3168.0;
pub(super) const A62: f64 = -355.0 / 33.0;
pub(super) const A63: f64 = 46732.0 / 5247.0;
pub(super) const A64: f64 = 49.0 / 176.0;
pub(super) const A65: f64 = -5103.0 / 18656.0;
pub(super) const A71: f64 = 35.0 / 384.0;
pub(super) const A73: f64 = 500.0 / 1113.0;
pub(super) const A74: f64 = 125.0 / 192.0;
pub(super) const A75: f64 = -2187.0 / 6784.0;
pub(super) const A76: f64 = 11.0 / 84.0;
/// Error coefficients (5th − 4th order weights).
pub(super) const E1: f64 = 71.0 / 57600.0;
pub(super) const E3: f64 = -71.0 / 16695.0;
pub(super) const E4: f64 = 71.0 / 1920.0;
pub(super) const E5: f64 = -17253.0 / 339200.0;
pub(super) const E6: f64 = 22.0 / 525.0;
pub(super) const E7: f64 = -1.0 / 40.0;
/// Dense output (CONTD5).
pub(super) const D1: f64 = -12715105075.0 / 11282082432.0;
pub(super) const D3: f64 = 87487479700.0 / 32700410799.0;
pub(super) const D4: f64 = -10690763975.0 / 1880347072.0;
pub(super) const D5: f64 = 701980252875.0 / 199316789632.0;
pub(super) const D6: f64 = -1453857185.0 / 822651844.0;
pub(super) const D7: f64 = 69997945.0 / 29380423.0;

/// What the step loop of [`super::run`] needs of its storage: the state y, the stages, the new
/// state and the dense output. [`Stages`] serves any dimension (on the heap);
/// [`super::fixed::Fixed`] a dimension known at compile time (arrays the compiler keeps in
/// registers). Both compute the same bits.
pub(super) trait StageStore: Sized {
    /// The storage for a run from y₀ with k₁ = f(y₀), and Hairer's initial step (two
    /// evaluations of f).
    fn start(
        problem: &(impl OdeProblem + ?Sized),
        y0: &[f64],
        t_end: f64,
        rtol: f64,
        atol: f64,
    ) -> (Self, f64);
    /// The dimension.
    fn dim(&self) -> usize;
    /// One step of size h from y with k₁ = f(y): fills k₂ … k₇, y₁ and ŷ₆, and returns the
    /// squared error norm (∞ if the new state or the error estimate is not finite; then the
    /// dense output, a combination of finite stages, is finite too).
    fn step(&mut self, problem: &(impl OdeProblem + ?Sized), h: f64, rtol: f64, atol: f64) -> f64;
    /// The new state y₁ of the step just taken.
    fn ynew(&self) -> &[f64];
    /// Accept the step just taken: y ← y₁, and (FSAL) k₁ ← k₇ = f(y₁).
    fn accept(&mut self);
    /// Dense-output coefficients of the step y → y₁ just taken (CONTD5 of dopri5.f).
    fn prepare_dense(&mut self, h: f64);
    /// The dense output at θ ∈ [0, 1] of the step just taken, into `out`.
    fn dense(&self, theta: f64, out: &mut [f64]);
    /// h·λ̂, the stiffness estimate of dopri5.f, after a step (k₇ = f(y₁), k₆ = f(ŷ₆)).
    fn stiffness(&self, h: f64) -> f64;
}

/// Stage storage of any dimension, preallocated once.
pub(super) struct Stages {
    n: usize,
    /// The state y.
    y: Vec<f64>,
    /// k₁ … k₇ (k₇ = f(y₁), FSAL), each n long.
    k: Vec<f64>,
    /// Stage argument.
    arg: Vec<f64>,
    /// The argument of stage 6 (for the stiffness test).
    y6: Vec<f64>,
    /// The new state y₁.
    ynew: Vec<f64>,
    /// Dense-output coefficients r₁ … r₅ of the last accepted step.
    cont: Vec<f64>,
}

impl StageStore for Stages {
    fn start(
        problem: &(impl OdeProblem + ?Sized),
        y0: &[f64],
        t_end: f64,
        rtol: f64,
        atol: f64,
    ) -> (Self, f64) {
        let n = y0.len();
        let mut st = Self {
            n,
            y: y0.to_vec(),
            k: vec![0.0; 7 * n],
            arg: vec![0.0; n],
            y6: vec![0.0; n],
            ynew: vec![0.0; n],
            cont: vec![0.0; 5 * n],
        };
        problem.rhs(&st.y, &mut st.k[..n]);
        let (k1, rest) = st.k.split_at_mut(n);
        let h = initial_step(
            |a, b| problem.rhs(a, b),
            &st.y,
            k1,
            (&mut st.arg, &mut rest[..n]),
            t_end,
            rtol,
            atol,
        );
        (st, h)
    }

    fn dim(&self) -> usize {
        self.n
    }

    fn step(&mut self, problem: &(impl OdeProblem + ?Sized), h: f64, rtol: f64, atol: f64) -> f64 {
        let n = self.n;
        let (k1, rest) = self.k.split_at_mut(n);
        let (k2, rest) = rest.split_at_mut(n);
        let (k3, rest) = rest.split_at_mut(n);
        let (k4, rest) = rest.split_at_mut(n);
        let (k5, rest) = rest.split_at_mut(n);
        let (k6, k7) = rest.split_at_mut(n);
        let slices = StepSlices {
            y: &self.y[..n],
            k: [k1, k2, k3, k4, k5, k6, &mut k7[..n]],
            arg: &mut self.arg[..n],
            y6: &mut self.y6[..n],
            ynew: &mut self.ynew[..n],
        };
        step_into(problem, slices, h, rtol, atol)
    }

    fn ynew(&self) -> &[f64] {
        &self.ynew
    }

    fn accept(&mut self) {
        let n = self.n;
        self.y.copy_from_slice(&self.ynew);
        let (k1, rest) = self.k.split_at_mut(n);
        k1.copy_from_slice(&rest[5 * n..6 * n]);
    }

    fn prepare_dense(&mut self, h: f64) {
        let n = self.n;
        let k = |j: usize| &self.k[j * n..(j + 1) * n];
        let (r1, rest) = self.cont.split_at_mut(n);
        let (r2, rest) = rest.split_at_mut(n);
        let (r3, rest) = rest.split_at_mut(n);
        let (r4, r5) = rest.split_at_mut(n);
        let stages = [k(0), k(1), k(2), k(3), k(4), k(5), k(6)];
        dense_coefficients(h, &self.y, &self.ynew, stages, [r1, r2, r3, r4, r5]);
    }

    fn dense(&self, theta: f64, out: &mut [f64]) {
        let n = self.n;
        let c = |j: usize| &self.cont[j * n..(j + 1) * n];
        dense_at([c(0), c(1), c(2), c(3), c(4)], theta, out);
    }

    fn stiffness(&self, h: f64) -> f64 {
        let n = self.n;
        let (k6, k7) = (&self.k[5 * n..6 * n], &self.k[6 * n..]);
        stiffness_estimate(h, k6, k7, &self.y6, &self.ynew)
    }
}

/// One step's storage as slices of one length n: y, k₁ … k₇ (k₁ = f(y) given; k₂ … k₇ filled),
/// the stage argument, ŷ₆ and y₁.
pub(super) struct StepSlices<'a> {
    pub y: &'a [f64],
    pub k: [&'a mut [f64]; 7],
    pub arg: &'a mut [f64],
    pub y6: &'a mut [f64],
    pub ynew: &'a mut [f64],
}

/// The Dormand–Prince step of size h from y with k₁ = f(y) (dopri5.f): k₂ … k₇, ŷ₆ and y₁, and
/// the squared error norm Σᵢ (eᵢ/scᵢ)²/n, e = h Σ Eⱼkⱼ, scᵢ = atol + rtol·max(|yᵢ|, |y₁ᵢ|); ∞ if
/// y₁ or the norm is not finite. The one home of the step's arithmetic for both storages
/// ([`Stages`] and [`super::fixed::Fixed`], where the slices come from arrays of known length).
///
/// The order of the operations serves the critical path: each stage's evaluation waits for the
/// one before it, so a stage argument sums what is already known first and adds the newest stage
/// last in one fused multiply-add, fma(h·a_{s,s−1}, k_{s−1}, y + h Σ_{j<s−1} a_{sj}k_j) (one
/// operation after k_{s−1}, not four); e likewise adds (h·E₇)k₇ last; the weights 1/scᵢ are
/// taken while f(y₁) is evaluated; and the norm is returned squared (the controller wants its
/// logarithm, so no square root). Each change moves a result in its last bits only
/// (docs/benchmarks.md, "Per flow, third pass (item 1, n = 2)"). `mul_add` is exactly rounded
/// on every processor (a library call where the caller is not compiled with FMA, see
/// [`super`]).
#[inline(always)]
pub(super) fn step_into(
    problem: &(impl OdeProblem + ?Sized),
    slices: StepSlices<'_>,
    h: f64,
    rtol: f64,
    atol: f64,
) -> f64 {
    let StepSlices {
        y,
        k: [k1, k2, k3, k4, k5, k6, k7],
        arg,
        y6,
        ynew,
    } = slices;
    let n = y.len();
    for i in 0..n {
        arg[i] = (h * A21).mul_add(k1[i], y[i]);
    }
    problem.rhs(arg, k2);
    for i in 0..n {
        arg[i] = (h * A32).mul_add(k2[i], y[i] + h * (A31 * k1[i]));
    }
    problem.rhs(arg, k3);
    for i in 0..n {
        arg[i] = (h * A43).mul_add(k3[i], y[i] + h * (A41 * k1[i] + A42 * k2[i]));
    }
    problem.rhs(arg, k4);
    for i in 0..n {
        arg[i] = (h * A54).mul_add(k4[i], y[i] + h * (A51 * k1[i] + A52 * k2[i] + A53 * k3[i]));
    }
    problem.rhs(arg, k5);
    for i in 0..n {
        y6[i] = (h * A65).mul_add(
            k5[i],
            y[i] + h * (A61 * k1[i] + A62 * k2[i] + A63 * k3[i] + A64 * k4[i]),
        );
    }
    problem.rhs(y6, k6);
    for i in 0..n {
        ynew[i] = (h * A76).mul_add(
            k6[i],
            y[i] + h * (A71 * k1[i] + A73 * k3[i] + A74 * k4[i] + A75 * k5[i]),
        );
    }
    // 1/scᵢ, here so that the divisions overlap the evaluation of f(y₁); `arg` holds them.
    for i in 0..n {
        arg[i] = 1.0 / (atol + rtol * y[i].abs().max(ynew[i].abs()));
    }
    problem.rhs(ynew, k7);
    let mut sum = 0.0;
    let mut finite = true;
    for i in 0..n {
        finite &= ynew[i].is_finite();
        let e = (h * E7).mul_add(
            k7[i],
            h * (E1 * k1[i] + E3 * k3[i] + E4 * k4[i] + E5 * k5[i] + E6 * k6[i]),
        );
        let q = e * arg[i];
        sum += q * q;
    }
    let err_sq = sum / n as f64;
    if finite && err_sq.is_finite() {
        err_sq
    } else {
        f64::INFINITY
    }
}

/// Dense-output coefficients r₁ … r₅ of the step y → y₁ (CONTD5 of dopri5.f).
#[inline(always)]
pub(super) fn dense_coefficients(
    h: f64,
    y: &[f64],
    ynew: &[f64],
    k: [&[f64]; 7],
    cont: [&mut [f64]; 5],
) {
    let [r1, r2, r3, r4, r5] = cont;
    for i in 0..y.len() {
        let ydiff = ynew[i] - y[i];
        let bspl = h * k[0][i] - ydiff;
        r1[i] = y[i];
        r2[i] = ydiff;
        r3[i] = bspl;
        r4[i] = ydiff - h * k[6][i] - bspl;
        r5[i] = h
            * (D1 * k[0][i]
                + D3 * k[2][i]
                + D4 * k[3][i]
                + D5 * k[4][i]
                + D6 * k[5][i]
                + D7 * k[6][i]);
    }
}

/// The dense output at θ ∈ [0, 1]: r₁ + θ(r₂ + (1 − θ)(r₃ + θ(r₄ + (1 − θ)r₅))), into `out`.
#[inline(always)]
pub(super) fn dense_at(cont: [&[f64]; 5], theta: f64, out: &mut [f64]) {
    let [c1, c2, c3, c4, c5] = cont;
    let t1 = 1.0 - theta;
    for (i, o) in out[..c1.len()].iter_mut().enumerate() {
        *o = c1[i] + theta * (c2[i] + t1 * (c3[i] + theta * (c4[i] + t1 * c5[i])));
    }
}

/// h·λ̂ = h‖k₇ − k₆‖/‖y₁ − ŷ₆‖, the stiffness estimate of dopri5.f (0 if y₁ = ŷ₆).
#[inline(always)]
pub(super) fn stiffness_estimate(h: f64, k6: &[f64], k7: &[f64], y6: &[f64], ynew: &[f64]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..y6.len() {
        num += (k7[i] - k6[i]).powi(2);
        den += (ynew[i] - y6[i]).powi(2);
    }
    if den > 0.0 {
        h * (num / den).sqrt()
    } else {
        0.0
    }
}

/// Hairer's initial step (`HINIT` of dopri5.f) for order 5; f0 = f(y0). One evaluation of `rhs`.
///
/// Inlined into its callers, so that it is compiled with their instruction set: out of line, the
/// lanes' start of a flow (compiled for AVX-512) called a copy compiled for the baseline x86-64,
/// where every `mul_add` of `rhs`'s exponential is a call of the software `fma` (56 calls a
/// flow). `mul_add` is the fused operation either way: the same numbers.
#[inline(always)]
pub(super) fn initial_step(
    mut rhs: impl FnMut(&[f64], &mut [f64]),
    y0: &[f64],
    f0: &[f64],
    scratch: (&mut [f64], &mut [f64]),
    t_end: f64,
    rtol: f64,
    atol: f64,
) -> f64 {
    let n = y0.len() as f64;
    let (arg, f1) = scratch;
    let (mut d0, mut d1) = (0.0, 0.0);
    for (&yi, &fi) in y0.iter().zip(f0) {
        let sc = atol + rtol * yi.abs();
        d0 += (yi / sc).powi(2);
        d1 += (fi / sc).powi(2);
    }
    let (d0, d1) = ((d0 / n).sqrt(), (d1 / n).sqrt());
    let h0 = if d0 < 1e-10 || d1 < 1e-10 {
        1e-6
    } else {
        0.01 * d0 / d1
    }
    .min(t_end);
    for ((a, &yi), &fi) in arg.iter_mut().zip(y0).zip(f0) {
        *a = yi + h0 * fi;
    }
    rhs(arg, f1);
    let mut d2 = 0.0;
    for ((&yi, &fi), &gi) in y0.iter().zip(f0).zip(f1.iter()) {
        let sc = atol + rtol * yi.abs();
        d2 += ((gi - fi) / sc).powi(2);
    }
    let d2 = (d2 / n).sqrt() / h0;
    let der = d1.max(d2);
    let h1 = if der <= 1e-15 {
        (h0 * 1e-3).max(1e-6)
    } else {
        (0.01 / der).powf(0.2)
    };
    (100.0 * h0).min(h1).min(t_end)
}
