//! The data of every gallery figure: the toy figure (docs/theory.md §6.1), two phase diagrams of
//! the rotation family (§7.1), the phase plane, responses and GD–flow gap of the toy with l = 4,
//! and the starvation matrix of a random six-feature system (§5.3).

use super::{
    FlowVsGdData, FlowVsGdSpec, PhasePlaneData, PhasePlaneSpec, ResponsesData, ResponsesSpec,
    ToyFigureData, ToySpec,
};
use crate::error::Result;
use crate::reference::paper_toy;
use crate::sweeps::{
    phase_diagram, starvation_matrix, Axis, Grid, Measure, Parameter, PhaseDiagram,
    PhaseDiagramSpec, Progress, RotationFamily, SdMatching, StarvationMatrix,
};
use crate::systems::{FeatureSystem, Spectrum};

/// The strong strength l of the gallery's toy.
const TOY_L: f64 = 4.0;
/// Features of the random system of the starvation matrix.
const RANDOM_FEATURES: usize = 6;
/// L2 λ of the starvation matrix.
const MATRIX_LAMBDA: f64 = 0.05;

/// What to compute for the gallery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GallerySpec {
    /// Grid points per axis of the phase diagrams (default 256).
    pub grid_points: usize,
    /// Seed of the random 6-feature system of the starvation matrix (default 1).
    pub seed: u64,
}

impl Default for GallerySpec {
    fn default() -> Self {
        Self {
            grid_points: 256,
            seed: 1,
        }
    }
}

/// The rotation-family grid of the gallery: r = s₁/s₂ ∈ [1, 5] × δ ∈ [0.05, 0.95], λ = 0.01,
/// s₂ = 2.
pub fn gallery_grid(points: usize) -> Grid {
    Grid {
        x: Axis::linear(Parameter::Ratio, 1.0, 5.0, points),
        y: Axis::linear(Parameter::Coupling, 0.05, 0.95, points),
        fixed: RotationFamily {
            lambda: 0.01,
            weak_strength: 2.0,
            ..Default::default()
        },
    }
}

/// The computed data of every gallery figure.
#[derive(Clone, Debug)]
pub struct GalleryData {
    /// The paper's Figure 6 (§6.1), with the default [`ToySpec`].
    pub toy: ToyFigureData,
    /// E₂₁ over the [`gallery_grid`].
    pub elasticity: PhaseDiagram,
    /// z₂*(SD)/z₂*(L2) at the same λ over the same grid.
    pub sd_recovery: PhaseDiagram,
    /// The toy with l = 4: flow, GD, dual and SD, direction field and nullclines.
    pub phase_plane: PhasePlaneData,
    /// z_j(τ) of the same system, flow and GD, recorded for a logarithmic time axis.
    pub responses: ResponsesData,
    /// The GD–flow gap of the same system against η.
    pub flow_vs_gd: FlowVsGdData,
    /// E_ji of a random 6-feature system (Haar coupling, strengths geometric from 4 to 0.5,
    /// λ = 0.05).
    pub starvation_matrix: StarvationMatrix,
}

impl GalleryData {
    /// Compute every figure's data (the phase diagrams in parallel, without progress output).
    pub fn compute(spec: &GallerySpec) -> Result<Self> {
        let toy = ToyFigureData::compute(&ToySpec::default())?;
        let diagram = |measure| {
            let spec = PhaseDiagramSpec {
                grid: gallery_grid(spec.grid_points),
                measure,
                learning: Default::default(),
            };
            phase_diagram(&spec, Progress::Hidden)
        };
        let elasticity = diagram(Measure::Elasticity)?;
        let sd_recovery = diagram(Measure::SdRecovery(SdMatching::Lambda))?;
        let system = paper_toy(TOY_L);
        let phase_plane = PhasePlaneData::compute(&system, &PhasePlaneSpec::default())?;
        let responses = ResponsesData::compute(
            &system,
            &ResponsesSpec {
                log_time: true,
                ..Default::default()
            },
        )?;
        let flow_vs_gd = FlowVsGdData::compute(&system, &FlowVsGdSpec::default())?;
        let random = FeatureSystem::random(
            RANDOM_FEATURES,
            Spectrum::Geometric { from: 4.0, to: 0.5 },
            spec.seed,
        )?;
        Ok(Self {
            toy,
            elasticity,
            sd_recovery,
            phase_plane,
            responses,
            flow_vs_gd,
            starvation_matrix: starvation_matrix(&random, MATRIX_LAMBDA)?,
        })
    }
}
