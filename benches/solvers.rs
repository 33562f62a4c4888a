//! Benchmarks of the core solvers on the systems of the SciPy comparison (docs/benchmarks.md):
//! Haar-random couplings (seed 1), geometric spectrum 10 → 0.1, λ = 0.01, τ ∈ [0, 1000],
//! 1001 output points, rtol 1e-8, atol 1e-10. `gstarve system --random N --seed 1` writes the
//! same systems for `scipy_baseline.py`. Run: `cargo bench --bench solvers`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gstarve_core::model::{symmetric_product, Loss, PrimalDynamics, Regulariser};
use gstarve_core::ode::{FlowMethod, FlowOptions};
use gstarve_core::solvers::flow::primal_flow;
use gstarve_core::solvers::gd::{gradient_descent, GdOptions};
use gstarve_core::solvers::steady::steady_state;
use gstarve_core::systems::{FeatureSystem, Spectrum};
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
        let opts = FlowOptions::new(1000.0, 1001, 1e-8, 1e-10, FlowMethod::Auto).unwrap();
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
        let opts = FlowOptions::new(1000.0, 1001, 1e-8, 1e-10, method).unwrap();
        g.bench_function(name, |b| b.iter(|| primal_flow(&d, &z0, &opts).unwrap()));
    }
    g.finish();
}

/// Rodas4 against BDF on the two-feature rotation system s = (10, 0.1), δ = 0.6 (the third
/// system of the Rodas4 measurements in docs/benchmarks.md, "Solver tuning measurements").
fn flow_rotation(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_n2_rotation_methods");
    g.sample_size(20);
    let sys = FeatureSystem::rotation(10.0, 0.1, 0.6).unwrap();
    let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
    let z0 = DVector::zeros(2);
    for (name, method) in [("rodas4", FlowMethod::Rodas4), ("bdf", FlowMethod::Bdf)] {
        let opts = FlowOptions::new(1000.0, 1001, 1e-8, 1e-10, method).unwrap();
        g.bench_function(name, |b| b.iter(|| primal_flow(&d, &z0, &opts).unwrap()));
    }
    g.finish();
}

/// The hand-written BDF against Rodas4 at n = 100 and 1000 (Auto picks the former there; the
/// comparison with diffsol's BDF, before it was removed, is in docs/benchmarks.md).
fn flow_bdf(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_bdf_methods");
    g.sample_size(10);
    for n in [100, 1000] {
        let sys = system(n);
        let d =
            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let z0 = DVector::zeros(n);
        for (name, method) in [("bdf", FlowMethod::Bdf), ("rodas4", FlowMethod::Rodas4)] {
            let opts = FlowOptions::new(1000.0, 1001, 1e-8, 1e-10, method).unwrap();
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| primal_flow(&d, &z0, &opts).unwrap())
            });
        }
    }
    g.finish();
}

/// The flow at n = 1000 with RKC at a loose tolerance (where the automatic choice uses it).
fn flow_rkc(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_tau1000_1001pts_rtol1e-6");
    g.sample_size(10);
    let sys = system(1000);
    let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
    let z0 = DVector::zeros(1000);
    for method in [FlowMethod::Rkc, FlowMethod::Dopri5] {
        let opts = FlowOptions::new(1000.0, 1001, 1e-6, 1e-8, method).unwrap();
        if primal_flow(&d, &z0, &opts).is_err() {
            continue; // Dopri5 by name stops when it detects stiffness.
        }
        g.bench_function(format!("{method:?}"), |b| {
            b.iter(|| primal_flow(&d, &z0, &opts).unwrap())
        });
    }
    g.finish();
}

/// y = K x at n = 1000 (one flow evaluation's work): the lower-triangle kernel against faer's
/// full product, sequential and on all cores.
fn kernel(c: &mut Criterion) {
    let mut g = c.benchmark_group("gram_product");
    for n in [300, 1000] {
        let k = system(n).gram();
        let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let mut y = vec![0.0; n];
        g.bench_with_input(BenchmarkId::new("symmetric", n), &n, |b, _| {
            b.iter(|| symmetric_product(k.as_slice(), &x, &mut y))
        });
        for (name, par) in [
            ("faer_seq", faer::Par::Seq),
            ("faer_par", faer::Par::rayon(0)),
        ] {
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    let a = faer::MatRef::from_column_major_slice(k.as_slice(), n, n);
                    faer::linalg::matmul::matmul(
                        faer::ColMut::from_slice_mut(&mut y),
                        faer::Accum::Replace,
                        a,
                        faer::ColRef::from_slice(&x),
                        1.0,
                        par,
                    )
                })
            });
        }
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
        let opts = GdOptions::new(1e-3, steps, 2, false).unwrap();
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

criterion_group!(
    benches,
    kernel,
    flow,
    flow_small,
    flow_rotation,
    flow_bdf,
    flow_rkc,
    gd,
    steady
);
criterion_main!(benches);
