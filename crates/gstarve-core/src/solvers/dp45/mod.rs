//! DP45: a hand-written, allocation-free Dormand–Prince 5(4) integrator with Hairer's stiffness
//! test, for the small flows of docs/theory.md §3.3 (n ≤ 4 in the automatic choice).
//!
//! The small margin flows, e.g. (★) of docs/theory.md §3.2 with s = (10, 0.1), λ = 0.01, are
//! stiff only during their first instants: ρ(∂F/∂m) ≈ s₁²/4 at m = 0 (docs/theory.md §12.1),
//! falling like 1/τ as the margins grow and σ'(m) decays. An explicit pair of order 5 then
//! integrates them in fewer steps than any implicit method here needs, and accurately (measured:
//! docs/benchmarks.md, "Solver tuning measurements (moved from the code)", DP45). What remains is
//! overhead: ode_solvers' `Dopri5` works on heap vectors and stores every state twice. This
//! module is the same method with the stage vectors preallocated once, for n ≤ 4 the state and
//! stages in fixed-size arrays the compiler keeps in registers (`fixed`), and the output written
//! straight from the dense output, evaluated only at the output times.
//!
//! # Method
//!
//! Dormand & Prince (1980) 5(4) with FSAL, coefficients and 4th-order continuous extension
//! (`CONTD5`) from Hairer's `dopri5.f` (Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.5 and
//! §II.6). Error norm: RMS over i of the embedded difference / (atol + rtol·max(|y₀ᵢ|, |y₁ᵢ|)),
//! with the user's tolerances scaled by [`TOL_SCALE`] (a global-error margin, measured).
//! Step control: `dopri5.f`'s PI controller (β = 0.04, safety 0.9, new step between h/5 and
//! 10h, no growth right after a rejection), h_new = h·ρ with
//!
//! ```text
//! ρ = clamp(SAFE · exp(β·ln err_old − (1/5 − 0.75β)·ln err), 1/5, 10)   (after an accepted step)
//! ρ = max(SAFE · exp(−(1/5 − 0.75β)·ln err), 1/5)                       (after a rejected one)
//! ```
//!
//! (err_old = max(err of the last accepted step, 10⁻⁴)), with ln err = ½ ln err² from the squared
//! norm: one ln and one exp ([`crate::model::table_ln`], [`crate::model::table_exp`], inline)
//! and a product on the path from one step's last stage to the next step's first, where
//! `dopri5.f` has two powers, a square root and a division. Initial step by `HINIT`. The last
//! step lands exactly on τ_end.
//!
//! On x86-64 processors with fused multiply-adds the loop is compiled with them enabled (chosen
//! at run time), for the `mul_add`s of the stage sums (`stages`), of those two functions and of
//! [`crate::model::MarginFlowN`]; nothing else fuses (Rust never contracts on its own), and
//! `mul_add` is exactly rounded everywhere (a library call without FMA), so every processor
//! computes the same bits (docs/benchmarks.md, "Per flow, third pass (item 1, n = 2)").
//!
//! # Stiffness
//!
//! `dopri5.f`'s test: after an accepted step, h·λ̂ with λ̂ = ‖f(y₁) − f(ŷ₆)‖/‖y₁ − ŷ₆‖ (ŷ₆ the
//! argument of stage 6) estimates h·ρ(J); when it exceeds 3.25 (the boundary of the method's
//! stability region) on [`STIFF_STEPS`] accepted steps without [`NONSTIFF_RESET`] non-stiff steps
//! in between, the run stops with [`StepFailure::Stiff`] (the automatic choice then runs
//! Rodas4). The test starts after [`STIFF_TEST_START`] accepted steps (`dopri5.f` waits 1000):
//! a run that is stiff only in a short transient is not abandoned, and a stiff run wastes at
//! most a few hundred cheap steps.
//!
//! # Failures
//!
//! A non-finite stage or state rejects the step and shrinks h by 4; a step below 10⁻¹⁴·τ or more
//! than the budget's step attempts ([`Tolerances::max_steps`]) is a [`StepFailure::Failed`]. Never a plausible wrong number.

use crate::model::{table_exp, table_ln};
use crate::ode::{Integrator, OdeProblem, Output, SolverStats, StepFailure, Tolerances};
use fixed::Fixed;
use stages::{StageStore, Stages};

mod fixed;
pub mod lanes;
mod stages;
#[cfg(test)]
mod tests;

/// The name reported in [`SolverStats::solver`] and in failures.
pub const NAME: &str = "dp45";
/// Accepted steps before the stiffness test starts.
pub const STIFF_TEST_START: u64 = 200;
/// Stiff steps (h·λ̂ > 3.25) after which the run stops as stiff.
pub const STIFF_STEPS: u32 = 15;
/// Consecutive non-stiff steps that reset the stiff-step count.
pub const NONSTIFF_RESET: u32 = 6;
/// The local error per step is held at `TOL_SCALE`·(atol + rtol·|y|), so that the *global*
/// error over a long run stays near the requested tolerance (docs/theory.md §12.3): a third
/// costs a few per cent more evaluations and keeps the error in z on the small margin flows
/// below SciPy's LSODA at the same tolerances (measured: docs/benchmarks.md, "Solver tuning
/// measurements (moved from the code)", DP45).
pub const TOL_SCALE: f64 = 1.0 / 3.0;
/// A step smaller than this times max(|τ|, 10⁻³·τ_end) is a failure.
pub(super) const HMIN_REL: f64 = 1e-14;

/// Controller (dopri5.f defaults).
pub(super) const SAFE: f64 = 0.9;
pub(super) const BETA: f64 = 0.04;
pub(super) const EXPO1: f64 = 0.2 - BETA * 0.75;
/// FAC1 and FAC2 of dopri5.f: the new step lies in [h/5, 10h].
pub(super) const FAC1: f64 = 0.2;
pub(super) const FAC2: f64 = 10.0;
/// Smallest remembered error of the PI controller (dopri5.f).
pub(super) const FAC_OLD_MIN: f64 = 1e-4;

/// Hand-written DP45 as an [`Integrator`]: Dormand–Prince 5(4) with its 4th-order dense output
/// and the stiffness test of the module documentation, the local error per step held at
/// [`TOL_SCALE`]·(atol + rtol·|y|) per component. Dimensions 1–4 run a copy with n known at
/// compile time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dp45;

impl Integrator for Dp45 {
    fn name(&self) -> &'static str {
        NAME
    }

    fn run<P: OdeProblem + ?Sized>(
        &self,
        problem: &P,
        y0: &[f64],
        tolerances: &Tolerances,
        output: &mut Output<'_>,
        stats: &mut SolverStats,
    ) -> Result<(), StepFailure> {
        let tol = (
            TOL_SCALE * tolerances.rtol(),
            TOL_SCALE * tolerances.atol(),
            tolerances.max_steps(),
        );
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the processor has the feature `run_fma` is compiled for.
            return unsafe { run_fma(problem, y0, tol, output, stats) };
        }
        run_any(problem, y0, tol, output, stats)
    }
}

/// [`run`] with the storage for the problem's dimension.
#[inline(always)]
fn run_any<P: OdeProblem + ?Sized>(
    problem: &P,
    y0: &[f64],
    tol: (f64, f64, u64),
    output: &mut Output<'_>,
    stats: &mut SolverStats,
) -> Result<(), StepFailure> {
    match problem.dim() {
        1 => run::<_, Fixed<1>>(problem, y0, tol, output, stats),
        2 => run::<_, Fixed<2>>(problem, y0, tol, output, stats),
        3 => run::<_, Fixed<3>>(problem, y0, tol, output, stats),
        4 => run::<_, Fixed<4>>(problem, y0, tol, output, stats),
        _ => run::<_, Stages>(problem, y0, tol, output, stats),
    }
}

/// [`run_any`] compiled with fused multiply-adds (module documentation).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn run_fma<P: OdeProblem + ?Sized>(
    problem: &P,
    y0: &[f64],
    tol: (f64, f64, u64),
    output: &mut Output<'_>,
    stats: &mut SolverStats,
) -> Result<(), StepFailure> {
    run_any(problem, y0, tol, output, stats)
}

/// [`Dp45`] with the stage storage S ([`Fixed`] for a dimension known at compile time,
/// [`Stages`] for any), at the scaled tolerances (rtol, atol) and at most `max_steps` step
/// attempts over the solve (`stats` counts them from its first window).
#[inline(always)]
fn run<P: OdeProblem + ?Sized, S: StageStore>(
    problem: &P,
    y0: &[f64],
    (rtol, atol, max_steps): (f64, f64, u64),
    output: &mut Output<'_>,
    stats: &mut SolverStats,
) -> Result<(), StepFailure> {
    let t_end = output.t_end();
    let fail = StepFailure::failed;
    let (mut st, mut h) = S::start(problem, y0, t_end, rtol, atol);
    let n = st.dim();
    stats.rhs_evals += 2;
    let mut t = 0.0;
    // ln of dopri5.f's FACOLD (the controller works with logarithms: one ln and one exp per
    // step instead of two powf).
    let mut ln_fac_old = FAC_OLD_MIN.ln();
    let mut reject = false;
    let mut breakdown = false;
    let (mut stiff_count, mut nonstiff_count) = (0u32, 0u32);
    loop {
        if stats.steps_accepted + stats.steps_rejected >= max_steps {
            return Err(fail(
                t,
                format!("the budget of {max_steps} step attempts ran out before τ_end = {t_end}"),
            ));
        }
        let hmin = HMIN_REL * t.abs().max(1e-3 * t_end);
        if h < hmin {
            let why = if breakdown {
                "the state became non-finite"
            } else {
                "the error test keeps failing"
            };
            return Err(fail(
                t,
                format!("step size {h:.3e} below the minimum {hmin:.3e}: {why}"),
            ));
        }
        let last = t + 1.01 * h >= t_end;
        if last {
            h = t_end - t;
        }
        let err_sq = st.step(problem, h, rtol, atol);
        stats.rhs_evals += 6;
        if !err_sq.is_finite() {
            // A stage or the new state is not finite: shrink hard and retry.
            stats.steps_rejected += 1;
            reject = true;
            breakdown = true;
            h *= 0.25;
            continue;
        }
        breakdown = false;
        // ln err, err ≥ 10⁻¹⁶.
        let ln_err = 0.5 * table_ln::ln(err_sq.max(1e-32));
        if err_sq <= 1.0 {
            stats.steps_accepted += 1;
            // ρ = SAFE · facold^BETA / err^EXPO1, within [FAC1, FAC2].
            let rho = (SAFE * table_exp::exp(BETA * ln_fac_old - EXPO1 * ln_err)).clamp(FAC1, FAC2);
            ln_fac_old = ln_err.max(FAC_OLD_MIN.ln());
            let t_new = if last { t_end } else { t + h };
            if stats.steps_accepted >= STIFF_TEST_START {
                if st.stiffness(h) > 3.25 {
                    nonstiff_count = 0;
                    stiff_count += 1;
                    if stiff_count == STIFF_STEPS {
                        return Err(StepFailure::Stiff { tau: t_new });
                    }
                } else if stiff_count > 0 {
                    nonstiff_count += 1;
                    if nonstiff_count == NONSTIFF_RESET {
                        stiff_count = 0;
                    }
                }
            }
            // Dense output only when an output time falls in the step, evaluated only there and
            // written straight into the trajectory.
            let (times, slots) = output.take_due(t_new, last);
            if !times.is_empty() {
                st.prepare_dense(h);
                for (&tau, slot) in times.iter().zip(slots.chunks_exact_mut(n.max(1))) {
                    if tau >= t_new {
                        slot[..n].copy_from_slice(st.ynew());
                    } else {
                        st.dense((tau - t) / h, slot);
                    }
                }
            }
            st.accept();
            t = t_new;
            if last {
                break;
            }
            let mut h_new = h * rho;
            if reject {
                h_new = h_new.min(h);
            }
            reject = false;
            h = h_new;
        } else {
            stats.steps_rejected += 1;
            reject = true;
            h *= (SAFE * table_exp::exp(-EXPO1 * ln_err)).max(FAC1);
        }
    }
    Ok(())
}
