//! Figures in one house style, each written as PNG and/or SVG with its data as CSV beside it,
//! every file atomically (rendered in memory first, then written through a temporary file).
//!
//! One module per kind of figure, each a function with an options struct:
//!
//! - [`phase_plane`]: z_a against z_b for a system — exact flow, GD, dual, SD, decoupled —
//!   with steady states, and for two features the direction field and nullclines.
//! - [`responses`]: z_j(τ) over learning time, flow and GD, linear or logarithmic time.
//! - [`phase_diagram`]: a starvation measure over a grid of the rotation family, with colour
//!   bar, phase boundary and masked cells.
//! - [`starvation_matrix`]: E_ji as a diverging heatmap, numbers in the cells for small n.
//! - [`flow_vs_gd`]: max ‖z_GD − z_flow‖∞ against η, log–log, with the slope-1 line.
//! - [`toy`]: the paper's Figure 6 (THEORY.md §6).
//! - [`gallery`]: all of the above for the reference systems, into one folder.
//!
//! [`style`] holds the house style (bundled DejaVu Sans, Okabe–Ito palette, viridis and a
//! blue–white–red map, sizes).

mod axes;
mod canvas;
mod contour;
pub mod flow_vs_gd;
pub mod gallery;
mod legend;
pub mod phase_diagram;
pub mod phase_plane;
pub mod responses;
mod runs;
pub mod starvation_matrix;
pub mod style;
mod text;
pub mod toy;

pub use axes::Scale;
pub use canvas::{Formats, Written};
pub use flow_vs_gd::{flow_vs_gd, FlowVsGdOptions};
pub use gallery::{gallery, gallery_grid, GalleryOptions};
pub use phase_diagram::{phase_diagram_figure, PhaseDiagramOptions};
pub use phase_plane::{phase_plane, PhasePlaneCurves, PhasePlaneOptions};
pub use responses::{responses, ResponsesOptions};
pub use starvation_matrix::{starvation_matrix_figure, StarvationMatrixOptions};
pub use style::FigureSize;
pub use toy::{toy_figure, ToyFigureOptions};
