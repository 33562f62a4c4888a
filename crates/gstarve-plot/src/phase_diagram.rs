//! Starvation phase diagram (docs/theory.md §7.3): a heatmap of a measure over the grid of a
//! [`PhaseDiagram`], with a colour bar, the phase boundary (E₂₁ = 0, or ratio = 1) and the curve
//! where the measure's denominator vanishes drawn by marching squares, masked cells in grey and
//! counted in the key.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Scale};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::contour::{GridField, LabelledContour};
use super::legend::{draw_colour_bar, draw_legend, ColourScale, LegendEntry, Swatch};
use super::style::{self, ColourMap, Dash, FigureSize};
use super::ticks::{format_compact, format_significant};
use gstarve_core::error::{Error, OutputError, Result};
use gstarve_core::sweeps::{Axis, Measure, Parameter, PhaseDiagram, Spacing};

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

fn symbol(measure: Measure) -> &'static str {
    match measure {
        Measure::Elasticity => "E₂₁",
        Measure::StarvationRatio => "ρ",
        Measure::SdRecovery(_) => "z₂*(SD)/z₂*(L2)",
        Measure::LearningTime => "τ₉₀",
        Measure::MaxMargin => "E₂₁ (λ → 0)",
    }
}

/// Meaning of the low and high ends of a diverging scale.
fn ends(measure: Measure) -> Option<(&'static str, &'static str)> {
    match measure {
        Measure::Elasticity => Some((
            "blue: E₂₁\u{a0}<\u{a0}0, starvation",
            "red: E₂₁\u{a0}>\u{a0}0, enhancement",
        )),
        Measure::StarvationRatio => Some((
            "blue: ρ\u{a0}<\u{a0}1, starved",
            "red: ρ\u{a0}>\u{a0}1, enhanced",
        )),
        Measure::SdRecovery(_) => Some(("blue: SD below L2", "red: SD recovers z₂")),
        Measure::LearningTime => None,
        Measure::MaxMargin => Some((
            "blue: E₂₁\u{a0}<\u{a0}0, starvation survives",
            "red: E₂₁\u{a0}>\u{a0}0 (never occurs)",
        )),
    }
}

/// The axis of a sweep, extended by half a cell on each side so cells are centred on points.
fn cell_axis(axis: &Axis) -> AxisSpec {
    let scale = match axis.spacing {
        Spacing::Linear => Scale::Linear,
        Spacing::Log => Scale::Log,
    };
    let spec = AxisSpec::new(axis.parameter.label(), axis.start, axis.end, scale);
    let (a, b) = spec.plot_range();
    let half = if axis.points > 1 {
        0.5 * (b - a) / (axis.points - 1) as f64
    } else {
        0.5 * a.abs().max(1.0) * 0.1
    };
    let back = |v: f64| match scale {
        Scale::Linear => v,
        Scale::Log => 10f64.powf(v),
    };
    AxisSpec::new(
        axis.parameter.label(),
        back(a - half),
        back(b + half),
        scale,
    )
}

fn colour_scale(diagram: &PhaseDiagram, options: &PhaseDiagramOptions) -> Result<ColourScale> {
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
    let measure = diagram.spec.measure;
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
    })
}

struct PhaseDiagramPlot<'a> {
    diagram: &'a PhaseDiagram,
    frame: Frame,
    colours: ColourScale,
    title: String,
    /// The phase boundary and the curve where z₂ changes sign.
    contours: Vec<LabelledContour>,
}

impl PhaseDiagramPlot<'_> {
    /// The heatmap as an RGB bitmap covering the plotting area pixel for pixel.
    fn bitmap(&self, (w, h): (u32, u32)) -> Vec<u8> {
        let d = self.diagram;
        let (nx, ny) = (d.x.len(), d.y.len());
        let (x0, x1) = self.frame.x.plot_range();
        let (y0, y1) = self.frame.y.plot_range();
        let cell = |v: f64, lo: f64, hi: f64, n: usize| {
            (((v - lo) / (hi - lo) * n as f64).floor().max(0.0) as usize).min(n - 1)
        };
        let mut buf = vec![255u8; w as usize * h as usize * 3];
        for py in 0..h as usize {
            let y = y1 - (py as f64 + 0.5) / h as f64 * (y1 - y0);
            let iy = cell(y, y0, y1, ny);
            for px in 0..w as usize {
                let x = x0 + (px as f64 + 0.5) / w as f64 * (x1 - x0);
                let ix = cell(x, x0, x1, nx);
                let c = self.colours.colour(d.value(ix, iy));
                let k = 3 * (py * w as usize + px);
                buf[k..k + 3].copy_from_slice(&[c.0, c.1, c.2]);
            }
        }
        buf
    }

    fn key_entries(&self) -> Vec<LegendEntry> {
        let d = self.diagram;
        let mut entries = Vec::new();
        if let Some((low, high)) = ends(d.spec.measure) {
            entries.push(LegendEntry::new(
                low,
                Swatch::Patch(self.colours.map.colour(0.1)),
            ));
            entries.push(LegendEntry::new(
                high,
                Swatch::Patch(self.colours.map.colour(0.9)),
            ));
        }
        for c in &self.contours {
            if !c.lines.is_empty() {
                entries.push(LegendEntry::new(c.label.clone(), Swatch::Line(c.style)));
            }
        }
        if d.masked.is_empty() {
            entries.push(LegendEntry::new("no masked cells", Swatch::Heading));
        }
        for (reason, count) in &d.masked {
            entries.push(LegendEntry::new(
                format!("masked: {} ({count} cells)", reason.description()),
                Swatch::Patch(style::MASK_GREY),
            ));
        }
        let g = &d.spec.grid;
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
        entries.push(LegendEntry::new(fixed.join(", "), Swatch::Heading));
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
            symbol(self.diagram.spec.measure),
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

/// Draw `diagram` as a heatmap with colour bar, phase boundary and masks, and write
/// `<dir>/<name>.{png,svg}` and its data `<dir>/<name>.csv` (one line per grid point).
pub fn phase_diagram_figure(
    diagram: &PhaseDiagram,
    dir: &Path,
    options: &PhaseDiagramOptions,
) -> Result<Written> {
    let grid = &diagram.spec.grid;
    let frame = Frame::new(cell_axis(&grid.x), cell_axis(&grid.y));
    let colours = colour_scale(diagram, options)?;
    let measure = diagram.spec.measure;
    let xs: Vec<f64> = diagram.x.iter().map(|&v| frame.x.to_plot(v)).collect();
    let ys: Vec<f64> = diagram.y.iter().map(|&v| frame.y.to_plot(v)).collect();
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
                diagram.points.iter().map(|p| p.boundary).collect(),
            )),
            style: CurveStyle::new(BLACK, Dash::Solid),
            label: format!(
                "phase boundary {}\u{a0}=\u{a0}{}",
                symbol(measure),
                format_significant(neutral, 1)
            ),
        });
        let denominator: Vec<f64> = match measure {
            Measure::StarvationRatio => diagram.points.iter().map(|p| p.reference).collect(),
            _ => diagram.points.iter().map(|p| p.responses[1]).collect(),
        };
        let label = match measure {
            Measure::StarvationRatio => "z₂*(s₂,s₂)\u{a0}=\u{a0}0: feature 2 flips sign",
            _ => "z₂*\u{a0}=\u{a0}0: feature 2 flips sign",
        };
        contours.push(LabelledContour {
            lines: field(snap_rounding(denominator)),
            style: CurveStyle::new(BLACK, Dash::Dashed).width(style::width::GUIDE),
            label: label.to_string(),
        });
    }
    let plot = PhaseDiagramPlot {
        diagram,
        frame,
        colours,
        title: options
            .title
            .clone()
            .unwrap_or_else(|| measure.label().to_string()),
        contours,
    };
    write_figure(
        &plot,
        dir,
        &options.name,
        options.size,
        options.formats,
        diagram.to_table()?,
    )
}
