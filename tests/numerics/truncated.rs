//! Truncated systems, n × r with r ≪ n (docs/theory.md §8.7): the z-space flow and fixed point
//! on the n × r coupling against the margin form, which forms the n × n kernel K = U S² Uᵀ.

use gstarve_core::model::{Loss, MarginFlow, PrimalDynamics, Regulariser};
use gstarve_core::ode::{FlowMethod, FlowOptions};
use gstarve_core::solvers::auto;
use gstarve_core::solvers::flow::primal_flow;
use gstarve_core::solvers::steady::steady_state;
use gstarve_core::systems::{FeatureSystem, Spectrum};
use nalgebra::DVector;

fn top_system() -> FeatureSystem {
    let spectrum = Spectrum::Geometric {
        from: 10.0,
        to: 0.1,
    };
    FeatureSystem::random_top(300, 10, spectrum, 4).unwrap().0
}

/// The flow of z (dimension r = 10, what `primal_flow` integrates when 2r < n) and the flow of
/// the margins m = Uz (dimension n = 300, through K), mapped back by z = Uᵀm, agree.
#[test]
fn z_flow_equals_the_margin_flow_through_k() {
    let sys = top_system();
    let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.05 }).unwrap();
    let options = FlowOptions::new(20.0, 21, 1e-10, 1e-12, FlowMethod::Auto).unwrap();
    let z0 = DVector::zeros(10);
    let z_flow = primal_flow(&d, &z0, &options).unwrap();
    let mut m_flow = auto::integrate(&MarginFlow::new(&d), &vec![0.0; 300], &options).unwrap();
    m_flow.left_multiply_states(sys.coupling(), true);
    let scale = z_flow
        .states
        .iter()
        .flatten()
        .fold(1.0, |m: f64, v| m.max(v.abs()));
    let gap = z_flow
        .states
        .iter()
        .zip(m_flow.states.iter())
        .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
        .fold(0.0, crate::nan_max);
    assert!(gap < 1e-7 * scale, "gap {gap:e}, scale {scale:e}");
    assert!(scale > 1.0, "the flow moved: {scale}");
}

/// The z-space Newton fixed point on the 300 × 10 coupling satisfies the margin form
/// m* = λ⁻¹ K σ(−m*) with the n × n kernel K, and leaves the dropped directions at zero.
#[test]
fn fixed_point_satisfies_the_margin_form() {
    let sys = top_system();
    let lambda = 0.05;
    let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda }).unwrap();
    let fp = steady_state(&d).unwrap();
    let k = sys.gram();
    let sigma = fp.margins.map(|m| 1.0 / (1.0 + m.exp()));
    let residual = (&fp.margins - &k * sigma / lambda).amax();
    assert!(
        residual < 1e-9 * fp.margins.amax(),
        "residual {residual:e} of {:e}",
        fp.margins.amax()
    );
    // The margins lie in the span of the kept features: m* = U Uᵀ m*.
    let projected = sys.coupling() * sys.coupling().tr_mul(&fp.margins);
    assert!((&projected - &fp.margins).amax() < 1e-10 * fp.margins.amax());
}
