//! The primal z-dynamics of a feature system under a [`Model`] (docs/theory.md §3.2):
//!
//! ```text
//! F(z) = S² (Uᵀ ψ(U z) − λ_SD z) − μ z
//! ∂F/∂z = −S² (Uᵀ diag(ℓ''(U z)) U + λ_SD I) − μ I
//! ```
//!
//! This is S²Uᵀg(Uz) − μz with g = [`Model::drive`] (the margin form's drive), because
//! UᵀU = I; but U is validated only to 1e-6 (`systems::ORTHOGONALITY_TOLERANCE`), so the
//! z-space form keeps the SD term on z itself, which also makes F = −S²∇L hold exactly for the
//! objective below.
//!
//! With class targets (docs/theory.md §10.1) ψ and ℓ'' are example i's ψᵢ(m) = ψ(m) − λᵢ(m − γᵢ)
//! and ℓᵢ'' = ℓ'' + λᵢ ([`Model::example_drive`], [`Model::example_curvature`]) and ℓ is ℓᵢ.
//!
//! and the convex objective whose scaled negative gradient F is (docs/theory.md §2.3, §12.4):
//!
//! ```text
//! L(z) = Σᵢ ℓ((Uz)ᵢ) + ½ zᵀ W z,   W = λ S⁻² (L2), λ I (SD), 0 (none)
//! ∇L = W z − Uᵀ ψ(U z),   ∇²L = Uᵀ diag(ℓ''(U z)) U + W,   F = −S² ∇L,   ∂F/∂z = −S² ∇²L.
//! ```

use nalgebra::{DMatrix, DVector};

use super::{streamed, Loss, Model, Regulariser};
use crate::error::Result;
use crate::ode::OdeProblem;
use crate::systems::FeatureSystem;

/// The primal z-dynamics dz/dτ = F(z) of a system under a loss and a regulariser.
#[derive(Clone, Debug)]
pub struct PrimalDynamics<'a> {
    system: &'a FeatureSystem,
    model: Model,
    strengths_squared: DVector<f64>,
}

impl<'a> PrimalDynamics<'a> {
    /// Dynamics of `system` under `loss` and `regulariser` (λ validated here; class targets take
    /// the system's labels, docs/theory.md §10.1).
    pub fn new(system: &'a FeatureSystem, loss: Loss, regulariser: Regulariser) -> Result<Self> {
        let model = Model::with_labels(loss, regulariser, system.labels())?;
        Ok(Self::with_model(system, model))
    }

    /// Dynamics of `system` under a validated `model`.
    pub fn with_model(system: &'a FeatureSystem, model: Model) -> Self {
        Self {
            system,
            model,
            strengths_squared: system.strengths_squared(),
        }
    }

    /// The system.
    pub fn system(&self) -> &'a FeatureSystem {
        self.system
    }

    /// The model (loss and regulariser).
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The loss.
    pub fn loss(&self) -> Loss {
        self.model.loss()
    }

    /// The regulariser.
    pub fn regulariser(&self) -> Regulariser {
        self.model.regulariser()
    }

    /// Number of responses r.
    pub fn dim(&self) -> usize {
        self.system.rank()
    }

    /// The squared strengths s_j².
    pub fn strengths_squared(&self) -> &DVector<f64> {
        &self.strengths_squared
    }

    /// F(z) = S²(Uᵀψ(Uz) − λ_SD z) − μz written into `out`: one pass over U (row blocks,
    /// O(nr), no n-vector kept; docs/theory.md §8.7).
    pub fn rhs_into(&self, z: &DVector<f64>, out: &mut DVector<f64>) {
        let u = self.system.coupling();
        let model = &self.model;
        streamed::transpose_map_into(
            u,
            z.as_slice(),
            |i, m| model.example_drive(i, m),
            out.as_mut_slice(),
        );
        let (mu, sd) = (self.model.decay(), self.model.lambda_sd());
        for ((o, &s2), &zj) in out.iter_mut().zip(self.strengths_squared.iter()).zip(z) {
            *o = s2 * (*o - sd * zj) - mu * zj;
        }
    }

    /// F(z).
    pub fn rhs(&self, z: &DVector<f64>) -> DVector<f64> {
        let mut out = DVector::zeros(self.dim());
        self.rhs_into(z, &mut out);
        out
    }

    /// One GD step z + ηF(z) (docs/theory.md §3.1: GD is the Euler map of the flow).
    pub fn gd_step(&self, z: &DVector<f64>, eta: f64) -> DVector<f64> {
        let mut next = self.rhs(z);
        next *= eta;
        next += z;
        next
    }

    /// ∂F/∂z = −S² (Uᵀ diag(ℓ''(Uz)) U + λ_SD I) − μ I: r × r, accumulated over row blocks of
    /// U (O(nr²) time, O(r²) memory beyond U: no n × r copy, no n × n matrix).
    pub fn jacobian(&self, z: &DVector<f64>) -> DMatrix<f64> {
        let u = self.system.coupling();
        let model = &self.model;
        let mut jac =
            -streamed::weighted_gram(u, z.as_slice(), |i, m| model.example_curvature(i, m));
        let (mu, sd) = (self.model.decay(), self.model.lambda_sd());
        for j in 0..jac.nrows() {
            jac.row_mut(j).scale_mut(self.strengths_squared[j]);
            jac[(j, j)] -= self.strengths_squared[j] * sd + mu;
        }
        jac
    }

    /// The Jacobian's action (∂F/∂z)·v = −S² (Uᵀ (ℓ''(Uz) ⊙ U v) + λ_SD v) − μ v, without
    /// forming it: two products with U (O(nr)).
    pub fn jacobian_action(&self, z: &DVector<f64>, v: &DVector<f64>) -> DVector<f64> {
        let u = self.system.coupling();
        let d = self.example_curvatures(u, z);
        let dv = (u * v).component_mul(&d);
        let mut out = u.tr_mul(&dv);
        let (mu, sd) = (self.model.decay(), self.model.lambda_sd());
        for ((o, &s2), &vj) in out.iter_mut().zip(self.strengths_squared.iter()).zip(v) {
            *o = -s2 * (*o + sd * vj) - mu * vj;
        }
        out
    }

    /// A bound on the spectral radius of ∂F/∂z over all z: λ + s₁²·sup ℓ'' for L2 and
    /// s₁²(λ + sup ℓ'') for SD (docs/theory.md §3.6). GD with step η is stable while η·bound < 2.
    pub fn curvature_bound(&self) -> f64 {
        self.model
            .curvature_bound(self.system.max_strength().powi(2))
    }

    /// The objective L(z) = Σᵢ ℓ((Uz)ᵢ) + ½ zᵀ W z, so that F = −S² ∇L. Components with s_j = 0
    /// under L2 are pinned at 0 and excluded. Used by the steady-state line search.
    pub fn objective(&self, z: &DVector<f64>) -> f64 {
        let m = self.system.margins(z);
        let data: f64 = m
            .iter()
            .enumerate()
            .map(|(i, &mi)| self.model.example_loss(i, mi))
            .sum();
        0.5 * z
            .iter()
            .enumerate()
            .map(|(j, &zj)| self.penalty_weight(j) * zj * zj)
            .sum::<f64>()
            + data
    }

    /// W_jj of [`Self::objective`]: λ/s_j² for L2 (∞ if s_j = 0), λ for SD, 0 for none.
    pub fn penalty_weight(&self, j: usize) -> f64 {
        self.model.penalty_weight(self.strengths_squared[j])
    }

    /// ∇L restricted to the columns `coupling` of U (those with s_j > 0, the others pinned at
    /// 0), at x (their responses): W_f ⊙ x − U_fᵀ ψ(U_f x), with the penalty weights W_f.
    /// Newton's residual (docs/theory.md §12.4).
    pub fn objective_gradient(
        &self,
        coupling: &DMatrix<f64>,
        weights: &DVector<f64>,
        x: &DVector<f64>,
    ) -> DVector<f64> {
        let m = coupling * x;
        let psi = DVector::from_fn(m.len(), |i, _| self.model.example_drive(i, m[i]));
        weights.component_mul(x) - coupling.tr_mul(&psi)
    }

    /// The loss curvatures ℓᵢ''(mᵢ) at the margins U_f x: the diagonal D of the Hessian
    /// ∇²L = U_fᵀ D U_f + W_f.
    pub fn loss_curvatures(&self, coupling: &DMatrix<f64>, x: &DVector<f64>) -> DVector<f64> {
        self.example_curvatures(coupling, x)
    }

    fn example_curvatures(&self, coupling: &DMatrix<f64>, x: &DVector<f64>) -> DVector<f64> {
        let m = coupling * x;
        DVector::from_fn(m.len(), |i, _| self.model.example_curvature(i, m[i]))
    }
}

/// The z-space form as an [`OdeProblem`] (cheaper than margins when r < n/2).
impl OdeProblem for PrimalDynamics<'_> {
    fn dim(&self) -> usize {
        self.system.rank()
    }

    fn rhs(&self, z: &[f64], dz: &mut [f64]) {
        let zv = DVector::from_column_slice(z);
        let mut out = DVector::zeros(z.len());
        self.rhs_into(&zv, &mut out);
        dz.copy_from_slice(out.as_slice());
    }

    fn jacobian(&self, z: &[f64], jac: &mut DMatrix<f64>) {
        jac.copy_from(&PrimalDynamics::jacobian(
            self,
            &DVector::from_column_slice(z),
        ));
    }

    fn spectral_bound(&self) -> f64 {
        self.curvature_bound()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn central_difference_jacobian(dynamics: &PrimalDynamics, z: &DVector<f64>) -> DMatrix<f64> {
        let n = z.len();
        let mut jac = DMatrix::zeros(n, n);
        for k in 0..n {
            let h = 1e-6 * (1.0 + z[k].abs());
            let mut zp = z.clone();
            let mut zm = z.clone();
            zp[k] += h;
            zm[k] -= h;
            jac.set_column(k, &((dynamics.rhs(&zp) - dynamics.rhs(&zm)) / (2.0 * h)));
        }
        jac
    }

    fn every_model() -> Vec<(Loss, Regulariser)> {
        let mut out = Vec::new();
        for loss in [Loss::Logistic, Loss::Squared] {
            for reg in [
                Regulariser::None,
                Regulariser::L2 { lambda: 0.07 },
                Regulariser::SpectralDecoupling { lambda: 0.05 },
            ] {
                out.push((loss, reg));
            }
        }
        out
    }

    #[test]
    fn jacobians_match_finite_differences_for_every_loss_and_regulariser() {
        let sys = FeatureSystem::random(
            5,
            crate::systems::Spectrum::Geometric { from: 3.0, to: 0.5 },
            3,
        )
        .unwrap();
        let z = DVector::from_vec(vec![0.3, -1.2, 2.0, 0.1, -0.4]);
        let v = DVector::from_vec(vec![1.0, -0.5, 0.25, 2.0, -1.5]);
        for (loss, reg) in every_model() {
            let dynamics = PrimalDynamics::new(&sys, loss, reg).unwrap();
            let analytic = dynamics.jacobian(&z);
            let numeric = central_difference_jacobian(&dynamics, &z);
            let err = (&analytic - numeric).abs().max();
            assert!(err < 1e-7, "{loss:?} {reg:?}: {err}");
            let action = dynamics.jacobian_action(&z, &v);
            let err = (action - &analytic * &v).abs().max();
            assert!(err < 1e-12, "{loss:?} {reg:?}: action {err}");
        }
    }

    /// On a rank-deficient coupling (r < n) too: UᵀU = I_r is all the formulas use.
    #[test]
    fn truncated_coupling_matches_the_direct_formula() {
        let full = FeatureSystem::random(
            6,
            crate::systems::Spectrum::Geometric { from: 3.0, to: 0.5 },
            4,
        )
        .unwrap();
        let u = full.coupling().columns(0, 2).into_owned();
        let sys = FeatureSystem::new(full.strengths().rows(0, 2).into_owned(), u.clone()).unwrap();
        let z = DVector::from_vec(vec![0.7, -0.3]);
        for (loss, reg) in every_model() {
            let d = PrimalDynamics::new(&sys, loss, reg).unwrap();
            let (l2, sd) = reg.split();
            let psi = (&u * &z).map(|m| loss.neg_derivative(m));
            let s2 = sys.strengths_squared();
            let direct = (u.tr_mul(&psi) - &z * sd).component_mul(&s2) - &z * l2;
            assert!((d.rhs(&z) - direct).abs().max() < 1e-14, "{loss:?} {reg:?}");
        }
    }

    #[test]
    fn rhs_matches_theory_formula_for_l2() {
        // (★): F(z) = S² Uᵀ σ(−Uz) − λz, evaluated directly.
        let sys = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
        let z = DVector::from_vec(vec![1.0, 0.5]);
        let dynamics =
            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let u = sys.coupling();
        let m = u * &z;
        let sig = m.map(|x| 1.0 / (1.0 + x.exp()));
        let direct =
            DMatrix::from_diagonal(&sys.strengths_squared()) * u.transpose() * sig - 0.01 * &z;
        assert!((dynamics.rhs(&z) - &direct).abs().max() < 1e-14);
        let step = dynamics.gd_step(&z, 0.05);
        assert!((step - (&z + 0.05 * direct)).abs().max() < 1e-14);
    }

    #[test]
    fn flow_is_minus_s2_gradient_of_objective() {
        let sys = FeatureSystem::rotation(3.0, 1.5, 0.4).unwrap();
        let z = DVector::from_vec(vec![0.7, -0.2]);
        for reg in [
            Regulariser::L2 { lambda: 0.1 },
            Regulariser::SpectralDecoupling { lambda: 0.1 },
        ] {
            let d = PrimalDynamics::new(&sys, Loss::Logistic, reg).unwrap();
            let f = d.rhs(&z);
            let weights = DVector::from_fn(2, |j, _| d.penalty_weight(j));
            let gradient = d.objective_gradient(sys.coupling(), &weights, &z);
            for k in 0..2 {
                let h = 1e-6;
                let mut zp = z.clone();
                let mut zm = z.clone();
                zp[k] += h;
                zm[k] -= h;
                let grad = (d.objective(&zp) - d.objective(&zm)) / (2.0 * h);
                assert!((f[k] + d.strengths_squared()[k] * grad).abs() < 1e-7);
                assert!((gradient[k] - grad).abs() < 1e-7);
            }
        }
    }

    #[test]
    fn negative_lambda_is_rejected() {
        let sys = FeatureSystem::rotation(1.0, 1.0, 0.1).unwrap();
        let err = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: -1.0 })
            .unwrap_err();
        assert!(err.to_string().contains("λ = -1"));
    }
}
