//! The gallery: every kind of figure for the reference systems, into one folder, in well under
//! a minute (release build).

use std::path::Path;

use super::canvas::{Formats, Written};
use super::flow_vs_gd::{flow_vs_gd, FlowVsGdOptions};
use super::phase_diagram::{phase_diagram_figure, PhaseDiagramOptions};
use super::phase_plane::{phase_plane, PhasePlaneOptions};
use super::responses::{responses, ResponsesOptions};
use super::starvation_matrix::{starvation_matrix_figure, StarvationMatrixOptions};
use super::toy::{toy_figure, ToyFigureOptions};
use gstarve_core::error::Result;
use gstarve_core::reference::paper_toy;
use gstarve_core::sweeps::{
    phase_diagram, starvation_matrix, Axis, Grid, Measure, Parameter, PhaseDiagramSpec, Progress,
    RotationFamily, SdMatching,
};
use gstarve_core::systems::{FeatureSystem, Spectrum};

/// Options of [`gallery`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GalleryOptions {
    /// Image formats (default PNG and SVG).
    pub formats: Formats,
    /// Grid points per axis of the phase diagrams (default 256).
    pub grid_points: usize,
    /// Seed of the random 6-feature system of the starvation matrix (default 1).
    pub seed: u64,
}

impl Default for GalleryOptions {
    fn default() -> Self {
        Self {
            formats: Formats::BOTH,
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

/// Render into `dir`:
/// - `toy-figure`: the paper's Figure 6 (docs/theory.md §6);
/// - `phase-diagram-elasticity`: E₂₁ over the [`gallery_grid`];
/// - `phase-diagram-sd-recovery`: z₂*(SD)/z₂*(L2) at the same λ over the same grid;
/// - `phase-plane-toy-l4`: the toy with l = 4, flow, GD, dual, SD, direction field, nullclines;
/// - `responses-toy-l4`: z_j(τ) of the same system, flow and GD, logarithmic time;
/// - `flow-vs-gd-toy-l4`: the GD–flow gap against η;
/// - `starvation-matrix-random6`: E_ji of a random 6-feature system (Haar coupling, strengths
///   geometric from 4 to 0.5, λ = 0.05).
///
/// Each as PNG and/or SVG with its CSV data.
pub fn gallery(dir: &Path, options: &GalleryOptions) -> Result<Vec<Written>> {
    let formats = options.formats;
    let mut written = vec![toy_figure(
        dir,
        &ToyFigureOptions {
            formats,
            ..Default::default()
        },
    )?];
    for (measure, name) in [
        (Measure::Elasticity, "phase-diagram-elasticity"),
        (
            Measure::SdRecovery(SdMatching::Lambda),
            "phase-diagram-sd-recovery",
        ),
    ] {
        let spec = PhaseDiagramSpec {
            grid: gallery_grid(options.grid_points),
            measure,
            learning: Default::default(),
        };
        let diagram = phase_diagram(&spec, Progress::Hidden)?;
        written.push(phase_diagram_figure(
            &diagram,
            dir,
            &PhaseDiagramOptions {
                name: name.into(),
                formats,
                ..Default::default()
            },
        )?);
    }
    let toy = paper_toy(4.0);
    written.push(phase_plane(
        &toy,
        dir,
        &PhasePlaneOptions {
            name: "phase-plane-toy-l4".into(),
            title: Some("The toy, s\u{a0}=\u{a0}(4, 2), δ\u{a0}=\u{a0}0.5".into()),
            formats,
            ..Default::default()
        },
    )?);
    written.push(responses(
        &toy,
        dir,
        &ResponsesOptions {
            name: "responses-toy-l4".into(),
            log_time: true,
            formats,
            ..Default::default()
        },
    )?);
    written.push(flow_vs_gd(
        &toy,
        dir,
        &FlowVsGdOptions {
            name: "flow-vs-gd-toy-l4".into(),
            title: Some("GD against the exact flow, the toy with l\u{a0}=\u{a0}4".into()),
            formats,
            ..Default::default()
        },
    )?);
    let random =
        FeatureSystem::random(6, Spectrum::Geometric { from: 4.0, to: 0.5 }, options.seed)?;
    written.push(starvation_matrix_figure(
        &starvation_matrix(&random, 0.05)?,
        dir,
        &StarvationMatrixOptions {
            name: "starvation-matrix-random6".into(),
            formats,
            ..Default::default()
        },
    )?);
    Ok(written)
}
