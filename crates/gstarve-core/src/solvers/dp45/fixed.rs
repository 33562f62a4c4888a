//! The Dormand–Prince 5(4) step of [`super::stages`] for a dimension N known at compile time,
//! with the state and the stages in fixed-size arrays owned by the step loop (issue #17: at
//! n = 2 the heap-allocated stages of [`super::stages::Stages`] cost loads, stores and index
//! arithmetic around every one of a step's six evaluations; here the arrays are locals of the
//! loop, so that the compiler keeps them in registers).
//!
//! Every expression is the one of [`super::stages::Stages`], in the same order, so the two
//! compute the same bits (tested in `super::tests`).

// The loops index the state and the stages by the same component i, mirroring `Stages::step`
// expression for expression.
#![allow(clippy::needless_range_loop)]

use super::stages::{
    initial_step, StageStore, A21, A31, A32, A41, A42, A43, A51, A52, A53, A54, A61, A62, A63, A64,
    A65, A71, A73, A74, A75, A76, D1, D3, D4, D5, D6, D7, E1, E3, E4, E5, E6, E7,
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
        let y = self.y;
        let k1 = self.k[0];
        let mut arg = [0.0; N];
        let (mut k2, mut k3, mut k4, mut k5, mut k6, mut k7) =
            ([0.0; N], [0.0; N], [0.0; N], [0.0; N], [0.0; N], [0.0; N]);
        for i in 0..N {
            arg[i] = y[i] + h * A21 * k1[i];
        }
        problem.rhs(&arg, &mut k2);
        for i in 0..N {
            arg[i] = y[i] + h * (A31 * k1[i] + A32 * k2[i]);
        }
        problem.rhs(&arg, &mut k3);
        for i in 0..N {
            arg[i] = y[i] + h * (A41 * k1[i] + A42 * k2[i] + A43 * k3[i]);
        }
        problem.rhs(&arg, &mut k4);
        for i in 0..N {
            arg[i] = y[i] + h * (A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i]);
        }
        problem.rhs(&arg, &mut k5);
        let mut y6 = [0.0; N];
        for i in 0..N {
            y6[i] =
                y[i] + h * (A61 * k1[i] + A62 * k2[i] + A63 * k3[i] + A64 * k4[i] + A65 * k5[i]);
        }
        problem.rhs(&y6, &mut k6);
        let mut ynew = [0.0; N];
        for i in 0..N {
            ynew[i] =
                y[i] + h * (A71 * k1[i] + A73 * k3[i] + A74 * k4[i] + A75 * k5[i] + A76 * k6[i]);
        }
        problem.rhs(&ynew, &mut k7);
        let mut sum = 0.0;
        let mut finite = true;
        for i in 0..N {
            finite &= ynew[i].is_finite();
            let e =
                h * (E1 * k1[i] + E3 * k3[i] + E4 * k4[i] + E5 * k5[i] + E6 * k6[i] + E7 * k7[i]);
            let sc = atol + rtol * y[i].abs().max(ynew[i].abs());
            sum += (e / sc) * (e / sc);
        }
        self.k = [k1, k2, k3, k4, k5, k6, k7];
        self.y6 = y6;
        self.ynew = ynew;
        let err = (sum / N as f64).sqrt();
        if finite && err.is_finite() {
            err
        } else {
            f64::INFINITY
        }
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
        let (y, k) = (&self.y, &self.k);
        let [r1, r2, r3, r4, r5] = &mut self.cont;
        for i in 0..N {
            let ydiff = self.ynew[i] - y[i];
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

    #[inline(always)]
    fn dense(&self, theta: f64, out: &mut [f64]) {
        let [c1, c2, c3, c4, c5] = &self.cont;
        let t1 = 1.0 - theta;
        for (i, o) in out[..N].iter_mut().enumerate() {
            *o = c1[i] + theta * (c2[i] + t1 * (c3[i] + theta * (c4[i] + t1 * c5[i])));
        }
    }

    #[inline(always)]
    fn stiffness(&self, h: f64) -> f64 {
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..N {
            num += (self.k[6][i] - self.k[5][i]).powi(2);
            den += (self.ynew[i] - self.y6[i]).powi(2);
        }
        if den > 0.0 {
            h * (num / den).sqrt()
        } else {
            0.0
        }
    }
}
