//! Starvation phase diagrams (docs/theory.md §7.1): a measure over a grid of two parameters of the
//! rotation family, computed row by row in parallel (rayon), each row warm-starting every steady
//! state from its left neighbour. The steady-state measures (E₂₁, ρ, SD recovery) use the
//! allocation-free 2×2 Newton of [`super::rotation`]: for this family it is 2.2–3.6× faster than
//! the SIMD lanes of [`super::batch`] (docs/benchmarks.md, "Batched steady states"); τ₉₀ runs its
//! flows in lanes ([`super::learning_time_batch`]).

use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;

use super::grid::Grid;
use super::learning_time::LearningTimeParams;
use super::learning_time_batch::learning_time_row;
use super::measures::{evaluate, MaskReason, Measure, PointRecord, RowState};
use super::progress::{Progress, Tracker};
use crate::error::Result;
use crate::output::table::sci_texts;
use crate::output::{Cell, Table};

/// Grid rows per block of [`PhaseDiagram::to_table`] formatted on one thread.
const TABLE_ROWS: usize = 16;

/// What to compute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PhaseDiagramSpec {
    /// The grid and the fixed parameters.
    pub grid: Grid,
    /// The measure.
    pub measure: Measure,
    /// Tuning of τ₉₀ (used by [`Measure::LearningTime`] only).
    pub learning: LearningTimeParams,
}

/// A computed phase diagram.
#[derive(Clone, Debug)]
pub struct PhaseDiagram {
    /// What was computed.
    pub spec: PhaseDiagramSpec,
    /// The x values (length nx).
    pub x: Vec<f64>,
    /// The y values (length ny).
    pub y: Vec<f64>,
    /// One record per grid point, row-major: index iy·nx + ix.
    pub points: Vec<PointRecord>,
    /// How many points are masked, by reason.
    pub masked: BTreeMap<MaskReason, usize>,
    /// Wall-clock seconds of the computation.
    pub wall_s: f64,
}

impl PhaseDiagram {
    /// The record at (ix, iy).
    pub fn at(&self, ix: usize, iy: usize) -> &PointRecord {
        &self.points[iy * self.x.len() + ix]
    }

    /// The measure at (ix, iy) (NaN where masked).
    pub fn value(&self, ix: usize, iy: usize) -> f64 {
        self.at(ix, iy).value
    }

    /// Total number of masked points.
    pub fn masked_total(&self) -> usize {
        self.masked.values().sum()
    }

    /// The data as a CSV table, `<x>,<y>,value,mask,z1,z2,boundary,reference,resolution` with
    /// one line per grid point (x fastest), its comment naming the measure and the fixed
    /// parameters; masked and undefined values are `nan`, with the reason in `mask` (`none`
    /// where the value is defined).
    pub fn to_table(&self) -> Result<Table> {
        let grid = &self.spec.grid;
        let comment = format!(
            "measure: {} ({}); fixed: r = {}, delta = {}, lambda = {}, s2 = {}",
            self.spec.measure.name(),
            self.spec.measure.label(),
            grid.fixed.ratio,
            grid.fixed.coupling,
            grid.fixed.lambda,
            grid.fixed.weak_strength
        );
        let header = [
            grid.x.parameter.csv_name(),
            grid.y.parameter.csv_name(),
            "value",
            "mask",
            "z1",
            "z2",
            "boundary",
            "reference",
            "resolution",
        ];
        // Blocks of grid rows formatted in parallel, then appended in order; each coordinate
        // is formatted once.
        let xs = sci_texts(&self.x);
        let rows: Vec<usize> = (0..self.y.len()).collect();
        let parts = rows
            .par_chunks(TABLE_ROWS)
            .map(|rows| {
                let mut part = Table::new(header)?;
                for &iy in rows {
                    let y = Cell::Sci(self.y[iy]).to_string();
                    for (ix, x) in xs.iter().enumerate() {
                        let p = self.at(ix, iy);
                        part.row(p.cells(Cell::Text(x), Cell::Text(&y)))?;
                    }
                }
                Ok(part)
            })
            .collect::<Result<Vec<Table>>>()?;
        let mut table = Table::with_comments(&[&comment], header)?;
        table.append_all(parts)?;
        Ok(table)
    }
}

/// Compute a phase diagram. The grid is validated before any work; points where the measure is
/// undefined are masked with their reason (never interpolated).
pub fn phase_diagram(spec: &PhaseDiagramSpec, progress: Progress) -> Result<PhaseDiagram> {
    spec.grid.validate()?;
    let start = Instant::now();
    let all: Vec<usize> = (0..spec.grid.y.points).collect();
    let points = phase_diagram_rows(spec, &all, progress)?
        .into_iter()
        .flatten()
        .collect();
    Ok(PhaseDiagram::assemble(
        *spec,
        points,
        start.elapsed().as_secs_f64(),
    ))
}

/// The grid rows `rows` (indices iy) of a phase diagram, in the order given, each row computed
/// left to right with every steady state warm-started from its left neighbour: a row's records
/// do not depend on which other rows are computed (what makes sharded runs equal the whole).
/// τ₉₀ rows integrate their flows together ([`super::learning_time_batch`]).
pub fn phase_diagram_rows(
    spec: &PhaseDiagramSpec,
    rows: &[usize],
    progress: Progress,
) -> Result<Vec<Vec<PointRecord>>> {
    let grid = spec.grid;
    grid.validate()?;
    let nx = grid.x.points;
    let tracker = Tracker::new(progress, rows.len(), spec.measure.name());
    let computed = rows
        .par_iter()
        .map(|&iy| {
            if spec.measure == Measure::LearningTime {
                let row = learning_time_row(spec, iy, &tracker);
                tracker.tick();
                return row;
            }
            let mut state = RowState::default();
            let row = (0..nx)
                .map(|ix| {
                    tracker.poll();
                    evaluate(
                        spec.measure,
                        &grid.family(ix, iy),
                        &mut state,
                        &spec.learning,
                    )
                })
                .collect();
            tracker.tick();
            row
        })
        .collect();
    Ok(computed)
}

impl PhaseDiagram {
    /// A diagram from all its records, row-major (index iy·nx + ix), with the mask counts.
    pub fn assemble(spec: PhaseDiagramSpec, points: Vec<PointRecord>, wall_s: f64) -> Self {
        let mut masked = BTreeMap::new();
        for p in &points {
            if let Some(reason) = p.mask {
                *masked.entry(reason).or_insert(0) += 1;
            }
        }
        PhaseDiagram {
            x: spec.grid.x.values(),
            y: spec.grid.y.values(),
            spec,
            points,
            masked,
            wall_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::grid::{Axis, Parameter, RotationFamily};
    use super::super::measures::SdMatching;
    use super::*;
    use crate::systems::FeatureSystem;
    use crate::theory::sensitivity::l2_sensitivity;

    fn spec(measure: Measure, nx: usize, ny: usize) -> PhaseDiagramSpec {
        PhaseDiagramSpec {
            grid: Grid {
                x: Axis::linear(Parameter::Ratio, 1.0, 5.0, nx),
                y: Axis::linear(Parameter::Coupling, 0.05, 0.95, ny),
                fixed: RotationFamily::default(),
            },
            measure,
            learning: LearningTimeParams::default(),
        }
    }

    #[test]
    fn elasticity_grid_matches_general_sensitivity() {
        let diagram = phase_diagram(&spec(Measure::Elasticity, 9, 7), Progress::Hidden).unwrap();
        for (ix, iy) in [(0, 0), (4, 3), (8, 6), (2, 5)] {
            let (r, delta) = (diagram.x[ix], diagram.y[iy]);
            let sys = FeatureSystem::rotation(2.0 * r, 2.0, delta).unwrap();
            let sens = l2_sensitivity(&sys, 0.01).unwrap();
            let e = sens.elasticities[(1, 0)].unwrap();
            assert!((diagram.value(ix, iy) - e).abs() < 1e-10 * e.abs().max(1.0));
        }
        assert_eq!(diagram.masked_total(), 0);
    }

    #[test]
    fn ratio_and_sd_recovery_are_one_at_the_reference() {
        let d = phase_diagram(&spec(Measure::StarvationRatio, 5, 4), Progress::Hidden).unwrap();
        for iy in 0..4 {
            assert!((d.value(0, iy) - 1.0).abs() < 1e-12);
        }
        // Matched final loss at r = 1: with S = s·I every L2 margin solves m = (s²/λ)σ(−m), so the
        // L2 steady state is itself an SD steady state with the same loss, and the ratio is 1
        // (except where z₂* = 0, which is masked).
        let sd = phase_diagram(
            &spec(Measure::SdRecovery(SdMatching::FinalLoss), 5, 4),
            Progress::Hidden,
        )
        .unwrap();
        for iy in 0..4 {
            assert!((sd.value(0, iy) - 1.0).abs() < 1e-9, "{}", sd.value(0, iy));
        }
    }
    /// The rows (2×2 Newton, warm starts along each row) against the general solvers:
    /// z* and E₂₁ against `l2_sensitivity` to 1e-12 at every point (E₂₁ relative to
    /// max(|E₂₁|, 1), as the batch's own test), the boundary field E₂₁·z₂*² to that tolerance
    /// times z₂*² (observed: 1.2e-12 relative at λ = 0.003, r = 4.6, δ = 0.125); for E₂₁, ρ
    /// and the SD recoveries, any subset of rows, in any order, equal to the whole diagram bit for bit.
    #[test]
    fn rows_match_the_general_solvers_and_do_not_depend_on_the_block() {
        let mut s = spec(Measure::Elasticity, 11, 13);
        s.grid.fixed.lambda = 0.003;
        let d = phase_diagram(&s, Progress::Hidden).unwrap();
        for (iy, &delta) in d.y.iter().enumerate() {
            for (ix, &r) in d.x.iter().enumerate() {
                let sys = FeatureSystem::rotation(2.0 * r, 2.0, delta).unwrap();
                let sens = l2_sensitivity(&sys, 0.003).unwrap();
                let p = d.at(ix, iy);
                let Some(e) = sens.elasticities[(1, 0)] else {
                    assert_eq!(p.mask, Some(MaskReason::ZeroResponse));
                    continue;
                };
                assert!(
                    (p.value - e).abs() <= 1e-12 * e.abs().max(1.0),
                    "{} vs {e}",
                    p.value
                );
                let z = &sens.steady_state.responses;
                let field = (2.0 * r).powi(2) * sens.derivatives[(1, 0)] * z[1];
                // The field is E₂₁·z₂*²: E's tolerance carried to it.
                assert!(
                    (p.boundary - field).abs() <= 1e-12 * e.abs().max(1.0) * z[1] * z[1],
                    "({ix}, {iy}): {} vs {field}, E {} vs {e}, d {}",
                    p.boundary,
                    p.value,
                    sens.derivatives[(1, 0)]
                );
                for k in 0..2 {
                    assert!((p.responses[k] - z[k]).abs() <= 1e-12 * z[k].abs().max(1.0));
                }
            }
        }
        for measure in [
            Measure::Elasticity,
            Measure::StarvationRatio,
            Measure::SdRecovery(SdMatching::Lambda),
            Measure::SdRecovery(SdMatching::FinalLoss),
        ] {
            let s = spec(measure, 9, 11);
            let whole = phase_diagram(&s, Progress::Hidden).unwrap();
            let rows = [7, 2, 10, 3, 4];
            let part = phase_diagram_rows(&s, &rows, Progress::Hidden).unwrap();
            for (row, &iy) in part.iter().zip(&rows) {
                for (ix, p) in row.iter().enumerate() {
                    let w = whole.at(ix, iy);
                    let bits = |p: &PointRecord| {
                        [
                            p.value,
                            p.responses[0],
                            p.responses[1],
                            p.boundary,
                            p.reference,
                        ]
                        .map(f64::to_bits)
                    };
                    assert_eq!(bits(p), bits(w), "{measure:?} ({ix}, {iy})");
                    assert_eq!(p.mask, w.mask);
                }
            }
        }
    }
}
