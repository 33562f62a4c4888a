//! `gstarve simulate --system FILE` where FILE holds many systems (issue #17: a JSON list of
//! system objects, or an `.npz` whose arrays have a leading batch axis): every system is run
//! with the same options, in parallel, and reported in order.
//!
//! Outputs (one result per system; a file of one system is reported as before):
//! - text: each system's report under a line `system i of N (n × r)`;
//! - `--json`: one object `{"systems": [...]}`, entry i the one-system `--json` object with
//!   `"system": i` (1-based) added;
//! - `--out DIR`: one `trajectories.csv` with a `system` column before the one-system columns
//!   (`system,method,step,tau,z1..zr`; z columns up to the largest rank, `nan` beyond a
//!   system's own).

use anyhow::{bail, Result};
use gstarve_core::output::{check_output_dir, ensure_dir, to_json, Layout};
use gstarve_core::simulation::{
    simulate_many as run_many, trajectories_table_many, Method, SimulationReport,
};
use gstarve_core::systems::{FeatureSystem, LoadedSystem};
use serde::Serialize;

use super::simulate::{print_simulation, SimulateArgs};

/// The systems of `--system FILE` when it holds more than one system (`None`: one system, or
/// another source).
pub(super) fn systems(a: &SimulateArgs) -> Result<Option<Vec<LoadedSystem>>> {
    let args = a.system_args();
    let Some(path) = &args.system else {
        return Ok(None);
    };
    let Some(many) = FeatureSystem::load_many(path)? else {
        return Ok(None);
    };
    let count = many.len();
    let one_system_only = [
        ("--rank", args.rank.is_some()),
        ("--strength-floor", args.strength_floor.is_some()),
        ("--labels", args.labels.is_some()),
        ("--classes", args.classes.is_some()),
    ];
    if let Some((flag, _)) = one_system_only.iter().find(|(_, given)| *given) {
        bail!(
            "{flag} applies to one system, but {} holds {count} systems",
            path.display()
        );
    }
    Ok(Some(many))
}

#[derive(Serialize)]
struct Entry<'a> {
    system: usize,
    #[serde(flatten)]
    report: &'a SimulationReport,
}

#[derive(Serialize)]
struct ManyJson<'a> {
    systems: Vec<Entry<'a>>,
}

/// Run `simulate` on every system of `many`.
pub(super) fn simulate_many(a: &SimulateArgs, many: Vec<LoadedSystem>) -> Result<()> {
    let out = &a.output_args().out;
    if let Some(dir) = out {
        check_output_dir(dir)?;
    }
    let (loss, regulariser) = a.model_args().model()?;
    let config = a.config(loss, regulariser, None)?;
    let count = many.len();
    for (i, (system, z0)) in many.iter().enumerate() {
        if let Some(z) = config.initial.as_ref().or(z0.as_ref()) {
            if z.len() != system.rank() {
                bail!(
                    "--z0 has {} entries but system {} of {count} has {} features",
                    z.len(),
                    i + 1,
                    system.rank()
                );
            }
        }
    }
    if let Some(z0) = &config.initial {
        if let Some((i, v)) = z0.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            bail!("--z0 entry {} = {v} is not finite", i + 1);
        }
    }
    if config.methods.contains(&Method::GdTheta) {
        bail!("method gd-theta needs raw features: give --features and --labels (one system)");
    }
    super::outputs::before_work()?;
    let mut reports = run_many(&many, &config)?;
    if a.no_fixed_point() {
        for r in &mut reports {
            r.fixed_point_note = Some("not computed (--no-fixed-point)".to_string());
        }
    }
    if let Some(dir) = out {
        ensure_dir(dir)?;
        trajectories_table_many(&reports)?.write(&dir.join("trajectories.csv"))?;
    }
    if config.methods.contains(&Method::Dual) {
        eprintln!("note: {}", gstarve_core::simulation::DUAL_TIME_NOTE);
    }
    if a.output_args().json {
        let value = ManyJson {
            systems: reports
                .iter()
                .enumerate()
                .map(|(i, report)| Entry {
                    system: i + 1,
                    report,
                })
                .collect(),
        };
        println!("{}", to_json(&value, Layout::Compact)?);
        return Ok(());
    }
    for (i, (report, (system, _))) in reports.iter().zip(&many).enumerate() {
        println!(
            "system {} of {count} ({} × {})",
            i + 1,
            system.examples(),
            system.rank()
        );
        print_simulation(report);
    }
    Ok(())
}
