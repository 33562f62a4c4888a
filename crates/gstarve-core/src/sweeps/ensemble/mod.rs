//! Ensembles of random systems (docs/theory.md §7.5): for a grid of cells (spectrum decay ×
//! coupling) and M random systems per cell, every off-diagonal entry E_ji (j ≠ i) of each
//! system's starvation matrix (§5.3, L2 with the logistic loss), and per cell the fraction of
//! entries that starve (E_ji < −max(threshold, [`NOISE_FLOOR`])) with its quantiles ([`stats`]).
//!
//! A system of a cell is n examples and n features with the geometric spectrum
//! s_j = s_n·κ^{(n−j)/(n−1)} (κ = s₁/s_n, the decay) and one of two couplings: Haar (U from the
//! Haar measure, as `FeatureSystem::random`) or near-identity of strength δ, U = exp(δA) with A
//! antisymmetric, A_ij = −A_ji ~ N(0, 1) for i > j. Each system is seeded by itself: its seed
//! is the first output of ChaCha12 keyed by (seed, cell, index) ([`system_seed`]), and its
//! Gaussian entries come from ChaCha12 with that seed, so a system is the same whichever other
//! systems are computed — in one run, in any shard, on any machine. A Haar system is exactly
//! `gstarve fixed-point --random n --spectrum κ·s_n:s_n --seed SEED`.
//!
//! Systems are computed in parallel (rayon); [`ensemble_systems`] computes any subset (a shard).
//! Systems with n ≤ 8 take the batched path of [`crate::sweeps::batch`] (SIMD lanes, equal to
//! the one-system [`l2_sensitivity`] to 1e-12).

pub mod stats;

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use nalgebra::DMatrix;
use rand::{RngCore, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::batch::{solve_block, SmallSystems, BATCH_MAX_DIM};
use super::progress::{Progress, Tracker};
use crate::error::{Error, InputError, Result};
use crate::systems::{FeatureSystem, Spectrum};
use crate::theory::perturbation::exponential_coupling;
use crate::theory::sensitivity::l2_sensitivity;

pub use stats::{quantile, CellSummary, QUANTILES};

/// Entries with |E_ji| ≤ `NOISE_FLOOR` are rounding noise around 0 and never starve: a starving
/// entry has E_ji < −max(threshold, `NOISE_FLOOR`) (docs/theory.md §7.5). E_ji = 0 exactly in
/// theory at equal strengths and at δ = 0, where the computed values are of order 1e-17.
pub const NOISE_FLOOR: f64 = 1e-10;

/// Largest n of an ensemble's systems (each costs O(n³) per Newton step).
pub const MAX_FEATURES: usize = 2000;
/// Largest number of off-diagonal entries kept in memory, (systems in all cells)·n(n−1): 2 GB.
pub const MAX_ENTRIES: usize = 250_000_000;

/// The coupling of a cell's systems.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Coupling {
    /// U Haar-distributed on the orthogonal group.
    Haar,
    /// U = exp(δA), A antisymmetric with standard Gaussian entries below the diagonal; δ ≥ 0
    /// (δ = 0: U = I, decoupled).
    NearIdentity(f64),
}

impl fmt::Display for Coupling {
    /// `haar`, or δ in Rust's shortest round-trip form.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Coupling::Haar => f.write_str("haar"),
            Coupling::NearIdentity(delta) => write!(f, "{delta}"),
        }
    }
}

impl FromStr for Coupling {
    type Err = Error;

    /// `haar` or a number δ ≥ 0.
    fn from_str(text: &str) -> Result<Self> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("haar") {
            return Ok(Coupling::Haar);
        }
        let delta: f64 = t.parse().map_err(|_| {
            Error::Input(InputError::InvalidText {
                name: "coupling",
                text: text.to_string(),
                rule: "a coupling is 'haar' or a strength δ ≥ 0 (near-identity U = exp(δA))".into(),
            })
        })?;
        Ok(Coupling::NearIdentity(delta))
    }
}

/// What to compute.
#[derive(Clone, Debug, PartialEq)]
pub struct EnsembleSpec {
    /// n: examples and features of each system (n ≥ 2).
    pub n: usize,
    /// Spectrum decays κ = s₁/s_n ≥ 1 (the columns of the grid).
    pub decays: Vec<f64>,
    /// Couplings (the rows of the grid).
    pub couplings: Vec<Coupling>,
    /// M: systems per cell.
    pub systems: usize,
    /// The ensemble's seed.
    pub seed: u64,
    /// λ of L2.
    pub lambda: f64,
    /// s_n, the weakest strength (> 0).
    pub weakest: f64,
    /// An entry starves when E_ji < −max(threshold, [`NOISE_FLOOR`]) (threshold ≥ 0).
    pub threshold: f64,
}

fn invalid(name: &'static str, value: f64, rule: &'static str) -> Error {
    Error::Input(InputError::InvalidParameter { name, value, rule })
}

impl EnsembleSpec {
    /// Check every parameter (before any work).
    pub fn validate(&self) -> Result<()> {
        if self.n < 2 || self.n > MAX_FEATURES {
            return Err(invalid(
                "n",
                self.n as f64,
                "an ensemble's systems need between 2 and 2000 features (off-diagonal entries)",
            ));
        }
        if self.decays.is_empty() {
            return Err(Error::Input(InputError::Empty {
                what: "decay list",
                rule: "give at least one spectrum decay s₁/s_n ≥ 1",
            }));
        }
        if self.couplings.is_empty() {
            return Err(Error::Input(InputError::Empty {
                what: "coupling list",
                rule: "give at least one coupling (haar or δ ≥ 0)",
            }));
        }
        for &d in &self.decays {
            if !d.is_finite() || d < 1.0 {
                return Err(invalid(
                    "decay",
                    d,
                    "a spectrum decay s₁/s_n must be finite and ≥ 1",
                ));
            }
        }
        for c in &self.couplings {
            if let Coupling::NearIdentity(delta) = *c {
                if !delta.is_finite() || delta < 0.0 {
                    return Err(invalid(
                        "coupling",
                        delta,
                        "a coupling strength δ must be finite and ≥ 0",
                    ));
                }
            }
        }
        if self.systems == 0 {
            return Err(invalid("systems", 0.0, "each cell needs at least 1 system"));
        }
        if !self.lambda.is_finite() || self.lambda <= 0.0 {
            return Err(invalid("λ", self.lambda, "λ must be finite and > 0"));
        }
        if !self.weakest.is_finite() || self.weakest <= 0.0 {
            return Err(invalid(
                "weakest",
                self.weakest,
                "the weakest strength s_n must be finite and > 0",
            ));
        }
        if !(self.threshold.is_finite() && self.threshold >= 0.0) {
            return Err(invalid(
                "threshold",
                self.threshold,
                "the starvation threshold must be finite and ≥ 0 (starving: E_ji < −threshold)",
            ));
        }
        let entries = (self.total_systems() as f64) * (self.n * (self.n - 1)) as f64;
        if entries > MAX_ENTRIES as f64 {
            return Err(invalid(
                "systems",
                self.systems as f64,
                "cells × systems × n(n−1) may be at most 2.5·10⁸ entries (2 GB): use fewer systems, cells or features",
            ));
        }
        Ok(())
    }

    /// The bound below which an entry starves: −max(threshold, [`NOISE_FLOOR`]).
    pub fn starving_below(&self) -> f64 {
        -self.threshold.max(NOISE_FLOOR)
    }

    /// Number of cells (couplings × decays).
    pub fn cells(&self) -> usize {
        self.decays.len() * self.couplings.len()
    }

    /// Number of systems in all cells.
    pub fn total_systems(&self) -> usize {
        self.cells().saturating_mul(self.systems)
    }

    /// (decay, coupling) of cell `cell` = ic·(decays) + id: decays vary fastest.
    pub fn cell(&self, cell: usize) -> (f64, Coupling) {
        let nd = self.decays.len();
        (self.decays[cell % nd], self.couplings[cell / nd])
    }

    /// The spectrum of decay κ: s_j = s_n·κ^{(n−j)/(n−1)}, from κ·s_n down to s_n.
    pub fn spectrum(&self, decay: f64) -> Spectrum {
        Spectrum::Geometric {
            from: decay * self.weakest,
            to: self.weakest,
        }
    }

    /// System `index` (global: cell·M + k) of the ensemble, with its seed.
    pub fn system(&self, index: usize) -> Result<(FeatureSystem, u64)> {
        let (cell, k) = (index / self.systems, index % self.systems);
        let (decay, coupling) = self.cell(cell);
        let seed = system_seed(self.seed, cell, k);
        let spectrum = self.spectrum(decay);
        let system = match coupling {
            Coupling::Haar => FeatureSystem::random(self.n, spectrum, seed)?,
            Coupling::NearIdentity(delta) => FeatureSystem::from_orthonormal_coupling(
                spectrum.strengths(self.n)?,
                near_identity_coupling(self.n, delta, seed)?,
            )?,
        };
        Ok((system, seed))
    }
}

/// The seed of system `index` of cell `cell` of an ensemble seeded `seed`: the first 64-bit
/// output of ChaCha12 whose 256-bit key is (seed, cell, index, 0) in little-endian words.
/// Stable across platforms and versions (ChaCha12's stream is value-stable).
pub fn system_seed(seed: u64, cell: usize, index: usize) -> u64 {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(cell as u64).to_le_bytes());
    key[16..24].copy_from_slice(&(index as u64).to_le_bytes());
    rand_chacha::ChaCha12Rng::from_seed(key).next_u64()
}

/// The near-identity coupling U = exp(δA) (n × n, orthogonal) of
/// [`exponential_coupling`] (docs/theory.md §5.5): A antisymmetric with A_ij = −A_ji standard
/// Gaussian for i > j, drawn from ChaCha12 seeded with `seed` in column-major order of the strict
/// lower triangle. For n = 2, U is the rotation by the angle θ = δ·A₂₁: the rotation family
/// U(sin θ) of §5.4 (for |θ| ≤ π/2).
pub fn near_identity_coupling(n: usize, delta: f64, seed: u64) -> Result<DMatrix<f64>> {
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(seed);
    let mut a = DMatrix::<f64>::zeros(n, n);
    for j in 0..n {
        for i in j + 1..n {
            let g: f64 = StandardNormal.sample(&mut rng);
            a[(i, j)] = g;
            a[(j, i)] = -g;
        }
    }
    exponential_coupling(&a, delta)
}

/// One system's result.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemOutcome {
    /// Global index cell·M + k.
    pub index: usize,
    /// Its seed ([`system_seed`]).
    pub seed: u64,
    /// Why its steady state or sensitivity failed (a numerical failure), if it did; then
    /// `elasticities` is empty.
    pub failure: Option<String>,
    /// The steady state's fixed-point residual (NaN on failure).
    pub residual: f64,
    /// Newton iterations (0 on failure).
    pub iterations: usize,
    /// The n(n−1) off-diagonal E_ji, row j = 1…n, then i = 1…n without i = j; NaN in a row whose
    /// response is zero (masked, docs/theory.md §5.3).
    pub elasticities: Vec<f64>,
}

/// Compute system `index` of `spec` (a numerical failure is recorded, not returned).
pub fn ensemble_system(spec: &EnsembleSpec, index: usize) -> Result<SystemOutcome> {
    let (system, seed) = spec.system(index)?;
    match l2_sensitivity(&system, spec.lambda) {
        Ok(sens) => {
            let n = spec.n;
            let mut elasticities = Vec::with_capacity(n * (n - 1));
            for j in 0..n {
                for i in (0..n).filter(|&i| i != j) {
                    elasticities.push(sens.elasticities[(j, i)].unwrap_or(f64::NAN));
                }
            }
            Ok(SystemOutcome {
                index,
                seed,
                failure: None,
                residual: sens.steady_state.residual,
                iterations: sens.steady_state.iterations,
                elasticities,
            })
        }
        Err(e) if e.is_numerical() => Ok(SystemOutcome {
            index,
            seed,
            failure: Some(e.to_string()),
            residual: f64::NAN,
            iterations: 0,
            elasticities: Vec::new(),
        }),
        Err(e) => Err(e),
    }
}

/// The systems `indices` of an ensemble, in the order given, in parallel: each result depends
/// only on the specification and its index (what makes shards equal the whole run).
pub fn ensemble_systems(
    spec: &EnsembleSpec,
    indices: &[usize],
    progress: Progress,
) -> Result<Vec<SystemOutcome>> {
    spec.validate()?;
    let tracker = Tracker::with_unit(progress, indices.len(), "ensemble", "systems");
    if spec.n <= BATCH_MAX_DIM {
        let chunks: Vec<Vec<SystemOutcome>> = indices
            .par_chunks(BATCH_CHUNK)
            .map(|chunk| {
                tracker.poll();
                let out = ensemble_block(spec, chunk);
                chunk.iter().for_each(|_| tracker.tick());
                out
            })
            .collect::<Result<_>>()?;
        return Ok(chunks.into_iter().flatten().collect());
    }
    indices
        .par_iter()
        .map(|&g| {
            tracker.poll();
            let out = ensemble_system(spec, g);
            tracker.tick();
            out
        })
        .collect()
}

/// Systems per batch of [`ensemble_block`].
const BATCH_CHUNK: usize = 64;

/// The systems `indices` (n ≤ [`BATCH_MAX_DIM`]) by the batched path of [`crate::sweeps::batch`]:
/// the same steady states and starvation matrices as [`ensemble_system`] to 1e-12, each system's
/// result independent of the others in the block.
fn ensemble_block(spec: &EnsembleSpec, indices: &[usize]) -> Result<Vec<SystemOutcome>> {
    let mut systems = Vec::with_capacity(indices.len());
    let mut seeds = Vec::with_capacity(indices.len());
    for &g in indices {
        let (system, seed) = spec.system(g)?;
        systems.push(system);
        seeds.push(seed);
    }
    let batch = SmallSystems::from_systems(&systems, &vec![spec.lambda; systems.len()])?;
    let n = spec.n;
    let solved = solve_block(&batch, 0..batch.len(), None);
    Ok(solved
        .into_iter()
        .zip(indices.iter().zip(seeds))
        .map(|(result, (&index, seed))| match result {
            Ok(s) => SystemOutcome {
                index,
                seed,
                failure: None,
                residual: s.residual,
                iterations: s.iterations,
                elasticities: (0..n)
                    .flat_map(|j| (0..n).filter(move |&i| i != j).map(move |i| (j, i)))
                    .map(|(j, i)| s.elasticities[j][i])
                    .collect(),
            },
            Err(e) => SystemOutcome {
                index,
                seed,
                failure: Some(Error::Numerical(e).to_string()),
                residual: f64::NAN,
                iterations: 0,
                elasticities: Vec::new(),
            },
        })
        .collect())
}

/// A computed ensemble: every system and the summary of each cell.
#[derive(Clone, Debug)]
pub struct Ensemble {
    /// What was computed.
    pub spec: EnsembleSpec,
    /// Every system, by global index.
    pub systems: Vec<SystemOutcome>,
    /// One summary per cell, in cell order (decays fastest).
    pub cells: Vec<CellSummary>,
    /// Wall-clock seconds of the computation.
    pub wall_s: f64,
}

/// Compute an ensemble (validated before any work).
pub fn ensemble(spec: &EnsembleSpec, progress: Progress) -> Result<Ensemble> {
    spec.validate()?;
    let start = Instant::now();
    let all: Vec<usize> = (0..spec.total_systems()).collect();
    let systems = ensemble_systems(spec, &all, progress)?;
    Ok(Ensemble::assemble(
        spec.clone(),
        systems,
        start.elapsed().as_secs_f64(),
    ))
}

impl Ensemble {
    /// An ensemble from all its systems in index order, with the cells' summaries.
    pub fn assemble(spec: EnsembleSpec, systems: Vec<SystemOutcome>, wall_s: f64) -> Self {
        let cells = systems
            .chunks(spec.systems)
            .enumerate()
            .map(|(c, chunk)| {
                let (decay, coupling) = spec.cell(c);
                CellSummary::of(decay, coupling, chunk, spec.starving_below())
            })
            .collect();
        Self {
            spec,
            systems,
            cells,
            wall_s,
        }
    }

    /// The cell summary at (decay index, coupling index).
    pub fn cell(&self, id: usize, ic: usize) -> &CellSummary {
        &self.cells[ic * self.spec.decays.len() + id]
    }

    /// Systems whose steady state or sensitivity failed.
    pub fn failed(&self) -> usize {
        self.systems.iter().filter(|s| s.failure.is_some()).count()
    }
}

#[cfg(test)]
mod tests;
