//! Spectral Decoupling with class targets (docs/theory.md §10.1): a weight λ_c and a margin
//! target γ_c per class, R = ½ Σᵢ λᵢ (mᵢ − γᵢ)². With r = n the steady state decouples per
//! example:
//!
//! ```text
//! σ(−mᵢ*) = λᵢ (mᵢ* − γᵢ),        z* = Uᵀ m*
//! ```
//!
//! and, as for plain SD, does not depend on the strengths. One λ and γ = 0 give §4.2's
//! λμ(1 + e^μ) = 1.

use nalgebra::DVector;

use crate::error::{Error, InputError, NumericalError, Result};
use crate::model::{sigmoid_neg, sigmoid_prime, Regulariser};
use crate::systems::FeatureSystem;

/// The margin m* with σ(−m) = λ(m − γ) (docs/theory.md §10.1), λ > 0, and the iterations taken.
///
/// h(m) = σ(−m) − λ(m − γ) falls strictly (h' = −σ'(m) − λ < 0) from h(γ) = σ(−γ) > 0 to
/// h(γ + 1/λ) = σ(−m) − 1 < 0, so the root is unique and bracketed in (γ, γ + 1/λ); safeguarded
/// Newton (a step leaving the bracket bisects) stops when a step is below 4ε·max(1, |m|).
pub fn example_margin(lambda: f64, target: f64) -> Result<(f64, usize)> {
    if !(lambda.is_finite() && lambda > 0.0) {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "λ",
            value: lambda,
            rule: "a class's steady margin σ(−m) = λ(m − γ) needs λ > 0",
        }));
    }
    if !target.is_finite() {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "γ",
            value: target,
            rule: "a Spectral-Decoupling target must be finite",
        }));
    }
    let h = |m: f64| sigmoid_neg(m) - lambda * (m - target);
    let (mut lo, mut hi) = (target, target + 1.0 / lambda);
    let mut m = 0.5 * (lo + hi);
    for it in 1..=200 {
        let value = h(m);
        if value > 0.0 {
            lo = m;
        } else if value < 0.0 {
            hi = m;
        } else {
            return Ok((m, it));
        }
        let mut next = m + value / (sigmoid_prime(m) + lambda);
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - m).abs() <= 4.0 * f64::EPSILON * m.abs().max(1.0) {
            return Ok((next, it));
        }
        m = next;
    }
    Err(Error::Numerical(NumericalError::NewtonFailed {
        iterations: 200,
        residual: h(m).abs(),
    }))
}

/// The per-example steady state of docs/theory.md §10.1: margins m* (one per example, from its
/// class's λ and γ) and z* = Uᵀm*. Needs the system's labels, r = n and every strength > 0 (Φ of
/// full row rank), and λ₀, λ₁ > 0.
pub fn steady_state(
    system: &FeatureSystem,
    regulariser: Regulariser,
) -> Result<(DVector<f64>, DVector<f64>)> {
    let Regulariser::SpectralDecouplingClasses { lambda, target } = regulariser.validated()? else {
        return Err(Error::Input(InputError::Unsupported(format!(
            "the per-example closed form of docs/theory.md §10.1 is for Spectral Decoupling with \
             class targets, not {}",
            regulariser.name()
        ))));
    };
    super::sd::check_full_row_rank(system)?;
    let labels = system
        .labels()
        .ok_or(Error::Input(InputError::NeedsLabels {
            what: "Spectral Decoupling with class targets",
        }))?;
    let mut per_class = [None, None];
    let mut margins = DVector::zeros(labels.len());
    for (i, &y) in labels.iter().enumerate() {
        let c = usize::from(y > 0.0);
        if per_class[c].is_none() {
            per_class[c] = Some(example_margin(lambda[c], target[c])?.0);
        }
        margins[i] = per_class[c].unwrap_or_default();
    }
    let responses = system.coupling().tr_mul(&margins);
    Ok((margins, responses))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Loss, PrimalDynamics};
    use crate::solvers::steady::{sd_margin, steady_state as newton_steady_state};
    use crate::systems::Spectrum;

    fn labelled(n: usize, seed: u64) -> FeatureSystem {
        let labels: Vec<f64> = (0..n)
            .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        FeatureSystem::random(n, Spectrum::Geometric { from: 4.0, to: 0.3 }, seed)
            .unwrap()
            .with_labels(&labels)
            .unwrap()
    }

    #[test]
    fn one_lambda_and_no_target_is_plain_sd() {
        for lambda in [0.002, 0.05, 3.0] {
            let (m, _) = example_margin(lambda, 0.0).unwrap();
            let (mu, _) = sd_margin(lambda).unwrap();
            assert!(
                (m - mu).abs() <= 8.0 * f64::EPSILON * mu,
                "{lambda}: {m} {mu}"
            );
        }
    }

    #[test]
    fn margin_solves_its_equation_including_far_targets() {
        for (lambda, target) in [(0.01, 2.5), (0.088, 0.44), (1e-6, -30.0), (5.0, 40.0)] {
            let (m, _) = example_margin(lambda, target).unwrap();
            let residual = sigmoid_neg(m) - lambda * (m - target);
            // Rounding: of each term, and of m itself (λ·ulp(m) dominates when m ≈ γ).
            let scale = sigmoid_neg(m) + lambda * (m - target).abs();
            let bound = 1e-14 * scale + 8.0 * lambda * f64::EPSILON * m.abs();
            assert!(residual.abs() <= bound, "{lambda} {target}: {residual:e}");
            assert!(m > target);
        }
        assert!(example_margin(0.0, 1.0).is_err());
    }

    /// The closed form is the zero of the general flow F = S²Uᵀ[σ(−Uz) − Λ(Uz − γ)], which the
    /// Newton solver finds without assuming it.
    #[test]
    fn closed_form_equals_the_newton_steady_state() {
        let sys = labelled(7, 3);
        let reg = Regulariser::SpectralDecouplingClasses {
            lambda: [0.088, 0.012],
            target: [0.44, 2.5],
        };
        let (margins, z) = steady_state(&sys, reg).unwrap();
        let d = PrimalDynamics::new(&sys, Loss::Logistic, reg).unwrap();
        assert!(d.rhs(&z).amax() < 1e-12, "{}", d.rhs(&z));
        let newton = newton_steady_state(&d).unwrap();
        assert!((&newton.responses - &z).amax() < 1e-9 * z.amax());
        assert!((&newton.margins - &margins).amax() < 1e-9 * margins.amax());
        // The two classes settle at different margins, independent of S.
        let scaled = sys.with_strengths(sys.strengths() * 3.0).unwrap();
        assert_eq!(steady_state(&scaled, reg).unwrap().1, z);
    }

    /// The flow ends at the closed form, and GD approaches the flow like O(η) (the gap at a
    /// fixed τ halves with η), in margin space (r = n) and on a truncated system (z-space).
    #[test]
    fn flow_ends_at_the_closed_form_and_gd_tends_to_the_flow() {
        use crate::ode::{FlowMethod, FlowOptions};
        use crate::solvers::flow::primal_flow;
        use crate::solvers::gd::{gradient_descent, GdOptions};
        let sys = labelled(6, 5);
        let reg = Regulariser::SpectralDecouplingClasses {
            lambda: [0.3, 0.1],
            target: [0.5, 1.5],
        };
        let (_, closed) = steady_state(&sys, reg).unwrap();
        let thin = sys.clone().keep_top(4).unwrap().0;
        for system in [&sys, &thin] {
            let d = PrimalDynamics::new(system, Loss::Logistic, reg).unwrap();
            let z0 = DVector::zeros(system.rank());
            let last = |sol: crate::ode::OdeSolution| {
                DVector::from_column_slice(sol.states.last().unwrap())
            };
            let tau = 4.0;
            let opts = FlowOptions::new(tau, 2, 1e-12, 1e-14, FlowMethod::Auto).unwrap();
            let flow = last(primal_flow(&d, &z0, &opts).unwrap());
            let gap = |eta: f64| {
                let steps = (tau / eta).round() as usize;
                let gd = gradient_descent(&d, &z0, &GdOptions::new(eta, steps, 2, false).unwrap());
                (last(gd.unwrap()) - &flow).amax()
            };
            let (g1, g2) = (gap(0.02), gap(0.01));
            assert!((g1 / g2 - 2.0).abs() < 0.2, "{g1:e} {g2:e}");
            if system.rank() == system.examples() {
                let opts = FlowOptions::new(2000.0, 2, 1e-12, 1e-14, FlowMethod::Auto).unwrap();
                let end = last(primal_flow(&d, &z0, &opts).unwrap());
                assert!((end - &closed).amax() < 1e-8, "flow end vs closed form");
            }
        }
    }

    #[test]
    fn needs_labels_and_full_rank() {
        let reg = Regulariser::SpectralDecouplingClasses {
            lambda: [0.1, 0.1],
            target: [0.0, 0.0],
        };
        let bare = FeatureSystem::rotation(3.0, 1.0, 0.4).unwrap();
        assert!(matches!(
            steady_state(&bare, reg),
            Err(Error::Input(InputError::NeedsLabels { .. }))
        ));
        assert!(matches!(
            PrimalDynamics::new(&bare, Loss::Logistic, reg),
            Err(Error::Input(InputError::NeedsLabels { .. }))
        ));
    }
}
