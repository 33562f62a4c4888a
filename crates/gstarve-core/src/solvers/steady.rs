//! Steady states z* of the flow (docs/theory.md §4.1–§4.3) by damped Newton (§12.4), with
//! residual and iterations.
//!
//! Every regularised flow is F(z) = −S² ∇L(z) with the strictly convex
//! L(z) = Σᵢ ℓ((Uz)ᵢ) + ½ zᵀWz, W = λS⁻² (L2) or λI (SD) (see
//! [`PrimalDynamics::objective`]). Newton on ∇L = 0 has the same step as Newton on the fixed-point
//! form G(z) = z − W⁻¹Uᵀψ(Uz) of docs/theory.md §4.1 (its Jacobian is J = I + W⁻¹UᵀDU), and L is a
//! merit function for an Armijo line search, so the iteration converges from z = 0.
//! SD with r = n uses the scalar margin equation λμ(1 + e^μ) = 1 instead.

use nalgebra::{DMatrix, DVector};

use crate::error::{Error, InputError, NumericalError, Result};
use crate::model::{sigmoid_neg, Loss, PrimalDynamics, Regulariser};
use crate::sweeps::progress::Stage;

mod damped;
mod small;

pub(crate) use damped::damped_update;

/// A steady state with the evidence that it is one.
#[derive(Clone, Debug, PartialEq)]
pub struct SteadyState {
    /// Responses z*.
    pub responses: DVector<f64>,
    /// Margins m* = U z*.
    pub margins: DVector<f64>,
    /// Dual variables α* = σ(−m*) (logistic loss only, docs/theory.md §4.1).
    pub alpha: Option<DVector<f64>>,
    /// max_j |z_j − (W⁻¹Uᵀψ(Uz))_j|, the fixed-point residual in units of z.
    pub residual: f64,
    /// Newton iterations taken.
    pub iterations: usize,
    /// How it was computed: `newton` or `sd-scalar`.
    pub method: &'static str,
}

/// Tuning of the Newton iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NewtonParams {
    /// Converged when residual ≤ `tolerance`·max(1, ‖z‖∞). Default 1e-12.
    pub tolerance: f64,
    /// Iteration limit. Default 200.
    pub max_iterations: usize,
}

impl Default for NewtonParams {
    fn default() -> Self {
        Self {
            tolerance: 1e-12,
            max_iterations: 200,
        }
    }
}

/// The steady state of `dynamics` with default Newton parameters.
pub fn steady_state(dynamics: &PrimalDynamics) -> Result<SteadyState> {
    steady_state_with(dynamics, &NewtonParams::default())
}

/// The steady state of `dynamics` (docs/theory.md §4.1–§4.3): damped Newton (§12.4), or for SD
/// with r = n and every s_j > 0 the scalar margin equation of §4.2.
pub fn steady_state_with(dynamics: &PrimalDynamics, params: &NewtonParams) -> Result<SteadyState> {
    let reg = dynamics.regulariser();
    let sys = dynamics.system();
    let lambda = reg.lambda();
    if dynamics.loss() == Loss::Logistic && lambda <= 0.0 {
        // Separable data under the logistic loss: z grows like log τ (docs/theory.md §4.4, §5.2).
        return Err(Error::Input(InputError::NoSteadyState));
    }
    if let (Loss::Logistic, Regulariser::SpectralDecoupling { lambda }) = (dynamics.loss(), reg) {
        let all_positive = dynamics.strengths_squared().iter().all(|&s| s > 0.0);
        if sys.rank() == sys.examples() && all_positive {
            let (mu, iterations) = sd_margin(lambda)?;
            let responses = sys.coupling_column_sums() * mu;
            return Ok(finish(dynamics, responses, iterations, "sd-scalar"));
        }
    }
    newton(dynamics, params)
}

/// μ* with λμ(1 + e^μ) = 1 (docs/theory.md §4.2), by safeguarded Newton (§12.5) on
/// h(μ) = log(λμ) + log(1 + e^μ), which increases from −∞ to ∞ on μ > 0.
pub fn sd_margin(lambda: f64) -> Result<(f64, usize)> {
    if !(lambda.is_finite() && lambda > 0.0) {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "λ",
            value: lambda,
            rule: "the SD margin equation λμ(1+e^μ) = 1 needs λ > 0",
        }));
    }
    let h = |mu: f64| (lambda * mu).ln() + mu.max(0.0) + (-mu.abs()).exp().ln_1p();
    let dh = |mu: f64| 1.0 / mu + 1.0 - sigmoid_neg(mu);
    let (mut lo, mut hi) = (f64::MIN_POSITIVE, 1.0);
    while h(hi) < 0.0 {
        lo = hi;
        hi *= 2.0;
    }
    let mut mu = 0.5 * (lo + hi).min(1e300);
    for it in 1..=200 {
        let value = h(mu);
        if value < 0.0 {
            lo = mu;
        } else {
            hi = mu;
        }
        let mut next = mu - value / dh(mu);
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - mu).abs() <= 4.0 * f64::EPSILON * mu {
            return Ok((next, it));
        }
        mu = next;
    }
    Err(Error::Numerical(NumericalError::NewtonFailed {
        iterations: 200,
        residual: h(mu).abs(),
    }))
}

/// max_j |z_j − (W⁻¹Uᵀψ(Uz))_j| over the free components (s_j > 0); with no penalty (squared
/// loss, λ = 0) the gradient max_j |∇L_j| itself.
pub fn fixed_point_residual(dynamics: &PrimalDynamics, z: &DVector<f64>) -> f64 {
    let f = dynamics.rhs(z);
    let s2 = dynamics.strengths_squared();
    // F = −S²∇L and W⁻¹∇L = z − W⁻¹Uᵀψ, so the residual is |F_j|/(s_j² W_jj).
    (0..z.len())
        .filter(|&j| s2[j] > 0.0)
        .map(|j| (f[j] / (s2[j] * residual_scale(dynamics.penalty_weight(j)))).abs())
        .fold(0.0, max_or_infinite)
}

/// max(m, e) with NaN counted as +∞: a residual that cannot be evaluated is not small.
fn max_or_infinite(m: f64, e: f64) -> f64 {
    if e.is_nan() {
        f64::INFINITY
    } else {
        m.max(e)
    }
}

fn residual_scale(weight: f64) -> f64 {
    if weight > 0.0 {
        weight
    } else {
        1.0
    }
}

fn finish(
    dynamics: &PrimalDynamics,
    responses: DVector<f64>,
    iterations: usize,
    method: &'static str,
) -> SteadyState {
    let margins = dynamics.system().margins(&responses);
    let alpha = (dynamics.loss() == Loss::Logistic).then(|| margins.map(sigmoid_neg));
    SteadyState {
        residual: fixed_point_residual(dynamics, &responses),
        responses,
        margins,
        alpha,
        iterations,
        method,
    }
}

/// Damped Newton: on the stack for small systems ([`small`]), else [`newton_general`].
fn newton(dynamics: &PrimalDynamics, params: &NewtonParams) -> Result<SteadyState> {
    small::newton(dynamics, params).unwrap_or_else(|| newton_general(dynamics, params))
}

fn newton_general(dynamics: &PrimalDynamics, params: &NewtonParams) -> Result<SteadyState> {
    let sys = dynamics.system();
    let u = sys.coupling();
    let r = sys.rank();
    // Components with s_j = 0 do not move under the flow: pinned at 0.
    let free: Vec<usize> = (0..r)
        .filter(|&j| dynamics.strengths_squared()[j] > 0.0)
        .collect();
    // U_f: U itself when every strength is positive (no n × r copy).
    let uf = if free.len() == r {
        std::borrow::Cow::Borrowed(u)
    } else {
        std::borrow::Cow::Owned(u.select_columns(&free))
    };
    let weights =
        DVector::from_iterator(free.len(), free.iter().map(|&j| dynamics.penalty_weight(j)));
    let embed = |x: &DVector<f64>| {
        let mut z = DVector::zeros(r);
        for (k, &j) in free.iter().enumerate() {
            z[j] = x[k];
        }
        z
    };
    let objective = |x: &DVector<f64>| dynamics.objective(&embed(x));
    // max_j |∇L_j / W_jj|: the fixed-point residual in units of z, from the gradient.
    let scaled_residual = |gradient: &DVector<f64>| {
        gradient
            .iter()
            .zip(weights.iter())
            .map(|(g, &w)| (g / residual_scale(w)).abs())
            .fold(0.0, max_or_infinite)
    };
    let mut x = DVector::zeros(free.len());
    let mut value = objective(&x);
    let mut residual = f64::INFINITY;
    let stage = Stage::begin("Newton: steady state", "iterations", 0);
    for it in 0..=params.max_iterations {
        let gradient = dynamics.objective_gradient(&uf, &weights, &x);
        residual = scaled_residual(&gradient);
        stage.advance(it);
        if residual <= params.tolerance * x.amax().max(1.0) {
            return Ok(finish(dynamics, embed(&x), it, "newton"));
        }
        if it == params.max_iterations {
            break;
        }
        let curvatures = dynamics.loss_curvatures(&uf, &x);
        let step = match newton_step(&uf, &curvatures, &weights, &gradient) {
            Some(step) => step,
            None => {
                return Err(Error::Numerical(NumericalError::NewtonFailed {
                    iterations: it,
                    residual,
                }))
            }
        };
        // The same residual measure as `residual` (not `fixed_point_residual`, which rounds
        // differently), as `damped_update` requires.
        let residual_at = |trial: &DVector<f64>| {
            scaled_residual(&dynamics.objective_gradient(&uf, &weights, trial))
        };
        let moved = damped_update(
            &mut x,
            &mut value,
            &step,
            &gradient,
            residual,
            objective,
            residual_at,
        );
        if !moved {
            if residual <= 1e3 * params.tolerance * x.amax().max(1.0) {
                // Stagnation at rounding level: report the residual reached.
                return Ok(finish(dynamics, embed(&x), it, "newton"));
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

/// Up to this many free features the Newton step is factorised by nalgebra rather than faer.
const SMALL_HESSIAN: usize = 8;

/// The Newton step −H⁻¹g with the Hessian H = U_fᵀ D U_f + W of the objective (docs/theory.md §12.4),
/// D = diag(ℓ''(mᵢ)), or `None` if H is not numerically positive definite. H is formed by
/// faer's blocked GEMM (in parallel for large systems) and factorised by its blocked Cholesky:
/// at n = 1000 this is the cost of a Newton iteration (n³ multiply–adds), which nalgebra's
/// unblocked product took seconds over.
fn newton_step(
    uf: &DMatrix<f64>,
    curvature: &DVector<f64>,
    weights: &DVector<f64>,
    gradient: &DVector<f64>,
) -> Option<DVector<f64>> {
    use faer::linalg::solvers::Solve;
    let k = uf.ncols();
    // U_fᵀ D U_f by row blocks of U_f (faer's GEMM per block): no n × k copy of U_f.
    let gram = crate::model::streamed::diagonal_weighted_gram(uf, curvature.as_slice());
    if k <= SMALL_HESSIAN {
        // nalgebra's unblocked Cholesky: no set-up cost, which dominates faer's at this size.
        let mut hessian = gram;
        for j in 0..k {
            hessian[(j, j)] += weights[j];
        }
        let llt = nalgebra::Cholesky::new(hessian)?;
        return Some(-llt.solve(gradient));
    }
    let mut hessian = faer::Mat::<f64>::from_fn(k, k, |i, j| gram[(i, j)]);
    for j in 0..k {
        hessian[(j, j)] += weights[j];
    }
    let llt = hessian.llt(faer::Side::Lower).ok()?;
    let x = llt.solve(faer::MatRef::from_column_major_slice(
        gradient.as_slice(),
        k,
        1,
    ));
    Some(DVector::from_fn(k, |i, _| -x[(i, 0)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::FeatureSystem;

    #[test]
    fn sd_margin_matches_theory_reference() {
        // docs/theory.md §6.2: μ* = 4.665120 for λ = 0.002.
        let (mu, _) = sd_margin(0.002).unwrap();
        assert!((mu - 4.665120).abs() < 1e-6, "{mu}");
        assert!((0.002 * mu * (1.0 + mu.exp()) - 1.0).abs() < 1e-14);
    }

    #[test]
    fn sd_newton_and_scalar_agree() {
        let sys = FeatureSystem::rotation(5.0, 2.0, 0.5).unwrap();
        let d = PrimalDynamics::new(
            &sys,
            Loss::Logistic,
            Regulariser::SpectralDecoupling { lambda: 0.002 },
        )
        .unwrap();
        let scalar = steady_state(&d).unwrap();
        let general = newton(&d, &NewtonParams::default()).unwrap();
        assert_eq!(scalar.method, "sd-scalar");
        assert!((scalar.responses - general.responses).amax() < 1e-9);
    }

    /// The stack path for small systems agrees with the general path: the same steady state to
    /// 1e-12 (relative to max(1, ‖z*‖∞)), the same iteration count to one and, when the
    /// iteration limit is too small, the same error.
    #[test]
    fn small_newton_matches_general_newton() {
        use crate::systems::Spectrum;
        let mut systems = vec![
            FeatureSystem::rotation(6.0, 2.0, 0.5).unwrap(),
            FeatureSystem::rotation(5.0, 0.3, 0.95).unwrap(),
            FeatureSystem::rotation(1.0, 1.0, 0.05).unwrap(),
            FeatureSystem::decoupled(&[3.0, 1.0, 0.2]).unwrap(),
        ];
        for n in [1, 3, 5, 8] {
            let spectrum = Spectrum::Geometric {
                from: 10.0,
                to: 0.1,
            };
            systems.push(FeatureSystem::random(n, spectrum, n as u64).unwrap());
            if n > 2 {
                systems.push(FeatureSystem::random_top(n, 2, spectrum, 7).unwrap().0);
            }
        }
        let models = [
            (Loss::Logistic, Regulariser::L2 { lambda: 0.01 }),
            (Loss::Logistic, Regulariser::L2 { lambda: 1e-5 }),
            (
                Loss::Logistic,
                Regulariser::SpectralDecoupling { lambda: 0.02 },
            ),
            (Loss::Squared, Regulariser::L2 { lambda: 0.1 }),
        ];
        let mut compared = 0;
        for sys in &systems {
            for &(loss, reg) in &models {
                let d = PrimalDynamics::new(sys, loss, reg).unwrap();
                let params = NewtonParams::default();
                let fast = small::newton(&d, &params).expect("a small system").unwrap();
                let general = newton_general(&d, &params).unwrap();
                let scale = general.responses.amax().max(1.0);
                let gap = (&fast.responses - &general.responses).amax();
                assert!(gap <= 1e-12 * scale, "{sys:?} {reg:?}: |Δz| = {gap:e}");
                // The last iteration can fall on either side of the stopping test (rounding
                // at the 1e-12 level, e.g. λ = 1e-5 with z* ≈ 1e3): one iteration apart at most.
                assert!(
                    fast.iterations.abs_diff(general.iterations) <= 1,
                    "{sys:?} {reg:?}: {} vs {} iterations",
                    fast.iterations,
                    general.iterations
                );
                // The iteration's acceptance bound: 1e3·tolerance at stagnation (λ = 1e-5).
                assert!(fast.residual <= 1e-9 * scale, "{}", fast.residual);
                let limited = NewtonParams {
                    max_iterations: 1,
                    ..params
                };
                if general.iterations > 1 {
                    let failure = |r: Result<SteadyState>| match r {
                        Err(Error::Numerical(NumericalError::NewtonFailed {
                            iterations,
                            residual,
                        })) => (iterations, residual),
                        other => panic!("expected NewtonFailed, got {other:?}"),
                    };
                    let (it_fast, res_fast) = failure(small::newton(&d, &limited).unwrap());
                    let (it_general, res_general) = failure(newton_general(&d, &limited));
                    assert_eq!(it_fast, it_general);
                    assert!((res_fast - res_general).abs() <= 1e-10 * res_general.max(1.0));
                }
                compared += 1;
            }
        }
        assert_eq!(compared, systems.len() * models.len());
        // Beyond its capacity, or with a pinned component, the small path steps aside.
        let big = FeatureSystem::random(
            small::CAPACITY + 1,
            Spectrum::Geometric { from: 2.0, to: 1.0 },
            1,
        )
        .unwrap();
        let pinned = FeatureSystem::decoupled(&[2.0, 0.0]).unwrap();
        for sys in [&big, &pinned] {
            let d =
                PrimalDynamics::new(sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
            assert!(small::newton(&d, &NewtonParams::default()).is_none());
        }
    }

    #[test]
    fn no_regulariser_has_no_steady_state() {
        let sys = FeatureSystem::rotation(5.0, 2.0, 0.5).unwrap();
        let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::None).unwrap();
        assert!(matches!(
            steady_state(&d),
            Err(Error::Input(InputError::NoSteadyState))
        ));
    }
}
