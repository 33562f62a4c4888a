//! One run of the paper's two-moons network (width 500, 300 points, 10 000 epochs, η = 1e-2,
//! momentum 0.9, weight decay 2e-4, SD 0.003), timed; the Rust side of the PyTorch comparison
//! (docs/networks.md). `cargo run --release --example train_moons [-- --parallel]`.

use std::time::Instant;

use gstarve_net::data::{two_moons, MoonsOptions};
use gstarve_net::network::{train, NetworkOptions, TrainOptions, TwoLayerRelu};

fn main() -> gstarve_core::Result<()> {
    let parallel = std::env::args().any(|a| a == "--parallel");
    let data = two_moons(&MoonsOptions::default())?;
    let mut net = TwoLayerRelu::init(2, &NetworkOptions::default())?;
    let options = TrainOptions {
        record_every: 10_000,
        parallel,
        ..Default::default()
    };
    let start = Instant::now();
    let record = train(&mut net, &data, None, &options)?;
    println!(
        "gstarve 10k epochs width 500 n 300 ({}): {:.2} s, final loss {:.4}",
        if parallel { "2 tasks" } else { "1 thread" },
        start.elapsed().as_secs_f64(),
        record.loss.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}
