//! Benchmarks of the sweeps: the 256 × 256 starvation phase diagram of docs/theory.md §7.1 (E₂₁
//! over r = s₁/s₂ ∈ [1, 5] × δ ∈ [0.05, 0.95], λ = 0.01, s₂ = 2), against SciPy's fsolve per point
//! (`scipy_baseline.py phase`, about 0.1 ms per point, i.e. 6.5 s for 256²). Target: ≥ 100×
//! faster. Run: `cargo bench --bench sweeps`.
//!
//! Measured on the shared 2-core machine (release): E₂₁ 256² in 12 ms (quiet) to 25 ms (load
//! average 3.5), ρ 256² (two steady states per point) 17–26 ms; one warm-started point with its
//! sensitivity 0.26–0.31 µs, a cold start 0.56–0.70 µs. SciPy in the same session:
//! `scipy_baseline.py phase --grid 128` 1.83 s (0.11 ms per point, ρ), i.e. about 7.3 s for 256²:
//! gstarve is 280–600× faster.

use criterion::{criterion_group, criterion_main, Criterion};
use gstarve_core::sweeps::{
    phase_diagram, rotation_sensitivity, rotation_steady_state, Axis, Grid, Measure, Parameter,
    PhaseDiagramSpec, Progress, RotationFamily,
};
use nalgebra::Vector2;

fn spec(n: usize, measure: Measure) -> PhaseDiagramSpec {
    PhaseDiagramSpec {
        grid: Grid {
            x: Axis::linear(Parameter::Ratio, 1.0, 5.0, n),
            y: Axis::linear(Parameter::Coupling, 0.05, 0.95, n),
            fixed: RotationFamily {
                lambda: 0.01,
                weak_strength: 2.0,
                ..Default::default()
            },
        },
        measure,
        learning: Default::default(),
    }
}

fn phase_diagrams(c: &mut Criterion) {
    let mut g = c.benchmark_group("phase_diagram_256x256");
    g.sample_size(20);
    for measure in [Measure::Elasticity, Measure::StarvationRatio] {
        let s = spec(256, measure);
        g.bench_function(measure.name(), |b| {
            b.iter(|| phase_diagram(&s, Progress::Hidden).unwrap())
        });
    }
    g.finish();
}

fn single_point(c: &mut Criterion) {
    let family = RotationFamily {
        ratio: 3.0,
        coupling: 0.5,
        lambda: 0.01,
        weak_strength: 2.0,
    };
    let cold = rotation_steady_state(&family, Vector2::zeros()).unwrap();
    let next = RotationFamily {
        ratio: 3.0156,
        ..family
    };
    c.bench_function("rotation_point_warm_with_sensitivity", |b| {
        b.iter(|| {
            let s = rotation_steady_state(&next, cold.responses).unwrap();
            rotation_sensitivity(&next, &s)
        })
    });
    c.bench_function("rotation_point_cold", |b| {
        b.iter(|| rotation_steady_state(&next, Vector2::zeros()).unwrap())
    });
}

criterion_group!(benches, phase_diagrams, single_point);
criterion_main!(benches);
