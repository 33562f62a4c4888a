//! The Newton step of the softmax steady state by preconditioned conjugate gradients on the
//! Hessian's action (docs/theory.md §12.4): an inexact Newton step A s ≈ −g, stopped on the
//! residual ρ = A s + g in the units of the Newton residual, max_j |ρ_j|/W_jj. Since the gradient
//! after the step is ρ + O(‖s‖²), stopping there at η·res(z) (η → 0 with res) keeps Newton's
//! superlinear convergence, and at a fraction of the tolerance in the last step ends on a
//! residual below it.

use nalgebra::DVector;

/// Iterations between the checks of the convergence rate.
const CHECK_EVERY: usize = 8;

/// A conjugate-gradient solve that was given up: it would have cost more than `budget`
/// iterations, or met a direction of non-positive curvature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Abandoned {
    /// Hessian actions spent before giving up.
    pub iterations: usize,
}

/// max_j |v_j|/w_j (NaN counts as ∞).
pub(super) fn scaled_max(v: &DVector<f64>, weights: &DVector<f64>) -> f64 {
    v.iter()
        .zip(weights.iter())
        .map(|(v, &w)| (v / w).abs())
        .fold(
            0.0,
            |m: f64, e| if e.is_nan() { f64::INFINITY } else { m.max(e) },
        )
}

/// s with max_j |(A s + g)_j|/w_j ≤ `threshold` by conjugate gradients (A symmetric positive
/// definite, given by its `action`; `precondition(r)` = M⁻¹r for a symmetric positive definite
/// M ≈ A), and the iterations (Hessian actions) taken.
///
/// Every [`CHECK_EVERY`] iterations the rate so far, ρ = (res_k/res₀)^{1/k}, is projected to the
/// threshold: when it would need more than `budget` iterations in all, the solve is
/// [`Abandoned`] (the caller then factorises the Hessian), so that a poor preconditioner costs
/// at most a fraction of the budget.
pub(super) fn conjugate_gradients(
    action: impl Fn(&DVector<f64>) -> DVector<f64>,
    precondition: impl Fn(&DVector<f64>) -> DVector<f64>,
    g: &DVector<f64>,
    weights: &DVector<f64>,
    threshold: f64,
    budget: usize,
) -> Result<(DVector<f64>, usize), Abandoned> {
    let start = scaled_max(g, weights);
    let mut x = DVector::zeros(g.len());
    if start <= threshold {
        return Ok((x, 0));
    }
    let mut r = -g;
    let mut z = precondition(&r);
    let mut p = z.clone();
    let mut rz = r.dot(&z);
    for iteration in 1..=budget {
        let ap = action(&p);
        let curvature = p.dot(&ap);
        if curvature.is_nan() || curvature <= 0.0 || !rz.is_finite() {
            return Err(Abandoned {
                iterations: iteration,
            });
        }
        let alpha = rz / curvature;
        x.axpy(alpha, &p, 1.0);
        r.axpy(-alpha, &ap, 1.0);
        let now = scaled_max(&r, weights);
        if now <= threshold {
            return Ok((x, iteration));
        }
        if iteration % CHECK_EVERY == 0 {
            // Iterations needed at the rate so far: k·ln(threshold/start)/ln(now/start).
            let gained = (now / start).ln();
            let needed = (threshold / start).ln();
            if gained.is_nan()
                || gained >= 0.0
                || iteration as f64 * needed / gained > budget as f64
            {
                return Err(Abandoned {
                    iterations: iteration,
                });
            }
        }
        z = precondition(&r);
        let rz_next = r.dot(&z);
        p = &z + &p * (rz_next / rz);
        rz = rz_next;
    }
    Err(Abandoned { iterations: budget })
}

#[cfg(test)]
mod tests {
    use nalgebra::{DMatrix, DVector};

    use super::*;

    /// A = diag(w) + 10⁻³·uuᵀ (‖u‖ = 1): diagonally preconditioned CG reaches the threshold in
    /// the scaled norm, and its step is A⁻¹(−g). With no preconditioner on a spectrum over six
    /// decades it gives up at the first rate check when the budget is nearly spent by then, and
    /// at the budget's end when that comes first.
    #[test]
    fn reaches_the_scaled_threshold_or_gives_up_early() {
        let r = 60;
        let weights = DVector::from_fn(r, |j, _| 1e-3 * (1.0 + j as f64));
        let u = DVector::from_fn(r, |j, _| (j as f64 + 1.0).sin()).normalize();
        let a = DMatrix::from_diagonal(&weights) + &u * u.transpose() * 1e-3;
        let g = DVector::from_fn(r, |j, _| (j as f64).cos());
        let diag = a.diagonal();
        let action = |v: &DVector<f64>| &a * v;
        let jacobi = |v: &DVector<f64>| v.component_div(&diag);
        let threshold = 1e-10 * scaled_max(&g, &weights);
        let (s, iterations) =
            conjugate_gradients(action, jacobi, &g, &weights, threshold, 500).unwrap();
        assert!(iterations < 100, "{iterations}");
        let residual = &a * &s + &g;
        assert!(scaled_max(&residual, &weights) <= 10.0 * threshold);
        let exact = a.clone().cholesky().unwrap().solve(&(-&g));
        assert!((&s - &exact).amax() < 1e-8 * exact.amax());

        let stiff = DMatrix::from_diagonal(&DVector::from_fn(r, |j, _| {
            10f64.powf(6.0 * j as f64 / (r - 1) as f64)
        }));
        let ones = DVector::from_element(r, 1.0);
        let plain = |v: &DVector<f64>| v.clone();
        let slow = |budget| {
            conjugate_gradients(|v| &stiff * v, plain, &g, &ones, 1e-10, budget).map(|(_, k)| k)
        };
        assert_eq!(
            slow(CHECK_EVERY + 1),
            Err(Abandoned {
                iterations: CHECK_EVERY
            })
        );
        assert_eq!(slow(3), Err(Abandoned { iterations: 3 }));
    }
}
