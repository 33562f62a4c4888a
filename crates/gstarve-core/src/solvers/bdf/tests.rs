//! What only BDF has: its work accounting, SciPy's policies against the defaults, functional
//! iteration and the Cholesky path against Newton with LU, robustness to a wrong spectral bound,
//! and the rescaling of the difference array. Accuracy, convergence and failures are in the
//! conformance suite ([`crate::solvers::conformance`]).

use nalgebra::{DMatrix, DVector};

use super::state::State;
use super::*;
use crate::model::{Loss, MarginFlow, PrimalDynamics, Regulariser};
use crate::ode::OdeSolution;
use crate::solvers::conformance::problems::{
    integrate_with, max_abs_diff, max_deviation, stiff_linear, stiff_linear_copies, BlowUp,
};
use crate::systems::FeatureSystem;

const METHOD: Bdf = Bdf {
    params: BdfParams::DEFAULT,
};

/// The method on an even grid (the suites' shorthand).
fn solve(
    problem: &(impl OdeProblem + ?Sized),
    y0: &DVector<f64>,
    t_end: f64,
    points: usize,
    rtol: f64,
    atol: f64,
) -> crate::error::Result<OdeSolution> {
    integrate_with(&METHOD, problem, y0, t_end, points, rtol, atol)
}

/// Max over the grid of |y − y_exact| relative to max(|y_exact|, atol/rtol).
fn relative_error(sol: &OdeSolution, exact: &impl Fn(f64) -> DVector<f64>, floor: f64) -> f64 {
    sol.tau
        .iter()
        .zip(&sol.states)
        .map(|(&t, y)| {
            let e = exact(t);
            max_abs_diff(y, &e) / (e.amax() + floor)
        })
        .fold(0.0, crate::model::nan_max)
}

/// On the stiff linear system: f(y₀) and the initial-step probe, then at least one evaluation
/// per attempt and at most NEWTON_MAXITER per attempt and Jacobian; J at y₀ and a
/// factorisation before the first step; no more factorisations than attempts plus Jacobians.
#[test]
fn work_is_counted_on_the_stiff_linear_system() {
    let (problem, exact) = stiff_linear();
    let sol = solve(&problem, &exact(0.0), 5.0, 101, 1e-8, 1e-12).unwrap();
    let s = &sol.stats;
    let attempts = s.steps_accepted + s.steps_rejected;
    assert!(s.rhs_evals >= 2 + attempts, "{s:?}");
    assert!(s.rhs_evals <= 2 + NEWTON_MAXITER as u64 * (attempts + s.jacobian_evals));
    assert!(s.jacobian_evals >= 1 && s.lu_factorisations >= s.jacobian_evals);
    assert!(s.lu_factorisations <= attempts + s.jacobian_evals, "{s:?}");
}

/// The benchmark flow in margin space (`gstarve system --random n --seed 1 --spectrum
/// 10:0.1`, logistic loss, L2 with λ = 0.01).
fn benchmark_flow(n: usize) -> MarginFlow {
    let sys = FeatureSystem::random(
        n,
        crate::systems::Spectrum::Geometric {
            from: 10.0,
            to: 0.1,
        },
        1,
    )
    .unwrap();
    let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
    MarginFlow::new(&d)
}

/// SciPy's policies reach the same answer with more LU factorisations.
#[test]
fn scipy_policies_agree_and_factorise_more() {
    let flow = benchmark_flow(10);
    let m0 = DVector::zeros(10);
    let ours = solve(&flow, &m0, 1000.0, 101, 1e-9, 1e-11).unwrap();
    let scipy = integrate_with(
        &Bdf {
            params: BdfParams::SCIPY,
        },
        &flow,
        &m0,
        1000.0,
        101,
        1e-9,
        1e-11,
    )
    .unwrap();
    let worst = max_deviation(&ours, &scipy);
    assert!(worst < 1e-6, "max deviation {worst:.3e}");
    let (a, b) = (&ours.stats, &scipy.stats);
    assert!(
        2 * a.lu_factorisations < b.lu_factorisations,
        "{a:?} vs {b:?}"
    );
    assert!(a.rhs_evals < b.rhs_evals, "{a:?} vs {b:?}");
}

/// A problem with its Gram structure hidden, or its spectral bound replaced: the same
/// flow solved by the LU path, or with functional iteration tried at every step.
struct Masked<'a, P: OdeProblem> {
    inner: &'a P,
    bound: Option<f64>,
}

impl<P: OdeProblem> OdeProblem for Masked<'_, P> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn rhs(&self, y: &[f64], dy: &mut [f64]) {
        self.inner.rhs(y, dy);
    }
    fn jacobian(&self, y: &[f64], jac: &mut DMatrix<f64>) {
        self.inner.jacobian(y, jac);
    }
    fn spectral_bound(&self) -> f64 {
        self.bound.unwrap_or_else(|| self.inner.spectral_bound())
    }
}

/// On the benchmark margin flow at n = 48 (≥ the LU module's faer size, so the Cholesky path
/// applies), the default solve — functional iteration while c·ρ ≤ 0.2, Cholesky of the
/// Gram form — agrees with the plain-Newton, plain-LU solve to the tolerance's order and
/// with a tight reference, with fewer factorisations.
#[test]
fn functional_iteration_and_cholesky_agree_with_newton_and_lu() {
    let flow = benchmark_flow(48);
    let m0 = DVector::zeros(48);
    let (rtol, atol) = (1e-9, 1e-11);
    let reference = solve(&flow, &m0, 1000.0, 101, 1e-12, 1e-14).unwrap();
    let ours = solve(&flow, &m0, 1000.0, 101, rtol, atol).unwrap();
    let plain_params = BdfParams {
        functional_max_rate: 0.0,
        ..BdfParams::default()
    };
    let lu_only = Masked {
        inner: &flow,
        bound: None,
    };
    let plain = integrate_with(
        &Bdf {
            params: plain_params,
        },
        &lu_only,
        &m0,
        1000.0,
        101,
        rtol,
        atol,
    )
    .unwrap();
    let e_ours = max_deviation(&ours, &reference);
    let e_plain = max_deviation(&plain, &reference);
    println!("errors: default {e_ours:.3e}, Newton + LU {e_plain:.3e}");
    assert!(
        e_ours < 1e-6 && e_plain < 1e-6,
        "{e_ours:.3e} {e_plain:.3e}"
    );
    assert!(e_ours < 3.0 * e_plain, "{e_ours:.3e} vs {e_plain:.3e}");
    let (a, b) = (&ours.stats, &plain.stats);
    println!("default {a:?}\nNewton + LU {b:?}");
    assert!(
        a.lu_factorisations * 4 < b.lu_factorisations * 3,
        "{a:?} vs {b:?}"
    );
    assert!(a.jacobian_evals < b.jacobian_evals, "{a:?} vs {b:?}");
}

/// A spectral bound that lies (0: "never stiff") makes every step try functional iteration
/// first. On the stiff linear system the iteration stops converging once h·1000 is no
/// longer small; those attempts are handed to Newton (so factorisations happen), and the
/// answer is as accurate as with the true bound: the convergence test does not rest on the
/// bound being right. With functional iteration switched off the bound is not used at all.
#[test]
fn a_wrong_spectral_bound_costs_time_not_accuracy() {
    // 20 uncoupled copies of the stiff 2 × 2 system: n = 40 ≥ FUNCTIONAL_MIN_DIM.
    let (problem, exact) = stiff_linear_copies(20);
    assert!(problem.dim() >= FUNCTIONAL_MIN_DIM);
    let y0 = exact(0.0);
    let (rtol, atol) = (1e-8, 1e-12);
    let lying = Masked {
        inner: &problem,
        bound: Some(0.0),
    };
    let sol = solve(&lying, &y0, 5.0, 101, rtol, atol).unwrap();
    let err = relative_error(&sol, &exact, atol / rtol);
    assert!(err < 100.0 * rtol, "relative error {err:.3e}");
    let honest = solve(&problem, &y0, 5.0, 101, rtol, atol).unwrap();
    println!("lying {:?}\nhonest {:?}", sol.stats, honest.stats);
    assert!(sol.stats.lu_factorisations > 0, "{:?}", sol.stats);
    // functional_max_rate = 0 (SciPy's policy) never iterates functionally, whatever the
    // bound: the lying and the honest problem then take the very same steps.
    let off = BdfParams {
        functional_max_rate: 0.0,
        ..BdfParams::default()
    };
    let a = integrate_with(&Bdf { params: off }, &lying, &y0, 5.0, 101, rtol, atol).unwrap();
    let b = integrate_with(&Bdf { params: off }, &problem, &y0, 5.0, 101, rtol, atol).unwrap();
    assert_eq!(a.states, b.states);
    assert_eq!(
        (a.stats.rhs_evals, a.stats.lu_factorisations),
        (b.stats.rhs_evals, b.stats.lu_factorisations)
    );
}

#[test]
fn difference_rescaling_is_exact_for_polynomials() {
    // Backward differences of p(t) = t³ − 2t on the grid 0, −h, −2h, −3h, rescaled to
    // h' = 0.4h, equal the differences on 0, −h', −2h', −3h'.
    let p = |t: f64| t * t * t - 2.0 * t;
    let diffs = |h: f64| {
        let v: Vec<f64> = (0..4).map(|j| p(-h * j as f64)).collect();
        let d1: Vec<f64> = (0..3).map(|j| v[j] - v[j + 1]).collect();
        let d2: Vec<f64> = (0..2).map(|j| d1[j] - d1[j + 1]).collect();
        vec![v[0], d1[0], d2[0], d2[0] - d2[1]]
    };
    let (h, r) = (0.3, 0.4);
    let problem = BlowUp {
        bound: f64::INFINITY,
    };
    let mut bdf = State::new(&problem, BdfParams::default());
    bdf.order = 3;
    bdf.diffs[..4].copy_from_slice(&diffs(h));
    bdf.change_d(r);
    assert!(max_abs_diff(&bdf.diffs[..4], &diffs(r * h)[..]) < 1e-13);
}
