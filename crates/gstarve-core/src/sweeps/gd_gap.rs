//! How far gradient descent strays from the exact flow (docs/theory.md §3.1): GD is the explicit
//! Euler map of the flow with step η, so its global error over a fixed learning time is O(η). This
//! sweep measures max_k ‖z_GD(k) − z_flow(ηk)‖∞ for a list of step sizes.

use rayon::prelude::*;

use crate::error::{Error, InputError, Result};
use crate::model::{nan_max, PrimalDynamics};
use crate::ode::{FlowMethod, FlowOptions};
use crate::solvers::flow::primal_flow;
use crate::solvers::gd::{gradient_descent, GdOptions};

/// Options of [`gd_flow_gaps`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GdGapOptions {
    /// Learning time compared, τ_end (default 50; rounded up to a whole number of samples).
    pub t_end: f64,
    /// Times compared, evenly spaced on [0, τ_end] (default 201).
    pub samples: usize,
    /// Relative tolerance of the reference flow (default 1e-11).
    pub rtol: f64,
    /// Absolute tolerance of the reference flow (default 1e-13).
    pub atol: f64,
}

impl Default for GdGapOptions {
    fn default() -> Self {
        Self {
            t_end: 50.0,
            samples: 201,
            rtol: 1e-11,
            atol: 1e-13,
        }
    }
}

/// The gap at one step size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GdGap {
    /// The step size η.
    pub eta: f64,
    /// GD steps K (a multiple of samples − 1, with Kη ≥ τ_end).
    pub steps: usize,
    /// max over the compared times of ‖z_GD − z_flow‖∞.
    pub max_gap: f64,
}

/// max_k ‖z_GD(k) − z_flow(ηk)‖∞ over `samples` times in [0, τ_end], for each η (in parallel).
/// Each η runs K = (samples − 1)·⌈τ_end/((samples − 1)η)⌉ steps, so the compared GD steps
/// k = i·K/(samples − 1) fall exactly on the flow's output grid. Every η must be stable
/// (docs/theory.md §3.6).
pub fn gd_flow_gaps(
    dynamics: &PrimalDynamics,
    etas: &[f64],
    options: &GdGapOptions,
) -> Result<Vec<GdGap>> {
    if options.samples < 2 {
        return Err(Error::Input(InputError::TooFewPoints {
            axis: "compared times",
            points: options.samples,
        }));
    }
    if etas.is_empty() {
        return Err(Error::Input(InputError::TooFewPoints {
            axis: "step size η",
            points: 0,
        }));
    }
    let intervals = options.samples - 1;
    let z0 = nalgebra::DVector::zeros(dynamics.dim());
    etas.par_iter()
        .map(|&eta| {
            // η and the step count are checked before the count is formed (no overflow).
            crate::simulation::paths::gd_steps(eta, options.t_end)?;
            let blocks = (options.t_end / (intervals as f64 * eta)).ceil().max(1.0);
            if intervals as f64 * blocks > crate::simulation::paths::MAX_GD_STEPS {
                return Err(Error::Input(InputError::InvalidParameter {
                    name: "GD steps τ_end/η",
                    value: intervals as f64 * blocks,
                    rule: "a GD run takes at most 10⁹ steps: give a larger η or a smaller τ_end",
                }));
            }
            let steps = intervals * blocks as usize;
            let gd = GdOptions::new(eta, steps, options.samples, false)?;
            let descent = gradient_descent(dynamics, &z0, &gd)?;
            let flow = primal_flow(
                dynamics,
                &z0,
                &FlowOptions::new(
                    eta * steps as f64,
                    options.samples,
                    options.rtol,
                    options.atol,
                    FlowMethod::Auto,
                )?,
            )?;
            let max_gap = descent
                .states
                .iter()
                .zip(&flow.states)
                .map(|(a, b)| {
                    a.iter()
                        .zip(b)
                        .fold(0.0, |m, (x, y)| nan_max(m, (x - y).abs()))
                })
                .fold(0.0, nan_max);
            Ok(GdGap {
                eta,
                steps,
                max_gap,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Loss, Regulariser};
    use crate::systems::FeatureSystem;

    #[test]
    fn gap_is_first_order_in_eta() {
        let sys = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
        let d =
            PrimalDynamics::new(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let options = GdGapOptions {
            t_end: 20.0,
            samples: 41,
            ..Default::default()
        };
        let gaps = gd_flow_gaps(&d, &[0.02, 0.01], &options).unwrap();
        let ratio = gaps[0].max_gap / gaps[1].max_gap;
        assert!((ratio - 2.0).abs() < 0.1, "gap ratio {ratio}");
        assert_eq!(gaps[1].steps % 40, 0);
    }
}
