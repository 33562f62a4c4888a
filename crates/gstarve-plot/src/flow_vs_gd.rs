//! GD against the exact flow (docs/theory.md §3.1): GD is the explicit Euler map of the flow, so
//! the largest gap max ‖z_GD − z_flow‖∞ over a fixed learning time shrinks like η. Drawn log–log
//! with a slope-1 reference line and the fitted slope.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Marker, Scale, Shape};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::legend::{draw_legend, LegendEntry, Swatch};
use super::style::{self, okabe_ito, Dash, FigureSize};
use super::ticks::{fitted_log_slope, format_compact};
use gstarve_core::error::{Error, OutputError, Result};
use gstarve_core::output::{Cell, Table};
use gstarve_core::simulation::figures::FlowVsGdData;
use gstarve_core::sweeps::GdGap;

/// Options of [`flow_vs_gd`].
#[derive(Clone, Debug, PartialEq)]
pub struct FlowVsGdOptions {
    /// File stem (default `flow-vs-gd`).
    pub name: String,
    /// Pixel size (default one column).
    pub size: FigureSize,
    /// Image formats (default PNG).
    pub formats: Formats,
    /// Title (default: "GD against the exact flow").
    pub title: Option<String>,
}

impl Default for FlowVsGdOptions {
    fn default() -> Self {
        Self {
            name: "flow-vs-gd".into(),
            size: FigureSize::COLUMN,
            formats: Formats::PNG,
            title: None,
        }
    }
}

const KEY_WIDTH: u32 = 280;

struct GapPlot<'a> {
    frame: Frame,
    title: String,
    gaps: &'a [GdGap],
    reference: [(f64, f64); 2],
    slope: f64,
    t_end: f64,
}

impl Figure for GapPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, _) = root.dim_in_pixel();
        let (plot, key) = root.split_horizontally(width - KEY_WIDTH);
        let mut chart = self.frame.chart(&plot, Some(&self.title), true)?;
        let guide = CurveStyle::new(style::GUIDE_GREY, Dash::Dashed).width(style::width::GUIDE);
        self.frame.curve(&mut chart, self.reference, guide)?;
        let data = CurveStyle::new(okabe_ito::BLUE, Dash::Solid);
        let points: Vec<(f64, f64)> = self.gaps.iter().map(|g| (g.eta, g.max_gap)).collect();
        self.frame.curve(&mut chart, points.iter().copied(), data)?;
        let marker = Marker::new(Shape::Circle, okabe_ito::BLUE, true);
        for &p in &points {
            self.frame.marker(&mut chart, p, marker)?;
        }
        let entries = vec![
            LegendEntry::new(
                format!(
                    "max over τ ∈ [0,\u{a0}{}] of ‖z(GD)\u{a0}−\u{a0}z(flow)‖∞",
                    format_compact(self.t_end)
                ),
                Swatch::LineMarker(data, marker),
            ),
            LegendEntry::new(format!("fitted slope {:.2}", self.slope), Swatch::Heading),
            LegendEntry::new("slope 1: Euler's O(η)", Swatch::Line(guide)),
        ];
        draw_legend(&key.margin(30, 10, 12, 6), &entries, 0)?;
        Ok(())
    }
}

/// Draw measured GD–flow gaps log–log with the slope-1 line through their geometric mean and
/// the fitted slope; writes `<dir>/<name>.{png,svg}` and `<dir>/<name>.csv`
/// (`eta,steps,max_gap`).
pub fn flow_vs_gd(data: &FlowVsGdData, dir: &Path, options: &FlowVsGdOptions) -> Result<Written> {
    let gaps = &data.gaps;
    if !gaps.iter().any(|g| g.max_gap > 0.0) {
        return Err(Error::Output(OutputError::EmptyFigure {
            figure: options.name.clone(),
        }));
    }
    let positive = || gaps.iter().filter(|g| g.max_gap > 0.0);
    let (e0, e1) = positive().fold((f64::INFINITY, 0.0f64), |(a, b), g| {
        (a.min(g.eta), b.max(g.eta))
    });
    let (g0, g1) = positive().fold((f64::INFINITY, 0.0f64), |(a, b), g| {
        (a.min(g.max_gap), b.max(g.max_gap))
    });
    // The slope-1 line through the geometric mean of the data.
    let n = positive().count() as f64;
    let (lx, ly) = positive().fold((0.0, 0.0), |(a, b), g| {
        (a + g.eta.ln() / n, b + g.max_gap.ln() / n)
    });
    let through = |eta: f64| (eta, (ly + eta.ln() - lx).exp());
    let pad = |lo: f64, hi: f64| (lo / 10f64.powf(0.15), hi * 10f64.powf(0.15));
    let (x0, x1) = pad(e0, e1);
    let (y0, y1) = pad(g0.min(through(x0).1), g1.max(through(x1).1));
    let frame = Frame::new(
        AxisSpec::new("step size η", x0, x1, Scale::Log),
        AxisSpec::new("largest gap ‖z(GD) − z(flow)‖∞", y0, y1, Scale::Log),
    );
    let mut table = Table::new(["eta", "steps", "max_gap"])?;
    for g in gaps {
        table.row([Cell::Sci(g.eta), Cell::from(g.steps), Cell::Sci(g.max_gap)])?;
    }
    let points: Vec<(f64, f64)> = gaps.iter().map(|g| (g.eta, g.max_gap)).collect();
    let plot = GapPlot {
        frame,
        title: options
            .title
            .clone()
            .unwrap_or_else(|| "GD against the exact flow".to_string()),
        slope: fitted_log_slope(&points),
        reference: [through(x0), through(x1)],
        gaps,
        t_end: data.spec.gap.t_end,
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
