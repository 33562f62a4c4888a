//! The numerical side of the steady-state rows: zeros of the flow F found directly, and central
//! (or, at s_i = 0, one-sided) finite differences of them in s_i², with an error estimate.
//!
//! F is affine in the squared strengths (docs/theory.md §2.3: F(z) = S²(Uᵀψ(Uz) − λ_SD z) − μz):
//!
//! ```text
//! F(z; S²) = S² (F₁(z) + μz) − μz,        F₁ = the flow of the same U at unit strengths
//! ```
//!
//! so a system with one strength moved is evaluated from `model::PrimalDynamics` at unit
//! strengths, without building (and re-validating) a new system for every difference. The zero is
//! found by Newton on G_j = F_j/c_j, c_j = μ + λ_SD s_j² (G is the fixed-point residual of §4.1
//! in units of z); components with c_j = 0 (SD at s_j = 0) do not move and stay at the start.
//! Convergence is decided on G alone, so the zero does not depend on the Jacobian used to reach
//! it: the differences are a computation independent of the closed forms of §5.3.

use nalgebra::{DMatrix, DVector};

use crate::error::{Error, NumericalError, Result};
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::solvers::steady::steady_state;
use crate::systems::FeatureSystem;

/// Relative step of the differences: h_i = `STEP`·max(s_i², λ). With Richardson extrapolation
/// the truncation error is O(h⁴); the estimate used as the tolerance is that of the O(h²) quotient
/// (|D(h) − D(2h)|/3, about 1e-8 of an entry), and rounding adds ε_z/h ≈ 1e-11 of it.
const STEP: f64 = 1e-4;

/// Iteration limit of the Newton and chord iterations.
const MAX_ITERATIONS: usize = 60;

/// Chord steps (with the Jacobian at z*) before the iteration falls back to Newton.
const CHORD_ITERATIONS: usize = 8;

/// F at the squared strengths `s2`, from the flow at unit strengths (the module docs).
pub(super) struct ScaledFlow<'a> {
    unit: PrimalDynamics<'a>,
    mu: f64,
    lambda_sd: f64,
}

impl<'a> ScaledFlow<'a> {
    /// `unit_system` is the system with every strength 1.
    pub(super) fn new(unit_system: &'a FeatureSystem, reg: Regulariser) -> Result<Self> {
        let unit = PrimalDynamics::new(unit_system, Loss::Logistic, reg)?;
        let (mu, lambda_sd) = (unit.model().decay(), unit.model().lambda_sd());
        Ok(Self {
            unit,
            mu,
            lambda_sd,
        })
    }

    fn scale(&self, s2: f64) -> f64 {
        self.mu + self.lambda_sd * s2
    }

    /// G(z) = F(z; S²)/c on the free components (c_j > 0), 0 on the others.
    fn residual(&self, s2: &DVector<f64>, z: &DVector<f64>) -> DVector<f64> {
        let f1 = self.unit.rhs(z);
        DVector::from_fn(z.len(), |j, _| {
            let c = self.scale(s2[j]);
            if c > 0.0 {
                (s2[j] * (f1[j] + self.mu * z[j]) - self.mu * z[j]) / c
            } else {
                0.0
            }
        })
    }

    /// ∂G/∂z, with the identity on the pinned components (c_j = 0).
    fn jacobian(&self, s2: &DVector<f64>, z: &DVector<f64>) -> DMatrix<f64> {
        let mut jac = self.unit.jacobian(z);
        for j in 0..z.len() {
            jac[(j, j)] += self.mu;
            let c = self.scale(s2[j]);
            if c > 0.0 {
                let w = s2[j] / c;
                jac.row_mut(j).scale_mut(w);
                jac[(j, j)] -= self.mu / c;
            } else {
                jac.row_mut(j).fill(0.0);
                jac[(j, j)] = 1.0;
            }
        }
        jac
    }

    /// The zero of G from `start`: the chord iteration with the given factorisation for at most
    /// [`CHORD_ITERATIONS`] steps, then (or without `chord` from the start) Newton with a new
    /// Jacobian each step. Converged when a step is below 4ε·max(1, ‖z‖∞), or when the steps stop
    /// halving below 1e-6·max(1, ‖z‖∞) (the rounding floor of an ill-conditioned ∂G/∂z). Returns
    /// the zero and its accuracy: the last step(s) plus 8ε·max(1, ‖z‖∞).
    pub(super) fn zero(
        &self,
        s2: &DVector<f64>,
        start: &DVector<f64>,
        chord: Option<&nalgebra::LU<f64, nalgebra::Dyn, nalgebra::Dyn>>,
    ) -> Result<(DVector<f64>, f64)> {
        let mut z = start.clone();
        let mut last = f64::INFINITY;
        for it in 0..MAX_ITERATIONS {
            let g = self.residual(s2, &z);
            let step = match chord.filter(|_| it < CHORD_ITERATIONS) {
                Some(lu) => lu.solve(&g),
                None => self.jacobian(s2, &z).lu().solve(&g),
            }
            .ok_or(Error::Numerical(NumericalError::SingularMatrix {
                matrix: "∂G/∂z at the steady state",
                dimension: z.len(),
            }))?;
            let size = step.amax();
            if !size.is_finite() {
                break;
            }
            let scale = z.amax().max(1.0);
            let floor = 4.0 * f64::EPSILON * scale;
            if it > 2 && size > 0.5 * last && size <= 1e-6 * scale {
                // Stagnation at the rounding floor.
                return Ok((z, size.max(last) + 2.0 * floor));
            }
            z -= &step;
            if size <= floor {
                return Ok((z, size + 2.0 * floor));
            }
            last = size;
        }
        Err(Error::Numerical(NumericalError::NewtonFailed {
            iterations: MAX_ITERATIONS,
            residual: last,
        }))
    }
}

/// The system with every strength 1 (same coupling, no features).
pub(super) fn unit_system(system: &FeatureSystem) -> Result<FeatureSystem> {
    FeatureSystem::new(
        DVector::from_element(system.rank(), 1.0),
        system.coupling().clone(),
    )
}

/// Finite differences of the steady state in the squared strengths.
#[derive(Clone, Debug, PartialEq)]
pub struct SteadyStateDifferences {
    /// ∂z_j*/∂(s_i²), row j, column i: the Richardson extrapolation (4D(h) − D(2h))/3.
    pub derivatives: DMatrix<f64>,
    /// A bound on each entry's error: the truncation estimate |D(h) − D(2h)|/3 plus the rounding
    /// Σ|w_k|·(accuracy of each zero)/h of the quotient.
    pub error_bound: DMatrix<f64>,
    /// The step h_i in s_i².
    pub steps: DVector<f64>,
    /// The columns differenced one-sidedly (s_i² < 4h_i, e.g. s_i = 0).
    pub one_sided: usize,
}

/// Finite differences of the L2 (or SD) steady state in s_i²: column i is ∂z*/∂(s_i²), from
/// zeros of F at s_i² ± h, ± 2h (central) or s_i² + h, 2h, 4h (one-sided, second order, when
/// s_i² < 4h; the steady state is smooth in s_i² down to s_i² = 0, where z_i* = 0). The zeros
/// come from the chord iteration with the Jacobian at z*, started at z* (see the module docs).
pub fn steady_state_differences(
    system: &FeatureSystem,
    reg: Regulariser,
) -> Result<SteadyStateDifferences> {
    let r = system.rank();
    let s2 = system.strengths_squared();
    let base = steady_state(&PrimalDynamics::new(system, Loss::Logistic, reg)?)?;
    let unit = unit_system(system)?;
    let flow = ScaledFlow::new(&unit, reg)?;
    let lu = flow.jacobian(&s2, &base.responses).lu();
    let (z0, acc0) = flow.zero(&s2, &base.responses, Some(&lu))?;
    let lambda = reg.lambda();
    let mut derivatives = DMatrix::zeros(r, r);
    let mut error_bound = DMatrix::zeros(r, r);
    let mut steps = DVector::zeros(r);
    let mut one_sided = 0;
    for i in 0..r {
        let h = STEP * s2[i].max(lambda);
        steps[i] = h;
        let at = |k: f64| -> Result<(DVector<f64>, f64)> {
            let mut shifted = s2.clone();
            shifted[i] += k * h;
            flow.zero(&shifted, &z0, Some(&lu))
        };
        let (d1, d2, rounding) = if s2[i] >= 4.0 * h {
            let (p1, a1) = at(1.0)?;
            let (m1, b1) = at(-1.0)?;
            let (p2, a2) = at(2.0)?;
            let (m2, b2) = at(-2.0)?;
            let d1 = (p1 - m1) / (2.0 * h);
            let d2 = (p2 - m2) / (4.0 * h);
            // (4/3)(a1 + b1)/(2h) + (1/3)(a2 + b2)/(4h).
            (d1, d2, (2.0 * (a1 + b1) / 3.0 + (a2 + b2) / 12.0) / h)
        } else {
            one_sided += 1;
            let (f1, a1) = at(1.0)?;
            let (f2, a2) = at(2.0)?;
            let (f4, a4) = at(4.0)?;
            let d1 = (&f1 * 4.0 - &f2 - &z0 * 3.0) / (2.0 * h);
            let d2 = (&f2 * 4.0 - &f4 - &z0 * 3.0) / (4.0 * h);
            let q1 = (3.0 * acc0 + 4.0 * a1 + a2) / (2.0 * h);
            let q2 = (3.0 * acc0 + 4.0 * a2 + a4) / (4.0 * h);
            (d1, d2, (4.0 * q1 + q2) / 3.0)
        };
        for j in 0..r {
            derivatives[(j, i)] = (4.0 * d1[j] - d2[j]) / 3.0;
            error_bound[(j, i)] = (d1[j] - d2[j]).abs() / 3.0 + rounding;
        }
    }
    if !(derivatives.iter().all(|x| x.is_finite()) && error_bound.iter().all(|x| x.is_finite())) {
        return Err(Error::Numerical(NumericalError::Diverged {
            method: "finite differences of the steady state",
            step: 0,
            tau: 0.0,
        }));
    }
    Ok(SteadyStateDifferences {
        derivatives,
        error_bound,
        steps,
        one_sided,
    })
}
