//! Axes in the house style: linear or logarithmic scales with ticks chosen here (nice numbers,
//! decades with superscript exponents, Unicode minus), one chart type for every figure, curves
//! clipped to the plot window (plotters does not clip), dashes and markers.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::clipping::{clip_polyline, decimate};
use super::style::{self, Dash};
use super::ticks::{decade_label, format_compact, format_number, nice_step};

/// The one chart type of every figure: f64 axes (in plot coordinates) with ticks and labels
/// chosen by [`AxisSpec`].
pub(crate) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<TickedRange, TickedRange>>;

/// A plotters coordinate range in plot coordinates that knows its ticks and their labels.
#[derive(Clone, Debug)]
pub(crate) struct TickedRange {
    lo: f64,
    hi: f64,
    major: Vec<f64>,
    minor: Vec<f64>,
    labels: Vec<String>,
}

impl Ranged for TickedRange {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        if self.hi == self.lo {
            return (limit.1 - limit.0) / 2;
        }
        let t = (*v - self.lo) / (self.hi - self.lo);
        let length = limit.1 - limit.0;
        if !t.is_finite() {
            return if t > 0.0 { limit.1 } else { limit.0 };
        }
        limit.0 + (length as f64 * t + 1e-3).floor() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.major.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for TickedRange {
    fn format_ext(&self, v: &f64) -> String {
        self.major
            .iter()
            .position(|m| (m - v).abs() <= 1e-9 * (1.0 + m.abs()))
            .map(|k| self.labels[k].clone())
            .unwrap_or_default()
    }
}

/// The error type of drawing on backend `DB`.
pub(crate) type DrawError<DB> = DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>;

/// Linear or base-10 logarithmic axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Linear.
    Linear,
    /// Logarithmic (data must be > 0).
    Log,
}

/// One axis: label, data range, scale.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AxisSpec {
    pub label: String,
    /// Ticks (plot coordinates) and labels chosen by the figure instead of the automatic ones.
    pub custom_ticks: Option<Vec<(f64, String)>>,
    /// Lower end in data units.
    pub lo: f64,
    /// Upper end in data units.
    pub hi: f64,
    pub scale: Scale,
}

impl AxisSpec {
    pub(crate) fn new(label: impl Into<String>, lo: f64, hi: f64, scale: Scale) -> Self {
        Self {
            label: label.into(),
            custom_ticks: None,
            lo,
            hi,
            scale,
        }
    }

    /// The same axis with ticks of the figure's choosing.
    pub(crate) fn with_ticks(self, ticks: Vec<(f64, String)>) -> Self {
        Self {
            custom_ticks: Some(ticks),
            ..self
        }
    }

    /// Data value → plot coordinate (log10 on a log axis).
    pub(crate) fn to_plot(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Linear => v,
            Scale::Log => v.log10(),
        }
    }

    /// The axis range in plot coordinates.
    pub(crate) fn plot_range(&self) -> (f64, f64) {
        (self.to_plot(self.lo), self.to_plot(self.hi))
    }

    /// Major and minor tick positions in plot coordinates, and the major labels.
    pub(crate) fn ticks(&self) -> (Vec<f64>, Vec<f64>, Vec<String>) {
        if let Some(custom) = &self.custom_ticks {
            let (major, labels) = custom.iter().cloned().unzip();
            return (major, Vec::new(), labels);
        }
        let (lo, hi) = self.plot_range();
        let eps = 1e-9 * (hi - lo).abs().max(1e-300);
        match self.scale {
            Scale::Linear => {
                let (step, decimals) = nice_step(hi - lo, 6.0);
                let first = ((lo - eps) / step).ceil() as i64;
                let last = ((hi + eps) / step).floor() as i64;
                let major: Vec<f64> = (first..=last).map(|k| k as f64 * step).collect();
                let labels = major.iter().map(|&v| format_number(v, decimals)).collect();
                (major, Vec::new(), labels)
            }
            Scale::Log => {
                let first = (lo - eps).ceil() as i32;
                let last = (hi + eps).floor() as i32;
                let mut minor = Vec::new();
                for k in (first - 1)..=last {
                    for m in 2..=9 {
                        let v = k as f64 + (m as f64).log10();
                        if v > lo - eps && v < hi + eps {
                            minor.push(v);
                        }
                    }
                }
                if last - first >= 2 {
                    let stride = ((last - first) / 6 + 1).max(1);
                    let major: Vec<f64> = (first..=last)
                        .filter(|k| (k - first) % stride == 0)
                        .map(|k| k as f64)
                        .collect();
                    let labels = major.iter().map(|&v| decade_label(v as i32)).collect();
                    (major, minor, labels)
                } else {
                    // Fewer than three decade ticks: 1-2-5 mantissas, labelled as plain numbers.
                    let mut major = Vec::new();
                    for k in (first - 1)..=last {
                        for m in [1.0f64, 2.0, 5.0] {
                            let v = k as f64 + m.log10();
                            if v > lo - eps && v < hi + eps {
                                major.push(v);
                            }
                        }
                    }
                    let labels = major
                        .iter()
                        .map(|&v| format_compact(10f64.powf(v)))
                        .collect();
                    (major, minor, labels)
                }
            }
        }
    }

    /// The plotters range of this axis.
    pub(crate) fn ranged(&self) -> TickedRange {
        let (lo, hi) = self.plot_range();
        let (major, minor, labels) = self.ticks();
        TickedRange {
            lo,
            hi,
            major,
            minor,
            labels,
        }
    }
}

/// A line style: colour, width, dash.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct CurveStyle {
    pub colour: RGBColor,
    pub width: u32,
    pub dash: Dash,
}

impl CurveStyle {
    pub(crate) fn new(colour: RGBColor, dash: Dash) -> Self {
        Self {
            colour,
            width: style::width::CURVE,
            dash,
        }
    }

    pub(crate) fn width(self, width: u32) -> Self {
        Self { width, ..self }
    }
}

/// Marker shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Circle,
    Square,
    Diamond,
}

/// A marker: shape, colour, filled or outlined, radius in pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Marker {
    pub shape: Shape,
    pub colour: RGBColor,
    pub filled: bool,
    pub size: i32,
}

impl Marker {
    pub(crate) fn new(shape: Shape, colour: RGBColor, filled: bool) -> Self {
        Self {
            shape,
            colour,
            filled,
            size: 7,
        }
    }

    /// Draw the marker centred at pixel `at` of `area`, with a white halo so it stays visible
    /// on top of curves.
    pub(crate) fn draw_at<DB: DrawingBackend>(
        self,
        area: &DrawingArea<DB, Shift>,
        (x, y): (i32, i32),
    ) -> Result<(), DrawError<DB>> {
        let s = self.size;
        let fill = if self.filled {
            self.colour.filled()
        } else {
            WHITE.filled()
        };
        let edge = self.colour.stroke_width(2);
        let outline: Vec<(i32, i32)> = match self.shape {
            Shape::Circle => {
                area.draw(&Circle::new((x, y), s + 2, WHITE.filled()))?;
                area.draw(&Circle::new((x, y), s, fill))?;
                return area.draw(&Circle::new((x, y), s, edge));
            }
            Shape::Square => vec![(-s, -s), (s, -s), (s, s), (-s, s), (-s, -s)],
            Shape::Diamond => vec![
                (0, -s - 2),
                (s + 2, 0),
                (0, s + 2),
                (-s - 2, 0),
                (0, -s - 2),
            ],
        };
        let outline: Vec<(i32, i32)> = outline.iter().map(|&(dx, dy)| (x + dx, y + dy)).collect();
        area.draw(&Polygon::new(outline.clone(), fill))?;
        area.draw(&PathElement::new(outline, edge))
    }
}

/// Two axes and the rules for drawing data inside them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Frame {
    pub x: AxisSpec,
    pub y: AxisSpec,
}

impl Frame {
    pub(crate) fn new(x: AxisSpec, y: AxisSpec) -> Self {
        Self { x, y }
    }

    /// Data point → plot coordinates.
    pub(crate) fn to_plot(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (self.x.to_plot(x), self.y.to_plot(y))
    }

    /// Whether a data point lies inside the window.
    pub(crate) fn contains(&self, p: (f64, f64)) -> bool {
        let (x, y) = self.to_plot(p);
        let (x0, x1) = self.x.plot_range();
        let (y0, y1) = self.y.plot_range();
        x >= x0.min(x1) && x <= x0.max(x1) && y >= y0.min(y1) && y <= y0.max(y1)
    }

    /// Build the chart on `area`: title, axis labels, ticks, optional grid lines.
    pub(crate) fn chart<'a, DB: DrawingBackend>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
        title: Option<&str>,
        grid_lines: bool,
    ) -> Result<Chart<'a, DB>, DrawError<DB>> {
        let (_, _, ylabels) = self.y.ticks();
        let widest = ylabels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as u32;
        // The title is drawn here, in a band reserved by the top margin, rather than as a
        // plotters caption (whose spacing assumes smaller glyph boxes than the bundled font's).
        let title_band = (style::px(style::text::TITLE) * 1.7) as u32;
        if let Some(t) = title {
            let (w, _) = area.dim_in_pixel();
            // A title wider than the area (a long system description) is set smaller to fit,
            // never clipped.
            let mut size = style::text::TITLE;
            let room = w.saturating_sub(12).max(1) as f64;
            if let Ok((tw, _)) = area.estimate_text_size(t, &style::font(size)) {
                if tw as f64 > room {
                    size *= room / tw as f64;
                }
            }
            let font = style::font(size).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Center,
            ));
            area.draw_text(t, &font, (w as i32 / 2, title_band as i32 / 2))?;
        }
        let mut builder = ChartBuilder::on(area);
        builder
            .margin_top(if title.is_some() { title_band } else { 18 })
            .margin_right(24)
            .margin_left(8)
            .margin_bottom(8)
            .x_label_area_size(style::px(70.0) as u32)
            .y_label_area_size(style::px((50 + 12 * widest) as f64) as u32);
        let mut chart = builder.build_cartesian_2d(self.x.ranged(), self.y.ranged())?;
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(self.x.label.as_str())
            .y_desc(self.y.label.as_str())
            .axis_desc_style(style::font(style::text::LABEL))
            .label_style(style::font(style::text::TICK))
            .bold_line_style(style::GRID_GREY.stroke_width(1))
            .light_line_style(RGBColor(242, 242, 242).stroke_width(1))
            .axis_style(BLACK.stroke_width(1))
            .set_all_tick_mark_size(6);
        if !grid_lines {
            mesh.disable_mesh();
        }
        mesh.draw()?;
        Ok(chart)
    }

    /// Draw a polyline of data points, clipped to the window, broken at non-finite points.
    pub(crate) fn curve<DB: DrawingBackend>(
        &self,
        chart: &mut Chart<DB>,
        points: impl IntoIterator<Item = (f64, f64)>,
        style: CurveStyle,
    ) -> Result<(), DrawError<DB>> {
        let plot: Vec<(f64, f64)> = points.into_iter().map(|p| self.to_plot(p)).collect();
        let shape = ShapeStyle::from(style.colour).stroke_width(style.width);
        let (w, h) = chart.plotting_area().dim_in_pixel();
        let (x0, x1) = self.x.plot_range();
        let (y0, y1) = self.y.plot_range();
        let scale = (w as f64 / (x1 - x0), h as f64 / (y1 - y0));
        for piece in clip_polyline(&plot, (x0, x1), (y0, y1)) {
            let piece = decimate(&piece, scale, 4.0);
            match style.dash.pattern() {
                None => {
                    chart.draw_series(std::iter::once(PathElement::new(piece, shape)))?;
                }
                Some((dash, gap)) => {
                    chart.draw_series(DashedLineSeries::new(piece, dash, gap, shape))?;
                }
            }
        }
        Ok(())
    }

    /// Draw a marker at a data point if it lies inside the window.
    pub(crate) fn marker<DB: DrawingBackend>(
        &self,
        chart: &mut Chart<DB>,
        at: (f64, f64),
        marker: Marker,
    ) -> Result<(), DrawError<DB>> {
        if at.0.is_finite() && at.1.is_finite() && self.contains(at) {
            let area = chart.plotting_area();
            let (px, py) = area.map_coordinate(&self.to_plot(at));
            let (bx, by) = area.get_base_pixel();
            marker.draw_at(&area.strip_coord_spec(), (px - bx, py - by))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice() {
        let axis = AxisSpec::new("x", -0.5, 10.5, Scale::Linear);
        let (major, _, labels) = axis.ticks();
        assert_eq!(major, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(labels[1], "2");
        let axis = AxisSpec::new("y", -0.1, 1.75, Scale::Linear);
        let (_, _, labels) = axis.ticks();
        assert_eq!(labels[0], "0.0");
        let log = AxisSpec::new("η", 1e-4, 1e-1, Scale::Log);
        let (major, minor, labels) = log.ticks();
        assert_eq!(major.len(), 4);
        assert_eq!(labels[0], "10⁻⁴");
        assert_eq!(minor.len(), 24);
        let short = AxisSpec::new("τ", 3.0, 300.0, Scale::Log);
        let (_, _, labels) = short.ticks();
        assert_eq!(labels, vec!["5", "10", "20", "50", "100", "200"]);
    }
}
