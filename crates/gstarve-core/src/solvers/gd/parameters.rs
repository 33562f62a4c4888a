//! Gradient descent on the parameters θ (docs/theory.md §3.4), recorded as z = S Vᵀθ: the
//! independent check that the z-space map is GD on a real linear model.

use std::time::Instant;

use nalgebra::{DMatrix, DVector};

use super::{check_finite, gd_solution, GdOptions};
use crate::error::{Error, InputError, Result};
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::ode::{OdeSolution, Trajectory};
use crate::systems::{labels_to_signs, FeatureSystem};

/// GD on the parameters, θ_{k+1} = θ_k + η[ΦᵀYψ(YΦθ_k) − ∇R(θ_k)] from θ = 0 (docs/theory.md §3.4),
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
    options.check_stability(dynamics.curvature_bound())?;
    let v = system.features().ok_or_else(|| {
        Error::Input(InputError::Unsupported(
            "θ-space GD needs the features V: build the system from features Φ and labels".into(),
        ))
    })?;
    let y = labels_to_signs(labels)?;
    if phi.nrows() != y.len() || phi.ncols() != v.nrows() {
        return Err(Error::Input(InputError::MatrixShape {
            what: "features Φ".into(),
            rows: phi.nrows(),
            cols: phi.ncols(),
            rule:
                "θ-space GD needs one row per example and one column per parameter (the rows of V)",
        }));
    }
    let mut yphi = phi.clone();
    for (i, mut row) in yphi.row_iter_mut().enumerate() {
        row *= y[i];
    }
    let model = dynamics.model();
    let project = DMatrix::from_diagonal(system.strengths()) * v.transpose();
    let record = options.recorded_steps();
    let mut theta: DVector<f64> = DVector::zeros(phi.ncols());
    let mut states = Trajectory::with_capacity(project.nrows(), record.len());
    let mut out = DVector::zeros(project.nrows());
    let mut next = 0;
    let start = Instant::now();
    for k in 0..=options.steps {
        if next < record.len() && record[next] == k {
            check_finite(theta.iter(), "gd-theta", k, options.eta)?;
            project.mul_to(&theta, &mut out);
            states.push(out.as_slice());
            next += 1;
        }
        if k == options.steps {
            break;
        }
        let margins = &yphi * &theta;
        // ΦᵀY g(m) − μθ with g = ψ − λ_SD m: the SD gradient λΦᵀΦθ = λΦᵀY·(YΦθ) folds into
        // the same product as the loss's (docs/theory.md §3.4).
        let weights = DVector::from_fn(margins.len(), |i, _| model.drive_at(i, margins[i]));
        let step = yphi.tr_mul(&weights) - &theta * model.decay();
        theta.axpy(options.eta, &step, 1.0);
    }
    let wall = start.elapsed().as_secs_f64();
    Ok((
        gd_solution(&record, options, states, wall, "gd-theta"),
        theta,
    ))
}
