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
    let mut best_cpu = f64::INFINITY;
    for _ in 0..3 {
        let (start, cpu) = (std::time::Instant::now(), cpu_seconds());
        out = Some(l2_steady_states(&batch).expect("the batch"));
        best_batch = best_batch.min(start.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_seconds() - cpu);
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
    let iterations: u64 = out.iterations.iter().map(|&i| u64::from(i)).sum();
    let most = out.iterations.iter().max().copied().unwrap_or(0);
    // FNV-1a over the bits of every result: equal digests, equal results bit for bit.
    let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
    let words = out
        .responses
        .iter()
        .chain(&out.margins)
        .chain(&out.residuals)
        .chain(&out.derivatives)
        .chain(&out.elasticities)
        .map(|v| v.to_bits())
        .chain(out.iterations.iter().map(|&i| u64::from(i)));
    for w in words {
        digest = (digest ^ w).wrapping_mul(0x100_0000_01b3);
    }
    // The CPU time the batch took on all threads: a proxy that a loaded machine distorts less
    // than the wall clock (NaN where /proc/self/task/*/schedstat is not readable).
    println!("batch CPU {best_cpu:.3} s");
    println!(
        "{count} systems, n = {n}: batch {:.3} s ({:.2} µs/system), one-system path {:.3} s \
         ({:.2} µs/system), {:.1}×; max relative difference {diff:.1e}; {failed} failed; \
         Newton iterations {:.2} per system (at most {most}); digest {digest:016x}",
        best_batch,
        best_batch / count as f64 * 1e6,
        best_one,
        best_one / count as f64 * 1e6,
        best_one / best_batch,
        iterations as f64 / count.max(1) as f64
    );
}

/// The run time of every thread of this process so far, in seconds (Linux's schedstat), or NaN.
fn cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    let mut total = 0u64;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            return f64::NAN;
        };
        match stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
        {
            Some(ns) => total += ns,
            None => return f64::NAN,
        }
    }
    total as f64 * 1e-9
}
