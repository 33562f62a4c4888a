//! Many small systems to steady state plus starvation matrix (issue #17, item 2): the batched
//! path (`sweeps::batch::l2_steady_states`) against the one-system path
//! (`theory::sensitivity::l2_sensitivity` per system, in parallel with rayon), on the same
//! systems, with the largest difference between them.
//!
//! Usage: `batch_steady [SYSTEMS] [N]` (default 100 000 random N = 4 systems: Haar coupling,
//! geometric strengths 10 → 0.1, λ = 0.01, seeds 0, 1, …).

use gstarve_core::sweeps::batch::{l2_steady_states, SmallSystems};
use gstarve_core::systems::{FeatureSystem, Spectrum};
use gstarve_core::theory::sensitivity::l2_sensitivity;
use rayon::prelude::*;

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(4);
    let spectrum = Spectrum::Geometric {
        from: 10.0,
        to: 0.1,
    };
    let systems: Vec<FeatureSystem> = (0..count as u64)
        .into_par_iter()
        .map(|seed| FeatureSystem::random(n, spectrum, seed).expect("a system"))
        .collect();
    let lambda = vec![0.01; count];
    let batch = SmallSystems::from_systems(&systems, &lambda).expect("a batch");
    let mut best_batch = f64::INFINITY;
    let mut best_one = f64::INFINITY;
    let mut out = None;
    let mut one = Vec::new();
    for _ in 0..3 {
        let start = std::time::Instant::now();
        out = Some(l2_steady_states(&batch).expect("the batch"));
        best_batch = best_batch.min(start.elapsed().as_secs_f64());
        let start = std::time::Instant::now();
        one = systems
            .par_iter()
            .map(|s| l2_sensitivity(s, 0.01).expect("one system"))
            .collect();
        best_one = best_one.min(start.elapsed().as_secs_f64());
    }
    let out = out.expect("ran");
    let mut diff: f64 = 0.0;
    for (b, s) in one.iter().enumerate() {
        for j in 0..n {
            let z = s.steady_state.responses[j];
            diff = diff.max((out.responses[b * n + j] - z).abs() / z.abs().max(1.0));
            for i in 0..n {
                let d = s.derivatives[(j, i)];
                let k = b * n * n + j + i * n;
                diff = diff.max((out.derivatives[k] - d).abs() / d.abs().max(1.0));
            }
        }
    }
    let failed = out.failures.iter().filter(|f| f.is_some()).count();
    println!(
        "{count} systems, n = {n}: batch {:.3} s ({:.2} µs/system), one-system path {:.3} s \
         ({:.2} µs/system), {:.1}×; max relative difference {diff:.1e}; {failed} failed",
        best_batch,
        best_batch / count as f64 * 1e6,
        best_one,
        best_one / count as f64 * 1e6,
        best_one / best_batch
    );
}
