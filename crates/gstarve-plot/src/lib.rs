//! Figures in one house style, drawn from data computed elsewhere and each written as PNG
//! and/or SVG with its data as CSV beside it, every file atomically (rendered in memory first,
//! then written through gstarve-core's `output` module). This crate runs no solver: the phase
//! planes, responses, toy runs and gaps come from `gstarve_core::simulation::figures`, the
//! phase diagrams and starvation matrices from `gstarve_core::sweeps`, the real networks from
//! `gstarve_net::experiments`.
//!
//! One module per kind of figure, each a function of the data and an options struct (file
//! stem, size, formats, title):
//!
//! - [`phase_plane`](mod@phase_plane): z_a against z_b for a system — exact flow, GD, dual, SD, decoupled —
//!   with steady states, and for two features the direction field and nullclines.
//! - [`responses`](mod@responses): z_j(τ) over learning time, flow and GD, linear or logarithmic time.
//! - [`phase_diagram`](mod@phase_diagram): a starvation measure over a grid of the rotation family, with colour
//!   bar, phase boundary and masked cells.
//! - [`starvation_matrix`](mod@starvation_matrix): E_ji as a diverging heatmap, numbers in the cells for small n.
//! - [`ensemble`](mod@ensemble): an ensemble of random systems, the fraction of starving
//!   entries and the median E_ji against spectrum decay, one curve per coupling.
//! - [`flow_vs_gd`](mod@flow_vs_gd): max ‖z_GD − z_flow‖∞ against η, log–log, with the slope-1 line.
//! - [`toy`]: the paper's Figure 6 (docs/theory.md §6.1).
//! - [`moons`](mod@moons): the two-moons experiment with real networks (the paper's Figures 1–3):
//!   responses over epochs with bands over seeds, decision-boundary heatmaps.
//! - [`ood`](mod@ood): the out-of-distribution test on coloured digits: accuracy bars over
//!   restarts, and the colour feature's place in the network's feature system.
//! - [`linearisation`](mod@linearisation): the real network against its linearised flow, and the
//!   gap against width.
//! - [`multiclass`](mod@multiclass): a c-output network on c spirals against its softmax flow,
//!   decision regions by class, starvation among the class-discriminating features.
//! - [`remedies`](mod@remedies): the paper's Figure 3, the remedies' decision boundaries and
//!   their x₂ share.
//! - [`gallery`](mod@gallery): all of the above for the reference systems, into one folder.
//!
//! [`style`] holds the house style (bundled DejaVu Sans, Okabe–Ito palette, viridis and a
//! blue–white–red map, sizes). PNGs are drawn three times larger and averaged down
//! (anti-aliased), with text laid out from the bundled font, so they look the same on every
//! machine; SVGs keep text as `<text>` (font family DejaVu Sans first) and embed heatmaps as one
//! PNG image.
//!
//! ```no_run
//! use std::path::Path;
//! use gstarve_core::reference::paper_toy;
//! use gstarve_core::simulation::figures::{GalleryData, PhasePlaneData, PhasePlaneSpec};
//! use gstarve_plot::{gallery, phase_plane, Formats, PhasePlaneOptions};
//!
//! // The toy with l = 4: flow, GD, dual and SD paths, direction field, nullclines.
//! let data = PhasePlaneData::compute(&paper_toy(4.0), &PhasePlaneSpec::default())?;
//! let written = phase_plane(&data, Path::new("plots"), &PhasePlaneOptions::default())?;
//! println!("{:?} and {:?}", written.images, written.data);
//! // Every kind of figure for the reference systems.
//! let all = GalleryData::compute(&Default::default())?;
//! gallery(&all, Path::new("plots"), Formats::BOTH)?;
//! # Ok::<(), gstarve_core::Error>(())
//! ```

#![deny(missing_docs)]

mod axes;
mod canvas;
mod clipping;
mod contour;
mod direction_field;
pub mod ensemble;
pub mod flow_vs_gd;
pub mod gallery;
mod legend;
pub mod limit_path;
pub mod linearisation;
pub mod moons;
mod moons_boundary;
pub mod moons_paper;
pub mod multiclass;
pub mod ood;
pub mod phase_diagram;
pub mod phase_plane;
pub mod remedies;
pub mod responses;
pub mod starvation_matrix;
pub mod style;
mod text;
mod ticks;
pub mod toy;

pub use axes::Scale;
pub use canvas::{Formats, Written};
pub use ensemble::{ensemble_figure, EnsembleOptions};
pub use flow_vs_gd::{flow_vs_gd, FlowVsGdOptions};
pub use gallery::{gallery, GALLERY_NAMES};
pub use limit_path::{limit_path, LimitPathOptions};
pub use linearisation::{width_figures, width_table};
pub use moons::{moons_figures, MoonsFigureOptions};
pub use multiclass::multiclass_figures;
pub use ood::{ood_figure, OodFigureOptions};
pub use phase_diagram::{phase_diagram_figure, system_diagram_figure, PhaseDiagramOptions};
pub use phase_plane::{phase_plane, PhasePlaneOptions};
pub use remedies::{remedies_figures, RemediesFigureOptions};
pub use responses::{responses, ResponsesOptions};
pub use starvation_matrix::{starvation_matrix_figure, StarvationMatrixOptions};
pub use style::FigureSize;
pub use toy::{toy_figure, ToyFigureOptions};
