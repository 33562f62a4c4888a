//! One small flow, repeated: the cost per flow at n = 2 (issue #17's system: Haar coupling,
//! s = (10, 0.1), λ = 0.01, τ ≤ 1000, 1001 points, rtol 1e-8, atol 1e-10), for profilers
//! (`valgrind --tool=callgrind target/release/examples/small_flow 200`).

use gstarve_core::model::{Loss, PrimalDynamics, Regulariser};
use gstarve_core::ode::{FlowMethod, FlowOptions};
use gstarve_core::solvers::flow::primal_flow;
use gstarve_core::systems::{FeatureSystem, Spectrum};
use nalgebra::DVector;

fn main() {
    let repeats: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2);
    let system = FeatureSystem::random(
        n,
        Spectrum::Geometric {
            from: 10.0,
            to: 0.1,
        },
        1,
    )
    .expect("a valid system");
    let dynamics = PrimalDynamics::new(&system, Loss::Logistic, Regulariser::L2 { lambda: 0.01 })
        .expect("valid dynamics");
    let options = FlowOptions::new(1000.0, 1001, 1e-8, 1e-10, FlowMethod::Auto).expect("options");
    let z0 = DVector::zeros(n);
    let start = std::time::Instant::now();
    let mut last = 0.0;
    for _ in 0..repeats {
        let sol = primal_flow(&dynamics, &z0, &options).expect("the flow");
        last = sol.states[sol.states.len() - 1][0];
    }
    let per = start.elapsed().as_secs_f64() / repeats as f64;
    println!("n = {n}: {:.1} µs per flow (z1(1000) = {last})", per * 1e6);
}
