//! The statistics of one cell of an ensemble (docs/theory.md §7.5) and the ensemble's tables.
//!
//! Over the cell's systems that did not fail, the *defined* entries are the off-diagonal E_ji
//! whose row is not masked (z_j* ≠ 0, §5.3). An entry *starves* when E_ji < −max(threshold,
//! [`super::NOISE_FLOOR`]). The
//! cell reports: the fraction starving (starving / defined, pooled over systems), its standard
//! error over systems (the sample standard deviation of the per-system fractions over √M', M'
//! the systems with a defined entry: entries of one system are not independent, systems are),
//! the systems with at least one starving entry, and the mean, minimum, quantiles
//! ([`QUANTILES`], [`quantile`]) and maximum of the defined entries.

use super::{Coupling, Ensemble, SystemOutcome};
use crate::error::Result;
use crate::output::{Cell, Table};

/// The quantiles reported per cell (probabilities).
pub const QUANTILES: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// The quantile of probability p ∈ [0, 1] of sorted values, by linear interpolation between
/// order statistics (Hyndman–Fan type 7, NumPy's default): h = (N−1)p,
/// q = x₍⌊h⌋₎ + (h − ⌊h⌋)(x₍⌊h⌋+1₎ − x₍⌊h⌋₎) (0-based). NaN for no values.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let Some(&last) = sorted.last() else {
        return f64::NAN;
    };
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    if lo + 1 >= sorted.len() {
        return last;
    }
    let t = h - lo as f64;
    if t == 0.0 {
        return sorted[lo];
    }
    sorted[lo] + t * (sorted[lo + 1] - sorted[lo])
}

/// The summary of one cell.
#[derive(Clone, Debug, PartialEq)]
pub struct CellSummary {
    /// Spectrum decay κ = s₁/s_n.
    pub decay: f64,
    /// Coupling.
    pub coupling: Coupling,
    /// Systems in the cell.
    pub systems: usize,
    /// Systems whose steady state or sensitivity failed (left out of everything below).
    pub failed: usize,
    /// Defined off-diagonal entries.
    pub entries: usize,
    /// Masked off-diagonal entries (rows with z_j* = 0).
    pub masked: usize,
    /// Entries with E_ji < −max(threshold, noise floor).
    pub starving: usize,
    /// starving / entries (NaN without entries).
    pub fraction: f64,
    /// Standard error of `fraction` over systems (NaN with fewer than 2 systems).
    pub fraction_se: f64,
    /// Systems with at least one starving entry.
    pub systems_starving: usize,
    /// Mean of the entries.
    pub mean: f64,
    /// Smallest entry (the strongest starvation).
    pub min: f64,
    /// The entries' quantiles at [`QUANTILES`].
    pub quantiles: [f64; 5],
    /// Largest entry.
    pub max: f64,
}

impl CellSummary {
    /// The summary of a cell's systems; an entry starves when E_ji < `below` (≤ 0).
    pub fn of(decay: f64, coupling: Coupling, systems: &[SystemOutcome], below: f64) -> Self {
        let mut values = Vec::new();
        let (mut failed, mut masked, mut starving, mut systems_starving) = (0, 0, 0, 0);
        let mut fractions = Vec::new();
        for s in systems {
            if s.failure.is_some() {
                failed += 1;
                continue;
            }
            let before = values.len();
            let mut own = 0usize;
            for &e in &s.elasticities {
                if e.is_nan() {
                    masked += 1;
                } else {
                    values.push(e);
                    if e < below {
                        own += 1;
                    }
                }
            }
            let defined = values.len() - before;
            starving += own;
            systems_starving += usize::from(own > 0);
            if defined > 0 {
                fractions.push(own as f64 / defined as f64);
            }
        }
        let entries = values.len();
        let fraction = if entries > 0 {
            starving as f64 / entries as f64
        } else {
            f64::NAN
        };
        let fraction_se = standard_error(&fractions);
        let mean = if entries > 0 {
            values.iter().sum::<f64>() / entries as f64
        } else {
            f64::NAN
        };
        values.sort_unstable_by(f64::total_cmp);
        Self {
            decay,
            coupling,
            systems: systems.len(),
            failed,
            entries,
            masked,
            starving,
            fraction,
            fraction_se,
            systems_starving,
            mean,
            min: values.first().copied().unwrap_or(f64::NAN),
            quantiles: QUANTILES.map(|p| quantile(&values, p)),
            max: values.last().copied().unwrap_or(f64::NAN),
        }
    }
}

/// s/√k, s the sample standard deviation (k − 1 in the denominator); NaN for k < 2.
fn standard_error(x: &[f64]) -> f64 {
    let k = x.len();
    if k < 2 {
        return f64::NAN;
    }
    let mean = x.iter().sum::<f64>() / k as f64;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
    (var / k as f64).sqrt()
}

/// The header of the per-cell CSV.
pub const CELL_HEADER: [&str; 18] = [
    "decay",
    "coupling",
    "systems",
    "failed",
    "entries",
    "masked",
    "starving",
    "fraction",
    "fraction_se",
    "systems_starving",
    "mean",
    "min",
    "q05",
    "q25",
    "q50",
    "q75",
    "q95",
    "max",
];

impl Ensemble {
    /// The comment line of the ensemble's tables (their sidecar note).
    fn comment(&self) -> String {
        let s = &self.spec;
        format!(
            "ensemble of random systems: n = {}, {} systems per cell, seed {}, L2 lambda = {}, \
             logistic loss, weakest strength s_n = {}; starving: E_ji < {:e} (j != i); \
             spectrum s_j = s_n*decay^((n-j)/(n-1)); coupling haar or U = exp(delta*A)",
            s.n,
            s.systems,
            s.seed,
            s.lambda,
            s.weakest,
            s.starving_below()
        )
    }

    /// One line per cell (decays fastest, then couplings): [`CELL_HEADER`]; `nan` where a
    /// statistic is undefined.
    pub fn cells_table(&self) -> Result<Table> {
        let mut table = Table::with_comments(&[&self.comment()], CELL_HEADER)?;
        for c in &self.cells {
            let coupling = c.coupling.to_string();
            let mut row = vec![
                Cell::Sci(c.decay),
                Cell::Text(&coupling),
                Cell::from(c.systems),
                Cell::from(c.failed),
                Cell::from(c.entries),
                Cell::from(c.masked),
                Cell::from(c.starving),
                Cell::FiniteSci(c.fraction),
                Cell::FiniteSci(c.fraction_se),
                Cell::from(c.systems_starving),
                Cell::FiniteSci(c.mean),
                Cell::FiniteSci(c.min),
            ];
            row.extend(c.quantiles.iter().map(|&q| Cell::FiniteSci(q)));
            row.push(Cell::FiniteSci(c.max));
            table.row(row)?;
        }
        Ok(table)
    }

    /// One line per system: `decay,coupling,system,seed,status,residual,iterations,entries,
    /// starving,fraction,min,median,max` (system 0-based within its cell; status `ok` or the
    /// failure; `nan` where undefined).
    pub fn systems_table(&self) -> Result<Table> {
        let header = [
            "decay",
            "coupling",
            "system",
            "seed",
            "status",
            "residual",
            "iterations",
            "entries",
            "starving",
            "fraction",
            "min",
            "median",
            "max",
        ];
        let mut table = Table::with_comments(&[&self.comment()], header)?;
        let m = self.spec.systems;
        for s in &self.systems {
            let (decay, coupling) = self.spec.cell(s.index / m);
            let coupling = coupling.to_string();
            let mut defined: Vec<f64> = s
                .elasticities
                .iter()
                .copied()
                .filter(|e| !e.is_nan())
                .collect();
            defined.sort_unstable_by(f64::total_cmp);
            let starving = defined
                .iter()
                .filter(|&&e| e < self.spec.starving_below())
                .count();
            let fraction = if defined.is_empty() {
                f64::NAN
            } else {
                starving as f64 / defined.len() as f64
            };
            let status = s.failure.as_deref().map_or("ok", |_| "failed");
            table.row([
                Cell::Sci(decay),
                Cell::Text(&coupling),
                Cell::from(s.index % m),
                Cell::from(s.seed),
                Cell::Text(status),
                Cell::FiniteSci(s.residual),
                Cell::from(s.iterations),
                Cell::from(defined.len()),
                Cell::from(starving),
                Cell::FiniteSci(fraction),
                Cell::FiniteSci(defined.first().copied().unwrap_or(f64::NAN)),
                Cell::FiniteSci(quantile(&defined, 0.5)),
                Cell::FiniteSci(defined.last().copied().unwrap_or(f64::NAN)),
            ])?;
        }
        Ok(table)
    }
}
