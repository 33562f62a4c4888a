//! Axes in the house style: linear or logarithmic scales with ticks chosen here (nice numbers,
//! decades with superscript exponents, Unicode minus), one chart type for every figure, curves
//! clipped to the plot window (plotters does not clip), dashes and markers.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{self, Dash};

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

const SUPERSCRIPTS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];

/// 10^k with a superscript exponent: 10⁻³.
pub(crate) fn decade_label(k: i32) -> String {
    let mut s = String::from("10");
    if k < 0 {
        s.push('⁻');
    }
    for d in k.unsigned_abs().to_string().bytes() {
        s.push(SUPERSCRIPTS[(d - b'0') as usize]);
    }
    s
}

/// A number with `decimals` decimals and a Unicode minus sign.
pub(crate) fn format_number(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v);
    let s = if s.starts_with('-') && s[1..].bytes().all(|b| b == b'0' || b == b'.') {
        s[1..].to_string()
    } else {
        s
    };
    s.replacen('-', "−", 1)
}

/// A compact number for legends and cells: 3 significant digits, Unicode minus.
pub(crate) fn format_significant(v: f64, digits: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_number(v, 0);
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-3..=4).contains(&magnitude) {
        let mantissa = v / 10f64.powi(magnitude);
        return format!(
            "{}×{}",
            format_number(mantissa, digits.saturating_sub(1)),
            decade_label(magnitude)
        );
    }
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    format_number(v, decimals)
}

/// A number as short as possible with up to 4 significant digits (0.01, 2, 0.002, 1.5×10⁻⁵),
/// for parameter values in legends and titles.
pub(crate) fn format_compact(v: f64) -> String {
    let s = format_significant(v, 4);
    let (mantissa, rest) = match s.find('×') {
        Some(k) => (s[..k].to_string(), s[k..].to_string()),
        None => (s.clone(), String::new()),
    };
    let mantissa = if mantissa.contains('.') {
        mantissa
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        mantissa
    };
    mantissa + &rest
}

/// A "nice" step (1, 2, 2.5 or 5 × 10^k) giving about `target` intervals over `span`.
pub(crate) fn nice_step(span: f64, target: f64) -> (f64, usize) {
    let raw = span / target;
    let magnitude = 10f64.powf(raw.log10().floor());
    for (m, extra) in [(1.0, 0), (2.0, 0), (2.5, 1), (5.0, 0), (10.0, 0)] {
        if m * magnitude >= raw * 0.999 {
            let step = m * magnitude;
            let decimals = (-(step.log10().floor()) as i64).max(0) as usize + extra;
            return (step, decimals);
        }
    }
    (10.0 * magnitude, 0)
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
        let title_band = (style::text::TITLE * 1.7) as u32;
        if let Some(t) = title {
            let (w, _) = area.dim_in_pixel();
            let font = style::font(style::text::TITLE).pos(plotters::style::text_anchor::Pos::new(
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
            .x_label_area_size(70)
            .y_label_area_size(50 + 12 * widest);
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

/// Clip a polyline to [x0, x1] × [y0, y1] (Liang–Barsky per segment); returns the visible
/// pieces. Non-finite points break the line.
pub(crate) fn clip_polyline(
    points: &[(f64, f64)],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Vec<Vec<(f64, f64)>> {
    let (xmin, xmax, ymin, ymax) = (x0.min(x1), x0.max(x1), y0.min(y1), y0.max(y1));
    let mut pieces = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        if !(finite(&a) && finite(&b)) {
            flush(&mut current, &mut pieces);
            continue;
        }
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let mut visible = true;
        for (p, q) in [
            (-dx, a.0 - xmin),
            (dx, xmax - a.0),
            (-dy, a.1 - ymin),
            (dy, ymax - a.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    visible = false;
                    break;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        if !visible || t0 > t1 {
            flush(&mut current, &mut pieces);
            continue;
        }
        let start = (a.0 + t0 * dx, a.1 + t0 * dy);
        let end = (a.0 + t1 * dx, a.1 + t1 * dy);
        if current.is_empty() || t0 > 0.0 {
            flush(&mut current, &mut pieces);
            current.push(start);
        }
        current.push(end);
        if t1 < 1.0 {
            flush(&mut current, &mut pieces);
        }
    }
    flush(&mut current, &mut pieces);
    // A single visible point (no segments) is dropped; markers handle isolated points.
    pieces
}

/// Drop points closer than `min_px` pixels to the last one kept (the first and last points are
/// always kept): a dense run (5000 GD steps) is drawn as one clean stroke, not thousands of
/// overlapping sub-pixel segments.
pub(crate) fn decimate(
    points: &[(f64, f64)],
    (sx, sy): (f64, f64),
    min_px: f64,
) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for (k, &p) in points.iter().enumerate() {
        let keep = match out.last() {
            None => true,
            Some(&q) => {
                k + 1 == points.len() || ((p.0 - q.0) * sx).hypot((p.1 - q.1) * sy) >= min_px
            }
        };
        if keep {
            out.push(p);
        }
    }
    out
}

fn flush(current: &mut Vec<(f64, f64)>, pieces: &mut Vec<Vec<(f64, f64)>>) {
    if current.len() >= 2 {
        pieces.push(std::mem::take(current));
    } else {
        current.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice_and_labels_use_unicode() {
        let axis = AxisSpec::new("x", -0.5, 10.5, Scale::Linear);
        let (major, _, labels) = axis.ticks();
        assert_eq!(major, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(labels[1], "2");
        let axis = AxisSpec::new("y", -0.1, 1.75, Scale::Linear);
        let (_, _, labels) = axis.ticks();
        assert_eq!(labels[0], "0.0");
        assert_eq!(format_number(-0.25, 2), "−0.25");
        let log = AxisSpec::new("η", 1e-4, 1e-1, Scale::Log);
        let (major, minor, labels) = log.ticks();
        assert_eq!(major.len(), 4);
        assert_eq!(labels[0], "10⁻⁴");
        assert_eq!(minor.len(), 24);
        assert_eq!(format_significant(-0.012345, 3), "−0.0123");
        assert_eq!(format_compact(0.0100), "0.01");
        assert_eq!(format_compact(2.0), "2");
        assert_eq!(format_compact(1.5e-5), "1.5×10⁻⁵");
    }

    #[test]
    fn clipping_splits_and_trims() {
        let pieces = clip_polyline(
            &[(-1.0, 0.5), (0.5, 0.5), (2.0, 0.5), (0.5, 0.2)],
            (0.0, 1.0),
            (0.0, 1.0),
        );
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0], vec![(0.0, 0.5), (0.5, 0.5), (1.0, 0.5)]);
        assert_eq!(pieces[1][1], (0.5, 0.2));
    }
}
