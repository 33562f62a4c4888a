//! L2 steady states and their sensitivities for many small systems at once (issue #17, item 2):
//! the systems stored as a struct of arrays, one system per SIMD lane ([`lanes`], pulp), rayon
//! over chunks of systems, nothing allocated per system.
//!
//! The same mathematics as [`crate::solvers::steady::steady_state`] and
//! [`crate::theory::sensitivity::l2_sensitivity`] (docs/theory.md §4.1, §5.3, §12.4), for the
//! logistic loss under L2 with strength λ, written out for n, r ≤ [`BATCH_MAX_DIM`]:
//!
//! ```text
//! L(z) = Σᵢ log(1 + e^{−mᵢ}) + ½ Σ_j W_jj z_j²,   m = U z,   W = λ S⁻²
//! ∇L = W z − Uᵀψ,   H = ∇²L = Uᵀ D U + W,   ψ = σ(−m), D = diag(σ'(m))   (damped Newton, Armijo)
//! ∂z*/∂(s_i²) = (z_i*/s_i²) J⁻¹ e_i,  J = W⁻¹H,   E_ji = s_i² ∂z_j*/∂(s_i²) / z_j*
//! ```
//!
//! The iteration, its stopping rule (max_j |∇L_j/W_jj| ≤ 10⁻¹²·max(1, ‖z‖∞)), its line search and
//! its failure rules are those of the general solver (§12.4), so both converge to the same z*
//! (tested to 1e-12 in `tests`). Systems with every s_j > 0 run in SIMD lanes ([`lanes`]: the
//! sensitivity by the Cholesky factor of H); a system with a zero strength (its feature pinned at
//! z_j = 0, as the general Newton pins it) runs alone ([`steady`]: the sensitivity by an LU of J).
//!
//! A system's result depends only on the system (and its starting point): not on which other
//! systems share its chunk or its lanes, nor on the instruction set (no fused multiply-adds), so
//! sharded sweeps equal unsharded ones bit for bit.
//!
//! # Adopting it
//!
//! Build [`SmallSystems`] from feature systems ([`SmallSystems::from_systems`]) or fill its
//! arrays directly (ensembles that draw many systems), then call [`l2_steady_states`]: one
//! [`BatchSteadyStates`] with every system's z*, m*, residual, iterations, ∂z*/∂s² and E, or
//! the reason a system failed. Sweeps inside the crate call [`solve_block`] for a block of
//! systems with optional warm starts.

mod group;
mod lanes;
mod steady;

use rayon::prelude::*;

use crate::error::{Error, InputError, NumericalError, Result};
use crate::systems::FeatureSystem;

/// Largest number of examples n and of features r of a system in a batch.
pub const BATCH_MAX_DIM: usize = 8;
/// Systems per rayon task.
const CHUNK: usize = 256;
/// The general solver's defaults ([`crate::solvers::steady::NewtonParams`]).
const TOLERANCE: f64 = 1e-12;
const MAX_ITERATIONS: usize = 200;

type Vector = [f64; BATCH_MAX_DIM];
type Matrix = [[f64; BATCH_MAX_DIM]; BATCH_MAX_DIM];

/// Many systems of the same shape (n examples, r features) as a struct of arrays: system b's
/// squared strengths are `strengths_squared[b·r .. (b+1)·r]`, its coupling U (n × r,
/// column-major) `coupling[b·n·r .. (b+1)·n·r]`, its L2 strength `lambda[b]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SmallSystems {
    /// Examples per system.
    pub examples: usize,
    /// Features per system.
    pub rank: usize,
    /// s_j² of every system.
    pub strengths_squared: Vec<f64>,
    /// U of every system, column-major.
    pub coupling: Vec<f64>,
    /// λ of every system (L2).
    pub lambda: Vec<f64>,
}

impl SmallSystems {
    /// The systems with their L2 strengths (one per system), all of the same shape with
    /// n, r ≤ [`BATCH_MAX_DIM`].
    pub fn from_systems(systems: &[FeatureSystem], lambda: &[f64]) -> Result<Self> {
        let (n, r) = systems.first().map_or((1, 1), |s| (s.examples(), s.rank()));
        if lambda.len() != systems.len() {
            return Err(Error::Input(InputError::Length {
                what: "batch λ",
                found: lambda.len(),
                expected: systems.len(),
                rule: "one per system",
            }));
        }
        let mut out = SmallSystems {
            examples: n,
            rank: r,
            strengths_squared: Vec::with_capacity(systems.len() * r),
            coupling: Vec::with_capacity(systems.len() * n * r),
            lambda: lambda.to_vec(),
        };
        for s in systems {
            if (s.examples(), s.rank()) != (n, r) {
                return Err(Error::Input(InputError::Length {
                    what: "batch system's examples × features",
                    found: s.examples() * s.rank(),
                    expected: n * r,
                    rule: "every system of a batch has the first one's shape",
                }));
            }
            out.strengths_squared
                .extend(s.strengths().iter().map(|v| v * v));
            out.coupling.extend_from_slice(s.coupling().as_slice());
        }
        out.validate()?;
        Ok(out)
    }

    /// Number of systems.
    pub fn len(&self) -> usize {
        self.lambda.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.lambda.is_empty()
    }

    /// Shapes within [`BATCH_MAX_DIM`], array lengths that match, every λ finite and > 0.
    pub fn validate(&self) -> Result<()> {
        let (n, r) = (self.examples, self.rank);
        for (what, v) in [("batch examples n", n), ("batch features r", r)] {
            if v == 0 || v > BATCH_MAX_DIM {
                return Err(Error::Input(InputError::InvalidParameter {
                    name: what,
                    value: v as f64,
                    rule: "batched steady states take 1 to 8 examples and features",
                }));
            }
        }
        let b = self.len();
        for (what, found, expected) in [
            (
                "batch squared strengths",
                self.strengths_squared.len(),
                b * r,
            ),
            ("batch couplings", self.coupling.len(), b * n * r),
        ] {
            if found != expected {
                return Err(Error::Input(InputError::Length {
                    what,
                    found,
                    expected,
                    rule: "r squared strengths and n·r coupling entries per system",
                }));
            }
        }
        if let Some(&l) = self.lambda.iter().find(|l| !(l.is_finite() && **l > 0.0)) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "lambda",
                value: l,
                rule: "a steady state needs a finite λ > 0",
            }));
        }
        Ok(())
    }
}

/// The steady states and sensitivities of a batch, as a struct of arrays in the batch's order:
/// system b's z* is `responses[b·r .. (b+1)·r]`, m* `margins[b·n ..]`, ∂z_j*/∂(s_i²) and E_ji
/// `derivatives[b·r² + j + i·r]` and `elasticities[…]` (column-major r × r: row j the
/// response, column i the strength). A failed system has NaN everywhere and its error in
/// `failures[b]`; a masked elasticity (z_j* zero to [`ZERO_RESPONSE_TOLERANCE`]) is NaN.
#[derive(Debug)]
pub struct BatchSteadyStates {
    /// Examples per system.
    pub examples: usize,
    /// Features per system.
    pub rank: usize,
    /// z* of every system.
    pub responses: Vec<f64>,
    /// m* = U z* of every system.
    pub margins: Vec<f64>,
    /// The fixed-point residual max_j |∇L_j/W_jj| reached.
    pub residuals: Vec<f64>,
    /// Newton iterations taken.
    pub iterations: Vec<u32>,
    /// ∂z*/∂(s²), r × r per system.
    pub derivatives: Vec<f64>,
    /// E, r × r per system.
    pub elasticities: Vec<f64>,
    /// `None`, or why the system has no result.
    pub failures: Vec<Option<NumericalError>>,
}

/// One system's steady state and sensitivity, on the stack (the first n or r entries used).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Solved {
    /// z*.
    pub z: Vector,
    /// m* = U z*.
    pub m: Vector,
    /// The fixed-point residual max_j |∇L_j/W_jj| reached.
    pub residual: f64,
    /// Newton iterations taken.
    pub iterations: usize,
    /// ∂z_j*/∂(s_i²) at `[j][i]`.
    pub derivatives: Matrix,
    /// E_ji at `[j][i]`, NaN in a row whose response is zero.
    pub elasticities: Matrix,
}

/// The steady states and sensitivities of the systems `range` of `batch` (validated), each
/// from its start in `start` (r values per system of the range, non-finite read as 0) or from
/// z = 0: the lanes for systems with every s_j > 0, one by one for the others.
pub(crate) fn solve_block(
    batch: &SmallSystems,
    range: std::ops::Range<usize>,
    start: Option<&[f64]>,
) -> Vec<std::result::Result<Solved, NumericalError>> {
    let mut out: Vec<Option<std::result::Result<Solved, NumericalError>>> =
        (0..range.len()).map(|_| None).collect();
    solve_block_with(batch, range, start, |k, result| {
        out[k] = Some(result.copied())
    });
    out.into_iter()
        .map(|o| o.expect("every system of the block is solved"))
        .collect()
}

/// [`solve_block`], each system's result handed to `sink` with its index in the range (in no
/// particular order), nothing collected.
pub(crate) fn solve_block_with(
    batch: &SmallSystems,
    range: std::ops::Range<usize>,
    start: Option<&[f64]>,
    mut sink: impl FnMut(usize, std::result::Result<&Solved, NumericalError>),
) {
    let (n, r) = (batch.examples, batch.rank);
    let block = lanes::Block {
        n,
        r,
        strengths_squared: &batch.strengths_squared[range.start * r..range.end * r],
        coupling: &batch.coupling[range.start * n * r..range.end * n * r],
        lambda: &batch.lambda[range.clone()],
        start,
    };
    let count = range.len();
    let positive = |k: &usize| {
        block.strengths_squared[k * r..(k + 1) * r]
            .iter()
            .all(|&s| s > 0.0)
    };
    let which: Vec<usize> = (0..count).filter(positive).collect();
    pulp::Arch::new().dispatch(lanes::Lockstep {
        block: &block,
        which: &which,
        sink: &mut sink,
    });
    for k in (0..count).filter(|k| !positive(k)) {
        let s2 = &block.strengths_squared[k * r..(k + 1) * r];
        let u = &block.coupling[k * n * r..(k + 1) * n * r];
        let z0 = start.map(|s| &s[k * r..(k + 1) * r]);
        match steady::solve_one(n, r, s2, u, block.lambda[k], z0) {
            Ok(solved) => sink(k, Ok(&solved)),
            Err(e) => sink(k, Err(e)),
        }
    }
}

/// The L2 steady state and sensitivity of every system of `batch` (logistic loss), in parallel
/// over chunks of systems.
pub fn l2_steady_states(batch: &SmallSystems) -> Result<BatchSteadyStates> {
    batch.validate()?;
    let (n, r, b) = (batch.examples, batch.rank, batch.len());
    // Zeroed (the allocator's fresh pages, touched first by the threads that fill them), every
    // entry then written: a system's results, or NaN where it failed.
    let mut out = BatchSteadyStates {
        examples: n,
        rank: r,
        responses: vec![0.0; b * r],
        margins: vec![0.0; b * n],
        residuals: vec![0.0; b],
        iterations: vec![0; b],
        derivatives: vec![0.0; b * r * r],
        elasticities: vec![0.0; b * r * r],
        failures: (0..b).map(|_| None).collect(),
    };
    out.responses
        .par_chunks_mut(CHUNK * r)
        .zip(out.margins.par_chunks_mut(CHUNK * n))
        .zip(out.residuals.par_chunks_mut(CHUNK))
        .zip(out.iterations.par_chunks_mut(CHUNK))
        .zip(out.derivatives.par_chunks_mut(CHUNK * r * r))
        .zip(out.elasticities.par_chunks_mut(CHUNK * r * r))
        .zip(out.failures.par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(c, ((((((z, m), res), its), der), ela), fail))| {
            let range = c * CHUNK..c * CHUNK + res.len();
            solve_block_with(batch, range, None, |k, result| match result {
                Ok(s) => {
                    z[k * r..(k + 1) * r].copy_from_slice(&s.z[..r]);
                    m[k * n..(k + 1) * n].copy_from_slice(&s.m[..n]);
                    res[k] = s.residual;
                    its[k] = s.iterations as u32;
                    for i in 0..r {
                        for j in 0..r {
                            der[k * r * r + j + i * r] = s.derivatives[j][i];
                            ela[k * r * r + j + i * r] = s.elasticities[j][i];
                        }
                    }
                }
                Err(e) => {
                    z[k * r..(k + 1) * r].fill(f64::NAN);
                    m[k * n..(k + 1) * n].fill(f64::NAN);
                    res[k] = f64::NAN;
                    der[k * r * r..(k + 1) * r * r].fill(f64::NAN);
                    ela[k * r * r..(k + 1) * r * r].fill(f64::NAN);
                    fail[k] = Some(e);
                }
            });
        });
    Ok(out)
}

#[cfg(test)]
mod tests;
