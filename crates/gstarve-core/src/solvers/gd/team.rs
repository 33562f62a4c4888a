//! [`super::iterate_margins`] on a two-thread team that stays alive for the whole run, for the
//! large margin flows where one Gram product per step splits in two
//! ([`crate::model::symmetric::PARALLEL_MIN_DIM`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Instant;

use nalgebra::DVector;

use super::{check_finite, gd_solution, iterate_margins_serial, GdOptions};
use crate::error::Result;
use crate::model::symmetric::{split_column, symmetric_product_part};
use crate::model::MarginFlow;
use crate::ode::{OdeSolution, Trajectory};

/// Whether [`iterate_margins`] runs on a two-thread team: large n (where the product splits in
/// two, [`crate::model::symmetric::PARALLEL_MIN_DIM`]), two or more threads in rayon's pool
/// (the condition under which the serial product splits too, so the results agree bit for
/// bit; `RAYON_NUM_THREADS=1` turns both off), not already on a
/// rayon worker (a sweep running systems in parallel keeps each on one thread), and enough
/// steps to pay for starting a thread.
pub(super) fn use_team(n: usize, options: &GdOptions) -> bool {
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
/// by sleeping: waking a sleeping thread (rayon's workers between two products, a condition
/// variable) costs a tenth of a step even at n = 1000, twice per step (measured:
/// docs/benchmarks.md, "Solver tuning measurements (moved from the code)", gradient descent).
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
pub(super) fn iterate_margins_team(
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
                flow.drive(own.start, &m[own.clone()], &mut write(&drives[t]));
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
