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
//!
//! K is never formed. U is square and orthogonal, so K = AAᵀ with A = US and K⁻¹ = BBᵀ with
//! B = US⁻¹; each round solves on the smaller side: K_FF α_F = 1 (Cholesky of A_F A_Fᵀ) when the
//! support guess is the smaller set, else the complementary system (K⁻¹)_GG w_G = −(K⁻¹1)_G on
//! the examples G outside it (Cholesky of B_G B_Gᵀ), and the first round, G empty, is
//! α = K⁻¹1 = BBᵀ1 with no factorisation. A round forms only the rows of its Gram block that the
//! previous round's block did not have (the sets change by the examples that switch sides), so
//! after the first block a round costs O(n·|changed|·|block| + |block|³/3) multiply–adds
//! (faer, blocked), not the n³/2 of K.
//!
//! K must be positive definite: r = n features, every strength > 0 (with r < n the constraint
//! set may be empty: the kept features need not separate the data).

use faer::linalg::solvers::Solve;
use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use crate::error::{Error, InputError, NumericalError, Result};
use crate::systems::FeatureSystem;

/// Largest n solved (A, B and a Gram block are held: up to 3n² numbers).
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
    /// The largest of the residuals (NaN if any is).
    pub fn max(&self) -> f64 {
        [
            self.primal_infeasibility,
            self.dual_infeasibility,
            self.complementarity,
            self.support_margin_error,
            self.stationarity,
        ]
        .into_iter()
        .fold(0.0, crate::model::nan_max)
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
    let (alpha, iterations) = pivot(system)?;
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

/// The scaled rows whose Gram blocks the rounds need: A = US (K = AAᵀ) and B = US⁻¹
/// (K⁻¹ = BBᵀ: U is square and orthogonal), with the last block of each kept, so that a round
/// computes only the rows of its block that the previous round did not have.
struct Rows {
    a: faer::Mat<f64>,
    b: faer::Mat<f64>,
    /// The last K_FF (its index set and the block).
    k_block: Option<(Vec<usize>, faer::Mat<f64>)>,
    /// The last (K⁻¹)_GG.
    m_block: Option<(Vec<usize>, faer::Mat<f64>)>,
}

/// From this many multiply–adds on, a product runs on all cores.
const PARALLEL_MIN_WORK: usize = 1 << 21;

fn par(work: usize) -> faer::Par {
    if work >= PARALLEL_MIN_WORK {
        faer::Par::rayon(0)
    } else {
        faer::Par::Seq
    }
}

impl Rows {
    fn new(system: &FeatureSystem) -> Self {
        let u = system.coupling();
        let (n, r) = u.shape();
        let s = system.strengths();
        let view = faer::MatRef::from_column_major_slice(u.as_slice(), n, r);
        Self {
            a: faer::Mat::from_fn(n, r, |i, j| view[(i, j)] * s[j]),
            b: faer::Mat::from_fn(n, r, |i, j| view[(i, j)] / s[j]),
            k_block: None,
            m_block: None,
        }
    }

    /// x ↦ XXᵀx for the scaled rows X (A or B): two products, O(n²).
    fn apply(rows: &faer::Mat<f64>, x: &DVector<f64>) -> DVector<f64> {
        let n = rows.nrows();
        let x = faer::MatRef::from_column_major_slice(x.as_slice(), n, 1);
        let inner = rows.transpose() * x;
        let out = rows * &inner;
        DVector::from_fn(n, |i, _| out[(i, 0)])
    }

    /// The Gram block X_I X_Iᵀ of the rows in `index`, reusing the entries of `cache` (the last
    /// block of the same X) between rows both have: only the new rows' products are formed.
    fn block(
        rows: &faer::Mat<f64>,
        index: &[usize],
        cache: &mut Option<(Vec<usize>, faer::Mat<f64>)>,
    ) -> faer::Mat<f64> {
        let (n, r) = rows.shape();
        let m = index.len();
        let mut old = vec![usize::MAX; n];
        if let Some((previous, _)) = cache.as_ref() {
            for (a, &i) in previous.iter().enumerate() {
                old[i] = a;
            }
        }
        let fresh: Vec<usize> = (0..m).filter(|&a| old[index[a]] == usize::MAX).collect();
        let gathered = faer::Mat::<f64>::from_fn(m, r, |a, j| rows[(index[a], j)]);
        let new_rows = faer::Mat::<f64>::from_fn(fresh.len(), r, |b, j| gathered[(fresh[b], j)]);
        let mut products = faer::Mat::<f64>::zeros(fresh.len(), m);
        faer::linalg::matmul::matmul(
            products.as_mut(),
            faer::Accum::Replace,
            new_rows.as_ref(),
            gathered.transpose(),
            1.0,
            par(fresh.len() * m * r),
        );
        let mut position = vec![usize::MAX; m];
        for (b, &a) in fresh.iter().enumerate() {
            position[a] = b;
        }
        let block = faer::Mat::<f64>::from_fn(m, m, |a, b| {
            if position[a] != usize::MAX {
                products[(position[a], b)]
            } else if position[b] != usize::MAX {
                products[(position[b], a)]
            } else {
                let previous = &cache.as_ref().expect("an old entry has a cache").1;
                previous[(old[index[a]], old[index[b]])]
            }
        });
        *cache = Some((index.to_vec(), block.clone()));
        block
    }
}

/// α solving the LCP w = Kα − 1 ≥ 0, α ≥ 0, αᵀw = 0, and the rounds taken.
fn pivot(system: &FeatureSystem) -> Result<(DVector<f64>, usize)> {
    let n = system.examples();
    let mut rows = Rows::new(system);
    let mut free = vec![true; n];
    let mut best = n + 1;
    let mut backups = BACKUP_ROUNDS;
    let limit = 10 * n + 20;
    for round in 1..=limit {
        let (alpha, w) = solve_round(&mut rows, &free)?;
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

/// Cholesky of a Gram block (faer), or the singular-matrix error naming it.
fn factor(block: &faer::Mat<f64>, matrix: &'static str) -> Result<faer::linalg::solvers::Llt<f64>> {
    block.llt(faer::Side::Lower).map_err(|_| {
        Error::Numerical(NumericalError::SingularMatrix {
            matrix,
            dimension: block.nrows(),
        })
    })
}

fn solve(llt: &faer::linalg::solvers::Llt<f64>, b: &DVector<f64>) -> DVector<f64> {
    let x = llt.solve(faer::MatRef::from_column_major_slice(
        b.as_slice(),
        b.len(),
        1,
    ));
    DVector::from_fn(b.len(), |i, _| x[(i, 0)])
}

/// One round for the support guess F (G its complement): α with α_G = 0 and (Kα)_F = 1_F, and
/// w = Kα − 1 (0 on F). On the smaller side:
///
/// - |F| ≤ |G|: K_FF α_F = 1_F by Cholesky of K_FF = A_F A_Fᵀ, w = K α − 1;
/// - |G| < |F|: with K⁻¹ = BBᵀ and α = K⁻¹(1 + w), w_F = 0, the condition α_G = 0 reads
///   (K⁻¹)_GG w_G = −(K⁻¹1)_G, solved by Cholesky of (K⁻¹)_GG = B_G B_Gᵀ. With G empty (the first
///   round) α = K⁻¹1 needs no factorisation at all.
///
/// Each solve takes one step of iterative refinement, its residual formed through the rows.
fn solve_round(rows: &mut Rows, free: &[bool]) -> Result<(DVector<f64>, DVector<f64>)> {
    let n = free.len();
    let support: Vec<usize> = (0..n).filter(|&i| free[i]).collect();
    let others: Vec<usize> = (0..n).filter(|&i| !free[i]).collect();
    if support.len() <= others.len() {
        let mut alpha = DVector::zeros(n);
        if support.is_empty() {
            return Ok((alpha, DVector::from_element(n, -1.0)));
        }
        let block = Rows::block(&rows.a, &support, &mut rows.k_block);
        let llt = factor(&block, "K_FF = (US²Uᵀ) on the support set")?;
        let mut x = solve(&llt, &DVector::from_element(support.len(), 1.0));
        for (a, &i) in support.iter().enumerate() {
            alpha[i] = x[a];
        }
        let w = Rows::apply(&rows.a, &alpha).add_scalar(-1.0);
        let residual = DVector::from_iterator(support.len(), support.iter().map(|&i| -w[i]));
        x += solve(&llt, &residual);
        for (a, &i) in support.iter().enumerate() {
            alpha[i] = x[a];
        }
        let w = Rows::apply(&rows.a, &alpha).add_scalar(-1.0);
        return Ok((alpha, w));
    }
    let ones = DVector::from_element(n, 1.0);
    if others.is_empty() {
        return Ok((Rows::apply(&rows.b, &ones), DVector::zeros(n)));
    }
    let block = Rows::block(&rows.b, &others, &mut rows.m_block);
    let llt = factor(&block, "(US⁻²Uᵀ) on the examples outside the support set")?;
    let base = Rows::apply(&rows.b, &ones);
    let mut y = solve(
        &llt,
        &DVector::from_iterator(others.len(), others.iter().map(|&i| -base[i])),
    );
    let mut w = DVector::zeros(n);
    let mut alpha = base.clone();
    for refine in 0..2 {
        for (a, &i) in others.iter().enumerate() {
            w[i] = y[a];
        }
        alpha = &base + Rows::apply(&rows.b, &w);
        if refine == 0 {
            // α_G is the residual (K⁻¹)_GG y + (K⁻¹1)_G.
            let residual = DVector::from_iterator(others.len(), others.iter().map(|&i| -alpha[i]));
            y += solve(&llt, &residual);
        }
    }
    for &i in &others {
        alpha[i] = 0.0;
    }
    Ok((alpha, w))
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

    /// A NaN residual is the largest: the KKT check of a failed solve cannot read as passed.
    #[test]
    fn a_nan_residual_is_the_largest() {
        let mut kkt = KktResiduals {
            primal_infeasibility: 1e-15,
            dual_infeasibility: 0.0,
            complementarity: 2e-14,
            support_margin_error: 1e-15,
            stationarity: 3e-16,
        };
        assert_eq!(kkt.max(), 2e-14);
        kkt.stationarity = f64::NAN;
        assert!(kkt.max().is_nan());
    }

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
