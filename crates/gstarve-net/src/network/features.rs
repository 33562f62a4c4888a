//! The feature system of a network at initialisation (docs/theory.md §1.2, §8.2–§8.3): Φ = ∂f/∂θ in
//! closed form, the thin SVD YΦ = U S Vᵀ (via [`FeatureSystem::from_features`]), and the initial
//! output f₀ carried as initial responses z(0) = UᵀY f₀.
//!
//! The theory (docs/theory.md §1.1) drops the initial output (θ measured from initialisation,
//! ŷ = Φθ). With it, the linearised network is ŷ = f₀ + Φθ, so z = UᵀYŷ = UᵀYf₀ + SVᵀθ: the same
//! flow (★) of §3.2 started from z(0) = UᵀY f₀ instead of 0, with margins m = Yŷ = Uz exactly when
//! U is square (r = n, i.e. p ≥ n and Φ of full row rank). When r < n (§8.3) the part of Yf₀
//! outside the columns of U is lost; [`NetworkFeatures::initial_output_outside`] reports its
//! size.

use nalgebra::{DMatrix, DVector};

use super::TwoLayerRelu;
use crate::data::Dataset;
use gstarve_core::error::Result;
use gstarve_core::systems::FeatureSystem;

/// A network's feature system at initialisation and its initial state.
#[derive(Clone, Debug)]
pub struct NetworkFeatures {
    /// Strengths S, coupling U and features V from YΦ = U S Vᵀ.
    pub system: FeatureSystem,
    /// z(0) = UᵀY f₀ (zero for a `zero_output` network).
    pub initial_responses: DVector<f64>,
    /// f₀ = f(x_i) at initialisation.
    pub initial_output: DVector<f64>,
    /// ‖Yf₀ − U z(0)‖₂: the part of the initial margins the feature basis cannot carry (0 up to
    /// rounding when r = n).
    pub initial_output_outside: f64,
}

/// The unsigned NTK Gram matrix Θ = ΦΦᵀ of `net` on `dataset` at initialisation (n × n; the
/// label-signed K = YΘY = U S² Uᵀ of docs/theory.md §1.3 gives the same system as the
/// features, [`FeatureSystem::from_kernel`]).
pub fn ntk_gram(net: &TwoLayerRelu, dataset: &Dataset) -> Result<DMatrix<f64>> {
    let phi = net.jacobian(dataset.inputs())?;
    Ok(&phi * phi.transpose())
}

/// The feature system of `net` on `dataset` (see the module documentation).
pub fn network_features(net: &TwoLayerRelu, dataset: &Dataset) -> Result<NetworkFeatures> {
    let phi = net.jacobian(dataset.inputs())?;
    let labels: Vec<f64> = dataset.labels().iter().copied().collect();
    let system = FeatureSystem::from_features(&phi, &labels)?;
    let initial_output = net.outputs(dataset.inputs())?;
    let margins0 = initial_output.component_mul(dataset.labels());
    let initial_responses = system.coupling().tr_mul(&margins0);
    let initial_output_outside = (&margins0 - system.coupling() * &initial_responses).norm();
    Ok(NetworkFeatures {
        system,
        initial_responses,
        initial_output,
        initial_output_outside,
    })
}
