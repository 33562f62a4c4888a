//! What only Rodas4 has: its work accounting and its order, seen through fixed steps (the
//! global error and the dense output). Accuracy, convergence and failures are in the
//! conformance suite ([`crate::solvers::conformance`]).

use nalgebra::DVector;

use super::step::fixed_steps;
use super::*;
use crate::solvers::conformance::problems::{
    integrate_with, logistic_exact, max_abs_diff, stiff_linear, Logistic,
};

/// One Jacobian per accepted step, one LU per attempt; five f per attempt, f(y₀) once per
/// accepted step (not after the last), one more for the initial step size.
#[test]
fn work_is_counted_on_the_stiff_linear_system() {
    let (problem, exact) = stiff_linear();
    let sol = integrate_with(&Rodas4, &problem, &exact(0.0), 5.0, 101, 1e-8, 1e-12).unwrap();
    let s = &sol.stats;
    assert_eq!(s.rhs_evals, 1 + 6 * s.steps_accepted + 5 * s.steps_rejected);
    assert_eq!(s.jacobian_evals, s.steps_accepted, "{s:?}");
    assert_eq!(
        s.lu_factorisations,
        s.steps_accepted + s.steps_rejected,
        "{s:?}"
    );
}

#[test]
fn fixed_steps_converge_with_order_four() {
    let y0: DVector<f64> = logistic_exact(0.0);
    let t_end = 4.0;
    let mut errors = Vec::new();
    let mut dense_errors = Vec::new();
    for steps in [8, 16, 32, 64] {
        let h = t_end / steps as f64;
        let (y, dense) = fixed_steps(&Logistic, &y0, t_end, steps, Some(0.5));
        errors.push(max_abs_diff(&y, &logistic_exact(t_end)));
        let mid = logistic_exact(t_end - 0.5 * h);
        dense_errors.push(max_abs_diff(&dense.unwrap(), &mid));
    }
    println!("global errors {errors:?}, dense errors {dense_errors:?}");
    for w in errors.windows(2) {
        let ratio = w[0] / w[1];
        assert!(
            (13.0..19.5).contains(&ratio),
            "halving h divided the error by {ratio:.2} (errors {errors:?})"
        );
    }
    // The dense output is a 3rd-order polynomial: local error O(h⁴) on top of the
    // O(h⁴) global error of the step's end points.
    for w in dense_errors.windows(2) {
        let ratio = w[0] / w[1];
        assert!(
            (10.0..22.0).contains(&ratio),
            "dense output: error ratio {ratio:.2} (errors {dense_errors:?})"
        );
    }
}
