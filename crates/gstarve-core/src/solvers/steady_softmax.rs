//! Steady states of the softmax dynamics (docs/theory.md §9.3) by damped inexact Newton (§12.4),
//! with residual and iterations.
//!
//! The regularised flow is F(z) = −S²∇L(z) with the strictly convex
//! L(z) = Σᵢ CEᵢ(Uz) + ½ zᵀWz, W = λS⁻² (L2) or λI (SD) ([`SoftmaxDynamics::objective`]): Newton
//! on ∇L = 0 with the Hessian A = UᵀHU + W, an Armijo line search on L, from z = 0. Forming A costs
//! O(ncr²) and its Cholesky factor O(r³); each step is instead solved by conjugate gradients on
//! A's action (O(ncr) each, [`cg`]), preconditioned by A's diagonal W + diag(UᵀHU) (O(ncr),
//! [`crate::model::Curvature::diagonal`]), to a residual η·res with η = min(½, √(res/res₀))
//! (superlinear convergence), never below a tenth of the tolerance (so that the last step ends
//! below it; docs/theory.md §12.4). Only where they
//! would take longer than forming A ([`jacobi_budget`]) is A formed and factorised; that factor
//! then preconditions the later steps, and is formed afresh when it has gone stale.
//! Components with s_j = 0 never move under the flow and are pinned at 0. Unlike the binary SD
//! steady state there is no scalar shortcut: with c > 2 the per-example equations
//! Y − P = λF do not reduce to one margin (§9.3).

mod cg;

use nalgebra::{DMatrix, DVector};

use super::steady::{damped_update, NewtonParams};
use crate::error::{Error, InputError, NumericalError, Result};
use crate::model::{Regulariser, SoftmaxDynamics};
use crate::sweeps::progress::Stage;
use cg::{conjugate_gradients, scaled_max};

/// A softmax steady state with the evidence that it is one.
#[derive(Clone, Debug, PartialEq)]
pub struct SoftmaxSteadyState {
    /// Responses z*.
    pub responses: DVector<f64>,
    /// Logits F* = Uz*, n × c.
    pub logits: DMatrix<f64>,
    /// Probabilities P* (row-wise softmax of F*), n × c.
    pub probabilities: DMatrix<f64>,
    /// max_j |z_j − (W⁻¹Uᵀvec(Y − P))_j| over the free components: the fixed-point residual in
    /// units of z.
    pub residual: f64,
    /// Newton iterations taken.
    pub iterations: usize,
    /// The linear algebra the iterations took.
    pub work: NewtonWork,
}

/// What a softmax Newton solve spent on its linear systems.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NewtonWork {
    /// Conjugate-gradient iterations (each one action of the Hessian, O(ncr)), over all steps.
    pub cg_iterations: usize,
    /// Hessians UᵀHU + W formed and factorised by Cholesky (O(ncr²/2 + r³/6) each).
    pub factorisations: usize,
}

impl SoftmaxSteadyState {
    /// The multi-class margins mᵢ = F_{i,yᵢ} − max_{k≠yᵢ} F_ik (positive: example i classified
    /// correctly). For a binary image they are the binary margins (docs/theory.md §9.4).
    pub fn margins(&self, labels: &[usize]) -> DVector<f64> {
        margins(&self.logits, labels)
    }
}

/// mᵢ = F_{i,yᵢ} − max_{k≠yᵢ} F_ik for logits F (n × c).
pub fn margins(logits: &DMatrix<f64>, labels: &[usize]) -> DVector<f64> {
    DVector::from_fn(labels.len(), |i, _| {
        let y = labels[i];
        let other = (0..logits.ncols())
            .filter(|&k| k != y)
            .map(|k| logits[(i, k)])
            .fold(f64::NEG_INFINITY, f64::max);
        logits[(i, y)] - other
    })
}

/// The largest forcing term η of the inexact Newton steps.
const FORCING_MAX: f64 = 0.5;
/// The last step's conjugate gradients stop at this fraction of the Newton tolerance, so that
/// the gradient after it (their residual plus O(‖s‖²)) is below the tolerance.
const LAST_STEP_FRACTION: f64 = 0.1;
/// Conjugate-gradient iterations allowed with the last factorised Hessian as preconditioner
/// before the Hessian is factorised afresh (each costs two triangular solves besides the action).
const FACTOR_CG_BUDGET: usize = 20;

/// How much slower a Hessian action runs per multiply–add than the blocked products that form
/// and factorise the Hessian (its matrix–vector products read U from memory for one or two
/// multiply–adds per number). At n = 100, c = 10, r = 1000, single-threaded, the Newton solve
/// (151 actions, 0.30 G multiply–adds, and its other passes over U) took 1.2–1.6 times as long as
/// forming, factorising and inverting one Hessian (0.95 G): 3–5× slower per multiply–add
/// (docs/benchmarks.md, "Multi-class softmax and max-margin speed").
const ACTION_SLOWDOWN: f64 = 4.0;
/// The fewest diagonally preconditioned conjugate-gradient iterations a step may take before the
/// Hessian is factorised instead.
const MIN_JACOBI_BUDGET: usize = 16;

/// Diagonally preconditioned conjugate-gradient iterations that cost about as much as forming
/// and factorising the Hessian: (n(c−1)r²/2 + r³/6) multiply–adds against 2ncr per action,
/// [`ACTION_SLOWDOWN`] times slower per multiply–add.
fn jacobi_budget(dynamics: &SoftmaxDynamics) -> usize {
    let sys = dynamics.system();
    let (n, c, r) = (
        sys.examples() as f64,
        sys.classes() as f64,
        sys.rank() as f64,
    );
    let factorisation = n * (c - 1.0) * r * r / 2.0 + r * r * r / 6.0;
    let action = 2.0 * n * c * r * ACTION_SLOWDOWN;
    ((factorisation / action) as usize).max(MIN_JACOBI_BUDGET)
}

/// The steady state of `dynamics` (docs/theory.md §9.3). No regulariser (or λ = 0): no steady
/// state (exit 2, as in the binary case).
pub fn softmax_steady_state(
    dynamics: &SoftmaxDynamics,
    params: &NewtonParams,
) -> Result<SoftmaxSteadyState> {
    newton(dynamics, params, jacobi_budget(dynamics))
}

/// [`softmax_steady_state`] with `budget` diagonally preconditioned conjugate-gradient
/// iterations per step (0: every step factorises the Hessian or uses its last factor).
fn newton(
    dynamics: &SoftmaxDynamics,
    params: &NewtonParams,
    budget: usize,
) -> Result<SoftmaxSteadyState> {
    if dynamics.regulariser().lambda() <= 0.0 {
        return Err(Error::Input(InputError::NoSteadyState));
    }
    let r = dynamics.dim();
    let s2 = dynamics.strengths_squared();
    let free: Vec<usize> = (0..r).filter(|&j| s2[j] > 0.0).collect();
    let weights =
        DVector::from_iterator(free.len(), free.iter().map(|&j| dynamics.penalty_weight(j)));
    let embed = |x: &DVector<f64>| {
        let mut z = DVector::zeros(r);
        for (k, &j) in free.iter().enumerate() {
            z[j] = x[k];
        }
        z
    };
    let restrict =
        |v: &DVector<f64>| DVector::from_iterator(free.len(), free.iter().map(|&j| v[j]));
    // ∇L on the free components: W ⊙ x − (Uᵀ vec(Y − P))_free.
    let gradient =
        |x: &DVector<f64>| weights.component_mul(x) - restrict(&dynamics.drive(&embed(x)));
    let mut work = NewtonWork::default();
    let finish = |x: &DVector<f64>, residual: f64, iterations: usize, work: NewtonWork| {
        let z = embed(x);
        let (logits, probabilities) = dynamics.logits_and_probabilities(&z);
        SoftmaxSteadyState {
            responses: z,
            logits,
            probabilities,
            residual,
            iterations,
            work,
        }
    };
    let mut x = DVector::zeros(free.len());
    let mut value = dynamics.objective(&embed(&x));
    let mut residual = f64::INFINITY;
    let mut initial = f64::NAN;
    let mut factor: Option<faer::linalg::solvers::Llt<f64>> = None;
    let stage = Stage::begin("Newton: softmax steady state", "iterations", 0);
    for it in 0..=params.max_iterations {
        let g = gradient(&x);
        residual = scaled_max(&g, &weights);
        stage.advance(it);
        let goal = params.tolerance * x.amax().max(1.0);
        if residual <= goal {
            return Ok(finish(&x, residual, it, work));
        }
        if it == params.max_iterations {
            break;
        }
        if it == 0 {
            initial = residual;
        }
        // The inexact Newton step: conjugate gradients to η·res (docs/theory.md §12.4),
        // preconditioned by A's diagonal, or by the last factorised Hessian once there is one;
        // where they would take too long, a fresh factorisation of A at x.
        let eta = (residual / initial).sqrt().min(FORCING_MAX);
        let threshold = (eta * residual).max(LAST_STEP_FRACTION * goal);
        let curvature = dynamics.curvature(&embed(&x));
        let hessian_action =
            |v: &DVector<f64>| restrict(&curvature.action(&embed(v))) + weights.component_mul(v);
        let solved = match factor.as_ref() {
            Some(llt) => conjugate_gradients(
                hessian_action,
                |v| factor_solve(llt, v),
                &g,
                &weights,
                threshold,
                FACTOR_CG_BUDGET,
            ),
            None => {
                let diagonal = restrict(&curvature.diagonal()) + &weights;
                conjugate_gradients(
                    hessian_action,
                    |v| v.component_div(&diagonal),
                    &g,
                    &weights,
                    threshold,
                    budget,
                )
            }
        };
        let step = match solved {
            Ok((step, iterations)) => {
                work.cg_iterations += iterations;
                step
            }
            Err(abandoned) => {
                work.cg_iterations += abandoned.iterations;
                let llt = hessian_factor(&curvature.gram(), &free, &weights).ok_or(
                    Error::Numerical(NumericalError::NewtonFailed {
                        iterations: it,
                        residual,
                    }),
                )?;
                work.factorisations += 1;
                let step = factor_solve(&llt, &g.map(|x| -x));
                factor = Some(llt);
                step
            }
        };
        let moved = damped_update(
            &mut x,
            &mut value,
            &step,
            &g,
            residual,
            |x| dynamics.objective(&embed(x)),
            |x| scaled_max(&gradient(x), &weights),
        );
        if !moved {
            // Stagnation at rounding level reports the residual reached.
            if residual <= 1e3 * goal {
                return Ok(finish(&x, residual, it, work));
            }
            return Err(Error::Numerical(NumericalError::NewtonFailed {
                iterations: it,
                residual,
            }));
        }
    }
    Err(Error::Numerical(NumericalError::NewtonFailed {
        iterations: params.max_iterations,
        residual,
    }))
}

/// The fixed-point residual max_j |F_j|/(s_j² W_jj) over the free components at z (the same
/// measure Newton stops on).
pub fn softmax_fixed_point_residual(dynamics: &SoftmaxDynamics, z: &DVector<f64>) -> f64 {
    let f = dynamics.rhs(z);
    let s2 = dynamics.strengths_squared();
    (0..z.len())
        .filter(|&j| s2[j] > 0.0)
        .map(|j| (f[j] / (s2[j] * dynamics.penalty_weight(j))).abs())
        .fold(
            0.0,
            |m: f64, e| if e.is_nan() { f64::INFINITY } else { m.max(e) },
        )
}

/// The Cholesky factor (faer) of the Hessian UᵀHU + W on the free components, from `gram` =
/// UᵀHU over all components; `None` if it is not numerically positive definite.
pub(crate) fn hessian_factor(
    gram: &DMatrix<f64>,
    free: &[usize],
    weights: &DVector<f64>,
) -> Option<faer::linalg::solvers::Llt<f64>> {
    let k = free.len();
    let mut hessian = faer::Mat::<f64>::from_fn(k, k, |a, b| gram[(free[a], free[b])]);
    for j in 0..k {
        hessian[(j, j)] += weights[j];
    }
    hessian.llt(faer::Side::Lower).ok()
}

/// A⁻¹b for the factor of A.
fn factor_solve(llt: &faer::linalg::solvers::Llt<f64>, b: &DVector<f64>) -> DVector<f64> {
    use faer::linalg::solvers::Solve;
    let x = llt.solve(faer::MatRef::from_column_major_slice(
        b.as_slice(),
        b.len(),
        1,
    ));
    DVector::from_fn(b.len(), |i, _| x[(i, 0)])
}

/// Whether the SD sensitivities vanish identically for this system: SD with every s_j > 0,
/// where the fixed point Uᵀvec(Y − P) = λz does not contain S (docs/theory.md §9.3).
pub fn sd_independent_of_strengths(dynamics: &SoftmaxDynamics) -> bool {
    matches!(
        dynamics.regulariser(),
        Regulariser::SpectralDecoupling { .. }
    ) && dynamics.strengths_squared().iter().all(|&s| s > 0.0)
}

#[cfg(test)]
mod tests;
