//! The two-moons figures of a [`MoonsExperiment`] (the paper's Figures 1 and 2, and the SD panel
//! of its Figure 3):
//!
//! - `<prefix>-responses`: one panel per setting, the oriented responses of the followed
//!   features over epochs, mean over seeds (line) with a ± 1 standard-deviation band, on shared
//!   axes;
//! - `<prefix>-boundary` ([`super::moons_boundary`]): the outputs averaged over the seeds on a
//!   grid of [−2, 2]², every setting at every boundary epoch (Figure 1: Δ = ∓0.1);
//! - `<prefix>-features` and `<prefix>-reversal.csv` ([`super::moons_paper`]): the paper's
//!   Figure 2 panel, |z| of features 2 and 7 averaged over seeds with the settings overlaid, and
//!   the reversal of the settings' order between them.
//!
//! The width sweep's figures ([`LinearisationSweep`](gstarve_net::experiments::LinearisationSweep)) are in
//! [`super::linearisation`].

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Scale};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::legend::{draw_legend, LegendEntry, Swatch};
use super::style::{self, okabe_ito, Dash, FigureSize};
use super::ticks::{format_compact, subscript};
use gstarve_core::error::{Error, OutputError, Result};
use gstarve_core::output::{Cell, Table};
use gstarve_net::experiments::{MoonsExperiment, SettingResult};

/// Options of [`moons_figures`] (and of the width sweep's figures).
#[derive(Clone, Debug, PartialEq)]
pub struct MoonsFigureOptions {
    /// File-name prefix (default `moons`).
    pub prefix: String,
    /// Image formats (default PNG).
    pub formats: Formats,
}

impl Default for MoonsFigureOptions {
    fn default() -> Self {
        Self {
            prefix: "moons".into(),
            formats: Formats::PNG,
        }
    }
}

const KEY_WIDTH: u32 = 330;
/// Opacity of the ± std bands.
const BAND_ALPHA: f64 = 0.22;

/// The caption shared by the figures' keys and the CSV headers.
pub const ORIENTATION_NOTE: &str = "feature j = the j-th singular direction of each seed's own YΦ at initialisation, its sign flipped so that the final response is positive";

struct ResponsesPlot<'a> {
    exp: &'a MoonsExperiment,
    frames: Frame,
}

impl ResponsesPlot<'_> {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        s: &SettingResult,
    ) -> std::result::Result<(), DrawError<DB>> {
        let frame = &self.frames;
        let mut chart = frame.chart(area, Some(&s.setting.label()), true)?;
        let x: Vec<f64> = s.epochs.iter().map(|&k| k as f64).collect();
        for (k, _) in self.exp.spec.features.iter().enumerate() {
            let colour = style::series_colour(k);
            let mut polygon: Vec<(f64, f64)> = x
                .iter()
                .zip(&s.bands)
                .map(|(&e, b)| frame.to_plot((e, b[k].mean + b[k].std)))
                .collect();
            polygon.extend(
                x.iter()
                    .zip(&s.bands)
                    .rev()
                    .map(|(&e, b)| frame.to_plot((e, b[k].mean - b[k].std))),
            );
            chart.draw_series(std::iter::once(Polygon::new(
                polygon,
                colour.mix(BAND_ALPHA).filled(),
            )))?;
        }
        for (k, _) in self.exp.spec.features.iter().enumerate() {
            let colour = style::series_colour(k);
            let pts = x.iter().zip(&s.bands).map(|(&e, b)| (e, b[k].mean));
            frame.curve(&mut chart, pts, CurveStyle::new(colour, Dash::Solid))?;
        }
        Ok(())
    }
}

impl Figure for ResponsesPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, _) = root.dim_in_pixel();
        let (panels, key) = root.split_horizontally(width - KEY_WIDTH);
        let count = self.exp.settings.len();
        let areas = panels.split_evenly((1, count));
        for (area, s) in areas.iter().zip(&self.exp.settings) {
            self.panel(area, s)?;
        }
        let spec = &self.exp.spec;
        let mut entries: Vec<LegendEntry> = spec
            .features
            .iter()
            .enumerate()
            .map(|(k, &j)| {
                // Means over seeds and settings (each seed has its own basis).
                let mean = |f: &dyn Fn(&gstarve_net::experiments::SeedRun) -> f64| {
                    let all: Vec<f64> = self
                        .exp
                        .settings
                        .iter()
                        .flat_map(|s| s.runs.iter().map(f))
                        .collect();
                    all.iter().sum::<f64>() / all.len().max(1) as f64
                };
                let (s, a) = (mean(&|r| r.strengths[k]), mean(&|r| r.alignments[k].abs()));
                LegendEntry::new(
                    format!(
                        "z{} (s{}\u{a0}≈\u{a0}{}, |Uᵀ1|/√n\u{a0}≈\u{a0}{:.2})",
                        subscript(j + 1),
                        subscript(j + 1),
                        format_compact((s * 10.0).round() / 10.0),
                        a
                    ),
                    Swatch::Patch(style::series_colour(k)),
                )
            })
            .collect();
        entries.push(LegendEntry::new(
            format!("line: mean over {} seeds", spec.seeds),
            Swatch::Line(CurveStyle::new(okabe_ito::BLACK, Dash::Solid)),
        ));
        entries.push(LegendEntry::new(
            "band: mean ± 1 std (over seeds)",
            Swatch::Patch(RGBColor(200, 200, 200)),
        ));
        entries.push(LegendEntry::new(ORIENTATION_NOTE, Swatch::Heading));
        entries.push(LegendEntry::new(
            format!(
                "width {}, n\u{a0}=\u{a0}{}, lr {}, momentum {}, wd {}",
                spec.network.width,
                spec.n,
                format_compact(spec.training.learning_rate),
                format_compact(spec.training.momentum),
                format_compact(spec.training.weight_decay)
            ),
            Swatch::Heading,
        ));
        draw_legend(&key.margin(40, 10, 12, 6), &entries, 0)?;
        Ok(())
    }
}

fn responses_table(exp: &MoonsExperiment) -> Result<Table> {
    let comment = format!(
        "{ORIENTATION_NOTE}; statistics over {} seeds (std: population)",
        exp.spec.seeds
    );
    let header = [
        "setting",
        "margin",
        "sd",
        "epoch",
        "tau",
        "feature",
        "strength_mean",
        "alignment_mean",
        "mean",
        "std",
        "min",
        "max",
    ];
    let mut table = Table::with_comments(&[&comment], header)?;
    for s in &exp.settings {
        let (strengths, alignments) = (s.mean_strengths(), s.mean_alignments());
        for (k, &j) in exp.spec.features.iter().enumerate() {
            for ((&e, &t), b) in s.epochs.iter().zip(&s.tau).zip(&s.bands) {
                let b = b[k];
                table.row([
                    Cell::Text(&s.setting.name),
                    Cell::Plain(s.setting.margin),
                    Cell::Plain(s.setting.spectral_decoupling),
                    Cell::from(e),
                    Cell::Sci(t),
                    Cell::from(j + 1),
                    Cell::Sci(strengths[k]),
                    Cell::Sci(alignments[k]),
                    Cell::Sci(b.mean),
                    Cell::Sci(b.std),
                    Cell::Sci(b.min),
                    Cell::Sci(b.max),
                ])?;
            }
        }
    }
    Ok(table)
}

/// Draw the figures of `exp` and write, in `dir`:
///
/// - `<prefix>-responses.{png,svg,csv}`, CSV columns
///   `setting,margin,sd,epoch,tau,feature,strength_mean,alignment_mean,mean,std,min,max`
///   (feature 1-based; alignment = oriented (Uᵀ1)_j/√n, see [`gstarve_net::experiments::SeedRun`]);
/// - `<prefix>-boundary.{png,svg,csv}`, every setting at every boundary epoch, CSV
///   `setting,seed,kind,x1,x2,output,epoch,seeds`;
/// - `<prefix>-features.{png,svg,csv}` (when the spec has overlay features), CSV
///   `setting,margin,sd,epoch,tau,feature,abs_mean,abs_std,abs_min,abs_max`;
/// - `<prefix>-reversal.csv` (when `exp` has the paper's three settings and two overlay
///   features), one row per feature: see [`super::moons_paper`].
///
/// Each CSV's comment goes to its sidecar.
pub fn moons_figures(
    exp: &MoonsExperiment,
    dir: &Path,
    options: &MoonsFigureOptions,
) -> Result<Vec<Written>> {
    if exp.settings.is_empty() {
        return Err(Error::Output(OutputError::EmptyFigure {
            figure: format!("{}-responses", options.prefix),
        }));
    }
    let responses = write_figure(
        &ResponsesPlot {
            exp,
            frames: responses_frame(exp),
        },
        dir,
        &format!("{}-responses", options.prefix),
        FigureSize::new(640 * exp.settings.len() as u32 + KEY_WIDTH, 700),
        options.formats,
        responses_table(exp)?,
    )?;
    let boundary = super::moons_boundary::boundary_figure(
        exp,
        dir,
        &format!("{}-boundary", options.prefix),
        options.formats,
    )?;
    let mut written = vec![responses, boundary];
    written.extend(super::moons_paper::paper_figures(exp, dir, options)?);
    Ok(written)
}

/// The axes shared by every panel of the responses figure: epochs, and the range of
/// mean ± std over all settings and features with 0, padded by 4 %.
fn responses_frame(exp: &MoonsExperiment) -> Frame {
    let mut lo: f64 = 0.0;
    let mut hi: f64 = 0.0;
    for s in &exp.settings {
        for b in s.bands.iter().flatten() {
            lo = lo.min(b.mean - b.std);
            hi = hi.max(b.mean + b.std);
        }
    }
    let span = if hi > lo { hi - lo } else { 1.0 };
    let last_epoch = exp.spec.training.epochs as f64;
    Frame::new(
        AxisSpec::new("epoch", 0.0, last_epoch, Scale::Linear),
        AxisSpec::new(
            "response zⱼ (oriented)",
            lo - 0.04 * span,
            hi + 0.04 * span,
            Scale::Linear,
        ),
    )
}
