//! `gstarve simulate`: the flow, GD (on z and on θ) and the dual of one system, with their
//! statistics, as text, JSON and CSV trajectories (many-system files: `simulate_many`).

use anyhow::{bail, Result};
use clap::Args;
use gstarve_core::model::{DualDynamics, Loss, Regulariser};
use gstarve_core::ode::{FlowMethod, FlowOptions};
use gstarve_core::output::{check_output_dir, ensure_dir, to_json, Layout};
use gstarve_core::reference;
use gstarve_core::simulation::{
    simulate as run_simulation, simulate_multiclass, write_trajectories_csv, Method,
    SimulationConfig,
};
use gstarve_core::solvers::gd::GdOptions;
use gstarve_core::systems::Truncation;
use nalgebra::DVector;
use serde::Serialize;

use super::commands::{default_system, fmt_vec, print_truncation};
use super::{ModelArgs, OutputArgs, SystemArgs};

/// `gstarve simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    #[command(flatten)]
    system: SystemArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Methods to run, comma-separated: gd, gd-theta (needs --features), flow, dual.
    #[arg(long, value_delimiter = ',', default_value = "gd,flow")]
    methods: Vec<Method>,
    /// GD step size η.
    #[arg(long, default_value_t = reference::TOY_ETA, allow_negative_numbers = true)]
    eta: f64,
    /// GD steps.
    #[arg(long, default_value_t = reference::TOY_STEPS)]
    steps: usize,
    /// End time of the flow and the dual (default η·steps).
    #[arg(long, allow_negative_numbers = true)]
    t_end: Option<f64>,
    /// Output points (flow/dual grid; GD records this many evenly spaced steps).
    #[arg(long, default_value_t = 501)]
    points: usize,
    /// Relative tolerance of the flow.
    #[arg(long, default_value_t = 1e-8, allow_negative_numbers = true)]
    rtol: f64,
    /// Absolute tolerance of the flow.
    #[arg(long, default_value_t = 1e-10, allow_negative_numbers = true)]
    atol: f64,
    /// Work budget of the flow and the dual: the most step attempts (accepted plus rejected)
    /// over the whole integration; a solve that needs more stops with a named failure.
    #[arg(long, default_value_t = gstarve_core::ode::DEFAULT_MAX_STEPS)]
    max_steps: u64,
    /// Flow integrator: auto, dop853, dopri5, bdf, rodas4, dp45, rkc (diffsol-bdf and sdirk,
    /// removed with the diffsol dependency, run bdf and rodas4 with a warning).
    #[arg(long, default_value = "auto", value_parser = parse_flow_method)]
    method: FlowMethod,
    /// Initial responses z₀ (comma-separated; default: the system file's z0 if it has one, else 0).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    z0: Option<Vec<f64>>,
    /// Run GD even beyond the stability bound η(λ + s₁²/4) < 2 (divergence is still reported).
    #[arg(long)]
    allow_unstable: bool,
    /// Skip the steady state (a dense Newton solve, O(n³) per iteration: seconds at n = 1000).
    #[arg(long)]
    no_fixed_point: bool,
    #[command(flatten)]
    output: OutputArgs,
}

/// `--method`: a [`FlowMethod`] name, or one of the two names of diffsol's methods, which
/// gstarve no longer builds (docs/benchmarks.md, "The hand-written BDF against diffsol"): they
/// run the nearest hand-written method, say so on stderr, and the report's `stats.solver`
/// names the method that ran.
fn parse_flow_method(s: &str) -> std::result::Result<FlowMethod, String> {
    let (method, note) = match s.trim().to_ascii_lowercase().as_str() {
        "diffsol-bdf" => (
            FlowMethod::Bdf,
            "diffsol's BDF was removed; running gstarve's bdf",
        ),
        "sdirk" => (
            FlowMethod::Rodas4,
            "diffsol's SDIRK was removed; running rodas4, an L-stable one-step implicit method",
        ),
        other => return other.parse(),
    };
    eprintln!("gstarve: warning: --method {s}: {note}");
    Ok(method)
}

impl SimulateArgs {
    /// The settings of a run with `loss`, `regulariser` and initial responses `initial`
    /// (--z0 wins over them).
    pub(super) fn config(
        &self,
        loss: Loss,
        regulariser: Regulariser,
        initial: Option<DVector<f64>>,
    ) -> Result<SimulationConfig> {
        Ok(SimulationConfig {
            loss,
            regulariser,
            methods: self.methods.clone(),
            gd: GdOptions::new(self.eta, self.steps, self.points, self.allow_unstable)?,
            flow: {
                let flow = FlowOptions::new(
                    self.t_end.unwrap_or(self.eta * self.steps as f64),
                    self.points,
                    self.rtol,
                    self.atol,
                    self.method,
                )?;
                flow.with_tolerances(flow.tolerances().with_max_steps(self.max_steps)?)
            },
            // --z0 wins over initial responses stored in the system file.
            initial: self
                .z0
                .as_ref()
                .map(|z| DVector::from_column_slice(z))
                .or(initial),
            dual_start: DualDynamics::DEFAULT_START,
            fixed_point: !self.no_fixed_point,
        })
    }

    /// Where the systems come from.
    pub(super) fn system_args(&self) -> &SystemArgs {
        &self.system
    }

    /// The model options.
    pub(super) fn model_args(&self) -> &ModelArgs {
        &self.model
    }

    /// The output options.
    pub(super) fn output_args(&self) -> &OutputArgs {
        &self.output
    }

    /// Whether --no-fixed-point was given.
    pub(super) fn no_fixed_point(&self) -> bool {
        self.no_fixed_point
    }
}

/// Run `gstarve simulate`.
pub fn simulate(a: &SimulateArgs) -> Result<()> {
    if let Some(many) = super::simulate_many::systems(a)? {
        return super::simulate_many::simulate_many(a, many);
    }
    if let Some(dir) = &a.output.out {
        check_output_dir(dir)?;
    }
    let loaded = a.system.load_any_or(default_system)?;
    let (loss, regulariser) = match &loaded.multiclass {
        Some(_) => (Loss::Logistic, super::multiclass::regulariser(&a.model)?),
        None => a.model.model()?,
    };
    let config = a.config(loss, regulariser, loaded.initial.clone())?;
    if config.initial.is_some() && config.methods.contains(&Method::Dual) {
        eprintln!(
            "note: the dual starts from α = 1e-8·1 (docs/theory.md §3.5), not from the initial \
             responses z(0) the flow and GD start from"
        );
    }
    if let Some(z0) = &config.initial {
        if z0.len() != loaded.system.rank() {
            bail!(
                "--z0 has {} entries but the system has {} features",
                z0.len(),
                loaded.system.rank()
            );
        }
        if let Some((i, v)) = z0.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            bail!("--z0 entry {} = {v} is not finite", i + 1);
        }
    }
    if config.methods.contains(&Method::GdTheta) && loaded.raw.is_none() {
        bail!("method gd-theta needs raw features: give --features and --labels");
    }
    super::outputs::before_work()?;
    let mut report = match &loaded.multiclass {
        Some(mc) => simulate_multiclass(mc, &config)?,
        None => run_simulation(&loaded.system, loaded.raw.as_ref(), &config)?,
    };
    if a.no_fixed_point {
        report.fixed_point_note = Some("not computed (--no-fixed-point)".to_string());
    }
    if let Some(dir) = &a.output.out {
        ensure_dir(dir)?;
        write_trajectories_csv(&report, &dir.join("trajectories.csv"))?;
    }
    if a.methods.contains(&Method::Dual) {
        eprintln!("note: {}", gstarve_core::simulation::DUAL_TIME_NOTE);
    }
    if a.output.json {
        let value = SimulateJson {
            report: &report,
            truncation: loaded.truncation,
        };
        println!("{}", to_json(&value, Layout::Compact)?);
        return Ok(());
    }
    print_truncation(loaded.truncation);
    print_simulation(&report);
    Ok(())
}

/// The text report of one simulation: the fixed point and a line per run.
pub(super) fn print_simulation(report: &gstarve_core::simulation::SimulationReport) {
    match &report.fixed_point {
        Some(fp) => println!(
            "fixed point z* = {}  margins = {}  (residual {:.1e}, {} Newton iterations)",
            fmt_vec(&fp.z),
            fmt_vec(&fp.margins),
            fp.residual,
            fp.iterations
        ),
        None => println!(
            "fixed point: {}",
            report.fixed_point_note.as_deref().unwrap_or("none")
        ),
    }
    println!(
        "{:<9} {:<12} {:>12} {:>10} {:>9} {:>8} {:>10}  z_final",
        "method", "solver", "tau_end", "rhs_evals", "jac_evals", "steps", "wall_s"
    );
    for run in &report.runs {
        println!(
            "{:<9} {:<12} {:>12} {:>10} {:>9} {:>8} {:>10.3e}  {}",
            run.method,
            run.stats.solver,
            gstarve_core::error::computed(run.tau.last().copied().unwrap_or(0.0)),
            run.stats.rhs_evals,
            run.stats.jacobian_evals,
            run.stats.steps_accepted,
            run.stats.wall_s,
            fmt_vec(&run.z_final)
        );
    }
}

/// `gstarve simulate --json`: the report, and what was dropped as negligible when a strength
/// floor applied (`dropped_features`, `dropped_strength_share`, `strength_floor`).
#[derive(Serialize)]
struct SimulateJson<'a> {
    #[serde(flatten)]
    report: &'a gstarve_core::simulation::SimulationReport,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    truncation: Option<Truncation>,
}
