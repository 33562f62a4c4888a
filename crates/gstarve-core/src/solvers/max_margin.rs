//! The max-margin limit of docs/theory.md §11.1: the hard-margin SVM with the NTK,
//!
//! ```text
//! ẑ = argmin ½ zᵀS⁻²z  subject to  U z ≥ 1,
//! dual  α̂ = argmax_{α ≥ 0} 1ᵀα − ½ αᵀKα,   K = U S² Uᵀ,   ẑ = S²Uᵀα̂,
//! ```
//!
//! solved exactly as the linear complementarity problem of its KKT conditions,
//! w = Kα − 1 ≥ 0, α ≥ 0, αᵀw = 0 (w = margins − 1), by block principal pivoting (Júdice and
//! Pires 1994; the form of Kim and Park 2011 for NNLS): the support set F is guessed, K_FF α_F =
//! 1_F is solved by Cholesky, and every example that breaks a sign condition (α_i < 0 in F,
//! margin < 1 outside it) changes side; when the number of such examples stops falling for three
//! rounds, only the last one changes side (Murty's rule), which makes the iteration finite. The
//! first guess is every example (α = K⁻¹1): when K⁻¹1 ≥ 0 that is the answer after one solve.
//! Each round costs one Cholesky factorisation of K_FF, |F|³/3 multiply–adds (faer, blocked).
//!
//! K must be positive definite: r = n features, every strength > 0 (with r < n the constraint
//! set may be empty: the kept features need not separate the data).

use faer::linalg::solvers::Solve;
use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use crate::error::{Error, InputError, NumericalError, Result};
use crate::systems::FeatureSystem;

/// Largest n solved (K is formed: n² numbers).
pub const MAX_EXAMPLES: usize = 20_000;

/// Rounds of "flip every infeasible example" allowed without progress before Murty's rule.
const BACKUP_ROUNDS: usize = 3;

/// The KKT residuals of a max-margin solution (each 0 for an exact one).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct KktResiduals {
    /// max_i max(0, 1 − m_i): primal feasibility (every margin ≥ 1).
    pub primal_infeasibility: f64,
    /// max_i max(0, −α_i): dual feasibility (α ≥ 0; 0 by construction).
    pub dual_infeasibility: f64,
    /// max_i α_i·|m_i − 1| / max_i α_i: complementary slackness, relative.
    pub complementarity: f64,
    /// max over support vectors of |m_i − 1|: the support margins are exactly 1.
    pub support_margin_error: f64,
    /// ‖ẑ − S²Uᵀα̂‖∞ / ‖ẑ‖∞: stationarity of the Lagrangian (ẑ is formed from α̂, so rounding).
    pub stationarity: f64,
}

impl KktResiduals {
    /// The largest of the residuals.
    pub fn max(&self) -> f64 {
        [
            self.primal_infeasibility,
            self.dual_infeasibility,
            self.complementarity,
            self.support_margin_error,
            self.stationarity,
        ]
        .into_iter()
        .fold(0.0, f64::max)
    }
}

/// The max-margin solution with its evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct MaxMargin {
    /// ẑ, the minimum-norm responses with every margin ≥ 1.
    pub z_hat: DVector<f64>,
    /// ẑ/‖ẑ‖₂: the limit direction of z*(λ) as λ → 0 (docs/theory.md §11.1).
    pub direction: DVector<f64>,
    /// α̂ ≥ 0, the dual variables (α̂_i > 0 on support vectors).
    pub alpha: DVector<f64>,
    /// Whether example i is a support vector (α̂_i > 0).
    pub support: Vec<bool>,
    /// Margins U ẑ (exactly 1 on support vectors, ≥ 1 elsewhere).
    pub margins: DVector<f64>,
    /// KKT residuals of the result.
    pub kkt: KktResiduals,
    /// Pivoting rounds (Cholesky solves) taken.
    pub iterations: usize,
}

/// The max-margin solution of `system` (docs/theory.md §11.1), by block principal pivoting.
pub fn max_margin(system: &FeatureSystem) -> Result<MaxMargin> {
    let (n, r) = (system.examples(), system.rank());
    if r != n {
        return Err(Error::Input(InputError::Unsupported(format!(
            "max-margin needs as many features as examples (r = n; here r = {r}, n = {n}): with \
             fewer, the kept features need not separate the data (docs/theory.md §11.1)"
        ))));
    }
    if let Some(j) = system.strengths().iter().position(|&s| s <= 0.0) {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "strength s_j",
            value: system.strengths()[j],
            rule: "max-margin needs every strength > 0 (K = US²Uᵀ positive definite)",
        }));
    }
    if n > MAX_EXAMPLES {
        return Err(Error::Input(InputError::Unsupported(format!(
            "max-margin forms the n × n Gram matrix: n = {n} is above its limit of \
             {MAX_EXAMPLES} examples"
        ))));
    }
    let k = gram(system);
    let (alpha, iterations) = pivot(&k)?;
    let s2 = system.strengths_squared();
    let u = system.coupling();
    let z_hat = u.tr_mul(&alpha).component_mul(&s2);
    let margins = u * &z_hat;
    let norm = z_hat.norm();
    let direction = &z_hat / norm;
    let support: Vec<bool> = alpha.iter().map(|&a| a > 0.0).collect();
    let kkt = residuals(&alpha, &margins, &support, &z_hat, &s2, u);
    Ok(MaxMargin {
        z_hat,
        direction,
        alpha,
        support,
        margins,
        kkt,
        iterations,
    })
}

/// K = U S² Uᵀ by faer's triangular GEMM (in parallel for large n).
fn gram(system: &FeatureSystem) -> faer::Mat<f64> {
    let u = system.coupling();
    let (n, r) = u.shape();
    let s2 = system.strengths_squared();
    let view = faer::MatRef::from_column_major_slice(u.as_slice(), n, r);
    let scaled = faer::Mat::<f64>::from_fn(n, r, |i, j| view[(i, j)] * s2[j]);
    let par = if n * n * r >= 1 << 21 {
        faer::Par::rayon(0)
    } else {
        faer::Par::Seq
    };
    // The lower triangle only (half the product), then mirrored.
    let mut k = faer::Mat::<f64>::zeros(n, n);
    use faer::linalg::matmul::triangular::{matmul, BlockStructure};
    matmul(
        k.as_mut(),
        BlockStructure::TriangularLower,
        faer::Accum::Replace,
        scaled.as_ref(),
        BlockStructure::Rectangular,
        view.transpose(),
        BlockStructure::Rectangular,
        1.0,
        par,
    );
    for j in 0..n {
        for i in 0..j {
            k[(i, j)] = k[(j, i)];
        }
    }
    k
}

/// α solving the LCP w = Kα − 1 ≥ 0, α ≥ 0, αᵀw = 0, and the rounds taken.
fn pivot(k: &faer::Mat<f64>) -> Result<(DVector<f64>, usize)> {
    let n = k.nrows();
    let mut free = vec![true; n];
    let mut best = n + 1;
    let mut backups = BACKUP_ROUNDS;
    let limit = 10 * n + 20;
    for round in 1..=limit {
        let alpha = solve_free(k, &free)?;
        let w = slack(k, &alpha);
        // Sign conditions, with a rounding allowance: α_i ≥ 0 in F, w_i ≥ 0 outside.
        let amax = alpha.amax();
        let infeasible: Vec<usize> = (0..n)
            .filter(|&i| {
                if free[i] {
                    alpha[i] < -1e-13 * amax
                } else {
                    w[i] < -1e-12
                }
            })
            .collect();
        if infeasible.is_empty() {
            // Examples in F with a rounding-level negative α are not support vectors.
            let alpha = alpha.map(|a| a.max(0.0));
            return Ok((alpha, round));
        }
        if infeasible.len() < best {
            best = infeasible.len();
            backups = BACKUP_ROUNDS;
            for &i in &infeasible {
                free[i] = !free[i];
            }
        } else if backups > 0 {
            backups -= 1;
            for &i in &infeasible {
                free[i] = !free[i];
            }
        } else if let Some(&i) = infeasible.last() {
            free[i] = !free[i];
        }
        if round == limit {
            return Err(Error::Numerical(NumericalError::MaxMarginFailed {
                iterations: round,
                infeasible: infeasible.len(),
            }));
        }
    }
    unreachable!("the loop returns by its last round")
}

/// α with α_F = K_FF⁻¹ 1_F (Cholesky, one step of iterative refinement) and 0 outside F.
fn solve_free(k: &faer::Mat<f64>, free: &[bool]) -> Result<DVector<f64>> {
    let n = k.nrows();
    let index: Vec<usize> = (0..n).filter(|&i| free[i]).collect();
    let m = index.len();
    let mut alpha = DVector::zeros(n);
    if m == 0 {
        return Ok(alpha);
    }
    let sub = faer::Mat::<f64>::from_fn(m, m, |a, b| k[(index[a], index[b])]);
    let llt = sub.llt(faer::Side::Lower).map_err(|_| {
        Error::Numerical(NumericalError::SingularMatrix {
            matrix: "K_FF = (US²Uᵀ) on the support set",
            dimension: m,
        })
    })?;
    let ones = faer::Mat::<f64>::from_fn(m, 1, |_, _| 1.0);
    let mut x = llt.solve(ones.as_ref());
    // One step of iterative refinement: x += K_FF⁻¹(1 − K_FF x).
    let mut residual = ones.clone();
    faer::linalg::matmul::matmul(
        residual.as_mut(),
        faer::Accum::Add,
        sub.as_ref(),
        x.as_ref(),
        -1.0,
        faer::Par::Seq,
    );
    let correction = llt.solve(residual.as_ref());
    x += correction;
    for (a, &i) in index.iter().enumerate() {
        alpha[i] = x[(a, 0)];
    }
    Ok(alpha)
}

/// w = Kα − 1 (margins minus one).
fn slack(k: &faer::Mat<f64>, alpha: &DVector<f64>) -> DVector<f64> {
    let n = k.nrows();
    let a = faer::MatRef::from_column_major_slice(alpha.as_slice(), n, 1);
    let mut w = faer::Mat::<f64>::from_fn(n, 1, |_, _| -1.0);
    faer::linalg::matmul::matmul(
        w.as_mut(),
        faer::Accum::Add,
        k.as_ref(),
        a,
        1.0,
        faer::Par::Seq,
    );
    DVector::from_fn(n, |i, _| w[(i, 0)])
}

fn residuals(
    alpha: &DVector<f64>,
    margins: &DVector<f64>,
    support: &[bool],
    z_hat: &DVector<f64>,
    s2: &DVector<f64>,
    u: &DMatrix<f64>,
) -> KktResiduals {
    let amax = alpha.amax().max(f64::MIN_POSITIVE);
    let mut out = KktResiduals {
        primal_infeasibility: 0.0,
        dual_infeasibility: 0.0,
        complementarity: 0.0,
        support_margin_error: 0.0,
        stationarity: 0.0,
    };
    for i in 0..alpha.len() {
        let (a, m) = (alpha[i], margins[i]);
        out.primal_infeasibility = out.primal_infeasibility.max(1.0 - m);
        out.dual_infeasibility = out.dual_infeasibility.max(-a);
        out.complementarity = out.complementarity.max(a * (m - 1.0).abs() / amax);
        if support[i] {
            out.support_margin_error = out.support_margin_error.max((m - 1.0).abs());
        }
    }
    let again = u.tr_mul(alpha).component_mul(s2);
    out.stationarity = (z_hat - again).amax() / z_hat.amax().max(f64::MIN_POSITIVE);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::Spectrum;

    /// docs/theory.md §11.1 (toy of §6, δ = 0.5): for l < l* = 5.08493 every example is a
    /// support vector and the direction is Uᵀ1/‖Uᵀ1‖ = (0.965926, 0.258819); at l = 6 example 1
    /// leaves and ẑ = (1.5, 0.288675), direction (0.981981, 0.188982).
    #[test]
    fn toy_reference_values() {
        let below = max_margin(&FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap()).unwrap();
        assert_eq!(below.support, vec![true, true]);
        assert!((below.direction[0] - 0.965926).abs() < 1e-6);
        assert!((below.direction[1] - 0.258819).abs() < 1e-6);
        let above = max_margin(&FeatureSystem::rotation(6.0, 2.0, 0.5).unwrap()).unwrap();
        assert_eq!(above.support, vec![false, true]);
        assert!((above.z_hat[0] - 1.5).abs() < 1e-12, "{}", above.z_hat);
        assert!((above.z_hat[1] - 0.288675).abs() < 1e-6);
        assert!((above.direction[0] - 0.981981).abs() < 1e-6);
        assert!((above.direction[1] - 0.188982).abs() < 1e-6);
        assert!(above.margins[0] > 1.1);
        assert!(above.kkt.max() < 1e-14, "{:?}", above.kkt);
    }

    /// The KKT conditions hold to rounding on random systems where part of the examples are
    /// support vectors, and ẑ is the optimum: no feasible point of the segment towards another
    /// feasible point has a smaller norm (convexity makes this local test global).
    #[test]
    fn kkt_and_optimality_on_random_systems() {
        for (n, seed) in [(5, 1), (30, 2), (120, 3)] {
            let sys = FeatureSystem::random(
                n,
                Spectrum::Geometric {
                    from: 5.0,
                    to: 0.05,
                },
                seed,
            )
            .unwrap();
            let mm = max_margin(&sys).unwrap();
            let supports = mm.support.iter().filter(|&&s| s).count();
            assert!(supports > 0 && supports < n, "n = {n}: {supports} supports");
            assert!(mm.kkt.max() < 1e-9, "n = {n}: {:?}", mm.kkt);
            let s2 = sys.strengths_squared();
            let norm = |z: &DVector<f64>| 0.5 * z.component_div(&s2).dot(z);
            // Another feasible point: Uᵀ(2·1) has margins 2.
            let other = sys.coupling().tr_mul(&DVector::from_element(n, 2.0));
            for t in [1e-3, 1e-2, 0.1] {
                let trial = &mm.z_hat * (1.0 - t) + &other * t;
                assert!(norm(&trial) >= norm(&mm.z_hat) * (1.0 - 1e-12));
            }
        }
    }

    #[test]
    fn rejects_what_it_cannot_solve() {
        let u = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        let thin = FeatureSystem::new(DVector::from_vec(vec![2.0, 1.0]), u).unwrap();
        assert!(matches!(
            max_margin(&thin),
            Err(Error::Input(InputError::Unsupported(_)))
        ));
        let zero = FeatureSystem::decoupled(&[2.0, 0.0]).unwrap();
        assert!(matches!(
            max_margin(&zero),
            Err(Error::Input(InputError::InvalidParameter { .. }))
        ));
    }
}
