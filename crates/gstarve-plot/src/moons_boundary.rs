//! The decision-boundary figure of a [`MoonsExperiment`] (the paper's Figure 1, and the SD panel
//! of its Figure 3): for each boundary epoch (rows) and setting (columns), the networks' output
//! over [−a, a]² averaged over the seeds, as a diverging heatmap on one shared symmetric colour
//! scale, its zero contour (the decision boundary of the averaged output, as the authors draw
//! it), and the first seed's training points by class.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, Chart, CurveStyle, DrawError, Frame, Scale};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::contour::GridField;
use super::legend::{draw_colour_bar, draw_legend, ColourScale, LegendEntry, Swatch};
use super::style::{okabe_ito, ColourMap, Dash, FigureSize};
use gstarve_core::error::Result;
use gstarve_core::output::{Cell, Table};
use gstarve_net::data::Dataset;
use gstarve_net::experiments::{DecisionBoundary, MoonsExperiment, SettingResult};

const KEY_WIDTH: u32 = 330;
const PANEL: (u32, u32) = (640, 660);

/// Marker colours of the two classes (Okabe–Ito, distinct from the heatmap's blue and red).
pub(crate) const CLASS_NEGATIVE: RGBColor = okabe_ito::SKY_BLUE;
pub(crate) const CLASS_POSITIVE: RGBColor = okabe_ito::ORANGE;

struct BoundaryPlot<'a> {
    panels: &'a [&'a SettingResult],
    frame: Frame,
    colours: ColourScale,
    rows: usize,
}

/// An output field on a grid: x values, y values and the value at (row along y, column along x).
pub(crate) type OutputField<'a> = (&'a [f64], &'a [f64], &'a dyn Fn(usize, usize) -> f64);

/// On `chart`: the output field `value(row, column)` over the grid `x` × `y` (rows along y) as a
/// heatmap in `colours`, its zero contour (the decision boundary), and `data`'s points by class.
/// Shared by the moons and remedies boundary figures.
pub(crate) fn draw_boundary<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    frame: &Frame,
    colours: &ColourScale,
    (xs, ys, value): OutputField<'_>,
    data: &Dataset,
) -> std::result::Result<(), DrawError<DB>> {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let (w, h) = ((xr.end - xr.start) as u32, (yr.end - yr.start) as u32);
    let (nx, ny) = (xs.len(), ys.len());
    let (x0, x1) = frame.x.plot_range();
    let (y0, y1) = frame.y.plot_range();
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    for py in 0..h as usize {
        let y = y1 - (py as f64 + 0.5) / h as f64 * (y1 - y0);
        let iy =
            (((y - ys[0]) / (ys[ny - 1] - ys[0]) * (ny - 1) as f64).round() as usize).min(ny - 1);
        for px in 0..w as usize {
            let x = x0 + (px as f64 + 0.5) / w as f64 * (x1 - x0);
            let ix = (((x - xs[0]) / (xs[nx - 1] - xs[0]) * (nx - 1) as f64).round() as usize)
                .min(nx - 1);
            let c = colours.colour(value(iy, ix));
            let k = 3 * (py * w as usize + px);
            buf[k..k + 3].copy_from_slice(&[c.0, c.1, c.2]);
        }
    }
    if let Some(image) = BitMapElement::with_owned_buffer((x0, y1), (w, h), buf) {
        chart.plotting_area().draw(&image)?;
    }
    let values: Vec<f64> = (0..ny)
        .flat_map(|r| (0..nx).map(move |c| (r, c)))
        .map(|(r, c)| value(r, c))
        .collect();
    let field = GridField {
        xs,
        ys,
        values: &values,
    };
    for line in field.contour(0.0) {
        frame.curve(chart, line, CurveStyle::new(BLACK, Dash::Solid))?;
    }
    let area = chart.plotting_area();
    let (bx, by) = area.get_base_pixel();
    let plain = area.strip_coord_spec();
    for (i, row) in data.inputs().row_iter().enumerate() {
        let p = (row[0], row[1]);
        if !frame.contains(p) {
            continue;
        }
        let (px, py) = area.map_coordinate(&frame.to_plot(p));
        let at = (px - bx, py - by);
        let colour = if data.labels()[i] > 0.0 {
            CLASS_POSITIVE
        } else {
            CLASS_NEGATIVE
        };
        plain.draw(&Circle::new(at, 4, colour.filled()))?;
        plain.draw(&Circle::new(at, 4, BLACK.stroke_width(1)))?;
    }
    Ok(())
}

impl BoundaryPlot<'_> {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        s: &SettingResult,
        b: &DecisionBoundary,
    ) -> std::result::Result<(), DrawError<DB>> {
        let frame = &self.frame;
        let title = format!("{}, epoch {}", s.setting.label(), b.epoch);
        let mut chart = frame.chart(area, Some(&title), false)?;
        draw_boundary(
            &mut chart,
            frame,
            &self.colours,
            (&b.x, &b.y, &|r, c| b.output[(r, c)]),
            &b.data,
        )?;
        let (x0, x1) = frame.x.plot_range();
        let (y0, y1) = frame.y.plot_range();
        let area = chart.plotting_area();
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
        let areas = panels.split_evenly((self.rows, self.panels.len()));
        for (r, row) in areas.chunks(self.panels.len()).enumerate() {
            for (area, s) in row.iter().zip(self.panels) {
                if let Some(b) = s.boundaries.get(r) {
                    self.panel(area, s, b)?;
                }
            }
        }
        let key = key.margin(40, 10, 12, 6);
        let bar_bottom = (height as f64 * 0.36).min(520.0) as i32;
        draw_colour_bar(
            &key,
            &self.colours,
            "network output f(x), mean over seeds",
            (0, bar_bottom),
        )?;
        let dot = |c| {
            Swatch::Marker(super::axes::Marker {
                shape: super::axes::Shape::Circle,
                colour: c,
                filled: true,
                size: 6,
            })
        };
        let (seeds, seed) = self
            .panels
            .first()
            .and_then(|s| s.boundaries.first())
            .map_or((0, 0), |b| (b.seeds, b.seed));
        let mut entries = vec![
            LegendEntry::new(
                "decision boundary: zero contour of the mean output",
                Swatch::Line(CurveStyle::new(BLACK, Dash::Solid)),
            ),
            LegendEntry::new(format!("class y\u{a0}=\u{a0}−1 (seed {seed}'s data)"), dot(CLASS_NEGATIVE)),
            LegendEntry::new(format!("class y\u{a0}=\u{a0}+1 (seed {seed}'s data)"), dot(CLASS_POSITIVE)),
            LegendEntry::new(
                format!(
                    "outputs of {seeds} networks (seeds 0…{}) averaged on a {}² grid; red: f\u{a0}>\u{a0}0, blue: f\u{a0}<\u{a0}0, one scale for all panels",
                    seeds.saturating_sub(1),
                    self.panels.first().and_then(|s| s.boundaries.first()).map_or(0, |b| b.x.len())
                ),
                Swatch::Heading,
            ),
            LegendEntry::new(
                "x₂ share (final networks) = mean over seeds and points of |∂f/∂x₂|\u{a0}/\u{a0}(|∂f/∂x₁|\u{a0}+\u{a0}|∂f/∂x₂|):",
                Swatch::Heading,
            ),
        ];
        for s in self.panels {
            entries.push(LegendEntry::new(
                format!("{}: {:.2}", s.setting.label(), s.mean_curved_share()),
                Swatch::Heading,
            ));
        }
        draw_legend(&key, &entries, bar_bottom + 24)?;
        Ok(())
    }
}

fn boundary_table(panels: &[&SettingResult]) -> Result<Table> {
    let comment = "kind grid: output = the mean over `seeds` seeds of f(x1, x2) of the networks after `epoch` updates; kind point: the training data of seed `seed`, output = label y (epoch nan)";
    let header = [
        "setting", "seed", "kind", "x1", "x2", "output", "epoch", "seeds",
    ];
    let mut table = Table::with_comments(&[comment], header)?;
    for s in panels {
        let name = Cell::Text(&s.setting.name);
        for b in &s.boundaries {
            for (r, &y) in b.y.iter().enumerate() {
                for (c, &x) in b.x.iter().enumerate() {
                    table.row([
                        name,
                        Cell::from(b.seed),
                        Cell::Text("grid"),
                        Cell::Sci(x),
                        Cell::Sci(y),
                        Cell::Sci(b.output[(r, c)]),
                        Cell::from(b.epoch),
                        Cell::from(b.seeds),
                    ])?;
                }
            }
        }
        if let Some(b) = s.boundaries.first() {
            for (i, row) in b.data.inputs().row_iter().enumerate() {
                table.row([
                    name,
                    Cell::from(b.seed),
                    Cell::Text("point"),
                    Cell::Sci(row[0]),
                    Cell::Sci(row[1]),
                    Cell::Plain(b.data.labels()[i]),
                    Cell::FiniteSci(f64::NAN),
                    Cell::from(b.seeds),
                ])?;
            }
        }
    }
    Ok(table)
}

/// One symmetric colour scale for the boundary panels: ± the 98th percentile of |f| over the
/// shown grids.
fn boundary_colours(panels: &[&SettingResult]) -> ColourScale {
    let grids = || panels.iter().flat_map(|s| s.boundaries.iter());
    let mut magnitudes: Vec<f64> = grids()
        .flat_map(|b| b.output.iter().map(|v| v.abs()))
        .filter(|v| v.is_finite())
        .collect();
    magnitudes.sort_by(f64::total_cmp);
    let p98 = magnitudes
        .get(((magnitudes.len().max(1) - 1) as f64 * 0.98) as usize)
        .copied()
        .unwrap_or(1.0);
    let limit = if p98 > 0.0 { p98 } else { 1.0 };
    let beyond =
        |out: fn(f64, f64) -> bool| grids().any(|b| b.output.iter().any(|&v| out(v, limit)));
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

/// Draw `<dir>/<name>.{png,svg,csv}`: every setting of `exp` (columns) at every boundary epoch
/// (rows). CSV columns `setting,seed,kind,x1,x2,output,epoch,seeds`.
pub(crate) fn boundary_figure(
    exp: &MoonsExperiment,
    dir: &Path,
    name: &str,
    formats: Formats,
) -> Result<Written> {
    let panels: Vec<&SettingResult> = exp.settings.iter().collect();
    let rows = exp.spec.boundary_epochs.len().max(1);
    let a = exp.spec.grid_extent;
    let plot = BoundaryPlot {
        frame: Frame::new(
            AxisSpec::new("x₁ (folded axis)", -a, a, Scale::Linear),
            AxisSpec::new("x₂", -a, a, Scale::Linear),
        ),
        colours: boundary_colours(&panels),
        panels: &panels,
        rows,
    };
    write_figure(
        &plot,
        dir,
        name,
        FigureSize::new(
            PANEL.0 * panels.len() as u32 + KEY_WIDTH,
            PANEL.1 * rows as u32 + 40,
        ),
        formats,
        boundary_table(&panels)?,
    )
}
