//! The Dormand–Prince 5(4) step of [`super::stages`] for a dimension N known at compile time,
//! with the state and the stages in fixed-size arrays owned by the step loop (issue #17: at
//! n = 2 the heap-allocated stages of [`super::stages::Stages`] cost loads, stores and index
//! arithmetic around every one of a step's six evaluations; here the arrays are locals of the
//! loop, so that the compiler keeps them in registers).
//!
//! The arithmetic is [`super::stages`]'s (`step_into`, `dense_coefficients`, `dense_at`,
//! `stiffness_estimate`) on slices of these arrays, so the two storages compute the same bits
//! (tested in `super::tests`).

use super::stages::{
    dense_at, dense_coefficients, initial_step, step_into, stiffness_estimate, StageStore,
    StepSlices,
};
use crate::ode::OdeProblem;

/// The state, the stages k₁ … k₇, the argument of stage 6, the new state and the dense-output
/// coefficients of a DP45 run of dimension N.
pub(super) struct Fixed<const N: usize> {
    y: [f64; N],
    k: [[f64; N]; 7],
    y6: [f64; N],
    ynew: [f64; N],
    cont: [[f64; N]; 5],
}

impl<const N: usize> StageStore for Fixed<N> {
    #[inline(always)]
    fn start(
        problem: &(impl OdeProblem + ?Sized),
        y0: &[f64],
        t_end: f64,
        rtol: f64,
        atol: f64,
    ) -> (Self, f64) {
        let mut st = Fixed {
            y: [0.0; N],
            k: [[0.0; N]; 7],
            y6: [0.0; N],
            ynew: [0.0; N],
            cont: [[0.0; N]; 5],
        };
        st.y.copy_from_slice(&y0[..N]);
        problem.rhs(&st.y, &mut st.k[0]);
        let (mut arg, mut f1) = ([0.0; N], [0.0; N]);
        let h = initial_step(
            |a, b| problem.rhs(a, b),
            &st.y,
            &st.k[0],
            (&mut arg, &mut f1),
            t_end,
            rtol,
            atol,
        );
        (st, h)
    }

    #[inline(always)]
    fn dim(&self) -> usize {
        N
    }

    #[inline(always)]
    fn step(&mut self, problem: &(impl OdeProblem + ?Sized), h: f64, rtol: f64, atol: f64) -> f64 {
        // Locals, not fields: the compiler keeps them in registers across the evaluations.
        let y = self.y;
        let mut k1 = self.k[0];
        let (mut arg, mut y6, mut ynew) = ([0.0; N], [0.0; N], [0.0; N]);
        let (mut k2, mut k3, mut k4, mut k5, mut k6, mut k7) =
            ([0.0; N], [0.0; N], [0.0; N], [0.0; N], [0.0; N], [0.0; N]);
        let slices = StepSlices {
            y: &y,
            k: [
                &mut k1, &mut k2, &mut k3, &mut k4, &mut k5, &mut k6, &mut k7,
            ],
            arg: &mut arg,
            y6: &mut y6,
            ynew: &mut ynew,
        };
        let err = step_into(problem, slices, h, rtol, atol);
        self.k = [k1, k2, k3, k4, k5, k6, k7];
        self.y6 = y6;
        self.ynew = ynew;
        err
    }

    #[inline(always)]
    fn ynew(&self) -> &[f64] {
        &self.ynew
    }

    #[inline(always)]
    fn accept(&mut self) {
        self.y = self.ynew;
        self.k[0] = self.k[6];
    }

    #[inline(always)]
    fn prepare_dense(&mut self, h: f64) {
        let [k1, k2, k3, k4, k5, k6, k7] = &self.k;
        let [r1, r2, r3, r4, r5] = &mut self.cont;
        let stages = [&k1[..], k2, k3, k4, k5, k6, k7];
        dense_coefficients(h, &self.y, &self.ynew, stages, [r1, r2, r3, r4, r5]);
    }

    #[inline(always)]
    fn dense(&self, theta: f64, out: &mut [f64]) {
        let [c1, c2, c3, c4, c5] = &self.cont;
        dense_at([c1, c2, c3, c4, c5], theta, out);
    }

    #[inline(always)]
    fn stiffness(&self, h: f64) -> f64 {
        stiffness_estimate(h, &self.k[5], &self.k[6], &self.y6, &self.ynew)
    }
}
