//! Solvers: methods that take a problem from [`crate::dynamics`] and return a solution with
//! statistics. The problem side ([`OdeProblem`]) knows only its right-hand side and Jacobian; the
//! method side (explicit Dormand–Prince, implicit BDF and Rodas4, gradient descent, Newton) never
//! depends on which dynamics it runs.

pub mod bdf;
pub mod dp45;
pub mod explicit;
pub mod flow;
pub mod gd;
pub(crate) mod lu;
pub mod rkc;
pub mod rosenbrock;
pub mod steady;

pub use flow::{integrate, FlowMethod, FlowOptions};

use nalgebra::{DMatrix, DVector};

use crate::error::{Error, Result};
use serde::Serialize;

/// An autonomous ODE dy/dτ = f(y) with an analytic Jacobian.
pub trait OdeProblem: Sync {
    /// State dimension.
    fn dim(&self) -> usize;
    /// f(y) into `dy`.
    fn rhs(&self, y: &[f64], dy: &mut [f64]);
    /// ∂f/∂y into `jac` (dim × dim).
    fn jacobian(&self, y: &[f64], jac: &mut DMatrix<f64>);
    /// An upper bound on ‖∂f/∂y‖₂ (hence on its spectral radius) over the region the flow
    /// visits (∞ if unbounded). Used to choose between explicit and implicit methods, to size
    /// RKC's stages, and by BDF to decide when functional iteration converges fast.
    fn spectral_bound(&self) -> f64;
    /// Move a state back into the problem's domain (default: nothing to do).
    fn project(&self, _state: &mut [f64]) {}
    /// When ∂f/∂y = −K·diag(d) − μI with K symmetric positive semi-definite (the margin flows
    /// of docs/theory.md §3: K = U S² Uᵀ, d = ℓ''(m) + λ_SD, μ = λ_L2): d(y) into `d` and (K, μ),
    /// so that implicit solvers can factorise their iteration matrices by Cholesky
    /// ([`lu::LuSolver::factor_gram`]). Default: no such structure (`None`).
    fn gram_jacobian(&self, _y: &[f64], _d: &mut [f64]) -> Option<(&DMatrix<f64>, f64)> {
        None
    }
}

/// Products with at least this many multiply–adds ([`Trajectory::left_multiply`]) run on all
/// cores: below it rayon's hand-off costs more than it saves.
const PARALLEL_PRODUCT_MIN_FLOPS: usize = 1 << 21;

/// Work done by a solver, reported with every solution.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SolverStats {
    /// The method that produced the solution (e.g. `dop853`, `bdf`, `gd`).
    pub solver: String,
    /// Wall-clock seconds of the solve alone.
    pub wall_s: f64,
    /// Right-hand-side evaluations.
    pub rhs_evals: u64,
    /// Jacobian evaluations.
    pub jacobian_evals: u64,
    /// Accepted steps.
    pub steps_accepted: u64,
    /// Rejected steps.
    pub steps_rejected: u64,
    /// LU factorisations (implicit methods).
    pub lu_factorisations: u64,
}

/// States y(τ_k) on an output grid, stored flat and column-major: state k is
/// `data[k·dim .. (k+1)·dim]`, so a whole trajectory is one allocation (`dim · points` values)
/// instead of one heap vector per output point.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trajectory {
    /// Entries per state.
    dim: usize,
    /// The states one after the other; `data.len()` is a multiple of `dim`.
    data: Vec<f64>,
}

impl Trajectory {
    /// An empty trajectory of `dim`-dimensional states with room for `points` of them.
    pub fn with_capacity(dim: usize, points: usize) -> Self {
        Trajectory {
            dim,
            data: Vec::with_capacity(dim * points),
        }
    }

    /// A trajectory holding copies of `states` (all of dimension `dim`).
    pub fn from_states<'a>(dim: usize, states: impl IntoIterator<Item = &'a [f64]>) -> Self {
        let mut t = Trajectory::with_capacity(dim, 0);
        for y in states {
            t.push(y);
        }
        t
    }

    /// Append a copy of the state `y` (`y.len()` must equal [`Trajectory::dim`]).
    pub fn push(&mut self, y: &[f64]) {
        assert_eq!(y.len(), self.dim, "state of the wrong dimension");
        self.data.extend_from_slice(y);
    }

    /// Append a copy of `y`, moved into the problem's domain by [`OdeProblem::project`] (the
    /// solvers' output step: the stored state is projected, the integrator's own is not).
    pub fn push_projected<P: OdeProblem + ?Sized>(&mut self, y: &[f64], problem: &P) {
        self.push(y);
        let k = self.len() - 1;
        problem.project(&mut self[k]);
    }

    /// Number of states stored.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether no state is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries per state.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The last state, if any.
    pub fn last(&self) -> Option<&[f64]> {
        self.iter().next_back()
    }

    /// The states in order, each a slice of length [`Trajectory::dim`].
    pub fn iter(&self) -> std::slice::ChunksExact<'_, f64> {
        self.data.chunks_exact(self.dim.max(1))
    }

    /// The states in order, mutably (e.g. to map each one in place).
    pub fn iter_mut(&mut self) -> std::slice::ChunksExactMut<'_, f64> {
        self.data.chunks_exact_mut(self.dim.max(1))
    }

    /// An owned copy of state k, for callers that need a vector.
    pub fn state(&self, k: usize) -> DVector<f64> {
        DVector::from_column_slice(&self[k])
    }

    /// Append the states of `other` after skipping its first `skip` (dimensions must agree).
    pub fn extend_from(&mut self, other: &Trajectory, skip: usize) {
        assert_eq!(other.dim, self.dim, "trajectories of different dimensions");
        let start = (skip * other.dim).min(other.data.len());
        self.data.extend_from_slice(&other.data[start..]);
    }

    /// Replace every state y_k by A·y_k (A is `rows × dim`, column-major, as nalgebra stores
    /// it; `transpose` uses Aᵀ instead, with A `dim × rows`). The states form the column-major
    /// matrix [y_0 … y_{K−1}], so this is one matrix product, done by faer's GEMM (on both
    /// cores when the product is large) into a new buffer.
    pub fn left_multiply(&mut self, a: &DMatrix<f64>, transpose: bool) {
        let a_ref = faer::MatRef::from_column_major_slice(a.as_slice(), a.nrows(), a.ncols());
        let a_ref = if transpose { a_ref.transpose() } else { a_ref };
        assert_eq!(
            a_ref.ncols(),
            self.dim,
            "left_multiply: A has the wrong number of columns"
        );
        let (rows, len) = (a_ref.nrows(), self.len());
        let mut out = vec![0.0; rows * len];
        let y = faer::MatRef::from_column_major_slice(&self.data, self.dim, len);
        let dst = faer::MatMut::from_column_major_slice_mut(&mut out, rows, len);
        let par = if rows * self.dim * len >= PARALLEL_PRODUCT_MIN_FLOPS {
            faer::Par::rayon(0)
        } else {
            faer::Par::Seq
        };
        faer::linalg::matmul::matmul(dst, faer::Accum::Replace, a_ref, y, 1.0, par);
        self.data = out;
        self.dim = rows;
    }

    /// All states as one slice, state k at `k·dim .. (k+1)·dim`.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }
}

impl std::ops::Index<usize> for Trajectory {
    type Output = [f64];
    /// State k.
    fn index(&self, k: usize) -> &[f64] {
        &self.data[k * self.dim..(k + 1) * self.dim]
    }
}

impl std::ops::IndexMut<usize> for Trajectory {
    /// State k, mutably.
    fn index_mut(&mut self, k: usize) -> &mut [f64] {
        &mut self.data[k * self.dim..(k + 1) * self.dim]
    }
}

impl<'a> IntoIterator for &'a Trajectory {
    type Item = &'a [f64];
    type IntoIter = std::slice::ChunksExact<'a, f64>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Trajectory {
    type Item = &'a mut [f64];
    type IntoIter = std::slice::ChunksExactMut<'a, f64>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

/// A solution on an output grid: `states[k]` is the state at `tau[k]`.
#[derive(Clone, Debug)]
pub struct OdeSolution {
    /// Output times.
    pub tau: Vec<f64>,
    /// State at each output time, flat (see [`Trajectory`]).
    pub states: Trajectory,
    /// Work done.
    pub stats: SolverStats,
}

impl OdeSolution {
    /// Replace every state y_k by A·y_k (Aᵀ·y_k with `transpose`), as
    /// [`Trajectory::left_multiply`], counting the time in `stats.wall_s`: mapping the
    /// integrated variables (margins, dual α) to the responses z is part of the solve.
    pub fn left_multiply_states(&mut self, a: &DMatrix<f64>, transpose: bool) {
        let start = std::time::Instant::now();
        self.states.left_multiply(a, transpose);
        self.stats.wall_s += start.elapsed().as_secs_f64();
    }
}

/// The output grid τ_k = k·τ_end/(points − 1), k = 0 … points − 1 (computed directly, no drift).
pub fn output_grid(t_end: f64, points: usize) -> Vec<f64> {
    let last = points.saturating_sub(1).max(1) as f64;
    (0..points)
        .map(|k| {
            if k + 1 == points {
                t_end
            } else {
                t_end * k as f64 / last
            }
        })
        .collect()
}

/// Check an initial-value problem's inputs: y₀ of the problem's dimension and finite, τ_end
/// finite and > 0, at least 2 output points, finite positive tolerances.
pub(crate) fn validate_inputs(
    n: usize,
    y0: &DVector<f64>,
    t_end: f64,
    points: usize,
    rtol: f64,
    atol: f64,
) -> Result<()> {
    if y0.len() != n {
        return Err(Error::Shape(format!(
            "initial state has {} entries but the problem has dimension {n}",
            y0.len()
        )));
    }
    if let Some(i) = y0.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: "initial state".into(),
            row: i + 1,
            col: 1,
            value: y0[i],
        });
    }
    if !(t_end.is_finite() && t_end > 0.0) {
        return Err(Error::InvalidParameter {
            name: "--t-end",
            value: t_end,
            rule: "the final time must be finite and > 0",
        });
    }
    if points < 2 {
        return Err(Error::InvalidParameter {
            name: "--points",
            value: points as f64,
            rule: "the output grid needs at least 2 points",
        });
    }
    for (name, v) in [("--rtol", rtol), ("--atol", atol)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(Error::InvalidParameter {
                name,
                value: v,
                rule: "tolerances must be finite and > 0",
            });
        }
    }
    Ok(())
}

/// Problems shared by the solvers' tests.
#[cfg(test)]
pub(crate) mod test_problems {
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
}

#[cfg(test)]
mod trajectory_tests {
    use nalgebra::{DMatrix, DVector};

    use super::Trajectory;

    fn sample() -> Trajectory {
        Trajectory::from_states(
            3,
            [&[1.0, 2.0, 3.0][..], &[4.0, 5.0, 6.0], &[7.0, 8.0, 9.0]],
        )
    }

    #[test]
    fn states_are_stored_flat_and_read_back() {
        let t = sample();
        assert_eq!((t.len(), t.dim(), t.is_empty()), (3, 3, false));
        assert_eq!(&t[1], &[4.0, 5.0, 6.0]);
        assert_eq!(t[2][0], 7.0);
        assert_eq!(t.last(), Some(&[7.0, 8.0, 9.0][..]));
        assert_eq!(t.state(0), DVector::from_vec(vec![1.0, 2.0, 3.0]));
        assert_eq!(t.iter().len(), 3);
        assert_eq!(t.iter().next_back(), t.last());
        assert_eq!(t.as_slice().len(), 9);
        let empty = Trajectory::with_capacity(2, 10);
        assert!(empty.is_empty() && empty.last().is_none());
        let mut joined = sample();
        joined.extend_from(&sample(), 1);
        assert_eq!(joined.len(), 5);
        assert_eq!(&joined[3], &[4.0, 5.0, 6.0]);
    }

    /// One product for all states equals the product with each state alone (to rounding:
    /// GEMM sums in its own order), for fewer or more rows than the state has, and with Aᵀ;
    /// also above the size from which the product runs in parallel.
    #[test]
    fn left_multiply_matches_a_product_per_state() {
        for (rows, len) in [(1, 3), (3, 3), (5, 3), (40, 2000)] {
            let a = DMatrix::from_fn(rows, 30, |i, j| ((i * 7 + j * 3) % 11) as f64 - 4.5);
            let states: Vec<Vec<f64>> = (0..len)
                .map(|k| {
                    (0..30)
                        .map(|i| ((k * 13 + i * 5) % 17) as f64 / 8.0 - 1.0)
                        .collect()
                })
                .collect();
            let mut t = Trajectory::with_capacity(30, len);
            for y in &states {
                t.push(y);
            }
            let mut tt = t.clone();
            t.left_multiply(&a, false);
            tt.left_multiply(&a.transpose(), true);
            assert_eq!((t.len(), t.dim()), (len, rows));
            for (k, y) in states.iter().enumerate() {
                let expected = &a * DVector::from_column_slice(y);
                for i in 0..rows {
                    assert!((t[k][i] - expected[i]).abs() <= 1e-12 * (1.0 + expected[i].abs()));
                    assert!((t[k][i] - tt[k][i]).abs() <= 1e-12 * (1.0 + expected[i].abs()));
                }
            }
        }
    }
}
