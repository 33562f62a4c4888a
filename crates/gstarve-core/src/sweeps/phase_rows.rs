//! Rows of a rotation-family phase diagram in SIMD lanes (issue #17): the steady-state measures
//! (E₂₁, ρ, SD recovery) of a block of grid rows, one row per lane of
//! [`crate::sweeps::batch`], all rows stepping left to right together, each steady state
//! warm-started from its left neighbour in its own row.
//!
//! The steady states and sensitivities are the batch's (docs/theory.md §12.4 Newton with the
//! general solver's tolerance 10⁻¹², §5.3 by the Hessian's Cholesky factor), equal to the
//! one-system path to 1e-12; the measures' formulas are those of [`super::measures`]
//! (`steady_record`, their one home). A lane's arithmetic does not depend on the other lanes, so a
//! row's records depend only on the row — not on which rows share its block, nor on the shard —
//! and sharded diagrams equal the whole one byte for byte.

use nalgebra::Vector2;

use super::batch::{solve_block, SmallSystems, Solved};
use super::grid::{Grid, RotationFamily};
use super::measures::{steady_record, MaskReason, Measure, PointRecord, RowState};
use super::progress::Tracker;
use crate::error::NumericalError;

/// Grid rows per block (a rayon task): two groups of AVX2's four lanes.
pub(crate) const ROWS_PER_BLOCK: usize = 8;

/// Whether [`rows_block`] computes `measure`.
pub(crate) fn applies(measure: Measure) -> bool {
    matches!(
        measure,
        Measure::Elasticity | Measure::StarvationRatio | Measure::SdRecovery(_)
    )
}

/// Put `family` into slot `l` of a batch of rotation systems: s² = ((r s₂)², s₂²),
/// U(δ) = [[c, −δ], [δ, c]] column-major, λ.
fn set(batch: &mut SmallSystems, l: usize, family: &RotationFamily) {
    let (s1, s2) = (family.strong_strength(), family.weak_strength);
    let (delta, c) = (family.coupling, (1.0 - family.coupling.powi(2)).sqrt());
    batch.strengths_squared[2 * l..2 * l + 2].copy_from_slice(&[s1 * s1, s2 * s2]);
    batch.coupling[4 * l..4 * l + 4].copy_from_slice(&[c, delta, -delta, c]);
    batch.lambda[l] = family.lambda;
}

fn rotation_batch(k: usize) -> SmallSystems {
    SmallSystems {
        examples: 2,
        rank: 2,
        strengths_squared: vec![0.0; 2 * k],
        coupling: vec![0.0; 4 * k],
        lambda: vec![0.0; k],
    }
}

/// The next warm start of a lane: its z*, or 0 after a failure (as the one-point path).
fn advance(warm: &mut [f64], l: usize, solved: &Result<Solved, NumericalError>) {
    let z = match solved {
        Ok(s) => [s.z[0], s.z[1]],
        Err(_) => [0.0; 2],
    };
    warm[2 * l..2 * l + 2].copy_from_slice(&z);
}

/// The records of the grid rows `rows` (indices iy, at most a few lanes' worth) of a validated
/// grid for a steady-state `measure` ([`applies`]), in the order given.
pub(crate) fn rows_block(
    grid: &Grid,
    measure: Measure,
    rows: &[usize],
    tracker: &Tracker<'_>,
) -> Vec<Vec<PointRecord>> {
    let (k, nx) = (rows.len(), grid.x.points);
    let ratio = measure == Measure::StarvationRatio;
    let mut main = rotation_batch(k);
    let mut balanced = rotation_batch(if ratio { k } else { 0 });
    let (mut warm, mut warm_ref) = (vec![0.0; 2 * k], vec![0.0; 2 * k]);
    let mut states = vec![RowState::default(); k];
    let mut out: Vec<Vec<PointRecord>> = (0..k).map(|_| Vec::with_capacity(nx)).collect();
    for ix in 0..nx {
        tracker.poll();
        let families: Vec<RotationFamily> = rows.iter().map(|&iy| grid.family(ix, iy)).collect();
        for (l, family) in families.iter().enumerate() {
            set(&mut main, l, family);
            if ratio {
                set(
                    &mut balanced,
                    l,
                    &RotationFamily {
                        ratio: 1.0,
                        ..*family
                    },
                );
            }
        }
        let solved = solve_block(&main, 0..k, Some(&warm));
        let references = if ratio {
            solve_block(&balanced, 0..k, Some(&warm_ref))
        } else {
            Vec::new()
        };
        for (l, family) in families.iter().enumerate() {
            advance(&mut warm, l, &solved[l]);
            if ratio {
                advance(&mut warm_ref, l, &references[l]);
            }
            let record = match &solved[l] {
                Err(_) => PointRecord::masked(MaskReason::NotConverged, [f64::NAN; 2]),
                Ok(s) => steady_record(
                    measure,
                    family,
                    Vector2::new(s.z[0], s.z[1]),
                    Vector2::new(s.m[0], s.m[1]),
                    || (s.elasticities[1][0], s.derivatives[1][0]),
                    |_| match references.get(l) {
                        Some(Ok(r)) => Some(Vector2::new(r.z[0], r.z[1])),
                        _ => None,
                    },
                    &mut states[l],
                ),
            };
            out[l].push(record);
        }
    }
    out
}
