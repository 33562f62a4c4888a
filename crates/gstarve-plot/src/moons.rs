//! The two-moons figures of a [`MoonsExperiment`] (the paper's Figure 2, and Figures 1/3):
//!
//! - `<prefix>-responses`: one panel per setting, the oriented responses of the followed
//!   features over epochs, mean over seeds (line) with a ± 1 standard-deviation band, on shared
//!   axes;
//! - `<prefix>-boundary`: the first seed's network output over [−2, 2]² as a diverging heatmap
//!   (one shared, symmetric colour scale), its zero contour (the decision boundary) and the
//!   training points by class, for the Δ = +0.1 settings without and with SD.
//!
//! The width sweep's figures ([`LinearisationSweep`](gstarve_net::experiments::LinearisationSweep)) are in
//! [`super::linearisation`].

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Scale};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::contour::GridField;
use super::legend::{draw_colour_bar, draw_legend, ColourScale, LegendEntry, Swatch};
use super::style::{self, okabe_ito, ColourMap, Dash, FigureSize};
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

struct BoundaryPlot<'a> {
    panels: Vec<&'a SettingResult>,
    frame: Frame,
    colours: ColourScale,
}

/// Marker colours of the two classes (Okabe–Ito, distinct from the heatmap's blue and red).
const CLASS_NEGATIVE: RGBColor = okabe_ito::SKY_BLUE;
const CLASS_POSITIVE: RGBColor = okabe_ito::ORANGE;

impl BoundaryPlot<'_> {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        s: &SettingResult,
    ) -> std::result::Result<(), DrawError<DB>> {
        let frame = &self.frame;
        let title = format!("{}, seed {}", s.setting.label(), s.boundary.seed);
        let mut chart = frame.chart(area, Some(&title), false)?;
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let (w, h) = ((xr.end - xr.start) as u32, (yr.end - yr.start) as u32);
        let b = &s.boundary;
        let (nx, ny) = (b.x.len(), b.y.len());
        let (x0, x1) = frame.x.plot_range();
        let (y0, y1) = frame.y.plot_range();
        let mut buf = vec![255u8; w as usize * h as usize * 3];
        for py in 0..h as usize {
            let y = y1 - (py as f64 + 0.5) / h as f64 * (y1 - y0);
            let iy = (((y - b.y[0]) / (b.y[ny - 1] - b.y[0]) * (ny - 1) as f64).round() as usize)
                .min(ny - 1);
            for px in 0..w as usize {
                let x = x0 + (px as f64 + 0.5) / w as f64 * (x1 - x0);
                let ix = (((x - b.x[0]) / (b.x[nx - 1] - b.x[0]) * (nx - 1) as f64).round()
                    as usize)
                    .min(nx - 1);
                let c = self.colours.colour(b.output[(iy, ix)]);
                let k = 3 * (py * w as usize + px);
                buf[k..k + 3].copy_from_slice(&[c.0, c.1, c.2]);
            }
        }
        if let Some(image) = BitMapElement::with_owned_buffer((x0, y1), (w, h), buf) {
            chart.plotting_area().draw(&image)?;
        }
        let values: Vec<f64> = (0..ny)
            .flat_map(|r| (0..nx).map(move |c| (r, c)))
            .map(|(r, c)| b.output[(r, c)])
            .collect();
        let field = GridField {
            xs: &b.x,
            ys: &b.y,
            values: &values,
        };
        for line in field.contour(0.0) {
            frame.curve(&mut chart, line, CurveStyle::new(BLACK, Dash::Solid))?;
        }
        let area = chart.plotting_area();
        let (bx, by) = area.get_base_pixel();
        let plain = area.strip_coord_spec();
        for (i, row) in b.data.inputs().row_iter().enumerate() {
            let p = (row[0], row[1]);
            if !frame.contains(p) {
                continue;
            }
            let (px, py) = area.map_coordinate(&frame.to_plot(p));
            let at = (px - bx, py - by);
            let colour = if b.data.labels()[i] > 0.0 {
                CLASS_POSITIVE
            } else {
                CLASS_NEGATIVE
            };
            plain.draw(&Circle::new(at, 5, colour.filled()))?;
            plain.draw(&Circle::new(at, 5, BLACK.stroke_width(1)))?;
        }
        area.draw(&Rectangle::new([(x0, y0), (x1, y1)], BLACK.stroke_width(1)))?;
        Ok(())
    }
}

impl Figure for BoundaryPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, height) = root.dim_in_pixel();
        let (panels, key) = root.split_horizontally(width - KEY_WIDTH);
        let areas = panels.split_evenly((1, self.panels.len()));
        for (area, s) in areas.iter().zip(&self.panels) {
            self.panel(area, s)?;
        }
        let key = key.margin(40, 10, 12, 6);
        let bar_bottom = (height as f64 * 0.42) as i32;
        draw_colour_bar(&key, &self.colours, "network output f(x)", (0, bar_bottom))?;
        let dot = |c| {
            Swatch::Marker(super::axes::Marker {
                shape: super::axes::Shape::Circle,
                colour: c,
                filled: true,
                size: 6,
            })
        };
        let mut entries = vec![
            LegendEntry::new(
                "decision boundary f\u{a0}=\u{a0}0",
                Swatch::Line(CurveStyle::new(BLACK, Dash::Solid)),
            ),
            LegendEntry::new("class y\u{a0}=\u{a0}−1", dot(CLASS_NEGATIVE)),
            LegendEntry::new("class y\u{a0}=\u{a0}+1", dot(CLASS_POSITIVE)),
            LegendEntry::new(
                "red: f\u{a0}>\u{a0}0, blue: f\u{a0}<\u{a0}0; one scale for both panels",
                Swatch::Heading,
            ),
            LegendEntry::new(
                "x₂ share = mean over seeds and points of |∂f/∂x₂|\u{a0}/\u{a0}(|∂f/∂x₁|\u{a0}+\u{a0}|∂f/∂x₂|):",
                Swatch::Heading,
            ),
        ];
        for s in &self.panels {
            entries.push(LegendEntry::new(
                format!("{}: {:.2}", s.setting.label(), s.mean_curved_share()),
                Swatch::Heading,
            ));
        }
        draw_legend(&key, &entries, bar_bottom + 24)?;
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

fn boundary_table(panels: &[&SettingResult]) -> Result<Table> {
    let comment =
        "kind grid: output = f(x1, x2) of the seed's trained network; kind point: output = label y";
    let header = ["setting", "seed", "kind", "x1", "x2", "output"];
    let mut table = Table::with_comments(&[comment], header)?;
    for s in panels {
        let b = &s.boundary;
        let name = Cell::Text(&s.setting.name);
        for (r, &y) in b.y.iter().enumerate() {
            for (c, &x) in b.x.iter().enumerate() {
                table.row([
                    name,
                    Cell::from(b.seed),
                    Cell::Text("grid"),
                    Cell::Sci(x),
                    Cell::Sci(y),
                    Cell::Sci(b.output[(r, c)]),
                ])?;
            }
        }
        for (i, row) in b.data.inputs().row_iter().enumerate() {
            table.row([
                name,
                Cell::from(b.seed),
                Cell::Text("point"),
                Cell::Sci(row[0]),
                Cell::Sci(row[1]),
                Cell::Plain(b.data.labels()[i]),
            ])?;
        }
    }
    Ok(table)
}

/// Draw the responses figure and the decision-boundary figure of `exp`; write
/// `<dir>/<prefix>-responses.{png,svg,csv}` and `<dir>/<prefix>-boundary.{png,svg,csv}`.
///
/// The responses CSV has the columns
/// `setting,margin,sd,epoch,tau,feature,strength_mean,alignment_mean,mean,std,min,max`
/// (feature 1-based; alignment = oriented (Uᵀ1)_j/√n, see [`gstarve_net::experiments::SeedRun`]);
/// the boundary CSV `setting,seed,kind,x1,x2,output`; each CSV's comment goes to its sidecar.
/// The boundary figure shows the settings with Δ > 0 (all settings when there are none).
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
    let mut panels: Vec<&SettingResult> = exp
        .settings
        .iter()
        .filter(|s| s.setting.margin > 0.0)
        .collect();
    if panels.is_empty() {
        panels = exp.settings.iter().collect();
    }
    let a = exp.spec.grid_extent;
    let boundary = BoundaryPlot {
        frame: Frame::new(
            AxisSpec::new("x₁ (folded axis)", -a, a, Scale::Linear),
            AxisSpec::new("x₂", -a, a, Scale::Linear),
        ),
        colours: boundary_colours(&panels),
        panels,
    };
    let boundary = write_figure(
        &boundary,
        dir,
        &format!("{}-boundary", options.prefix),
        FigureSize::new(680 * boundary.panels.len() as u32 + KEY_WIDTH, 720),
        options.formats,
        boundary_table(&boundary.panels)?,
    )?;
    Ok(vec![responses, boundary])
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

/// One symmetric colour scale for the boundary panels: ± the 98th percentile of |f| over the
/// shown grids.
fn boundary_colours(panels: &[&SettingResult]) -> ColourScale {
    let mut magnitudes: Vec<f64> = panels
        .iter()
        .flat_map(|s| s.boundary.output.iter().map(|v| v.abs()))
        .filter(|v| v.is_finite())
        .collect();
    magnitudes.sort_by(f64::total_cmp);
    let p98 = magnitudes
        .get(((magnitudes.len().max(1) - 1) as f64 * 0.98) as usize)
        .copied()
        .unwrap_or(1.0);
    let limit = if p98 > 0.0 { p98 } else { 1.0 };
    let beyond = |out: fn(f64, f64) -> bool| {
        panels
            .iter()
            .any(|s| s.boundary.output.iter().any(|&v| out(v, limit)))
    };
    ColourScale {
        map: ColourMap::Diverging,
        lo: -limit,
        hi: limit,
        scale: Scale::Linear,
        extend_low: beyond(|v, limit| v < -limit),
        extend_high: beyond(|v, limit| v > limit),
        symlog: None,
    }
}
