//! # gstarve-core: Gradient Starvation, computable
//!
//! In the neural-tangent regime a network trained with cross-entropy is a small dynamical system
//! (Pezeshki et al., NeurIPS 2021). With the SVD YΦ = U S Vᵀ of the label-signed feature matrix,
//! the feature responses z = S Vᵀθ follow the gradient flow
//!
//! ```text
//! dz/dτ = S² Uᵀ σ(−U z) − λ z        (docs/theory.md §3.2, (★))
//! ```
//!
//! gstarve integrates it exactly, runs the discrete gradient-descent map and the dual dynamics,
//! finds steady states, and checks the theory's predictions.
//!
//! The modules follow the data flow: [`systems`] (S, U) → [`model`] (loss × regulariser:
//! right-hand sides, Jacobians) → [`ode`] (problems, validated options, the integrator driver)
//! → [`solvers`] (the methods, the automatic choice, GD, steady states) → [`theory`] (closed
//! forms, sensitivities, checks), [`sweeps`] (starvation measures over parameter grids, phase
//! diagrams) and [`simulation`] (one system's runs as a report; [`simulation::figures`], the
//! computed data every figure draws) → [`output`] (every file written: atomic writes, CSV
//! tables, JSON); [`error`] types the failures by layer. Figures are drawn by the
//! `gstarve-plot` crate, which runs no solver, and real networks live in `gstarve-net`; this
//! crate compiles neither plotting nor command-line code.
//!
//! ```
//! use gstarve_core::model::{Loss, PrimalDynamics, Regulariser};
//! use gstarve_core::solvers::steady::steady_state;
//! use gstarve_core::systems::FeatureSystem;
//!
//! // The paper's toy (docs/theory.md §6.1): s = (4, 2), a 30° rotation, λ = 0.01.
//! let system = FeatureSystem::rotation(4.0, 2.0, 0.5)?;
//! let dynamics = PrimalDynamics::new(&system, Loss::Logistic, Regulariser::L2 { lambda: 0.01 })?;
//! let fixed_point = steady_state(&dynamics)?;
//! assert!((fixed_point.responses[0] - 7.812049).abs() < 1e-6);
//! assert!((fixed_point.responses[1] - 1.466814).abs() < 1e-6);
//! # Ok::<(), gstarve_core::Error>(())
//! ```
#![deny(missing_docs)]

pub mod error;
pub mod model;
pub mod ode;
pub mod output;
pub mod reference;
pub mod simulation;
pub mod solvers;
pub mod sweeps;
pub mod systems;
pub mod theory;

pub use error::{Error, Result};
