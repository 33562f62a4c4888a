//! The slow approach to the max-margin limit (docs/theory.md §11.1, §11.3): the elasticity
//! E_ji(λ) of the L2 steady state against log₁₀(1/λ), with its limit E^∞_ji as λ → 0.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Marker, Scale, Shape};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::legend::{draw_legend, LegendEntry, Swatch};
use super::style::{self, okabe_ito, Dash, FigureSize};
use gstarve_core::error::{Error, OutputError, Result};
use gstarve_core::output::{Cell, Table};
use gstarve_core::theory::max_margin::PathPoint;

/// Options of [`limit_path`].
#[derive(Clone, Debug, PartialEq)]
pub struct LimitPathOptions {
    /// File stem (default `max-margin-path`).
    pub name: String,
    /// Pixel size (default one column).
    pub size: FigureSize,
    /// Image formats (default PNG).
    pub formats: Formats,
    /// Title.
    pub title: Option<String>,
    /// The entry drawn, (j, i), 0-based: E_{j+1,i+1}.
    pub entry: (usize, usize),
}

impl Default for LimitPathOptions {
    fn default() -> Self {
        Self {
            name: "max-margin-path".into(),
            size: FigureSize::COLUMN,
            formats: Formats::PNG,
            title: None,
            entry: (1, 0),
        }
    }
}

const KEY_WIDTH: u32 = 300;

struct PathPlot<'a> {
    frame: Frame,
    title: String,
    points: &'a [PathPoint],
    limit: f64,
    span: (f64, f64),
    symbol: String,
}

impl Figure for PathPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, _) = root.dim_in_pixel();
        let (plot, key) = root.split_horizontally(width - KEY_WIDTH);
        let mut chart = self.frame.chart(&plot, Some(&self.title), true)?;
        let guide = CurveStyle::new(okabe_ito::VERMILLION, Dash::Dashed).width(style::width::GUIDE);
        self.frame.curve(
            &mut chart,
            [(self.span.0, self.limit), (self.span.1, self.limit)],
            guide,
        )?;
        let data = CurveStyle::new(okabe_ito::BLUE, Dash::Solid);
        let xy: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter(|p| p.elasticity.is_finite())
            .map(|p| ((1.0 / p.lambda).log10(), p.elasticity))
            .collect();
        self.frame.curve(&mut chart, xy.iter().copied(), data)?;
        let marker = Marker::new(Shape::Circle, okabe_ito::BLUE, true);
        for &p in &xy {
            self.frame.marker(&mut chart, p, marker)?;
        }
        let entries = vec![
            LegendEntry::new(
                format!("{}(λ), L2 steady state (Newton)", self.symbol),
                Swatch::LineMarker(data, marker),
            ),
            LegendEntry::new(
                format!("limit λ → 0: {} = {:.4}", self.symbol, self.limit),
                Swatch::Line(guide),
            ),
            LegendEntry::new("(max-margin solution, §11.3)", Swatch::Heading),
        ];
        draw_legend(&key.margin(30, 10, 12, 6), &entries, 0)?;
        Ok(())
    }
}

/// Draw E_ji(λ) against log₁₀(1/λ) with the limit `limit` as a dashed line; writes
/// `<dir>/<name>.{png,svg}` and `<dir>/<name>.csv`
/// (`lambda,log10_inv_lambda,elasticity,limit,direction_error,support_margin,residual`).
pub fn limit_path(
    points: &[PathPoint],
    limit: f64,
    dir: &Path,
    options: &LimitPathOptions,
) -> Result<Written> {
    let finite: Vec<&PathPoint> = points.iter().filter(|p| p.elasticity.is_finite()).collect();
    if finite.is_empty() || !limit.is_finite() {
        return Err(Error::Output(OutputError::EmptyFigure {
            figure: options.name.clone(),
        }));
    }
    let xs = || finite.iter().map(|p| (1.0 / p.lambda).log10());
    let (x0, x1) = xs().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (y0, y1) = finite
        .iter()
        .map(|p| p.elasticity)
        .chain([limit, 0.0])
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
            (a.min(y), b.max(y))
        });
    let pad = 0.06 * (y1 - y0).max(1e-3);
    let xpad = 0.03 * (x1 - x0).max(1.0);
    let (j, i) = options.entry;
    let symbol = format!("E{}{}", subscript(j + 1), subscript(i + 1));
    let frame = Frame::new(
        AxisSpec::new("log₁₀(1/λ)", x0 - xpad, x1 + xpad, Scale::Linear),
        AxisSpec::new(
            format!("elasticity {symbol}"),
            y0 - pad,
            y1 + pad,
            Scale::Linear,
        ),
    );
    let mut table = Table::new([
        "lambda",
        "log10_inv_lambda",
        "elasticity",
        "limit",
        "direction_error",
        "support_margin",
        "residual",
    ])?;
    for p in points {
        table.row([
            Cell::Sci(p.lambda),
            Cell::Sci((1.0 / p.lambda).log10()),
            Cell::Sci(p.elasticity),
            Cell::Sci(limit),
            Cell::Sci(p.direction_error),
            Cell::Sci(p.support_margin),
            Cell::Sci(p.residual),
        ])?;
    }
    let plot = PathPlot {
        frame,
        title: options
            .title
            .clone()
            .unwrap_or_else(|| format!("The slow approach of {symbol} to the max-margin limit")),
        points,
        limit,
        span: (x0 - xpad, x1 + xpad),
        symbol,
    };
    write_figure(
        &plot,
        dir,
        &options.name,
        options.size,
        options.formats,
        table,
    )
}

fn subscript(k: usize) -> String {
    const DIGITS: [char; 10] = ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'];
    k.to_string()
        .chars()
        .map(|c| DIGITS[c.to_digit(10).unwrap_or(0) as usize])
        .collect()
}
