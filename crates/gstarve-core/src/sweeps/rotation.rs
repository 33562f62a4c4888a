//! The L2 steady state and its sensitivity for the two-feature rotation family, specialised for
//! sweeps: fixed-size 2×2 algebra, no allocation, warm starts from a neighbouring grid point.
//!
//! The same mathematics as [`crate::solvers::steady::steady_state`] and
//! [`crate::theory::sensitivity::l2_sensitivity`] (docs/theory.md §4.1, §5.3), written out for
//! U(δ) = [[c, −δ], [δ, c]], c = √(1−δ²):
//!
//! ```text
//! m = U z,  ψᵢ = σ(−mᵢ),  dᵢ = σ'(mᵢ),  W = λ S⁻²
//! ∇L = W z − Uᵀψ,   ∇²L = Uᵀ D U + W            (Newton with Armijo on the convex L)
//! J = I + λ⁻¹ S² M,  M = UᵀDU,   ∂z*/∂s_i² = λ⁻¹(Uᵀψ)_i · J⁻¹ e_i,   E_ji = s_i² ∂z_j*/∂s_i² / z_j*
//! ```
//!
//! with J⁻¹ = adj(J)/det J in closed form. A warm-started solve costs a few hundred nanoseconds.

use nalgebra::{Matrix2, Vector2};

use super::grid::RotationFamily;
use crate::error::{Error, NumericalError, Result};
use crate::theory::sensitivity::ZERO_RESPONSE_TOLERANCE;

/// Iteration limit of the 2×2 Newton iteration (a cold start from z = 0 needs about 10–30).
pub const MAX_ITERATIONS: usize = 100;

/// Converged when the fixed-point residual max_j |(W⁻¹∇L)_j| ≤ `TOLERANCE`·max(1, ‖z‖∞), or when a
/// Newton step is below 4ε·max(1, ‖z‖∞) (rounding).
pub const TOLERANCE: f64 = 1e-13;

/// The steady state of one member of the rotation family, with its margins.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RotationSteadyState {
    /// z*.
    pub responses: Vector2<f64>,
    /// m* = U(δ) z*.
    pub margins: Vector2<f64>,
    /// Fixed-point residual max_j |z_j − (λ⁻¹S²Uᵀσ(−Uz))_j|.
    pub residual: f64,
    /// Newton iterations taken.
    pub iterations: usize,
}

/// ∂z*/∂(s_i²) and the elasticities of a rotation-family steady state (docs/theory.md §5.3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RotationSensitivity {
    /// ∂z_j*/∂(s_i²): row j (the response), column i (the strength varied).
    pub derivatives: Matrix2<f64>,
    /// E_ji = (s_i²/z_j*)·∂z_j*/∂(s_i²); NaN in a row whose response is zero (to
    /// [`ZERO_RESPONSE_TOLERANCE`]·max(1, ‖z*‖∞), as in the general solver).
    pub elasticities: Matrix2<f64>,
}

/// The rotation family's fixed data at one parameter point: c, δ, s², λ.
#[derive(Clone, Copy, Debug)]
struct Point {
    c: f64,
    delta: f64,
    s2: [f64; 2],
    lambda: f64,
    /// W = λ/s_j².
    weight: [f64; 2],
}

impl Point {
    fn new(family: &RotationFamily) -> Self {
        let s2 = family.weak_strength;
        let s1 = family.strong_strength();
        let s2sq = [s1 * s1, s2 * s2];
        Self {
            c: (1.0 - family.coupling * family.coupling).sqrt(),
            delta: family.coupling,
            s2: s2sq,
            lambda: family.lambda,
            weight: [family.lambda / s2sq[0], family.lambda / s2sq[1]],
        }
    }

    fn margins(&self, z: &Vector2<f64>) -> Vector2<f64> {
        Vector2::new(
            self.c * z[0] - self.delta * z[1],
            self.delta * z[0] + self.c * z[1],
        )
    }

    /// Uᵀv.
    fn transpose_apply(&self, v: [f64; 2]) -> Vector2<f64> {
        Vector2::new(
            self.c * v[0] + self.delta * v[1],
            -self.delta * v[0] + self.c * v[1],
        )
    }
}

/// σ(−m), σ'(m) and log(1 + e^{−m}) from one exponential, without overflow.
#[inline]
fn logistic_terms(m: f64) -> (f64, f64, f64) {
    let e = (-m.abs()).exp();
    let inv = 1.0 / (1.0 + e);
    let psi = if m >= 0.0 { e * inv } else { inv };
    (psi, e * inv * inv, (-m).max(0.0) + e.ln_1p())
}

/// L(z), ∇L(z) and ∇²L(z) at one point.
struct Local {
    value: f64,
    gradient: Vector2<f64>,
    curvature: [f64; 2],
}

fn local(p: &Point, z: &Vector2<f64>) -> Local {
    let m = p.margins(z);
    let (psi0, d0, l0) = logistic_terms(m[0]);
    let (psi1, d1, l1) = logistic_terms(m[1]);
    let ut_psi = p.transpose_apply([psi0, psi1]);
    let gradient = Vector2::new(
        p.weight[0] * z[0] - ut_psi[0],
        p.weight[1] * z[1] - ut_psi[1],
    );
    let value = l0 + l1 + 0.5 * (p.weight[0] * z[0] * z[0] + p.weight[1] * z[1] * z[1]);
    Local {
        value,
        gradient,
        curvature: [d0, d1],
    }
}

/// M = UᵀDU for the rotation.
fn cross_curvature_matrix(p: &Point, d: [f64; 2]) -> Matrix2<f64> {
    let (c, s) = (p.c, p.delta);
    let off = c * s * (d[1] - d[0]);
    Matrix2::new(
        c * c * d[0] + s * s * d[1],
        off,
        off,
        s * s * d[0] + c * c * d[1],
    )
}

fn residual(p: &Point, gradient: &Vector2<f64>) -> f64 {
    (gradient[0] / p.weight[0])
        .abs()
        .max((gradient[1] / p.weight[1]).abs())
}

/// The L2 steady state of the rotation family at `family` (docs/theory.md §4.1), by damped Newton
/// from `start` (a neighbouring grid point's z*, or z = 0). Requires a validated family
/// (r, s₂, λ > 0, |δ| ≤ 1).
pub fn rotation_steady_state(
    family: &RotationFamily,
    start: Vector2<f64>,
) -> Result<RotationSteadyState> {
    let p = Point::new(family);
    let mut z = if start.iter().all(|v| v.is_finite()) {
        start
    } else {
        Vector2::zeros()
    };
    let mut here = local(&p, &z);
    let mut res = residual(&p, &here.gradient);
    for it in 0..=MAX_ITERATIONS {
        let scale = z.amax().max(1.0);
        if res <= TOLERANCE * scale {
            return Ok(finish(&p, z, res, it));
        }
        if it == MAX_ITERATIONS {
            break;
        }
        let mut hessian = cross_curvature_matrix(&p, here.curvature);
        hessian[(0, 0)] += p.weight[0];
        hessian[(1, 1)] += p.weight[1];
        let det = hessian[(0, 0)] * hessian[(1, 1)] - hessian[(0, 1)] * hessian[(1, 0)];
        let g = here.gradient;
        let step = -Vector2::new(
            hessian[(1, 1)] * g[0] - hessian[(0, 1)] * g[1],
            hessian[(0, 0)] * g[1] - hessian[(1, 0)] * g[0],
        ) / det;
        if step.amax() <= 4.0 * f64::EPSILON * scale {
            return Ok(finish(&p, z + step, res, it + 1));
        }
        // Armijo backtracking on the convex L while its decrease is resolvable; below that the
        // iteration is in its quadratic phase and takes the full step.
        let slope = g.dot(&step);
        let resolvable = -slope > 1e3 * f64::EPSILON * here.value.abs();
        let mut t = 1.0;
        let mut trial = local(&p, &(z + step));
        if resolvable {
            let mut halvings = 0;
            while trial.value > here.value + 1e-4 * t * slope || trial.value.is_nan() {
                halvings += 1;
                if halvings > 60 {
                    return Err(Error::Numerical(NumericalError::NewtonFailed {
                        iterations: it,
                        residual: res,
                    }));
                }
                t *= 0.5;
                trial = local(&p, &(z + step * t));
            }
        }
        z += step * t;
        here = trial;
        res = residual(&p, &here.gradient);
    }
    Err(Error::Numerical(NumericalError::NewtonFailed {
        iterations: MAX_ITERATIONS,
        residual: res,
    }))
}

fn finish(p: &Point, z: Vector2<f64>, residual: f64, iterations: usize) -> RotationSteadyState {
    RotationSteadyState {
        margins: p.margins(&z),
        responses: z,
        residual,
        iterations,
    }
}

/// The sensitivity of a rotation-family steady state (docs/theory.md §5.3) in closed form:
///
/// ```text
/// J = I + λ⁻¹ S² M,   J⁻¹ = [[J₂₂, −J₁₂], [−J₂₁, J₁₁]] / det J,
/// ∂z*/∂(s_i²) = λ⁻¹(Uᵀσ(−m*))_i · J⁻¹ e_i,      E_ji = s_i² ∂z_j*/∂(s_i²) / z_j*
/// ```
///
/// (det J > 0: the eigenvalues of J are those of I + λ⁻¹SMS, all ≥ 1).
pub fn rotation_sensitivity(
    family: &RotationFamily,
    steady: &RotationSteadyState,
) -> RotationSensitivity {
    let p = Point::new(family);
    let m = steady.margins;
    let (psi0, d0, _) = logistic_terms(m[0]);
    let (psi1, d1, _) = logistic_terms(m[1]);
    let mm = cross_curvature_matrix(&p, [d0, d1]);
    let j = Matrix2::new(
        1.0 + p.s2[0] * mm[(0, 0)] / p.lambda,
        p.s2[0] * mm[(0, 1)] / p.lambda,
        p.s2[1] * mm[(1, 0)] / p.lambda,
        1.0 + p.s2[1] * mm[(1, 1)] / p.lambda,
    );
    let det = j[(0, 0)] * j[(1, 1)] - j[(0, 1)] * j[(1, 0)];
    let drive = p.transpose_apply([psi0, psi1]) / p.lambda;
    let derivatives = Matrix2::new(
        j[(1, 1)] * drive[0],
        -j[(0, 1)] * drive[1],
        -j[(1, 0)] * drive[0],
        j[(0, 0)] * drive[1],
    ) / det;
    let z = steady.responses;
    let zero = ZERO_RESPONSE_TOLERANCE * z.amax().max(1.0);
    let elasticities = Matrix2::from_fn(|row, col| {
        if z[row].abs() > zero {
            p.s2[col] * derivatives[(row, col)] / z[row]
        } else {
            f64::NAN
        }
    });
    RotationSensitivity {
        derivatives,
        elasticities,
    }
}

/// Whether a response is zero to the steady state's accuracy (the rule of
/// [`crate::theory::sensitivity::ZERO_RESPONSE_TOLERANCE`]).
pub fn is_zero_response(value: f64, responses: &Vector2<f64>) -> bool {
    value.abs() <= ZERO_RESPONSE_TOLERANCE * responses.amax().max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Loss, PrimalDynamics, Regulariser};
    use crate::solvers::steady::steady_state;
    use crate::systems::FeatureSystem;
    use crate::theory::sensitivity::l2_sensitivity;

    fn family(r: f64, delta: f64, lambda: f64, s2: f64) -> RotationFamily {
        RotationFamily {
            ratio: r,
            coupling: delta,
            lambda,
            weak_strength: s2,
        }
    }

    #[test]
    fn matches_general_solver_and_sensitivity_to_1e_10() {
        let mut compared = 0;
        for &r in &[0.3, 1.0, 1.7, 3.0, 5.0] {
            for &delta in &[-0.4, 0.0, 0.05, 0.5, 0.7, 0.707, 0.9, 1.0] {
                for &lambda in &[1e-3, 0.01, 0.3] {
                    for &s2 in &[0.5, 2.0] {
                        let fam = family(r, delta, lambda, s2);
                        let fast = rotation_steady_state(&fam, Vector2::zeros()).unwrap();
                        let sys = FeatureSystem::rotation(r * s2, s2, delta).unwrap();
                        let d =
                            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda })
                                .unwrap();
                        let general = steady_state(&d).unwrap();
                        for j in 0..2 {
                            let err = (fast.responses[j] - general.responses[j]).abs();
                            assert!(err < 1e-10, "{fam:?}: z{j} off by {err:e}");
                        }
                        let sens = rotation_sensitivity(&fam, &fast);
                        let reference = l2_sensitivity(&sys, lambda).unwrap();
                        for j in 0..2 {
                            for i in 0..2 {
                                let a = sens.derivatives[(j, i)];
                                let b = reference.derivatives[(j, i)];
                                assert!(
                                    (a - b).abs() < 1e-10 * b.abs().max(1.0),
                                    "{fam:?}: ∂z{j}/∂s{i}² {a} vs {b}"
                                );
                                match reference.elasticities[(j, i)] {
                                    Some(e) => assert!(
                                        (sens.elasticities[(j, i)] - e).abs()
                                            < 1e-10 * e.abs().max(1.0),
                                        "{fam:?}: E{j}{i} {} vs {e}",
                                        sens.elasticities[(j, i)]
                                    ),
                                    None => assert!(sens.elasticities[(j, i)].is_nan()),
                                }
                            }
                        }
                        compared += 1;
                    }
                }
            }
        }
        assert_eq!(compared, 240);
    }

    #[test]
    fn warm_start_converges_to_the_same_point_in_few_iterations() {
        let cold = rotation_steady_state(&family(3.0, 0.5, 0.01, 2.0), Vector2::zeros()).unwrap();
        let warm = rotation_steady_state(&family(3.02, 0.5, 0.01, 2.0), cold.responses).unwrap();
        let again = rotation_steady_state(&family(3.02, 0.5, 0.01, 2.0), Vector2::zeros()).unwrap();
        assert!((warm.responses - again.responses).amax() < 1e-12);
        assert!(warm.iterations <= 4, "{} iterations", warm.iterations);
        // docs/theory.md §6.2, l = 3 (r = 1.5).
        let toy = rotation_steady_state(&family(1.5, 0.5, 0.01, 2.0), Vector2::zeros()).unwrap();
        assert!((toy.responses - Vector2::new(7.068150, 1.583112)).amax() < 1e-6);
    }
}
