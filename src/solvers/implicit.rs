//! Implicit integration (diffsol BDF / SDIRK) of stiff [`OdeProblem`]s with their analytic
//! Jacobians.

use nalgebra::DVector;

use super::{OdeProblem, OdeSolution};
use crate::error::{Error, Result};

/// Which implicit method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImplicitMethod {
    /// Variable-order BDF (orders 1–5) with Newton iterations on the analytic Jacobian.
    Bdf,
    /// Singly-diagonally-implicit Runge–Kutta (TR-BDF2 / ESDIRK34).
    Sdirk,
}

/// Integrate `problem` from `y0` over [0, t_end], output at `points` evenly spaced times.
pub fn solve(
    _problem: &(impl OdeProblem + ?Sized),
    _method: ImplicitMethod,
    _y0: &DVector<f64>,
    _t_end: f64,
    _points: usize,
    _rtol: f64,
    _atol: f64,
) -> Result<OdeSolution> {
    Err(Error::Unsupported("implicit solver not yet implemented".into()))
}
