//! Experiments with real networks: the paper's two-moons experiment over seeds ([`moons`](mod@moons)),
//! and the real network against its linearised flow and GD over widths
//! ([`linearisation`](mod@linearisation)), starvation with c classes: a c-output network on
//! c spirals against its softmax flow ([`multiclass`](mod@multiclass)), the paper's remedies
//! ([`remedies`](mod@remedies)), and the out-of-distribution test on coloured digits
//! ([`ood`](mod@ood)).

pub mod linearisation;
pub mod moons;
pub mod multiclass;
pub mod ood;
pub mod remedies;

pub use linearisation::{
    linearisation_sweep, LinearisationSpec, LinearisationSweep, WidthComparison,
};
pub use moons::{
    moons_experiment, reversal, Band, DecisionBoundary, FeatureOrder, MoonsExperiment,
    MoonsSetting, MoonsSpec, Reversal, SeedRun, SettingResult,
};
pub use multiclass::{
    multiclass_experiment, DecisionRegions, MulticlassExperiment, MulticlassSpec,
};
pub use remedies::{
    remedies_experiment, Engine, RemediesExperiment, RemediesSpec, Remedy, RemedyResult, RemedyRun,
};
