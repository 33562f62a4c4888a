//! The paper's two-moons network run, against the PyTorch baseline
//! (`benches/peers/torch_moons.py`, see docs/networks.md): width 500, 300 points, 10 000
//! full-batch epochs, η = 1e-2, momentum 0.9, weight decay 2e-4, SD 0.003, PyTorch init, seed 0.
//! Sequential and with the hidden units split over two rayon tasks.
//! Run: `cargo bench --bench network`.

use criterion::{criterion_group, criterion_main, Criterion};
use gstarve_net::data::{two_moons, MoonsOptions};
use gstarve_net::network::{train, NetworkOptions, TrainOptions, TwoLayerRelu};

fn moons_run(c: &mut Criterion) {
    let data = two_moons(&MoonsOptions::default()).unwrap();
    let init = TwoLayerRelu::init(2, &NetworkOptions::default()).unwrap();
    let mut g = c.benchmark_group("moons_width500_n300_10k_epochs");
    g.sample_size(10);
    for parallel in [false, true] {
        let options = TrainOptions {
            record_every: 10_000,
            parallel,
            ..Default::default()
        };
        let name = if parallel { "parallel2" } else { "sequential" };
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut net = init.clone();
                train(&mut net, &data, None, &options).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, moons_run);
criterion_main!(benches);
