//! What an integration returns: the states on the output grid ([`Trajectory`], one flat
//! allocation), the grid itself, and the work done ([`SolverStats`]).

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

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
    /// The simplified Newton iterations' work (BDF), for benchmarks and tests; not part of
    /// the reports.
    #[serde(skip)]
    pub newton: NewtonStats,
}

/// BDF's simplified Newton work: iterations, failures, and its single-precision iteration
/// matrices (docs/theory.md §12.2).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewtonStats {
    /// Newton iterations (each one evaluation of f and one solve with M).
    pub iterations: u64,
    /// Newton solves that did not converge (followed by a refresh of J or M, or a smaller step).
    pub failures: u64,
    /// Factorisations of M in f32 (included in `lu_factorisations`).
    pub single_factorisations: u64,
    /// Times the f32 path gave way to f64 for a Jacobian: its factorisation failed, or Newton
    /// failed with a current J and M.
    pub single_fallbacks: u64,
    /// The range of 1 + c·ρ̂ over the f32 factorisations (ρ̂ the spectral radius estimate BDF
    /// holds, c = h/α_k): the condition number of the diagonally scaled M they solve with.
    pub single_condition: Option<(f64, f64)>,
}

impl NewtonStats {
    fn absorb(&mut self, other: &NewtonStats) {
        self.iterations += other.iterations;
        self.failures += other.failures;
        self.single_factorisations += other.single_factorisations;
        self.single_fallbacks += other.single_fallbacks;
        self.single_condition = match (self.single_condition, other.single_condition) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (a, b) => a.or(b),
        };
    }
}

impl SolverStats {
    /// Add the counts of `other` (evaluations, steps, factorisations) to these.
    pub fn absorb(&mut self, other: &SolverStats) {
        self.rhs_evals += other.rhs_evals;
        self.jacobian_evals += other.jacobian_evals;
        self.steps_accepted += other.steps_accepted;
        self.steps_rejected += other.steps_rejected;
        self.lu_factorisations += other.lu_factorisations;
        self.newton.absorb(&other.newton);
    }
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

    /// Append `count` zero states (to be written in place, e.g. by an integrator's output).
    pub fn extend_zeros(&mut self, count: usize) {
        self.data.resize(self.data.len() + count * self.dim, 0.0);
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

    /// All states as one mutable slice, state k at `k·dim .. (k+1)·dim`.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
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
    /// also above the size from which the product runs in parallel, and for small products.
    #[test]
    fn left_multiply_matches_a_product_per_state() {
        for (rows, len, cols) in [
            (1, 3, 30),
            (3, 3, 30),
            (5, 3, 30),
            (40, 2000, 30),
            (1, 3, 2),
            (2, 1001, 2),
            (5, 7, 3),
            (16, 9, 16),
        ] {
            let a = DMatrix::from_fn(rows, cols, |i, j| ((i * 7 + j * 3) % 11) as f64 - 4.5);
            let states: Vec<Vec<f64>> = (0..len)
                .map(|k| {
                    (0..cols)
                        .map(|i| ((k * 13 + i * 5) % 17) as f64 / 8.0 - 1.0)
                        .collect()
                })
                .collect();
            let mut t = Trajectory::with_capacity(cols, len);
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
