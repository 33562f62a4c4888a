//! The gallery: every kind of figure for the reference systems, drawn from a computed
//! [`GalleryData`] into one folder.

use std::path::Path;

use super::canvas::{Formats, Written};
use super::flow_vs_gd::{flow_vs_gd, FlowVsGdOptions};
use super::phase_diagram::{phase_diagram_figure, PhaseDiagramOptions};
use super::phase_plane::{phase_plane, PhasePlaneOptions};
use super::responses::{responses, ResponsesOptions};
use super::starvation_matrix::{starvation_matrix_figure, StarvationMatrixOptions};
use super::toy::{toy_figure, ToyFigureOptions};
use gstarve_core::error::Result;
use gstarve_core::simulation::figures::GalleryData;

/// The gallery's file stems, in the order [`gallery`] writes them.
pub const GALLERY_NAMES: [&str; 7] = [
    "toy-figure",
    "phase-diagram-elasticity",
    "phase-diagram-sd-recovery",
    "phase-plane-toy-l4",
    "responses-toy-l4",
    "flow-vs-gd-toy-l4",
    "starvation-matrix-random6",
];

/// Draw into `dir`:
/// - `toy-figure`: the paper's Figure 6 (docs/theory.md §6.1);
/// - `phase-diagram-elasticity`: E₂₁ over the gallery grid;
/// - `phase-diagram-sd-recovery`: z₂*(SD)/z₂*(L2) at the same λ over the same grid;
/// - `phase-plane-toy-l4`: the toy with l = 4, flow, GD, dual, SD, direction field, nullclines;
/// - `responses-toy-l4`: z_j(τ) of the same system, flow and GD, logarithmic time;
/// - `flow-vs-gd-toy-l4`: the GD–flow gap against η;
/// - `starvation-matrix-random6`: E_ji of a random 6-feature system.
///
/// Each in the chosen formats with its CSV data; the stems are [`GALLERY_NAMES`].
pub fn gallery(data: &GalleryData, dir: &Path, formats: Formats) -> Result<Vec<Written>> {
    let mut written = vec![toy_figure(
        &data.toy,
        dir,
        &ToyFigureOptions {
            name: GALLERY_NAMES[0].into(),
            formats,
            ..Default::default()
        },
    )?];
    for (diagram, name) in [
        (&data.elasticity, GALLERY_NAMES[1]),
        (&data.sd_recovery, GALLERY_NAMES[2]),
    ] {
        let options = PhaseDiagramOptions {
            name: name.into(),
            formats,
            ..Default::default()
        };
        written.push(phase_diagram_figure(diagram, dir, &options)?);
    }
    written.push(phase_plane(
        &data.phase_plane,
        dir,
        &PhasePlaneOptions {
            name: GALLERY_NAMES[3].into(),
            title: Some("The toy, s\u{a0}=\u{a0}(4, 2), δ\u{a0}=\u{a0}0.5".into()),
            formats,
            ..Default::default()
        },
    )?);
    written.push(responses(
        &data.responses,
        dir,
        &ResponsesOptions {
            name: GALLERY_NAMES[4].into(),
            formats,
            ..Default::default()
        },
    )?);
    written.push(flow_vs_gd(
        &data.flow_vs_gd,
        dir,
        &FlowVsGdOptions {
            name: GALLERY_NAMES[5].into(),
            title: Some("GD against the exact flow, the toy with l\u{a0}=\u{a0}4".into()),
            formats,
            ..Default::default()
        },
    )?);
    written.push(starvation_matrix_figure(
        &data.starvation_matrix,
        dir,
        &StarvationMatrixOptions {
            name: GALLERY_NAMES[6].into(),
            formats,
            ..Default::default()
        },
    )?);
    Ok(written)
}
