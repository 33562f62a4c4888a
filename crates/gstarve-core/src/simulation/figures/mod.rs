//! The data of gstarve's figures, computed and ready to draw. Each figure has a spec (what to
//! compute: regulariser strengths, step size, learning time, which runs) and a data type with a
//! `compute` constructor that validates the spec, builds the dynamics and runs the solvers
//! ([`super::paths`], [`crate::solvers::steady`], [`crate::sweeps`]). The `gstarve-plot` crate
//! draws these types and runs no solver itself.
//!
//! - [`phase_plane`](mod@phase_plane): z_a against z_b — exact flow, GD, dual path, SD flow,
//!   decoupled system — with steady states, and for two features the direction field of the
//!   L2 flow and its rates on the nullcline grid (docs/theory.md §3.2, §4.1–§4.2).
//! - [`responses`](mod@responses): z_j(τ) of the flow and GD, with the steady state.
//! - [`toy`](mod@toy): the paper's Figure 6 (docs/theory.md §6.1).
//! - [`multiclass`](mod@multiclass): the phase plane and responses of a multi-class softmax
//!   system (§9), as the same data types.
//! - [`flow_vs_gd`](mod@flow_vs_gd): max ‖z_GD − z_flow‖∞ against η (docs/theory.md §3.1).
//! - [`gallery`](mod@gallery): the data of every gallery figure.
//!
//! ```
//! use gstarve_core::reference::paper_toy;
//! use gstarve_core::simulation::figures::{PhasePlaneData, PhasePlaneSpec};
//!
//! let spec = PhasePlaneSpec { t_end: 20.0, ..Default::default() };
//! let data = PhasePlaneData::compute(&paper_toy(4.0), &spec)?;
//! // The L2 steady state of the toy with l = 4 (docs/theory.md §6.2).
//! assert!((data.steady[0].at.0 - 7.812049).abs() < 1e-6);
//! # Ok::<(), gstarve_core::Error>(())
//! ```

pub mod flow_vs_gd;
pub mod gallery;
pub mod multiclass;
pub mod phase_plane;
pub mod responses;
pub mod toy;

pub use flow_vs_gd::{FlowVsGdData, FlowVsGdSpec};
pub use gallery::{gallery_grid, GalleryData, GallerySpec};
pub use phase_plane::{
    DirectionField, FieldSample, PhasePlaneCurves, PhasePlaneData, PhasePlaneSpec, PlanePath,
    PlaneRun, PlaneSteadyState, RateGrid, RegulariserKind, SteadyKind, Window,
};
pub use responses::{ResponsesData, ResponsesSpec};
pub use toy::{ToyFigureData, ToyRun, ToySpec};

/// The bounding box ((x₀, x₁), (y₀, y₁)) of the finite points, padded by 6 % of its span on each
/// side (by 0.06 when the span is 0).
pub fn padded_extent(points: impl Iterator<Item = (f64, f64)>) -> Window {
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (x, y) in points.filter(|p| p.0.is_finite() && p.1.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let pad = |lo: f64, hi: f64| {
        let span = if hi > lo { hi - lo } else { 1.0 };
        (lo - 0.06 * span, hi + 0.06 * span)
    };
    (pad(x0, x1), pad(y0, y1))
}
