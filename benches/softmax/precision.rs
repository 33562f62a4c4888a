//! `--precision`: BDF's iteration matrix in f32 (the default from r = 256 on, docs/theory.md
//! §12.2) against the same BDF with it in f64 (`Withheld::single_precision`), on the
//! benchmark's system for each seed and rtol: the work counts (steps, evaluations, Jacobians,
//! factorisations, Newton iterations and failures, f32 factorisations and fallbacks), the
//! condition range 1 + c·ρ̂ of the f32 matrices, the error of each against the f64-matrix BDF
//! at rtol 1e-11, the largest difference between the two trajectories, and wall and CPU time,
//! the two alternating within each repetition.

use super::*;

/// One line of the comparison.
fn line(label: &str, sol: &OdeSolution, wall: f64, cpu: f64, err: f64) {
    let s = &sol.stats;
    let n = &s.newton;
    let condition = n
        .single_condition
        .map_or("–".to_string(), |(lo, hi)| format!("{lo:.3}–{hi:.1}"));
    println!(
        "  {label}: {wall:.3} s wall, {cpu:.3} s CPU, {}, newton {} iterations {} failures, f32 \
         factorisations {} fallbacks {}, condition {condition}, max |z − ref| = {err:.2e}",
        work(s),
        n.iterations,
        n.failures,
        n.single_factorisations,
        n.single_fallbacks
    );
}

/// `--precision --seeds S1,… --rtols R1,… [--dump DIR]`: see the module documentation; with
/// `--dump`, each seed's flows at the last rtol are written as `flow-f64-S.npy` and
/// `flow-f32-S.npy`.
pub(super) fn precision(
    dir: &Path,
    seeds: &[u64],
    rtols: &[f64],
    repeat: usize,
    dump: Option<&Path>,
) {
    for &seed in seeds {
        let file = dir.join(format!("softmax-{seed}.json"));
        let system = write_system(&file, seed);
        let dynamics =
            SoftmaxDynamics::new(&system, Regulariser::L2 { lambda: LAMBDA }).expect("dynamics");
        let double = Withheld::single_precision(&dynamics);
        let r = OdeProblem::dim(&dynamics);
        let z0 = vec![0.0; r];
        let run = |problem: &dyn OdeProblem, rtol: f64| {
            let o = FlowOptions::new(T_END, POINTS, rtol, rtol * 1e-2, FlowMethod::Bdf).unwrap();
            let cpu = cpu_seconds();
            let start = Instant::now();
            let sol = solve(&Bdf::default(), problem, &z0, o.grid(), o.tolerances()).expect("flow");
            (sol, start.elapsed().as_secs_f64(), cpu_seconds() - cpu)
        };
        let (reference, _, _) = run(&double, 1e-11);
        let (single_reference, _, _) = run(&dynamics, 1e-11);
        let reference = reference.states.as_slice();
        println!(
            "seed {seed}: reference f64 M at rtol 1e-11 (max |z| {:.3e}); the f32-M run at 1e-11 \
             differs from it by {:.2e}",
            reference.iter().fold(0.0f64, |m, v| m.max(v.abs())),
            max_abs_gap(single_reference.states.as_slice(), reference)
        );
        for &rtol in rtols {
            println!(" rtol {rtol:.1e}:");
            let mut last = None;
            for _ in 0..repeat {
                let (d, dw, dc) = run(&double, rtol);
                let (s, sw, sc) = run(&dynamics, rtol);
                let err = max_abs_gap(d.states.as_slice(), reference);
                line("f64 M", &d, dw, dc, err);
                let err = max_abs_gap(s.states.as_slice(), reference);
                line("f32 M", &s, sw, sc, err);
                last = Some((d, s));
            }
            let (d, s) = last.expect("one repetition");
            println!(
                "  max |z(f32 M) − z(f64 M)| = {:.2e}",
                max_abs_gap(s.states.as_slice(), d.states.as_slice())
            );
            if let Some(out) = dump.filter(|_| Some(&rtol) == rtols.last()) {
                for (name, sol) in [("f64", &d), ("f32", &s)] {
                    write_npy(
                        &out.join(format!("flow-{name}-{seed}.npy")),
                        &DMatrix::from_row_slice(POINTS, r, sol.states.as_slice()),
                    )
                    .unwrap();
                }
            }
        }
    }
}
