//! Figures in one house style, each written as PNG and/or SVG with its data as CSV beside it,
//! every file atomically (rendered in memory first, then written through a temporary file).
//!
//! One module per kind of figure, each a function with an options struct:
//!
//! - [`phase_plane`](mod@phase_plane): z_a against z_b for a system — exact flow, GD, dual, SD, decoupled —
//!   with steady states, and for two features the direction field and nullclines.
//! - [`responses`](mod@responses): z_j(τ) over learning time, flow and GD, linear or logarithmic time.
//! - [`phase_diagram`](mod@phase_diagram): a starvation measure over a grid of the rotation family, with colour
//!   bar, phase boundary and masked cells.
//! - [`starvation_matrix`](mod@starvation_matrix): E_ji as a diverging heatmap, numbers in the cells for small n.
//! - [`flow_vs_gd`](mod@flow_vs_gd): max ‖z_GD − z_flow‖∞ against η, log–log, with the slope-1 line.
//! - [`toy`]: the paper's Figure 6 (docs/theory.md §6).
//! - [`moons`](mod@moons): the two-moons experiment with real networks (the paper's Figures 1–3):
//!   responses over epochs with bands over seeds, decision-boundary heatmaps.
//! - [`linearisation`](mod@linearisation): the real network against its linearised flow, and the
//!   gap against width.
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
//! use gstarve_plot::{gallery, phase_plane, GalleryOptions, PhasePlaneOptions};
//! use gstarve_core::reference::paper_toy;
//!
//! // The toy with l = 4: flow, GD, dual and SD paths, direction field, nullclines.
//! let written = phase_plane(&paper_toy(4.0), Path::new("plots"), &PhasePlaneOptions::default())?;
//! println!("{:?} and {:?}", written.images, written.data);
//! // Every kind of figure for the reference systems.
//! gallery(Path::new("plots"), &GalleryOptions::default())?;
//! # Ok::<(), gstarve_core::Error>(())
//! ```

mod axes;
mod canvas;
mod clipping;
mod contour;
mod direction_field;
pub mod flow_vs_gd;
pub mod gallery;
mod legend;
pub mod linearisation;
pub mod moons;
pub mod phase_diagram;
pub mod phase_plane;
pub mod responses;
pub mod starvation_matrix;
pub mod style;
mod text;
mod ticks;
pub mod toy;

pub use axes::Scale;
pub use canvas::{Formats, Written};
pub use flow_vs_gd::{flow_vs_gd, FlowVsGdOptions};
pub use gallery::{gallery, gallery_grid, GalleryOptions};
pub use linearisation::{width_figures, width_table_csv};
pub use moons::{moons_figures, MoonsFigureOptions};
pub use phase_diagram::{phase_diagram_figure, PhaseDiagramOptions};
pub use phase_plane::{phase_plane, PhasePlaneCurves, PhasePlaneOptions};
pub use responses::{responses, ResponsesOptions};
pub use starvation_matrix::{starvation_matrix_figure, StarvationMatrixOptions};
pub use style::FigureSize;
pub use toy::{toy_figure, ToyFigureOptions};
