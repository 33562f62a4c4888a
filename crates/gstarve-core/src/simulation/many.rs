//! `simulate` over many systems (issue #17): one [`SimulationReport`] per system, the systems in
//! parallel (rayon), and their trajectories as one table with a `system` column.

use rayon::prelude::*;

use super::{simulate, SimulationConfig, SimulationReport};
use crate::error::{Error, InputError, NumericalError, Result};
use crate::output::{Cell, Table};
use crate::systems::LoadedSystem;

/// [`simulate`] on every system, in order: each from `config.initial` if set, else from its own
/// z(0) if it has one, else from 0. An error names the system (1-based) it came from; no
/// report is returned unless every system ran.
pub fn simulate_many(
    systems: &[LoadedSystem],
    config: &SimulationConfig,
) -> Result<Vec<SimulationReport>> {
    systems
        .par_iter()
        .enumerate()
        .map(|(i, (system, z0))| {
            let mut config = config.clone();
            if config.initial.is_none() {
                config.initial = z0.clone();
            }
            simulate(system, None, &config).map_err(|e| name_system(e, i + 1, systems.len()))
        })
        .collect()
}

/// `e` with "system i of n: " before its message, in the same layer.
fn name_system(e: Error, i: usize, n: usize) -> Error {
    match e {
        Error::Input(e) => Error::Input(InputError::Parse {
            path: format!("system {i} of {n}"),
            message: e.to_string(),
        }),
        Error::Numerical(e) => Error::Numerical(NumericalError::InSystem {
            index: i,
            count: n,
            source: Box::new(e),
        }),
        other => other,
    }
}

/// The trajectories of every report as one table, `system,method,step,tau,z1..zr` (`system`
/// 1-based; the columns of [`super::trajectories_table`] after it, z up to the largest rank,
/// `nan` beyond a system's own).
pub fn trajectories_table_many(reports: &[SimulationReport]) -> Result<Table> {
    let rank = reports
        .iter()
        .filter_map(|r| r.runs.first().map(|run| run.z_final.len()))
        .max()
        .unwrap_or(0);
    let header = ["system", "method", "step", "tau"]
        .map(String::from)
        .into_iter()
        .chain((1..=rank).map(|j| format!("z{j}")));
    let mut table = Table::new(header)?;
    for (i, report) in reports.iter().enumerate() {
        for run in &report.runs {
            for ((&step, &tau), z) in run.step.iter().zip(&run.tau).zip(&run.z) {
                let head = [
                    Cell::from(i + 1),
                    Cell::Text(run.method),
                    Cell::from(step),
                    Cell::Sci(tau),
                ];
                let values = z.iter().map(|&v| Cell::Sci(v));
                let pad = (z.len()..rank).map(|_| Cell::FiniteSci(f64::NAN));
                table.row(head.into_iter().chain(values).chain(pad))?;
            }
        }
    }
    Ok(table)
}
