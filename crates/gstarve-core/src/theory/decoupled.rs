//! Decoupled systems, U = I (docs/theory.md §5.1–§5.2): n independent scalar flows
//! ż_j = s_j² σ(−z_j) − λ z_j (L2) or ż_j = s_j² σ(−z_j) (no regulariser).
//!
//! - [`l2_root`]: the exact L2 steady state z(1 + e^z) = s²/λ and its Lambert-W approximation.
//! - [`wright_omega`]: ω(c) = W₀(e^c), evaluated without forming e^c.
//! - [`unregularised_trajectory`] and [`unregularised_tail_trajectory`]: the closed-form
//!   no-regulariser trajectory and its tail approximation.

use lambert_w::lambert_w0;

use crate::error::{Error, InputError, NumericalError, Result};
use crate::model::sigmoid;

/// The decoupled L2 steady state of one feature, exact and approximate (docs/theory.md §5.1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecoupledRoot {
    /// The exact root z* of z(1 + e^z) = s²/λ.
    pub exact: f64,
    /// The tail (Lambert-W) approximation W₀(s²/λ).
    pub lambert: f64,
    /// lambert − exact (≥ 0: W₀(s²/λ) over-estimates, since z e^z < z(1 + e^z)).
    pub approximation_error: f64,
    /// Newton iterations taken for the exact root (0 when s = 0).
    pub iterations: usize,
}

/// Largest c for which [`wright_omega`] starts from `lambert_w0(e^c)`; above it (e^c near
/// overflow) it starts from the asymptotic series c − log c + log c / c.
pub const WRIGHT_OMEGA_LAMBERT_MAX: f64 = 500.0;

/// Iteration limit of the Newton iterations of this module.
const MAX_ITERATIONS: usize = 100;

/// The exact decoupled L2 steady state of a feature of strength s (docs/theory.md §5.1, U = I):
///
/// ```text
/// z (1 + e^z) = s²/λ,        tail approximation  z* ≈ W₀(s²/λ)
/// ```
///
/// Solved by Newton on h(z) = log z + log(1 + e^z) − log(s²/λ) (increasing on z > 0), started
/// at the upper end of and safeguarded by bisection in the bracket
/// W₀(s²/(2λ)) ≤ z* ≤ W₀(s²/λ) (from z e^z < z(1 + e^z) ≤ 2 z e^z for z ≥ 0). Everything is
/// computed from log(s²/λ) = 2 log s − log λ, so no s ≥ 0, λ > 0 overflows. The approximation
/// uses `lambert_w0` of the `lambert_w` crate (through [`wright_omega`] when s²/λ overflows).
pub fn l2_root(strength: f64, lambda: f64) -> Result<DecoupledRoot> {
    if !(strength.is_finite() && strength >= 0.0) {
        return Err(Error::Input(InputError::InvalidStrength {
            index: 1,
            value: strength,
        }));
    }
    let lambda = super::positive_lambda(lambda)?;
    if strength == 0.0 {
        return Ok(DecoupledRoot {
            exact: 0.0,
            lambert: 0.0,
            approximation_error: 0.0,
            iterations: 0,
        });
    }
    let log_q = 2.0 * strength.ln() - lambda.ln();
    let q = strength * strength / lambda;
    let lambert = if q.is_finite() {
        lambert_w0(q)
    } else {
        wright_omega(log_q)
    };
    let (mut lo, mut hi) = (
        wright_omega(log_q - std::f64::consts::LN_2),
        wright_omega(log_q),
    );
    if hi == 0.0 {
        // z* < W₀(s²/λ) underflows: the root is 0 to double precision.
        return Ok(DecoupledRoot {
            exact: 0.0,
            lambert,
            approximation_error: lambert,
            iterations: 0,
        });
    }
    // h(z) = log z + softplus(z) − log q, h'(z) = 1/z + σ(z).
    let h = |z: f64| z.ln() + z.max(0.0) + (-z.abs()).exp().ln_1p() - log_q;
    let mut z = hi;
    for it in 1..=MAX_ITERATIONS {
        let value = h(z);
        if value == 0.0 {
            return Ok(root(z, lambert, it));
        }
        if value < 0.0 {
            lo = z;
        } else {
            hi = z;
        }
        let mut next = z - value / (1.0 / z + sigmoid(z));
        if !(next >= lo && next <= hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - z).abs() <= 4.0 * f64::EPSILON * z || hi - lo <= 4.0 * f64::EPSILON * hi {
            return Ok(root(next, lambert, it));
        }
        z = next;
    }
    Err(Error::Numerical(NumericalError::NewtonFailed {
        iterations: MAX_ITERATIONS,
        residual: h(z).abs(),
    }))
}

fn root(exact: f64, lambert: f64, iterations: usize) -> DecoupledRoot {
    DecoupledRoot {
        exact,
        lambert,
        approximation_error: lambert - exact,
        iterations,
    }
}

/// The Wright omega function ω(c) = W₀(e^c), the root ω > 0 of
///
/// ```text
/// ω + log ω = c
/// ```
///
/// (docs/theory.md §5.2, decoupled trajectory without regulariser), for every real c without
/// forming e^c where it would overflow. For c ≤ [`WRIGHT_OMEGA_LAMBERT_MAX`] the start is
/// `lambert_w0(e^c)` (the `lambert_w` crate, 50 bits); above, the asymptotic series
/// c − log c + log c / c. Either start is polished by Newton on f(ω) = ω + log ω − c, so
/// ω + log ω = c holds to rounding. ω(−∞) = 0, ω(∞) = ∞, NaN gives NaN; ω underflows to 0 for c
/// below about −745.
pub fn wright_omega(c: f64) -> f64 {
    if c.is_nan() {
        return f64::NAN;
    }
    if c == f64::INFINITY {
        return f64::INFINITY;
    }
    let mut w = if c <= WRIGHT_OMEGA_LAMBERT_MAX {
        lambert_w0(c.exp())
    } else {
        let log_c = c.ln();
        c - log_c + log_c / c
    };
    if w == 0.0 {
        return 0.0;
    }
    for _ in 0..MAX_ITERATIONS {
        // Newton: ω ← ω − f(ω)/f'(ω), f'(ω) = 1 + 1/ω.
        let step = (w + w.ln() - c) * w / (1.0 + w);
        let next = w - step;
        // f is increasing and concave: a step can overshoot only towards 0; halve instead.
        let next = if next > 0.0 { next } else { 0.5 * w };
        let done = (next - w).abs() <= 4.0 * f64::EPSILON * w;
        w = next;
        if done {
            break;
        }
    }
    w
}

/// Largest initial response z₀ accepted by [`unregularised_trajectory`] (e^{z₀} must be finite).
pub const MAX_INITIAL_RESPONSE: f64 = 700.0;

/// The closed-form trajectory of a decoupled feature without regulariser (docs/theory.md §5.2):
///
/// ```text
/// ż = s² σ(−z)  ⇒  d(z + e^z)/dτ = s²,
/// z(τ) + e^{z(τ)} = z₀ + e^{z₀} + s²τ =: c,   z(τ) = c − W₀(e^c) = log W₀(e^c) = log ω(c)
/// ```
///
/// evaluated through [`wright_omega`], so large c (large s²τ) does not overflow: z(τ) = log ω(c)
/// when ω(c) is a normal number (no cancellation for large c), and c − ω(c) when ω underflows
/// (z₀ very negative, where z = c to double precision).
pub fn unregularised_trajectory(strength: f64, initial: f64, tau: f64) -> Result<f64> {
    check_trajectory_inputs(strength, initial, tau)?;
    if initial > MAX_INITIAL_RESPONSE {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "initial response z₀",
            value: initial,
            rule: "the closed form needs e^{z₀} finite: z₀ ≤ 700",
        }));
    }
    let drive = strength * strength * tau;
    if drive == 0.0 {
        return Ok(initial);
    }
    let c = initial + initial.exp() + drive;
    let omega = wright_omega(c);
    Ok(if omega >= f64::MIN_POSITIVE {
        omega.ln()
    } else {
        c - omega
    })
}

/// The tail approximation of [`unregularised_trajectory`] (docs/theory.md §5.2): with
/// σ(−z) ≈ e^{−z},
///
/// ```text
/// z(τ) = log(e^{z₀} + s²τ)
/// ```
///
/// evaluated as z₀ + log1p(s²τ e^{−z₀}) for z₀ ≥ 0 (no overflow of e^{z₀}).
pub fn unregularised_tail_trajectory(strength: f64, initial: f64, tau: f64) -> Result<f64> {
    check_trajectory_inputs(strength, initial, tau)?;
    let drive = strength * strength * tau;
    if drive == 0.0 {
        return Ok(initial);
    }
    Ok(if initial >= 0.0 {
        initial + (drive * (-initial).exp()).ln_1p()
    } else {
        (initial.exp() + drive).ln()
    })
}

fn check_trajectory_inputs(strength: f64, initial: f64, tau: f64) -> Result<()> {
    if !(strength.is_finite() && strength >= 0.0) {
        return Err(Error::Input(InputError::InvalidStrength {
            index: 1,
            value: strength,
        }));
    }
    if !initial.is_finite() {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "initial response z₀",
            value: initial,
            rule: "the initial response must be finite",
        }));
    }
    if !(tau.is_finite() && tau >= 0.0) {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "τ",
            value: tau,
            rule: "the learning time must be finite and ≥ 0",
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use nalgebra::DVector;

    use super::*;
    use crate::model::{Loss, PrimalDynamics, Regulariser};
    use crate::ode::{FlowMethod, FlowOptions};
    use crate::solvers::flow::primal_flow;
    use crate::systems::FeatureSystem;

    /// The decoupled L2 flow ż = s²σ(−z) − λz at one point: zero at the root.
    fn l2_rate(strength: f64, lambda: f64, z: f64) -> f64 {
        strength * strength * crate::model::sigmoid_neg(z) - lambda * z
    }

    #[test]
    fn decoupled_roots_match_theory_table() {
        // docs/theory.md §6.2, "Decoupled roots of z(1 + e^z) = s²/λ at λ = 0.01, against
        // W₀(s²/λ)".
        let table = [
            (2.0, 4.480472, 4.489683),
            (4.0, 5.643688, 5.646689),
            (6.0, 6.340041, 6.341564),
        ];
        for (s, exact, lambert) in table {
            let r = l2_root(s, 0.01).unwrap();
            assert!((r.exact - exact).abs() < 1e-6, "s = {s}: {}", r.exact);
            assert!((r.lambert - lambert).abs() < 1e-6, "s = {s}: {}", r.lambert);
            assert!((r.approximation_error - (lambert - exact)).abs() < 2e-6);
            // The defining equation holds to rounding, and the flow is at rest there.
            let q = s * s / 0.01;
            assert!((r.exact * (1.0 + r.exact.exp()) / q - 1.0).abs() < 1e-14);
            assert!(l2_rate(s, 0.01, r.exact).abs() < 1e-12);
        }
    }

    #[test]
    fn decoupled_root_covers_extreme_strengths() {
        assert_eq!(l2_root(0.0, 0.01).unwrap().exact, 0.0);
        // Small s²/λ: z ≈ q/2.
        let small = l2_root(1e-6, 1.0).unwrap();
        assert!(
            (small.exact / 0.5e-12 - 1.0).abs() < 1e-9,
            "{}",
            small.exact
        );
        // s²/λ overflows f64: the root comes from log q alone.
        let huge = l2_root(1e200, 1e-10).unwrap();
        let log_q = 400.0 * 10f64.ln() + 10.0 * 10f64.ln();
        let z = huge.exact;
        assert!(z.is_finite() && huge.lambert.is_finite());
        assert!(((z.ln() + z) / log_q - 1.0).abs() < 1e-14, "{z}");
        assert!(huge.approximation_error >= 0.0);
        assert!(l2_root(-1.0, 0.01).is_err());
        assert!(l2_root(1.0, 0.0).is_err());
    }

    #[test]
    fn wright_omega_solves_its_equation_everywhere() {
        for c in [-5.0, 0.0, 1.0, 10.0, 50.0, 700.0, 1e5, 1e10] {
            let w = wright_omega(c);
            assert!(w.is_finite() && w > 0.0, "c = {c}: {w}");
            let residual = (w + w.ln() - c).abs() / c.abs().max(1.0);
            assert!(residual < 1e-14, "c = {c}: residual {residual:e}");
        }
        // Known values: ω(0) = W₀(1) = Ω, ω(1) = 1.
        assert!((wright_omega(0.0) - 0.567_143_290_409_783_8).abs() < 1e-15);
        assert!((wright_omega(1.0) - 1.0).abs() < 1e-15);
        // Both branches agree where they meet.
        let below = wright_omega(WRIGHT_OMEGA_LAMBERT_MAX);
        let above = wright_omega(WRIGHT_OMEGA_LAMBERT_MAX.next_up());
        assert!((above - below).abs() < 1e-12 * below);
        assert_eq!(wright_omega(f64::NEG_INFINITY), 0.0);
        assert_eq!(wright_omega(-800.0), 0.0);
        assert!(wright_omega(f64::NAN).is_nan());
    }

    #[test]
    fn unregularised_closed_form_matches_numerical_flow() {
        for (s, z0) in [(3.0, 0.0), (1.5, -1.0), (0.7, 2.0)] {
            let sys = FeatureSystem::decoupled(&[s]).unwrap();
            let dynamics = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::None).unwrap();
            // The grid runs one interval past τ = 100 and its last point is not compared: the
            // Dop853 dense output of ode_solvers 0.6.2 extrapolates the final grid point from a
            // step that ends before τ_end (see the module report), an error of ~1e-7 here.
            let options = FlowOptions::new(110.0, 12, 1e-12, 1e-12, FlowMethod::Dop853).unwrap();
            let sol = primal_flow(&dynamics, &DVector::from_vec(vec![z0]), &options).unwrap();
            for (tau, state) in sol.tau.iter().zip(&sol.states).take(11) {
                let exact = unregularised_trajectory(s, z0, *tau).unwrap();
                let err = (exact - state[0]).abs();
                assert!(
                    err < 1e-8,
                    "s = {s}, z₀ = {z0}, τ = {tau}: {exact} vs {}",
                    state[0]
                );
            }
        }
    }

    #[test]
    fn unregularised_trajectory_has_no_overflow_and_tail_converges() {
        // c = 1e10: z = log ω(c) ≈ log(c − log c), finite and accurate.
        let z = unregularised_trajectory(1.0, 0.0, 1e10).unwrap();
        let c = 1.0 + 1e10;
        assert!(z.is_finite());
        assert!((z + z.exp() - c).abs() / c < 1e-14, "{z}");
        // The tail approximation agrees to O(log τ / τ) at large τ, exactly at τ = 0.
        let tail = unregularised_tail_trajectory(1.0, 0.0, 1e10).unwrap();
        assert!((tail - z).abs() < 1e-8, "{tail} vs {z}");
        assert_eq!(unregularised_tail_trajectory(2.0, 0.3, 0.0).unwrap(), 0.3);
        assert_eq!(unregularised_trajectory(2.0, 0.3, 0.0).unwrap(), 0.3);
        // No overflow for a large initial response in the tail form.
        let big = unregularised_tail_trajectory(1.0, 800.0, 1.0).unwrap();
        assert_eq!(big, 800.0);
        // Very negative z₀: z + e^z = c with e^z negligible.
        let neg = unregularised_trajectory(1.0, -800.0, 10.0).unwrap();
        assert!((neg - (-790.0)).abs() < 1e-12);
        assert!(unregularised_trajectory(1.0, 701.0, 1.0).is_err());
        assert!(unregularised_trajectory(1.0, 0.0, -1.0).is_err());
    }
}
