//! Figure subcommands: arguments → validated specs → the data computed by gstarve-core → drawn
//! and written by gstarve-plot.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gstarve_core::error::{number, round_down, InputError};
use gstarve_core::model::{DualDynamics, Loss, PrimalDynamics, Regulariser, SoftmaxDynamics};
use gstarve_core::output::check_output_dir;
use gstarve_core::reference;
use gstarve_core::simulation::figures::{
    FlowVsGdData, FlowVsGdSpec, GalleryData, GallerySpec, PhasePlaneCurves, PhasePlaneData,
    PhasePlaneSpec, RegulariserKind, ResponsesData, ResponsesSpec, ToyFigureData, ToySpec,
};
use gstarve_core::solvers::gd::GdOptions;
use gstarve_core::sweeps::starvation_matrix::{starvation_matrix_multiclass, starvation_matrix_of};
use gstarve_plot::toy::{toy_figure, ToyFigureOptions};
use gstarve_plot::FigureSize;
use gstarve_plot::{
    flow_vs_gd, gallery, phase_plane, responses, starvation_matrix_figure, FlowVsGdOptions,
    Formats, PhasePlaneOptions, ResponsesOptions, StarvationMatrixOptions,
};

use super::system_args::LoadedSystem;
use super::SystemArgs;

/// What every one-system figure does first: check the output folder, resolve the size, load
/// the system (the paper's toy by default) and, for a multi-class system, validate the model
/// (one λ, no class targets).
fn figure_setup(
    model: &super::ModelArgs,
    output: &FigureOutput,
    look: &FigureLook,
    system: &SystemArgs,
) -> Result<(FigureSize, LoadedSystem)> {
    check_output_dir(&output.out)?;
    let size = look.size(FigureSize::COLUMN)?;
    let loaded = system.load_any_or(|| Ok(reference::paper_toy(4.0)))?;
    if loaded.multiclass.is_some() {
        super::multiclass::regulariser(model)?;
    }
    Ok((size, loaded))
}

/// The GD step size of a figure: the one given, or else the toy's η = 0.05 when GD is stable
/// with it on this system (η·ρ < 2, docs/theory.md §3.6). A real network's system is usually
/// far stiffer (ρ ~ 10³–10⁴); GD is then left out, with a note (printed once the figure's data
/// is computed) that says which η would draw it.
fn figure_gd_step(
    loaded: &LoadedSystem,
    loss: Loss,
    regulariser: Regulariser,
    eta: Option<f64>,
    notes: &mut Vec<String>,
) -> Result<Option<f64>> {
    if eta.is_some() {
        return Ok(eta);
    }
    let bound = match &loaded.multiclass {
        Some(mc) => SoftmaxDynamics::new(mc, regulariser)?.curvature_bound(),
        None => PrimalDynamics::new(&loaded.system, loss, regulariser)?.curvature_bound(),
    };
    let eta = reference::TOY_ETA;
    // The stability rule lives in GdOptions::check_stability; its refusal becomes the note.
    match GdOptions::new(eta, 1, 2, false)?.check_stability(bound) {
        Ok(()) => Ok(Some(eta)),
        Err(gstarve_core::Error::Input(InputError::UnstableStep { product, limit, .. })) => {
            notes.push(format!(
                "note: GD left out: the default η = {eta} may be unstable on this system \
                 (η·ρ = {product:.4} ≥ 2 with ρ the curvature bound, docs/theory.md §3.6); \
                 give --eta below {} to draw it",
                number(round_down(limit, 4))
            ));
            Ok(None)
        }
        Err(other) => Err(other.into()),
    }
}

fn print_notes(notes: &[String]) {
    for note in notes {
        eprintln!("{note}");
    }
}

/// Output folder and formats of a figure.
#[derive(Args, Debug, Clone)]
pub struct FigureOutput {
    /// Output folder.
    #[arg(long, default_value = "plots", value_name = "DIR")]
    pub out: PathBuf,
    /// Image formats: png, svg, pdf, or a list such as png,pdf (the CSV data is always written).
    /// PDF is vector graphics with the font embedded, for LaTeX.
    #[arg(long = "format", default_value = "png", value_name = "png,svg,pdf")]
    pub formats: Formats,
}

/// Size, resolution and type size of one figure (docs in `--help`; checked before any work).
#[derive(Args, Debug, Clone, Default)]
pub struct FigureLook {
    /// Figure width in inches, 2.5–20 [default: 3.33, one column of a two-column paper].
    #[arg(long, value_name = "INCHES", allow_negative_numbers = true)]
    pub width: Option<f64>,
    /// Figure height in inches, 1.5–20 [default: 2.41].
    #[arg(long, value_name = "INCHES", allow_negative_numbers = true)]
    pub height: Option<f64>,
    /// PNG resolution in pixels per inch, 50–1200: the same drawing with more pixels (the PNG is
    /// width·dpi × height·dpi; SVG and PDF are vectors of the given size) [default: 270].
    #[arg(long, value_name = "DPI", allow_negative_numbers = true)]
    pub dpi: Option<f64>,
    /// Base type size in points, 3–16 (tick labels and legends; titles and axis labels keep
    /// their proportions to it) [default: 5.33].
    #[arg(long, value_name = "POINTS", allow_negative_numbers = true)]
    pub font_size: Option<f64>,
}

impl FigureLook {
    /// The figure's size: the figure's own default, with what was given replaced and checked.
    pub fn size(&self, default: FigureSize) -> Result<FigureSize> {
        let (w, h) = default.inches();
        Ok(FigureSize::physical(
            self.width.unwrap_or(w),
            self.height.unwrap_or(h),
            self.dpi.unwrap_or(default.dpi),
            self.font_size.unwrap_or(default.font_points()),
        )?)
    }
}

/// `gstarve gallery`.
#[derive(Args, Debug)]
pub struct GalleryArgs {
    #[command(flatten)]
    output: FigureOutput,
    /// Grid points per axis of the phase diagrams.
    #[arg(long, default_value_t = 256)]
    grid: usize,
}

impl GalleryArgs {
    /// The default run's gallery: plots/, PNG and SVG, 128² phase diagrams (their CSVs stay
    /// small enough to commit; `gstarve gallery --grid 256` for the full resolution).
    pub fn default_gallery() -> Self {
        Self {
            output: FigureOutput {
                out: PathBuf::from("plots"),
                formats: Formats::BOTH,
            },
            grid: 128,
        }
    }
}

/// Compute and render the gallery.
pub fn run_gallery(a: &GalleryArgs) -> Result<()> {
    if a.grid < 2 {
        anyhow::bail!(
            "--grid = {} is invalid: the gallery's phase diagrams span fixed ranges and need at \
             least 2 points per axis",
            a.grid
        );
    }
    check_output_dir(&a.output.out)?;
    let spec = GallerySpec {
        grid_points: a.grid,
        ..Default::default()
    };
    // The files are reported once the command's outputs are committed (cli::outputs).
    super::outputs::before_work()?;
    let written = GalleryData::compute(&spec)
        .and_then(|data| gallery(&data, &a.output.out, a.output.formats))
        .with_context(|| format!("rendering the gallery into {}", a.output.out.display()))?;
    debug_assert_eq!(written.len(), gstarve_plot::GALLERY_NAMES.len());
    Ok(())
}

/// `gstarve reproduce …`.
#[derive(Subcommand, Debug)]
pub enum Reproduce {
    /// The paper's toy figure (its Figure 6; docs/theory.md §6.1): primal L2 with the dual, and L2
    /// with SD, for l = 2…6.
    Toy(FigureOutput),
    /// The paper's two-moons figures with real networks (its Figures 1 and 2, and the SD panel
    /// of Figure 3) for Δ = −0.1, +0.1 and +0.1 with SD: decision boundaries of the outputs
    /// averaged over seeds after 1000 and 10 000 epochs, |z| of features 2 and 7 overlaid with
    /// the reversal of the settings' order, and the leading responses, mean ± std over seeds.
    Moons(super::moons::MoonsArgs),
    /// Spectral Decoupling with a weight and a margin target per class (the authors' CelebA
    /// setting by default) beside plain SD on the two-moons networks: boundaries, responses,
    /// per-class margins against docs/theory.md §10.1.
    MoonsSdClasses(super::moons_sd_classes::MoonsSdClassesArgs),
    /// The real network against its linearised flow and GD over widths (NTK): gap table and
    /// figures.
    MoonsWidth(super::moons::MoonsWidthArgs),
    /// Gradient starvation with c classes (docs/theory.md §9): a c-output network on c
    /// interleaved spirals against the softmax flow of its feature system — responses of the
    /// class-discriminating features, decision regions by class, and their starvation matrix.
    Multiclass(super::multiclass_net::MulticlassArgs),
    /// The paper's Figure 3: ten remedies on two moons with Δ = +0.1 (none, weight decay,
    /// longer training, Adam ×2, rotated data, dropout, BatchNorm, a deeper network, SD), the
    /// decision boundaries of the seed-averaged outputs and each one's x₂ share.
    Remedies(super::remedies::RemediesArgs),
    /// Out of distribution (the paper's Table 1 protocol, Colored MNIST, on the shipped optical
    /// digits): ERM, SD, SD with class targets and IRM over restarts, train and test accuracy,
    /// and the colour feature in the network's feature system at initialisation.
    Ood(super::ood::OodArgs),
}

/// Run `gstarve reproduce`.
pub fn run_reproduce(r: &Reproduce) -> Result<()> {
    match r {
        Reproduce::Toy(out) => {
            check_output_dir(&out.out)?;
            super::outputs::before_work()?;
            let data = ToyFigureData::compute(&ToySpec::default())?;
            toy_figure(
                &data,
                &out.out,
                &ToyFigureOptions {
                    formats: out.formats,
                    ..Default::default()
                },
            )?;
            Ok(())
        }
        Reproduce::Moons(a) => super::moons::run_moons(a),
        Reproduce::MoonsWidth(a) => super::moons::run_moons_width(a),
        Reproduce::Multiclass(a) => super::multiclass_net::run_multiclass(a),
        Reproduce::Remedies(a) => super::remedies::run_remedies(a),
        Reproduce::MoonsSdClasses(a) => super::moons_sd_classes::run_moons_sd_classes(a),
        Reproduce::Ood(a) => super::ood::run_ood(a),
    }
}

/// `gstarve phase-plane`.
#[derive(Args, Debug)]
pub struct PhasePlaneArgs {
    #[command(flatten)]
    system: SystemArgs,
    /// The two responses to plot, 1-based (e.g. 1,2).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    responses: Vec<usize>,
    /// The main runs (flow, GD, dual, decoupled), the direction field and the nullclines:
    /// --reg, --lambda (default L2, 0.01) and --loss. The dual exists for logistic L2 only.
    #[command(flatten)]
    model: super::ModelArgs,
    /// SD λ of the sd run (always Spectral Decoupling, with --loss).
    #[arg(long, default_value_t = reference::TOY_LAMBDA_SD, allow_negative_numbers = true)]
    sd_lambda: f64,
    /// Curves to overlay: any of flow, gd, dual, sd, decoupled.
    #[arg(long, value_delimiter = ',', default_value = "flow,gd,dual,sd")]
    curves: Vec<String>,
    /// GD step size η [default: 0.05; when that is unstable on the system (docs/theory.md
    /// §3.6), the GD curve is left out with a note].
    #[arg(long, allow_negative_numbers = true)]
    eta: Option<f64>,
    /// Learning time of the flows and GD.
    #[arg(long, default_value_t = reference::TOY_ETA * reference::TOY_STEPS as f64, allow_negative_numbers = true)]
    t_end: f64,
    /// Leave out the direction field (drawn for two-feature systems only: with more features,
    /// the plane is a projection and the field is left out with a note).
    #[arg(long)]
    no_vector_field: bool,
    /// Leave out the nullclines (two-feature systems only, as the field).
    #[arg(long)]
    no_nullclines: bool,
    /// File stem.
    #[arg(long, default_value = "phase-plane")]
    name: String,
    #[command(flatten)]
    output: FigureOutput,
    #[command(flatten)]
    look: FigureLook,
}

/// Render a phase plane.
pub fn run_phase_plane(a: &PhasePlaneArgs) -> Result<()> {
    let (loss, main) = a.model.model()?;
    let (size, loaded) = figure_setup(&a.model, &a.output, &a.look, &a.system)?;
    if a.responses.len() != 2 || a.responses.contains(&0) {
        anyhow::bail!(
            "--responses needs two 1-based indices, e.g. 1,2 (got {:?})",
            a.responses
        );
    }
    let mut curves = PhasePlaneCurves {
        flow: false,
        gd: false,
        dual: false,
        sd: false,
        decoupled: false,
    };
    for c in &a.curves {
        match c.trim() {
            "flow" => curves.flow = true,
            "gd" => curves.gd = true,
            "dual" => curves.dual = true,
            "sd" => curves.sd = true,
            "decoupled" => curves.decoupled = true,
            other => anyhow::bail!(
                "--curves: unknown curve '{other}' (expected flow, gd, dual, sd, decoupled)"
            ),
        }
    }
    let regulariser = match main {
        Regulariser::L2 { .. } => RegulariserKind::L2,
        Regulariser::SpectralDecoupling { .. } => RegulariserKind::SpectralDecoupling,
        Regulariser::None => RegulariserKind::None,
        Regulariser::SpectralDecouplingClasses { .. } => anyhow::bail!(
            "phase-plane draws one λ: Spectral Decoupling with class targets (--sd-target, \
             per-class --lambda) is available in simulate, fixed-point and check"
        ),
    };
    let mut notes = Vec::new();
    let mut eta = reference::TOY_ETA;
    if let (true, Some(mc)) = (curves.dual || curves.decoupled, &loaded.multiclass) {
        let left_out = match (curves.dual, curves.decoupled) {
            (true, true) => "dual path and decoupled system",
            (true, false) => "dual path",
            _ => "decoupled system",
        };
        curves.dual = false;
        curves.decoupled = false;
        notes.push(format!(
            "note: {left_out} left out: not available for a multi-class softmax system ({} \
             classes; docs/theory.md §9.6)",
            mc.classes()
        ));
    }
    if curves.dual && (loss, regulariser) != (Loss::Logistic, RegulariserKind::L2) {
        curves.dual = false;
        notes.push(
            "note: dual path left out: the dual of docs/theory.md §3.5 is that of the logistic \
             loss under L2"
                .to_string(),
        );
    }
    if curves.gd {
        match figure_gd_step(&loaded, loss, main, a.eta, &mut notes)? {
            Some(step) => eta = step,
            None => curves.gd = false,
        }
    }
    if curves.dual && loaded.system.examples() > DualDynamics::MAX_EXAMPLES {
        curves.dual = false;
        notes.push(format!(
            "note: dual path left out: it has one variable per example and needs the n × n Gram \
             matrix (n = {} > {})",
            loaded.system.examples(),
            DualDynamics::MAX_EXAMPLES
        ));
    }
    let rank = loaded.system.rank();
    let planar = rank == 2;
    let drops_field = !(a.no_vector_field && a.no_nullclines);
    if !planar && drops_field {
        notes.push(format!(
            "note: the direction field and nullclines are those of a two-feature system; this one \
             has {rank} features, so the plane shows the paths' projection without them"
        ));
    }
    let spec = PhasePlaneSpec {
        responses: (a.responses[0] - 1, a.responses[1] - 1),
        lambda: a.model.lambda[0],
        loss,
        regulariser,
        sd_lambda: a.sd_lambda,
        curves,
        eta,
        t_end: a.t_end,
        vector_field: planar && !a.no_vector_field,
        nullclines: planar && !a.no_nullclines,
        ..Default::default()
    };
    spec.validate(loaded.system.rank())?;
    super::outputs::before_work()?;
    let data = match &loaded.multiclass {
        Some(mc) => PhasePlaneData::compute_multiclass(mc, &spec)?,
        None => PhasePlaneData::compute(&loaded.system, &spec)?,
    };
    if curves.dual {
        notes.push(format!(
            "note: {}",
            gstarve_core::simulation::DUAL_TIME_NOTE
        ));
    }
    print_notes(&notes);
    phase_plane(
        &data,
        &a.output.out,
        &PhasePlaneOptions {
            name: a.name.clone(),
            formats: a.output.formats,
            size,
            ..Default::default()
        },
    )?;
    Ok(())
}

/// `gstarve responses`.
#[derive(Args, Debug)]
pub struct ResponsesArgs {
    #[command(flatten)]
    system: SystemArgs,
    #[command(flatten)]
    model: super::ModelArgs,
    /// Responses to plot, 1-based [default: the first 12, as many as the palette has distinct
    /// colours; more, listed here, are coloured by a colour map with a colour bar].
    #[arg(long, value_delimiter = ',')]
    responses: Option<Vec<usize>>,
    /// GD step size η [default: 0.05; when that is unstable on the system (docs/theory.md
    /// §3.6), only the flow is drawn, with a note].
    #[arg(long, allow_negative_numbers = true)]
    eta: Option<f64>,
    /// Learning time.
    #[arg(long, default_value_t = reference::TOY_ETA * reference::TOY_STEPS as f64, allow_negative_numbers = true)]
    t_end: f64,
    /// Logarithmic time axis.
    #[arg(long)]
    log_time: bool,
    /// File stem.
    #[arg(long, default_value = "responses")]
    name: String,
    #[command(flatten)]
    output: FigureOutput,
    #[command(flatten)]
    look: FigureLook,
}

/// Render z_j(τ), flow against GD.
pub fn run_responses(a: &ResponsesArgs) -> Result<()> {
    let (loss, regulariser) = a.model.model()?;
    let (size, loaded) = figure_setup(&a.model, &a.output, &a.look, &a.system)?;
    let chosen = match &a.responses {
        Some(list) => {
            if list.contains(&0) {
                anyhow::bail!("--responses are 1-based (got 0)");
            }
            Some(list.iter().map(|j| j - 1).collect())
        }
        None => None,
    };
    let mut notes = Vec::new();
    let gd_step = figure_gd_step(&loaded, loss, regulariser, a.eta, &mut notes)?;
    let spec = ResponsesSpec {
        responses: chosen,
        regulariser,
        loss,
        gd: gd_step.is_some(),
        eta: gd_step.unwrap_or(reference::TOY_ETA),
        t_end: a.t_end,
        log_time: a.log_time,
        ..Default::default()
    };
    super::outputs::before_work()?;
    let data = match &loaded.multiclass {
        Some(mc) => ResponsesData::compute_multiclass(mc, &spec)?,
        None => ResponsesData::compute(&loaded.system, &spec)?,
    };
    print_notes(&notes);
    responses(
        &data,
        &a.output.out,
        &ResponsesOptions {
            name: a.name.clone(),
            formats: a.output.formats,
            size,
            ..Default::default()
        },
    )?;
    Ok(())
}

/// `gstarve starvation-matrix`.
#[derive(Args, Debug)]
pub struct StarvationMatrixArgs {
    #[command(flatten)]
    system: SystemArgs,
    /// The steady state's model: --reg, --lambda (default L2, 0.01) and --loss.
    #[command(flatten)]
    model: super::ModelArgs,
    /// File stem.
    #[arg(long, default_value = "starvation-matrix")]
    name: String,
    #[command(flatten)]
    output: FigureOutput,
    #[command(flatten)]
    look: FigureLook,
}

/// Render the starvation (elasticity) matrix E_ji of a system.
pub fn run_starvation_matrix(a: &StarvationMatrixArgs) -> Result<()> {
    let (loss, regulariser) = a.model.model()?;
    let (size, loaded) = figure_setup(&a.model, &a.output, &a.look, &a.system)?;
    super::outputs::before_work()?;
    let matrix = match &loaded.multiclass {
        Some(mc) => starvation_matrix_multiclass(mc, regulariser)?,
        None => starvation_matrix_of(&loaded.system, loss, regulariser)?,
    };
    starvation_matrix_figure(
        &matrix,
        &a.output.out,
        &StarvationMatrixOptions {
            name: a.name.clone(),
            formats: a.output.formats,
            size,
            ..Default::default()
        },
    )?;
    Ok(())
}

/// `gstarve flow-vs-gd`.
#[derive(Args, Debug)]
pub struct FlowVsGdArgs {
    #[command(flatten)]
    system: SystemArgs,
    #[command(flatten)]
    model: super::ModelArgs,
    /// Step sizes η (default: log-spaced over two decades below the stability bound).
    #[arg(long, value_delimiter = ',')]
    etas: Option<Vec<f64>>,
    /// File stem.
    #[arg(long, default_value = "flow-vs-gd")]
    name: String,
    #[command(flatten)]
    output: FigureOutput,
    #[command(flatten)]
    look: FigureLook,
}

/// Render the largest GD–flow gap against η (log–log, slope-1 reference).
pub fn run_flow_vs_gd(a: &FlowVsGdArgs) -> Result<()> {
    let (loss, regulariser) = a.model.model()?;
    if let Some(bad) = a
        .etas
        .iter()
        .flatten()
        .find(|e| !(e.is_finite() && **e > 0.0))
    {
        anyhow::bail!(
            "--etas: η = {} is invalid: every learning rate must be finite and > 0",
            number(*bad)
        );
    }
    check_output_dir(&a.output.out)?;
    let size = a.look.size(FigureSize::COLUMN)?;
    let loaded = a.system.load_or(|| Ok(reference::paper_toy(4.0)))?;
    let spec = FlowVsGdSpec {
        etas: a.etas.clone(),
        regulariser,
        loss,
        ..Default::default()
    };
    super::outputs::before_work()?;
    let data = FlowVsGdData::compute(&loaded.system, &spec)?;
    if data.spec.gap.t_end < spec.gap.t_end {
        eprintln!(
            "note: a stiff system: the default step sizes reach down to {:.3e}, so GD and the flow \
             are compared up to τ = {:.3e} (at most 10⁵ steps), not {}; give --etas to choose",
            data.gaps.first().map_or(f64::NAN, |g| g.eta),
            data.spec.gap.t_end,
            number(spec.gap.t_end)
        );
    }
    flow_vs_gd(
        &data,
        &a.output.out,
        &FlowVsGdOptions {
            name: a.name.clone(),
            formats: a.output.formats,
            size,
            ..Default::default()
        },
    )?;
    Ok(())
}
