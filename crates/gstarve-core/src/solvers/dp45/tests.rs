//! What only DP45 has: its work accounting, its order and the margin its [`TOL_SCALE`] buys,
//! its stiffness test, and the reasons it gives. Accuracy, convergence and failures are in the
//! conformance suite ([`crate::solvers::conformance`]).

use nalgebra::{DMatrix, DVector};

use super::*;
use crate::error::{Error, NumericalError};
use crate::model::{Loss, MarginFlowN, PrimalDynamics, Regulariser};
use crate::solvers::conformance::problems::{
    integrate_with, max_deviation, BlowUp, Linear, NanBeyondTwo,
};
use crate::systems::FeatureSystem;

/// The method on an even grid (the suites' shorthand).
fn solve(
    problem: &(impl OdeProblem + ?Sized),
    y0: &DVector<f64>,
    t_end: f64,
    points: usize,
    rtol: f64,
    atol: f64,
) -> crate::error::Result<crate::ode::OdeSolution> {
    integrate_with(&Dp45, problem, y0, t_end, points, rtol, atol)
}

/// Two evaluations to start (f(y₀), HINIT), six per attempt (FSAL), no Jacobian and no
/// factorisation: on the decoupled flow, n = 1 (fixed-size path) and n = 5 (general path).
#[test]
fn work_is_counted() {
    for strengths in [&[3.0][..], &[4.0, 2.0, 1.0, 0.5, 0.1]] {
        let sys = FeatureSystem::decoupled(strengths).unwrap();
        let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::None).unwrap();
        let n = strengths.len();
        for points in [2, 11, 1001] {
            let sol = solve(&d, &DVector::zeros(n), 100.0, points, 1e-10, 1e-12).unwrap();
            let s = &sol.stats;
            assert_eq!(s.rhs_evals, 2 + 6 * (s.steps_accepted + s.steps_rejected));
            assert_eq!((s.jacobian_evals, s.lu_factorisations), (0, 0));
        }
    }
}

/// The benchmark flow at n = 2 (`gstarve system --random 2 --seed 1 --spectrum 10:0.1`,
/// λ = 0.01): the error against a tight Rodas4 reference falls in proportion to the
/// tolerance, and the evaluations grow like tol^(−1/5) (a method of order 5).
#[test]
fn error_is_proportional_to_the_tolerance_and_the_order_is_five() {
    let sys = FeatureSystem::random(
        2,
        crate::systems::Spectrum::Geometric {
            from: 10.0,
            to: 0.1,
        },
        1,
    )
    .unwrap();
    let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
    let z0 = DVector::zeros(2);
    let reference = integrate_with(
        &crate::solvers::rosenbrock::Rodas4,
        &d,
        &z0,
        1000.0,
        201,
        1e-12,
        1e-14,
    )
    .unwrap();
    let mut errors = Vec::new();
    let mut evals = Vec::new();
    for rtol in [1e-6, 1e-7, 1e-8, 1e-9] {
        let sol = solve(&d, &z0, 1000.0, 201, rtol, rtol * 1e-2).unwrap();
        errors.push(max_deviation(&sol, &reference));
        evals.push(sol.stats.rhs_evals as f64);
    }
    println!("errors {errors:?}, evaluations {evals:?}");
    for (e, w) in errors.windows(2).zip(evals.windows(2)) {
        let gain = e[0] / e[1];
        assert!((4.0..25.0).contains(&gain), "errors {errors:?}");
        let cost = w[1] / w[0];
        assert!((1.25..1.75).contains(&cost), "evaluations {evals:?}");
    }
    // Asymptotically (the tightest pair, where the two start-up evaluations and the output
    // grid no longer matter) the cost per decade is 10^(1/5) = 1.58 for order 5; order 4
    // would give 10^(1/4) = 1.78.
    let last = evals[3] / evals[2];
    assert!((1.45..1.7).contains(&last), "evaluations {evals:?}");
    // At rtol 1e-8 the global error is below the requested relative accuracy of z ≈ 7:
    // what TOL_SCALE is for.
    assert!(errors[2] < 1e-8 * 7.0, "errors {errors:?}");
}

/// Eigenvalues −1 and −10⁴: stability limits DP45 to h ≈ 3.3·10⁻⁴ long after the fast mode
/// has decayed, and its stiffness test stops the run with the τ reached.
#[test]
fn stiff_problems_are_reported_with_the_time() {
    let a = DMatrix::from_row_slice(2, 2, &[-1.0, 0.0, 1.0, -1e4]);
    let problem = Linear { a };
    let y0 = DVector::from_vec(vec![1.0, 1.0]);
    match solve(&problem, &y0, 10.0, 11, 1e-8, 1e-10).unwrap_err() {
        Error::Numerical(NumericalError::StiffnessDetected { solver, tau }) => {
            assert_eq!(solver, NAME);
            assert!(tau > 0.0 && tau < 10.0);
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// A blow-up stops at the minimum step size, a non-finite right-hand side as such.
#[test]
fn failures_say_why() {
    let y0 = DVector::from_element(1, 1.0);
    let blow_up = BlowUp {
        bound: f64::INFINITY,
    };
    match solve(&blow_up, &y0, 2.0, 11, 1e-8, 1e-10).unwrap_err() {
        Error::Numerical(NumericalError::IntegrationFailed { reason, .. }) => {
            assert!(reason.contains("below the minimum"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
    match solve(&NanBeyondTwo, &DVector::zeros(2), 5.0, 11, 1e-8, 1e-10).unwrap_err() {
        Error::Numerical(NumericalError::IntegrationFailed { reason, .. }) => {
            assert!(reason.contains("non-finite"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// The fixed-size stages compute the same bits as the general ones, step for step: the error
/// norm, the new state, the dense output and the stiffness estimate, on the benchmark flow in
/// margins (n = 2) and in responses (the z-space form, n = 3), accepted and rejected steps.
#[test]
fn fixed_size_stages_equal_the_general_ones() {
    fn compare<const N: usize>(problem: &(impl OdeProblem + ?Sized), y0: &[f64]) {
        let (rtol, atol) = (1e-8 * TOL_SCALE, 1e-10 * TOL_SCALE);
        let (mut a, h_a) = Stages::start(problem, y0, 1000.0, rtol, atol);
        let (mut b, h_b) = Fixed::<N>::start(problem, y0, 1000.0, rtol, atol);
        assert_eq!(h_a.to_bits(), h_b.to_bits());
        let mut h = h_a;
        let (mut accepted, mut rejected) = (0, 0);
        for _ in 0..60 {
            let (ea, eb) = (
                a.step(problem, h, rtol, atol),
                b.step(problem, h, rtol, atol),
            );
            assert_eq!(ea.to_bits(), eb.to_bits());
            assert_eq!(a.ynew(), b.ynew());
            if ea <= 1.0 {
                accepted += 1;
                a.prepare_dense(h);
                b.prepare_dense(h);
                for theta in [0.0, 0.37, 0.9] {
                    let (mut da, mut db) = ([0.0; N], [0.0; N]);
                    a.dense(theta, &mut da);
                    b.dense(theta, &mut db);
                    assert_eq!(da, db);
                }
                assert_eq!(a.stiffness(h).to_bits(), b.stiffness(h).to_bits());
                a.accept();
                b.accept();
                h *= 1.6;
            } else {
                rejected += 1;
                h *= 0.3;
            }
        }
        assert!(
            accepted > 10 && rejected > 3,
            "{accepted} accepted, {rejected} rejected"
        );
    }
    let spectrum = crate::systems::Spectrum::Geometric {
        from: 10.0,
        to: 0.1,
    };
    let sys = FeatureSystem::random(2, spectrum, 1).unwrap();
    let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
    compare::<2>(&MarginFlowN::<2>::new(&d).unwrap(), &[0.0, 0.0]);
    let sys = FeatureSystem::random(3, spectrum, 2).unwrap();
    let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
    compare::<3>(&d, &[0.1, -0.2, 0.3]);
}
