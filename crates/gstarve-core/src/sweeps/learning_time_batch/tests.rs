use nalgebra::Vector2;

use super::*;
use crate::error::NumericalError;
use crate::model::MarginFlowN;
use crate::ode::{solve, OutputGrid, Tolerances};
use crate::solvers::dp45::lanes::{TableExp, Watch, LANES};
use crate::solvers::dp45::Dp45;
use crate::sweeps::grid::{Axis, Grid, Parameter, RotationFamily};
use crate::sweeps::learning_time::learning_time;
use crate::sweeps::measures::{evaluate, Measure};
use crate::sweeps::phase_diagram::{phase_diagram, phase_diagram_rows};
use crate::sweeps::progress::Progress;
use crate::sweeps::rotation::rotation_steady_state;

/// Rotation systems (r, δ, λ) whose flows' lengths and grids differ ([`lane_flows`] takes four
/// flows of each).
fn families() -> Vec<(f64, f64, f64)> {
    let mut out = Vec::new();
    for (i, r) in [1.0, 1.7, 3.0, 5.0].into_iter().enumerate() {
        for (j, delta) in [0.05, 0.3, 0.7, 0.95].into_iter().enumerate() {
            out.push((r, delta, [0.01, 0.1, 0.003][(i + j) % 3]));
        }
    }
    out
}

/// Collects every output of every flow.
struct Collect<const N: usize> {
    flows: Vec<LaneFlow<N>>,
    outputs: Vec<Vec<(usize, f64, [f64; N])>>,
    ends: Vec<Option<LaneEnd>>,
}

impl<const N: usize> LaneJobs<N> for Collect<N> {
    fn next(&mut self) -> Option<LaneFlow<N>> {
        self.flows.pop()
    }
    fn output(&mut self, tag: usize, k: usize, tau: f64, m: &[f64; N]) -> bool {
        self.outputs[tag].push((k, tau, *m));
        true
    }
    fn end(&mut self, tag: usize, end: LaneEnd) {
        self.ends[tag] = Some(end);
    }
}

/// Four flows of each of [`families`] (other starts and grids), twice as many as the lanes, so
/// that every lane takes a second flow.
fn lane_flows() -> (Vec<LaneFlow<2>>, Vec<MarginFlowN<2>>) {
    let mut flows = Vec::new();
    let mut problems = Vec::new();
    let systems = families();
    for tag in 0..4 * systems.len() {
        let (family, variant) = (tag % systems.len(), (tag / systems.len()) as f64);
        let (r, delta, lambda) = systems[family];
        let sys = FeatureSystem::rotation(2.0 * r, 2.0, delta).unwrap();
        let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda }).unwrap();
        let flow = MarginFlowN::<2>::new(&d).unwrap();
        let (gram, decay, lambda_sd) = LaneFlow::parameters(&flow).unwrap();
        let f = family as f64;
        flows.push(LaneFlow {
            gram,
            decay,
            lambda_sd,
            m0: [0.1 * f + 0.03 * variant, -0.05 * f - 0.02 * variant],
            t_end: 5.0 + 20.0 * f - variant,
            points: 7 + 13 * family + 5 * tag / systems.len(),
            rtol: 1e-9,
            atol: 1e-11,
            max_steps: 1_000_000,
            tag,
            watch: None,
        });
        problems.push(flow);
    }
    (flows, problems)
}

fn run_collect<E: LaneExp>(flows: &[LaneFlow<2>]) -> Collect<2> {
    let mut jobs = Collect {
        flows: flows.iter().rev().copied().collect(),
        outputs: vec![Vec::new(); flows.len()],
        ends: vec![None; flows.len()],
    };
    run_lanes::<E, 2, _>(&mut jobs);
    jobs
}

/// [`TableExp`]'s functions lane by lane (the trait's defaults): the same values without the
/// vectorised array forms, to check that vectorising them changes nothing.
struct PerLane;

impl LaneExp for PerLane {
    fn exp(x: f64) -> f64 {
        TableExp::exp(x)
    }
    fn ln(x: f64) -> f64 {
        TableExp::ln(x)
    }
}

#[test]
fn lanes_reproduce_dp45_bit_for_bit_vectorised_or_lane_by_lane() {
    let (flows, problems) = lane_flows();
    assert!(flows.len() >= 2 * LANES);
    let exact = run_collect::<TableExp>(&flows);
    let per_lane = run_collect::<PerLane>(&flows);
    for (f, problem) in flows.iter().zip(&problems) {
        let grid = OutputGrid::uniform(f.t_end, f.points).unwrap();
        let tol = Tolerances::new(f.rtol, f.atol).unwrap();
        let one = solve(&Dp45, problem, &f.m0, &grid, &tol).unwrap();
        assert_eq!(exact.ends[f.tag], Some(LaneEnd::Done));
        assert_eq!(per_lane.ends[f.tag], Some(LaneEnd::Done));
        let outputs = &exact.outputs[f.tag];
        assert_eq!(outputs.len(), f.points);
        for (k, &(kk, tau, m)) in outputs.iter().enumerate() {
            assert_eq!(kk, k);
            assert_eq!(tau, one.tau[k]);
            assert_eq!(&m[..], &one.states[k], "flow {} point {k}", f.tag);
        }
        assert_eq!(outputs, &per_lane.outputs[f.tag], "flow {}", f.tag);
    }
}

#[test]
fn a_watch_delivers_the_first_crossing_of_the_full_output_bit_for_bit() {
    let (flows, _) = lane_flows();
    let all = run_collect::<TableExp>(&flows);
    let weights = [0.6, -0.8];
    let sum = |m: &[f64; 2]| {
        let mut acc = 0.0;
        for (w, v) in weights.iter().zip(m) {
            acc += w * v;
        }
        acc
    };
    // Targets met near 2/3 of the grid, at its last point, and never (every third flow).
    let watched: Vec<LaneFlow<2>> = flows
        .iter()
        .map(|f| {
            let out = &all.outputs[f.tag];
            let k = [2 * f.points / 3, f.points - 1, 0][f.tag % 3];
            let target = if k == 0 { 1e3 } else { sum(&out[k].2) / 0.9 };
            LaneFlow {
                watch: Some(Watch {
                    weights,
                    target,
                    fraction: 0.9,
                }),
                ..*f
            }
        })
        .collect();
    let mut crossings = 0;
    for exp in 0..2 {
        let (full, got) = if exp == 0 {
            (all.outputs.clone(), run_collect::<TableExp>(&watched))
        } else {
            let full = run_collect::<PerLane>(&flows).outputs;
            (full, run_collect::<PerLane>(&watched))
        };
        for f in &watched {
            let w = f.watch.unwrap();
            let out = &full[f.tag];
            let first = (1..out.len()).find(|&k| sum(&out[k].2) / w.target >= w.fraction);
            let (k, end) = match first {
                Some(k) => (k, LaneEnd::Stopped),
                None => (out.len() - 1, LaneEnd::Done),
            };
            crossings += usize::from(first.is_some());
            assert_eq!(
                got.outputs[f.tag],
                vec![out[k - 1], out[k]],
                "flow {}",
                f.tag
            );
            assert_eq!(got.ends[f.tag], Some(end), "flow {}", f.tag);
        }
    }
    assert!(crossings >= flows.len(), "{crossings} crossings");
}

#[test]
fn stiff_and_invalid_flows_end_as_the_one_system_path_says() {
    let (mut flows, problems) = lane_flows();
    // A long flow (s₁ = 10, λ = 0.01, τ ≤ 10⁶: stiff for DP45 once near its steady state), and an
    // invalid one.
    let long = flows.len() - 1;
    flows[long].t_end = 1e6;
    flows[long].points = 3;
    flows[0].t_end = f64::NAN;
    let ends = run_collect::<TableExp>(&flows).ends;
    let grid = OutputGrid::uniform(1e6, 3).unwrap();
    let tol = Tolerances::new(1e-9, 1e-11).unwrap();
    let one = solve(&Dp45, &problems[long], &flows[long].m0, &grid, &tol);
    match (&ends[long], one) {
        (
            Some(LaneEnd::Stiff { tau }),
            Err(crate::error::Error::Numerical(NumericalError::StiffnessDetected {
                tau: one, ..
            })),
        ) => assert_eq!(*tau, one),
        (end, one) => panic!("lanes {end:?}, one system {one:?}"),
    }
    assert_eq!(ends[0], Some(LaneEnd::Failed { tau: 0.0 }));
}

fn inputs_of(systems: &[(FeatureSystem, f64, f64)]) -> Vec<LearningTimeInput<'_>> {
    systems
        .iter()
        .map(|(system, lambda, target)| LearningTimeInput {
            system,
            lambda: *lambda,
            response: 1,
            target: *target,
            margins: None,
        })
        .collect()
}

#[test]
fn learning_times_equal_the_one_system_path() {
    let mut systems = Vec::new();
    for (r, delta, lambda) in families() {
        let family = RotationFamily {
            ratio: r,
            coupling: delta,
            lambda,
            weak_strength: 2.0,
        };
        let z = rotation_steady_state(&family, Vector2::zeros())
            .unwrap()
            .responses;
        let sys = FeatureSystem::rotation(2.0 * r, 2.0, delta).unwrap();
        systems.push((sys, lambda, z[1]));
    }
    // A target the flow never reaches, and one the checks refuse.
    systems.push((systems[3].0.clone(), systems[3].1, 10.0 * systems[3].2));
    systems.push((systems[4].0.clone(), systems[4].1, 0.0));
    let params = LearningTimeParams {
        max_windows: 3,
        ..LearningTimeParams::default()
    };
    let inputs = inputs_of(&systems);
    let exact = learning_times(&inputs, &params);
    let per_lane = learning_times_with::<PerLane>(&inputs, &params);
    let mut found = 0;
    for (i, input) in inputs.iter().enumerate() {
        let one = learning_time(input.system, input.lambda, 1, input.target, &params);
        match (&one, &exact[i], &per_lane[i]) {
            (Ok(Some(a)), Ok(Some(b)), Ok(Some(c))) => {
                assert_eq!(a, b, "input {i}");
                assert_eq!(a, c, "input {i}");
                found += 1;
            }
            (Ok(None), Ok(None), Ok(None)) => assert_eq!(i, inputs.len() - 2),
            (Err(a), Err(b), Err(c)) => {
                assert_eq!(i, inputs.len() - 1);
                assert_eq!(a.to_string(), b.to_string());
                assert_eq!(a.to_string(), c.to_string());
            }
            other => panic!("input {i}: {other:?}"),
        }
    }
    assert_eq!(found, inputs.len() - 2);
}

#[test]
fn tau90_diagram_rows_match_the_one_point_path_and_do_not_depend_on_the_rows_computed() {
    let spec = PhaseDiagramSpec {
        grid: Grid {
            x: Axis::linear(Parameter::Ratio, 1.0, 5.0, 11),
            y: Axis::linear(Parameter::Coupling, 0.0, 0.95, 4),
            fixed: RotationFamily::default(),
        },
        measure: Measure::LearningTime,
        learning: LearningTimeParams::default(),
    };
    let diagram = phase_diagram(&spec, Progress::Hidden).unwrap();
    let mut unmasked = 0;
    for iy in 0..4 {
        let mut row = RowState::default();
        for ix in 0..11 {
            let one = evaluate(
                spec.measure,
                &spec.grid.family(ix, iy),
                &mut row,
                &spec.learning,
            );
            let batched = diagram.at(ix, iy);
            assert_eq!(one.mask, batched.mask, "({ix}, {iy})");
            assert_eq!(one.responses, batched.responses);
            if one.mask.is_none() {
                assert_eq!(one.resolution, batched.resolution);
                assert_eq!(one.value.to_bits(), batched.value.to_bits(), "({ix}, {iy})");
                unmasked += 1;
            }
        }
    }
    assert!(unmasked >= 40, "{unmasked} unmasked points");
    let rows = phase_diagram_rows(&spec, &[2, 0], Progress::Hidden).unwrap();
    for (row, iy) in rows.iter().zip([2, 0]) {
        for (ix, p) in row.iter().enumerate() {
            let q = diagram.at(ix, iy);
            assert_eq!(p.value.to_bits(), q.value.to_bits());
            assert_eq!(p.resolution.to_bits(), q.resolution.to_bits());
        }
    }
}
