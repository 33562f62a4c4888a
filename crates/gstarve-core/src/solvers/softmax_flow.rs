//! The softmax flow and its GD map (docs/theory.md §9.2, §3.1): the z-space
//! [`SoftmaxDynamics`] integrated by the automatic choice of [`super::auto`] with the analytic
//! Jacobian, and stepped by the one GD loop of [`super::gd`].

use nalgebra::DVector;

use crate::error::{Error, InputError, Result};
use crate::model::SoftmaxDynamics;
use crate::ode::{FlowOptions, OdeSolution};
use crate::solvers::gd::GdOptions;

fn check_start(dynamics: &SoftmaxDynamics, z0: &DVector<f64>) -> Result<()> {
    if z0.len() != dynamics.dim() {
        return Err(Error::Input(InputError::Length {
            what: "initial responses z₀",
            found: z0.len(),
            expected: dynamics.dim(),
            rule: "one per feature",
        }));
    }
    Ok(())
}

/// The gradient flow dz/dτ = F(z) from z₀ on the grid of `options` (the method as `options`
/// says; Auto chooses by size and the stiffness bound λ + s₁²/2 of docs/theory.md §9.3).
pub fn softmax_flow(
    dynamics: &SoftmaxDynamics,
    z0: &DVector<f64>,
    options: &FlowOptions,
) -> Result<OdeSolution> {
    check_start(dynamics, z0)?;
    super::auto::integrate(dynamics, z0.as_slice(), options)
}

/// GD z_{k+1} = z_k + ηF(z_k) from z₀, stable while η(λ + s₁²/2) < 2 (L2; docs/theory.md §9.3).
pub fn softmax_gradient_descent(
    dynamics: &SoftmaxDynamics,
    z0: &DVector<f64>,
    options: &GdOptions,
) -> Result<OdeSolution> {
    check_start(dynamics, z0)?;
    options.check_stability(dynamics.curvature_bound())?;
    super::gd::iterate(dynamics, z0, options, "gd")
}

#[cfg(test)]
mod tests {
    use nalgebra::DVector;

    use super::softmax_flow;
    use crate::model::{Regulariser, SoftmaxDynamics};
    use crate::ode::{solve, FlowMethod, FlowOptions, OdeProblem, OdeSolution, Withheld};
    use crate::solvers::bdf::Bdf;
    use crate::systems::multiclass::random_multiclass;

    /// max |a − b| over paired entries (NaN if any difference is).
    fn max_gap(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .fold(0.0, |m, (x, y)| crate::model::nan_max(m, (x - y).abs()))
    }

    /// The tests' flow options: τ ∈ [0, 200] on 41 points, atol = rtol/100.
    fn options(rtol: f64, method: FlowMethod) -> FlowOptions {
        FlowOptions::new(200.0, 41, rtol, rtol * 1e-2, method).unwrap()
    }

    /// A tight reference from z = 0 (DOP853 at rtol 1e-12, independent of BDF) and its largest
    /// |z|, the scale of the tests' errors.
    fn reference(d: &SoftmaxDynamics) -> (OdeSolution, f64) {
        let z0 = DVector::zeros(d.strengths_squared().len());
        let reference = softmax_flow(d, &z0, &options(1e-12, FlowMethod::Dop853)).unwrap();
        let scale = reference
            .states
            .as_slice()
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        (reference, scale)
    }

    /// BDF with the Cholesky iteration matrix diag(s²)(UᵀHU + a·S⁻²) (r = 64 ≥ the faer path's
    /// 40) against a tight independent reference (Dop853 at rtol 1e-12), and against the same
    /// BDF with LU: the error is the tolerance's, and the two factorisations give the same
    /// trajectory to within it.
    #[test]
    fn bdf_by_cholesky_matches_a_tight_reference_and_the_lu_path() {
        let sys = random_multiclass(16, 4, 64, 3);
        let reg = Regulariser::L2 { lambda: 0.01 };
        let d = SoftmaxDynamics::new(&sys, reg).unwrap();
        let z0 = DVector::zeros(64);
        let (reference, scale) = reference(&d);
        let bdf_options = options(1e-9, FlowMethod::Bdf);
        let by_cholesky = softmax_flow(&d, &z0, &bdf_options).unwrap();
        let by_lu = solve(
            &Bdf::default(),
            &Withheld::scaled_gram(&d),
            z0.as_slice(),
            bdf_options.grid(),
            bdf_options.tolerances(),
        )
        .unwrap();
        let err = max_gap(by_cholesky.states.as_slice(), reference.states.as_slice());
        let err_lu = max_gap(by_lu.states.as_slice(), reference.states.as_slice());
        let between = max_gap(by_cholesky.states.as_slice(), by_lu.states.as_slice());
        assert!(by_cholesky.stats.lu_factorisations > 0);
        // Measured: 6.9e-8 of 11.1 for both, 7e-15 apart (the same steps).
        assert!(
            err < 3e-8 * scale,
            "Cholesky path: {err:.2e} of {scale:.2e}"
        );
        assert!(
            err_lu < 3e-8 * scale,
            "LU path: {err_lu:.2e} of {scale:.2e}"
        );
        assert!(between < 1e-12 * scale, "Cholesky vs LU: {between:.2e}");
    }

    /// From r = 256 on the softmax flow hands BDF its G in f32, and BDF factorises and solves
    /// with M in f32 (`solvers::bdf::single`): every factorisation is in f32 with no fallback,
    /// the error against the tight reference is the f64 path's, the two trajectories differ at
    /// the tolerance's level only, and the work is the same within a few steps.
    #[test]
    fn single_precision_iteration_matrix_keeps_the_accuracy() {
        let r = 256;
        let sys = random_multiclass(32, 8, r, 3);
        let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda: 0.01 }).unwrap();
        assert!(OdeProblem::has_scaled_gram_jacobian_single(&d));
        let z0 = DVector::zeros(r);
        let (reference, scale) = reference(&d);
        let o = options(1e-9, FlowMethod::Bdf);
        let single = solve(&Bdf::default(), &d, z0.as_slice(), o.grid(), o.tolerances()).unwrap();
        let double = solve(
            &Bdf::default(),
            &Withheld::single_precision(&d),
            z0.as_slice(),
            o.grid(),
            o.tolerances(),
        )
        .unwrap();
        let err = max_gap(single.states.as_slice(), reference.states.as_slice());
        let err_double = max_gap(double.states.as_slice(), reference.states.as_slice());
        let between = max_gap(single.states.as_slice(), double.states.as_slice());
        eprintln!(
            "f32 M: {:?}\nf64 M: {:?}\nerrors {err:.2e} / {err_double:.2e} of {scale:.2e}, \
             apart {between:.2e}",
            single.stats, double.stats
        );
        let (s, t) = (&single.stats, &double.stats);
        assert!(s.lu_factorisations > 0);
        assert_eq!(s.newton.single_factorisations, s.lu_factorisations);
        assert_eq!(s.newton.single_fallbacks, 0);
        assert_eq!(t.newton.single_factorisations, 0);
        let (lo, hi) = s.newton.single_condition.expect("condition range");
        assert!(
            1.0 < lo && lo <= hi && hi < 1e4,
            "condition {lo:.2e} … {hi:.2e}"
        );
        assert!(err < 3e-8 * scale, "f32 M: {err:.2e} of {scale:.2e}");
        assert!(
            err < 1.5 * err_double,
            "f32 M {err:.2e}, f64 M {err_double:.2e}"
        );
        assert!(between < 3e-8 * scale, "f32 vs f64 M: {between:.2e}");
        assert!(s.steps_accepted.abs_diff(t.steps_accepted) * 20 <= t.steps_accepted);
        assert!(s.newton.iterations.abs_diff(t.newton.iterations) * 10 <= t.newton.iterations);
    }

    /// BDF's opt-in policies (monitored modified Newton keeping M across step-size changes, and
    /// the step-size hysteresis) keep the default's accuracy against the tight reference and,
    /// with M's age limit lifted, factorise less.
    #[test]
    fn monitored_modified_newton_keeps_the_accuracy() {
        use crate::solvers::bdf::BdfParams;
        let sys = random_multiclass(16, 4, 64, 3);
        let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let z0 = DVector::zeros(64);
        let (reference, scale) = reference(&d);
        let bdf_options = options(1e-9, FlowMethod::Bdf);
        let run = |params| {
            solve(
                &Bdf { params },
                &d,
                z0.as_slice(),
                bdf_options.grid(),
                bdf_options.tolerances(),
            )
            .unwrap()
        };
        let default = run(BdfParams::DEFAULT);
        let monitored = run(BdfParams {
            stale_max_rate: 0.2,
            lu_max_age: u64::MAX,
            min_step_change: 1.2,
            ..BdfParams::DEFAULT
        });
        for sol in [&default, &monitored] {
            let err = max_gap(sol.states.as_slice(), reference.states.as_slice());
            assert!(
                err < 3e-8 * scale,
                "{err:.2e} of {scale:.2e}: {:?}",
                sol.stats
            );
        }
        assert!(
            monitored.stats.lu_factorisations < default.stats.lu_factorisations,
            "{:?} vs {:?}",
            monitored.stats,
            default.stats
        );
    }

    /// BDF deciding functional iteration on the local stiffness estimate
    /// (`OdeProblem::local_spectral_estimate`) rather than the global bound λ + s₁²/2: it starts
    /// without a Jacobian, evaluates fewer Jacobians and factorises less, and keeps the error at
    /// the tolerance's against the tight reference.
    #[test]
    fn local_stiffness_estimate_saves_factorisations_at_the_same_accuracy() {
        let sys = random_multiclass(16, 4, 64, 3);
        let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let z0 = DVector::zeros(64);
        let (reference, scale) = reference(&d);
        let o = options(1e-9, FlowMethod::Bdf);
        let local = solve(&Bdf::default(), &d, z0.as_slice(), o.grid(), o.tolerances()).unwrap();
        let global = solve(
            &Bdf::default(),
            &Withheld::local_estimate(&d),
            z0.as_slice(),
            o.grid(),
            o.tolerances(),
        )
        .unwrap();
        for sol in [&local, &global] {
            let err = max_gap(sol.states.as_slice(), reference.states.as_slice());
            assert!(
                err < 3e-8 * scale,
                "{err:.2e} of {scale:.2e}: {:?}",
                sol.stats
            );
        }
        assert!(
            local.stats.lu_factorisations < global.stats.lu_factorisations
                && local.stats.jacobian_evals < global.stats.jacobian_evals,
            "{:?} vs {:?}",
            local.stats,
            global.stats
        );
    }

    /// The softmax dynamics with a count of their local stiffness estimates.
    struct CountingEstimates<'a> {
        dynamics: &'a SoftmaxDynamics<'a>,
        estimates: std::sync::atomic::AtomicU64,
    }

    impl OdeProblem for CountingEstimates<'_> {
        fn dim(&self) -> usize {
            OdeProblem::dim(self.dynamics)
        }
        fn rhs(&self, y: &[f64], dy: &mut [f64]) {
            OdeProblem::rhs(self.dynamics, y, dy)
        }
        fn jacobian(&self, y: &[f64], jac: &mut nalgebra::DMatrix<f64>) {
            OdeProblem::jacobian(self.dynamics, y, jac)
        }
        fn spectral_bound(&self) -> f64 {
            OdeProblem::spectral_bound(self.dynamics)
        }
        fn scaled_gram_jacobian(
            &self,
            y: &[f64],
            gram: &mut nalgebra::DMatrix<f64>,
        ) -> Option<(&[f64], f64)> {
            OdeProblem::scaled_gram_jacobian(self.dynamics, y, gram)
        }
        fn has_scaled_gram_jacobian(&self) -> bool {
            OdeProblem::has_scaled_gram_jacobian(self.dynamics)
        }
        fn scaled_gram_jacobian_single(
            &self,
            y: &[f64],
            gram: &mut [f32],
        ) -> Option<(&[f64], f64)> {
            OdeProblem::scaled_gram_jacobian_single(self.dynamics, y, gram)
        }
        fn has_scaled_gram_jacobian_single(&self) -> bool {
            OdeProblem::has_scaled_gram_jacobian_single(self.dynamics)
        }
        fn local_spectral_estimate(&self, y: &[f64]) -> Option<(f64, u64)> {
            self.estimates
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            OdeProblem::local_spectral_estimate(self.dynamics, y)
        }
    }

    /// BDF retakes the local stiffness estimate every 20 accepted steps only while c times it
    /// is near the functional-iteration limit (between a quarter of it and twice it), every 100
    /// far below it, and never beyond: counted through the problem, no more estimates than
    /// measured, the counter changes nothing, and the error stays the tolerance's against the
    /// tight reference.
    #[test]
    fn local_estimates_are_retaken_only_near_the_functional_limit() {
        let sys = random_multiclass(16, 4, 64, 3);
        let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let z0 = DVector::zeros(64);
        let (reference, scale) = reference(&d);
        let counting = CountingEstimates {
            dynamics: &d,
            estimates: Default::default(),
        };
        let o = options(1e-9, FlowMethod::Bdf);
        let sol = solve(
            &Bdf::default(),
            &counting,
            z0.as_slice(),
            o.grid(),
            o.tolerances(),
        )
        .unwrap();
        let plain = solve(&Bdf::default(), &d, z0.as_slice(), o.grid(), o.tolerances()).unwrap();
        let estimates = counting.estimates.into_inner();
        let err = max_gap(sol.states.as_slice(), reference.states.as_slice());
        eprintln!(
            "estimates {estimates}, passes each {}, stats {:?}, error {err:.2e} of {scale:.2e}",
            OdeProblem::local_spectral_estimate(&d, z0.as_slice())
                .unwrap()
                .1,
            sol.stats
        );
        assert_eq!(
            sol.stats,
            crate::ode::SolverStats {
                wall_s: sol.stats.wall_s,
                ..plain.stats
            }
        );
        assert!(err < 3e-8 * scale, "{err:.2e} of {scale:.2e}");
        // Measured: 14 estimates (9 passes each) in 377 steps, 528 evaluations in all, error
        // 1.1e-7 of 11.1.
        assert!(
            (1..=14).contains(&estimates),
            "{estimates} estimates in {} steps",
            sol.stats.steps_accepted
        );
    }

    /// Auto sends softmax flows with r > 200 to BDF (the scaled Gram row of `solvers::auto`)
    /// at loose tolerances too, where flows without a Gram form go to RKC (measured faster
    /// there: docs/benchmarks.md, "Multi-class softmax and max-margin speed"); and the flow it
    /// runs is BDF's.
    #[test]
    fn auto_sends_large_softmax_flows_to_bdf_at_loose_tolerances() {
        use crate::solvers::auto::{plan, Method, AUTO_RKC_MIN_RTOL};
        let sys = random_multiclass(30, 8, 240, 5);
        let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let z0 = DVector::zeros(240);
        for rtol in [AUTO_RKC_MIN_RTOL, 1e-6, 1e-4] {
            let options = FlowOptions::new(1.0, 3, rtol, rtol * 1e-2, FlowMethod::Auto).unwrap();
            assert_eq!(
                plan(&d, z0.as_slice(), &options).first.0,
                Method::Bdf,
                "rtol {rtol}"
            );
        }
        // Without the structure the same flow would go to RKC.
        let options = FlowOptions::new(1.0, 3, 1e-6, 1e-8, FlowMethod::Auto).unwrap();
        assert_eq!(
            plan(&Withheld::scaled_gram(&d), z0.as_slice(), &options)
                .first
                .0,
            Method::Rkc
        );
        let sol = softmax_flow(&d, &z0, &options).unwrap();
        assert_eq!(sol.stats.solver, crate::solvers::bdf::NAME);
    }
}
