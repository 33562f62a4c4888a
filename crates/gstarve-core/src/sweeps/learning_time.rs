//! The learning time τ_f (docs/theory.md §7.2): the first learning time at which a response z_j of
//! the exact L2 flow from z = 0 reaches the fraction f (τ₉₀: f = 0.9) of its steady-state value.
//!
//! The flow is integrated in windows [τ₀, τ₀ + T] (T doubling from a few relaxation times
//! 1/rate_min of the linearisation, docs/theory.md §5.6) on a coarse output grid; the first coarse
//! interval where z_j/z_j* crosses f is integrated again on a fine grid, and τ_f is interpolated
//! linearly inside the fine interval that brackets the crossing. The reported resolution is that
//! interval's width. A crossing that goes up and back down inside one coarse interval would be
//! missed (the coarse grid has [`LearningTimeParams::coarse_points`] points per window).

use nalgebra::DVector;

use crate::error::{Error, InputError, Result};
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::ode::{FlowMethod, FlowOptions, OdeSolution};
use crate::solvers::flow::primal_flow;
use crate::systems::FeatureSystem;
use crate::theory::linearisation::{linearisation, relaxation_rates};

/// Tuning of [`learning_time`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LearningTimeParams {
    /// The fraction f of z_j* to reach (default 0.9).
    pub fraction: f64,
    /// Output points per window (default 513).
    pub coarse_points: usize,
    /// Output points inside the bracketing coarse interval (default 129): the resolution is
    /// T/((coarse − 1)(fine − 1)).
    pub fine_points: usize,
    /// First window length in slowest relaxation times 1/rate_min (default 8).
    pub relaxation_times: f64,
    /// Windows before giving up, each twice as long as the one before (default 20).
    pub max_windows: usize,
    /// Flow relative tolerance (default 1e-9).
    pub rtol: f64,
    /// Flow absolute tolerance (default 1e-11).
    pub atol: f64,
}

impl Default for LearningTimeParams {
    fn default() -> Self {
        Self {
            fraction: 0.9,
            coarse_points: 513,
            fine_points: 129,
            relaxation_times: 8.0,
            max_windows: 20,
            rtol: 1e-9,
            atol: 1e-11,
        }
    }
}

/// A learning time and how finely it is resolved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LearningTime {
    /// τ_f, interpolated linearly in the bracketing interval.
    pub tau: f64,
    /// Width of the bracketing interval (τ_f is within it).
    pub resolution: f64,
}

fn flow(
    dynamics: &PrimalDynamics,
    z0: &DVector<f64>,
    t_end: f64,
    points: usize,
    p: &LearningTimeParams,
) -> Result<OdeSolution> {
    let options = FlowOptions::new(t_end, points, p.rtol, p.atol, FlowMethod::Auto)?;
    primal_flow(dynamics, z0, &options)
}

/// First index k ≥ 1 with z_j(τ_k)/target ≥ fraction.
fn first_crossing(sol: &OdeSolution, response: usize, target: f64, fraction: f64) -> Option<usize> {
    (1..sol.states.len()).find(|&k| sol.states[k][response] / target >= fraction)
}

/// The first window's length: [`LearningTimeParams::relaxation_times`]/κ_min, κ_min the slowest
/// rate of the flow linearised at its steady state (docs/theory.md §5.6), the one whose margins
/// m* = U z* are `margins` (one per example), or solved for here when `None`.
pub(crate) fn first_window(
    dynamics: &PrimalDynamics,
    margins: Option<&[f64]>,
    params: &LearningTimeParams,
) -> Result<f64> {
    let rate = match margins {
        Some(m) => {
            let examples = dynamics.system().examples();
            if m.len() != examples {
                return Err(Error::Input(InputError::Length {
                    what: "steady margins m*",
                    found: m.len(),
                    expected: examples,
                    rule: "one per example",
                }));
            }
            relaxation_rates(dynamics, &DVector::from_column_slice(m))[0]
        }
        None => linearisation(dynamics.system(), dynamics.regulariser())?.slowest_rate,
    };
    Ok(params.relaxation_times / rate)
}

/// τ_f of response `response` (0-based) of the L2 flow of `system` from z = 0, given its steady
/// value `target` = z_j* (≠ 0). `Ok(None)` when it is not reached within the windows allowed.
pub fn learning_time(
    system: &FeatureSystem,
    lambda: f64,
    response: usize,
    target: f64,
    params: &LearningTimeParams,
) -> Result<Option<LearningTime>> {
    learning_time_from(system, lambda, response, target, None, params)
}

/// [`learning_time`] when the caller has the steady state: `margins` = m* = U z* (one per
/// example), where the flow is linearised for the first window's length (`None`: the steady
/// state is solved for here, as [`learning_time`] does).
pub fn learning_time_from(
    system: &FeatureSystem,
    lambda: f64,
    response: usize,
    target: f64,
    margins: Option<&[f64]>,
    params: &LearningTimeParams,
) -> Result<Option<LearningTime>> {
    if response >= system.rank() {
        return Err(Error::Input(InputError::ResponseOutOfRange {
            index: response + 1,
            rank: system.rank(),
        }));
    }
    if !(target.is_finite() && target != 0.0) {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "steady response z_j*",
            value: target,
            rule: "a learning time needs a finite, nonzero steady response",
        }));
    }
    if !(params.fraction > 0.0 && params.fraction < 1.0) {
        return Err(Error::Input(InputError::InvalidParameter {
            name: "learning-time fraction",
            value: params.fraction,
            rule: "the fraction of z_j* must lie in (0, 1)",
        }));
    }
    let regulariser = Regulariser::L2 { lambda };
    let dynamics = PrimalDynamics::new(system, Loss::Logistic, regulariser)?;
    let mut window = first_window(&dynamics, margins, params)?;
    let mut start = 0.0;
    let mut z = DVector::zeros(system.rank());
    for _ in 0..params.max_windows {
        let coarse = flow(&dynamics, &z, window, params.coarse_points, params)?;
        if let Some(k) = first_crossing(&coarse, response, target, params.fraction) {
            let span = coarse.tau[k] - coarse.tau[k - 1];
            let fine = flow(
                &dynamics,
                &coarse.states.state(k - 1),
                span,
                params.fine_points,
                params,
            )?;
            // The coarse sample at the end of the span crosses, so the fine grid does too
            // (up to the integrator's tolerance); fall back to its last interval if not.
            let j = first_crossing(&fine, response, target, params.fraction)
                .unwrap_or(fine.states.len() - 1);
            let ratio = |s: &[f64]| s[response] / target;
            let (a, b) = (ratio(&fine.states[j - 1]), ratio(&fine.states[j]));
            let h = fine.tau[j] - fine.tau[j - 1];
            let t = if b > a {
                ((params.fraction - a) / (b - a)).clamp(0.0, 1.0)
            } else {
                1.0
            };
            let tau = start + coarse.tau[k - 1] + fine.tau[j - 1] + t * h;
            return Ok(Some(LearningTime { tau, resolution: h }));
        }
        start += window;
        z = coarse.states.last().map_or(z, DVector::from_column_slice);
        window *= 2.0;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theory::decoupled::l2_root;

    #[test]
    fn decoupled_learning_time_matches_quadrature() {
        // U = I: ż = s²σ(−z) − λz, so τ_f = ∫₀^{f z*} dz / (s²σ(−z) − λz) (simple quadrature).
        let (s, lambda) = (2.0, 0.01);
        let zstar = l2_root(s, lambda).unwrap().exact;
        let system = FeatureSystem::decoupled(&[s]).unwrap();
        let t = learning_time(&system, lambda, 0, zstar, &LearningTimeParams::default())
            .unwrap()
            .unwrap();
        let n = 200_000;
        let upper = 0.9 * zstar;
        let h = upper / n as f64;
        let rate = |z: f64| s * s / (1.0 + z.exp()) - lambda * z;
        let quadrature: f64 = (0..n)
            .map(|i| {
                let z = (i as f64 + 0.5) * h;
                h / rate(z)
            })
            .sum();
        assert!(
            (t.tau - quadrature).abs() < 1e-4 * quadrature + t.resolution,
            "{} vs {quadrature} (resolution {})",
            t.tau,
            t.resolution
        );
        assert!(t.resolution < 1e-3 * t.tau);
    }

    #[test]
    fn given_margins_set_the_first_window() {
        let system = FeatureSystem::rotation(6.0, 2.0, 0.4).unwrap();
        let lambda = 0.01;
        let dynamics =
            PrimalDynamics::new(&system, Loss::Logistic, Regulariser::L2 { lambda }).unwrap();
        let steady = crate::solvers::steady::steady_state(&dynamics).unwrap();
        let params = LearningTimeParams::default();
        // The steady state solved here gives the bits of the path that solves for it.
        let margins = Some(steady.margins.as_slice());
        let target = steady.responses[1];
        assert_eq!(
            learning_time_from(&system, lambda, 1, target, margins, &params).unwrap(),
            learning_time(&system, lambda, 1, target, &params).unwrap()
        );
        let solved = first_window(&dynamics, None, &params).unwrap();
        assert_eq!(first_window(&dynamics, margins, &params).unwrap(), solved);
        // Other margins, another window: 8/κ_min at m = 0 (σ' = 1/4, the largest curvature).
        let at_zero = first_window(&dynamics, Some(&[0.0, 0.0]), &params).unwrap();
        assert!(at_zero < 0.9 * solved, "{at_zero} vs {solved}");
        assert!(first_window(&dynamics, Some(&[0.0]), &params).is_err());
    }
}
