//! Truncated systems at large n (docs/benchmarks.md, "Truncated systems at large n"): gstarve
//! against the NumPy/SciPy peer `benches/peers/truncated_flow.py`, on the same systems, as ratios
//! measured in one run.
//!
//! Run: `cargo bench --bench truncated -- [--python PY] [--repeat 3] [--peer-methods BDF,LSODA,Radau]`
//! (PY needs numpy and scipy; default `python3`). Systems, written as .npy for the peer:
//! - flow: n = 10⁴, r = 100, a label-aligned leading feature (U's first column 1/√n: the QR of an
//!   n × r Gaussian whose first column is all ones), s_j = √n·10^{−2(j−1)/(r−1)} (√n to √n/100),
//!   logistic loss, λ = 0.01, z(0) = 0, τ ∈ [0, 1000], 1001 points, rtol 1e-8, atol 1e-10;
//! - fixed point and the r × r sensitivity ∂z*/∂s² (docs/theory.md §5.3): the same construction
//!   at n = 10⁵, r = 100;
//! - Haar generation: `FeatureSystem::random(5000, …)` and `random_top(10⁵, 100, …)`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use gstarve_core::model::{Loss, PrimalDynamics, Regulariser};
use gstarve_core::ode::{FlowMethod, FlowOptions};
use gstarve_core::solvers::flow::primal_flow;
use gstarve_core::systems::{write_npy, FeatureSystem, Spectrum};
use gstarve_core::theory::sensitivity::l2_sensitivity;
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

const LAMBDA: f64 = 0.01;

/// The label-aligned n × r system of the module documentation.
fn label_aligned(n: usize, r: usize, seed: u64) -> FeatureSystem {
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(seed);
    let g = faer::Mat::<f64>::from_fn(n, r, |_, j| {
        let x: f64 = StandardNormal.sample(&mut rng);
        if j == 0 {
            1.0
        } else {
            x
        }
    });
    let qr = g.qr();
    let q = qr.compute_thin_Q();
    let sign: Vec<f64> = (0..r)
        .map(|j| if qr.thin_R()[(j, j)] < 0.0 { -1.0 } else { 1.0 })
        .collect();
    let u = DMatrix::from_fn(n, r, |i, j| sign[j] * q[(i, j)]);
    let root = (n as f64).sqrt();
    let s = DVector::from_fn(r, |j, _| {
        root * 10f64.powf(-2.0 * j as f64 / (r - 1) as f64)
    });
    FeatureSystem::new(s, u).unwrap()
}

fn best_of<T>(repeat: usize, mut f: impl FnMut() -> T) -> (f64, Vec<f64>, T) {
    let mut walls = Vec::new();
    let mut out = None;
    for _ in 0..repeat {
        let start = Instant::now();
        let value = f();
        walls.push(start.elapsed().as_secs_f64());
        out = Some(value);
    }
    let best = walls.iter().copied().fold(f64::INFINITY, f64::min);
    (best, walls, out.unwrap())
}

fn write_system(dir: &Path, prefix: &str, sys: &FeatureSystem) {
    write_npy(&dir.join(format!("{prefix}_u.npy")), sys.coupling()).unwrap();
    let s = DMatrix::from_column_slice(sys.rank(), 1, sys.strengths().as_slice());
    write_npy(&dir.join(format!("{prefix}_s.npy")), &s).unwrap();
}

fn max_abs_gap(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .fold(0.0, |m: f64, (x, y)| m.max((x - y).abs()))
}

fn fmt_walls(walls: &[f64]) -> String {
    let lo = walls.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = walls.iter().copied().fold(0.0, f64::max);
    format!("{lo:.3}–{hi:.3} s")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let python = value_of("--python").unwrap_or_else(|| "python3".to_string());
    let repeat: usize = value_of("--repeat").map_or(3, |v| v.parse().unwrap());
    let peer_methods = value_of("--peer-methods").unwrap_or_else(|| "BDF,LSODA,Radau".to_string());
    let dir = tempfile::tempdir().unwrap();
    let dir_path: PathBuf = dir.path().to_path_buf();

    // Haar generation.
    let spectrum = Spectrum::Geometric {
        from: 10.0,
        to: 0.1,
    };
    let (_, walls, _) = best_of(1, || FeatureSystem::random(5000, spectrum, 1).unwrap());
    println!(
        "generate --random 5000 (faer QR of 5000 × 5000): {}",
        fmt_walls(&walls)
    );
    let (_, walls, _) = best_of(repeat, || {
        FeatureSystem::random_top(100_000, 100, spectrum, 1).unwrap()
    });
    println!("generate --random 100000 --rank 100: {}", fmt_walls(&walls));

    // Flow, n = 10⁴, r = 100.
    let flow_sys = label_aligned(10_000, 100, 1);
    write_system(&dir_path, "flow", &flow_sys);
    let dynamics = PrimalDynamics::new(
        &flow_sys,
        Loss::Logistic,
        Regulariser::L2 { lambda: LAMBDA },
    )
    .unwrap();
    let z0 = DVector::zeros(100);
    let mut flow_rows = Vec::new();
    // The requested tolerances, and tighter ones that match the peer's accuracy.
    for (name, rtol, method) in [
        ("auto", 1e-8, FlowMethod::Auto),
        ("bdf", 1e-8, FlowMethod::Bdf),
        ("auto at rtol 1e-10", 1e-10, FlowMethod::Auto),
    ] {
        let options = FlowOptions::new(1000.0, 1001, rtol, rtol * 1e-2, method).unwrap();
        let (best, walls, sol) = best_of(repeat, || primal_flow(&dynamics, &z0, &options).unwrap());
        println!(
            "gstarve flow {name} ({}): {} (rhs {}, jacobians {}, LU {}, steps {})",
            sol.stats.solver,
            fmt_walls(&walls),
            sol.stats.rhs_evals,
            sol.stats.jacobian_evals,
            sol.stats.lu_factorisations,
            sol.stats.steps_accepted
        );
        flow_rows.push((name, best, sol.states.last().unwrap().to_vec()));
    }
    let reference = {
        let options = FlowOptions::new(1000.0, 1001, 1e-12, 1e-14, FlowMethod::Bdf).unwrap();
        primal_flow(&dynamics, &z0, &options)
            .unwrap()
            .states
            .last()
            .unwrap()
            .to_vec()
    };

    println!(
        "reference z(1000) (BDF, rtol 1e-12): max|z| = {:.3e}",
        reference.iter().fold(0.0, |m: f64, v| m.max(v.abs()))
    );

    // Fixed point and sensitivity, n = 10⁵, r = 100.
    let fp_sys = label_aligned(100_000, 100, 2);
    write_system(&dir_path, "fp", &fp_sys);
    let (fp_best, walls, sens) = best_of(repeat, || l2_sensitivity(&fp_sys, LAMBDA).unwrap());
    println!(
        "gstarve fixed point + sensitivity (n = 10⁵, r = 100): {}",
        fmt_walls(&walls)
    );

    // The peer.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/truncated_flow.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg(&dir_path)
        .arg("--repeat")
        .arg(repeat.to_string())
        .arg("--methods")
        .arg(&peer_methods)
        .output()
        .expect("running the Python peer");
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        panic!("the Python peer failed");
    }
    let peer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut best_scipy = (String::new(), f64::INFINITY);
    for (method, run) in peer["flow"].as_object().unwrap() {
        let wall = run["wall_s"].as_f64().unwrap();
        let walls: Vec<f64> = run["walls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_f64().unwrap())
            .collect();
        let z: Vec<f64> = run["z_end"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        println!(
            "scipy solve_ivp {method}: {} (ok {}, nfev {}, njev {}), max|z(1000) − ref| = {:.1e}",
            fmt_walls(&walls),
            run["ok"],
            run["nfev"],
            run["njev"],
            max_abs_gap(&z, &reference)
        );
        if run["ok"].as_bool() == Some(true) && wall < best_scipy.1 {
            best_scipy = (method.clone(), wall);
        }
    }
    for (name, best, z) in &flow_rows {
        println!(
            "flow ratio: scipy best ({}) / gstarve {name} = {:.1}×, gstarve max|z(1000) − ref| = {:.1e}",
            best_scipy.0,
            best_scipy.1 / best,
            max_abs_gap(z, &reference)
        );
    }
    let fp = &peer["fixed_point"];
    let numpy_wall = fp["wall_s"].as_f64().unwrap();
    let z: Vec<f64> = fp["z"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let peer_sens: Vec<f64> = fp["sensitivity"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
        .collect();
    let ours: Vec<f64> = (0..100)
        .flat_map(|j| (0..100).map(move |i| (j, i)))
        .map(|(j, i)| sens.derivatives[(j, i)])
        .collect();
    let scale = ours.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
    println!(
        "numpy fixed point + sensitivity: {} ({} Newton iterations); max|z* gap| = {:.1e}, max|∂z*/∂s² gap| = {:.1e} of {:.1e}",
        fmt_walls(
            &fp["walls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_f64().unwrap())
                .collect::<Vec<_>>()
        ),
        fp["iterations"],
        max_abs_gap(&z, sens.steady_state.responses.as_slice()),
        max_abs_gap(&peer_sens, &ours),
        scale
    );
    println!(
        "fixed point + sensitivity ratio: numpy / gstarve = {:.1}×",
        numpy_wall / fp_best
    );
}
