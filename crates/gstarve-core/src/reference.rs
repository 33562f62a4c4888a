//! A catalogue of reference problems with their known answers, for tests, checks and the default
//! run. Values are copied from docs/theory.md §6.2 (double-precision solutions of the paper's toy,
//! computed independently of gstarve and given there to six or seven digits).

use crate::systems::FeatureSystem;

/// The paper's toy (its Figure 6, docs/theory.md §6.1): two examples labelled +1, U = U(δ = 0.5),
/// strengths s = (l, 2).
pub fn paper_toy(l: f64) -> FeatureSystem {
    FeatureSystem::rotation(l, 2.0, TOY_DELTA).expect("the toy's parameters are valid")
}

/// Coupling δ of the toy (a 30° rotation).
pub const TOY_DELTA: f64 = 0.5;
/// λ of the toy's L2 runs.
pub const TOY_LAMBDA_L2: f64 = 0.01;
/// λ of the toy's SD runs.
pub const TOY_LAMBDA_SD: f64 = 0.002;
/// GD step size of the toy.
pub const TOY_ETA: f64 = 0.05;
/// GD steps of the toy.
pub const TOY_STEPS: usize = 5000;

/// docs/theory.md §6.2: (l, z₁*, z₂*, m₁*, m₂*) of the L2 steady states (λ = 0.01).
pub const TOY_L2_STEADY_STATES: [(f64, [f64; 2], [f64; 2]); 5] = [
    (2.0, [6.120438, 1.639967], [4.48047, 4.48047]),
    (3.0, [7.068150, 1.583112], [5.32964, 4.90509]),
    (4.0, [7.812049, 1.466814], [6.03203, 5.17632]),
    (5.0, [8.465191, 1.329021], [6.66656, 5.38356]),
    (6.0, [9.071019, 1.185344], [7.26306, 5.56205]),
];

/// docs/theory.md §6.2: the SD steady state for every l (λ = 0.002): μ* and z*.
pub const TOY_SD_MARGIN: f64 = 4.665120;
/// docs/theory.md §6.2: the SD steady-state responses.
pub const TOY_SD_RESPONSES: [f64; 2] = [6.372673, 1.707553];

/// docs/theory.md §6.2: decoupled roots of z(1 + e^z) = s²/λ at λ = 0.01, and W₀(s²/λ):
/// (s, exact, Lambert-W approximation).
pub const DECOUPLED_ROOTS: [(f64, f64, f64); 3] = [
    (2.0, 4.480472, 4.489683),
    (4.0, 5.643688, 5.646689),
    (6.0, 6.340041, 6.341564),
];
