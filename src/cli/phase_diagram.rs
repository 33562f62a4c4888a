//! `gstarve phase-diagram`: a starvation measure over two parameters of the rotation family
//! (docs/theory.md §7.1), or of a user's system (any system source: two strengths, or a
//! strength and λ), drawn as a heatmap with its CSV, and with `--json` printed as JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use gstarve_core::output::{check_output_dir, to_json, Layout};
use gstarve_core::sweeps::grid::{Axis, Grid, Parameter, RotationFamily, Spacing};
use gstarve_core::sweeps::measures::{MaskReason, Measure, PointRecord};
use gstarve_core::sweeps::phase_diagram::{
    phase_diagram, phase_diagram_rows, PhaseDiagram, PhaseDiagramSpec,
};
use gstarve_core::sweeps::shards::{merge_shards, PhaseRows, ShardFile};
use gstarve_core::sweeps::system_diagram::{
    system_diagram, SystemAxis, SystemDiagramSpec, SystemParameter,
};
use gstarve_plot::{phase_diagram_figure, system_diagram_figure, FigureSize, PhaseDiagramOptions};
use serde::Serialize;

use super::figures::{FigureLook, FigureOutput};
use super::SystemArgs;

/// An axis on the command line, PARAMETER:FROM:TO[:log], split into its parts.
fn split_axis<P: std::str::FromStr<Err = String>>(text: &str) -> Result<(P, f64, f64, Spacing)> {
    let parts: Vec<&str> = text.split(':').collect();
    if !(parts.len() == 3 || (parts.len() == 4 && parts[3] == "log")) {
        anyhow::bail!(
            "axis '{text}' must be PARAMETER:FROM:TO or PARAMETER:FROM:TO:log, e.g. ratio:1:5, lambda:1e-3:1e-1:log, or s3:0.5:4 with --system"
        );
    }
    let parameter: P = parts[0].parse().map_err(anyhow::Error::msg)?;
    let number = |t: &str| {
        t.parse::<f64>()
            .with_context(|| format!("axis '{text}': '{t}' is not a number"))
    };
    let spacing = if parts.len() == 4 {
        Spacing::Log
    } else {
        Spacing::Linear
    };
    Ok((parameter, number(parts[1])?, number(parts[2])?, spacing))
}

/// An axis of the rotation family (parsed and validated by the core's `Axis::parse`).
fn parse_axis(text: &str, points: usize) -> Result<Axis> {
    Ok(Axis::parse(text, points)?)
}

/// An axis of a user's system.
fn parse_system_axis(text: &str, points: usize) -> Result<SystemAxis> {
    let (parameter, start, end, spacing) = split_axis::<SystemParameter>(text)?;
    Ok(SystemAxis {
        parameter,
        start,
        end,
        points,
        spacing,
    })
}

/// `gstarve phase-diagram`.
#[derive(Args, Debug)]
#[command(
    after_help = "Of a user's system: give it as any command takes one (--system FILE, \
    --strengths, --random, --features/--labels, --kernel/--labels) and sweep two of its \
    parameters: strengths sK (1-based, the value of s_K; U is held fixed) or lambda, e.g. \
    `gstarve phase-diagram --system sys.json --x s1:1:10 --y s3:0.5:5:log --pair 3,1`. The \
    measure is that of the pair (j, i) of --pair: E_ji = ∂log|z_j*|/∂log s_i², \
    ρ = z_j*(s)/z_j*(s with s_i := s_j), z_j*(SD)/z_j*(L2) (needs as many features as \
    examples), τ₉₀ of z_j. Each point is computed on the system with the swept values \
    substituted, as `fixed-point` would. --ratio, --delta and --s2 belong to the rotation \
    family only (refused with a system)."
)]
pub struct PhaseDiagramArgs {
    /// The measure (docs/theory.md §7.2): elasticity (E₂₁ = ∂log|z₂*|/∂log s₁², < 0: feature 1
    /// starves feature 2), ratio (ρ = z₂* over z₂* of the balanced system s₁ = s₂, < 1: starved),
    /// sd-recovery (z₂*(SD)/z₂*(L2) at the same λ, > 1: SD recovers the weak feature),
    /// sd-recovery-loss (the same ratio with SD tuned to reach the same final training loss as L2
    /// instead of the same λ), tau90 (the learning time τ₉₀ at which z₂ first reaches 90 % of
    /// z₂* along the L2 flow from z = 0), max-margin (the limit elasticity E₂₁ as λ → 0, §11.3).
    /// The CSV has, per point: x, y, value, mask (why a value is missing), z1, z2 (the L2 steady
    /// state), boundary (a smooth field whose sign change is the phase boundary drawn),
    /// reference (the denominator's z₂*, for ratio and sd-recovery*) and resolution (tau90: the
    /// width of the time bracket of the crossing).
    #[arg(long, default_value = "elasticity")]
    measure: Measure,
    /// Horizontal axis, PARAMETER:FROM:TO[:log] with PARAMETER one of ratio, coupling, lambda, s2
    /// (with a system: s1, s2, … or lambda) [default: ratio:1:5; with a system, required].
    #[arg(long, allow_hyphen_values = true)]
    x: Option<String>,
    /// Vertical axis, as --x [default: coupling:0.05:0.95; with a system, required].
    #[arg(long, allow_hyphen_values = true)]
    y: Option<String>,
    /// Grid points per axis.
    #[arg(long, default_value_t = 128)]
    grid: usize,
    /// Fixed strength ratio r = s₁/s₂ (when not swept; rotation family) [default: 2].
    #[arg(long)]
    ratio: Option<f64>,
    /// Fixed coupling δ (when not swept; rotation family) [default: 0.5].
    #[arg(long, allow_negative_numbers = true)]
    delta: Option<f64>,
    /// Fixed λ (when not swept).
    #[arg(long = "lambda", default_value_t = 0.01, allow_negative_numbers = true)]
    lambda: f64,
    /// Fixed weak strength s₂ (when not swept; rotation family) [default: 2].
    #[arg(long)]
    s2: Option<f64>,
    /// With a system: the response j and the feature i of the measure, 1-based
    /// [default: 2,1, as in the rotation family].
    #[arg(long, value_delimiter = ',', value_name = "J,I")]
    pair: Option<Vec<usize>>,
    /// Logarithmic colour scale (positive measures such as tau90).
    #[arg(long)]
    log_colour: bool,
    /// Print the diagram as JSON on stdout (grid, values, mask), besides writing the figure.
    #[arg(long)]
    json: bool,
    /// File stem [default: phase-diagram-MEASURE, e.g. phase-diagram-elasticity].
    #[arg(long)]
    name: Option<String>,
    /// Compute only shard I of N (grid rows I−1, I−1+N, …) into DIR/NAME.shard-I-of-N.bin
    /// (growing in NAME.shard-I-of-N.bin.part until complete), resuming from what an earlier
    /// run of it finished; `gstarve merge DIR` then writes the outputs of the whole run. Without the flag, a Slurm array task is shard ID−MIN+1 of COUNT
    /// (SLURM_ARRAY_TASK_ID, _MIN, _COUNT). Rotation family only. See docs/scale-out.md.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    #[command(flatten)]
    system: SystemArgs,
    #[command(flatten)]
    output: FigureOutput,
    #[command(flatten)]
    look: FigureLook,
}

/// One axis in the JSON output.
#[derive(Serialize)]
struct JsonAxis {
    /// `r`, `delta`, `lambda`, `s2` (rotation family) or `s1`, `s2`, …, `lambda` (a system).
    parameter: String,
    /// `linear` or `log`.
    spacing: &'static str,
    values: Vec<f64>,
}

/// `gstarve phase-diagram --json`.
#[derive(Serialize)]
struct DiagramJson {
    measure: &'static str,
    /// `rotation` or `system`.
    family: &'static str,
    /// (j, i), 1-based: the response and the feature made stronger.
    pair: [usize; 2],
    x: JsonAxis,
    y: JsonAxis,
    /// The values held fixed (the rotation family's r, delta, lambda, s2; a system's λ and
    /// strengths), the swept ones left out.
    fixed: BTreeMap<String, f64>,
    /// values[iy][ix], `null` where masked.
    values: Values,
    /// mask[iy][ix]: the reason a value is missing, `null` where it is not.
    mask: Mask,
    /// Masked points by reason.
    masked: BTreeMap<&'static str, usize>,
    wall_s: f64,
}

fn spacing_name(s: Spacing) -> &'static str {
    match s {
        Spacing::Linear => "linear",
        Spacing::Log => "log",
    }
}

/// values[iy][ix], `None` where masked.
type Values = Vec<Vec<Option<f64>>>;
/// mask[iy][ix], the reason's name where masked.
type Mask = Vec<Vec<Option<&'static str>>>;

/// values[iy][ix] and mask[iy][ix] of row-major points.
fn rows(points: &[PointRecord], nx: usize) -> (Values, Mask) {
    let values = points
        .chunks(nx)
        .map(|row| {
            row.iter()
                .map(|p| p.value.is_finite().then_some(p.value))
                .collect()
        })
        .collect();
    let mask = points
        .chunks(nx)
        .map(|row| row.iter().map(|p| p.mask.map(MaskReason::name)).collect())
        .collect();
    (values, mask)
}

fn masked_names(masked: &BTreeMap<MaskReason, usize>) -> BTreeMap<&'static str, usize> {
    masked.iter().map(|(r, &c)| (r.name(), c)).collect()
}

fn print_summary(nx: usize, ny: usize, wall_s: f64, masked: &BTreeMap<MaskReason, usize>) {
    eprintln!(
        "{nx}×{ny} points in {wall_s:.3} s; {} masked",
        masked.values().sum::<usize>()
    );
    for (reason, count) in masked {
        eprintln!("  masked: {count} ({reason:?})");
    }
}

impl PhaseDiagramArgs {
    /// The rotation-family sweep these arguments ask for, validated.
    pub fn spec(&self) -> Result<PhaseDiagramSpec> {
        let family = RotationFamily::default();
        let x = self.x.as_deref().unwrap_or("ratio:1:5");
        let y = self.y.as_deref().unwrap_or("coupling:0.05:0.95");
        let grid = Grid {
            x: parse_axis(x, self.grid)?,
            y: parse_axis(y, self.grid)?,
            fixed: RotationFamily {
                ratio: self.ratio.unwrap_or(family.ratio),
                coupling: self.delta.unwrap_or(family.coupling),
                lambda: self.lambda,
                weak_strength: self.s2.unwrap_or(family.weak_strength),
            },
        };
        grid.validate()?;
        Ok(PhaseDiagramSpec {
            grid,
            measure: self.measure,
            learning: Default::default(),
        })
    }

    /// The output folder.
    pub fn output_dir(&self) -> PathBuf {
        self.output.out.clone()
    }

    /// The file stem.
    pub fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| super::outputs::phase_diagram_stem(self.measure))
    }

    /// What the written files depend on beyond the computed diagram (for a shard's
    /// configuration hash).
    pub fn output_identity(&self) -> String {
        format!(
            "name {:?}, formats {:?}, log colour {}, look {:?}",
            self.name(),
            self.output.formats,
            self.log_colour,
            self.look
        )
    }

    /// The figure's options (its size checked).
    fn options(&self) -> Result<PhaseDiagramOptions> {
        Ok(PhaseDiagramOptions {
            name: self.name(),
            formats: self.output.formats,
            log_colour: self.log_colour,
            size: self.look.size(FigureSize::COLUMN)?,
            ..Default::default()
        })
    }
}

/// Compute and render a phase diagram (or one shard of it).
pub fn run_phase_diagram(a: &PhaseDiagramArgs) -> Result<()> {
    if a.log_colour && a.measure.neutral_value() == Some(0.0) {
        anyhow::bail!(
            "--log-colour is invalid with --measure {}: it changes sign at its phase boundary \
             (0), and a logarithmic scale shows only positive values",
            a.measure.name()
        );
    }
    let options = a.options()?;
    check_output_dir(&a.output.out)?;
    if a.system.given() {
        if a.shard.is_some() {
            anyhow::bail!("--shard splits phase diagrams of the rotation family; a system's diagram runs whole");
        }
        return run_system_diagram(a, options);
    }
    if a.pair.is_some() {
        anyhow::bail!("--pair chooses the measure's features of a system: give the system too (e.g. --system FILE); the rotation family's pair is 2,1");
    }
    let spec = a.spec()?;
    if let Some(shard) = super::shards::requested(a.shard.as_deref())? {
        return super::shards::run_shard::<PhaseRows>(
            &a.output_dir(),
            &a.name(),
            shard,
            &canonical(&spec, a),
            spec.grid.y.points,
            spec.measure.name(),
            |rows, progress| phase_diagram_rows(&spec, rows, progress),
        );
    }
    super::outputs::before_work()?;
    let grid = spec.grid;
    let diagram = phase_diagram(&spec, crate::cli::progress::terminal())?;
    print_summary(
        diagram.x.len(),
        diagram.y.len(),
        diagram.wall_s,
        &diagram.masked,
    );
    write_phase_diagram(&diagram, a, &a.output.out)?;
    if a.json {
        let axis = |ax: &Axis, values: &[f64]| JsonAxis {
            parameter: ax.parameter.csv_name().to_string(),
            spacing: spacing_name(ax.spacing),
            values: values.to_vec(),
        };
        let fixed = [
            Parameter::Ratio,
            Parameter::Coupling,
            Parameter::Lambda,
            Parameter::WeakStrength,
        ]
        .into_iter()
        .filter(|&p| p != grid.x.parameter && p != grid.y.parameter)
        .map(|p| (p.csv_name().to_string(), grid.fixed.get(p)))
        .collect();
        let (values, mask) = rows(&diagram.points, diagram.x.len());
        let json = DiagramJson {
            measure: a.measure.name(),
            family: "rotation",
            pair: [2, 1],
            x: axis(&grid.x, &diagram.x),
            y: axis(&grid.y, &diagram.y),
            fixed,
            values,
            mask,
            masked: masked_names(&diagram.masked),
            wall_s: diagram.wall_s,
        };
        println!("{}", to_json(&json, Layout::Compact)?);
    }
    Ok(())
}

/// Refuse a logarithmic colour scale for a diagram with values ≤ 0.
fn check_log_colour(a: &PhaseDiagramArgs, points: &[PointRecord]) -> Result<()> {
    if a.log_colour {
        let non_positive = points
            .iter()
            .filter(|p| p.value.is_finite() && p.value <= 0.0)
            .count();
        if non_positive > 0 {
            anyhow::bail!(
                "--log-colour is invalid here: {non_positive} of the {} points of --measure {} \
                 are ≤ 0, and a logarithmic scale shows only positive values",
                points.len(),
                a.measure.name()
            );
        }
    }
    Ok(())
}

/// The configuration a shard's results depend on, as canonical text: the program version, the
/// sweep's specification (every f64 printed exactly) and what the merged output is written as.
fn canonical(spec: &PhaseDiagramSpec, a: &PhaseDiagramArgs) -> String {
    format!(
        "gstarve {}; phase-diagram; {spec:?}; output: {}",
        env!("CARGO_PKG_VERSION"),
        a.output_identity()
    )
}

/// Check a set of phase-diagram shards (`files`, of the diagram named `stem`) and rebuild the
/// diagram the unsharded run computes, to be written into `dir`.
pub fn merge_checked(
    stem: &str,
    files: &[(String, ShardFile)],
    dir: &Path,
) -> Result<super::shards::Checked> {
    let merged = merge_shards::<PhaseRows>(files)?;
    let path = &files[0].0;
    let (parsed, command, matches) =
        super::shards::rebuild(&merged.header, path, dir, |c| match c {
            super::Command::PhaseDiagram(a) => Ok(canonical(&a.spec()?, a)),
            _ => anyhow::bail!("{path}: its arguments are not a phase-diagram command"),
        })?;
    let super::Command::PhaseDiagram(args) = parsed else {
        unreachable!("rebuild's canonical accepts only a phase-diagram command")
    };
    let spec = args.spec()?;
    let (nx, ny) = (spec.grid.x.points, spec.grid.y.points);
    if let Some((iy, row)) = merged.items.iter().enumerate().find(|(_, r)| r.len() != nx) {
        anyhow::bail!("{path}: row {iy} has {} points, not {nx}", row.len());
    }
    if merged.items.len() != ny {
        anyhow::bail!(
            "{path}: the shards hold {} rows, the diagram has {ny}",
            merged.items.len()
        );
    }
    let records = merged.items.into_iter().flatten().collect();
    let diagram = PhaseDiagram::assemble(spec, records, 0.0);
    Ok(super::shards::Checked {
        summary: format!("merged {} shards of {stem}: {nx}×{ny} points", files.len()),
        command,
        matches,
        write: Box::new(move |dir| write_phase_diagram(&diagram, &args, dir)),
    })
}

/// Write a computed rotation-family diagram's figure and data into `dir` as `a` asks.
pub fn write_phase_diagram(diagram: &PhaseDiagram, a: &PhaseDiagramArgs, dir: &Path) -> Result<()> {
    check_log_colour(a, &diagram.points)?;
    phase_diagram_figure(diagram, dir, &a.options()?)?;
    Ok(())
}

fn run_system_diagram(a: &PhaseDiagramArgs, options: PhaseDiagramOptions) -> Result<()> {
    if a.ratio.is_some() || a.delta.is_some() || a.s2.is_some() {
        anyhow::bail!("--ratio, --delta and --s2 fix parameters of the rotation family, not of a given system: sweep or keep its own strengths (--x/--y sK:FROM:TO)");
    }
    let (Some(x), Some(y)) = (&a.x, &a.y) else {
        anyhow::bail!(
            "a phase diagram of a system needs both axes, e.g. --x s1:1:10 --y s2:0.5:5 (strengths sK, 1-based, or lambda)"
        );
    };
    let pair = a.pair.clone().unwrap_or_else(|| vec![2, 1]);
    if pair.len() != 2 || pair.contains(&0) {
        anyhow::bail!("--pair needs two 1-based indices J,I, e.g. 2,1 (got {pair:?})");
    }
    let x = parse_system_axis(x, a.grid)?;
    let y = parse_system_axis(y, a.grid)?;
    let loaded = a
        .system
        .load_or(|| unreachable!("a system source was given"))?;
    let spec = SystemDiagramSpec {
        x,
        y,
        lambda: a.lambda,
        measure: a.measure,
        response: pair[0] - 1,
        feature: pair[1] - 1,
        learning: Default::default(),
    };
    super::outputs::before_work()?;
    let diagram = system_diagram(&loaded.system, &spec, crate::cli::progress::terminal())?;
    print_summary(
        diagram.x.len(),
        diagram.y.len(),
        diagram.wall_s,
        &diagram.masked,
    );
    check_log_colour(a, &diagram.points)?;
    system_diagram_figure(&diagram, &a.output.out, &options)?;
    if a.json {
        let axis = |ax: &SystemAxis, values: &[f64]| JsonAxis {
            parameter: ax.parameter.csv_name(),
            spacing: spacing_name(ax.spacing),
            values: values.to_vec(),
        };
        let swept = [x.parameter, y.parameter];
        let mut fixed: BTreeMap<String, f64> = diagram
            .strengths
            .iter()
            .enumerate()
            .filter(|&(k, _)| !swept.contains(&SystemParameter::Strength(k)))
            .map(|(k, &s)| (SystemParameter::Strength(k).csv_name(), s))
            .collect();
        if !swept.contains(&SystemParameter::Lambda) {
            fixed.insert("lambda".into(), a.lambda);
        }
        let (values, mask) = rows(&diagram.points, diagram.x.len());
        let json = DiagramJson {
            measure: a.measure.name(),
            family: "system",
            pair: [pair[0], pair[1]],
            x: axis(&x, &diagram.x),
            y: axis(&y, &diagram.y),
            fixed,
            values,
            mask,
            masked: masked_names(&diagram.masked),
            wall_s: diagram.wall_s,
        };
        println!("{}", to_json(&json, Layout::Compact)?);
    }
    Ok(())
}
