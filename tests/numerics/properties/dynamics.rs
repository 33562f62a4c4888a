//! Properties 1–4: decoupled flows, GD in parameter space, GD against the flow.

use super::*;

// ---------------------------------------------------------------------------------------------
// 1. U = I decouples (docs/theory.md §5.1)
// ---------------------------------------------------------------------------------------------

/// Inputs of property 1: a decoupled system, an initial state, a regulariser, a GD step.
#[derive(Clone)]
struct DecoupledCase {
    spectrum: Geometric,
    n: usize,
    lambda: f64,
    reg: RegKind,
    z0: Vec<f64>,
    fraction: f64,
}

impl fmt::Debug for DecoupledCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "decoupled n = {}, {:?}, {:?} λ = {:?}, z₀ = {:?}, η = {:?}·2/bound",
            self.n, self.spectrum, self.reg, self.lambda, self.z0, self.fraction
        )
    }
}

fn decoupled_case() -> impl Strategy<Value = DecoupledCase> {
    (2usize..=8)
        .prop_flat_map(|n| {
            (
                geometric(),
                Just(n),
                log_uniform(1e-3, 0.5),
                any_regulariser(),
                prop::collection::vec(-3.0f64..=3.0, n),
                0.05f64..=0.95,
            )
        })
        .prop_map(|(spectrum, n, lambda, reg, z0, fraction)| DecoupledCase {
            spectrum,
            n,
            lambda,
            reg,
            z0,
            fraction,
        })
}

proptest! {
    #![proptest_config(config(1, 500))]

    /// docs/theory.md §5.1 (Decoupled, U = I): the n responses follow n independent scalar flows
    /// ż_j = s_j²σ(−z_j) − λz_j (and the SD / no-regulariser variants of §3.2). The n-dimensional
    /// flow of `FeatureSystem::decoupled(s)` is compared with n one-dimensional flows, and the
    /// n-dimensional GD map with n one-dimensional GD maps.
    ///
    /// Tolerances: both flows are Dopri5 at rtol 1e-11, atol 1e-12 over τ = 20 (global error
    /// ≲ 1e-9 each), so they must agree to 1e-8·max(1, |z|). (Dopri5, not Dop853: see
    /// [`REFERENCE_FLOW`].) GD does the same floating-point operations in both cases up to the
    /// order of additions with exact zeros (U = I), so it must agree to 1e-13 relative.
    #[test]
    fn decoupled_responses_follow_their_own_scalar_flows(case in decoupled_case()) {
        let s = case.spectrum.strengths(case.n)?;
        let system = ok(FeatureSystem::decoupled(s.as_slice()), "decoupled system")?;
        let reg = case.reg.with(case.lambda);
        let dynamics = ok(PrimalDynamics::new(&system, Loss::Logistic, reg), "dynamics")?;
        let z0 = DVector::from_vec(case.z0.clone());
        let options = FlowOptions::new(20.0, 11, 1e-11, 1e-12, REFERENCE_FLOW).unwrap();
        let joint = ok(primal_flow(&dynamics, &z0, &options), "n-dimensional flow")?;
        let gd = gd_options(&dynamics, case.fraction, 200, 11);
        let joint_gd = ok(gradient_descent(&dynamics, &z0, &gd), "n-dimensional GD")?;
        for j in 0..case.n {
            let single = ok(FeatureSystem::decoupled(&[s[j]]), "scalar system")?;
            let scalar = ok(PrimalDynamics::new(&single, Loss::Logistic, reg), "scalar dynamics")?;
            let start = DVector::from_element(1, z0[j]);
            let alone = ok(primal_flow(&scalar, &start, &options), "scalar flow")?;
            for (k, (a, b)) in joint.states.iter().zip(&alone.states).enumerate() {
                let err = (a[j] - b[0]).abs();
                prop_assert!(
                    err <= 1e-8 * b[0].abs().max(1.0),
                    "flow, feature {}, τ = {}: joint {} vs alone {} (error {:e})",
                    j + 1, joint.tau[k], a[j], b[0], err
                );
            }
            // The scalar GD map with the same η (not the scalar system's own bound).
            let alone_gd = ok(gradient_descent(&scalar, &start, &gd), "scalar GD")?;
            for (k, (a, b)) in joint_gd.states.iter().zip(&alone_gd.states).enumerate() {
                let err = (a[j] - b[0]).abs();
                prop_assert!(
                    err <= 1e-13 * b[0].abs().max(1.0),
                    "GD, feature {}, step {}: joint {} vs alone {} (error {:e})",
                    j + 1, k, a[j], b[0], err
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2–3. GD in parameter space (docs/theory.md §1.3, §3.4)
// ---------------------------------------------------------------------------------------------

/// Inputs of properties 2 and 3: a random (U, S), features V of p = n + extra parameters (two
/// draws), labels, a loss, a regulariser and a GD run.
#[derive(Clone, Copy)]
struct ParameterCase {
    system: RandomSystem,
    extra: usize,
    v_seeds: (u64, u64),
    label_seed: u64,
    loss: Loss,
    reg: RegKind,
    fraction: f64,
    steps: usize,
}

impl fmt::Debug for ParameterCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}; p = n + {}, V seeds {:?}, labels {:?}, {:?} loss, {:?}, η = {:?}·2/bound, {} steps",
            self.system,
            self.extra,
            self.v_seeds,
            labels(self.system.n, self.label_seed),
            self.loss,
            self.reg,
            self.fraction,
            self.steps
        )
    }
}

fn parameter_case() -> impl Strategy<Value = ParameterCase> {
    (
        random_system(1e-3, 0.5),
        0usize..=4,
        (any::<u64>(), any::<u64>()),
        any::<u64>(),
        any_loss(),
        any_regulariser(),
        0.05f64..=0.95,
        1usize..=400,
    )
        .prop_map(
            |(system, extra, v_seeds, label_seed, loss, reg, fraction, steps)| ParameterCase {
                system,
                extra,
                v_seeds,
                label_seed,
                loss,
                reg,
                fraction,
                steps,
            },
        )
}

impl ParameterCase {
    /// The system (U, S) with features V from `v_seed`, and Φ = Y U S Vᵀ.
    fn with_features(
        &self,
        v_seed: u64,
    ) -> Result<(FeatureSystem, DMatrix<f64>, Vec<f64>), TestCaseError> {
        let n = self.system.n;
        let v = orthonormal_columns(n + self.extra, n, v_seed);
        let base = self.system.build()?;
        let y = labels(n, self.label_seed);
        let phi = features_of(&base, &v, &y);
        let system = ok(base.with_features(v), "features V")?;
        Ok((system, phi, y))
    }

    fn options(&self, system: &FeatureSystem) -> Result<GdOptions, TestCaseError> {
        let reg = self.reg.with(self.system.lambda);
        let dynamics = ok(PrimalDynamics::new(system, self.loss, reg), "dynamics")?;
        Ok(gd_options(&dynamics, self.fraction, self.steps, 21))
    }
}

/// max_k ‖a_k − b_k‖∞ / max(1, max_k ‖b_k‖∞) over two trajectories on the same record.
fn relative_gap(a: &Trajectory, b: &Trajectory) -> f64 {
    assert_eq!(a.len(), b.len());
    let amax = |x: &[f64]| x.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
    let scale = b.iter().map(amax).fold(1.0, f64::max);
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            x.iter()
                .zip(y)
                .fold(0.0, |m, (p, q)| crate::nan_max(m, (p - q).abs()))
        })
        .fold(0.0, crate::nan_max)
        / scale
}

proptest! {
    #![proptest_config(config(2, 500))]

    /// docs/theory.md §1.3 (V never enters the dynamics) and §3.4 (GD on θ): two feature
    /// matrices Φ₁ = Y U S V₁ᵀ and Φ₂ = Y U S V₂ᵀ with the same U, S
    /// and different V give the same z trajectory under θ-space GD (z_k = S Vᵀθ_k), for every
    /// loss and regulariser.
    ///
    /// Tolerance 1e-12 relative: both runs compute the same z map through different (orthogonal)
    /// V, so they differ by rounding only, ~1e-16·(p + n) per step accumulated over at most 400
    /// steps of a contracting or slowly growing map (observed: ≤ 4e-15).
    #[test]
    fn z_dynamics_do_not_depend_on_the_features_v(case in parameter_case()) {
        let (sys1, phi1, y) = case.with_features(case.v_seeds.0)?;
        let (sys2, phi2, _) = case.with_features(case.v_seeds.1)?;
        let reg = case.reg.with(case.system.lambda);
        let options = case.options(&sys1)?;
        let (run1, theta1) = ok(
            gradient_descent_parameters(&sys1, &phi1, &y, case.loss, reg, &options),
            "θ-space GD with V₁",
        )?;
        let (run2, theta2) = ok(
            gradient_descent_parameters(&sys2, &phi2, &y, case.loss, reg, &options),
            "θ-space GD with V₂",
        )?;
        let gap = relative_gap(&run1.states, &run2.states);
        prop_assert!(gap <= 1e-12, "z trajectories differ by {:e} (relative)", gap);
        // θ itself lies in the span of V: θ_K = V (Vᵀθ_K), a check that V really was used.
        for (theta, sys) in [(&theta1, &sys1), (&theta2, &sys2)] {
            let v = sys.features().unwrap();
            let residual = (theta - v * v.tr_mul(theta)).amax();
            prop_assert!(residual <= 1e-10 * theta.amax().max(1.0), "θ off span V: {:e}", residual);
        }
    }
}

proptest! {
    #![proptest_config(config(3, 500))]

    /// docs/theory.md §3.4 (projected by z_k = S Vᵀθ_k, θ-space GD is z-space GD up to
    /// rounding): `gradient_descent_parameters` (GD on θ with Φ = Y U S Vᵀ) equals
    /// `gradient_descent` (the z map z_{k+1} = z_k + ηF(z_k)) at every recorded step, for every
    /// loss and regulariser.
    ///
    /// Tolerance 1e-10 relative to max(1, max_k ‖z_k‖∞): the maps agree exactly in exact
    /// arithmetic and differ by the rounding of the p-dimensional products (observed ≤ 5e-15).
    #[test]
    fn theta_space_gd_equals_z_space_gd(case in parameter_case()) {
        let (system, phi, y) = case.with_features(case.v_seeds.0)?;
        let reg = case.reg.with(case.system.lambda);
        let options = case.options(&system)?;
        let dynamics = ok(PrimalDynamics::new(&system, case.loss, reg), "dynamics")?;
        let z_run = ok(
            gradient_descent(&dynamics, &DVector::zeros(case.system.n), &options),
            "z-space GD",
        )?;
        let (theta_run, _) = ok(
            gradient_descent_parameters(&system, &phi, &y, case.loss, reg, &options),
            "θ-space GD",
        )?;
        prop_assert_eq!(&z_run.tau, &theta_run.tau);
        let gap = relative_gap(&theta_run.states, &z_run.states);
        prop_assert!(gap <= 1e-10, "θ-space and z-space GD differ by {:e} (relative)", gap);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. GD → flow at first order in η (docs/theory.md §3.1)
// ---------------------------------------------------------------------------------------------

/// The learning-time interval [0, τ_end] of property 4.
const GAP_T_END: f64 = 10.0;
/// The number of shared grid points of property 4.
const GAP_POINTS: usize = 101;

proptest! {
    #![proptest_config(config(4, 300))]

    /// docs/theory.md §3.1: GD is the explicit Euler map of the flow with step η, so its global error on
    /// a fixed interval [0, τ_end] is O(η): gap(η)/gap(η/2) = 2 + O(η), with
    /// gap(η) = max_k ‖z_GD(τ_k) − z_flow(τ_k)‖∞ over 101 shared points τ_k = kτ_end/100 (dense
    /// enough to catch the transient of a fast mode, which has relaxed by τ = 1).
    ///
    /// Tolerance: the ratio within 15 % of 2. The O(η) correction to the ratio is about
    /// η·ρ(∂F/∂z)/2 ≤ fraction ≤ 5 % here (η·bound ≤ 2·0.05), leaving room. The flow reference
    /// ([`REFERENCE_FLOW`] at rtol 1e-12, atol 1e-14) is good to ~1e-11, so gaps are compared only
    /// when gap(η/2) ≥ 1e-8 (reference error ≤ 0.1 % of it); cases where GD is closer to the flow
    /// than that (every mode either relaxed or barely moving over [0, τ_end]) are skipped
    /// (`prop_assume!`).
    #[test]
    fn gd_converges_to_the_flow_at_first_order(
        system in random_system(1e-3, 0.5),
        sd in any::<bool>(),
        fraction in 0.005f64..=0.05,
    ) {
        let sys = system.build()?;
        let reg = if sd { RegKind::Sd } else { RegKind::L2 }.with(system.lambda);
        let dynamics = ok(PrimalDynamics::new(&sys, Loss::Logistic, reg), "dynamics")?;
        let flow = ok(
            primal_flow(
                &dynamics,
                &DVector::zeros(system.n),
                &FlowOptions::new(GAP_T_END, GAP_POINTS, 1e-12, 1e-14, REFERENCE_FLOW).unwrap(),
            ),
            "flow",
        )?;
        // K steps of η = τ_end/K, K a multiple of 100 so the recorded steps land on the grid.
        let intervals = GAP_POINTS - 1;
        let eta_target = fraction * 2.0 / dynamics.curvature_bound();
        let k = intervals * ((GAP_T_END / eta_target / intervals as f64).ceil() as usize).max(1);
        let gap = |steps: usize| -> Result<f64, TestCaseError> {
            let options = GdOptions::new(GAP_T_END / steps as f64, steps, GAP_POINTS, false).unwrap();
            let run = ok(gradient_descent(&dynamics, &DVector::zeros(system.n), &options), "GD")?;
            prop_assert_eq!(run.states.len(), flow.states.len());
            for (a, b) in run.tau.iter().zip(&flow.tau) {
                prop_assert!((a - b).abs() <= 1e-12 * GAP_T_END, "grids differ: {} vs {}", a, b);
            }
            Ok(run.states.iter().zip(&flow.states).map(|(a, b)| (DVector::from_column_slice(a) - DVector::from_column_slice(b)).amax()).fold(0.0, crate::nan_max))
        };
        let coarse = gap(k)?;
        let fine = gap(2 * k)?;
        prop_assume!(fine >= 1e-8, "gap below what the reference flow resolves");
        let ratio = coarse / fine;
        prop_assert!(
            (ratio / 2.0 - 1.0).abs() <= 0.15,
            "gap(η)/gap(η/2) = {} (gaps {:e}, {:e}, η = {:e}, K = {})",
            ratio, coarse, fine, GAP_T_END / k as f64, k
        );
    }
}
