use nalgebra::{DMatrix, DVector};

use super::*;
use crate::model::{Loss, PrimalDynamics};
use crate::ode::{FlowMethod, FlowOptions};
use crate::solvers::gd::GdOptions;
use crate::solvers::softmax_flow::{softmax_flow, softmax_gradient_descent};
use crate::solvers::steady::{sd_margin, steady_state};
use crate::systems::multiclass::random_multiclass;
use crate::systems::{FeatureSystem, MulticlassSystem, Spectrum};

fn solve(sys: &MulticlassSystem, reg: Regulariser) -> SoftmaxSteadyState {
    let d = SoftmaxDynamics::new(sys, reg).unwrap();
    softmax_steady_state(&d, &NewtonParams::default()).unwrap()
}

#[test]
fn newton_reaches_a_zero_of_the_flow() {
    let sys = random_multiclass(5, 4, 12, 3);
    for reg in [
        Regulariser::L2 { lambda: 0.05 },
        Regulariser::SpectralDecoupling { lambda: 0.02 },
    ] {
        let d = SoftmaxDynamics::new(&sys, reg).unwrap();
        let fp = softmax_steady_state(&d, &NewtonParams::default()).unwrap();
        let z = &fp.responses;
        assert!(
            fp.residual <= 1e-12 * z.amax().max(1.0),
            "{reg:?} {}",
            fp.residual
        );
        assert!(fp.iterations < 30);
        assert!((softmax_fixed_point_residual(&d, z) - fp.residual).abs() < 1e-12);
        // Rows of P sum to 1, and the logits are U z.
        for i in 0..sys.examples() {
            assert!((fp.probabilities.row(i).sum() - 1.0).abs() < 1e-14);
        }
        let f = d.logits(z);
        assert!((fp.logits[(2, 1)] - f[2 * 4 + 1]).abs() < 1e-15);
    }
    let d = SoftmaxDynamics::new(&sys, Regulariser::None).unwrap();
    assert!(matches!(
        softmax_steady_state(&d, &NewtonParams::default()),
        Err(Error::Input(InputError::NoSteadyState))
    ));
}

/// docs/theory.md §9.4: the binary steady state is √2 times the image's; under SD the image at
/// 2λ has the binary SD margin μ* of λ (the scalar root of λμ(1 + e^μ) = 1, r = n).
#[test]
fn the_binary_reduction_holds_at_the_steady_state() {
    let root2 = std::f64::consts::SQRT_2;
    let binary = FeatureSystem::random(6, Spectrum::Geometric { from: 5.0, to: 0.4 }, 2).unwrap();
    let signs = [1.0, 1.0, -1.0, 1.0, -1.0, -1.0];
    let image = MulticlassSystem::binary_image(&binary, Some(&signs)).unwrap();
    let lambda = 0.01;
    let bin = steady_state(
        &PrimalDynamics::new(&binary, Loss::Logistic, Regulariser::L2 { lambda }).unwrap(),
    )
    .unwrap();
    let mc = solve(&image, Regulariser::L2 { lambda });
    let gap = (&mc.responses * root2 - &bin.responses).amax();
    assert!(gap < 1e-10 * bin.responses.amax(), "L2: {gap:e}");
    let margins = mc.margins(image.labels());
    assert!((margins - &bin.margins).amax() < 1e-10 * bin.margins.amax());

    let (mu, _) = sd_margin(lambda).unwrap();
    let mc = solve(
        &image,
        Regulariser::SpectralDecoupling {
            lambda: 2.0 * lambda,
        },
    );
    let closed = binary.coupling_column_sums() * mu;
    let gap = (&mc.responses * root2 - &closed).amax();
    assert!(gap < 1e-10 * closed.amax(), "SD: {gap:e}");
}

/// The flow from 0 for 40 relaxation times (rate ≥ λ) ends at the Newton steady state; GD
/// approaches the flow at first order in η.
#[test]
fn flow_ends_at_the_steady_state_and_gd_converges_to_the_flow() {
    let sys = random_multiclass(4, 3, 10, 8);
    let lambda = 0.1;
    let reg = Regulariser::L2 { lambda };
    let d = SoftmaxDynamics::new(&sys, reg).unwrap();
    let fp = softmax_steady_state(&d, &NewtonParams::default()).unwrap();
    let z0 = DVector::zeros(10);
    let options = FlowOptions::new(40.0 / lambda, 2, 1e-10, 1e-12, FlowMethod::Auto).unwrap();
    let sol = softmax_flow(&d, &z0, &options).unwrap();
    let end = DVector::from_column_slice(sol.states.last().unwrap());
    let gap = (&end - &fp.responses).amax();
    assert!(gap < 1e-7 * fp.responses.amax(), "flow vs Newton {gap:e}");

    let t_end = 4.0;
    let flow = softmax_flow(
        &d,
        &z0,
        &FlowOptions::new(t_end, 2, 1e-12, 1e-14, FlowMethod::Auto).unwrap(),
    )
    .unwrap();
    let exact = DVector::from_column_slice(flow.states.last().unwrap());
    let gd_error = |eta: f64| {
        let steps = (t_end / eta).round() as usize;
        let gd = softmax_gradient_descent(&d, &z0, &GdOptions::new(eta, steps, 2, false).unwrap())
            .unwrap();
        (DVector::from_column_slice(gd.states.last().unwrap()) - &exact).amax()
    };
    let errors = [0.04, 0.02, 0.01].map(gd_error);
    for w in errors.windows(2) {
        let ratio = w[1] / w[0];
        assert!((0.45..0.55).contains(&ratio), "{errors:?}");
    }
    // Stability: η(λ + s₁²/2) ≥ 2 is refused.
    let bound = d.curvature_bound();
    let unstable = GdOptions::new(2.0 / bound * 1.01, 10, 2, false).unwrap();
    assert!(matches!(
        softmax_gradient_descent(&d, &z0, &unstable),
        Err(Error::Input(InputError::UnstableStep { .. }))
    ));
}

/// The inexact Newton steps (diagonally preconditioned conjugate gradients, no Hessian formed)
/// end where Newton with factorised Hessians ends, to rounding: the same stopping test on the
/// true residual, at n = 30, c = 5, r = 150 with strengths 10 … 0.1 (the benchmark's system in
/// small).
#[test]
fn inexact_newton_agrees_with_factorised_newton() {
    let spectrum = Spectrum::Geometric {
        from: 10.0,
        to: 0.1,
    };
    let (system, _) = FeatureSystem::random_top(150, 150, spectrum, 7).unwrap();
    let sys = MulticlassSystem::new(system, 5, (0..30).map(|i| i % 5).collect()).unwrap();
    for reg in [
        Regulariser::L2 { lambda: 0.01 },
        Regulariser::SpectralDecoupling { lambda: 0.01 },
    ] {
        let d = SoftmaxDynamics::new(&sys, reg).unwrap();
        let params = NewtonParams::default();
        // At this size the default budget (16) lets some steps factorise; 10⁴ lets none.
        let default = softmax_steady_state(&d, &params).unwrap();
        let policy = |budget| LinearPolicy {
            budget,
            factor_near: false,
            single: false,
        };
        let inexact = newton(&d, &params, policy(10_000)).unwrap();
        let factorised = newton(&d, &params, policy(0)).unwrap();
        assert_eq!(inexact.work.factorisations, 0, "{reg:?}");
        // Below SINGLE_MIN_ENTRIES every step stays in f64.
        assert_eq!(default.work.single_cg_iterations, 0, "{reg:?}");
        assert!(inexact.work.cg_iterations > 0);
        assert!(factorised.work.factorisations >= 1);
        for fp in [&default, &inexact, &factorised] {
            let scale = fp.responses.amax().max(1.0);
            assert!(fp.residual <= 1e-12 * scale, "{reg:?} {:e}", fp.residual);
            let check = softmax_fixed_point_residual(&d, &fp.responses);
            assert!((check - fp.residual).abs() < 1e-12 * scale);
        }
        for fp in [&default, &inexact] {
            let gap = (&fp.responses - &factorised.responses).amax();
            assert!(
                gap < 1e-12 * factorised.responses.amax(),
                "{reg:?}: {gap:e}"
            );
        }
    }
}

/// From `single::SINGLE_MIN_ENTRIES` entries of U on, the loose steps' Hessian actions and the
/// preconditioning factor are f32 (`single`): the steady state is the all-f64 one to rounding
/// (both stop on the same f64 residual), at n = 120, c = 5, r = 450 (270 000 entries) with
/// strengths 10 … 0.1.
#[test]
fn single_precision_guidance_leaves_the_steady_state_unchanged() {
    let spectrum = Spectrum::Geometric {
        from: 10.0,
        to: 0.1,
    };
    let (system, _) = FeatureSystem::random_top(600, 450, spectrum, 5).unwrap();
    let sys = MulticlassSystem::new(system, 5, (0..120).map(|i| i % 5).collect()).unwrap();
    let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda: 0.01 }).unwrap();
    let params = NewtonParams::default();
    let default = softmax_steady_state(&d, &params).unwrap();
    let double = newton(
        &d,
        &params,
        LinearPolicy {
            budget: jacobi_budget(&d),
            factor_near: true,
            single: false,
        },
    )
    .unwrap();
    assert!(default.work.single_cg_iterations > 0, "{:?}", default.work);
    assert_eq!(double.work.single_cg_iterations, 0);
    for fp in [&default, &double] {
        let scale = fp.responses.amax().max(1.0);
        assert!(fp.residual <= 1e-12 * scale, "{:e}", fp.residual);
        assert!(
            (softmax_fixed_point_residual(&d, &fp.responses) - fp.residual).abs() < 1e-12 * scale
        );
    }
    let gap = (&default.responses - &double.responses).amax();
    assert!(gap < 1e-12 * double.responses.amax(), "{gap:e}");
    assert!(gap > 0.0, "f32 guidance should take another path to z*");
}

/// Too few iterations is reported as a failure with the residual reached, not as a result.
#[test]
fn non_convergence_is_reported() {
    let sys = random_multiclass(30, 5, 150, 7);
    let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda: 0.01 }).unwrap();
    let params = NewtonParams {
        max_iterations: 2,
        ..NewtonParams::default()
    };
    match softmax_steady_state(&d, &params) {
        Err(Error::Numerical(NumericalError::NewtonFailed {
            iterations,
            residual,
        })) => assert!(iterations == 2 && residual > 1e-6, "{residual:e}"),
        other => panic!("{other:?}"),
    }
}

/// `HessianFactor::scaled_inverse` (E and L⁻¹ in one buffer, A⁻¹ in L's, the mirror and the
/// column scaling in one parallel pass) is bit for bit the factor's `inverse_into`, mirrored,
/// with its columns then scaled, at a size where the products run on all cores and the
/// column blocks of the pass are uneven (r = 300 = 9·32 + 12), with E taller than r
/// (n(c − 1) = 320) and shorter (280), and at r = 150 with the products sequential.
#[test]
fn scaled_inverse_is_bit_for_bit_the_inverse_with_scaled_columns() {
    for (n, c, r) in [(80, 5, 300), (70, 5, 300), (35, 5, 150)] {
        let sys = random_multiclass(n, c, r, 11);
        let d = SoftmaxDynamics::new(&sys, Regulariser::L2 { lambda: 0.02 }).unwrap();
        let z = DVector::from_fn(r, |j, _| ((j * 37) % 11) as f64 / 3.0 - 1.5);
        let curvature = d.curvature(&z);
        let free: Vec<usize> = (0..r).collect();
        let weights = DVector::from_fn(r, |j, _| d.penalty_weight(j));
        let scales: Vec<f64> = (0..r).map(|j| (j as f64 - 100.0) / 7.0).collect();
        let mut expected = DMatrix::zeros(r, r);
        HessianFactor::new(&curvature, &free, &weights)
            .unwrap()
            .inverse_into(expected.as_mut_slice());
        for (j, mut column) in expected.column_iter_mut().enumerate() {
            column *= scales[j];
        }
        let got = HessianFactor::scaled_inverse(&curvature, &weights, &scales).unwrap();
        let differing = got
            .iter()
            .zip(expected.iter())
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        assert_eq!(differing, 0, "n = {n}, r = {r}");
        assert!(got[(3, 250.min(r - 1))] != 0.0 && got.amax() > 0.0);
    }
}
