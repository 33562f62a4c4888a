//! The softmax benchmark's experiments on the BDF and its inputs (`--bdf-variants`, `--auto-choice`,
//! `--fixed-pairs`, `--sweep`, `--local`): how its policies, Auto's choice and the
//! stiffness estimates trade work for accuracy on the benchmark's system. The comparison with
//! the peers is in `benches/softmax.rs`.

use super::*;

/// The BDF variants `--bdf-variants` compares: the defaults before monitored modified Newton,
/// and the defaults.
fn variants() -> Vec<(&'static str, BdfParams)> {
    let before = BdfParams {
        stale_max_rate: 0.0,
        min_step_change: 1.0,
        lu_max_age: 20,
        ..BdfParams::DEFAULT
    };
    let monitored = |rate, age, change| BdfParams {
        stale_max_rate: rate,
        lu_max_age: age,
        min_step_change: change,
        ..BdfParams::DEFAULT
    };
    vec![
        ("30 % rule, M age 20 (before)", before),
        ("default", BdfParams::DEFAULT),
        ("monitored 1/3, M age 20", monitored(1.0 / 3.0, 20, 1.0)),
        (
            "monitored 1/3, M age ∞",
            monitored(1.0 / 3.0, u64::MAX, 1.0),
        ),
        ("monitored 1/2, M age ∞", monitored(0.5, u64::MAX, 1.0)),
        (
            "monitored 1/3, M age ∞, h change ≥ 1.2",
            monitored(1.0 / 3.0, u64::MAX, 1.2),
        ),
        (
            "30 % rule, M age 20, h change ≥ 1.2",
            BdfParams {
                min_step_change: 1.2,
                ..before
            },
        ),
        ("monitored 1/5, M age ∞", monitored(0.2, u64::MAX, 1.0)),
        (
            "monitored 1/5, M age 20, h change ≥ 1.2",
            monitored(0.2, 20, 1.2),
        ),
    ]
}

pub(super) fn run_variants<P: OdeProblem>(
    what: &str,
    problem: &P,
    y0: &[f64],
    rtols: &[f64],
    repeat: usize,
) {
    let options = |rtol: f64| FlowOptions::new(T_END, POINTS, rtol, rtol * 1e-2, FlowMethod::Bdf);
    let reference = {
        let o = options(1e-11).unwrap();
        solve(&Bdf::default(), problem, y0, o.grid(), o.tolerances()).expect("reference")
    };
    for &rtol in rtols {
        let o = options(rtol).unwrap();
        let mut results: Vec<(f64, Option<OdeSolution>)> =
            vec![(f64::INFINITY, None); variants().len()];
        for _ in 0..repeat {
            for (i, (_, params)) in variants().iter().enumerate() {
                let sol = solve(
                    &Bdf { params: *params },
                    problem,
                    y0,
                    o.grid(),
                    o.tolerances(),
                )
                .expect("flow");
                results[i].0 = results[i].0.min(sol.stats.wall_s);
                results[i].1 = Some(sol);
            }
        }
        for ((name, _), (wall, sol)) in variants().iter().zip(&results) {
            let sol = sol.as_ref().expect("one run");
            println!(
                "{what} rtol {rtol:.0e} {name}: {wall:.3} s, {}, max |Δ| = {:.1e}",
                work(&sol.stats),
                max_abs_gap(sol.states.as_slice(), reference.states.as_slice())
            );
        }
    }
}

/// `--auto-choice`: RKC against BDF on softmax flows with r > 200 at the loose tolerances where
/// Auto chose RKC before (rtol ≥ 1e-7), errors against BDF at rtol 1e-11.
pub(super) fn auto_choice(repeat: usize) {
    for (n, c) in [(30, 10), (100, 10)] {
        let spectrum = Spectrum::Geometric {
            from: 10.0,
            to: 0.1,
        };
        let system = FeatureSystem::random(n * c, spectrum, 1).expect("random system");
        let labels = (0..n).map(|i| i % c).collect();
        let mc = MulticlassSystem::new(system, c, labels).expect("multi-class");
        let dynamics =
            SoftmaxDynamics::new(&mc, Regulariser::L2 { lambda: LAMBDA }).expect("dynamics");
        let z0 = DVector::zeros(mc.rank());
        let reference = {
            let o = FlowOptions::new(T_END, POINTS, 1e-11, 1e-13, FlowMethod::Bdf).unwrap();
            softmax_flow(&dynamics, &z0, &o).expect("reference")
        };
        for rtol in [1e-5, 1e-6, 1e-7] {
            let mut line = format!(
                "auto choice n = {n}, c = {c}, r = {}, rtol {rtol:.0e}:",
                mc.rank()
            );
            for method in [FlowMethod::Rkc, FlowMethod::Bdf, FlowMethod::Auto] {
                let o = FlowOptions::new(T_END, POINTS, rtol, rtol * 1e-2, method).unwrap();
                let (best, _, sol) =
                    best_of(repeat, || softmax_flow(&dynamics, &z0, &o).expect("flow"));
                let err = max_abs_gap(sol.states.as_slice(), reference.states.as_slice());
                line += &format!(
                    " {method:?} → {} {best:.3} s (rhs {}, error {err:.1e});",
                    sol.stats.solver, sol.stats.rhs_evals
                );
            }
            println!("{line}");
        }
    }
}

/// `--fixed-pairs N`: the fixed point with its r × r sensitivities, gstarve then the NumPy peer
/// (one solve each, the peer's own timing without its start-up), N pairs in a row, with the load
/// average before each pair: ratios from the same minutes. Thread counts are the caller's
/// (RAYON_NUM_THREADS for gstarve; OPENBLAS_NUM_THREADS and the like for the peer).
pub(super) fn fixed_pairs(
    python: &str,
    file: &Path,
    dir: &Path,
    system: &MulticlassSystem,
    reg: Regulariser,
    pairs: usize,
) {
    let z_path = dir.join("z.npy");
    for pair in 1..=pairs {
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let start = Instant::now();
        let mut call = Vec::new();
        let sens = super::cpu_and_faults(&mut call, || {
            softmax_sensitivity(system, reg).expect("fixed point and sensitivities")
        });
        let ours = start.elapsed().as_secs_f64();
        let z = &sens.steady_state.responses;
        write_npy(
            &z_path,
            &DMatrix::from_column_slice(z.len(), 1, z.as_slice()),
        )
        .unwrap();
        write_npy(&dir.join("z_sens.npy"), &sens.derivatives).unwrap();
        let run = peer::run(
            python,
            &[
                "fixed".into(),
                file.display().to_string(),
                "--lam".into(),
                LAMBDA.to_string(),
                "--repeat".into(),
                "1".into(),
                "--compare".into(),
                z_path.display().to_string(),
            ],
        )
        .remove(0);
        let theirs = run["wall_s"].as_f64().unwrap_or(f64::NAN);
        let w = sens.steady_state.work;
        println!(
            "pair {pair} (load {}): gstarve {ours:.4} s ({} Newton iterations, {} CG iterations, \
             {} + 1 factorisations, residual {:.1e}; {}), NumPy {theirs:.4} s ({} iterations): \
             {:.2}×; max |Δz*| = {:.1e} (max |z*| {:.3e}), max |Δ∂z*/∂s²| = {:.1e} (max {:.3e})",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
            sens.steady_state.iterations,
            w.cg_iterations,
            w.factorisations,
            sens.steady_state.residual,
            call[0],
            run["iterations"],
            theirs / ours,
            run["max_abs_dz"].as_f64().unwrap_or(f64::NAN),
            z.amax(),
            run["max_abs_dsens"].as_f64().unwrap_or(f64::NAN),
            run["max_abs_sens"].as_f64().unwrap_or(f64::NAN)
        );
    }
}

/// `--sweep R1,R2,…`: gstarve's flow (Auto) at each rtol (atol = rtol/100), with its counts,
/// wall and CPU time and its error against BDF at rtol 1e-11: the work–precision curve from
/// which the rtol at which gstarve's error equals the peer's can be read.
pub(super) fn sweep(dynamics: &SoftmaxDynamics, rtols: &[f64], repeat: usize) {
    let z0 = DVector::zeros(OdeProblem::dim(dynamics));
    let reference = {
        let o = FlowOptions::new(T_END, POINTS, 1e-11, 1e-13, FlowMethod::Bdf).unwrap();
        softmax_flow(dynamics, &z0, &o).expect("reference")
    };
    for &rtol in rtols {
        let o = FlowOptions::new(T_END, POINTS, rtol, rtol * 1e-2, FlowMethod::Auto).unwrap();
        let mut cpu_best = f64::INFINITY;
        let (best, _, sol) = best_of(repeat, || {
            let cpu = cpu_seconds();
            let sol = softmax_flow(dynamics, &z0, &o).expect("flow");
            cpu_best = cpu_best.min(cpu_seconds() - cpu);
            sol
        });
        println!(
            "sweep rtol {rtol:.1e} ({}): {best:.3} s wall, {cpu_best:.3} s CPU, {}, \
             max |z − ref| = {:.2e}",
            sol.stats.solver,
            work(&sol.stats),
            max_abs_gap(sol.states.as_slice(), reference.states.as_slice())
        );
        {
            // Where the error arises: the largest gap at a few output points.
            let r = OdeProblem::dim(dynamics);
            let gaps: Vec<f64> = sol
                .states
                .as_slice()
                .chunks(r)
                .zip(reference.states.as_slice().chunks(r))
                .map(|(a, b)| max_abs_gap(a, b))
                .collect();
            let worst = gaps
                .iter()
                .enumerate()
                .fold((0, 0.0), |m, (i, &g)| if g > m.1 { (i, g) } else { m });
            let at: Vec<String> = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
                .iter()
                .map(|&i| format!("τ={i}:{:.1e}", gaps[i]))
                .collect();
            println!(
                "  largest at τ = {} ({:.2e}); {}",
                worst.0,
                worst.1,
                at.join(" ")
            );
        }
    }
}

/// `--local`: BDF with the local stiffness estimate against the global bound (and the
/// functional-iteration rate limits in `rates`), alternating within each repetition; errors
/// against the global-bound BDF at rtol 1e-11 (the reference of the main comparison).
pub(super) fn local_vs_global(
    dynamics: &SoftmaxDynamics,
    rtols: &[f64],
    rates: &[f64],
    repeat: usize,
) {
    let z0 = vec![0.0; OdeProblem::dim(dynamics)];
    let options = |rtol: f64| FlowOptions::new(T_END, POINTS, rtol, rtol * 1e-2, FlowMethod::Bdf);
    let global = Withheld::local_estimate(dynamics);
    let reference = {
        let o = options(1e-11).unwrap();
        solve(&Bdf::default(), &global, &z0, o.grid(), o.tolerances()).expect("reference")
    };
    for &rtol in rtols {
        let o = options(rtol).unwrap();
        let mut runs: Vec<(String, f64, f64, Option<OdeSolution>)> = Vec::new();
        for rep in 0..repeat {
            let mut i = 0;
            let mut cpu = cpu_seconds();
            let mut record = |name: String, sol: OdeSolution| {
                if rep == 0 {
                    runs.push((name, f64::INFINITY, f64::INFINITY, None));
                }
                let now = cpu_seconds();
                runs[i].1 = runs[i].1.min(sol.stats.wall_s);
                runs[i].2 = runs[i].2.min(now - cpu);
                cpu = now;
                runs[i].3 = Some(sol);
                i += 1;
            };
            let sol = solve(&Bdf::default(), &global, &z0, o.grid(), o.tolerances()).unwrap();
            record("global bound (before)".into(), sol);
            for &rate in rates {
                let params = BdfParams {
                    functional_max_rate: rate,
                    ..BdfParams::DEFAULT
                };
                let sol = solve(&Bdf { params }, dynamics, &z0, o.grid(), o.tolerances()).unwrap();
                record(format!("local estimate, c·ρ ≤ {rate}"), sol);
            }
            for (name, params) in [
                (
                    "local estimate, M age ∞",
                    BdfParams {
                        lu_max_age: u64::MAX,
                        ..BdfParams::DEFAULT
                    },
                ),
                (
                    "local estimate, c·ρ ≤ 0.4, Newton coef 0.05",
                    BdfParams {
                        functional_max_rate: 0.4,
                        newton: NewtonTest::Cvode { coef: 0.05 },
                        ..BdfParams::DEFAULT
                    },
                ),
                (
                    "local estimate, c·ρ ≤ 0.4, M age ∞",
                    BdfParams {
                        functional_max_rate: 0.4,
                        lu_max_age: u64::MAX,
                        ..BdfParams::DEFAULT
                    },
                ),
            ] {
                let sol = solve(&Bdf { params }, dynamics, &z0, o.grid(), o.tolerances()).unwrap();
                record(name.into(), sol);
            }
        }
        for (name, wall, cpu, sol) in &runs {
            let sol = sol.as_ref().expect("one run");
            println!(
                "rtol {rtol:.0e} {name}: {wall:.3} s (CPU {cpu:.3} s), {}, max |Δ| = {:.1e}",
                work(&sol.stats),
                max_abs_gap(sol.states.as_slice(), reference.states.as_slice())
            );
        }
    }
}
