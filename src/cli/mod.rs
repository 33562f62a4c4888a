//! Command-line interface: clap arguments → validated configuration → library calls.

mod commands;
mod figures;
mod moons;
mod network;
mod phase_diagram;
pub(crate) mod progress;
mod system_args;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use gstarve_core::model::{Loss, Regulariser};

pub use system_args::SystemArgs;

/// gstarve: Gradient Starvation made computable (Pezeshki et al., NeurIPS 2021).
///
/// With no subcommand, runs the paper's toy (docs/theory.md §6.1), prints its steady states and
/// gradient-descent endpoints, and renders the gallery into plots/.
#[derive(Parser, Debug)]
#[command(name = "gstarve", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run GD, the exact flow, the dual (and θ-space GD) on a system.
    Simulate(commands::SimulateArgs),
    /// The steady state z* with margins, α, residual and iterations.
    FixedPoint(commands::FixedPointArgs),
    /// Check every prediction of the theory that applies to a system against the exact numerics.
    #[command(
        after_help = "Exit status: 0 every prediction passed; 1 a prediction failed or a numerical \
                      failure; 2 rejected input; 3 nothing to check (no prediction of \
                      docs/theory.md applies to this loss, regulariser and system)."
    )]
    Check(commands::CheckArgs),
    /// Write a feature system (e.g. a random one) to a file.
    System(commands::SystemCmdArgs),
    /// A two-layer ReLU network on a data set: its feature system and initial responses z(0).
    Network(network::NetworkArgs),
    /// The paper's toy: steady states and GD endpoints for l = 2…6 (printed by the default run).
    Toy(commands::ToyArgs),
    /// Render the gallery (toy figure, phase diagrams, phase plane, starvation matrix, flow vs GD).
    Gallery(figures::GalleryArgs),
    /// Reproduce a figure of the paper.
    #[command(subcommand)]
    Reproduce(figures::Reproduce),
    /// A starvation phase diagram (docs/theory.md §7.1) over two parameters of the rotation
    /// family, or of a system given with --system (or any system source): two strengths, or a
    /// strength and λ.
    PhaseDiagram(phase_diagram::PhaseDiagramArgs),
    /// z₁ against z₂: flow, GD, dual, SD, steady states, direction field and nullclines.
    PhasePlane(figures::PhasePlaneArgs),
    /// Responses z_j(τ) over learning time, the flow against GD.
    Responses(figures::ResponsesArgs),
    /// The starvation matrix E_ji of a system as a heatmap.
    StarvationMatrix(figures::StarvationMatrixArgs),
    /// The largest gap between GD and the flow against η (log–log, slope 1).
    FlowVsGd(figures::FlowVsGdArgs),
}

/// Regulariser choice on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegChoice {
    /// Weight decay (λ/2)‖θ‖².
    L2,
    /// Spectral Decoupling (λ/2)‖ŷ‖².
    Sd,
    /// No regulariser.
    None,
}

/// Loss choice on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossChoice {
    /// Cross-entropy.
    Logistic,
    /// Squared loss ½(m−1)².
    Squared,
}

/// Loss and regulariser options.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Regulariser.
    #[arg(long, value_enum, default_value = "l2")]
    pub reg: RegChoice,
    /// Regularisation strength λ ≥ 0.
    #[arg(long = "lambda", default_value_t = 0.01, allow_negative_numbers = true)]
    pub lambda: f64,
    /// Loss.
    #[arg(long, value_enum, default_value = "logistic")]
    pub loss: LossChoice,
}

impl ModelArgs {
    /// The validated loss and regulariser.
    pub fn model(&self) -> Result<(Loss, Regulariser)> {
        let reg = match self.reg {
            RegChoice::L2 => Regulariser::L2 {
                lambda: self.lambda,
            },
            RegChoice::Sd => Regulariser::SpectralDecoupling {
                lambda: self.lambda,
            },
            RegChoice::None => Regulariser::None,
        }
        .validated()?;
        let loss = match self.loss {
            LossChoice::Logistic => Loss::Logistic,
            LossChoice::Squared => Loss::Squared,
        };
        Ok((loss, reg))
    }
}

/// Output options.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Folder for CSV output.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Parse the command line and run it.
pub fn run() -> Result<()> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help, --version, or a bare subcommand group: clap prints and exits itself.
        Err(err)
            if !err.use_stderr()
                || err.kind()
                    == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            err.exit()
        }
        Err(err) => anyhow::bail!("{}", usage_error_line(&err)),
    };
    progress::scoped(|| run_command(cli.command))
}

fn run_command(command: Option<Command>) -> Result<()> {
    match command {
        Some(Command::Simulate(a)) => commands::simulate(&a),
        Some(Command::FixedPoint(a)) => commands::fixed_point(&a),
        Some(Command::System(a)) => commands::system(&a),
        Some(Command::Network(a)) => network::network(&a),
        Some(Command::Check(a)) => commands::check(&a),
        Some(Command::Toy(a)) => commands::toy(&a),
        Some(Command::Gallery(a)) => figures::run_gallery(&a),
        Some(Command::Reproduce(r)) => figures::run_reproduce(&r),
        Some(Command::PhaseDiagram(a)) => phase_diagram::run_phase_diagram(&a),
        Some(Command::PhasePlane(a)) => figures::run_phase_plane(&a),
        Some(Command::Responses(a)) => figures::run_responses(&a),
        Some(Command::StarvationMatrix(a)) => figures::run_starvation_matrix(&a),
        Some(Command::FlowVsGd(a)) => figures::run_flow_vs_gd(&a),
        None => {
            commands::toy(&commands::ToyArgs::default())?;
            println!("\nRendering the gallery into plots/ …");
            figures::run_gallery(&figures::GalleryArgs::default_gallery())
        }
    }
}

/// A command-line error as one line (the house style for rejected input): clap's message
/// without its usage block, and a pointer to `--help`.
fn usage_error_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let first = text
        .lines()
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ");
    let tip = text
        .lines()
        .map(str::trim)
        .find_map(|l| {
            l.strip_prefix("tip: ")
                .or_else(|| l.starts_with("[possible values:").then_some(l))
        })
        .map(|t| format!("; {t}"))
        .unwrap_or_default();
    format!("{first}{tip} (see --help)")
}

/// The library names a parameter as its API does (`t_end`, `eta`); the command line knows it by
/// its flag. The flag for each library name that has one.
fn flag_for(name: &str) -> Option<&'static str> {
    Some(match name {
        "t_end" => "--t-end",
        "points" => "--points",
        "rtol" => "--rtol",
        "atol" => "--atol",
        "max_steps" => "--max-steps",
        "eta" => "--eta",
        "steps" => "--steps",
        "learning_rate" => "--lr",
        "momentum" => "--momentum",
        "weight_decay" => "--weight-decay",
        "spectral_decoupling" => "--sd",
        "record_every" => "--record-every",
        "width" => "--width",
        "widths" => "--widths",
        "seeds" => "--seeds",
        "epochs" => "--epochs",
        "grid_points" => "--grid",
        "top" => "--top",
        "n" => "--n",
        "noise" => "--noise",
        "margin" => "--margin",
        "angle_degrees" => "--angle",
        "tolerance_scale" => "--tolerance-scale",
        "responses" => "--responses",
        "strength_floor" => "--strength-floor",
        "rank" => "--rank",
        "height" => "--height",
        "dpi" => "--dpi",
        "font_size" => "--font-size",
        "pair" => "--pair",
        _ => return None,
    })
}

/// An error as the one line the command line prints: the library's message, with a parameter
/// named by its flag where it has one, and the flag that avoids a stiffness failure.
pub fn describe(err: &anyhow::Error) -> String {
    if let Some(gstarve_core::Error::Numerical(
        gstarve_core::error::NumericalError::StiffnessDetected { .. },
    )) = err.downcast_ref::<gstarve_core::Error>()
    {
        return format!("{err:#}; rerun with --method bdf or --method rodas4");
    }
    if let Some(gstarve_core::Error::Input(gstarve_core::error::InputError::InvalidParameter {
        name,
        value,
        rule,
    })) = err.downcast_ref::<gstarve_core::Error>()
    {
        if let Some(flag) = flag_for(name) {
            let value = gstarve_core::error::number(*value);
            return format!("{flag} = {value} is invalid: {rule}");
        }
    }
    format!("{err:#}")
}

/// Exit status: 1 for a failed check or a numerical failure ([`gstarve_core::error::NumericalError`]),
/// 2 for input that was rejected and for an output that could not be written, 3 for a `check`
/// with no applicable prediction.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<commands::CheckFailed>().is_some() {
        return 1;
    }
    if err.downcast_ref::<commands::NothingToCheck>().is_some() {
        return 3;
    }
    match err.downcast_ref::<gstarve_core::Error>() {
        Some(e) if e.is_numerical() => 1,
        _ => 2,
    }
}
