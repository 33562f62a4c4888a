//! Multi-class softmax at n = 100 examples, c = 10 classes, r = 1000 features (docs/benchmarks.md,
//! "Multi-class softmax"): gstarve against the SciPy/NumPy peer `benches/peers/softmax_scipy.py`
//! on the same system file, as ratios measured in one run.
//!
//! Run: `cargo bench --bench softmax -- [--python PY] [--repeat 3] [--peer-methods LSODA,BDF]`
//! (PY needs numpy and scipy; default `python3`; DOP853 and RK45 may be added to the peer's
//! methods, they take minutes here). System: `FeatureSystem::random(1000, 10:0.1, seed 1)` (Haar
//! U, 1000 × 1000, geometric strengths 10 … 0.1) read as 100 examples × 10 classes, labels
//! i mod 10, written as a multi-class system file that both
//! sides read. L2 with λ = 0.01:
//! - flow from z = 0 on τ ∈ [0, 1000], 1001 points, rtol 1e-8, atol 1e-10 (gstarve: Auto, also at
//!   rtol 1e-9, 5e-10, 4e-10, 3e-10 and 1e-10 with atol = rtol/100; the peer: solve_ivp), errors
//!   against gstarve's BDF at rtol 1e-11, atol 1e-13; every gstarve rtol's ratio is printed with
//!   both errors and marked like-for-like or not, and the headline ratio is at equal or better
//!   accuracy (the fastest gstarve run at most as far from the reference as SciPy's fastest
//!   method);
//! - fixed point with the r × r sensitivities ∂z*/∂s² (docs/theory.md §9.3): gstarve's
//!   `softmax_sensitivity` against NumPy Newton + np.linalg.solve.
//!
//! `--fixed-pairs N` instead times the fixed point with sensitivities against the NumPy peer in
//! N alternating pairs (one solve each; set the thread counts in the environment, e.g.
//! RAYON_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 for single-threaded pairs); `--keep-system PATH`
//! keeps a copy of the system file.
//!
//! `--bdf-variants` instead compares BDF's refactorisation policies (`BdfParams`) on this flow
//! at rtol 1e-8 and 3e-10, and on the binary margin flow of docs/benchmarks.md's BDF table
//! (n = 100 and 1000): steps, evaluations, Jacobians, factorisations, time and error, the
//! variants alternating within each repetition.
//!
//! `--local [--rates 0.2,0.4]` compares BDF deciding functional iteration on the softmax flow's
//! local stiffness estimate with the global bound (counts, wall and CPU time, error);
//! `--units` times one evaluation, Jacobian, Cholesky, solve pair and stiffness estimate (CPU
//! time; run with RAYON_NUM_THREADS=1 for one thread) and the fixed point's dense pieces at z*
//! (wall, CPU, GFLOP/s); `--save-system PATH` keeps the system file for running the peer by hand.
//!
//! `--sweep R1,R2,…` runs gstarve's flow alone at each rtol: counts, wall and CPU time, the
//! error against the reference and where along τ it arises (the work–precision curve).
//!
//! `--dump DIR` writes gstarve's z*, ∂z*/∂s² and flow at rtol 3e-10 as .npy files (to compare
//! two builds).
//!
//! `--precision [--seeds S1,…] [--rtols R1,…] [--dump DIR]` compares BDF's iteration matrix in
//! f32 (the default here) with the same in f64: work counts, errors, the trajectories'
//! difference, wall and CPU time (`softmax/precision.rs`).
//!
//! `--seeds S1,S2,…` instead runs the flow comparison on the system drawn with each seed (the
//! default run is seed 1) and prints the ratios at equal or better accuracy side by side: the
//! peer's LSODA switches between Adams and BDF at points that move with the instance, and its
//! cost with them.

use std::path::Path;
use std::time::Instant;

use gstarve_core::model::{Loss, MarginFlow, PrimalDynamics, Regulariser, SoftmaxDynamics};
use gstarve_core::ode::{solve, FlowMethod, FlowOptions, OdeProblem, OdeSolution, Withheld};
use gstarve_core::solvers::bdf::{Bdf, BdfParams, NewtonTest};
use gstarve_core::solvers::softmax_flow::softmax_flow;
use gstarve_core::systems::{write_npy, FeatureSystem, MulticlassSystem, Spectrum};
use gstarve_core::theory::softmax::softmax_sensitivity;
use nalgebra::{DMatrix, DVector};

#[path = "softmax/peer.rs"]
mod peer;
#[path = "softmax/precision.rs"]
mod precision;
#[path = "softmax/tuning.rs"]
mod tuning;
#[path = "softmax/units.rs"]
mod units;

const LAMBDA: f64 = 0.01;
const T_END: f64 = 1000.0;
const POINTS: usize = 1001;
/// gstarve's flow tolerances in the main comparison (atol = rtol/100): the peer's rtol 1e-8,
/// and tighter ones spanning the peer's error, from which the equal-accuracy ratio is taken.
const FLOW_RTOLS: [f64; 6] = [1e-8, 1e-9, 5e-10, 4e-10, 3e-10, 1e-10];

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
    (best, walls, out.expect("one run"))
}

fn fmt_walls(walls: &[f64]) -> String {
    let lo = walls.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = walls.iter().copied().fold(0.0, f64::max);
    format!("{lo:.3}–{hi:.3} s over {}", walls.len())
}

/// CPU seconds of this process (all its threads): a proxy less distorted by other processes'
/// load than the wall clock.
fn cpu_seconds() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid pointer it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Minor page faults of this process so far (first touches of fresh pages).
fn minor_faults() -> i64 {
    // SAFETY: getrusage writes one rusage into the valid pointer it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_minflt
}

/// A call's CPU seconds (all threads) and minor page faults, as "CPU x s, y page faults".
fn cpu_and_faults<T>(calls: &mut Vec<String>, f: impl FnOnce() -> T) -> T {
    let (cpu, faults) = (cpu_seconds(), minor_faults());
    let out = f();
    calls.push(format!(
        "CPU {:.3} s, {} page faults",
        cpu_seconds() - cpu,
        minor_faults() - faults
    ));
    out
}

/// max |a − b| over paired entries, NaN if any difference is (a failed run must not print as
/// accurate).
fn max_abs_gap(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| {
        gstarve_core::model::nan_max(m, (x - y).abs())
    })
}

/// A solve's work as the tuning experiments print it: "steps A + R rejected, rhs E, jacobians J,
/// factorisations F".
fn work(s: &gstarve_core::ode::SolverStats) -> String {
    format!(
        "steps {} + {} rejected, rhs {}, jacobians {}, factorisations {}",
        s.steps_accepted, s.steps_rejected, s.rhs_evals, s.jacobian_evals, s.lu_factorisations
    )
}

/// The benchmark's system for `seed`, `FeatureSystem::random(n·c, 10:0.1, seed)` read as n = 100
/// examples × c = 10 classes with labels i mod c, written to `file` (which both sides read) and
/// read back.
fn write_system(file: &Path, seed: u64) -> MulticlassSystem {
    let (n, c) = (100, 10);
    let spectrum = Spectrum::Geometric {
        from: 10.0,
        to: 0.1,
    };
    let system = FeatureSystem::random(n * c, spectrum, seed).expect("random system");
    let labels = (0..n).map(|i| i % c).collect();
    let mc = MulticlassSystem::new(system, c, labels).expect("multi-class");
    mc.save(file, None).expect("system file");
    let (system, _) = MulticlassSystem::load_if_multiclass(file)
        .expect("read the system file")
        .expect("a multi-class file");
    system
}

/// The flow comparison: the reference (gstarve BDF at rtol 1e-11), gstarve at rtol 1e-8, 1e-9,
/// 3e-10 and 1e-10, the peer's methods at rtol 1e-8, and the ratios; returns the ratio at equal
/// or better accuracy (SciPy's fastest method's time over the fastest gstarve run at most as far
/// from the reference), `None` where no gstarve run reached the peer's error.
fn flow_comparison(
    python: &str,
    dir: &Path,
    file: &Path,
    dynamics: &SoftmaxDynamics,
    repeat: usize,
    peer_methods: &str,
) -> Option<f64> {
    let r = OdeProblem::dim(dynamics);
    let z0 = DVector::zeros(r);
    let path = |name: &str| dir.join(name).display().to_string();
    let reference = {
        let options = FlowOptions::new(T_END, POINTS, 1e-11, 1e-13, FlowMethod::Bdf).unwrap();
        let sol = softmax_flow(dynamics, &z0, &options).expect("reference flow");
        println!(
            "reference: gstarve {} at rtol 1e-11: {:.3} s, max |z| = {:.3e}",
            sol.stats.solver,
            sol.stats.wall_s,
            sol.states
                .as_slice()
                .iter()
                .fold(0.0, |m: f64, v| m.max(v.abs()))
        );
        sol.states.as_slice().to_vec()
    };
    write_npy(
        &dir.join("ref.npy"),
        &DMatrix::from_row_slice(POINTS, r, &reference),
    )
    .unwrap();
    // The requested tolerances, and tighter ones that reach the peer's accuracy.
    let mut ours = Vec::new();
    for rtol in FLOW_RTOLS {
        let options = FlowOptions::new(T_END, POINTS, rtol, rtol * 1e-2, FlowMethod::Auto).unwrap();
        let (best, walls, sol) = best_of(repeat, || {
            softmax_flow(dynamics, &z0, &options).expect("flow")
        });
        let err = max_abs_gap(sol.states.as_slice(), &reference);
        println!(
            "gstarve flow at rtol {rtol:.0e} ({}): {} (rhs {}, jacobians {}, factorisations {}, \
             steps {}), max |z − ref| = {err:.1e}",
            sol.stats.solver,
            fmt_walls(&walls),
            sol.stats.rhs_evals,
            sol.stats.jacobian_evals,
            sol.stats.lu_factorisations,
            sol.stats.steps_accepted
        );
        ours.push((rtol, best, err));
    }
    let runs = peer::run(
        python,
        &[
            "flow".into(),
            file.display().to_string(),
            "--lam".into(),
            LAMBDA.to_string(),
            "--t-end".into(),
            T_END.to_string(),
            "--points".into(),
            POINTS.to_string(),
            "--rtol".into(),
            "1e-8".into(),
            "--atol".into(),
            "1e-10".into(),
            "--methods".into(),
            peer_methods.to_string(),
            "--repeat".into(),
            repeat.to_string(),
            "--compare".into(),
            path("ref.npy"),
        ],
    );
    let mut best = (String::new(), f64::INFINITY, f64::NAN);
    for run in &runs {
        let wall = run["wall_s"].as_f64().unwrap_or(f64::NAN);
        let walls: Vec<f64> = run["walls"]
            .as_array()
            .map(|a| a.iter().filter_map(|w| w.as_f64()).collect())
            .unwrap_or_default();
        println!(
            "scipy solve_ivp {}: {} (ok {}, nfev {}, njev {}, nlu {}), max |z − ref| = {:.1e}",
            run["method"].as_str().unwrap_or("?"),
            fmt_walls(&walls),
            run["success"],
            run["nfev"],
            run["njev"],
            run["nlu"],
            run["max_abs_dz"].as_f64().unwrap_or(f64::NAN)
        );
        if run["success"].as_bool() == Some(true) && wall < best.1 {
            best = (
                run["method"].as_str().unwrap_or("?").to_string(),
                wall,
                run["max_abs_dz"].as_f64().unwrap_or(f64::NAN),
            );
        }
    }
    for (rtol, wall, err) in &ours {
        let accuracy = if *err <= best.2 {
            "equal or better accuracy"
        } else {
            "less accurate than the peer: not a like-for-like ratio"
        };
        println!(
            "flow ratio: SciPy's fastest ({}) {:.3} s (error {:.1e}) / gstarve at rtol {rtol:.0e} \
             {wall:.3} s (error {err:.1e}) = {:.1}× ({accuracy})",
            best.0,
            best.1,
            best.2,
            best.1 / wall
        );
    }
    // At equal or better accuracy: the fastest gstarve run at most as far from the reference as
    // SciPy's fastest method.
    match ours
        .iter()
        .filter(|(_, _, err)| *err <= best.2)
        .min_by(|a, b| a.1.total_cmp(&b.1))
    {
        Some((rtol, wall, err)) => {
            println!(
                "flow ratio at equal or better accuracy: {} {:.3} s (error {:.1e}) / gstarve at \
                 rtol {rtol:.0e} {wall:.3} s (error {err:.1e}) = {:.1}×",
                best.0,
                best.1,
                best.2,
                best.1 / wall
            );
            Some(best.1 / wall)
        }
        None => {
            println!(
                "flow ratio at equal or better accuracy: no gstarve run reached {}'s error {:.1e}",
                best.0, best.2
            );
            None
        }
    }
}

/// `--seeds S1,S2,…`: the flow comparison on the benchmark's system drawn with each seed (seed 1
/// is the default run's), then the ratios at equal or better accuracy side by side: LSODA's
/// Adams/BDF switching makes its cost sensitive to the instance (docs/benchmarks.md).
fn flow_over_seeds(python: &str, dir: &Path, seeds: &[u64], repeat: usize, peer_methods: &str) {
    let mut ratios = Vec::new();
    for &seed in seeds {
        println!("seed {seed}:");
        let file = dir.join(format!("softmax-{seed}.json"));
        let system = write_system(&file, seed);
        let dynamics =
            SoftmaxDynamics::new(&system, Regulariser::L2 { lambda: LAMBDA }).expect("dynamics");
        let ratio = flow_comparison(python, dir, &file, &dynamics, repeat, peer_methods);
        ratios.push((seed, ratio));
    }
    let list: Vec<String> = ratios
        .iter()
        .map(|(seed, ratio)| match ratio {
            Some(x) => format!("seed {seed} {x:.2}×"),
            None => format!("seed {seed} –"),
        })
        .collect();
    let reached: Vec<f64> = ratios.iter().filter_map(|(_, x)| *x).collect();
    let lo = reached.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = reached.iter().copied().fold(0.0, f64::max);
    println!(
        "flow ratio at equal or better accuracy over seeds: {} (range {lo:.2}–{hi:.2}× over {} \
         of {} seeds)",
        list.join(", "),
        reached.len(),
        ratios.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "cargo bench --bench softmax -- [--python PY] [--repeat 3] [--peer-methods LSODA,BDF]\n\
             (or --fixed-pairs N, --fixed-only, --units, --dump DIR, --precision, --sweep R1,R2, \
             --local, --auto-choice, --bdf-variants, --seeds S1,S2: benches/softmax.rs's module \
             documentation says what each does)"
        );
        return;
    }
    let python = value_of("--python").unwrap_or_else(|| "python3".to_string());
    let repeat: usize = value_of("--repeat").map_or(3, |v| v.parse().expect("--repeat N"));
    let peer_methods = value_of("--peer-methods").unwrap_or_else(|| "LSODA,BDF".to_string());
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("softmax.json");
    let system = write_system(&file, 1);
    let r = system.rank();
    let reg = Regulariser::L2 { lambda: LAMBDA };
    let dynamics = SoftmaxDynamics::new(&system, reg).expect("dynamics");
    let z0 = DVector::zeros(r);
    if let Some(keep) = value_of("--keep-system") {
        std::fs::copy(&file, &keep).expect("copy the system file");
    }
    if let Some(pairs) = value_of("--fixed-pairs") {
        peer::require(&python);
        let pairs: usize = pairs.parse().expect("--fixed-pairs N");
        tuning::fixed_pairs(&python, &file, dir.path(), &system, reg, pairs);
        return;
    }
    if let Some(out) = value_of("--dump").filter(|_| !args.iter().any(|a| a == "--precision")) {
        // gstarve's results, for comparing two builds: z*, ∂z*/∂s² and the flow at rtol 3e-10.
        let out = Path::new(&out);
        std::fs::create_dir_all(out).expect("--dump DIR");
        let sens = softmax_sensitivity(&system, reg).expect("fixed point and sensitivities");
        let z = &sens.steady_state.responses;
        write_npy(
            &out.join("z.npy"),
            &DMatrix::from_column_slice(z.len(), 1, z.as_slice()),
        )
        .unwrap();
        write_npy(&out.join("sens.npy"), &sens.derivatives).unwrap();
        let options = FlowOptions::new(T_END, POINTS, 3e-10, 3e-12, FlowMethod::Auto).unwrap();
        let sol = softmax_flow(&dynamics, &z0, &options).expect("flow");
        write_npy(
            &out.join("flow.npy"),
            &DMatrix::from_row_slice(POINTS, r, sol.states.as_slice()),
        )
        .unwrap();
        println!(
            "dumped: {} Newton iterations, {} CG iterations; flow {} steps, {} RHS",
            sens.steady_state.iterations,
            sens.steady_state.work.cg_iterations,
            sol.stats.steps_accepted,
            sol.stats.rhs_evals
        );
        return;
    }
    if args.iter().any(|a| a == "--fixed-only") {
        // The fixed point alone, then with the sensitivities (for profiling).
        for _ in 0..repeat {
            let start = Instant::now();
            let steady = gstarve_core::solvers::steady_softmax::softmax_steady_state(
                &dynamics,
                &gstarve_core::solvers::steady::NewtonParams::default(),
            )
            .expect("steady state");
            let newton = start.elapsed().as_secs_f64();
            let start = Instant::now();
            let sens = softmax_sensitivity(&system, reg).expect("sensitivities");
            println!(
                "fixed point {newton:.3} s ({} iterations, {} conjugate-gradient iterations, {} \
                 Hessian factorisations, residual {:.1e}); with sensitivities {:.3} s",
                steady.iterations,
                steady.work.cg_iterations,
                steady.work.factorisations,
                steady.residual,
                start.elapsed().as_secs_f64()
            );
            assert_eq!(sens.steady_state.iterations, steady.iterations);
        }
        return;
    }
    if args.iter().any(|a| a == "--precision") {
        let list = |flag: &str, default: &str| -> Vec<String> {
            value_of(flag)
                .unwrap_or_else(|| default.to_string())
                .split(',')
                .map(str::to_string)
                .collect()
        };
        let seeds: Vec<u64> = list("--seeds", "1")
            .iter()
            .map(|v| v.parse().expect("--seeds S1,S2"))
            .collect();
        let rtols: Vec<f64> = list("--rtols", "1e-9,5e-10,4e-10,3e-10")
            .iter()
            .map(|v| v.parse().expect("--rtols R1,R2"))
            .collect();
        let dump = value_of("--dump").map(std::path::PathBuf::from);
        if let Some(out) = &dump {
            std::fs::create_dir_all(out).expect("--dump DIR");
        }
        let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!("load: {}", load());
        precision::precision(dir.path(), &seeds, &rtols, repeat, dump.as_deref());
        println!("load: {}", load());
        return;
    }
    if let Some(seeds) = value_of("--seeds") {
        peer::require(&python);
        let seeds: Vec<u64> = seeds
            .split(',')
            .map(|v| v.parse().expect("--seeds S1,S2"))
            .collect();
        flow_over_seeds(&python, dir.path(), &seeds, repeat, &peer_methods);
        return;
    }
    if let Some(copy) = value_of("--save-system") {
        // The system file both sides read, for running the peer by hand.
        std::fs::copy(&file, &copy).expect("copy the system file");
    }
    if args.iter().any(|a| a == "--units") {
        units::units(&dynamics, repeat);
        units::fixed_point_units(&system, reg, repeat);
        return;
    }
    if let Some(rtols) = value_of("--sweep") {
        let rtols: Vec<f64> = rtols
            .split(',')
            .map(|v| v.parse().expect("--sweep R1,R2"))
            .collect();
        println!(
            "load: {}",
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
        );
        tuning::sweep(&dynamics, &rtols, repeat);
        println!(
            "load: {}",
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
        );
        return;
    }
    if args.iter().any(|a| a == "--local") {
        println!(
            "load: {}",
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
        );
        let rates: Vec<f64> = value_of("--rates")
            .unwrap_or_else(|| "0.2".into())
            .split(',')
            .map(|v| v.parse().expect("--rates R1,R2"))
            .collect();
        tuning::local_vs_global(&dynamics, &[1e-8, 3e-10, 1e-10], &rates, repeat);
        println!(
            "load: {}",
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
        );
        return;
    }
    if args.iter().any(|a| a == "--auto-choice") {
        println!(
            "load: {}",
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
        );
        tuning::auto_choice(repeat);
        println!(
            "load: {}",
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
        );
        return;
    }
    if args.iter().any(|a| a == "--bdf-variants") {
        println!(
            "load: {}",
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
        );
        tuning::run_variants("softmax", &dynamics, z0.as_slice(), &[1e-8, 3e-10], repeat);
        for m in [100, 1000] {
            let spectrum = Spectrum::Geometric {
                from: 10.0,
                to: 0.1,
            };
            let sys = FeatureSystem::random(m, spectrum, 1).expect("random system");
            let primal = PrimalDynamics::new(&sys, Loss::Logistic, reg).expect("dynamics");
            let flow = MarginFlow::new(&primal);
            let label = format!("binary margin flow n = {m}");
            tuning::run_variants(&label, &flow, &vec![0.0; m], &[1e-9], repeat);
        }
        println!(
            "load: {}",
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
        );
        return;
    }
    peer::require(&python);
    let path = |name: &str| dir.path().join(name).display().to_string();
    flow_comparison(&python, dir.path(), &file, &dynamics, repeat, &peer_methods);

    // Fixed point with sensitivities.
    let mut calls = Vec::new();
    let (ours, walls, sens) = best_of(repeat, || {
        cpu_and_faults(&mut calls, || {
            softmax_sensitivity(&system, reg).expect("fixed point and sensitivities")
        })
    });
    println!(
        "gstarve fixed point + sensitivities: {} ({} Newton iterations, {} conjugate-gradient \
         iterations, {} + 1 Hessian factorisations, residual {:.1e}; per call: {})",
        fmt_walls(&walls),
        sens.steady_state.iterations,
        sens.steady_state.work.cg_iterations,
        sens.steady_state.work.factorisations,
        sens.steady_state.residual,
        calls.join("; ")
    );
    let z = &sens.steady_state.responses;
    write_npy(
        &dir.path().join("z.npy"),
        &DMatrix::from_column_slice(r, 1, z.as_slice()),
    )
    .unwrap();
    write_npy(&dir.path().join("z_sens.npy"), &sens.derivatives).unwrap();
    let fixed = peer::run(
        &python,
        &[
            "fixed".into(),
            file.display().to_string(),
            "--lam".into(),
            LAMBDA.to_string(),
            "--repeat".into(),
            repeat.to_string(),
            "--compare".into(),
            path("z.npy"),
        ],
    );
    let run = &fixed[0];
    let walls: Vec<f64> = run["walls"]
        .as_array()
        .map(|a| a.iter().filter_map(|w| w.as_f64()).collect())
        .unwrap_or_default();
    let theirs = run["wall_s"].as_f64().unwrap_or(f64::NAN);
    println!(
        "numpy Newton + np.linalg.solve: {} ({} iterations, residual {:.1e}); max |Δz*| = {:.1e} \
         (max |z*| {:.3e}), max |Δ∂z*/∂s²| = {:.1e} (max {:.3e})",
        fmt_walls(&walls),
        run["iterations"],
        run["residual"].as_f64().unwrap_or(f64::NAN),
        run["max_abs_dz"].as_f64().unwrap_or(f64::NAN),
        z.amax(),
        run["max_abs_dsens"].as_f64().unwrap_or(f64::NAN),
        run["max_abs_sens"].as_f64().unwrap_or(f64::NAN)
    );
    println!(
        "fixed-point ratio: NumPy {theirs:.3} s / gstarve {ours:.3} s = {:.1}×",
        theirs / ours
    );
}
