//! Parameter sweeps: the starvation measures of docs/theory.md §7.2 over grids of the two-feature
//! rotation family, the n-feature starvation matrix, and the GD–flow gap over step sizes.
//!
//! - [`grid`]: parameters (r = s₁/s₂, δ, λ, s₂), axes, validated grids (values a + i·h).
//! - [`rotation`]: an allocation-free 2×2 Newton steady state and closed-form sensitivity for the
//!   rotation family, equal to the general solvers to 1e-10 and warm-started along grid rows.
//! - [`measures`]: E₂₁, ρ, SD recovery, τ₉₀ at one point, with mask reasons.
//! - [`learning_time`](mod@learning_time): τ₉₀ (any fraction) from the exact flow, with its resolution.
//! - [`phase_diagram`](mod@phase_diagram): a measure over a grid, rows in parallel (rayon).
//! - [`starvation_matrix`](mod@starvation_matrix): E_ji of any system.
//! - [`system_diagram`](mod@system_diagram): a measure over two parameters (strengths, λ) of any
//!   system.
//! - [`ensemble`](mod@ensemble): the distribution of starvation-matrix entries over random
//!   systems, against spectrum decay and coupling (sharded like phase diagrams).
//! - [`shards`]: one mechanism for sweeps in shards (phase diagrams by row, ensembles by system):
//!   binary shard files, resumable runs, the merge's checks.
//! - [`gd_gap`]: max ‖z_GD − z_flow‖∞ as a function of η.
//! - [`batch`]: L2 steady states and sensitivities of many small systems at once (struct of
//!   arrays, one system per SIMD lane, rayon over chunks), equal to the one-system path to
//!   1e-12; used by system diagrams and ensembles with n ≤ 8 (the rotation family's phase
//!   diagrams keep the faster 2×2 Newton of [`rotation`]).
//! - The paper's two-moons experiment with real networks over seeds, and the real network
//!   against its linearised flow and GD over widths, are in `gstarve_net::experiments`.
//! - [`progress`]: silent, a terminal bar, or a callback.
//!
//! ```
//! use gstarve_core::sweeps::{phase_diagram, Axis, Grid, Measure, Parameter, PhaseDiagramSpec,
//!                       Progress, RotationFamily};
//!
//! let spec = PhaseDiagramSpec {
//!     grid: Grid {
//!         x: Axis::linear(Parameter::Ratio, 1.0, 5.0, 32),
//!         y: Axis::linear(Parameter::Coupling, 0.05, 0.95, 32),
//!         fixed: RotationFamily { lambda: 0.01, weak_strength: 2.0, ..Default::default() },
//!     },
//!     measure: Measure::Elasticity,
//!     learning: Default::default(),
//! };
//! let diagram = phase_diagram(&spec, Progress::Hidden)?;
//! // A stronger feature 1 starves the weak feature 2 at small coupling: E₂₁ < 0.
//! assert!(diagram.value(31, 0) < 0.0);
//! # Ok::<(), gstarve_core::Error>(())
//! ```

pub mod batch;
pub mod ensemble;
pub mod gd_gap;
pub mod grid;
pub mod learning_time;
pub mod learning_time_batch;
pub mod measures;
pub mod phase_diagram;
pub mod progress;
pub mod rotation;
pub mod shards;
pub mod starvation_matrix;
pub mod system_diagram;

pub use batch::{l2_steady_states, BatchSteadyStates, SmallSystems, BATCH_MAX_DIM};
pub use ensemble::{ensemble, ensemble_systems, Coupling, Ensemble, EnsembleSpec};
pub use gd_gap::{gd_flow_gaps, GdGap, GdGapOptions};
pub use grid::{Axis, Grid, Parameter, RotationFamily, Spacing, MAX_GRID_POINTS};
pub use learning_time::{learning_time, learning_time_from, LearningTime, LearningTimeParams};
pub use learning_time_batch::{learning_times, LearningTimeInput};
pub use measures::{MaskReason, Measure, PointRecord, SdMatching};
pub use phase_diagram::{phase_diagram, phase_diagram_rows, PhaseDiagram, PhaseDiagramSpec};
pub use progress::Progress;
pub use rotation::{
    rotation_sensitivity, rotation_steady_state, RotationSensitivity, RotationSteadyState,
};
pub use shards::{config_hash, merge_shards, Shard, ShardFile};
pub use starvation_matrix::{starvation_matrix, starvation_matrix_of, StarvationMatrix};
pub use system_diagram::{
    system_diagram, SystemAxis, SystemDiagram, SystemDiagramSpec, SystemParameter,
};
