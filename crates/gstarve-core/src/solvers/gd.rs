//! Gradient descent: the exact discrete map z_{k+1} = z_k + ηF(z_k) (docs/theory.md §3), and GD on the
//! parameters θ itself, projected to z = S Vᵀθ.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Instant;

use nalgebra::{DMatrix, DVector};

use crate::error::{Error, InputError, NumericalError, Result};
use crate::model::symmetric::{split_column, symmetric_product_part};
use crate::model::{Loss, MarginFlow, MarginFlowN, PrimalDynamics, Regulariser};
use crate::ode::OdeProblem;
use crate::ode::{OdeSolution, SolverStats, Trajectory};
use crate::systems::{labels_to_signs, FeatureSystem};

/// Options of a gradient-descent run, valid by construction ([`GdOptions::new`]); the
/// stability of η is checked against the dynamics when the run starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GdOptions {
    eta: f64,
    steps: usize,
    points: usize,
    allow_unstable: bool,
}

impl GdOptions {
    /// Step size η (finite, > 0), steps K (≥ 1), recorded points (≥ 2, evenly spaced in k,
    /// always including 0 and K), and whether to run even when η exceeds the stability bound
    /// of docs/theory.md §3 (divergence is still detected and reported).
    pub fn new(eta: f64, steps: usize, points: usize, allow_unstable: bool) -> Result<Self> {
        if !(eta.is_finite() && eta > 0.0) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "eta",
                value: eta,
                rule: "the learning rate must be finite and > 0",
            }));
        }
        if steps == 0 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "steps",
                value: 0.0,
                rule: "gradient descent needs at least one step",
            }));
        }
        if points < 2 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "points",
                value: points as f64,
                rule: "at least 2 recorded points",
            }));
        }
        Ok(Self {
            eta,
            steps,
            points,
            allow_unstable,
        })
    }

    /// The step size η.
    pub fn eta(&self) -> f64 {
        self.eta
    }

    /// The number of steps K.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The number of recorded points.
    pub fn points(&self) -> usize {
        self.points
    }

    /// Whether an η beyond the stability bound is allowed.
    pub fn allow_unstable(&self) -> bool {
        self.allow_unstable
    }

    /// Check η against the stability bound `curvature_bound`: η·bound < 2 (docs/theory.md §3),
    /// unless unstable steps are allowed.
    pub fn check_stability(&self, curvature_bound: f64) -> Result<()> {
        let product = self.eta * curvature_bound;
        if product >= 2.0 && !self.allow_unstable {
            return Err(Error::Input(InputError::UnstableStep {
                eta: self.eta,
                bound: curvature_bound,
                product,
                limit: 2.0 / curvature_bound,
            }));
        }
        Ok(())
    }

    /// The recorded step indices: k_i = round(i·K/(points − 1)), deduplicated.
    pub fn recorded_steps(&self) -> Vec<usize> {
        let pts = self.points.min(self.steps + 1);
        let mut ks: Vec<usize> = (0..pts)
            .map(|i| ((i as f64) * self.steps as f64 / (pts - 1) as f64).round() as usize)
            .collect();
        ks.dedup();
        ks
    }
}

/// Run the GD map of `problem` (a state-space vector field) from `y0`, recording the chosen steps.
fn iterate(
    problem: &(impl OdeProblem + ?Sized),
    y0: &DVector<f64>,
    options: &GdOptions,
    method: &'static str,
) -> Result<OdeSolution> {
    let record = options.recorded_steps();
    let n = y0.len();
    let mut y = y0.clone();
    let mut dy = DVector::zeros(n);
    let mut states = Trajectory::with_capacity(n, record.len());
    let mut next = 0;
    let start = Instant::now();
    for k in 0..=options.steps {
        if next < record.len() && record[next] == k {
            check_finite(y.iter(), method, k, options.eta)?;
            states.push(y.as_slice());
            next += 1;
        }
        if k == options.steps {
            break;
        }
        problem.rhs(y.as_slice(), dy.as_mut_slice());
        y.axpy(options.eta, &dy, 1.0);
    }
    let wall = start.elapsed().as_secs_f64();
    Ok(gd_solution(&record, options, states, wall, method))
}

/// The GD map on the margins for N ≤ 4 examples, on fixed-size arrays: the same operations as
/// [`iterate_margins`] (so the same numbers), without its per-step loop and slice bookkeeping
/// (callgrind at n = 2: 353 instructions per step before, of which 102 in `exp`).
fn iterate_small<const N: usize>(
    flow: &MarginFlowN<N>,
    m0: &DVector<f64>,
    options: &GdOptions,
) -> Result<OdeSolution> {
    let record = options.recorded_steps();
    let mut m = [0.0; N];
    m.copy_from_slice(m0.as_slice());
    let mut dm = [0.0; N];
    let mut states = Trajectory::with_capacity(N, record.len());
    let start = Instant::now();
    let mut k = 0;
    for &target in &record {
        while k < target {
            flow.rhs(&m, &mut dm);
            for (mi, di) in m.iter_mut().zip(&dm) {
                *mi += options.eta * di;
            }
            k += 1;
        }
        check_finite(m.iter(), "gd", k, options.eta)?;
        states.push(&m);
    }
    let wall = start.elapsed().as_secs_f64();
    Ok(gd_solution(&record, options, states, wall, "gd"))
}

/// The GD map on the margins, m_{k+1} = m_k + η ṁ(m_k), with its buffers allocated before the
/// loop.
fn iterate_margins(
    flow: &MarginFlow,
    m0: &DVector<f64>,
    options: &GdOptions,
) -> Result<OdeSolution> {
    if use_team(m0.len(), options) {
        iterate_margins_team(flow, m0, options)
    } else {
        iterate_margins_serial(flow, m0, options)
    }
}

/// [`iterate_margins`] on the calling thread.
fn iterate_margins_serial(
    flow: &MarginFlow,
    m0: &DVector<f64>,
    options: &GdOptions,
) -> Result<OdeSolution> {
    let record = options.recorded_steps();
    let n = m0.len();
    let mut m = m0.clone();
    let mut dm = DVector::zeros(n);
    let mut weights = DVector::zeros(n);
    let mut states = Trajectory::with_capacity(n, record.len());
    let start = Instant::now();
    let mut k = 0;
    for &target in &record {
        while k < target {
            let reverse = k % 2 == 1;
            flow.rhs_directed(
                m.as_slice(),
                weights.as_mut_slice(),
                dm.as_mut_slice(),
                reverse,
            );
            m.axpy(options.eta, &dm, 1.0);
            k += 1;
        }
        check_finite(m.iter(), "gd", k, options.eta)?;
        states.push(m.as_slice());
    }
    let wall = start.elapsed().as_secs_f64();
    Ok(gd_solution(&record, options, states, wall, "gd"))
}

/// Whether [`iterate_margins`] runs on a two-thread team: large n (where the product splits in
/// two, [`crate::model::symmetric::PARALLEL_MIN_DIM`]), two or more threads in rayon's pool
/// (the condition under which the serial product splits too, so the results agree bit for
/// bit; `RAYON_NUM_THREADS=1` turns both off), not already on a
/// rayon worker (a sweep running systems in parallel keeps each on one thread), and enough
/// steps to pay for starting a thread.
fn use_team(n: usize, options: &GdOptions) -> bool {
    n >= crate::model::symmetric::PARALLEL_MIN_DIM
        && options.steps >= TEAM_MIN_STEPS
        && rayon::current_thread_index().is_none()
        && rayon::current_num_threads() >= 2
}

/// Fewest steps for which [`use_team`] starts a second thread.
const TEAM_MIN_STEPS: usize = 16;

/// Spins of a waiting team member before it starts yielding its core.
const SPINS_BEFORE_YIELD: u32 = 1 << 16;

/// A barrier for the two members of the GD team that waits by spinning (then yielding), not
/// by sleeping: a step takes ≈ 100 µs at n = 1000, and waking a sleeping thread (rayon's
/// workers between two products, a condition variable) costs ≈ 10 µs of it.
struct SpinBarrier {
    arrived: AtomicUsize,
    generation: AtomicUsize,
    /// Set when a member leaves the run other than through the barriers (a panic): the other
    /// member must not wait for it forever.
    abandoned: AtomicBool,
}

/// A member of the team left the run early (only a panic can cause it; the panic itself is
/// re-raised by the caller).
struct Abandoned;

impl SpinBarrier {
    const PARTIES: usize = 2;

    fn new() -> Self {
        SpinBarrier {
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            abandoned: AtomicBool::new(false),
        }
    }

    fn wait(&self) -> std::result::Result<(), Abandoned> {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == Self::PARTIES {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
        } else {
            let mut spins = 0u32;
            while self.generation.load(Ordering::Acquire) == generation {
                if self.abandoned.load(Ordering::Acquire) {
                    return Err(Abandoned);
                }
                if spins < SPINS_BEFORE_YIELD {
                    std::hint::spin_loop();
                    spins += 1;
                } else {
                    std::thread::yield_now();
                }
            }
        }
        Ok(())
    }
}

/// Marks the barrier abandoned when dropped during a panic, so that the other member stops
/// waiting instead of spinning for ever.
struct AbandonOnPanic<'a>(&'a SpinBarrier);

impl Drop for AbandonOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abandoned.store(true, Ordering::Release);
        }
    }
}

/// [`iterate_margins`] on two threads that stay alive for the whole run. Member t holds its
/// own copy of m and, each step,
///
/// 1. computes the drive g = ψ(m) − λ_SD m on its half of the examples;
/// 2. (barrier) gathers both halves of g and forms its part of K g (the equal-area halves of
///    the lower triangle, [`symmetric_product_part`]), sweeping the columns in the direction
///    of the step's parity as the serial loop does;
/// 3. (barrier) adds the two parts and takes the step m ← m + η(Kg − λ_L2 m) on its copy.
///
/// Both copies see the same operations in the same order, so they stay identical, and equal to
/// the serial loop's m bit for bit (tested); so both members stop at the same recorded point
/// when the run diverges. Member 0 (the calling thread) records the states. A panic in either
/// member releases the other from the barrier and is re-raised; if the second thread cannot be
/// started, the serial loop runs instead.
fn iterate_margins_team(
    flow: &MarginFlow,
    m0: &DVector<f64>,
    options: &GdOptions,
) -> Result<OdeSolution> {
    let record = options.recorded_steps();
    let n = m0.len();
    let (c, half) = (split_column(n), n / 2);
    let (k, eta, l2) = (flow.gram().as_slice(), options.eta, flow.lambda_l2());
    let barrier = SpinBarrier::new();
    let drives = [
        RwLock::new(vec![0.0; half]),
        RwLock::new(vec![0.0; n - half]),
    ];
    let parts = [RwLock::new(vec![0.0; n]), RwLock::new(vec![0.0; n - c])];
    let member = |t: usize, mut states: Option<&mut Trajectory>| -> Result<()> {
        let _abandon_on_panic = AbandonOnPanic(&barrier);
        let mut m = m0.as_slice().to_vec();
        let mut g = vec![0.0; n];
        let own = if t == 0 { 0..half } else { half..n };
        let mut step = 0;
        for &target in &record {
            while step < target {
                flow.drive(&m[own.clone()], &mut write(&drives[t]));
                // An abandoned barrier means the other member panicked; the caller re-raises
                // that panic, so this member's result is never used.
                if barrier.wait().is_err() {
                    return Ok(());
                }
                g[..half].copy_from_slice(&read_guard(&drives[0]));
                g[half..].copy_from_slice(&read_guard(&drives[1]));
                symmetric_product_part(k, &g, t, &mut write(&parts[t]), step % 2 == 1);
                if barrier.wait().is_err() {
                    return Ok(());
                }
                {
                    let (y0, y1) = (read_guard(&parts[0]), read_guard(&parts[1]));
                    for i in 0..n {
                        let mut dm = if i >= c { y0[i] + y1[i - c] } else { y0[i] };
                        dm -= l2 * m[i];
                        m[i] += eta * dm;
                    }
                }
                step += 1;
            }
            check_finite(m.iter(), "gd", step, eta)?;
            if let Some(states) = states.as_deref_mut() {
                states.push(&m);
            }
        }
        Ok(())
    };
    let mut states = Trajectory::with_capacity(n, record.len());
    let start = Instant::now();
    let outcome = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("gstarve-gd".into())
            .spawn_scoped(scope, || member(1, None));
        // No second thread to be had (a thread limit): the serial loop below instead.
        let other = spawned.ok()?;
        let mine = member(0, Some(&mut states));
        let theirs = other
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Some(mine.and(theirs))
    });
    match outcome {
        Some(result) => result?,
        None => return iterate_margins_serial(flow, m0, options),
    }
    let wall = start.elapsed().as_secs_f64();
    Ok(gd_solution(&record, options, states, wall, "gd"))
}

/// The data behind a team lock (see [`iterate_margins_team`]: the barriers order every access,
/// so a lock is never contended; it only makes the sharing safe).
fn read_guard(lock: &RwLock<Vec<f64>>) -> std::sync::RwLockReadGuard<'_, Vec<f64>> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write(lock: &RwLock<Vec<f64>>) -> std::sync::RwLockWriteGuard<'_, Vec<f64>> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// Err(Diverged) at `step` if any entry of the state is not finite.
fn check_finite<'a>(
    state: impl IntoIterator<Item = &'a f64>,
    method: &'static str,
    step: usize,
    eta: f64,
) -> Result<()> {
    if state.into_iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::Numerical(NumericalError::Diverged {
            method,
            step,
            tau: eta * step as f64,
        }))
    }
}

fn gd_solution(
    record: &[usize],
    options: &GdOptions,
    states: Trajectory,
    wall: f64,
    method: &str,
) -> OdeSolution {
    OdeSolution {
        tau: record.iter().map(|&k| options.eta * k as f64).collect(),
        states,
        stats: SolverStats {
            solver: method.to_string(),
            wall_s: wall,
            rhs_evals: options.steps as u64,
            jacobian_evals: 0,
            steps_accepted: options.steps as u64,
            steps_rejected: 0,
            lu_factorisations: 0,
        },
    }
}

/// GD on the responses: z_{k+1} = z_k + ηF(z_k) from z₀ (docs/theory.md §3).
///
/// With r ≥ n/2 the map is run on the margins m = Uz (m_{k+1} = m_k + η U F(z_k), the same map
/// up to rounding, one n×n product per step) and mapped back by z = Uᵀm.
pub fn gradient_descent(
    dynamics: &PrimalDynamics,
    z0: &DVector<f64>,
    options: &GdOptions,
) -> Result<OdeSolution> {
    options.check_stability(dynamics.curvature_bound())?;
    let sys = dynamics.system();
    if z0.len() != sys.rank() {
        return Err(Error::Input(InputError::Length {
            what: "initial responses z₀",
            found: z0.len(),
            expected: sys.rank(),
            rule: "one per feature",
        }));
    }
    if 2 * sys.rank() >= sys.examples() {
        let m0 = sys.margins(z0);
        // Small systems: the same map on fixed-size arrays (bit for bit the same steps).
        let small = match sys.examples() {
            1 => MarginFlowN::<1>::new(dynamics).map(|f| iterate_small(&f, &m0, options)),
            2 => MarginFlowN::<2>::new(dynamics).map(|f| iterate_small(&f, &m0, options)),
            3 => MarginFlowN::<3>::new(dynamics).map(|f| iterate_small(&f, &m0, options)),
            4 => MarginFlowN::<4>::new(dynamics).map(|f| iterate_small(&f, &m0, options)),
            _ => None,
        };
        let mut sol = match small {
            Some(sol) => sol?,
            None => iterate_margins(&MarginFlow::new(dynamics), &m0, options)?,
        };
        // z = Uᵀm for every recorded state.
        sol.left_multiply_states(sys.coupling(), true);
        Ok(sol)
    } else {
        iterate(dynamics, z0, options, "gd")
    }
}

/// GD on the parameters, θ_{k+1} = θ_k + η[ΦᵀYψ(YΦθ_k) − ∇R(θ_k)] from θ = 0 (docs/theory.md §3),
/// with ∇R = λθ (L2) or λΦᵀΦθ (SD), recorded as z_k = S Vᵀθ_k using the system's features V.
/// Returns the projected trajectory and the final θ.
pub fn gradient_descent_parameters(
    system: &FeatureSystem,
    phi: &DMatrix<f64>,
    labels: &[f64],
    loss: Loss,
    regulariser: Regulariser,
    options: &GdOptions,
) -> Result<(OdeSolution, DVector<f64>)> {
    let dynamics = PrimalDynamics::new(system, loss, regulariser)?;
    options.check_stability(dynamics.curvature_bound())?;
    let v = system.features().ok_or_else(|| {
        Error::Input(InputError::Unsupported(
            "θ-space GD needs the features V: build the system from --features".into(),
        ))
    })?;
    let y = labels_to_signs(labels)?;
    if phi.nrows() != y.len() || phi.ncols() != v.nrows() {
        return Err(Error::Input(InputError::MatrixShape {
            what: "features Φ".into(),
            rows: phi.nrows(),
            cols: phi.ncols(),
            rule:
                "θ-space GD needs one row per example and one column per parameter (the rows of V)",
        }));
    }
    let mut yphi = phi.clone();
    for (i, mut row) in yphi.row_iter_mut().enumerate() {
        row *= y[i];
    }
    let model = *dynamics.model();
    let project = DMatrix::from_diagonal(system.strengths()) * v.transpose();
    let record = options.recorded_steps();
    let mut theta: DVector<f64> = DVector::zeros(phi.ncols());
    let mut states = Trajectory::with_capacity(project.nrows(), record.len());
    let mut out = DVector::zeros(project.nrows());
    let mut next = 0;
    let start = Instant::now();
    for k in 0..=options.steps {
        if next < record.len() && record[next] == k {
            check_finite(theta.iter(), "gd-theta", k, options.eta)?;
            project.mul_to(&theta, &mut out);
            states.push(out.as_slice());
            next += 1;
        }
        if k == options.steps {
            break;
        }
        let margins = &yphi * &theta;
        // ΦᵀY g(m) − μθ with g = ψ − λ_SD m: the SD gradient λΦᵀΦθ = λΦᵀY·(YΦθ) folds into
        // the same product as the loss's (docs/theory.md §3).
        let weights = margins.map(|m| model.drive(m));
        let step = yphi.tr_mul(&weights) - &theta * model.decay();
        theta.axpy(options.eta, &step, 1.0);
    }
    let wall = start.elapsed().as_secs_f64();
    Ok((
        gd_solution(&record, options, states, wall, "gd-theta"),
        theta,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::Spectrum;

    fn margin_flow(n: usize, lambda: f64) -> (FeatureSystem, Loss, Regulariser) {
        let sys = FeatureSystem::random(
            n,
            Spectrum::Geometric {
                from: 10.0,
                to: 0.1,
            },
            3,
        )
        .unwrap();
        (sys, Loss::Logistic, Regulariser::L2 { lambda })
    }

    /// The two-thread team takes the same steps as the serial loop, bit for bit, at every
    /// recorded point (n above the split size, both sweep directions, several segments).
    #[test]
    fn team_equals_the_serial_loop() {
        let n = crate::model::symmetric::PARALLEL_MIN_DIM + 9;
        let (sys, loss, reg) = margin_flow(n, 0.01);
        let dynamics = PrimalDynamics::new(&sys, loss, reg).unwrap();
        let flow = MarginFlow::new(&dynamics);
        let m0 = DVector::from_fn(n, |i, _| 0.1 * ((i * 7 % 13) as f64 - 6.0));
        let options = GdOptions::new(1e-3, 41, 5, false).unwrap();
        let serial = iterate_margins_serial(&flow, &m0, &options).unwrap();
        let team = iterate_margins_team(&flow, &m0, &options).unwrap();
        assert_eq!(team.tau, serial.tau);
        assert_eq!(team.states.len(), 5);
        if rayon::current_num_threads() >= 2 {
            assert_eq!(team.states.as_slice(), serial.states.as_slice());
        } else {
            // One-thread pool: the serial product does not split, so only rounding agrees.
            for (a, b) in team.states.as_slice().iter().zip(serial.states.as_slice()) {
                assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()));
            }
        }
        // And the run moved: the last state differs from the first.
        assert!(team.states[4] != team.states[0]);
    }

    /// Divergence on the team is reported like on the serial loop, with the same step.
    #[test]
    fn team_reports_divergence() {
        let n = crate::model::symmetric::PARALLEL_MIN_DIM;
        let (sys, loss, reg) = margin_flow(n, 0.01);
        let dynamics = PrimalDynamics::new(&sys, loss, reg).unwrap();
        let flow = MarginFlow::new(&dynamics);
        let m0 = DVector::zeros(n);
        // η far above the stability bound 2/(s₁²/4 + λ) ≈ 0.08: the λ term alone grows as
        // (1 − ηλ)^k with ηλ = 1e6.
        let options = GdOptions::new(1e8, 400, 11, true).unwrap();
        let serial = iterate_margins_serial(&flow, &m0, &options).unwrap_err();
        let team = iterate_margins_team(&flow, &m0, &options).unwrap_err();
        assert!(
            matches!(
                team,
                Error::Numerical(NumericalError::Diverged { method: "gd", .. })
            ),
            "{team}"
        );
        assert_eq!(team.to_string(), serial.to_string());
    }

    /// The fixed-size loop for n ≤ 4 takes the same steps as the general one, bit for bit.
    #[test]
    fn small_loop_equals_the_general_one() {
        for n in 1..=4 {
            let (sys, loss, reg) = margin_flow(n, 0.05);
            let dynamics = PrimalDynamics::new(&sys, loss, reg).unwrap();
            let m0 = DVector::from_fn(n, |i, _| 0.3 * i as f64 - 0.2);
            let options = GdOptions::new(0.01, 300, 7, false).unwrap();
            let general = iterate_margins(&MarginFlow::new(&dynamics), &m0, &options).unwrap();
            let small = match n {
                1 => iterate_small(&MarginFlowN::<1>::new(&dynamics).unwrap(), &m0, &options),
                2 => iterate_small(&MarginFlowN::<2>::new(&dynamics).unwrap(), &m0, &options),
                3 => iterate_small(&MarginFlowN::<3>::new(&dynamics).unwrap(), &m0, &options),
                _ => iterate_small(&MarginFlowN::<4>::new(&dynamics).unwrap(), &m0, &options),
            }
            .unwrap();
            assert_eq!(small.tau, general.tau);
            assert_eq!(
                small.states.as_slice(),
                general.states.as_slice(),
                "n = {n}"
            );
            assert!(small.states[6] != small.states[0]);
        }
    }
}
