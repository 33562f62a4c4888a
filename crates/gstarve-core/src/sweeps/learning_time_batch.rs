//! Learning times τ_f of many small systems at once (issue #17): [`learning_time`]'s algorithm —
//! the same windows, coarse and fine grids, crossing test and interpolation — with every flow
//! integrated in the lanes of [`crate::solvers::dp45::lanes`] (DP45 across systems, each lane
//! with its own step size), chunks of systems in parallel (rayon).
//!
//! It applies where [`learning_time`]'s flows are DP45's: systems with n = r ≤ 4 examples
//! (margin flows of the logistic loss). A point whose flow the lanes find stiff, or that fails
//! or does not apply, is computed by [`learning_time`] itself from the start, so every result
//! is the one-system path's, bit for bit: the lanes evaluate σ(−m) and the controller with the
//! one-system DP45's exponential and logarithm, vectorised ([`TableExp`]; tested, and measured
//! in docs/benchmarks.md, issue #17, "τ₉₀ against JAX, fifth pass"). A coarse window stops at its
//! first crossing, as the one-system path's result only reads the states up to it, and every
//! flow carries a [`Watch`] on z_j/z_j*: the lanes test the crossing at every grid point it can
//! be at and deliver only the samples either side of it (or the last two), which is all
//! [`learning_time`] reads.

use std::collections::VecDeque;

use nalgebra::DVector;
use rayon::prelude::*;

use super::learning_time::{first_window, learning_time_from, LearningTime, LearningTimeParams};
use super::measures::{
    learning_time_record, learning_time_system, main_steady_state, MaskReason, PointRecord,
    RowState,
};
use super::phase_diagram::PhaseDiagramSpec;
use super::progress::Tracker;
use crate::error::Result;
use crate::model::{Loss, MarginFlowN, PrimalDynamics, Regulariser};
use crate::ode::{FlowMethod, FlowOptions};
use crate::solvers::dp45::lanes::{
    run_lanes, LaneEnd, LaneExp, LaneFlow, LaneJobs, TableExp, Watch,
};
use crate::systems::FeatureSystem;

/// Systems per parallel chunk (a multiple of the lane count).
const CHUNK: usize = 64;

/// One learning time to compute: [`learning_time`]'s arguments.
#[derive(Clone, Copy, Debug)]
pub struct LearningTimeInput<'a> {
    /// The system.
    pub system: &'a FeatureSystem,
    /// λ of the L2 flow.
    pub lambda: f64,
    /// The response j (0-based).
    pub response: usize,
    /// Its steady value z_j* (≠ 0).
    pub target: f64,
    /// The steady margins m* = U z*, if the caller has them ([`learning_time_from`]).
    pub margins: Option<&'a [f64]>,
}

/// [`learning_time`] of every input, in order, the small systems' flows in lanes.
pub fn learning_times(
    inputs: &[LearningTimeInput<'_>],
    params: &LearningTimeParams,
) -> Vec<Result<Option<LearningTime>>> {
    learning_times_with::<TableExp>(inputs, params)
}

/// [`learning_times`] with the lanes' exponential `E`.
pub(crate) fn learning_times_with<E: LaneExp>(
    inputs: &[LearningTimeInput<'_>],
    params: &LearningTimeParams,
) -> Vec<Result<Option<LearningTime>>> {
    inputs
        .par_chunks(CHUNK)
        .flat_map_iter(|chunk| learning_times_sequential::<E>(chunk, params))
        .collect()
}

/// [`learning_times_with`] on the calling thread.
pub(crate) fn learning_times_sequential<E: LaneExp>(
    inputs: &[LearningTimeInput<'_>],
    params: &LearningTimeParams,
) -> Vec<Result<Option<LearningTime>>> {
    let mut done: Vec<Option<Option<LearningTime>>> = vec![None; inputs.len()];
    macro_rules! sized {
        ($n:literal) => {{
            let picked: Vec<usize> = (0..inputs.len())
                .filter(|&i| inputs[i].system.examples() == $n && inputs[i].system.rank() == $n)
                .collect();
            if !picked.is_empty() {
                let mut batch = Batch::<$n>::new(inputs, &picked, params);
                run_lanes::<E, $n, _>(&mut batch);
                for p in batch.points {
                    if let Outcome::Done(t) = p.outcome {
                        done[p.input] = Some(t);
                    }
                }
            }
        }};
    }
    sized!(1);
    sized!(2);
    sized!(3);
    sized!(4);
    inputs
        .iter()
        .zip(done)
        .map(|(input, d)| match d {
            Some(t) => Ok(t),
            None => learning_time_from(
                input.system,
                input.lambda,
                input.response,
                input.target,
                input.margins,
                params,
            ),
        })
        .collect()
}

/// Where a point stands.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    Running,
    Done(Option<LearningTime>),
    /// Computed by the one-system path instead.
    OneSystem,
}

/// K, μ and λ_SD of a point's flow ([`LaneFlow::parameters`]).
type FlowParameters<const N: usize> = ([[f64; N]; N], f64, f64);

/// A state on an output grid: z and τ (within its flow).
type Sample<const N: usize> = ([f64; N], f64);

/// The flow a point is in.
#[derive(Clone, Copy, Debug)]
enum Phase<const N: usize> {
    /// A window of length `length` from the point's `start`; `crossed` once a sample reaches
    /// the fraction (the point's `a`, `b` are then the samples k − 1 and k).
    Coarse { length: f64, crossed: bool },
    /// The fine grid over the coarse interval [τ_{k−1}, τ_k] that crossed, τ_{k−1} = `offset`.
    Fine { offset: f64, crossed: bool },
}

struct Point<'a, const N: usize> {
    input: usize,
    system: &'a FeatureSystem,
    response: usize,
    target: f64,
    /// uᵀ: `ut[j][i]` = U_ij, z_j = Σᵢ U_ij m_i.
    ut: [[f64; N]; N],
    parameters: FlowParameters<N>,
    start: f64,
    windows: usize,
    phase: Phase<N>,
    a: Sample<N>,
    b: Sample<N>,
    outcome: Outcome,
}

struct Batch<'a, 'p, const N: usize> {
    points: Vec<Point<'a, N>>,
    queue: VecDeque<LaneFlow<N>>,
    params: &'p LearningTimeParams,
}

impl<'a, 'p, const N: usize> Batch<'a, 'p, N> {
    /// The points of `picked` (indices into `inputs`, all N × N), each with its first window
    /// queued, or handed to the one-system path when a check or set-up fails there.
    fn new(
        inputs: &[LearningTimeInput<'a>],
        picked: &[usize],
        params: &'p LearningTimeParams,
    ) -> Self {
        let mut batch = Batch {
            points: Vec::with_capacity(picked.len()),
            queue: VecDeque::new(),
            params,
        };
        for &i in picked {
            let input = inputs[i];
            let tag = batch.points.len();
            let set_up = Self::set_up(&input, params);
            let mut point = Point {
                input: i,
                system: input.system,
                response: input.response,
                target: input.target,
                ut: [[0.0; N]; N],
                parameters: ([[0.0; N]; N], 0.0, 0.0),
                start: 0.0,
                windows: 0,
                phase: Phase::Coarse {
                    length: 0.0,
                    crossed: false,
                },
                a: ([0.0; N], 0.0),
                b: ([0.0; N], 0.0),
                outcome: Outcome::OneSystem,
            };
            if let Some((parameters, window)) = set_up {
                let u = input.system.coupling();
                for (j, row) in point.ut.iter_mut().enumerate() {
                    for (i, v) in row.iter_mut().enumerate() {
                        *v = u[(i, j)];
                    }
                }
                point.parameters = parameters;
                point.outcome = Outcome::Running;
                batch.points.push(point);
                batch.coarse(tag, DVector::zeros(N), window);
            } else {
                batch.points.push(point);
            }
        }
        batch
    }

    /// [`learning_time`]'s checks and set-up: the flow's parameters and the first window, or
    /// `None` where it would fail (the one-system path then reports why).
    fn set_up(
        input: &LearningTimeInput<'_>,
        params: &LearningTimeParams,
    ) -> Option<(FlowParameters<N>, f64)> {
        let ok = input.response < input.system.rank()
            && input.target.is_finite()
            && input.target != 0.0
            && params.fraction > 0.0
            && params.fraction < 1.0
            && params.max_windows > 0;
        if !ok {
            return None;
        }
        let regulariser = Regulariser::L2 {
            lambda: input.lambda,
        };
        let dynamics = PrimalDynamics::new(input.system, Loss::Logistic, regulariser).ok()?;
        let window = first_window(&dynamics, input.margins, params).ok()?;
        let parameters = LaneFlow::parameters(&MarginFlowN::<N>::new(&dynamics)?)?;
        Some((parameters, window))
    }

    /// Queue a flow of point `tag` from z over `length` with `points` outputs, or hand the
    /// point to the one-system path if those options are invalid.
    fn queue_flow(&mut self, tag: usize, z: DVector<f64>, length: f64, points: usize) {
        let p = self.params;
        let Ok(options) = FlowOptions::new(length, points, p.rtol, p.atol, FlowMethod::Auto) else {
            self.points[tag].outcome = Outcome::OneSystem;
            return;
        };
        let point = &self.points[tag];
        let m = point.system.margins(&z);
        let tolerances = options.tolerances();
        let (gram, decay, lambda_sd) = point.parameters;
        self.queue.push_back(LaneFlow {
            gram,
            decay,
            lambda_sd,
            m0: std::array::from_fn(|i| m[i]),
            t_end: length,
            points,
            rtol: tolerances.rtol(),
            atol: tolerances.atol(),
            max_steps: tolerances.max_steps(),
            tag,
            // z_j = Σᵢ U_ij m_i reaching the fraction of z_j*: only the samples around the
            // crossing (or the last two) are delivered to `output`.
            watch: Some(Watch {
                weights: point.ut[point.response],
                target: point.target,
                fraction: p.fraction,
            }),
        });
    }

    fn coarse(&mut self, tag: usize, z: DVector<f64>, length: f64) {
        self.points[tag].phase = Phase::Coarse {
            length,
            crossed: false,
        };
        self.queue_flow(tag, z, length, self.params.coarse_points);
    }
}

impl<const N: usize> LaneJobs<N> for Batch<'_, '_, N> {
    fn next(&mut self) -> Option<LaneFlow<N>> {
        self.queue.pop_front()
    }

    fn output(&mut self, tag: usize, k: usize, tau: f64, m: &[f64; N]) -> bool {
        let fraction = self.params.fraction;
        let p = &mut self.points[tag];
        // z = Uᵀm, as the one-system path maps each state.
        let mut z = [0.0; N];
        for (zj, row) in z.iter_mut().zip(&p.ut) {
            let mut acc = 0.0;
            for (&uij, &mi) in row.iter().zip(m) {
                acc += uij * mi;
            }
            *zj = acc;
        }
        if k == 0 {
            p.b = (z, tau);
            return true;
        }
        p.a = p.b;
        p.b = (z, tau);
        if z[p.response] / p.target >= fraction {
            match &mut p.phase {
                Phase::Coarse { crossed, .. } | Phase::Fine { crossed, .. } => *crossed = true,
            }
            return false;
        }
        true
    }

    fn end(&mut self, tag: usize, end: LaneEnd) {
        if matches!(end, LaneEnd::Stiff { .. } | LaneEnd::Failed { .. }) {
            self.points[tag].outcome = Outcome::OneSystem;
            return;
        }
        let params = self.params;
        let p = &mut self.points[tag];
        match p.phase {
            Phase::Coarse { length, crossed } => {
                if crossed {
                    let (z, offset) = p.a;
                    let span = p.b.1 - offset;
                    p.phase = Phase::Fine {
                        offset,
                        crossed: false,
                    };
                    self.queue_flow(
                        tag,
                        DVector::from_column_slice(&z),
                        span,
                        params.fine_points,
                    );
                } else {
                    p.start += length;
                    p.windows += 1;
                    if p.windows == params.max_windows {
                        p.outcome = Outcome::Done(None);
                    } else {
                        let z = DVector::from_column_slice(&p.b.0);
                        self.coarse(tag, z, 2.0 * length);
                    }
                }
            }
            Phase::Fine { offset, .. } => {
                // The crossing, or the last interval when the fine grid does not cross.
                let ratio = |s: &[f64; N]| s[p.response] / p.target;
                let (a, b) = (ratio(&p.a.0), ratio(&p.b.0));
                let h = p.b.1 - p.a.1;
                let t = if b > a {
                    ((params.fraction - a) / (b - a)).clamp(0.0, 1.0)
                } else {
                    1.0
                };
                let tau = p.start + offset + p.a.1 + t * h;
                p.outcome = Outcome::Done(Some(LearningTime { tau, resolution: h }));
            }
        }
    }
}

/// Row `iy` of a τ₉₀ phase diagram: the steady states left to right (each warm-started from its
/// left neighbour, as [`super::measures::evaluate`] does), then the row's learning times
/// together ([`learning_times_sequential`]: a row is one chunk; rows run in parallel), each
/// flow's first window from the linearisation at that steady state.
pub(crate) fn learning_time_row(
    spec: &PhaseDiagramSpec,
    iy: usize,
    tracker: &Tracker<'_>,
) -> Vec<PointRecord> {
    let grid = spec.grid;
    let mut row = RowState::default();
    let mut records = Vec::with_capacity(grid.x.points);
    let mut flows = Vec::new();
    for ix in 0..grid.x.points {
        tracker.poll();
        let family = grid.family(ix, iy);
        let Some(steady) = main_steady_state(&family, &mut row) else {
            records.push(PointRecord::masked(MaskReason::NotConverged, [f64::NAN; 2]));
            continue;
        };
        let (z, m) = (steady.responses, steady.margins);
        match learning_time_system(&family, &z) {
            Ok(system) => {
                flows.push((ix, system, family.lambda, z, [m[0], m[1]]));
                records.push(PointRecord::masked(MaskReason::FlowFailed, [z[0], z[1]]));
            }
            Err(masked) => records.push(masked),
        }
    }
    let inputs: Vec<LearningTimeInput<'_>> = flows
        .iter()
        .map(|(_, system, lambda, z, m)| LearningTimeInput {
            system,
            lambda: *lambda,
            response: 1,
            target: z[1],
            margins: Some(m),
        })
        .collect();
    let times = learning_times_sequential::<TableExp>(&inputs, &spec.learning);
    for ((ix, _, _, z, _), time) in flows.iter().zip(times) {
        records[*ix] = learning_time_record(time, [z[0], z[1]]);
    }
    records
}

#[cfg(test)]
mod tests;
