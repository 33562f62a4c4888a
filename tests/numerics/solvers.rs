//! The solvers against each other, against the steady state and against SciPy's accuracy on the
//! benchmark flows, through the public API.

use gstarve_core::model::{DualDynamics, Loss, PrimalDynamics, Regulariser};
use gstarve_core::ode::{FlowMethod, FlowOptions};
use gstarve_core::reference::{paper_toy, TOY_LAMBDA_L2, TOY_LAMBDA_SD};
use gstarve_core::solvers::flow::primal_flow;
use gstarve_core::solvers::gd::{gradient_descent, gradient_descent_parameters, GdOptions};
use gstarve_core::solvers::integrate;
use gstarve_core::solvers::steady::steady_state;
use gstarve_core::systems::{FeatureSystem, Spectrum};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};

use crate::nan_max;

/// max over the grid of max_i |a_i − b_i| between two solutions' states, NaN if any is NaN.
fn trajectory_error(a: &gstarve_core::ode::OdeSolution, b: &gstarve_core::ode::OdeSolution) -> f64 {
    assert_eq!(a.states.len(), b.states.len());
    a.states
        .iter()
        .zip(&b.states)
        .map(|(x, y)| max_diff(x, y))
        .fold(0.0, nan_max)
}

/// max_i |a_i − b_i|, NaN if any entry is NaN.
fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, nan_max)
}

fn gd(eta: f64, steps: usize, points: usize) -> GdOptions {
    GdOptions::new(eta, steps, points, false).unwrap()
}

/// max_k ‖z_GD(ηk) − z_flow(ηk)‖∞ over τ ∈ [0, 50] on 101 shared points.
fn max_gap(d: &PrimalDynamics, eta: f64) -> f64 {
    let t_end = 50.0;
    let steps = (t_end / eta).round() as usize;
    let flow = primal_flow(
        d,
        &DVector::zeros(d.dim()),
        &FlowOptions::new(t_end, 101, 1e-12, 1e-14, FlowMethod::Dop853).unwrap(),
    )
    .unwrap();
    let run = gradient_descent(d, &DVector::zeros(d.dim()), &gd(eta, steps, 101)).unwrap();
    assert_eq!(run.tau.len(), flow.tau.len());
    run.states
        .iter()
        .zip(&flow.states)
        .zip(run.tau.iter().zip(&flow.tau))
        .map(|((a, b), (ta, tb))| {
            assert!((ta - tb).abs() < 1e-9);
            max_diff(a, b)
        })
        .fold(0.0, nan_max)
}

#[test]
fn gd_converges_to_the_flow_at_first_order() {
    for (sys, reg) in [
        (
            paper_toy(4.0),
            Regulariser::L2 {
                lambda: TOY_LAMBDA_L2,
            },
        ),
        (
            paper_toy(4.0),
            Regulariser::SpectralDecoupling {
                lambda: TOY_LAMBDA_SD,
            },
        ),
        (
            FeatureSystem::random(5, Spectrum::Geometric { from: 3.0, to: 0.5 }, 4).unwrap(),
            Regulariser::L2 { lambda: 0.05 },
        ),
    ] {
        let d = PrimalDynamics::new(&sys, Loss::Logistic, reg).unwrap();
        let gaps: Vec<f64> = [0.02, 0.01, 0.005]
            .iter()
            .map(|&eta| max_gap(&d, eta))
            .collect();
        for w in gaps.windows(2) {
            let ratio = w[0] / w[1];
            assert!(
                (ratio - 2.0).abs() < 0.2,
                "{reg:?}: gaps {gaps:?}, ratio {ratio}"
            );
        }
    }
}

#[test]
fn theta_space_gd_equals_z_space_gd_on_random_features() {
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(42);
    for (n, p) in [(6, 10), (8, 8), (10, 4)] {
        let phi = DMatrix::from_fn(n, p, |_, _| rng.random_range(-1.0..1.0));
        let labels: Vec<f64> = (0..n)
            .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        let sys = FeatureSystem::from_features(&phi, &labels).unwrap();
        for loss in [Loss::Logistic, Loss::Squared] {
            for reg in [
                Regulariser::L2 { lambda: 0.01 },
                Regulariser::SpectralDecoupling { lambda: 0.02 },
                Regulariser::None,
            ] {
                let d = PrimalDynamics::new(&sys, loss, reg).unwrap();
                let eta = 0.5 / d.curvature_bound();
                let opts = gd(eta, 2000, 21);
                let z_run = gradient_descent(&d, &DVector::zeros(sys.rank()), &opts).unwrap();
                let (theta_run, _) =
                    gradient_descent_parameters(&sys, &phi, &labels, loss, reg, &opts).unwrap();
                let scale = DVector::from_column_slice(z_run.states.last().unwrap())
                    .amax()
                    .max(1.0);
                for (a, b) in z_run.states.iter().zip(&theta_run.states) {
                    let (a, b) = (DVector::from_column_slice(a), DVector::from_column_slice(b));
                    assert!(
                        (&a - &b).amax() < 1e-10 * scale,
                        "n={n} p={p} {loss:?} {reg:?}: {}",
                        (&a - &b).amax()
                    );
                }
            }
        }
    }
}

#[test]
fn long_flow_reaches_the_fixed_point() {
    for l in [2.0, 4.0, 6.0] {
        let sys = paper_toy(l);
        let d = PrimalDynamics::new(
            &sys,
            Loss::Logistic,
            Regulariser::L2 {
                lambda: TOY_LAMBDA_L2,
            },
        )
        .unwrap();
        let fp = steady_state(&d).unwrap();
        let sol = primal_flow(
            &d,
            &DVector::zeros(2),
            &FlowOptions::new(20_000.0, 11, 1e-8, 1e-10, FlowMethod::Auto).unwrap(),
        )
        .unwrap();
        let end = DVector::from_column_slice(sol.states.last().unwrap());
        assert!(
            (&end - &fp.responses).amax() < 1e-6,
            "l = {l}: {end} vs {}",
            fp.responses
        );
    }
}

#[test]
fn primal_and_dual_share_the_steady_state() {
    for (l, reg) in [
        (
            2.0,
            Regulariser::L2 {
                lambda: TOY_LAMBDA_L2,
            },
        ),
        (
            6.0,
            Regulariser::L2 {
                lambda: TOY_LAMBDA_L2,
            },
        ),
        (
            4.0,
            Regulariser::SpectralDecoupling {
                lambda: TOY_LAMBDA_SD,
            },
        ),
    ] {
        let sys = paper_toy(l);
        let d = PrimalDynamics::new(&sys, Loss::Logistic, reg).unwrap();
        let fp = steady_state(&d).unwrap();
        let dual = DualDynamics::new(&d).unwrap();
        let sol = integrate(
            &dual,
            dual.start(DualDynamics::DEFAULT_START).unwrap().as_slice(),
            &FlowOptions::new(1000.0, 11, 1e-8, 1e-10, FlowMethod::Bdf).unwrap(),
        )
        .unwrap();
        let z = dual.responses(sol.states.last().unwrap());
        assert!(
            (&z - &fp.responses).amax() < 1e-6,
            "l = {l} {reg:?}: {z} vs {}",
            fp.responses
        );
    }
}

#[test]
fn sd_steady_state_does_not_depend_on_strengths() {
    let base = FeatureSystem::random(6, Spectrum::Geometric { from: 5.0, to: 0.5 }, 9).unwrap();
    let reg = Regulariser::SpectralDecoupling { lambda: 0.01 };
    let reference =
        steady_state(&PrimalDynamics::new(&base, Loss::Logistic, reg).unwrap()).unwrap();
    for strengths in [vec![1.0; 6], vec![9.0, 3.0, 2.0, 1.0, 0.7, 0.2]] {
        let sys = base.with_strengths(DVector::from_vec(strengths)).unwrap();
        let d = PrimalDynamics::new(&sys, Loss::Logistic, reg).unwrap();
        let fp = steady_state(&d).unwrap();
        assert!((&fp.responses - &reference.responses).amax() < 1e-10);
        // Every example reaches the same margin μ* (docs/theory.md §4.2).
        let mu = fp.margins[0];
        assert!(fp.margins.iter().all(|m| (m - mu).abs() < 1e-9));
        // And the flow from 0 gets there too (the slowest mode relaxes at rate ~ s_r²(λ + σ'(μ*))).
        let sol = primal_flow(
            &d,
            &DVector::zeros(6),
            &FlowOptions::new(1e6, 3, 1e-8, 1e-10, FlowMethod::Auto).unwrap(),
        )
        .unwrap();
        assert!(
            (DVector::from_column_slice(sol.states.last().unwrap()) - &fp.responses).amax() < 1e-6
        );
    }
}

#[test]
fn squared_loss_flow_reaches_its_closed_form() {
    // docs/theory.md §4.3: z_j* = s_j²(Uᵀ1)_j/(s_j² + λ).
    let sys = FeatureSystem::random(5, Spectrum::Geometric { from: 2.0, to: 0.5 }, 2).unwrap();
    let lambda = 0.1;
    let d = PrimalDynamics::new(&sys, Loss::Squared, Regulariser::L2 { lambda }).unwrap();
    let fp = steady_state(&d).unwrap();
    let ones = sys.coupling_column_sums();
    for j in 0..5 {
        let s2 = sys.strengths()[j].powi(2);
        assert!((fp.responses[j] - s2 * ones[j] / (s2 + lambda)).abs() < 1e-12);
    }
}

#[test]
fn unstable_learning_rate_is_rejected_and_divergence_reported() {
    let sys = paper_toy(6.0);
    let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
    let bound = d.curvature_bound(); // λ + s₁²/4 = 9.01
    assert!((bound - 9.01).abs() < 1e-12);
    let err = gradient_descent(&d, &DVector::zeros(2), &gd(2.5 / bound, 10, 2)).unwrap_err();
    assert!(err.to_string().contains("unstable"), "{err}");
    // Squared loss, far beyond the bound: the run diverges and says so.
    let d = PrimalDynamics::new(&sys, Loss::Squared, Regulariser::L2 { lambda: 0.01 }).unwrap();
    let opts = GdOptions::new(1.0, 5000, 5001, true).unwrap();
    let err = gradient_descent(&d, &DVector::zeros(2), &opts).unwrap_err();
    assert!(err.to_string().contains("diverged"), "{err}");
}

/// The benchmark system of size n (`gstarve system --random n --seed 1 --spectrum 10:0.1`,
/// docs/benchmarks.md).
fn benchmark_system(n: usize) -> FeatureSystem {
    FeatureSystem::random(
        n,
        Spectrum::Geometric {
            from: 10.0,
            to: 0.1,
        },
        1,
    )
    .unwrap()
}

/// Its benchmark dynamics: logistic loss, L2 with λ = 0.01.
fn benchmark_dynamics(sys: &FeatureSystem) -> PrimalDynamics<'_> {
    PrimalDynamics::new(sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap()
}

/// The benchmark's flow options: τ ∈ [0, 1000], 1001 output points.
fn benchmark_options(rtol: f64, atol: f64, method: FlowMethod) -> FlowOptions {
    FlowOptions::new(1000.0, 1001, rtol, atol, method).unwrap()
}

/// SciPy's trajectory errors on the benchmark flow at n = 2 (λ = 0.01, τ ∈ [0, 1000], 1001
/// points, rtol 1e-8, atol 1e-10, z₀ = 0; max over the grid of |z − z_ref|): `solve_ivp` with
/// LSODA and the analytic Jacobian, and with DOP853, measured with `benches/compare_scipy.py`
/// (docs/benchmarks.md, "Flow").
const SCIPY_LSODA_ERROR_N2: f64 = 1.1e-7;
const SCIPY_DOP853_ERROR_N2: f64 = 5.9e-6;

/// The automatic flow at n = 2 is at least as accurate as SciPy's methods at the same
/// tolerances, against an independent tight reference (Rodas4 at rtol 1e-12; it agrees with BDF
/// and DP45 at rtol 1e-12 to 4e-10), with room to spare (0.6 of LSODA's error); so are the
/// forced implicit methods, which integrate the margins at `MARGIN_TOL_SCALE` times the
/// tolerances (docs/theory.md §12.3). The errors: docs/benchmarks.md, "Solver tuning
/// measurements (moved from the code)", DP45.
#[test]
fn auto_flow_at_n2_is_no_less_accurate_than_scipy() {
    let sys = benchmark_system(2);
    let d = benchmark_dynamics(&sys);
    let options = benchmark_options;
    let z0 = DVector::zeros(2);
    let ours = primal_flow(&d, &z0, &options(1e-8, 1e-10, FlowMethod::Auto)).unwrap();
    let reference = primal_flow(&d, &z0, &options(1e-12, 1e-14, FlowMethod::Rodas4)).unwrap();
    let err = trajectory_error(&ours, &reference);
    println!("n = 2 auto flow error {err:.2e} (SciPy LSODA {SCIPY_LSODA_ERROR_N2:.1e})");
    assert!(
        err <= SCIPY_LSODA_ERROR_N2.min(SCIPY_DOP853_ERROR_N2),
        "error {err:.2e}"
    );
    assert!(err < 0.6 * SCIPY_LSODA_ERROR_N2, "error {err:.2e}");
    for method in [FlowMethod::Bdf, FlowMethod::Rodas4] {
        let forced = primal_flow(&d, &z0, &options(1e-8, 1e-10, method)).unwrap();
        let err = trajectory_error(&forced, &reference);
        assert!(
            err < 0.6 * SCIPY_LSODA_ERROR_N2,
            "{method:?}: error {err:.2e}"
        );
    }
}

/// SciPy's LSODA error on the same benchmark flow at n = 3 (`--random 3 --seed 1`), against a
/// Rodas4 reference at rtol 1e-12, measured the same way.
const SCIPY_LSODA_ERROR_N3: f64 = 1.9e-7;

/// The automatic flow at n = 3 holds the error in z below SciPy's LSODA's, with room to spare,
/// whichever method it takes (DP45 finds this flow stiff late; what runs after it must
/// integrate the margins at `MARGIN_TOL_SCALE` times the tolerances like every margin
/// integration, docs/theory.md §12.3).
#[test]
fn auto_flow_at_n3_is_no_less_accurate_than_scipy() {
    let sys = benchmark_system(3);
    let d = benchmark_dynamics(&sys);
    let options = benchmark_options;
    let z0 = DVector::zeros(3);
    let ours = primal_flow(&d, &z0, &options(1e-8, 1e-10, FlowMethod::Auto)).unwrap();
    let reference = primal_flow(&d, &z0, &options(1e-12, 1e-14, FlowMethod::Rodas4)).unwrap();
    let err = trajectory_error(&ours, &reference);
    println!("n = 3 auto flow error {err:.2e} (SciPy LSODA {SCIPY_LSODA_ERROR_N3:.1e})");
    assert!(err < 0.6 * SCIPY_LSODA_ERROR_N3, "error {err:.2e}");
}

/// SciPy's best trajectory errors at n = 10 and n = 100 on the same benchmark flow (LSODA with
/// the analytic Jacobian, its fastest method there), from the same `compare_scipy.py` runs
/// (docs/benchmarks.md, "Flow").
const SCIPY_LSODA_ERROR_N10: f64 = 9.3e-7;
const SCIPY_LSODA_ERROR_N100: f64 = 7.2e-8;

/// The automatic flow at n = 10 and 100 (on the margins, at `MARGIN_TOL_SCALE` times the
/// requested tolerances) is at least as accurate in z as SciPy's LSODA at the same rtol/atol,
/// against an independent Rodas4 reference at rtol 1e-11.
#[test]
fn auto_flow_at_n10_and_n100_is_no_less_accurate_than_scipy() {
    for (n, scipy) in [(10, SCIPY_LSODA_ERROR_N10), (100, SCIPY_LSODA_ERROR_N100)] {
        let sys = benchmark_system(n);
        let d = benchmark_dynamics(&sys);
        let options = benchmark_options;
        let z0 = DVector::zeros(n);
        let ours = primal_flow(&d, &z0, &options(1e-8, 1e-10, FlowMethod::Auto)).unwrap();
        let reference = primal_flow(&d, &z0, &options(1e-11, 1e-13, FlowMethod::Rodas4)).unwrap();
        let err = trajectory_error(&ours, &reference);
        println!("n = {n} auto flow error {err:.2e} (SciPy LSODA {scipy:.1e})");
        assert!(
            err <= scipy,
            "n = {n}: error {err:.2e} > SciPy's {scipy:.1e}"
        );
    }
}

/// The hand-written BDF (`--method bdf`) agrees with Rodas4 (an independent one-step method)
/// on the benchmark flow at n = 2, 10 and 100 at a tight tolerance.
#[test]
fn bdf_agrees_with_rodas4_on_the_benchmark_flows() {
    for n in [2, 10, 100] {
        let sys = benchmark_system(n);
        let d = benchmark_dynamics(&sys);
        let options = |method| FlowOptions::new(1000.0, 101, 1e-10, 1e-12, method).unwrap();
        let z0 = DVector::zeros(n);
        let ours = primal_flow(&d, &z0, &options(FlowMethod::Bdf)).unwrap();
        assert_eq!(ours.stats.solver, "bdf");
        let other = primal_flow(&d, &z0, &options(FlowMethod::Rodas4)).unwrap();
        let err = trajectory_error(&ours, &other);
        assert!(err < 1e-7, "n = {n}: bdf vs rodas4: {err:.2e}");
    }
}
