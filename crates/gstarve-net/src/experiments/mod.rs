//! Experiments with real networks: the paper's two-moons experiment over seeds ([`moons`](mod@moons)),
//! and the real network against its linearised flow and GD over widths
//! ([`linearisation`](mod@linearisation)), and the out-of-distribution test on coloured digits
//! ([`ood`](mod@ood)).

pub mod linearisation;
pub mod moons;
pub mod ood;

pub use linearisation::{
    linearisation_sweep, LinearisationSpec, LinearisationSweep, WidthComparison,
};
pub use moons::{
    moons_experiment, Band, DecisionBoundary, MoonsExperiment, MoonsSetting, MoonsSpec, SeedRun,
    SettingResult,
};
