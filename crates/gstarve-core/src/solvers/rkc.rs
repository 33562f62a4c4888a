//! RKC: the stabilised explicit Runge–Kutta–Chebyshev method of Sommeijer, Shampine and Verwer
//! (J. Comput. Appl. Math. 88, 1997), second order, for large flows whose Jacobian has a real
//! negative spectrum.
//!
//! The margin flow's Jacobian −(λI + K D) is similar to the symmetric negative-definite
//! −(λI + D^{1/2} K D^{1/2}), so its spectrum lies in [−ρ, −λ] with ρ ≤ λ + s₁²/4 (docs/theory.md §12.1,
//! [`OdeProblem::spectral_bound`]). An explicit method with s stages can be built whose stability
//! region contains the real interval [−β(s), 0] with β(s) ≈ 0.653 s² (shifted, damped Chebyshev
//! polynomials, damping ε = 2/13), instead of ≈ 3 for Dormand–Prince: the step is chosen for
//! accuracy alone and the number of stages grows only like √(hρ), with no linear algebra. Each
//! step of size h uses s = 1 + ⌈√(1 + 1.54 h ρ)⌉ stages,
//!
//! ```text
//! Y₀ = yₙ,  Y₁ = yₙ + μ̃₁ h F(yₙ)
//! Yⱼ = (1 − μⱼ − νⱼ) yₙ + μⱼ Yⱼ₋₁ + νⱼ Yⱼ₋₂ + μ̃ⱼ h F(Yⱼ₋₁) + γ̃ⱼ h F(yₙ),   j = 2 … s
//! yₙ₊₁ = Yₛ
//! ```
//!
//! with w₀ = 1 + ε/s², w₁ = T′ₛ(w₀)/T″ₛ(w₀), bⱼ = T″ⱼ(w₀)/T′ⱼ(w₀)² (b₀ = b₁ = b₂),
//! μⱼ = 2w₀bⱼ/bⱼ₋₁, νⱼ = −bⱼ/bⱼ₋₂, μ̃ⱼ = μⱼw₁/w₀, γ̃ⱼ = −(1 − bⱼ₋₁Tⱼ₋₁(w₀)) μ̃ⱼ, μ̃₁ = b₁w₁.
//!
//! Error control (as in the authors' code `rkc.f`): the local-error estimate
//! Est = ⅘(yₙ − yₙ₊₁) + ⅖h(F(yₙ) + F(yₙ₊₁)), its RMS norm in the weights atol + rtol·max(|yₙ|,
//! |yₙ₊₁|), steps accepted at norm ≤ 1 and resized by ⅘·err^{−1/3} and Gustafsson's predictive
//! factor. F(yₙ₊₁) is the next step's F(yₙ), so the estimate costs nothing extra. Output points are
//! interpolated with the cubic Hermite polynomial through (yₙ, F(yₙ)) and (yₙ₊₁, F(yₙ₊₁)) (third
//! order, above the method's own second).

use crate::ode::{Integrator, OdeProblem, Output, SolverStats, StepFailure, Tolerances};

/// Tuning knobs of [`Rkc`], with the defaults of the authors' code where it has them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RkcParams {
    /// Factor applied to [`OdeProblem::spectral_bound`] before choosing the number of stages
    /// (default 1.1; the bound is rigorous for the margin flow, the factor covers rounding in
    /// the stability boundary β(s) ≈ 0.653 s²).
    pub spectral_safety: f64,
    /// Largest number of stages per step (default 1000; also limited by
    /// √(rtol/(10 ε)), beyond which the stage recursion's rounding errors grow too large).
    pub max_stages: usize,
    /// Largest number of steps before giving up (default 1 000 000; the solve's own budget,
    /// [`Tolerances::max_steps`], applies too).
    pub max_steps: u64,
}

impl RkcParams {
    /// The defaults of the authors' code: safety 1.1, at most 1000 stages, 10⁶ steps.
    pub const DEFAULT: RkcParams = RkcParams {
        spectral_safety: 1.1,
        max_stages: 1000,
        max_steps: 1_000_000,
    };
}

impl Default for RkcParams {
    fn default() -> Self {
        RkcParams::DEFAULT
    }
}

const NAME: &str = "rkc";

/// RKC as an [`Integrator`]. The problem's spectral bound must be finite: RKC needs it to size
/// its stages ([`StepFailure::Unsupported`] otherwise).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rkc {
    /// Tuning knobs.
    pub params: RkcParams,
}

impl Integrator for Rkc {
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
        run(problem, y0, tolerances, &self.params, output, stats)
    }
}

fn run<P: OdeProblem + ?Sized>(
    problem: &P,
    y0: &[f64],
    tolerances: &Tolerances,
    params: &RkcParams,
    output: &mut Output<'_>,
    stats: &mut SolverStats,
) -> Result<(), StepFailure> {
    let n = problem.dim();
    let (rtol, atol) = (tolerances.rtol(), tolerances.atol());
    let t_end = output.t_end();
    let rho = problem.spectral_bound() * params.spectral_safety;
    if !(rho.is_finite() && rho >= 0.0) {
        return Err(StepFailure::Unsupported(format!(
            "RKC needs a finite bound on the Jacobian's spectral radius; this problem's is {rho}"
        )));
    }
    let failed = StepFailure::failed;
    // Stage limit: rounding in the recursion grows like s², keep it below rtol/10.
    let max_stages = params
        .max_stages
        .min(((rtol / (10.0 * f64::EPSILON)).sqrt() as usize).max(2));
    let max_h = |h: f64| {
        // The largest step that max_stages can stabilise: β(s) ≈ 0.653 s² ≥ hρ.
        let hmax = ((max_stages - 1) as f64).powi(2) / (1.54 * rho.max(f64::MIN_POSITIVE));
        h.min(hmax)
    };
    let eval = |y: &[f64], f: &mut [f64], stats: &mut SolverStats| {
        problem.rhs(y, f);
        stats.rhs_evals += 1;
    };

    let mut y = y0.to_vec();
    let mut f = vec![0.0; n];
    eval(&y, &mut f, stats);
    if f.iter().any(|v| !v.is_finite()) {
        return Err(failed(
            0.0,
            "the right-hand side is not finite at τ = 0".into(),
        ));
    }
    let mut h = max_h(initial_step(problem, &y, &f, t_end, rtol, atol, rho, stats));

    let (mut ynew, mut fnew) = (vec![0.0; n], vec![0.0; n]);
    let mut stage = Stages::new(n);
    let mut t = 0.0;
    let (mut err_old, mut h_old) = (0.0_f64, 0.0_f64);
    let mut rejected_last = false;
    while !output.is_complete() {
        let max_steps = params.max_steps.min(tolerances.max_steps());
        if stats.steps_accepted + stats.steps_rejected >= max_steps {
            return Err(failed(
                t,
                format!("the budget of {max_steps} step attempts ran out"),
            ));
        }
        let last = t + 1.01 * h >= t_end;
        if last {
            h = t_end - t;
        }
        if h <= 10.0 * f64::EPSILON * t.abs().max(1.0) {
            return Err(failed(t, format!("step size underflow (h = {h:.3e})")));
        }
        let s = stages_for(h, rho).min(max_stages);
        stage.step(&y, &f, h, s, &mut ynew, |u, v| eval(u, v, stats));
        eval(&ynew, &mut fnew, stats);
        let err = error_norm(&y, &ynew, &f, &fnew, h, rtol, atol);
        if !err.is_finite() {
            // A non-finite state or estimate: retry smaller; give up at underflow above.
            stats.steps_rejected += 1;
            h *= 0.1;
            rejected_last = true;
            continue;
        }
        if err > 1.0 {
            stats.steps_rejected += 1;
            h *= (0.8 / err.cbrt()).max(0.1);
            rejected_last = true;
            continue;
        }
        stats.steps_accepted += 1;
        let t_new = if last { t_end } else { t + h };
        // Output points in (t, t_new], from the cubic Hermite interpolant.
        output.record_step(t_new, last, &ynew, |tau, out| {
            let theta = ((tau - t) / h).clamp(0.0, 1.0);
            for (o, v) in out.iter_mut().zip(hermite(&y, &ynew, &f, &fnew, h, theta)) {
                *o = v;
            }
        });
        // Step-size choice of rkc.f: the plain factor, and after an accepted step also the
        // predictive one; no growth right after a rejection.
        let mut fac = 10.0_f64;
        let e = err.max(1e-10);
        fac = fac.min(0.8 / e.cbrt());
        if h_old > 0.0 {
            fac = fac.min(0.8 * (h / h_old) * err_old.max(1e-10).cbrt() / e.powf(2.0 / 3.0));
        }
        if rejected_last {
            fac = fac.min(1.0);
        }
        rejected_last = false;
        (err_old, h_old) = (err, h);
        t = t_new;
        std::mem::swap(&mut y, &mut ynew);
        std::mem::swap(&mut f, &mut fnew);
        h = max_h(h * fac.max(0.1));
    }
    Ok(())
}

/// s = 1 + ⌈√(1 + 1.54 hρ)⌉ stages stabilise a step h (rkc.f), at least 2.
fn stages_for(h: f64, rho: f64) -> usize {
    (1 + (1.0 + 1.54 * h * rho).sqrt().floor() as usize).max(2)
}

/// RMS of Est/(atol + rtol·max(|yₙ|, |yₙ₊₁|)), Est = ⅘(yₙ − yₙ₊₁) + ⅖h(Fₙ + Fₙ₊₁).
fn error_norm(
    y: &[f64],
    ynew: &[f64],
    f: &[f64],
    fnew: &[f64],
    h: f64,
    rtol: f64,
    atol: f64,
) -> f64 {
    let sum: f64 = y
        .iter()
        .zip(ynew)
        .zip(f.iter().zip(fnew))
        .map(|((&a, &b), (&fa, &fb))| {
            let est = 0.8 * (a - b) + 0.4 * h * (fa + fb);
            let w = atol + rtol * a.abs().max(b.abs());
            (est / w) * (est / w)
        })
        .sum();
    (sum / y.len() as f64).sqrt()
}

/// The cubic Hermite interpolant at yₙ + θh.
fn hermite<'a>(
    y: &'a [f64],
    ynew: &'a [f64],
    f: &'a [f64],
    fnew: &'a [f64],
    h: f64,
    theta: f64,
) -> impl Iterator<Item = f64> + 'a {
    let t2 = theta * theta;
    let t3 = t2 * theta;
    let (h00, h10) = (2.0 * t3 - 3.0 * t2 + 1.0, t3 - 2.0 * t2 + theta);
    let (h01, h11) = (-2.0 * t3 + 3.0 * t2, t3 - t2);
    (0..y.len()).map(move |i| h00 * y[i] + h10 * h * f[i] + h01 * ynew[i] + h11 * h * fnew[i])
}

/// The first step: Hairer's heuristic for order 2 (local error ~ h³), kept within what one RKC
/// step can stabilise.
#[allow(clippy::too_many_arguments)]
fn initial_step(
    problem: &(impl OdeProblem + ?Sized),
    y: &[f64],
    f: &[f64],
    t_end: f64,
    rtol: f64,
    atol: f64,
    rho: f64,
    stats: &mut SolverStats,
) -> f64 {
    let weight = |i: usize| atol + rtol * y[i].abs();
    let rms = |v: &dyn Fn(usize) -> f64| {
        ((0..y.len()).map(|i| v(i) * v(i)).sum::<f64>() / y.len() as f64).sqrt()
    };
    let d0 = rms(&|i| y[i] / weight(i));
    let d1 = rms(&|i| f[i] / weight(i));
    let mut h0 = if d0 < 1e-5 || d1 < 1e-5 {
        1e-6
    } else {
        0.01 * d0 / d1
    };
    h0 = h0.min(t_end);
    if rho > 0.0 {
        h0 = h0.min(1.0 / rho);
    }
    let y1: Vec<f64> = y.iter().zip(f).map(|(a, b)| a + h0 * b).collect();
    let mut f1 = vec![0.0; y.len()];
    problem.rhs(&y1, &mut f1);
    stats.rhs_evals += 1;
    let d2 = rms(&|i| (f1[i] - f[i]) / weight(i)) / h0;
    let dmax = d1.max(d2);
    let h1 = if dmax <= 1e-15 {
        (h0 * 1e-3).max(1e-6)
    } else {
        (0.01 / dmax).cbrt()
    };
    let h = (100.0 * h0).min(h1).min(t_end);
    if h.is_finite() && h > 0.0 {
        h
    } else {
        h0
    }
}

/// Work vectors of one RKC step.
struct Stages {
    prev2: Vec<f64>,
    prev1: Vec<f64>,
    fj: Vec<f64>,
}

impl Stages {
    fn new(n: usize) -> Self {
        Self {
            prev2: vec![0.0; n],
            prev1: vec![0.0; n],
            fj: vec![0.0; n],
        }
    }

    /// One s-stage RKC step of size h from (y, F(y)) into `out` (the recursion of the module
    /// docs, coefficients as in rkc.f's STEP).
    fn step(
        &mut self,
        y: &[f64],
        f: &[f64],
        h: f64,
        s: usize,
        out: &mut [f64],
        mut eval: impl FnMut(&[f64], &mut [f64]),
    ) {
        let sf = s as f64;
        let w0 = 1.0 + 2.0 / (13.0 * sf * sf);
        let temp1 = w0 * w0 - 1.0;
        let temp2 = temp1.sqrt();
        let arg = sf * (w0 + temp2).ln();
        let w1 = arg.sinh() * temp1 / (arg.cosh() * sf * temp2 - w0 * arg.sinh());
        let mut bjm1 = 1.0 / (2.0 * w0).powi(2);
        let mut bjm2 = bjm1;
        // Stage 1.
        let mus = w1 * bjm1;
        self.prev2.copy_from_slice(y);
        for ((p, &yi), &fi) in self.prev1.iter_mut().zip(y).zip(f) {
            *p = yi + h * mus * fi;
        }
        let (mut zjm1, mut zjm2) = (w0, 1.0);
        let (mut dzjm1, mut dzjm2) = (1.0, 0.0);
        let (mut d2zjm1, mut d2zjm2) = (0.0, 0.0);
        for _ in 2..=s {
            let zj = 2.0 * w0 * zjm1 - zjm2;
            let dzj = 2.0 * w0 * dzjm1 - dzjm2 + 2.0 * zjm1;
            let d2zj = 2.0 * w0 * d2zjm1 - d2zjm2 + 4.0 * dzjm1;
            let bj = d2zj / (dzj * dzj);
            let ajm1 = 1.0 - zjm1 * bjm1;
            let mu = 2.0 * w0 * bj / bjm1;
            let nu = -bj / bjm2;
            let mus = mu * w1 / w0;
            eval(&self.prev1, &mut self.fj);
            let c0 = 1.0 - mu - nu;
            for i in 0..y.len() {
                out[i] = mu * self.prev1[i]
                    + nu * self.prev2[i]
                    + c0 * y[i]
                    + h * mus * (self.fj[i] - ajm1 * f[i]);
            }
            // Shift: Yⱼ₋₂ ← Yⱼ₋₁, Yⱼ₋₁ ← Yⱼ.
            std::mem::swap(&mut self.prev2, &mut self.prev1);
            self.prev1.copy_from_slice(out);
            (zjm2, zjm1) = (zjm1, zj);
            (dzjm2, dzjm1) = (dzjm1, dzj);
            (d2zjm2, d2zjm1) = (d2zjm1, d2zj);
            (bjm2, bjm1) = (bjm1, bj);
        }
    }
}

#[cfg(test)]
mod tests {
    //! What only RKC has: its stage count and stability, and its step limit. Accuracy,
    //! convergence, failures and the refusal of an infinite spectral bound are in the
    //! conformance suite ([`crate::solvers::conformance`]).

    use super::*;
    use crate::error::{Error, NumericalError};
    use crate::solvers::conformance::problems::{integrate_with, BlowUp};
    use nalgebra::DVector;

    /// Fixed steps on a stiff linear problem y′ = −a y with a fixed stage count: halving h
    /// divides the global error by 4 (second order), and the step is stable at hρ far beyond
    /// the ≈ 3 of classical explicit methods.
    #[test]
    fn second_order_and_stable_far_beyond_classical_limits() {
        struct Decay(f64);
        impl OdeProblem for Decay {
            fn dim(&self) -> usize {
                2
            }
            fn rhs(&self, y: &[f64], dy: &mut [f64]) {
                dy[0] = -self.0 * y[0];
                dy[1] = -0.5 * y[1];
            }
            fn jacobian(&self, _y: &[f64], _jac: &mut nalgebra::DMatrix<f64>) {
                unreachable!()
            }
            fn spectral_bound(&self) -> f64 {
                self.0
            }
        }
        let p = Decay(300.0);
        let s = 20; // β(20) ≈ 0.653·400 ≈ 260 ≥ hρ for h ≤ 0.8.
        let run = |steps: usize| {
            let h = 4.0 / steps as f64;
            assert!(h * p.0 <= 0.653 * (s * s) as f64);
            let mut stages = Stages::new(2);
            let (mut y, mut f, mut out) = (vec![1.0, 1.0], vec![0.0; 2], vec![0.0; 2]);
            for _ in 0..steps {
                p.rhs(&y, &mut f);
                stages.step(&y, &f, h, s, &mut out, |u, v| p.rhs(u, v));
                y.copy_from_slice(&out);
            }
            (y[0].abs(), (y[1] - (-2.0_f64).exp()).abs())
        };
        let (stiff, e1) = run(10); // hρ = 120: the stiff mode is damped, not amplified.
        assert!(stiff < 0.05, "stiff mode {stiff}");
        let (_, e2) = run(20);
        let (_, e3) = run(40);
        for ratio in [e1 / e2, e2 / e3] {
            assert!(
                (ratio - 4.0).abs() < 0.4,
                "errors {e1:.2e} {e2:.2e} {e3:.2e}"
            );
        }
    }

    /// More steps than [`RkcParams::max_steps`] is a failure.
    #[test]
    fn the_step_limit_is_a_failure() {
        let few = RkcParams {
            max_steps: 5,
            ..Default::default()
        };
        let y0 = DVector::from_element(1, 1.0);
        assert!(matches!(
            integrate_with(
                &Rkc { params: few },
                &BlowUp { bound: 10.0 },
                &y0,
                0.5,
                5,
                1e-10,
                1e-12
            ),
            Err(Error::Numerical(NumericalError::IntegrationFailed { .. }))
        ));
    }
}
