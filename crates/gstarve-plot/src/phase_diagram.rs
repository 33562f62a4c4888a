//! Starvation phase diagram (docs/theory.md §7.3): a heatmap of a measure over the grid of a
//! [`PhaseDiagram`], with a colour bar, the phase boundary (E₂₁ = 0, or ratio = 1) and the curve
//! where the measure's denominator vanishes drawn by marching squares, masked cells in grey and
//! counted in the key.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Scale};
use super::canvas::{write_figure_with, Figure, Formats, Written};
use super::contour::{GridField, LabelledContour};
use super::legend::{draw_colour_bar, draw_legend, ColourScale, LegendEntry, Swatch};
use super::style::{self, ColourMap, Dash, FigureSize};
use super::ticks::{format_compact, format_significant, subscript};
use gstarve_core::error::{Error, OutputError, Result};
use gstarve_core::output::Table;
use gstarve_core::sweeps::{
    Axis, MaskReason, Measure, Parameter, PhaseDiagram, PointRecord, SdMatching, Spacing,
    SystemAxis, SystemDiagram,
};
use std::collections::BTreeMap;

/// Options of [`phase_diagram_figure`].
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseDiagramOptions {
    /// File stem (default `phase-diagram`).
    pub name: String,
    /// Pixel size (default one column).
    pub size: FigureSize,
    /// Image formats (default PNG).
    pub formats: Formats,
    /// Title (default: the measure's label).
    pub title: Option<String>,
    /// Colour limits (default: the data range; symmetric about the neutral value for E₂₁ and
    /// the ratios, at the 98th percentile when a few outliers would wash out the rest).
    pub limits: Option<(f64, f64)>,
    /// A logarithmic colour scale (positive measures such as τ₉₀ only).
    pub log_colour: bool,
}

impl Default for PhaseDiagramOptions {
    fn default() -> Self {
        Self {
            name: "phase-diagram".into(),
            size: FigureSize::COLUMN,
            formats: Formats::PNG,
            title: None,
            limits: None,
            log_colour: false,
        }
    }
}

/// Width of the key panel right of the plot.
const KEY_WIDTH: u32 = 300;

/// The measure's symbol for the pair (j, i) (1-based; (2, 1) in the rotation family).
fn symbol(measure: Measure, (j, i): (usize, usize)) -> String {
    let (j, i) = (subscript(j), subscript(i));
    match measure {
        Measure::Elasticity => format!("E{j}{i}"),
        Measure::StarvationRatio => "ρ".to_string(),
        Measure::SdRecovery(_) => format!("z{j}*(SD)/z{j}*(L2)"),
        Measure::LearningTime => "τ₉₀".to_string(),
        Measure::MaxMargin => format!("E{j}{i} (λ → 0)"),
    }
}

/// Meaning of the low and high ends of a diverging scale.
fn ends(measure: Measure, (j, i): (usize, usize)) -> Option<(String, String)> {
    let e = symbol(Measure::Elasticity, (j, i));
    match measure {
        Measure::Elasticity => Some((
            format!("blue: {e}\u{a0}<\u{a0}0, starvation"),
            format!("red: {e}\u{a0}>\u{a0}0, enhancement"),
        )),
        Measure::StarvationRatio => Some((
            "blue: ρ\u{a0}<\u{a0}1, starved".to_string(),
            "red: ρ\u{a0}>\u{a0}1, enhanced".to_string(),
        )),
        Measure::SdRecovery(_) => Some((
            "blue: SD below L2".to_string(),
            format!("red: SD recovers z{}", subscript(j)),
        )),
        Measure::LearningTime => None,
        Measure::MaxMargin => Some((
            format!("blue: {e}\u{a0}<\u{a0}0, starvation survives"),
            format!("red: {e}\u{a0}>\u{a0}0 (never occurs)"),
        )),
    }
}

/// Meaning of a region at the neutral value, for measures where whole regions sit there.
fn neutral_phase(measure: Measure, pair: (usize, usize)) -> Option<String> {
    let e = symbol(Measure::Elasticity, pair);
    match measure {
        // docs/theory.md §11.2: every example a support vector, ẑ = Uᵀ1 whatever the strengths.
        Measure::MaxMargin => Some(format!(
            "white: {e}\u{a0}=\u{a0}0, every example a support vector: no starvation in the limit"
        )),
        _ => None,
    }
}

/// The axis of a sweep, extended by half a cell on each side so cells are centred on points.
fn cell_axis(axis: &Axis) -> AxisSpec {
    cell_axis_of(
        axis.parameter.label(),
        axis.start,
        axis.end,
        axis.points,
        axis.spacing,
    )
}

/// [`cell_axis`] of a system's sweep.
fn system_cell_axis(axis: &SystemAxis) -> AxisSpec {
    let label = axis.parameter.label();
    cell_axis_of(&label, axis.start, axis.end, axis.points, axis.spacing)
}

fn cell_axis_of(label: &str, start: f64, end: f64, points: usize, spacing: Spacing) -> AxisSpec {
    let scale = match spacing {
        Spacing::Linear => Scale::Linear,
        Spacing::Log => Scale::Log,
    };
    let spec = AxisSpec::new(label, start, end, scale);
    let (a, b) = spec.plot_range();
    let half = if points > 1 {
        0.5 * (b - a) / (points - 1) as f64
    } else {
        0.5 * a.abs().max(1.0) * 0.1
    };
    let back = |v: f64| match scale {
        Scale::Linear => v,
        Scale::Log => 10f64.powf(v),
    };
    AxisSpec::new(label, back(a - half), back(b + half), scale)
}

/// What a diagram figure draws, from a rotation-family or a system diagram.
struct DiagramView<'a> {
    measure: Measure,
    /// The pair (j, i), 1-based, of the measure's symbols.
    pair: (usize, usize),
    x: &'a [f64],
    y: &'a [f64],
    points: &'a [PointRecord],
    masked: &'a BTreeMap<MaskReason, usize>,
    /// The values held fixed, for the key.
    fixed: String,
}

fn colour_scale(diagram: &DiagramView, options: &PhaseDiagramOptions) -> Result<ColourScale> {
    let values: Vec<f64> = diagram
        .points
        .iter()
        .map(|p| p.value)
        .filter(|v| v.is_finite() && (!options.log_colour || *v > 0.0))
        .collect();
    if values.is_empty() {
        return Err(Error::Output(OutputError::EmptyFigure {
            figure: options.name.clone(),
        }));
    }
    let measure = diagram.measure;
    let (map, (lo, hi)) = match (options.limits, measure.neutral_value()) {
        (Some(l), None) => (ColourMap::Sequential, l),
        (Some(l), Some(_)) => (ColourMap::Diverging, l),
        (None, Some(c)) => {
            let mut dev: Vec<f64> = values.iter().map(|v| (v - c).abs()).collect();
            dev.sort_by(f64::total_cmp);
            let max = dev[dev.len() - 1];
            let p98 = dev[((dev.len() - 1) as f64 * 0.98) as usize];
            let half = if max > 3.0 * p98 && p98 > 0.0 {
                p98
            } else {
                max
            };
            let half = if half > 0.0 { half } else { 1.0 };
            (ColourMap::Diverging, (c - half, c + half))
        }
        (None, None) => {
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let hi = if hi > lo { hi } else { lo + 1.0 };
            (ColourMap::Sequential, (lo, hi))
        }
    };
    Ok(ColourScale {
        map,
        lo,
        hi,
        scale: if options.log_colour {
            Scale::Log
        } else {
            Scale::Linear
        },
        extend_low: values.iter().any(|&v| v < lo - 1e-9 * (hi - lo)),
        extend_high: values.iter().any(|&v| v > hi + 1e-9 * (hi - lo)),
        symlog: None,
    })
}

struct PhaseDiagramPlot<'a> {
    diagram: DiagramView<'a>,
    frame: Frame,
    colours: ColourScale,
    title: String,
    /// The phase boundary and the curve where z₂ changes sign.
    contours: Vec<LabelledContour>,
}

impl PhaseDiagramPlot<'_> {
    /// The heatmap as an RGB bitmap covering the plotting area pixel for pixel.
    fn bitmap(&self, (w, h): (u32, u32)) -> Vec<u8> {
        let d = &self.diagram;
        let (nx, ny) = (d.x.len(), d.y.len());
        let (x0, x1) = self.frame.x.plot_range();
        let (y0, y1) = self.frame.y.plot_range();
        let cell = |v: f64, lo: f64, hi: f64, n: usize| {
            (((v - lo) / (hi - lo) * n as f64).floor().max(0.0) as usize).min(n - 1)
        };
        // The cell of every pixel column, and each cell's colour, computed once.
        let columns: Vec<usize> = (0..w as usize)
            .map(|px| cell(x0 + (px as f64 + 0.5) / w as f64 * (x1 - x0), x0, x1, nx))
            .collect();
        let colours: Vec<[u8; 3]> = d
            .points
            .iter()
            .map(|p| {
                let c = self.colours.colour(p.value);
                [c.0, c.1, c.2]
            })
            .collect();
        let mut buf = vec![255u8; w as usize * h as usize * 3];
        for (py, row) in buf.chunks_exact_mut(3 * w as usize).enumerate() {
            let y = y1 - (py as f64 + 0.5) / h as f64 * (y1 - y0);
            let cells = &colours[cell(y, y0, y1, ny) * nx..][..nx];
            for (pixel, &ix) in row.chunks_exact_mut(3).zip(&columns) {
                pixel.copy_from_slice(&cells[ix]);
            }
        }
        buf
    }

    fn key_entries(&self) -> Vec<LegendEntry> {
        let d = &self.diagram;
        let mut entries = Vec::new();
        if let (Some((low, high)), Some(neutral)) =
            (ends(d.measure, d.pair), d.measure.neutral_value())
        {
            // Only the phases that appear in the diagram (departures within rounding of the
            // neutral value, as E₂₁ at r = 1, do not count; cf. `snap_rounding`).
            let finite = || d.points.iter().map(|p| p.value).filter(|v| v.is_finite());
            let scale = finite().fold(0.0f64, |a, v| a.max((v - neutral).abs()));
            let noise = 1e-9 * scale;
            if finite().any(|v| v < neutral - noise) {
                entries.push(LegendEntry::new(
                    low,
                    Swatch::Patch(self.colours.map.colour(0.1)),
                ));
            }
            if finite().any(|v| v > neutral + noise) {
                entries.push(LegendEntry::new(
                    high,
                    Swatch::Patch(self.colours.map.colour(0.9)),
                ));
            }
            // A region at the neutral value (not a line of it, as E₂₁ at r = 1) is a phase too.
            let at_neutral = finite().filter(|v| (v - neutral).abs() <= noise).count();
            if let Some(label) = neutral_phase(d.measure, d.pair) {
                if at_neutral * 100 >= d.points.len() {
                    entries.push(LegendEntry::new(
                        label,
                        Swatch::Patch(self.colours.map.colour(0.5)),
                    ));
                }
            }
        }
        for c in &self.contours {
            if !c.lines.is_empty() {
                entries.push(LegendEntry::new(c.label.clone(), Swatch::Line(c.style)));
            }
        }
        if d.masked.is_empty() {
            entries.push(LegendEntry::new("no masked cells", Swatch::Heading));
        }
        for (reason, count) in d.masked.iter() {
            entries.push(LegendEntry::new(
                format!("masked: {} ({count} cells)", reason.description()),
                Swatch::Patch(style::MASK_GREY),
            ));
        }
        entries.push(LegendEntry::new(d.fixed.clone(), Swatch::Heading));
        entries.push(LegendEntry::new(
            format!("{}\u{a0}×\u{a0}{} grid", d.x.len(), d.y.len()),
            Swatch::Heading,
        ));
        entries
    }
}

impl Figure for PhaseDiagramPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, height) = root.dim_in_pixel();
        let (plot, key) = root.split_horizontally(width - KEY_WIDTH);
        let mut chart = self.frame.chart(&plot, Some(&self.title), false)?;
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let size = ((xr.end - xr.start) as u32, (yr.end - yr.start) as u32);
        let (x0, _) = self.frame.x.plot_range();
        let (_, y1) = self.frame.y.plot_range();
        let image = BitMapElement::with_owned_buffer((x0, y1), size, self.bitmap(size));
        if let Some(image) = image {
            chart.plotting_area().draw(&image)?;
        }
        for c in &self.contours {
            for line in &c.lines {
                // Contours are in plot coordinates already; undo the log for `curve`.
                let data = line.iter().map(|&(x, y)| {
                    let back = |a: &AxisSpec, v: f64| match a.scale {
                        Scale::Linear => v,
                        Scale::Log => 10f64.powf(v),
                    };
                    (back(&self.frame.x, x), back(&self.frame.y, y))
                });
                self.frame.curve(&mut chart, data, c.style)?;
            }
        }
        root.draw(&Rectangle::new(
            [(xr.start, yr.start), (xr.end, yr.end)],
            BLACK.stroke_width(1),
        ))?;
        let key = key.margin(24, 10, 12, 6);
        let bar_bottom = (height as f64 * 0.5) as i32;
        draw_colour_bar(
            &key,
            &self.colours,
            &symbol(self.diagram.measure, self.diagram.pair),
            (0, bar_bottom),
        )?;
        draw_legend(&key, &self.key_entries(), bar_bottom + 16)?;
        Ok(())
    }
}

/// Values within rounding of zero (|v| ≤ 1e-9·max|v|) set to exactly 0, so that a boundary lying
/// on a grid line (E₂₁ = 0 at r = 1) is drawn straight along it instead of following the sign
/// of rounding noise.
fn snap_rounding(mut values: Vec<f64>) -> Vec<f64> {
    let scale = values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |a, v| a.max(v.abs()));
    for v in &mut values {
        if v.abs() <= 1e-9 * scale {
            *v = 0.0;
        }
    }
    values
}

/// The values of the rotation family held fixed, for the key.
fn rotation_fixed(diagram: &PhaseDiagram) -> String {
    let g = &diagram.spec.grid;
    let mut fixed = Vec::new();
    for (p, text) in [
        (Parameter::Ratio, "r"),
        (Parameter::Coupling, "δ"),
        (Parameter::Lambda, "λ"),
        (Parameter::WeakStrength, "s₂"),
    ] {
        if p != g.x.parameter && p != g.y.parameter {
            fixed.push(format!(
                "{text}\u{a0}=\u{a0}{}",
                format_compact(g.fixed.get(p))
            ));
        }
    }
    fixed.join(", ")
}

/// Draw `diagram` as a heatmap with colour bar, phase boundary and masks, and write
/// `<dir>/<name>.{png,svg,pdf}` and its data `<dir>/<name>.csv` (one line per grid point).
pub fn phase_diagram_figure(
    diagram: &PhaseDiagram,
    dir: &Path,
    options: &PhaseDiagramOptions,
) -> Result<Written> {
    let grid = &diagram.spec.grid;
    let view = DiagramView {
        measure: diagram.spec.measure,
        pair: (2, 1),
        x: &diagram.x,
        y: &diagram.y,
        points: &diagram.points,
        masked: &diagram.masked,
        fixed: rotation_fixed(diagram),
    };
    let frame = Frame::new(cell_axis(&grid.x), cell_axis(&grid.y));
    let title = diagram.spec.measure.label().to_string();
    draw_diagram(view, frame, title, dir, options, || diagram.to_table())
}

/// Draw the phase diagram of a system (two of its strengths, or a strength and λ) as
/// [`phase_diagram_figure`] draws the rotation family's, for the measure of the pair (j, i),
/// and write `<dir>/<name>.{png,svg,pdf}` with its data `<dir>/<name>.csv`.
pub fn system_diagram_figure(
    diagram: &SystemDiagram,
    dir: &Path,
    options: &PhaseDiagramOptions,
) -> Result<Written> {
    let spec = &diagram.spec;
    let pair = (spec.response + 1, spec.feature + 1);
    let swept = [spec.x.parameter, spec.y.parameter];
    let mut fixed: Vec<String> = diagram
        .strengths
        .iter()
        .enumerate()
        .filter(|&(k, _)| !swept.contains(&gstarve_core::sweeps::SystemParameter::Strength(k)))
        .take(6)
        .map(|(k, &s)| format!("s{}\u{a0}=\u{a0}{}", subscript(k + 1), format_compact(s)))
        .collect();
    if diagram.strengths.len() > 6 + 2 {
        fixed.push("…".into());
    }
    if !swept.contains(&gstarve_core::sweeps::SystemParameter::Lambda) {
        fixed.push(format!("λ\u{a0}=\u{a0}{}", format_compact(spec.lambda)));
    }
    let view = DiagramView {
        measure: spec.measure,
        pair,
        x: &diagram.x,
        y: &diagram.y,
        points: &diagram.points,
        masked: &diagram.masked,
        fixed: fixed.join(", "),
    };
    let frame = Frame::new(system_cell_axis(&spec.x), system_cell_axis(&spec.y));
    let (zj, si) = (subscript(pair.0), subscript(pair.1));
    let what = match spec.measure {
        Measure::Elasticity => format!(
            "elasticity {} = ∂log|z{zj}*|/∂log s{si}²",
            symbol(spec.measure, pair)
        ),
        Measure::StarvationRatio => format!("ratio ρ = z{zj}*(s)/z{zj}*(s{si} := s{zj})"),
        Measure::SdRecovery(SdMatching::Lambda) => {
            format!("SD recovery z{zj}*(SD)/z{zj}*(L2), same λ")
        }
        Measure::SdRecovery(SdMatching::FinalLoss) => {
            format!("SD recovery z{zj}*(SD)/z{zj}*(L2), same loss")
        }
        Measure::LearningTime => format!("learning time τ₉₀ of z{zj}"),
        // A system's diagram refuses this measure (gstarve_core's system_diagram validate).
        Measure::MaxMargin => format!("limit elasticity {} (λ → 0)", symbol(spec.measure, pair)),
    };
    let title = format!("{what}, {} features", diagram.strengths.len());
    draw_diagram(view, frame, title, dir, options, || diagram.to_table())
}

fn draw_diagram(
    view: DiagramView,
    frame: Frame,
    default_title: String,
    dir: &Path,
    options: &PhaseDiagramOptions,
    table: impl FnOnce() -> Result<Table> + Send,
) -> Result<Written> {
    let colours = colour_scale(&view, options)?;
    let measure = view.measure;
    let (j, _) = view.pair;
    let xs: Vec<f64> = view.x.iter().map(|&v| frame.x.to_plot(v)).collect();
    let ys: Vec<f64> = view.y.iter().map(|&v| frame.y.to_plot(v)).collect();
    let field = |values: Vec<f64>| {
        GridField {
            xs: &xs,
            ys: &ys,
            values: &values,
        }
        .contour(0.0)
    };
    let mut contours = Vec::new();
    if let Some(neutral) = measure.neutral_value() {
        contours.push(LabelledContour {
            lines: field(snap_rounding(
                view.points.iter().map(|p| p.boundary).collect(),
            )),
            style: CurveStyle::new(BLACK, Dash::Solid),
            label: format!(
                "phase boundary {}\u{a0}=\u{a0}{}",
                symbol(measure, view.pair),
                format_significant(neutral, 1)
            ),
        });
        let denominator: Vec<f64> = match measure {
            Measure::StarvationRatio => view.points.iter().map(|p| p.reference).collect(),
            _ => view.points.iter().map(|p| p.responses[1]).collect(),
        };
        let zj = subscript(j);
        let label = match measure {
            Measure::StarvationRatio if view.pair == (2, 1) => {
                "z₂*(s₂,s₂)\u{a0}=\u{a0}0: feature 2 flips sign".to_string()
            }
            Measure::StarvationRatio => {
                format!("reference z{zj}*\u{a0}=\u{a0}0: feature {j} flips sign")
            }
            _ => format!("z{zj}*\u{a0}=\u{a0}0: feature {j} flips sign"),
        };
        contours.push(LabelledContour {
            lines: field(snap_rounding(denominator)),
            style: CurveStyle::new(BLACK, Dash::Dashed).width(style::width::GUIDE),
            label,
        });
    }
    let plot = PhaseDiagramPlot {
        diagram: view,
        frame,
        colours,
        title: options.title.clone().unwrap_or(default_title),
        contours,
    };
    write_figure_with(
        &plot,
        dir,
        &options.name,
        options.size,
        options.formats,
        table,
    )
}
