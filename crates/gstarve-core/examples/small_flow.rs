//! One small flow, repeated: the cost per flow (issue #17's system: Haar coupling, geometric
//! strengths s from 10 to 0.1, λ = 0.01, τ ≤ 1000, 1001 points, rtol 1e-8, atol 1e-10), for
//! profilers (`valgrind --tool=callgrind target/release/examples/small_flow 200`) and for the
//! JAX comparison (`benches/compare_jax.py`).
//!
//! Usage: `small_flow [REPEATS] [N] [SEED] [OUT.json|-] [METHOD] [RTOL]` (METHOD as `--method`,
//! default auto; RTOL default 1e-8, with atol = RTOL / 100, as the 1e-8 and 1e-10; other
//! RTOLs serve the work-precision comparison of `compare_jax.py --work-precision`). With OUT,
//! writes the system (s, U
//! row-major), the grid, the responses z on it, the solver's counts and the time per flow
//! (median of 7 batches of REPEATS/7 flows) as JSON.

use gstarve_core::model::{Loss, PrimalDynamics, Regulariser};
use gstarve_core::ode::{FlowMethod, FlowOptions};
use gstarve_core::solvers::flow::primal_flow;
use gstarve_core::systems::{FeatureSystem, Spectrum};
use nalgebra::DVector;

fn arg<T: std::str::FromStr>(k: usize, default: T) -> T {
    std::env::args()
        .nth(k)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let repeats: usize = arg(1, 1000);
    let n: usize = arg(2, 2);
    let seed: u64 = arg(3, 1);
    let out: Option<String> = std::env::args().nth(4).filter(|p| p != "-");
    let method: FlowMethod = arg(5, FlowMethod::Auto);
    let rtol: f64 = arg(6, 1e-8);
    let system = FeatureSystem::random(
        n,
        Spectrum::Geometric {
            from: 10.0,
            to: 0.1,
        },
        seed,
    )
    .expect("a valid system");
    let dynamics = PrimalDynamics::new(&system, Loss::Logistic, Regulariser::L2 { lambda: 0.01 })
        .expect("valid dynamics");
    let options = FlowOptions::new(1000.0, 1001, rtol, rtol * 1e-2, method).expect("options");
    let z0 = DVector::zeros(n);
    let batches = 7;
    let per_batch = repeats.div_ceil(batches).max(1);
    let mut times = Vec::with_capacity(batches);
    let mut sol = primal_flow(&dynamics, &z0, &options).expect("the flow");
    for _ in 0..batches {
        let start = std::time::Instant::now();
        for _ in 0..per_batch {
            sol = primal_flow(&dynamics, &z0, &options).expect("the flow");
        }
        times.push(start.elapsed().as_secs_f64() / per_batch as f64);
    }
    times.sort_by(f64::total_cmp);
    let per = times[batches / 2];
    let last = sol.states[sol.states.len() - 1][0];
    println!(
        "n = {n}: {:.1} µs per flow ({}; {} evaluations, {} steps; z1(1000) = {last})",
        per * 1e6,
        sol.stats.solver,
        sol.stats.rhs_evals,
        sol.stats.steps_accepted + sol.stats.steps_rejected
    );
    if let Some(path) = out {
        let u = system.coupling();
        let json = serde_json::json!({
            "n": n,
            "seed": seed,
            "s": system.strengths().as_slice(),
            "u": (0..n).map(|i| (0..n).map(|j| u[(i, j)]).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "lambda": 0.01,
            "rtol": rtol,
            "atol": rtol * 1e-2,
            "tau": sol.tau,
            "z": sol.states.iter().map(<[f64]>::to_vec).collect::<Vec<_>>(),
            "solver": sol.stats.solver,
            "rhs_evals": sol.stats.rhs_evals,
            "steps": sol.stats.steps_accepted + sol.stats.steps_rejected,
            "per_flow_s": per,
            "batch_times_s": times,
        });
        std::fs::write(&path, json.to_string()).expect("writing the JSON");
    }
}
