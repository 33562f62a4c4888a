//! The figures of a [`RemediesExperiment`] (the paper's Figure 3):
//!
//! - `<prefix>-boundary`: ten (or however many) panels in two rows, each the output averaged
//!   over the seeds as a diverging heatmap over [−2, 2]², scaled per panel (f divided by the
//!   98th percentile of |f| in that panel, so that SD's small outputs and the unregularised
//!   networks' large ones show alike), its zero contour (the decision boundary), the first
//!   seed's training points by class, and the panel's x₂ share;
//! - `<prefix>`: the x₂ share of every panel, one row each: each seed's value as a dot, the mean
//!   as a bar with ± 1 standard deviation. Its CSV is the experiment's summary, one row per
//!   panel.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Marker, Scale, Shape};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::legend::{draw_colour_bar, draw_legend, ColourScale, LegendEntry, Swatch};
use super::moons_boundary::{draw_boundary, CLASS_NEGATIVE, CLASS_POSITIVE};
use super::style::{self, okabe_ito, ColourMap, Dash, FigureSize};
use super::ticks::format_compact;
use gstarve_core::error::{Error, OutputError, Result};
use gstarve_core::output::{Cell, Table};
use gstarve_net::experiments::remedies::{RemediesExperiment, Remedy, RemedyResult};

/// Options of [`remedies_figures`].
#[derive(Clone, Debug, PartialEq)]
pub struct RemediesFigureOptions {
    /// File-name prefix (default `remedies`).
    pub prefix: String,
    /// Image formats (default PNG).
    pub formats: Formats,
}

impl Default for RemediesFigureOptions {
    fn default() -> Self {
        Self {
            prefix: "remedies".into(),
            formats: Formats::PNG,
        }
    }
}

const KEY_WIDTH: u32 = 360;
const PANEL_WIDTH: u32 = 470;
const PANEL_HEIGHT: u32 = 500;

/// The 98th percentile of |f| over a panel's grid (1 when it is 0 or not finite).
fn panel_scale(p: &RemedyResult) -> f64 {
    let mut magnitudes: Vec<f64> = p
        .mean_output
        .iter()
        .map(|v| v.abs())
        .filter(|v| v.is_finite())
        .collect();
    magnitudes.sort_by(f64::total_cmp);
    let p98 = magnitudes
        .get(((magnitudes.len().max(1) - 1) as f64 * 0.98) as usize)
        .copied()
        .unwrap_or(1.0);
    if p98 > 0.0 {
        p98
    } else {
        1.0
    }
}

fn letter(k: usize) -> char {
    char::from(b'a' + (k % 26) as u8)
}

struct BoundaryPanels<'a> {
    exp: &'a RemediesExperiment,
    frame: Frame,
    colours: ColourScale,
}

impl BoundaryPanels<'_> {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        k: usize,
        p: &RemedyResult,
    ) -> std::result::Result<(), DrawError<DB>> {
        let frame = &self.frame;
        let title = format!("({}) {}", letter(k), p.remedy.label());
        let mut chart = frame.chart(area, Some(&title), false)?;
        let scale = panel_scale(p);
        draw_boundary(
            &mut chart,
            frame,
            &self.colours,
            (&p.x, &p.y, &|r, c| p.mean_output[(r, c)] / scale),
            &p.data,
        )?;
        let (x0, x1) = frame.x.plot_range();
        let (y0, y1) = frame.y.plot_range();
        let area = chart.plotting_area();
        let plain = area.strip_coord_spec();
        // The share in a white box at the bottom left.
        let (mean, std, _, _) = p.share();
        let text = format!("x₂ share {mean:.2} ± {std:.2}");
        let font = style::font(style::text::LEGEND);
        let (tw, th) = plain.estimate_text_size(&text, &font).unwrap_or((200, 20));
        let (pw, ph) = plain.dim_in_pixel();
        let (left, bottom) = (6, ph as i32 - 6);
        let top = bottom - th as i32 - 10;
        plain.draw(&Rectangle::new(
            [(left, top), (left + tw as i32 + 12, bottom)],
            WHITE.mix(0.85).filled(),
        ))?;
        plain.draw(&Text::new(text, (left + 6, top + 5), font))?;
        let _ = pw;
        area.draw(&Rectangle::new([(x0, y0), (x1, y1)], BLACK.stroke_width(1)))?;
        Ok(())
    }
}

impl Figure for BoundaryPanels<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, height) = root.dim_in_pixel();
        let (panels, key) = root.split_horizontally(width - KEY_WIDTH);
        let count = self.exp.panels.len();
        let columns = count.div_ceil(2).max(1);
        let rows = if count > 1 { 2 } else { 1 };
        let areas = panels.split_evenly((rows, columns));
        for (k, (area, p)) in areas.iter().zip(&self.exp.panels).enumerate() {
            self.panel(area, k, p)?;
        }
        let key = key.margin(40, 10, 12, 6);
        let bar_bottom = (height as f64 * 0.40) as i32;
        draw_colour_bar(
            &key,
            &self.colours,
            "f(x) / (98th percentile of |f| in the panel)",
            (0, bar_bottom),
        )?;
        let dot = |c| {
            Swatch::Marker(Marker {
                shape: Shape::Circle,
                colour: c,
                filled: true,
                size: 6,
            })
        };
        let spec = &self.exp.spec;
        let entries = vec![
            LegendEntry::new(
                "decision boundary f\u{a0}=\u{a0}0",
                Swatch::Line(CurveStyle::new(BLACK, Dash::Solid)),
            ),
            LegendEntry::new("class y\u{a0}=\u{a0}−1", dot(CLASS_NEGATIVE)),
            LegendEntry::new("class y\u{a0}=\u{a0}+1", dot(CLASS_POSITIVE)),
            LegendEntry::new(
                format!(
                    "f: output averaged over {} seed{}; points: seed 0's data",
                    spec.seeds,
                    if spec.seeds == 1 { "" } else { "s" }
                ),
                Swatch::Heading,
            ),
            LegendEntry::new(
                "x₂ share: mean ± std over seeds of |∂f/∂e₂|\u{a0}/\u{a0}(|∂f/∂e₁|\u{a0}+\u{a0}|∂f/∂e₂|) at the training points; e₁ the folded axis, e₂ the curved one (rotated with the data)",
                Swatch::Heading,
            ),
            LegendEntry::new(
                format!(
                    "Δ\u{a0}=\u{a0}+{}, n\u{a0}=\u{a0}{}, width {}, SGD lr {} momentum {}, {} epochs, unless the panel says otherwise",
                    format_compact(spec.margin),
                    spec.n,
                    spec.width,
                    format_compact(spec.learning_rate),
                    format_compact(spec.momentum),
                    spec.epochs
                ),
                Swatch::Heading,
            ),
        ];
        draw_legend(&key, &entries, bar_bottom + 24)?;
        Ok(())
    }
}

struct SharePlot<'a> {
    exp: &'a RemediesExperiment,
    frame: Frame,
}

impl Figure for SharePlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let frame = &self.frame;
        let mut chart = frame.chart(
            root,
            Some("How curved is the boundary? x₂ share per remedy (Δ = +0.1)"),
            false,
        )?;
        let count = self.exp.panels.len();
        for (k, p) in self.exp.panels.iter().enumerate() {
            // Row k from the top: plot coordinate count − 1 − k.
            let row = (count - 1 - k) as f64;
            let (mean, std, _, _) = p.share();
            let colour = if matches!(p.remedy, Remedy::SpectralDecoupling(_)) {
                okabe_ito::VERMILLION
            } else {
                okabe_ito::BLUE
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, row - 0.32), (mean, row + 0.32)],
                colour.mix(0.45).filled(),
            )))?;
            frame.curve(
                &mut chart,
                [(mean - std, row), (mean + std, row)],
                CurveStyle::new(BLACK, Dash::Solid),
            )?;
            for r in &p.runs {
                frame.marker(
                    &mut chart,
                    (r.curved_share, row),
                    Marker {
                        size: 5,
                        ..Marker::new(Shape::Circle, colour, true)
                    },
                )?;
            }
        }
        Ok(())
    }
}

fn boundary_table(exp: &RemediesExperiment) -> Result<Table> {
    let comment = format!(
        "kind grid: value = the network output f(x1, x2) averaged over {} seeds (evaluation mode); kind point: value = label y of the first seed's training data",
        exp.spec.seeds
    );
    let mut table = Table::with_comments(&[&comment], ["setting", "kind", "x1", "x2", "value"])?;
    for p in &exp.panels {
        let name = p.remedy.name();
        for (r, &y) in p.y.iter().enumerate() {
            for (c, &x) in p.x.iter().enumerate() {
                table.row([
                    Cell::Text(&name),
                    Cell::Text("grid"),
                    Cell::Sci(x),
                    Cell::Sci(y),
                    Cell::Sci(p.mean_output[(r, c)]),
                ])?;
            }
        }
        for (i, row) in p.data.inputs().row_iter().enumerate() {
            table.row([
                Cell::Text(&name),
                Cell::Text("point"),
                Cell::Sci(row[0]),
                Cell::Sci(row[1]),
                Cell::Plain(p.data.labels()[i]),
            ])?;
        }
    }
    Ok(table)
}

/// The experiment's summary, one row per panel (the share figure's data).
pub fn remedies_table(exp: &RemediesExperiment) -> Result<Table> {
    let comment = "x2_share: mean over the training points of |df/de2| / (|df/de1| + |df/de2|) (central differences, h = 1e-5), e1 the folded axis and e2 the curved axis rotated with the data, per seed; statistics over seeds (std: population); train_accuracy and final_loss (mean logistic + SD term) in evaluation mode; wall_s: the panel's runs summed (they run in parallel)";
    let header = [
        "setting",
        "label",
        "engine",
        "layers",
        "width",
        "optimiser",
        "learning_rate",
        "momentum",
        "weight_decay",
        "dropout",
        "batch_norm",
        "sd",
        "rotation_degrees",
        "epochs",
        "seeds",
        "x2_share_mean",
        "x2_share_std",
        "x2_share_min",
        "x2_share_max",
        "train_accuracy_mean",
        "train_accuracy_min",
        "final_loss_mean",
        "wall_s",
    ];
    let mut table = Table::with_comments(&[comment], header)?;
    let spec = &exp.spec;
    for p in &exp.panels {
        let r = p.remedy;
        let (layers, width) = match r {
            Remedy::Deeper { layers, width } => (layers, width),
            _ => (2, spec.width),
        };
        let (optimiser, lr, momentum) = match r {
            Remedy::Adam(lr) => ("adam", lr, f64::NAN),
            _ => ("sgd", spec.learning_rate, spec.momentum),
        };
        let weight_decay = if let Remedy::WeightDecay(wd) = r {
            wd
        } else {
            0.0
        };
        let dropout = if let Remedy::Dropout(p) = r { p } else { 0.0 };
        let sd = if let Remedy::SpectralDecoupling(c) = r {
            c
        } else {
            0.0
        };
        let (name, label) = (r.name(), r.label());
        let (s_mean, s_std, s_min, s_max) = p.share();
        let (a_mean, _, a_min, _) = p.accuracy();
        table.row([
            Cell::Text(&name),
            Cell::Text(&label),
            Cell::Text(r.engine().name()),
            Cell::from(layers),
            Cell::from(width),
            Cell::Text(optimiser),
            Cell::Plain(lr),
            Cell::Plain(momentum),
            Cell::Plain(weight_decay),
            Cell::Plain(dropout),
            Cell::Text(if r == Remedy::BatchNorm {
                "true"
            } else {
                "false"
            }),
            Cell::Plain(sd),
            Cell::Plain(r.rotation()),
            Cell::from(p.epochs),
            Cell::from(p.runs.len()),
            Cell::Sci(s_mean),
            Cell::Sci(s_std),
            Cell::Sci(s_min),
            Cell::Sci(s_max),
            Cell::Sci(a_mean),
            Cell::Sci(a_min),
            Cell::Sci(p.mean_final_loss()),
            Cell::Sci(p.wall_s()),
        ])?;
    }
    Ok(table)
}

/// Draw the boundary panels and the share chart of `exp`; write
/// `<dir>/<prefix>-boundary.{png,svg,csv}` (CSV `setting,kind,x1,x2,value`) and
/// `<dir>/<prefix>.{png,svg,csv}` (CSV: [`remedies_table`], one row per panel); each CSV's
/// comment goes to its sidecar.
pub fn remedies_figures(
    exp: &RemediesExperiment,
    dir: &Path,
    options: &RemediesFigureOptions,
) -> Result<Vec<Written>> {
    if exp.panels.is_empty() {
        return Err(Error::Output(OutputError::EmptyFigure {
            figure: format!("{}-boundary", options.prefix),
        }));
    }
    let a = exp.spec.grid_extent;
    let count = exp.panels.len() as u32;
    let columns = count.div_ceil(2).max(1);
    let rows = if count > 1 { 2 } else { 1 };
    let boundary = write_figure(
        &BoundaryPanels {
            exp,
            frame: Frame::new(
                AxisSpec::new("x₁", -a, a, Scale::Linear),
                AxisSpec::new("x₂", -a, a, Scale::Linear),
            ),
            colours: ColourScale {
                map: ColourMap::Diverging,
                lo: -1.0,
                hi: 1.0,
                scale: Scale::Linear,
                extend_low: true,
                extend_high: true,
                symlog: None,
            },
        },
        dir,
        &format!("{}-boundary", options.prefix),
        FigureSize::new(PANEL_WIDTH * columns + KEY_WIDTH, PANEL_HEIGHT * rows),
        options.formats,
        boundary_table(exp)?,
    )?;
    let top = exp
        .panels
        .iter()
        .flat_map(|p| p.runs.iter().map(|r| r.curved_share))
        .filter(|v| v.is_finite())
        .fold(0.5f64, f64::max);
    let ticks: Vec<(f64, String)> = exp
        .panels
        .iter()
        .enumerate()
        .map(|(k, p)| {
            (
                (exp.panels.len() - 1 - k) as f64,
                format!("({}) {}", letter(k), p.remedy.label()),
            )
        })
        .collect();
    let share = write_figure(
        &SharePlot {
            exp,
            frame: Frame::new(
                AxisSpec::new(
                    "x₂ share (dots: seeds; bar: mean; line: ± 1 std)",
                    0.0,
                    (top * 1.1).min(1.0),
                    Scale::Linear,
                ),
                AxisSpec::new("", -0.6, count as f64 - 0.4, Scale::Linear).with_ticks(ticks),
            ),
        },
        dir,
        &options.prefix,
        FigureSize::new(1500, 160 + 70 * count),
        options.formats,
        remedies_table(exp)?,
    )?;
    Ok(vec![boundary, share])
}
