//! Steady states of the softmax dynamics (docs/theory.md §9.3) by damped Newton (§12.4), with
//! residual and iterations.
//!
//! The regularised flow is F(z) = −S²∇L(z) with the strictly convex
//! L(z) = Σᵢ CEᵢ(Uz) + ½ zᵀWz, W = λS⁻² (L2) or λI (SD) ([`SoftmaxDynamics::objective`]): Newton
//! on ∇L = 0 with the Hessian UᵀHU + W (Cholesky), an Armijo line search on L, from z = 0.
//! The Hessian is formed and factorised (O(ncr²)) only when needed: each Newton step is first
//! tried by conjugate gradients on the Hessian's action (O(ncr) each) preconditioned with the
//! last factor, which near the solution converge in a few iterations.
//! Components with s_j = 0 never move under the flow and are pinned at 0. Unlike the binary SD
//! steady state there is no scalar shortcut: with c > 2 the per-example equations
//! Y − P = λF do not reduce to one margin (§9.3).

use nalgebra::{DMatrix, DVector};

use super::steady::NewtonParams;
use crate::error::{Error, InputError, NumericalError, Result};
use crate::model::{Regulariser, SoftmaxDynamics};
use crate::sweeps::progress::Stage;

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

/// The steady state of `dynamics` (docs/theory.md §9.3). No regulariser (or λ = 0): no steady
/// state (exit 2, as in the binary case).
pub fn softmax_steady_state(
    dynamics: &SoftmaxDynamics,
    params: &NewtonParams,
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
    let scaled = |g: &DVector<f64>| {
        g.iter()
            .zip(weights.iter())
            .map(|(g, &w)| (g / w).abs())
            .fold(
                0.0,
                |m: f64, e| if e.is_nan() { f64::INFINITY } else { m.max(e) },
            )
    };
    let finish = |x: &DVector<f64>, residual: f64, iterations: usize| {
        let z = embed(x);
        let (logits, probabilities) = dynamics.logits_and_probabilities(&z);
        SoftmaxSteadyState {
            responses: z,
            logits,
            probabilities,
            residual,
            iterations,
        }
    };
    let mut x = DVector::zeros(free.len());
    let mut value = dynamics.objective(&embed(&x));
    let mut residual = f64::INFINITY;
    let mut factor: Option<faer::linalg::solvers::Llt<f64>> = None;
    let stage = Stage::begin("Newton: softmax steady state", "iterations", 0);
    for it in 0..=params.max_iterations {
        let g = gradient(&x);
        residual = scaled(&g);
        stage.advance(it);
        if residual <= params.tolerance * x.amax().max(1.0) {
            return Ok(finish(&x, residual, it));
        }
        if it == params.max_iterations {
            break;
        }
        // The Newton step: by conjugate gradients preconditioned with the last factorised
        // Hessian while they converge fast, else (and at the first iteration) by a fresh
        // factorisation at x.
        let curvature = dynamics.curvature(&embed(&x));
        let hessian_action =
            |v: &DVector<f64>| restrict(&curvature.action(&embed(v))) + weights.component_mul(v);
        let step = match factor
            .as_ref()
            .and_then(|llt| preconditioned_step(&hessian_action, llt, &g))
        {
            Some(step) => step,
            None => {
                let llt = hessian_factor(&curvature.gram(), &free, &weights).ok_or(
                    Error::Numerical(NumericalError::NewtonFailed {
                        iterations: it,
                        residual,
                    }),
                )?;
                let step = factor_solve(&llt, &g.map(|x| -x));
                factor = Some(llt);
                step
            }
        };
        let slope = g.dot(&step);
        let resolvable = -slope > 1e3 * f64::EPSILON * value.abs().max(f64::MIN_POSITIVE);
        let mut accepted = false;
        if resolvable {
            let mut t = 1.0;
            for _ in 0..60 {
                let trial = &x + &step * t;
                let trial_value = dynamics.objective(&embed(&trial));
                if trial_value <= value + 1e-4 * t * slope {
                    x = trial;
                    value = trial_value;
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
        }
        if !accepted {
            // Quadratic phase below the objective's rounding: the full step while it lowers the
            // residual; stagnation at rounding level reports the residual reached.
            let trial = &x + &step;
            let trial_res = scaled(&gradient(&trial));
            if trial_res < residual {
                x = trial;
                value = dynamics.objective(&embed(&x));
            } else if residual <= 1e3 * params.tolerance * x.amax().max(1.0) {
                return Ok(finish(&x, residual, it));
            } else {
                return Err(Error::Numerical(NumericalError::NewtonFailed {
                    iterations: it,
                    residual,
                }));
            }
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

/// Conjugate-gradient iterations allowed before the Hessian is factorised afresh.
const CG_MAX_ITERATIONS: usize = 20;
/// The Newton step's relative residual ‖A s + g‖/‖g‖ that conjugate gradients must reach: an
/// inexact Newton step this close converges as the exact one does (forcing term far below the
/// contraction of the quadratic phase).
const CG_TOLERANCE: f64 = 1e-9;
/// Conjugate gradients that have not cut the residual below [`CG_CHECK_RATIO`]·‖g‖ by this
/// iteration are abandoned (the Hessian is then factorised afresh). Measured at n = 100, c = 10,
/// r = 1000 (docs/benchmarks.md, "Multi-class softmax and max-margin speed"): at iteration 8
/// the runs that went on to converge stood at 3e-7 – 2e-6, the three that ran out of
/// iterations at 4e-3 – 4e-2; abandoning those saves 36 of the 109 iterations.
const CG_CHECK_ITERATION: usize = 8;
/// See [`CG_CHECK_ITERATION`].
const CG_CHECK_RATIO: f64 = 1e-4;

/// The Newton step s = −A⁻¹g (A the Hessian, given by its action) by conjugate gradients
/// preconditioned with the factor of a Hessian at an earlier iterate; O(ncr) per iteration
/// instead of the O(ncr²) of forming A. `None` if they do not reach [`CG_TOLERANCE`] within
/// [`CG_MAX_ITERATIONS`], or [`CG_CHECK_RATIO`] by [`CG_CHECK_ITERATION`] (the preconditioner
/// is stale), or meet a direction of non-positive curvature.
fn preconditioned_step(
    action: &impl Fn(&DVector<f64>) -> DVector<f64>,
    preconditioner: &faer::linalg::solvers::Llt<f64>,
    g: &DVector<f64>,
) -> Option<DVector<f64>> {
    let target = CG_TOLERANCE * g.norm();
    let mut x = DVector::zeros(g.len());
    let mut r = -g;
    let mut z = factor_solve(preconditioner, &r);
    let mut p = z.clone();
    let mut rz = r.dot(&z);
    for iteration in 1..=CG_MAX_ITERATIONS {
        let ap = action(&p);
        let curvature = p.dot(&ap);
        if curvature.is_nan() || curvature <= 0.0 || !rz.is_finite() {
            return None;
        }
        let alpha = rz / curvature;
        x.axpy(alpha, &p, 1.0);
        r.axpy(-alpha, &ap, 1.0);
        let r_norm = r.norm();
        if r_norm <= target {
            return Some(x);
        }
        // A stale preconditioner shows early: give up before spending the rest.
        if iteration == CG_CHECK_ITERATION && r_norm > CG_CHECK_RATIO * g.norm() {
            return None;
        }
        z = factor_solve(preconditioner, &r);
        let rz_next = r.dot(&z);
        p = &z + &p * (rz_next / rz);
        rz = rz_next;
    }
    None
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
