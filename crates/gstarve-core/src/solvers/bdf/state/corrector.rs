//! The corrector of a BDF step (the method of the module documentation of `solvers::bdf`):
//! simplified Newton with the factorisation of M = I − cJ it needs and its refreshes, and the
//! functional (fixed-point) iteration with the bound on ‖∂f/∂y‖ that decides between the two.

// The loops over components index several same-length buffers at once (y, f, d, Δ).
#![allow(clippy::needless_range_loop)]

use super::{norm, State};
use crate::ode::OdeProblem;
use crate::solvers::bdf::{
    NewtonTest, LOCAL_ESTIMATE_FAR, LOCAL_ESTIMATE_FAR_AGE, LOCAL_ESTIMATE_MAX_AGE,
    LOCAL_ESTIMATE_RECHECK, NEWTON_MAXITER,
};

impl<P: OdeProblem + ?Sized> State<'_, P> {
    /// The bound on ‖∂f/∂y‖ that decides functional iteration for a step with this c: the
    /// global [`OdeProblem::spectral_bound`], or, where the problem has a local estimate, the
    /// larger of that estimate (retaken at the predictor every [`LOCAL_ESTIMATE_MAX_AGE`]
    /// accepted steps while c times it is within [`LOCAL_ESTIMATE_RECHECK`] of the rate limit,
    /// every [`LOCAL_ESTIMATE_FAR_AGE`] while it is below [`LOCAL_ESTIMATE_FAR`] of it) and the
    /// functional iteration's own observed rate per unit c, capped by the global bound.
    pub(super) fn functional_bound(&mut self, c: f64) -> f64 {
        let Some(mut estimate) = self.local_bound else {
            return self.jac_bound;
        };
        let limit = self.params.functional_max_rate;
        let max_age = if c * estimate < LOCAL_ESTIMATE_FAR * limit {
            LOCAL_ESTIMATE_FAR_AGE
        } else {
            LOCAL_ESTIMATE_MAX_AGE
        };
        if self.local_age >= max_age && c * estimate <= LOCAL_ESTIMATE_RECHECK * limit {
            if let Some((e, passes)) = self.problem.local_spectral_estimate(&self.y_predict) {
                self.stats.rhs_evals += passes;
                estimate = e;
            }
            self.local_bound = Some(estimate);
            self.local_age = 0;
        }
        let observed = if self.functional_rate_per_c.is_finite() {
            self.functional_rate_per_c
        } else {
            0.0
        };
        let bound = estimate.max(observed);
        if bound.is_nan() {
            self.jac_bound
        } else {
            bound.min(self.jac_bound)
        }
    }

    /// Simplified Newton iterations for the step to y₁ with c = h/α_k (`solve_bdf_system` of
    /// `bdf.py`). Leaves y₁ in `y_new` and d in `d`; returns (converged, iterations).
    fn newton(&mut self, c: f64, tol: f64) -> (bool, usize) {
        self.y_new.copy_from_slice(&self.y_predict);
        self.d.fill(0.0);
        let rc = c / self.lu_c;
        // Corrections solved with a stale M are scaled by 2/(1 + c/c_M) (CVODE).
        let correction = if rc == 1.0 { 1.0 } else { 2.0 / (1.0 + rc) };
        let inv_lu_c = 1.0 / self.lu_c;
        let mut dy_norm_old: Option<f64> = None;
        self.stale_rate = 0.0;
        for k in 0..NEWTON_MAXITER {
            self.stats.newton.iterations += 1;
            self.eval_rhs();
            if !self.f.iter().all(|v| v.is_finite()) {
                return (false, k + 1);
            }
            for i in 0..self.n {
                self.dy[i] = (c * self.f[i] - self.psi[i] - self.d[i]) * inv_lu_c;
            }
            // M_M = c_M (I/c_M − J): the factorisation holds I/c_M − J.
            match &mut self.single {
                Some(single) if self.single_m => single.solve(&mut self.dy),
                _ => self.lu.solve(&mut self.dy),
            }
            if correction != 1.0 {
                self.dy.iter_mut().for_each(|v| *v *= correction);
            }
            let dy_norm = norm(&self.dy, &self.scale);
            if !dy_norm.is_finite() {
                return (false, k + 1);
            }
            let rate = dy_norm_old.map(|old| dy_norm / old);
            if let Some(rate) = rate {
                self.stale_rate = self.stale_rate.max(rate);
            }
            if let NewtonTest::Cvode { .. } = self.params.newton {
                if let Some(rate) = rate {
                    if rate > 2.0 {
                        return (false, k + 1);
                    }
                    self.conv_rate = (0.3 * self.conv_rate).max(rate);
                }
                self.add_correction();
                if dy_norm * self.conv_rate.min(1.0) <= tol {
                    return (true, k + 1);
                }
                dy_norm_old = Some(dy_norm);
                continue;
            }
            if let Some(rate) = rate {
                if rate >= 1.0
                    || rate.powi((NEWTON_MAXITER - k) as i32) / (1.0 - rate) * dy_norm > tol
                {
                    return (false, k + 1);
                }
            }
            self.add_correction();
            if dy_norm == 0.0 || rate.is_some_and(|r| r / (1.0 - r) * dy_norm < tol) {
                return (true, k + 1);
            }
            dy_norm_old = Some(dy_norm);
        }
        (false, NEWTON_MAXITER)
    }

    /// Fixed-point iterations d ← c f(y₁⁽⁰⁾ + d) − ψ for the step with c = h/α_k, with the stop
    /// and give-up rules of [`NewtonTest::Cvode`] and as convergence rate the larger of c·ρ
    /// (ρ ≥ ‖∂f/∂y‖₂) and c times the carried rate per unit c (1 before any observation, as
    /// CVODE starts), so that neither a weighted norm the bound does not cover nor a wrong
    /// bound lets a first correction pass unchecked. Leaves y₁ in `y_new` and d in `d`;
    /// returns (converged, iterations).
    pub(super) fn functional(&mut self, c: f64, tol: f64, bound: f64) -> (bool, usize) {
        self.y_new.copy_from_slice(&self.y_predict);
        self.d.fill(0.0);
        let carried = (c * self.functional_rate_per_c).min(1.0);
        let mut rate = (c * bound).max(carried);
        let mut dy_norm_old: Option<f64> = None;
        for k in 0..NEWTON_MAXITER {
            self.eval_rhs();
            if !self.f.iter().all(|v| v.is_finite()) {
                return (false, k + 1);
            }
            for i in 0..self.n {
                self.dy[i] = c * self.f[i] - self.psi[i] - self.d[i];
            }
            let dy_norm = norm(&self.dy, &self.scale);
            if !dy_norm.is_finite() {
                return (false, k + 1);
            }
            if let Some(old) = dy_norm_old {
                let observed = dy_norm / old;
                if observed > 2.0 {
                    return (false, k + 1);
                }
                let per_c = observed / c;
                self.functional_rate_per_c = if self.functional_rate_per_c.is_finite() {
                    (0.3 * self.functional_rate_per_c).max(per_c)
                } else {
                    per_c
                };
                rate = rate.max(observed);
            }
            self.add_correction();
            if dy_norm * rate.min(1.0) <= tol {
                return (true, k + 1);
            }
            dy_norm_old = Some(dy_norm);
        }
        (false, NEWTON_MAXITER)
    }

    /// Newton ([`Self::newton`]) for the step with c = h/α_k, refreshing what is stale before
    /// giving up: after a failure with an old Jacobian, a new one at the predictor (and
    /// `current_jac` set); after a failure with a current Jacobian but an M factorised at
    /// another c, a factorisation at this c. Returns (converged, iterations).
    pub(super) fn newton_until_settled(
        &mut self,
        c: f64,
        tol: f64,
        current_jac: &mut bool,
    ) -> (bool, usize) {
        loop {
            let (converged, iterations) = if self.ensure_lu(c) {
                self.newton(c, tol)
            } else {
                (false, 0)
            };
            if converged {
                return (true, iterations);
            }
            self.stats.newton.failures += 1;
            let stale_m = c != self.lu_c && self.lu_c.is_finite();
            if stale_m && self.params.stale_max_rate > 0.0 {
                // Monitored modified Newton: the stale c first, the same J (CVODE's order).
                self.lu_c = f64::NAN;
            } else if !*current_jac {
                // Newton failed with an old Jacobian: a new one at the predictor.
                self.jacobian_at_predictor();
                *current_jac = true;
            } else if stale_m {
                // Current Jacobian but a stale M: factorise at this c before giving up.
                self.lu_c = f64::NAN;
            } else if self.single_m {
                // Current J and M, but M in f32: in f64 before giving up.
                self.fall_back_to_double();
            } else {
                return (false, iterations);
            }
        }
    }

    /// y₁ += Δ, d += Δ.
    fn add_correction(&mut self) {
        for i in 0..self.n {
            self.y_new[i] += self.dy[i];
            self.d[i] += self.dy[i];
        }
    }

    /// Factorise M for c if there is no factorisation or its c is too far from this one.
    fn ensure_lu(&mut self, c: f64) -> bool {
        // NaN (no factorisation) compares false: refactorise.
        let rc = c / self.lu_c;
        let max_rate = self.params.stale_max_rate;
        let keep = (rc - 1.0).abs() <= self.params.refactor_ratio
            || (max_rate > 0.0
                && (rc - 1.0).abs() / (rc + 1.0) <= max_rate
                && self.stale_rate <= max_rate);
        if !keep {
            self.stats.lu_factorisations += 1;
            // M/c = (1/c + μ)I + diag(d)·G with G in f32 by an f32 Cholesky (`single`) where
            // the problem gave G in f32; if that fails, G again in f64.
            self.single_m = false;
            if self.single_gram {
                if let (Some(single), Some((d, mu))) = (&mut self.single, self.scaled) {
                    self.single_m = single.factor(d, 1.0 / c + mu);
                }
                if !self.single_m {
                    self.fall_back_to_double();
                }
            }
            // Else M/c = (1/c + μ)I + K·diag(d) (or + diag(d)·G) by Cholesky where the
            // structure allows, else LU.
            let factored = self.single_m
                || match self.scaled {
                    Some((d, mu)) => self.lu.factor_scaled_gram(&self.jac, d, 1.0 / c + mu),
                    None => {
                        self.gram.is_some_and(|(k, mu)| {
                            self.lu.factor_gram(k, &self.gram_d, 1.0 / c + mu)
                        }) || self.lu.factor(&self.jac, 1.0 / c)
                    }
                };
            if !factored {
                self.lu_c = f64::NAN;
                return false;
            }
            if self.single_m {
                let newton = &mut self.stats.newton;
                newton.single_factorisations += 1;
                let kappa = 1.0 + c * self.local_bound.unwrap_or(self.jac_bound);
                newton.single_condition = Some(match newton.single_condition {
                    Some((lo, hi)) => (lo.min(kappa), hi.max(kappa)),
                    None => (kappa, kappa),
                });
            }
            self.lu_c = c;
            self.lu_age = 0;
            self.conv_rate = 1.0;
            self.stale_rate = 0.0;
        }
        true
    }
}
