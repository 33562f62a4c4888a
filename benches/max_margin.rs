//! The max-margin limit (docs/benchmarks.md, "Max-margin limit"): `solvers::max_margin` (block
//! principal pivoting, Cholesky by faer) against the SciPy peer `benches/peers/max_margin_nnls.py`
//! (scipy.optimize.nnls on the dual), on the same system, as a ratio measured in one run.
//!
//! Run: `cargo bench --bench max_margin -- [--python PY] [--repeat 3] [--n 1000]`
//! (PY needs numpy and scipy; default `python3`). System: `FeatureSystem::random(n, 10:0.1, 7)`
//! (Haar coupling, geometric strengths 10 … 0.1), where part of the examples are support vectors.

use std::process::Command;
use std::time::Instant;

use gstarve_core::solvers::max_margin::max_margin;
use gstarve_core::systems::{write_npy, FeatureSystem, Spectrum};
use nalgebra::DMatrix;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let python = value_of("--python").unwrap_or_else(|| "python3".to_string());
    let repeat: usize = value_of("--repeat").map_or(3, |v| v.parse().expect("--repeat N"));
    let n: usize = value_of("--n").map_or(1000, |v| v.parse().expect("--n N"));
    let system = FeatureSystem::random(
        n,
        Spectrum::Geometric {
            from: 10.0,
            to: 0.1,
        },
        7,
    )
    .expect("random system");
    let mut walls = Vec::new();
    let mut result = None;
    for _ in 0..repeat {
        let t = Instant::now();
        let mm = max_margin(&system).expect("max-margin");
        walls.push(t.elapsed().as_secs_f64());
        result = Some(mm);
    }
    let mm = result.expect("one run");
    let ours = walls.iter().copied().fold(f64::INFINITY, f64::min);
    let dir = tempfile::tempdir().expect("temporary directory");
    write_npy(&dir.path().join("u.npy"), system.coupling()).expect("u.npy");
    let s = DMatrix::from_column_slice(n, 1, system.strengths().as_slice());
    write_npy(&dir.path().join("s.npy"), &s).expect("s.npy");
    let out = Command::new(&python)
        .arg("benches/peers/max_margin_nnls.py")
        .arg(dir.path())
        .args(["--repeat", &repeat.to_string()])
        .output()
        .expect("run the peer");
    assert!(
        out.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("peer JSON");
    let theirs = peer["wall_s"].as_f64().expect("wall_s");
    let z_peer: Vec<f64> = peer["z_hat"]
        .as_array()
        .expect("z_hat")
        .iter()
        .map(|v| v.as_f64().unwrap_or(f64::NAN))
        .collect();
    let gap = mm
        .z_hat
        .iter()
        .zip(&z_peer)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
        / mm.z_hat.amax();
    let supports = mm.support.iter().filter(|&&s| s).count();
    println!(
        "max-margin n = {n}: gstarve {ours:.4e} s ({} rounds, {supports} support vectors, KKT max \
         {:.1e}); SciPy nnls {theirs:.4e} s ({} support vectors, min margin {:.6}); ratio {:.1}×; \
         max |Δẑ|/‖ẑ‖∞ = {gap:.1e}",
        mm.iterations,
        mm.kkt.max(),
        peer["supports"],
        peer["min_margin"].as_f64().unwrap_or(f64::NAN),
        theirs / ours
    );
    println!("gstarve walls {walls:?}; SciPy walls {}", peer["walls"]);
}
