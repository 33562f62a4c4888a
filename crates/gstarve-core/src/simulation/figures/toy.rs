//! The runs of the paper's toy figure (its Figure 6, docs/theory.md §6.1): for each l, the system
//! s = (l, 2) with U = U(0.5), GD under L2 and under SD from z = 0, the L2 dual path (§3.5), and
//! both steady states (§4.1, §4.2).

use nalgebra::DVector;

use crate::error::Result;
use crate::model::Regulariser;
use crate::ode::OdeSolution;
use crate::reference::{paper_toy, TOY_ETA, TOY_LAMBDA_L2, TOY_LAMBDA_SD, TOY_STEPS};
use crate::simulation::paths;
use crate::solvers::steady::steady_state;

/// Most GD states recorded per run (every step of the toy's 5000).
pub const TOY_GD_POINTS: usize = 10_001;

/// What to compute for the toy figure.
#[derive(Clone, Debug, PartialEq)]
pub struct ToySpec {
    /// The strengths l of the strong feature (default 2, 3, 4, 5, 6).
    pub ls: Vec<f64>,
    /// GD step size (default 0.05).
    pub eta: f64,
    /// GD steps (default 5000).
    pub steps: usize,
    /// L2 λ (default 0.01).
    pub lambda_l2: f64,
    /// SD λ (default 0.002).
    pub lambda_sd: f64,
    /// Own time of the dual flow (default 10; it converges long before).
    pub dual_t_end: f64,
}

impl Default for ToySpec {
    fn default() -> Self {
        Self {
            ls: vec![2.0, 3.0, 4.0, 5.0, 6.0],
            eta: TOY_ETA,
            steps: TOY_STEPS,
            lambda_l2: TOY_LAMBDA_L2,
            lambda_sd: TOY_LAMBDA_SD,
            dual_t_end: 10.0,
        }
    }
}

/// One l: its runs and steady states.
#[derive(Clone, Debug)]
pub struct ToyRun {
    /// The strong feature's strength l.
    pub l: f64,
    /// GD under L2.
    pub primal: OdeSolution,
    /// The L2 dual path, mapped to z (its own time as τ).
    pub dual: OdeSolution,
    /// GD under SD.
    pub sd: OdeSolution,
    /// The L2 steady state (z₁*, z₂*).
    pub steady_l2: (f64, f64),
    /// The SD steady state (z₁*, z₂*).
    pub steady_sd: (f64, f64),
}

/// The toy figure's runs, one per l.
#[derive(Clone, Debug)]
pub struct ToyFigureData {
    /// What was computed.
    pub spec: ToySpec,
    /// One per l, in the spec's order.
    pub runs: Vec<ToyRun>,
}

impl ToyFigureData {
    /// Run GD (L2 and SD) and the dual path for every l, and find the steady states.
    pub fn compute(spec: &ToySpec) -> Result<Self> {
        let t_end = spec.eta * spec.steps as f64;
        let mut runs = Vec::with_capacity(spec.ls.len());
        for &l in &spec.ls {
            let system = paper_toy(l);
            let l2 = paths::logistic(
                &system,
                Regulariser::L2 {
                    lambda: spec.lambda_l2,
                },
            )?;
            let sd = paths::logistic(
                &system,
                Regulariser::SpectralDecoupling {
                    lambda: spec.lambda_sd,
                },
            )?;
            let pair = |z: &DVector<f64>| (z[0], z[1]);
            runs.push(ToyRun {
                l,
                primal: paths::gd(&l2, spec.eta, t_end, TOY_GD_POINTS)?,
                dual: paths::dual_path(&l2, spec.dual_t_end)?,
                sd: paths::gd(&sd, spec.eta, t_end, TOY_GD_POINTS)?,
                steady_l2: pair(&steady_state(&l2)?.responses),
                steady_sd: pair(&steady_state(&sd)?.responses),
            });
        }
        Ok(Self {
            spec: spec.clone(),
            runs,
        })
    }
}
