//! Properties 10–11: the closed-form trajectories and steady states.

use super::*;

// ---------------------------------------------------------------------------------------------
// 10. No regulariser, decoupled: the closed-form trajectory (docs/theory.md §5.2)
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(10, 500))]

    /// docs/theory.md §5.2 (decoupled, no regulariser: closed-form trajectory): ż = s²σ(−z) gives
    /// z(τ) + e^{z(τ)} = z₀ + e^{z₀} + s²τ, z(τ) = log ω(c) (`unregularised_trajectory`). The
    /// numerical flow of a decoupled system without regulariser, from random z₀, matches it at
    /// every grid point, every feature.
    ///
    /// Tolerance 1e-8·max(1, |z|): Dop853 at rtol = atol = 1e-12 over τ ≤ 200 (the flow is
    /// contracting in z − z_exact: ∂ż/∂z = −s²σ' < 0), and the closed form is exact to rounding.
    #[test]
    fn unregularised_closed_form_matches_the_flow(
        (spectrum, z0) in (2usize..=8).prop_flat_map(|n| {
            (geometric(), prop::collection::vec(-3.0f64..=3.0, n))
        }),
        t_end in log_uniform(1.0, 200.0),
    ) {
        let n = z0.len();
        let s = spectrum.strengths(n)?;
        let system = ok(FeatureSystem::decoupled(s.as_slice()), "decoupled system")?;
        let dynamics = ok(PrimalDynamics::new(&system, Loss::Logistic, Regulariser::None), "dynamics")?;
        let start = DVector::from_column_slice(&z0);
        let flow = ok(
            primal_flow(
                &dynamics,
                &start,
                &FlowOptions::new(t_end, 11, 1e-12, 1e-12, FlowMethod::Dop853).unwrap(),
            ),
            "flow",
        )?;
        for (tau, state) in flow.tau.iter().zip(&flow.states) {
            for j in 0..n {
                let exact = ok(unregularised_trajectory(s[j], start[j], *tau), "closed form")?;
                let err = (exact - state[j]).abs();
                prop_assert!(
                    err <= 1e-8 * exact.abs().max(1.0),
                    "feature {}, τ = {}: closed form {} vs flow {} (error {:e})",
                    j + 1, tau, exact, state[j], err
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 11. Squared loss + L2: closed forms (docs/theory.md §4.3)
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(11, 500))]

    /// docs/theory.md §4.3 (squared loss + L2: decoupled, z_j* = s_j²(Uᵀ1)_j/(s_j² + λ); the flow is
    /// linear and each mode relaxes as e^{−(s_j² + λ)τ}"): `squared::steady_state` equals the
    /// Newton steady state of the squared-loss flow and is a zero of F, and `squared::trajectory`
    /// from random z₀ equals the numerical flow ([`REFERENCE_FLOW`]) at every grid point.
    ///
    /// Tolerances: steady state 1e-10·max(1, ‖z*‖∞) (Newton converges to 1e-12 relative; the
    /// problem is linear, so one step is exact up to rounding of a condition-≤ (s₁² + λ)/λ solve);
    /// trajectory 1e-8·max(1, ‖z‖∞) for Dopri5 at rtol = atol = 1e-12 on a contracting linear flow.
    #[test]
    fn squared_loss_closed_forms_match_the_solvers(
        (system, z0) in random_system(1e-3, 0.5).prop_flat_map(|system| {
            (Just(system), prop::collection::vec(-2.0f64..=2.0, system.n))
        }),
        t_end in log_uniform(0.5, 20.0),
    ) {
        let sys = system.build()?;
        let lambda = system.lambda;
        let dynamics = ok(PrimalDynamics::new(&sys, Loss::Squared, Regulariser::L2 { lambda }), "dynamics")?;
        let closed = ok(squared::steady_state(&sys, lambda), "closed-form steady state")?;
        let newton = ok(steady_state(&dynamics), "Newton steady state")?;
        let scale = closed.amax().max(1.0);
        let err = (&closed - &newton.responses).amax();
        prop_assert!(err <= 1e-10 * scale, "closed {:?} vs Newton {:?} ({:e})", closed.as_slice(), newton.responses.as_slice(), err);
        prop_assert!(dynamics.rhs(&closed).amax() <= 1e-12 * scale * dynamics.curvature_bound());
        let start = DVector::from_column_slice(&z0);
        let flow = ok(
            primal_flow(
                &dynamics,
                &start,
                &FlowOptions::new(t_end, 11, 1e-12, 1e-12, REFERENCE_FLOW).unwrap(),
            ),
            "flow",
        )?;
        for (tau, state) in flow.tau.iter().zip(&flow.states) {
            let exact = ok(squared::trajectory(&sys, lambda, &start, *tau), "closed-form trajectory")?;
            let err = (&exact - DVector::from_column_slice(state)).amax();
            prop_assert!(
                err <= 1e-8 * exact.amax().max(1.0),
                "τ = {}: closed form {:?} vs flow {:?} (error {:e})",
                tau, exact.as_slice(), state, err
            );
        }
    }
}
