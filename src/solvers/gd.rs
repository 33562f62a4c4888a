//! Gradient descent: the exact discrete map z_{k+1} = z_k + ηF(z_k) (THEORY.md §3), and GD on the
//! parameters θ itself, projected to z = S Vᵀθ.

use std::time::Instant;

use nalgebra::{DMatrix, DVector};

use super::{OdeSolution, SolverStats, Trajectory};
use crate::dynamics::{Loss, MarginFlow, PrimalDynamics, Regulariser};
use crate::error::{Error, Result};
use crate::solvers::OdeProblem;
use crate::systems::{labels_to_signs, FeatureSystem};

/// Options of a gradient-descent run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GdOptions {
    /// Step size η > 0 (the learning rate).
    pub eta: f64,
    /// Number of steps K.
    pub steps: usize,
    /// Number of recorded points (evenly spaced in k, always including 0 and K).
    pub points: usize,
    /// Run even when η exceeds the stability bound of THEORY.md §3 (divergence is still
    /// detected and reported).
    pub allow_unstable: bool,
}

impl GdOptions {
    /// Check η, steps and points, and η against the stability bound `curvature_bound`.
    pub fn validate(&self, curvature_bound: f64) -> Result<()> {
        if !(self.eta.is_finite() && self.eta > 0.0) {
            return Err(Error::InvalidParameter {
                name: "--eta",
                value: self.eta,
                rule: "the learning rate must be finite and > 0",
            });
        }
        if self.steps == 0 {
            return Err(Error::InvalidParameter {
                name: "--steps",
                value: 0.0,
                rule: "gradient descent needs at least one step",
            });
        }
        if self.points < 2 {
            return Err(Error::InvalidParameter {
                name: "--points",
                value: self.points as f64,
                rule: "at least 2 recorded points",
            });
        }
        let product = self.eta * curvature_bound;
        if product >= 2.0 && !self.allow_unstable {
            return Err(Error::UnstableStep {
                eta: self.eta,
                bound: curvature_bound,
                product,
                limit: 2.0 / curvature_bound,
            });
        }
        Ok(())
    }

    /// The recorded step indices: k_i = round(i·K/(points − 1)), deduplicated.
    pub fn recorded_steps(&self) -> Vec<usize> {
        let pts = self.points.min(self.steps + 1);
        let mut ks: Vec<usize> = (0..pts)
            .map(|i| ((i as f64) * self.steps as f64 / (pts - 1) as f64).round() as usize)
            .collect();
        ks.dedup();
        ks
    }
}

/// Run the GD map of `problem` (a state-space vector field) from `y0`, recording the chosen steps.
fn iterate(
    problem: &(impl OdeProblem + ?Sized),
    y0: &DVector<f64>,
    options: &GdOptions,
    method: &'static str,
) -> Result<OdeSolution> {
    let record = options.recorded_steps();
    let n = y0.len();
    let mut y = y0.clone();
    let mut dy = DVector::zeros(n);
    let mut states = Trajectory::with_capacity(n, record.len());
    let mut next = 0;
    let start = Instant::now();
    for k in 0..=options.steps {
        if next < record.len() && record[next] == k {
            if y.iter().any(|v| !v.is_finite()) {
                return Err(Error::Diverged {
                    method,
                    step: k,
                    tau: options.eta * k as f64,
                });
            }
            states.push(y.as_slice());
            next += 1;
        }
        if k == options.steps {
            break;
        }
        problem.rhs(y.as_slice(), dy.as_mut_slice());
        y.axpy(options.eta, &dy, 1.0);
    }
    let wall = start.elapsed().as_secs_f64();
    Ok(gd_solution(&record, options, states, wall, method))
}

/// The GD map on the margins, m_{k+1} = m_k + η ṁ(m_k), with no allocation inside the loop.
fn iterate_margins(
    flow: &MarginFlow,
    m0: &DVector<f64>,
    options: &GdOptions,
) -> Result<OdeSolution> {
    let record = options.recorded_steps();
    let n = m0.len();
    let mut m = m0.clone();
    let mut dm = DVector::zeros(n);
    let mut weights = DVector::zeros(n);
    let mut states = Trajectory::with_capacity(n, record.len());
    let start = Instant::now();
    let mut k = 0;
    for &target in &record {
        while k < target {
            let reverse = k % 2 == 1;
            flow.rhs_directed(
                m.as_slice(),
                weights.as_mut_slice(),
                dm.as_mut_slice(),
                reverse,
            );
            m.axpy(options.eta, &dm, 1.0);
            k += 1;
        }
        if m.iter().any(|v| !v.is_finite()) {
            return Err(Error::Diverged {
                method: "gd",
                step: k,
                tau: options.eta * k as f64,
            });
        }
        states.push(m.as_slice());
    }
    let wall = start.elapsed().as_secs_f64();
    Ok(gd_solution(&record, options, states, wall, "gd"))
}

fn gd_solution(
    record: &[usize],
    options: &GdOptions,
    states: Trajectory,
    wall: f64,
    method: &str,
) -> OdeSolution {
    OdeSolution {
        tau: record.iter().map(|&k| options.eta * k as f64).collect(),
        states,
        stats: SolverStats {
            solver: method.to_string(),
            wall_s: wall,
            rhs_evals: options.steps as u64,
            jacobian_evals: 0,
            steps_accepted: options.steps as u64,
            steps_rejected: 0,
            lu_factorisations: 0,
        },
    }
}

/// GD on the responses: z_{k+1} = z_k + ηF(z_k) from z₀ (THEORY.md §3).
///
/// With r ≥ n/2 the map is run on the margins m = Uz (m_{k+1} = m_k + η U F(z_k), the same map
/// up to rounding, one n×n product per step) and mapped back by z = Uᵀm.
pub fn gradient_descent(
    dynamics: &PrimalDynamics,
    z0: &DVector<f64>,
    options: &GdOptions,
) -> Result<OdeSolution> {
    options.validate(dynamics.curvature_bound())?;
    let sys = dynamics.system();
    if z0.len() != sys.rank() {
        return Err(Error::Shape(format!(
            "initial responses have {} entries but the system has {} features",
            z0.len(),
            sys.rank()
        )));
    }
    if 2 * sys.rank() >= sys.examples() {
        let flow = MarginFlow::new(dynamics);
        let mut sol = iterate_margins(&flow, &sys.margins(z0), options)?;
        let start = std::time::Instant::now();
        super::flow::map_margins_to_z(&mut sol.states, sys.coupling());
        sol.stats.wall_s += start.elapsed().as_secs_f64();
        Ok(sol)
    } else {
        iterate(dynamics, z0, options, "gd")
    }
}

/// GD on the parameters, θ_{k+1} = θ_k + η[ΦᵀYψ(YΦθ_k) − ∇R(θ_k)] from θ = 0 (THEORY.md §3),
/// with ∇R = λθ (L2) or λΦᵀΦθ (SD), recorded as z_k = S Vᵀθ_k using the system's features V.
/// Returns the projected trajectory and the final θ.
pub fn gradient_descent_parameters(
    system: &FeatureSystem,
    phi: &DMatrix<f64>,
    labels: &[f64],
    loss: Loss,
    regulariser: Regulariser,
    options: &GdOptions,
) -> Result<(OdeSolution, DVector<f64>)> {
    let dynamics = PrimalDynamics::new(system, loss, regulariser)?;
    options.validate(dynamics.curvature_bound())?;
    let v = system.features().ok_or_else(|| {
        Error::Unsupported(
            "θ-space GD needs the features V: build the system from --features".into(),
        )
    })?;
    let y = labels_to_signs(labels)?;
    if phi.nrows() != y.len() || phi.ncols() != v.nrows() {
        return Err(Error::Shape(format!(
            "Φ is {}×{} but the system has {} examples and {} parameters",
            phi.nrows(),
            phi.ncols(),
            y.len(),
            v.nrows()
        )));
    }
    let mut yphi = phi.clone();
    for (i, mut row) in yphi.row_iter_mut().enumerate() {
        row *= y[i];
    }
    let (l2, sd) = regulariser.split();
    let project = DMatrix::from_diagonal(system.strengths()) * v.transpose();
    let record = options.recorded_steps();
    let mut theta: DVector<f64> = DVector::zeros(phi.ncols());
    let mut states = Trajectory::with_capacity(project.nrows(), record.len());
    let mut out = DVector::zeros(project.nrows());
    let mut next = 0;
    let start = Instant::now();
    for k in 0..=options.steps {
        if next < record.len() && record[next] == k {
            if theta.iter().any(|t| !t.is_finite()) {
                return Err(Error::Diverged {
                    method: "gd-theta",
                    step: k,
                    tau: options.eta * k as f64,
                });
            }
            project.mul_to(&theta, &mut out);
            states.push(out.as_slice());
            next += 1;
        }
        if k == options.steps {
            break;
        }
        let margins = &yphi * &theta;
        // ΦᵀY(ψ(m) − λ_SD m): the SD gradient λΦᵀΦθ = λΦᵀY·(YΦθ) folds into the same product.
        let weights = margins.map(|m| loss.neg_derivative(m) - sd * m);
        let step = yphi.tr_mul(&weights) - &theta * l2;
        theta.axpy(options.eta, &step, 1.0);
    }
    let wall = start.elapsed().as_secs_f64();
    Ok((
        gd_solution(&record, options, states, wall, "gd-theta"),
        theta,
    ))
}
