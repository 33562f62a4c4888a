//! Numerical failures: the computation did not reach an answer it can stand behind, and says so
//! instead of returning a plausible wrong number. Computed values print with 5 significant
//! digits ([`computed`]).

use super::input::{computed, number};

/// A computation that failed, with the numbers that show where and why.
#[derive(Debug, thiserror::Error)]
pub enum NumericalError {
    /// An iteration left the finite numbers.
    #[error("{method} diverged at step {step} (τ = {}): the state is no longer finite", computed(*tau))]
    Diverged {
        /// Which method.
        method: &'static str,
        /// Step index where the state became non-finite.
        step: usize,
        /// Learning time there.
        tau: f64,
    },
    /// An explicit integrator found the problem stiff (internal: the automatic method switches).
    #[error("{solver} detected stiffness at τ = {}: the problem needs an implicit method (BDF or Rodas4)", computed(*tau))]
    StiffnessDetected {
        /// The explicit solver.
        solver: &'static str,
        /// Time at which stiffness was detected.
        tau: f64,
    },
    /// An integrator failed to reach the end time.
    #[error("{solver} failed at τ = {}: {reason}", computed(*tau))]
    IntegrationFailed {
        /// The solver.
        solver: &'static str,
        /// Time reached.
        tau: f64,
        /// Why.
        reason: String,
    },
    /// The max-margin active-set (block principal pivoting) iteration did not settle.
    #[error("the max-margin active-set iteration did not settle: {infeasible} examples still violate the KKT conditions after {iterations} pivots")]
    MaxMarginFailed {
        /// Pivoting steps taken.
        iterations: usize,
        /// Examples that still violate α ≥ 0 or margin ≥ 1.
        infeasible: usize,
    },
    /// Newton's method did not converge.
    #[error("steady-state Newton iteration did not converge: residual {residual:.3e} after {iterations} iterations")]
    NewtonFailed {
        /// Iterations taken.
        iterations: usize,
        /// Final max-norm residual.
        residual: f64,
    },
    /// A matrix the theory proves nonsingular (e.g. the Jacobian J = I + λ⁻¹S²UᵀDU of
    /// docs/theory.md §4.1, whose eigenvalues are ≥ 1) was singular in floating point.
    #[error("the {dimension}×{dimension} matrix {matrix} is singular to working precision")]
    SingularMatrix {
        /// Which matrix, in the theory's notation.
        matrix: &'static str,
        /// Its dimension.
        dimension: usize,
    },
    /// Network training left the finite numbers (learning rate too large for the network).
    #[error("network training diverged at epoch {epoch}: the loss is {} (lower the learning rate {})", computed(*loss), number(*learning_rate))]
    TrainingDiverged {
        /// Epoch (number of updates done) at which the loss became non-finite.
        epoch: usize,
        /// The loss found.
        loss: f64,
        /// The learning rate used.
        learning_rate: f64,
    },
    /// The tensor library of gstarve-net's configurable networks (candle) failed: an internal
    /// error (shapes, storage), not a property of the input.
    #[error("the tensor library failed in {operation}: {message}")]
    Tensor {
        /// What was being computed.
        operation: &'static str,
        /// The library's message.
        message: String,
    },
    /// A numerical failure in one of many systems (`simulate` on a file of systems).
    #[error("system {index} of {count}: {source}")]
    InSystem {
        /// The system, 1-based.
        index: usize,
        /// How many systems.
        count: usize,
        /// What failed.
        source: Box<NumericalError>,
    },
}
