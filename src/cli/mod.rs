//! Command-line interface: clap arguments → validated configuration → library calls.

mod commands;
mod ensemble;
mod figures;
mod max_margin;
mod moons;
mod moons_report;
mod moons_sd_classes;
mod multiclass;
mod multiclass_net;
mod network;
mod ood;
mod outputs;
mod phase_diagram;
pub(crate) mod progress;
mod remedies;
mod shards;
mod simulate;
mod simulate_many;
mod system_args;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use gstarve_core::model::{Loss, Regulariser};

pub use system_args::SystemArgs;

/// gstarve: Gradient Starvation made computable (Pezeshki et al., NeurIPS 2021).
///
/// With no subcommand, runs the paper's toy (docs/theory.md §6.1), prints its steady states and
/// gradient-descent endpoints, and renders the gallery into plots/.
///
/// Every output carries its provenance (gstarve's version and commit, the command and all its
/// parameters): JSON under the key "gstarve", PNG in text chunks, SVG in <metadata>, CSV and
/// NumPy files in a sidecar FILE.json. A command writes all its files or none; a file made by
/// another command or configuration is replaced only with --force.
#[derive(Parser, Debug)]
#[command(name = "gstarve", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Replace output files made by another command or configuration (or not by gstarve).
    #[arg(long, global = true)]
    force: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run GD, the exact flow, the dual (and θ-space GD) on a system.
    Simulate(simulate::SimulateArgs),
    /// The steady state z* with margins, α, residual and iterations.
    FixedPoint(commands::FixedPointArgs),
    /// The max-margin limit λ → 0 (docs/theory.md §11): ẑ, direction, α̂, support vectors,
    /// margins, KKT residuals and limit elasticities.
    MaxMargin(max_margin::MaxMarginArgs),
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
    /// Merge the shards of a sharded phase diagram or ensemble (--shard I/N) in DIR into the
    /// files the unsharded run writes, after checking every point is there exactly once.
    Merge(shards::MergeArgs),
    /// The distribution of starvation-matrix entries E_ji over random systems, against spectrum
    /// decay and coupling (docs/theory.md §7.5): fraction starving and quantiles, figure and CSV.
    Ensemble(ensemble::EnsembleArgs),
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
    /// Regularisation strength λ ≥ 0; with --reg sd also λ0,λ1, one per class (class 0 the
    /// examples labelled −1 or 0, class 1 those labelled +1; docs/theory.md §10.1).
    #[arg(
        long = "lambda",
        default_value = "0.01",
        value_delimiter = ',',
        allow_negative_numbers = true,
        value_name = "λ|λ0,λ1"
    )]
    pub lambda: Vec<f64>,
    /// Spectral-Decoupling margin targets γ (one value for both classes, or γ0,γ1): the penalty
    /// is ½λ_c(m − γ_c)² on each margin m = y·ŷ (docs/theory.md §10.1). Needs --reg sd and the
    /// labels (--features/--kernel with --labels, or a --system file that lists "labels").
    #[arg(
        long = "sd-target",
        value_delimiter = ',',
        allow_negative_numbers = true,
        value_name = "γ|γ0,γ1"
    )]
    pub sd_target: Option<Vec<f64>>,
    /// Loss.
    #[arg(long, value_enum, default_value = "logistic")]
    pub loss: LossChoice,
}

/// Number of classes of a binary system (per-class lists have this many values).
const CLASSES: usize = 2;

/// A per-class list: one value (both classes) or one per class.
fn per_class(flag: &str, values: &[f64]) -> Result<[f64; 2]> {
    match values {
        [v] => Ok([*v, *v]),
        [a, b] => Ok([*a, *b]),
        _ => anyhow::bail!(
            "{flag} has {} values: give one (both classes) or one per class ({CLASSES}: class 0 \
             = label −1 or 0, class 1 = label +1)",
            values.len()
        ),
    }
}

impl ModelArgs {
    /// The validated loss and regulariser.
    pub fn model(&self) -> Result<(Loss, Regulariser)> {
        let lambda = per_class("--lambda", &self.lambda)?;
        let classes = self.lambda.len() > 1 || self.sd_target.is_some();
        if classes && self.reg != RegChoice::Sd {
            anyhow::bail!(
                "{} gives per-class Spectral Decoupling: it goes with --reg sd",
                if self.sd_target.is_some() {
                    "--sd-target"
                } else {
                    "--lambda with one value per class"
                }
            );
        }
        let reg = match self.reg {
            RegChoice::L2 => Regulariser::L2 { lambda: lambda[0] },
            RegChoice::Sd if classes => Regulariser::SpectralDecouplingClasses {
                lambda,
                target: match &self.sd_target {
                    Some(t) => per_class("--sd-target", t)?,
                    None => [0.0, 0.0],
                },
            },
            RegChoice::Sd => Regulariser::SpectralDecoupling { lambda: lambda[0] },
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

/// Every option that takes a value accepts a negative number without `=` (`--z0 -1,2`,
/// `--coupling -0.5`, `--seed -1`, `--sd -1e-300`, `--spectrum -1:2`): a value that starts with
/// a minus sign and is a number, or numbers separated by `,` or `:`, is joined to the option
/// before clap reads it (`--z0=-1,2`); clap alone would read `-1` as a flag and answer
/// "unexpected argument". An unsigned option then gets its own message for a negative value
/// ([`usage_error_line`]).
fn join_negative_values(
    cmd: &clap::Command,
    args: Vec<std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    fn value_options(cmd: &clap::Command, longs: &mut Vec<String>, shorts: &mut Vec<char>) {
        for arg in cmd.get_arguments() {
            if arg.get_action().takes_values() {
                longs.extend(arg.get_long().map(str::to_string));
                shorts.extend(arg.get_short());
            }
        }
        for sub in cmd.get_subcommands() {
            value_options(sub, longs, shorts);
        }
    }
    let (mut longs, mut shorts) = (Vec::new(), Vec::new());
    value_options(cmd, &mut longs, &mut shorts);
    let takes_value = |token: &str| match token.strip_prefix("--") {
        Some(long) => longs.iter().any(|l| l == long),
        None => token
            .strip_prefix('-')
            .and_then(|s| s.chars().next().filter(|_| s.chars().count() == 1))
            .is_some_and(|c| shorts.contains(&c)),
    };
    let negative_numbers = |token: &str| {
        token.starts_with('-')
            && token
                .split([',', ':'])
                .all(|part| part.trim().parse::<f64>().is_ok())
    };
    let mut joined: Vec<std::ffi::OsString> = Vec::with_capacity(args.len());
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let option = arg.to_str().filter(|t| takes_value(t)).map(str::to_string);
        let value = args.peek().and_then(|v| v.to_str()).map(str::to_string);
        match (option, value) {
            (Some(option), Some(value)) if negative_numbers(&value) => {
                args.next();
                joined.push(format!("{option}={value}").into());
            }
            _ => joined.push(arg),
        }
    }
    joined
}

/// The command (with its version line) and the parsed command line `args`, or clap's error.
fn parse(
    args: Vec<std::ffi::OsString>,
) -> std::result::Result<(clap::Command, clap::ArgMatches), clap::Error> {
    let mut cmd = Cli::command().version(outputs::version_line());
    let args = join_negative_values(&cmd, args);
    let matches = cmd.try_get_matches_from_mut(args)?;
    Ok((cmd, matches))
}

/// Parse the command line and run it.
pub fn run() -> Result<()> {
    let (command, matches) = match parse(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
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
    let cli = Cli::from_arg_matches(&matches).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(Command::Merge(m)) = &cli.command {
        // A merge writes the outputs of the phase-diagram command its shards record, under
        // that command's provenance and checks, one batch per merged diagram.
        outputs::remove_temporaries_on_signals()?;
        return shards::merge(m);
    }
    let prepared = outputs::Prepared::new(&command, &matches)?;
    outputs::remove_temporaries_on_signals()?;
    let batch = gstarve_core::output::Batch::begin();
    progress::scoped(|| run_command(cli.command, &prepared))?;
    prepared.commit(batch)
}

fn run_command(command: Option<Command>, prepared: &outputs::Prepared) -> Result<()> {
    match command {
        Some(Command::Simulate(a)) => simulate::simulate(&a),
        Some(Command::FixedPoint(a)) => commands::fixed_point(&a),
        Some(Command::System(a)) => commands::system(&a),
        Some(Command::Network(a)) => network::network(&a),
        Some(Command::Check(a)) => commands::check(&a),
        Some(Command::MaxMargin(a)) => max_margin::max_margin(&a),
        Some(Command::Toy(a)) => commands::toy(&a),
        Some(Command::Gallery(a)) => figures::run_gallery(&a),
        Some(Command::Reproduce(r)) => figures::run_reproduce(&r),
        Some(Command::PhaseDiagram(a)) => phase_diagram::run_phase_diagram(&a),
        Some(Command::Merge(a)) => shards::merge(&a),
        Some(Command::Ensemble(a)) => ensemble::run_ensemble(&a),
        Some(Command::PhasePlane(a)) => figures::run_phase_plane(&a),
        Some(Command::Responses(a)) => figures::run_responses(&a),
        Some(Command::StarvationMatrix(a)) => figures::run_starvation_matrix(&a),
        Some(Command::FlowVsGd(a)) => figures::run_flow_vs_gd(&a),
        None => {
            gstarve_core::output::check_output_dir(std::path::Path::new("plots"))?;
            outputs::before_work()?;
            commands::toy(&commands::ToyArgs::default())?;
            let replaced = match prepared.replaced.len() {
                0 => String::new(),
                n => format!(", replacing {n} existing files"),
            };
            println!(
                "\nWriting the gallery into ./plots (PNG, SVG and CSV with their sidecars{replaced}) …"
            );
            figures::run_gallery(&figures::GalleryArgs::default_gallery())
        }
    }
}

/// A command-line error as one line (the house style for rejected input): clap's message
/// without its usage block, and a pointer to `--help`. The missing arguments are named, and a
/// negative value of an unsigned option says so.
fn usage_error_line(err: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if err.kind() == ErrorKind::MissingRequiredArgument {
        if let Some(ContextValue::Strings(missing)) = err.get(ContextKind::InvalidArg) {
            return format!(
                "the following required arguments were not provided: {} (see --help)",
                missing.join(", ")
            );
        }
    }
    if let (
        ErrorKind::ValueValidation,
        Some(ContextValue::String(arg)),
        Some(ContextValue::String(value)),
    ) = (
        err.kind(),
        err.get(ContextKind::InvalidArg),
        err.get(ContextKind::InvalidValue),
    ) {
        let unsigned = std::error::Error::source(err)
            .and_then(|e| e.downcast_ref::<std::num::ParseIntError>())
            .is_some_and(|e| *e.kind() == std::num::IntErrorKind::InvalidDigit);
        if unsigned && value.trim_start().starts_with('-') {
            let flag = arg.split_whitespace().next().unwrap_or(arg);
            return format!(
                "{flag} = {value} is invalid: it must be a whole number ≥ 0 (see --help)"
            );
        }
    }
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
        "γ" => "--sd-target",
        "height" => "--height",
        "dpi" => "--dpi",
        "font_size" => "--font-size",
        "pair" => "--pair",
        "decay" => "--decay",
        "coupling" => "--coupling",
        "systems" => "--systems",
        "weakest" => "--weakest",
        "threshold" => "--threshold",
        _ => return None,
    })
}

/// An error as the one line the command line prints: the library's message, with a parameter
/// named by its flag where it has one, and the flag that avoids a stiffness failure; control
/// characters from quoted user input escaped ([`gstarve_core::error::one_line`]).
pub fn describe(err: &anyhow::Error) -> String {
    gstarve_core::error::one_line(&describe_raw(err)).into_owned()
}

fn describe_raw(err: &anyhow::Error) -> String {
    if let Some(gstarve_core::Error::Numerical(
        gstarve_core::error::NumericalError::StiffnessDetected { .. },
    )) = err.downcast_ref::<gstarve_core::Error>()
    {
        return format!("{err:#}; rerun with --method bdf or --method rodas4");
    }
    if let Some(gstarve_core::Error::Input(gstarve_core::error::InputError::NeedsLabels { what })) =
        err.downcast_ref::<gstarve_core::Error>()
    {
        return format!(
            "{what} (--sd-target, or --lambda λ0,λ1) needs the labels: give --features or \
             --kernel with --labels, or a --system file that lists \"labels\""
        );
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
