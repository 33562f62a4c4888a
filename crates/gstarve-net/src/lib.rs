//! # gstarve-net: real networks beside the theory
//!
//! Data sets ([`data`]: the paper's two moons, CSV), a two-layer ReLU network with its Jacobian
//! at initialisation in closed form and the feature system it defines ([`network`]), full-batch
//! training of the real network, and the experiments that compare it with the linearised
//! dynamics of `gstarve-core` ([`experiments`]).
#![deny(missing_docs)]

pub mod data;
pub mod deep;
pub mod experiments;
pub mod network;
#[cfg(test)]
mod test_support;
