//! The large-n path: the symmetric Gram kernel inside gradient descent and the flow, RKC, and
//! the automatic choice above n = 200, against independent computations.

use gstarve_core::model::{Loss, PrimalDynamics, Regulariser};
use gstarve_core::ode::{FlowMethod, FlowOptions, Trajectory};
use gstarve_core::solvers::auto::{AUTO_BDF_MAX_DIM, AUTO_IMPLICIT_MAX_DIM, AUTO_RKC_MIN_RTOL};
use gstarve_core::solvers::flow::{primal_flow, MARGIN_TOL_SCALE};
use gstarve_core::solvers::gd::{gradient_descent, gradient_descent_parameters, GdOptions};
use gstarve_core::systems::{FeatureSystem, Spectrum};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};

fn random_system(n: usize, seed: u64) -> FeatureSystem {
    FeatureSystem::random(
        n,
        Spectrum::Geometric {
            from: 10.0,
            to: 0.1,
        },
        seed,
    )
    .unwrap()
}

fn l2(sys: &FeatureSystem) -> PrimalDynamics<'_> {
    PrimalDynamics::new(sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap()
}

fn max_gap(a: &Trajectory, b: &Trajectory) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            x.iter()
                .zip(y)
                .fold(0.0, |m, (p, q)| crate::nan_max(m, (p - q).abs()))
        })
        .fold(0.0, crate::nan_max)
}

/// GD in margin space with the lower-triangle kernel (n = 300 sequential, n = 420 split over two
/// threads) equals GD on the parameters θ, which never forms K, to rounding error.
#[test]
fn margin_gd_with_the_symmetric_kernel_equals_theta_gd() {
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(9);
    for n in [300, 420] {
        let phi = DMatrix::from_fn(n, n, |_, _| rng.random_range(-1.0..1.0) / (n as f64).sqrt());
        let labels: Vec<f64> = (0..n).map(|i| if i % 3 == 0 { 0.0 } else { 1.0 }).collect();
        let sys = FeatureSystem::from_features(&phi, &labels).unwrap();
        let d = l2(&sys);
        let opts = GdOptions::new(0.5 / d.curvature_bound(), 200, 5, false).unwrap();
        let z = gradient_descent(&d, &DVector::zeros(n), &opts).unwrap();
        let (theta, _) = gradient_descent_parameters(
            &sys,
            &phi,
            &labels,
            Loss::Logistic,
            Regulariser::L2 { lambda: 0.01 },
            &opts,
        )
        .unwrap();
        let scale = DVector::from_column_slice(z.states.last().unwrap())
            .amax()
            .max(1.0);
        let gap = max_gap(&z.states, &theta.states);
        assert!(gap < 1e-10 * scale, "n = {n}: {gap:.2e}");
    }
}

/// RKC selected by name on a stiff random system (n = 400, ρ ≈ 25, τ ∈ [0, 100]) agrees with a
/// tight reference (BDF at rtol 1e-12), within its second-order accuracy.
#[test]
fn rkc_by_name_agrees_with_a_tight_reference() {
    let sys = random_system(400, 3);
    let d = l2(&sys);
    let z0 = DVector::zeros(400);
    let opts = |rtol: f64, method| FlowOptions::new(100.0, 51, rtol, rtol * 1e-2, method).unwrap();
    let reference = primal_flow(&d, &z0, &opts(1e-12, FlowMethod::Bdf)).unwrap();
    let method: FlowMethod = "rkc".parse().unwrap();
    let sol = primal_flow(&d, &z0, &opts(1e-8, method)).unwrap();
    assert_eq!(sol.stats.solver, "rkc");
    let gap = max_gap(&sol.states, &reference.states);
    assert!(gap < 3.0 * 1e-8_f64.powf(2.0 / 3.0), "{gap:.2e}");
    assert!(gap > 0.0);
}

/// The automatic choice above n = AUTO_IMPLICIT_MAX_DIM is accurate at every tolerance,
/// whichever method it takes: at n = 250 (rtol at the RKC threshold, looser, tighter) and above
/// AUTO_BDF_MAX_DIM at a loose rtol, within rtol·(1 + ‖z‖∞) of a Dopri5 run (rtol 1e-12; 1e-9 above AUTO_BDF_MAX_DIM) at every
/// output point (measured: at most a fifth of that). An unknown method name lists the known
/// ones.
#[test]
fn auto_above_n200_is_accurate_at_loose_and_tight_tolerances() {
    // primal_flow integrates the margins at MARGIN_TOL_SCALE times the requested tolerances.
    let threshold = AUTO_RKC_MIN_RTOL / MARGIN_TOL_SCALE;
    let opts = |t_end, rtol, atol, method| FlowOptions::new(t_end, 3, rtol, atol, method).unwrap();
    // One tight Dopri5 reference per (n, τ), shared by the tolerances checked against it.
    let check = |n: usize, rtols: &[f64], t_end: f64, reference_rtol: f64| {
        let sys = random_system(n, 1);
        let d = l2(&sys);
        let z0 = DVector::zeros(n);
        let tight = primal_flow(
            &d,
            &z0,
            &opts(
                t_end,
                reference_rtol,
                reference_rtol * 1e-2,
                FlowMethod::Dopri5,
            ),
        )
        .unwrap();
        let scale = tight
            .states
            .iter()
            .flatten()
            .fold(0.0, |m: f64, v| m.max(v.abs()));
        for &rtol in rtols {
            let auto = primal_flow(&d, &z0, &opts(t_end, rtol, 1e-10, FlowMethod::Auto)).unwrap();
            let gap = max_gap(&auto.states, &tight.states);
            println!(
                "n = {n}, rtol {rtol:e}: {} error {gap:.2e} = {:.2e}·rtol·(1 + ‖z‖)",
                auto.stats.solver,
                gap / (rtol * (1.0 + scale))
            );
            assert!(
                gap <= rtol * (1.0 + scale),
                "n = {n}, rtol {rtol:e}: error {gap:.2e}, ‖z‖∞ = {scale:.2}"
            );
        }
    };
    const N: usize = 250;
    const { assert!(N > AUTO_IMPLICIT_MAX_DIM) };
    check(N, &[threshold, 1e-5, 1e-8], 20.0, 1e-12);
    // At n = 2001 a 1e-9 reference is 1e-4 of the tolerance checked and 3× cheaper than 1e-12.
    check(AUTO_BDF_MAX_DIM + 1, &[1e-5], 0.5, 1e-9);
    let err = "rk4".parse::<FlowMethod>().unwrap_err();
    assert!(err.contains("rkc"), "{err}");
}
