//! The integrator's state and one step: the backward differences, the predictor, the error test
//! with the order and step selection, the dense output and the initial step (the method of the
//! module documentation); the corrector (simplified Newton or functional iteration) is in
//! [`corrector`].

// The loops over components index several same-length buffers at once (y, f, D rows, scale);
// written with indices like the Rodas4 and DP45 loops they mirror.
#![allow(clippy::needless_range_loop)]

use nalgebra::DMatrix;

mod corrector;

use super::single::SingleCholesky;
use super::{
    BdfParams, NewtonTest, FUNCTIONAL_MIN_DIM, KAPPA, MAX_ORDER, NAME, NEWTON_MAXITER, ROWS,
};
use crate::ode::{OdeProblem, SolverStats, StepFailure};
use crate::solvers::lu::LuSolver;

/// `compute_R(order, factor)` of `bdf.py`: R_ij = Π_{m=1}^{i} (m − 1 − r·j)/m (row 0 all ones).
fn compute_r(order: usize, factor: f64) -> [[f64; MAX_ORDER + 1]; MAX_ORDER + 1] {
    let mut r = [[0.0; MAX_ORDER + 1]; MAX_ORDER + 1];
    r[0][..=order].fill(1.0);
    for i in 1..=order {
        for j in 1..=order {
            r[i][j] = r[i - 1][j] * ((i - 1) as f64 - factor * j as f64) / i as f64;
        }
    }
    r
}

/// The integrator's preallocated state.
pub(super) struct State<'p, P: OdeProblem + ?Sized> {
    problem: &'p P,
    n: usize,
    params: BdfParams,
    /// ρ ≥ ‖∂f/∂y‖ ([`OdeProblem::spectral_bound`]), for [`BdfParams::functional_max_rate`];
    /// ∞ (never functional) below [`FUNCTIONAL_MIN_DIM`].
    jac_bound: f64,
    /// The problem's local estimate of the spectral radius of ∂f/∂y
    /// ([`OdeProblem::local_spectral_estimate`]) at the last state it was taken, and accepted
    /// steps since; `None` when the problem has none (then `jac_bound` alone decides).
    local_bound: Option<f64>,
    local_age: u64,
    /// No Jacobian evaluated yet: with a local estimate the flow starts by functional iteration
    /// and J is first evaluated where Newton is first needed.
    jac_pending: bool,
    /// α_k = (1 − κ_k)γ_k, γ_k, and the error constants κ_kγ_k + 1/(k+1).
    alpha: [f64; MAX_ORDER + 1],
    gamma: [f64; MAX_ORDER + 1],
    error_const: [f64; MAX_ORDER + 1],
    /// Backward differences D⁰ … D⁷, row j at `j·n .. (j+1)·n`.
    pub(super) diffs: Vec<f64>,
    /// Scratch copy of D⁰ … D^k for [`Self::change_d`].
    diffs_old: Vec<f64>,
    pub(super) order: usize,
    pub(super) h_abs: f64,
    n_equal_steps: usize,
    /// ∂f/∂y, or G for the scaled Gram form ([`Self::eval_jacobian`]).
    jac: DMatrix<f64>,
    /// J = −K·diag(`gram_d`) − μI when the problem says so ([`OdeProblem::gram_jacobian`]):
    /// (K, μ), and d at the Jacobian's state; M is then factorised by Cholesky.
    gram: Option<(&'p DMatrix<f64>, f64)>,
    gram_d: Vec<f64>,
    /// J = −diag(d)·G − μI when the problem says so ([`OdeProblem::scaled_gram_jacobian`]):
    /// (d, μ), with G (not J) in `jac`; M is then factorised by Cholesky.
    scaled: Option<(&'p [f64], f64)>,
    /// The single-precision G and factor (problems with
    /// [`OdeProblem::scaled_gram_jacobian_single`] only; `single.rs`).
    single: Option<SingleCholesky>,
    /// The current Jacobian's G is the f32 one in `single` (`jac` not formed), at the state
    /// `jac_y` (kept for a fall back to f64).
    single_gram: bool,
    jac_y: Vec<f64>,
    /// The current factorisation of M is `single`'s (else `lu`'s).
    single_m: bool,
    lu: LuSolver<0>,
    /// The c of the current factorisation (NaN: none).
    lu_c: f64,
    /// Newton convergence rate estimate carried between steps ([`NewtonTest::Cvode`]).
    conv_rate: f64,
    /// The largest ratio of successive Newton corrections in the last step solved with the
    /// current factorisation (0 when it took one iteration), for
    /// [`BdfParams::stale_max_rate`].
    stale_rate: f64,
    /// The functional iteration's observed contraction rate per unit c (the rate of the fixed
    /// point map is ≈ c‖J‖ in the weighted norm): ∞ until a second iteration has been observed,
    /// then max(0.3·previous, observed ratio / c) at every observation, CVODE's carried
    /// `crate` update, rescaled to the step's c so that a growing step cannot inherit the
    /// small rate of a shorter one.
    functional_rate_per_c: f64,
    /// Accepted steps since the last Jacobian and the last factorisation.
    jac_age: u64,
    lu_age: u64,
    y_predict: Vec<f64>,
    psi: Vec<f64>,
    scale: Vec<f64>,
    pub(super) y_new: Vec<f64>,
    /// The Newton correction sum d = y₁ − y₁⁽⁰⁾.
    d: Vec<f64>,
    pub(super) f: Vec<f64>,
    dy: Vec<f64>,
    pub(super) stats: SolverStats,
}

/// RMS of x_i / scale_i.
fn norm(x: &[f64], scale: &[f64]) -> f64 {
    // Four running sums, so that the additions need not wait for each other (and vectorise).
    let split = x.len() / 4 * 4;
    let mut acc = [0.0f64; 4];
    for (xs, ss) in x[..split]
        .chunks_exact(4)
        .zip(scale[..split].chunks_exact(4))
    {
        for k in 0..4 {
            let q = xs[k] / ss[k];
            acc[k] += q * q;
        }
    }
    let tail: f64 = x[split..]
        .iter()
        .zip(&scale[split..])
        .map(|(a, s)| (a / s) * (a / s))
        .sum();
    let sum = (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail;
    (sum / x.len() as f64).sqrt()
}

impl<'p, P: OdeProblem + ?Sized> State<'p, P> {
    pub(super) fn new(problem: &'p P, params: BdfParams) -> Self {
        let n = problem.dim();
        let mut gamma = [0.0; MAX_ORDER + 1];
        for k in 1..=MAX_ORDER {
            gamma[k] = gamma[k - 1] + 1.0 / k as f64;
        }
        let alpha = std::array::from_fn(|k| (1.0 - KAPPA[k]) * gamma[k]);
        let error_const = std::array::from_fn(|k| KAPPA[k] * gamma[k] + 1.0 / (k + 1) as f64);
        Self {
            problem,
            n,
            params,
            jac_bound: if n >= FUNCTIONAL_MIN_DIM {
                problem.spectral_bound()
            } else {
                f64::INFINITY
            },
            local_bound: None,
            local_age: 0,
            jac_pending: false,
            alpha,
            gamma,
            error_const,
            diffs: vec![0.0; ROWS * n],
            diffs_old: vec![0.0; (MAX_ORDER + 1) * n],
            order: 1,
            h_abs: 0.0,
            n_equal_steps: 0,
            jac: DMatrix::zeros(n, n),
            gram: None,
            gram_d: vec![0.0; n],
            scaled: None,
            single: problem
                .has_scaled_gram_jacobian_single()
                .then(|| SingleCholesky::new(n)),
            single_gram: false,
            jac_y: Vec::new(),
            single_m: false,
            lu: LuSolver::new(n),
            lu_c: f64::NAN,
            conv_rate: 1.0,
            stale_rate: 0.0,
            functional_rate_per_c: f64::INFINITY,
            jac_age: 0,
            lu_age: 0,
            y_predict: vec![0.0; n],
            psi: vec![0.0; n],
            scale: vec![0.0; n],
            y_new: vec![0.0; n],
            d: vec![0.0; n],
            f: vec![0.0; n],
            dy: vec![0.0; n],
            stats: SolverStats {
                solver: NAME.to_string(),
                ..SolverStats::default()
            },
        }
    }

    /// Row j of the differences.
    fn row(&self, j: usize) -> &[f64] {
        &self.diffs[j * self.n..(j + 1) * self.n]
    }

    /// f ← f(y_new).
    fn eval_rhs(&mut self) {
        self.stats.rhs_evals += 1;
        self.problem.rhs(&self.y_new, &mut self.f);
    }

    /// J ← J(y) (and its Gram form, if the problem has one; for the scaled Gram form
    /// −diag(d)·G − μI, G alone, in f32 where the problem offers it); the factorisation is out
    /// of date.
    pub(super) fn eval_jacobian(&mut self, y: &[f64]) {
        self.eval_jacobian_in(y, true);
    }

    /// [`Self::eval_jacobian`], with G in f32 only if `single` allows it.
    fn eval_jacobian_in(&mut self, y: &[f64], single: bool) {
        self.stats.jacobian_evals += 1;
        self.lu_c = f64::NAN;
        self.single_gram = false;
        if let Some(storage) = self.single.as_mut().filter(|_| single) {
            self.scaled = self
                .problem
                .scaled_gram_jacobian_single(y, &mut storage.gram);
            if self.scaled.is_some() {
                self.single_gram = true;
                self.jac_y.clear();
                self.jac_y.extend_from_slice(y);
                return;
            }
        }
        self.scaled = self.problem.scaled_gram_jacobian(y, &mut self.jac);
        if self.scaled.is_none() {
            self.problem.jacobian(y, &mut self.jac);
            self.gram = self.problem.gram_jacobian(y, &mut self.gram_d);
        }
    }

    /// The f32 iteration matrix gives way to f64 for the current Jacobian (its factorisation
    /// failed, or Newton failed with it where nothing else was stale): G again, in f64, at the
    /// Jacobian's state, counted as a Jacobian evaluation and a fallback.
    pub(super) fn fall_back_to_double(&mut self) {
        self.stats.newton.single_fallbacks += 1;
        let y = std::mem::take(&mut self.jac_y);
        self.eval_jacobian_in(&y, false);
        self.jac_y = y;
    }

    /// At the start: the local stiffness estimate at y₀ if the problem has one and functional
    /// iteration is on (J waits until Newton needs it), else J(y₀).
    pub(super) fn start(&mut self, y0: &[f64]) {
        if self.params.functional_max_rate > 0.0 && self.jac_bound.is_finite() {
            if let Some((estimate, passes)) = self.problem.local_spectral_estimate(y0) {
                self.stats.rhs_evals += passes;
                self.local_bound = Some(estimate);
                self.jac_pending = true;
                return;
            }
        }
        self.eval_jacobian(y0);
    }

    /// J ← J(y₁⁽⁰⁾); the factorisation is out of date.
    fn jacobian_at_predictor(&mut self) {
        let y = std::mem::take(&mut self.y_predict);
        self.eval_jacobian(&y);
        self.y_predict = y;
        self.jac_age = 0;
    }

    /// Rescale the differences of the current order for a step size changed by `factor`.
    pub(super) fn change_d(&mut self, factor: f64) {
        let k = self.order;
        let r = compute_r(k, factor);
        let u = compute_r(k, 1.0);
        let mut ru = [[0.0; MAX_ORDER + 1]; MAX_ORDER + 1];
        for i in 0..=k {
            for j in 0..=k {
                ru[i][j] = (0..=k).map(|m| r[i][m] * u[m][j]).sum();
            }
        }
        // D^col ← Σ_j (RU)_{j,col} D^j, a row at a time from a copy of the old rows.
        let n = self.n;
        let rows = (k + 1) * n;
        self.diffs_old[..rows].copy_from_slice(&self.diffs[..rows]);
        for col in 0..=k {
            let out = &mut self.diffs[col * n..(col + 1) * n];
            let coef = ru[0][col];
            for (o, &d0) in out.iter_mut().zip(&self.diffs_old[..n]) {
                *o = coef * d0;
            }
            for j in 1..=k {
                let coef = ru[j][col];
                for (o, &dj) in out.iter_mut().zip(&self.diffs_old[j * n..(j + 1) * n]) {
                    *o += coef * dj;
                }
            }
        }
    }

    /// One accepted step from τ = t towards `t_end` (`_step_impl` of `bdf.py`) within
    /// (rtol, atol), failing once this window's step attempts reach `budget`; returns τ₁.
    pub(super) fn step(
        &mut self,
        t: f64,
        t_end: f64,
        (rtol, atol, budget): (f64, f64, u64),
        newton_tol: f64,
    ) -> Result<f64, StepFailure> {
        let n = self.n;
        let fail = |reason: String| StepFailure::failed(t, reason);
        let min_step = 10.0 * (f64::from_bits(t.to_bits() + 1) - t);
        if self.h_abs < min_step {
            self.change_d(min_step / self.h_abs);
            self.h_abs = min_step;
            self.n_equal_steps = 0;
        }
        let mut current_jac = false;
        let mut h_abs = self.h_abs;
        loop {
            if self.stats.steps_accepted + self.stats.steps_rejected >= budget {
                return Err(fail(format!(
                    "the step budget ran out before τ_end = {t_end}"
                )));
            }
            if h_abs < min_step || h_abs.is_nan() {
                return Err(fail(format!(
                    "step size {h_abs:.3e} below the minimum {min_step:.3e} \
                     (Newton or the error test keeps failing)"
                )));
            }
            let mut t_new = t + h_abs;
            if t_new > t_end {
                t_new = t_end;
                self.change_d((t_new - t) / h_abs);
                self.n_equal_steps = 0;
            }
            let h = t_new - t;
            h_abs = h;
            let k = self.order;
            // y₁⁽⁰⁾ = Σ_{j≤k} D^j y₀ and ψ = Σ_{j≤k} γ_j D^j y₀ / α_k, a row at a time.
            self.y_predict.copy_from_slice(&self.diffs[..n]);
            self.psi.fill(0.0);
            for j in 1..=k {
                let g = self.gamma[j];
                let row = &self.diffs[j * n..(j + 1) * n];
                for ((yp, ps), &dj) in self.y_predict.iter_mut().zip(&mut self.psi).zip(row) {
                    *yp += dj;
                    *ps += g * dj;
                }
            }
            let alpha = self.alpha[k];
            for ((ps, s), &yp) in self
                .psi
                .iter_mut()
                .zip(&mut self.scale)
                .zip(&self.y_predict)
            {
                *ps /= alpha;
                *s = atol + rtol * yp.abs();
            }
            let c = h / self.alpha[k];
            let newton_tol = match self.params.newton {
                NewtonTest::Scipy => newton_tol,
                NewtonTest::Cvode { coef } => coef / self.error_const[k],
            };
            // Non-stiff at this step size: fixed-point iterations, no Jacobian or LU.
            let bound = self.functional_bound(c);
            let (converged, iterations) = if self.params.functional_max_rate > 0.0
                && c * bound <= self.params.functional_max_rate
            {
                self.functional(c, newton_tol, bound)
            } else {
                (false, 0)
            };
            if !converged && self.jac_pending {
                self.jac_pending = false;
                self.jacobian_at_predictor();
                current_jac = true;
            }
            if !converged && self.jac_age >= self.params.jacobian_max_age && !current_jac {
                self.jacobian_at_predictor();
                current_jac = true;
            }
            if !converged && self.lu_age >= self.params.lu_max_age {
                self.lu_c = f64::NAN;
            }
            let (converged, iterations) = if converged {
                (true, iterations)
            } else {
                self.newton_until_settled(c, newton_tol, &mut current_jac)
            };
            if !converged {
                self.stats.steps_rejected += 1;
                h_abs *= 0.5;
                self.change_d(0.5);
                self.n_equal_steps = 0;
                continue;
            }
            let safety =
                0.9 * (2 * NEWTON_MAXITER + 1) as f64 / (2 * NEWTON_MAXITER + iterations) as f64;
            for i in 0..n {
                self.scale[i] = atol + rtol * self.y_new[i].abs();
            }
            let error_norm = self.error_const[k] * norm(&self.d, &self.scale);
            // A NaN error norm (non-finite y₁) is a failed test too.
            let passed = error_norm <= 1.0;
            if !passed {
                self.stats.steps_rejected += 1;
                let factor =
                    (safety * error_norm.powf(-1.0 / (k + 1) as f64)).max(self.params.min_factor);
                h_abs *= factor;
                self.change_d(factor);
                self.n_equal_steps = 0;
                continue;
            }
            self.stats.steps_accepted += 1;
            self.jac_age += 1;
            self.lu_age += 1;
            self.local_age += 1;
            self.n_equal_steps += 1;
            self.h_abs = h_abs;
            // D^{k+2} = d − D^{k+1}, D^{k+1} = d, D^j += D^{j+1} for j = k … 0 (row by row).
            {
                let (lower, upper) = self.diffs.split_at_mut((k + 2) * n);
                let next = &mut lower[(k + 1) * n..];
                for ((top, nx), &d) in upper[..n].iter_mut().zip(next.iter_mut()).zip(&self.d) {
                    *top = d - *nx;
                    *nx = d;
                }
            }
            for j in (0..=k).rev() {
                let (lower, upper) = self.diffs.split_at_mut((j + 1) * n);
                for (dj, &dj1) in lower[j * n..].iter_mut().zip(&upper[..n]) {
                    *dj += dj1;
                }
            }
            if self.n_equal_steps < k + 1 {
                return Ok(t_new);
            }
            let error_m_norm = if k > 1 {
                self.error_const[k - 1] * norm(self.row(k), &self.scale)
            } else {
                f64::INFINITY
            };
            let error_p_norm = if k < MAX_ORDER {
                self.error_const[k + 1] * norm(self.row(k + 2), &self.scale)
            } else {
                f64::INFINITY
            };
            let factors = [
                error_m_norm.powf(-1.0 / k as f64),
                error_norm.powf(-1.0 / (k + 1) as f64),
                error_p_norm.powf(-1.0 / (k + 2) as f64),
            ];
            // The first maximum, as numpy's argmax.
            let mut best = 0;
            for (i, &f) in factors.iter().enumerate() {
                if f > factors[best] {
                    best = i;
                }
            }
            let factor = (safety * factors[best]).min(self.params.max_factor);
            if self.params.min_step_change > 1.0 && factor < self.params.min_step_change {
                // Hysteresis: keep h and the order; choose again after the next step.
                return Ok(t_new);
            }
            self.order = k + best - 1;
            self.h_abs *= factor;
            self.change_d(factor);
            self.n_equal_steps = 0;
            return Ok(t_new);
        }
    }

    /// The interpolating polynomial of the last step (ending at τ₁ = `t`) at `tau`, into `out`.
    pub(super) fn dense(&self, t: f64, tau: f64, out: &mut [f64]) {
        let h = self.h_abs;
        let mut p = [0.0; MAX_ORDER + 1];
        let mut prod = 1.0;
        for (m, pj) in p[1..=self.order].iter_mut().enumerate() {
            prod *= (tau - (t - h * m as f64)) / (h * (m + 1) as f64);
            *pj = prod;
        }
        out.copy_from_slice(self.row(0));
        for (j, &pj) in p.iter().enumerate().take(self.order + 1).skip(1) {
            for (o, &dj) in out.iter_mut().zip(self.row(j)) {
                *o += pj * dj;
            }
        }
    }

    /// SciPy's `select_initial_step` for order 1; `f` holds f(y₀), `y_new` is scratch.
    pub(super) fn initial_step(&mut self, y0: &[f64], t_end: f64, rtol: f64, atol: f64) -> f64 {
        for (s, &y) in self.scale.iter_mut().zip(y0) {
            *s = atol + rtol * y.abs();
        }
        let d0 = norm(y0, &self.scale);
        let d1 = norm(&self.f, &self.scale);
        let h0 = if d0 < 1e-5 || d1 < 1e-5 {
            1e-6
        } else {
            0.01 * d0 / d1
        }
        .min(t_end);
        for i in 0..self.n {
            self.y_new[i] = y0[i] + h0 * self.f[i];
        }
        // f(y₀) waits in `psi` while f(y₀ + h₀f(y₀)) is evaluated.
        self.psi.copy_from_slice(&self.f);
        self.eval_rhs();
        for i in 0..self.n {
            self.dy[i] = self.f[i] - self.psi[i];
        }
        self.f.copy_from_slice(&self.psi);
        let d2 = norm(&self.dy, &self.scale) / h0;
        let h1 = if d1 <= 1e-15 && d2 <= 1e-15 {
            (h0 * 1e-3).max(1e-6)
        } else {
            (0.01 / d1.max(d2)).sqrt()
        };
        (100.0 * h0).min(h1).min(t_end)
    }
}
