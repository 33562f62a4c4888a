//! Problems with known answers, shared by the conformance suite and the methods' own tests.

use nalgebra::{DMatrix, DVector};

use crate::model::nan_max;
use crate::ode::{OdeProblem, OdeSolution, OutputGrid, Tolerances};

/// dy/dt = y²: from y(0) = 1 the solution 1/(1 − t) blows up at t = 1. `bound` is what
/// [`OdeProblem::spectral_bound`] claims (the true one, 2y, is unbounded): finite, so that RKC
/// runs into the blow-up too, or ∞.
pub(crate) struct BlowUp {
    pub(crate) bound: f64,
}

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
        self.bound
    }
}

/// dy/dt = 1 (both components) while y₁ ≤ 2, NaN beyond: the solution y = t leaves the domain
/// of the right-hand side at t = 2.
pub(crate) struct NanBeyondTwo;

impl OdeProblem for NanBeyondTwo {
    fn dim(&self) -> usize {
        2
    }
    fn rhs(&self, y: &[f64], dy: &mut [f64]) {
        let v = if y[0] > 2.0 { f64::NAN } else { 1.0 };
        dy.fill(v);
    }
    fn jacobian(&self, _y: &[f64], jac: &mut DMatrix<f64>) {
        jac.fill(0.0);
    }
    fn spectral_bound(&self) -> f64 {
        0.0
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

/// dy/dt = A y with eigenvalues −1 and −1000 on non-orthogonal eigenvectors, from y₀ = (1, 2),
/// and its exact solution Q e^{Λt} Q⁻¹ y₀.
pub(crate) fn stiff_linear() -> (Linear, impl Fn(f64) -> DVector<f64>) {
    let q = DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 0.5, -1.0]);
    let qi = q.clone().try_inverse().unwrap();
    let mu = [-1.0, -1000.0];
    let a = &q * DMatrix::from_diagonal(&DVector::from_column_slice(&mu)) * &qi;
    let y0 = DVector::from_vec(vec![1.0, 2.0]);
    let exact = move |t: f64| {
        let decay = DVector::from_iterator(2, mu.iter().map(|m| (m * t).exp()));
        &q * DMatrix::from_diagonal(&decay) * &qi * &y0
    };
    (Linear { a }, exact)
}

/// `copies` uncoupled copies of [`stiff_linear`] (dimension 2·copies) and their exact solution.
pub(crate) fn stiff_linear_copies(copies: usize) -> (Linear, impl Fn(f64) -> DVector<f64>) {
    let (block, exact_block) = stiff_linear();
    let mut a = DMatrix::zeros(2 * copies, 2 * copies);
    for c in 0..copies {
        a.view_mut((2 * c, 2 * c), (2, 2)).copy_from(&block.a);
    }
    let exact = move |t: f64| {
        let e = exact_block(t);
        DVector::from_fn(2 * copies, |i, _| e[i % 2])
    };
    (Linear { a }, exact)
}

/// Logistic growth driving a decay: y₁' = y₁(1 − y₁), y₂' = −y₁y₂, from (p, q) = (0.1, 2), with
/// the exact solution y₁ = p eᵗ/(1 − p + p eᵗ), y₂ = q/(1 − p + p eᵗ). Not stiff.
pub(crate) struct Logistic;

impl OdeProblem for Logistic {
    fn dim(&self) -> usize {
        2
    }
    fn rhs(&self, y: &[f64], dy: &mut [f64]) {
        dy[0] = y[0] * (1.0 - y[0]);
        dy[1] = -y[0] * y[1];
    }
    fn jacobian(&self, y: &[f64], jac: &mut DMatrix<f64>) {
        jac[(0, 0)] = 1.0 - 2.0 * y[0];
        jac[(0, 1)] = 0.0;
        jac[(1, 0)] = -y[1];
        jac[(1, 1)] = -y[0];
    }
    fn spectral_bound(&self) -> f64 {
        2.0
    }
}

/// The exact solution of [`Logistic`].
pub(crate) fn logistic_exact(t: f64) -> DVector<f64> {
    let (p, q) = (0.1, 2.0);
    let den = 1.0 - p + p * t.exp();
    DVector::from_vec(vec![p * t.exp() / den, q / den])
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
impl Entries for Vec<f64> {
    fn entries(&self) -> &[f64] {
        self
    }
}
impl Entries for DVector<f64> {
    fn entries(&self) -> &[f64] {
        self.as_slice()
    }
}

/// max_i |a_i − b_i| (the vectors must have the same length), NaN if any entry is.
pub(crate) fn max_abs_diff(a: &(impl Entries + ?Sized), b: &(impl Entries + ?Sized)) -> f64 {
    let (a, b) = (a.entries(), b.entries());
    assert_eq!(a.len(), b.len(), "vectors of different lengths");
    a.iter()
        .zip(b)
        .fold(0.0, |m, (x, y)| nan_max(m, (x - y).abs()))
}

/// max over the grid of max_i |a_i − b_i| between two solutions' states, NaN if any is.
pub(crate) fn max_deviation(a: &OdeSolution, b: &OdeSolution) -> f64 {
    assert_eq!(
        a.states.len(),
        b.states.len(),
        "solutions of different lengths"
    );
    a.states
        .iter()
        .zip(&b.states)
        .map(|(x, y)| max_abs_diff(x, y))
        .fold(0.0, nan_max)
}

/// Integrate `problem` with `method` on an even grid of `points` over [0, t_end] (the test
/// suites' shorthand for building the options).
pub(crate) fn integrate_with<I: crate::ode::Integrator + ?Sized, P: OdeProblem + ?Sized>(
    method: &I,
    problem: &P,
    y0: &DVector<f64>,
    t_end: f64,
    points: usize,
    rtol: f64,
    atol: f64,
) -> crate::error::Result<OdeSolution> {
    let grid = OutputGrid::uniform(t_end, points)?;
    let tolerances = Tolerances::new(rtol, atol)?;
    crate::ode::solve(method, problem, y0.as_slice(), &grid, &tolerances)
}
