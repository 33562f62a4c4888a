//! Benchmarks of the core solvers on the systems of the SciPy comparison (issue: core solver):
//! Haar-random couplings (seed 1), geometric spectrum 10 → 0.1, λ = 0.01, τ ∈ [0, 1000],
//! 1001 output points, rtol 1e-8, atol 1e-10. `gstarve system --random N --seed 1` writes the
//! same systems for `scipy_baseline.py`. Run: `cargo bench --bench solvers`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gstarve::dynamics::{Loss, PrimalDynamics, Regulariser};
use gstarve::solvers::flow::primal_flow;
use gstarve::solvers::gd::{gradient_descent, GdOptions};
use gstarve::solvers::steady::steady_state;
use gstarve::solvers::{FlowMethod, FlowOptions};
use gstarve::systems::{FeatureSystem, Spectrum};
use nalgebra::DVector;

fn system(n: usize) -> FeatureSystem {
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

fn flow(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_tau1000_1001pts");
    g.sample_size(10);
    for n in [2, 10, 100, 1000] {
        let sys = system(n);
        let d =
            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let opts = FlowOptions {
            t_end: 1000.0,
            points: 1001,
            rtol: 1e-8,
            atol: 1e-10,
            ..Default::default()
        };
        let z0 = DVector::zeros(n);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| primal_flow(&d, &z0, &opts).unwrap())
        });
    }
    g.finish();
}

/// The small-n methods side by side on the n = 2 flow (auto picks DP45 there).
fn flow_small(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_n2_methods");
    g.sample_size(20);
    let sys = system(2);
    let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
    let z0 = DVector::zeros(2);
    for (name, method) in [
        ("dp45", FlowMethod::Dp45),
        ("rodas4", FlowMethod::Rodas4),
        ("bdf", FlowMethod::Bdf),
    ] {
        let opts = FlowOptions {
            t_end: 1000.0,
            points: 1001,
            rtol: 1e-8,
            atol: 1e-10,
            method,
        };
        g.bench_function(name, |b| b.iter(|| primal_flow(&d, &z0, &opts).unwrap()));
    }
    g.finish();
}

fn gd(c: &mut Criterion) {
    let mut g = c.benchmark_group("gd_10000_steps");
    g.sample_size(10);
    for n in [2, 10, 100, 1000] {
        let sys = system(n);
        let d =
            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let steps = if n >= 1000 { 1000 } else { 10_000 };
        let opts = GdOptions {
            eta: 1e-3,
            steps,
            points: 2,
            allow_unstable: false,
        };
        let z0 = DVector::zeros(n);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| gradient_descent(&d, &z0, &opts).unwrap())
        });
    }
    g.finish();
}

fn steady(c: &mut Criterion) {
    let mut g = c.benchmark_group("steady_state");
    for n in [2, 10, 100] {
        let sys = system(n);
        let d =
            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| steady_state(&d).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, flow, flow_small, gd, steady);
criterion_main!(benches);
