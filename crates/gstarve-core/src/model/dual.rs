//! The dual (Legendre) α-dynamics of docs/theory.md §3.5, integrated in logit variables.
//!
//! With ℓ(x) = max_{α∈[0,1]} [H(α) − αx], the L2 dual flow is gradient ascent on
//! A(α) = Σ H(αᵢ) − (2λ)⁻¹ αᵀKα:
//!
//! ```text
//! L2:  dα/dτ = log((1 − α)/α) − λ⁻¹ K α,        z(α) = λ⁻¹ S² Uᵀ α
//! SD:  dαᵢ/dτ = log((1 − αᵢ)/αᵢ) − αᵢ/λ,        z(α) = λ⁻¹ Uᵀ α
//! ```
//!
//! Its time is its own (compare primal and dual as paths in the z plane). The state integrated
//! is the logit βᵢ = log(αᵢ/(1 − αᵢ)), αᵢ = σ(βᵢ), along the same path (docs/theory.md §3.5):
//!
//! ```text
//! dβᵢ/dτ = wᵢ · gᵢ,   gᵢ = −βᵢ − λ⁻¹(Kα)ᵢ  (L2)  or  −βᵢ − αᵢ/λ  (SD),
//! wᵢ = 1/(αᵢ(1 − αᵢ)) = 2 + 2 cosh βᵢ
//! ```
//!
//! In α the examples that are learned well sit at α ~ 10⁻¹³ against an absolute tolerance, at
//! the boundary of the domain, where log α needs a clamp and a step that overshoots 0 stalls the
//! integrator (a step size of 10⁻¹⁹ on a width-500 network). In β the domain is all of ℝⁿ,
//! log((1 − α)/α) = −β is exact, and a relative tolerance on β is a relative accuracy of α near
//! both ends. The stiffness itself (eigenvalues down to −wᵢ, about −10¹³ there) is intrinsic to
//! this path: the Jacobian in β is similar to the one in α. It is integrated implicitly (BDF).

use nalgebra::{DMatrix, DVector};

use super::{sigmoid_neg, sigmoid_prime, Loss, PrimalDynamics, Regulariser};
use crate::error::{Error, InputError, Result};
use crate::ode::{OdeProblem, OdeSolution};
use crate::systems::FeatureSystem;

/// The dual flow of a logistic-loss system under L2 or SD, in logit variables β = logit α.
#[derive(Clone, Debug)]
pub struct DualDynamics {
    /// λ⁻¹K (L2) or None (SD, where the coupling term is αᵢ/λ).
    scaled_gram: Option<DMatrix<f64>>,
    lambda: f64,
    /// Maps α to z: λ⁻¹ S² Uᵀ (L2) or λ⁻¹ Uᵀ (SD).
    to_responses: DMatrix<f64>,
}

impl DualDynamics {
    /// The authors' starting point α(0) = 1e−8·1 (docs/theory.md §3.5).
    pub const DEFAULT_START: f64 = 1e-8;
    /// The most examples the dual is integrated for: it is n-dimensional and its implicit steps
    /// need the n × n Gram matrix K, an n × n Jacobian and BDF's iteration matrix and its LU
    /// (about 4·8n² bytes, 13 GB at n = 2·10⁴), whatever the rank of the system.
    pub const MAX_EXAMPLES: usize = 20_000;

    /// The dual of `dynamics` (logistic loss, L2 or SD with λ > 0).
    pub fn new(dynamics: &PrimalDynamics) -> Result<Self> {
        if dynamics.loss() != Loss::Logistic {
            return Err(Error::Input(InputError::Unsupported(
                "the dual (Legendre) dynamics are defined for the logistic loss only".into(),
            )));
        }
        let sys: &FeatureSystem = dynamics.system();
        if sys.examples() > Self::MAX_EXAMPLES {
            return Err(Error::Input(InputError::Unsupported(format!(
                "the dual flow has one variable per example and needs the n × n Gram matrix: \
                 n = {} is above its limit of {} examples (the primal flow costs O(nr))",
                sys.examples(),
                Self::MAX_EXAMPLES
            ))));
        }
        let lambda = dynamics.regulariser().lambda();
        if lambda <= 0.0 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "λ",
                value: lambda,
                rule: "the dual dynamics need λ > 0 (z(α) = λ⁻¹…)",
            }));
        }
        match dynamics.regulariser() {
            Regulariser::L2 { .. } => {
                let mut to_responses = sys.coupling().transpose() / lambda;
                for (j, mut row) in to_responses.row_iter_mut().enumerate() {
                    row *= dynamics.strengths_squared()[j];
                }
                Ok(Self {
                    scaled_gram: Some(sys.gram() / lambda),
                    lambda,
                    to_responses,
                })
            }
            Regulariser::SpectralDecoupling { .. } => Ok(Self {
                scaled_gram: None,
                lambda,
                to_responses: sys.coupling().transpose() / lambda,
            }),
            Regulariser::None => Err(Error::Input(InputError::NoSteadyState)),
            Regulariser::SpectralDecouplingClasses { .. } => {
                Err(Error::Input(InputError::Unsupported(
                    "the dual (Legendre) dynamics of Spectral Decoupling with class targets are \
                     not implemented (docs/theory.md §10.1): use the primal flow"
                        .into(),
                )))
            }
        }
    }

    /// The logits β(0) of a uniform start α(0) = `alpha0`·1, 0 < `alpha0` < 1.
    pub fn start(&self, alpha0: f64) -> Result<DVector<f64>> {
        if !(alpha0 > 0.0 && alpha0 < 1.0) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "dual start α(0)",
                value: alpha0,
                rule: "the dual weights start strictly inside (0, 1)",
            }));
        }
        let beta0 = alpha0.ln() - (-alpha0).ln_1p();
        Ok(DVector::from_element(self.dim(), beta0))
    }

    /// The example weights α = σ(β) of a state.
    pub fn weights(beta: &[f64]) -> DVector<f64> {
        DVector::from_iterator(beta.len(), beta.iter().map(|&b| sigmoid_neg(-b)))
    }

    /// z(α(β)) (docs/theory.md §3.5).
    pub fn responses(&self, beta: &[f64]) -> DVector<f64> {
        &self.to_responses * Self::weights(beta)
    }

    /// Replace every state β_k of a dual solution by z(α(β_k)), in place (timed into the
    /// solution's wall_s).
    pub fn map_to_responses(&self, solution: &mut OdeSolution) {
        let start = std::time::Instant::now();
        for state in solution.states.iter_mut() {
            for b in state.iter_mut() {
                *b = sigmoid_neg(-*b);
            }
        }
        solution.stats.wall_s += start.elapsed().as_secs_f64();
        solution.left_multiply_states(&self.to_responses, false);
    }

    /// g = ∂A/∂α at α = σ(β): −β − λ⁻¹Kα (L2) or −β − α/λ (SD).
    fn ascent(&self, beta: &[f64], out: &mut [f64]) {
        let alpha = Self::weights(beta);
        match &self.scaled_gram {
            Some(k) => {
                let ka = k * &alpha;
                for i in 0..beta.len() {
                    out[i] = -beta[i] - ka[i];
                }
            }
            None => {
                for i in 0..beta.len() {
                    out[i] = -beta[i] - alpha[i] / self.lambda;
                }
            }
        }
    }
}

/// w = 1/(σ(β)σ(−β)) = 2 + 2 cosh β (∞ past |β| ≈ 710, which the driver reports).
fn inverse_curvature(beta: f64) -> f64 {
    2.0 + 2.0 * beta.cosh()
}

impl OdeProblem for DualDynamics {
    fn dim(&self) -> usize {
        self.to_responses.ncols()
    }

    fn rhs(&self, beta: &[f64], out: &mut [f64]) {
        self.ascent(beta, out);
        for (o, &b) in out.iter_mut().zip(beta) {
            *o *= inverse_curvature(b);
        }
    }

    /// J = −diag(w) − λ⁻¹ diag(w) K diag(σ'(β)) + diag(2 g sinh β) (L2); for SD the middle term
    /// is −λ⁻¹I (wᵢσ'(βᵢ) = 1).
    fn jacobian(&self, beta: &[f64], jac: &mut DMatrix<f64>) {
        let n = beta.len();
        let mut g = vec![0.0; n];
        self.ascent(beta, &mut g);
        let w: Vec<f64> = beta.iter().map(|&b| inverse_curvature(b)).collect();
        match &self.scaled_gram {
            Some(k) => {
                for c in 0..n {
                    let sp = sigmoid_prime(beta[c]);
                    for i in 0..n {
                        jac[(i, c)] = -w[i] * k[(i, c)] * sp;
                    }
                }
            }
            None => {
                jac.fill(0.0);
                for i in 0..n {
                    jac[(i, i)] = -1.0 / self.lambda;
                }
            }
        }
        for i in 0..n {
            jac[(i, i)] += -w[i] + 2.0 * g[i] * beta[i].sinh();
        }
    }

    fn spectral_bound(&self) -> f64 {
        // w = 1/(α(1−α)) is unbounded as α → 0 or 1: the dual flow is stiff by nature.
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The analytic Jacobian in β against central differences of the right-hand side, on a
    /// coupled three-example system, L2 and SD, at states near both ends of (0, 1).
    #[test]
    fn jacobian_matches_finite_differences() {
        let u = crate::systems::FeatureSystem::random(
            3,
            crate::systems::Spectrum::Linear { from: 1.0, to: 1.0 },
            4,
        )
        .unwrap()
        .coupling()
        .clone();
        let sys = FeatureSystem::new(DVector::from_vec(vec![3.0, 1.5, 0.4]), u).unwrap();
        for reg in [
            Regulariser::L2 { lambda: 0.05 },
            Regulariser::SpectralDecoupling { lambda: 0.02 },
        ] {
            let d = PrimalDynamics::new(&sys, Loss::Logistic, reg).unwrap();
            let dual = DualDynamics::new(&d).unwrap();
            let beta = [-9.0, 0.3, 6.5];
            let mut jac = DMatrix::zeros(3, 3);
            dual.jacobian(&beta, &mut jac);
            for c in 0..3 {
                let h = 1e-6;
                let (mut p, mut m) = (beta, beta);
                p[c] += h;
                m[c] -= h;
                let (mut fp, mut fm) = ([0.0; 3], [0.0; 3]);
                dual.rhs(&p, &mut fp);
                dual.rhs(&m, &mut fm);
                for i in 0..3 {
                    let fd = (fp[i] - fm[i]) / (2.0 * h);
                    // Truncation O(h²) plus the rounding of f, ε|f|/h, ten times over.
                    let rounding = 10.0 * f64::EPSILON * fp[i].abs().max(fm[i].abs()) / h;
                    let tol = 1e-7 * (1.0 + jac[(i, c)].abs()) + rounding;
                    assert!(
                        (fd - jac[(i, c)]).abs() <= tol,
                        "{reg:?} J[{i},{c}] = {} vs {fd}",
                        jac[(i, c)]
                    );
                }
            }
        }
    }

    /// dβ/dτ·σ'(β) is the α-flow log((1−α)/α) − λ⁻¹Kα of docs/theory.md §3.5, evaluated in α.
    #[test]
    fn logit_flow_is_the_alpha_flow() {
        let u = crate::systems::FeatureSystem::random(
            3,
            crate::systems::Spectrum::Linear { from: 1.0, to: 1.0 },
            9,
        )
        .unwrap()
        .coupling()
        .clone();
        let sys = FeatureSystem::new(DVector::from_vec(vec![2.0, 1.0, 0.5]), u).unwrap();
        let lambda = 0.1;
        let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda }).unwrap();
        let dual = DualDynamics::new(&d).unwrap();
        let alpha = [1e-6, 0.4, 0.97];
        let beta: Vec<f64> = alpha.iter().map(|a: &f64| (a / (1.0 - a)).ln()).collect();
        let mut out = [0.0; 3];
        dual.rhs(&beta, &mut out);
        let ka = sys.gram() * DVector::from_column_slice(&alpha) / lambda;
        for i in 0..3 {
            let alpha_rate = ((1.0 - alpha[i]) / alpha[i]).ln() - ka[i];
            let via_beta = out[i] * alpha[i] * (1.0 - alpha[i]);
            assert!((via_beta - alpha_rate).abs() <= 1e-12 * (1.0 + alpha_rate.abs()));
        }
        let start = dual.start(DualDynamics::DEFAULT_START).unwrap();
        assert!((DualDynamics::weights(start.as_slice())[0] - 1e-8).abs() < 1e-22);
        assert!(dual.start(0.0).is_err() && dual.start(1.0).is_err());
    }

    /// Above its size limit the dual is refused by a message that names n and the limit, before
    /// anything n × n is allocated (20 001 examples, one feature: U is 160 KB, K would be 3.2 GB).
    #[test]
    fn too_many_examples_are_refused_before_allocating() {
        let n = DualDynamics::MAX_EXAMPLES + 1;
        let spectrum = crate::systems::Spectrum::Geometric { from: 2.0, to: 1.0 };
        let (sys, _) = FeatureSystem::random_top(n, 1, spectrum, 3).unwrap();
        let d = PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.1 }).unwrap();
        let err = DualDynamics::new(&d).unwrap_err().to_string();
        assert!(err.contains("n = 20001") && err.contains("20000"), "{err}");
    }
}
