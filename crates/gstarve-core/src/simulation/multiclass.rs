//! One simulation of a multi-class softmax system (docs/theory.md §9): the steady state, GD and
//! the flow, as the same [`SimulationReport`] the binary `simulate` gives. The dual and θ-space
//! GD are not available for softmax systems (§9.6): asking for them is rejected input.

use nalgebra::DVector;

use super::{to_run, FixedPointReport, Method, SimulationConfig, SimulationReport};
use crate::error::{Error, InputError, Result};
use crate::model::SoftmaxDynamics;
use crate::solvers::softmax_flow::{softmax_flow, softmax_gradient_descent};
use crate::solvers::steady::NewtonParams;
use crate::solvers::steady_softmax::softmax_steady_state;
use crate::systems::MulticlassSystem;

/// Run the configured methods (gd, flow) on a multi-class system; `config.loss` is not used
/// (the loss of a multi-class system is the softmax cross-entropy). The report's fixed point
/// carries the multi-class margins F_{i,yᵢ} − max_{k≠yᵢ} F_ik and no α.
pub fn simulate_multiclass(
    system: &MulticlassSystem,
    config: &SimulationConfig,
) -> Result<SimulationReport> {
    if let Some(m) = config
        .methods
        .iter()
        .find(|m| matches!(m, Method::Dual | Method::GdTheta))
    {
        return Err(Error::Input(InputError::Unsupported(format!(
            "method {} is not available for a multi-class softmax system (docs/theory.md §9.6): \
             use flow or gd",
            m.name()
        ))));
    }
    let dynamics = SoftmaxDynamics::new(system, config.regulariser)?;
    let z0 = config
        .initial
        .clone()
        .unwrap_or_else(|| DVector::zeros(system.rank()));
    let (fixed_point, fixed_point_note) = if !config.fixed_point {
        (None, None)
    } else {
        match softmax_steady_state(&dynamics, &NewtonParams::default()) {
            Ok(s) => (
                Some(FixedPointReport {
                    z: s.responses.iter().copied().collect(),
                    margins: s.margins(system.labels()).iter().copied().collect(),
                    alpha: None,
                    residual: s.residual,
                    iterations: s.iterations,
                }),
                None,
            ),
            Err(Error::Input(InputError::NoSteadyState)) => (
                None,
                Some(Error::Input(InputError::NoSteadyState).to_string()),
            ),
            Err(e) => return Err(e),
        }
    };
    let mut runs = Vec::new();
    for &method in &config.methods {
        let sol = match method {
            Method::Gd => softmax_gradient_descent(&dynamics, &z0, &config.gd)?,
            _ => softmax_flow(&dynamics, &z0, &config.flow)?,
        };
        runs.push(to_run(method, sol, &config.gd));
    }
    Ok(SimulationReport {
        fixed_point,
        fixed_point_note,
        runs,
    })
}
