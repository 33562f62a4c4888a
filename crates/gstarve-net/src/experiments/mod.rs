//! Experiments with real networks: the paper's two-moons experiment over seeds ([`moons`](mod@moons)),
//! and the real network against its linearised flow and GD over widths
//! ([`linearisation`](mod@linearisation)).

pub mod linearisation;
pub mod moons;

pub use linearisation::{
    linearisation_sweep, LinearisationSpec, LinearisationSweep, WidthComparison,
};
pub use moons::{
    moons_experiment, reversal, Band, DecisionBoundary, FeatureOrder, MoonsExperiment,
    MoonsSetting, MoonsSpec, Reversal, SeedRun, SettingResult,
};
