//! Problems shared by the solvers' tests.
use nalgebra::{DMatrix, DVector};

use super::OdeProblem;

/// dy/dt = y²: blows up at t = 1 from y = 1.
pub(crate) struct BlowUp;

impl OdeProblem for BlowUp {
    fn dim(&self) -> usize {
        1
    }
    fn rhs(&self, y: &[f64], dy: &mut [f64]) {
        dy[0] = y[0] * y[0];
    }
    fn jacobian(&self, y: &[f64], jac: &mut DMatrix<f64>) {
        jac[(0, 0)] = 2.0 * y[0];
    }
    fn spectral_bound(&self) -> f64 {
        f64::INFINITY
    }
}

/// dy/dt = A y (stiff when A has widely spread eigenvalues).
pub(crate) struct Linear {
    pub(crate) a: DMatrix<f64>,
}

impl OdeProblem for Linear {
    fn dim(&self) -> usize {
        self.a.nrows()
    }
    fn rhs(&self, y: &[f64], dy: &mut [f64]) {
        let out = &self.a * DVector::from_column_slice(y);
        dy.copy_from_slice(out.as_slice());
    }
    fn jacobian(&self, _y: &[f64], jac: &mut DMatrix<f64>) {
        jac.copy_from(&self.a);
    }
    fn spectral_bound(&self) -> f64 {
        // The Frobenius norm bounds ‖A‖₂.
        self.a.norm()
    }
}

/// A vector's entries as a slice (solution states are slices, reference values vectors).
pub(crate) trait Entries {
    fn entries(&self) -> &[f64];
}
impl Entries for [f64] {
    fn entries(&self) -> &[f64] {
        self
    }
}
impl Entries for DVector<f64> {
    fn entries(&self) -> &[f64] {
        self.as_slice()
    }
}

/// max_i |a_i − b_i| (the vectors must have the same length).
pub(crate) fn max_abs_diff(a: &(impl Entries + ?Sized), b: &(impl Entries + ?Sized)) -> f64 {
    let (a, b) = (a.entries(), b.entries());
    assert_eq!(a.len(), b.len(), "vectors of different lengths");
    // NaN propagates (f64::max would skip it), so a NaN result fails `err < tol`.
    a.iter().zip(b).fold(0.0, |m, (x, y)| {
        let e = (x - y).abs();
        if m.is_nan() || e.is_nan() {
            f64::NAN
        } else {
            m.max(e)
        }
    })
}

/// Integrate `problem` with `method` on an even grid of `points` over [0, t_end] (the test
/// suites' shorthand for building the options).
pub(crate) fn integrate_with<I: super::Integrator + ?Sized, P: OdeProblem + ?Sized>(
    method: &I,
    problem: &P,
    y0: &DVector<f64>,
    t_end: f64,
    points: usize,
    rtol: f64,
    atol: f64,
) -> crate::error::Result<super::OdeSolution> {
    let grid = super::OutputGrid::uniform(t_end, points)?;
    let tolerances = super::Tolerances::new(rtol, atol)?;
    super::solve(method, problem, y0.as_slice(), &grid, &tolerances)
}
