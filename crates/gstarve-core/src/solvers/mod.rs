//! The methods: integrators that implement [`crate::ode::Integrator`] (explicit Dormand–Prince
//! pairs, the hand-written DP45, BDF, Rodas4 and RKC), gradient descent, and the steady state by
//! Newton. Each method takes a problem by reference and never depends on which dynamics it
//! runs; [`flow`] chooses the state space (margins or responses) of a model's primal flow.

pub mod auto;
pub mod bdf;
#[cfg(test)]
mod conformance;
pub mod dp45;
pub mod explicit;
pub mod flow;
pub mod gd;
pub(crate) mod lu;
pub mod max_margin;
pub mod rkc;
pub mod rosenbrock;
pub mod softmax_flow;
pub mod steady;
pub mod steady_softmax;

pub use auto::{integrate, Method, Plan};
pub use flow::primal_flow;
