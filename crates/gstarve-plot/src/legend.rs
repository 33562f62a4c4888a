//! Keys drawn in their own panel beside the plot, so that they never hide data: a legend of
//! line, marker and patch swatches (labels wrapped to the panel), and a vertical colour bar.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axes::{AxisSpec, CurveStyle, DrawError, Marker, Scale};
use super::style::{self, ColourMap};

/// What a legend entry shows before its label.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Swatch {
    /// A line segment.
    Line(CurveStyle),
    /// A line with a marker on it.
    LineMarker(CurveStyle, Marker),
    /// A marker alone.
    Marker(Marker),
    /// A filled square (colour of a heatmap cell).
    Patch(RGBColor),
    /// An arrow (direction fields).
    Arrow(RGBColor),
    /// No swatch: a heading.
    Heading,
}

/// One legend entry.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LegendEntry {
    pub label: String,
    pub swatch: Swatch,
}

impl LegendEntry {
    pub(crate) fn new(label: impl Into<String>, swatch: Swatch) -> Self {
        Self {
            label: label.into(),
            swatch,
        }
    }
}

const SWATCH_WIDTH: i32 = 46;
const GAP: i32 = 10;

/// Split `text` into lines no wider than `width` pixels (at word boundaries).
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    font: &TextStyle,
    width: i32,
) -> Vec<String> {
    let fits = |s: &str| {
        area.estimate_text_size(s, font)
            .map(|(w, _)| w as i32 <= width)
            .unwrap_or(true)
    };
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if fits(&candidate) || line.is_empty() {
            line = candidate;
        } else {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The smallest factor a legend's text is shrunk by to fit its panel.
const MIN_LEGEND_SHRINK: f64 = 0.6;

/// Draw `entries` top-down in `area` from pixel row `top`; returns the row below the last one.
/// Entries that would run past the bottom of `area` are set smaller (down to
/// [`MIN_LEGEND_SHRINK`] of the house size) so that the whole legend fits.
pub(crate) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    top: i32,
) -> Result<i32, DrawError<DB>> {
    let (width, height) = area.dim_in_pixel();
    // Lines per entry and the legend's height at text size `size`.
    let layout = |size: f64| {
        let font = style::font(size);
        let line_height = (style::px(size) * 1.25) as i32;
        let wrapped: Vec<Vec<String>> = entries
            .iter()
            .map(|entry| {
                let text_x = if entry.swatch == Swatch::Heading {
                    0
                } else {
                    SWATCH_WIDTH + GAP
                };
                wrap(area, &entry.label, &font, width as i32 - text_x - 4)
            })
            .collect();
        let total: i32 = wrapped
            .iter()
            .map(|lines| line_height * lines.len() as i32 + line_height / 4)
            .sum();
        (wrapped, line_height, total)
    };
    let mut size = style::text::LEGEND;
    let mut lines = layout(size);
    let room = height as i32 - top;
    while lines.2 > room && size > MIN_LEGEND_SHRINK * style::text::LEGEND {
        size = (size * 0.92).max(MIN_LEGEND_SHRINK * style::text::LEGEND);
        lines = layout(size);
    }
    let (wrapped, line_height, _) = lines;
    let font = style::font(size);
    let heading = font.clone().color(&BLACK);
    let mut y = top;
    for (entry, lines) in entries.iter().zip(&wrapped) {
        let text_x = if entry.swatch == Swatch::Heading {
            0
        } else {
            SWATCH_WIDTH + GAP
        };
        let block = line_height * lines.len() as i32;
        let mid = y + line_height / 2;
        draw_swatch(area, entry.swatch, (0, mid))?;
        for (k, line) in lines.iter().enumerate() {
            let style = if entry.swatch == Swatch::Heading {
                heading.clone()
            } else {
                font.clone()
            };
            area.draw_text(
                line,
                &style.pos(Pos::new(HPos::Left, VPos::Center)),
                (text_x, mid + k as i32 * line_height),
            )?;
        }
        y += block + line_height / 4;
    }
    Ok(y)
}

fn draw_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    swatch: Swatch,
    (x, y): (i32, i32),
) -> Result<(), DrawError<DB>> {
    let segment = [(x + 2, y), (x + SWATCH_WIDTH - 2, y)];
    let line = |area: &DrawingArea<DB, Shift>, s: CurveStyle| {
        let shape = ShapeStyle::from(s.colour).stroke_width(s.width);
        match s.dash.pattern() {
            None => area.draw(&PathElement::new(segment.to_vec(), shape)),
            Some((dash, gap)) => area.draw(&DashedPathElement::new(
                segment.iter().copied(),
                dash,
                gap,
                shape,
            )),
        }
    };
    match swatch {
        Swatch::Line(s) => line(area, s)?,
        Swatch::LineMarker(s, m) => {
            line(area, s)?;
            m.draw_at(area, (x + SWATCH_WIDTH / 2, y))?;
        }
        Swatch::Marker(m) => m.draw_at(area, (x + SWATCH_WIDTH / 2, y))?,
        Swatch::Patch(c) => {
            area.draw(&Rectangle::new(
                [(x + 8, y - 11), (x + SWATCH_WIDTH - 8, y + 11)],
                c.filled(),
            ))?;
            area.draw(&Rectangle::new(
                [(x + 8, y - 11), (x + SWATCH_WIDTH - 8, y + 11)],
                BLACK.stroke_width(1),
            ))?;
        }
        Swatch::Arrow(c) => {
            let tip = (x + SWATCH_WIDTH - 6, y);
            area.draw(&PathElement::new(vec![(x + 6, y), tip], c.stroke_width(2)))?;
            area.draw(&Polygon::new(
                vec![tip, (tip.0 - 9, y - 5), (tip.0 - 9, y + 5)],
                c.filled(),
            ))?;
        }
        Swatch::Heading => {}
    }
    Ok(())
}

/// A colour scale: map, data limits, and whether values beyond each limit exist (drawn as
/// triangles at the ends of the bar).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ColourScale {
    pub map: ColourMap,
    pub lo: f64,
    pub hi: f64,
    pub scale: Scale,
    pub extend_low: bool,
    pub extend_high: bool,
    /// A symmetric-logarithmic scale with linear width c (linear scales only): values are
    /// coloured by sign(v)·log₁₀(1 + |v|/c), so that entries a hundred times smaller than the
    /// largest still show their sign and size.
    pub symlog: Option<f64>,
}

/// The symmetric logarithm sign(v)·log₁₀(1 + |v|/c).
pub(crate) fn symlog(v: f64, c: f64) -> f64 {
    v.signum() * (v.abs() / c).ln_1p() / std::f64::consts::LN_10
}

impl ColourScale {
    /// The colour of a data value (NaN → mask grey).
    pub(crate) fn colour(&self, v: f64) -> RGBColor {
        if !v.is_finite() {
            return style::MASK_GREY;
        }
        if let Some(c) = self.symlog {
            let (lo, hi) = (symlog(self.lo, c), symlog(self.hi, c));
            let t = if hi > lo {
                (symlog(v, c) - lo) / (hi - lo)
            } else {
                0.5
            };
            return self.map.colour(t);
        }
        let (lo, hi, v) = match self.scale {
            Scale::Linear => (self.lo, self.hi, v),
            Scale::Log => (
                self.lo.log10(),
                self.hi.log10(),
                v.max(f64::MIN_POSITIVE).log10(),
            ),
        };
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        self.map.colour(t)
    }
}

/// Draw a vertical colour bar with ticks and a title inside `area` (its own panel), between
/// rows `top` and `bottom`.
pub(crate) fn draw_colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scale: &ColourScale,
    title: &str,
    (top, bottom): (i32, i32),
) -> Result<(), DrawError<DB>> {
    let font = style::font(style::text::LABEL);
    let tick_font = style::font(style::text::TICK);
    let (width, _) = area.dim_in_pixel();
    let title_lines = wrap(area, title, &font, width as i32 - 4);
    let line_height = (style::px(style::text::LABEL) * 1.3) as i32;
    for (k, line) in title_lines.iter().enumerate() {
        area.draw_text(
            line,
            &font.pos(Pos::new(HPos::Left, VPos::Top)),
            (0, top + k as i32 * line_height),
        )?;
    }
    let bar_top = top + line_height * title_lines.len() as i32 + 18;
    let bar_bottom = bottom - 18;
    let (x0, x1) = (6, 34);
    let height = (bar_bottom - bar_top).max(1);
    let axis = AxisSpec::new("", scale.lo, scale.hi, scale.scale);
    let (plo, phi) = match scale.symlog {
        Some(c) => (symlog(scale.lo, c), symlog(scale.hi, c)),
        None => axis.plot_range(),
    };
    for row in 0..height {
        let t = 1.0 - (row as f64 + 0.5) / height as f64;
        let plot_value = plo + t * (phi - plo);
        let value = match (scale.symlog, scale.scale) {
            // The inverse of the symmetric logarithm.
            (Some(c), _) => plot_value.signum() * c * (10f64.powf(plot_value.abs()) - 1.0),
            (None, Scale::Linear) => plot_value,
            (None, Scale::Log) => 10f64.powf(plot_value),
        };
        let y = bar_top + row;
        area.draw(&Rectangle::new(
            [(x0, y), (x1, y + 1)],
            scale.colour(value).filled(),
        ))?;
    }
    area.draw(&Rectangle::new(
        [(x0, bar_top), (x1, bar_bottom)],
        BLACK.stroke_width(1),
    ))?;
    let triangle = |tip_y: i32, base_y: i32, colour: RGBColor| {
        Polygon::new(
            vec![((x0 + x1) / 2, tip_y), (x0, base_y), (x1, base_y)],
            colour.filled(),
        )
    };
    if scale.extend_high {
        area.draw(&triangle(bar_top - 16, bar_top - 1, scale.map.colour(1.0)))?;
    }
    if scale.extend_low {
        area.draw(&triangle(
            bar_bottom + 16,
            bar_bottom + 1,
            scale.map.colour(0.0),
        ))?;
    }
    let (major, _, labels) = match scale.symlog {
        Some(c) => symlog_ticks(scale.lo, scale.hi, c),
        None => axis.ticks(),
    };
    for (v, label) in major.iter().zip(labels) {
        let t = (v - plo) / (phi - plo);
        let y = bar_bottom - (t * height as f64).round() as i32;
        area.draw(&PathElement::new(
            vec![(x1, y), (x1 + 6, y)],
            BLACK.stroke_width(1),
        ))?;
        area.draw_text(
            &label,
            &tick_font.pos(Pos::new(HPos::Left, VPos::Center)),
            (x1 + 10, y),
        )?;
    }
    Ok(())
}

/// Ticks of a symmetric-logarithmic bar over [lo, hi] with linear width c: 0 and ±10^k inside
/// the range, at least a tenth of the bar apart, in the bar's coordinate sign·log₁₀(1 + |v|/c).
fn symlog_ticks(lo: f64, hi: f64, c: f64) -> (Vec<f64>, Vec<f64>, Vec<String>) {
    let gap = 0.1 * (symlog(hi, c) - symlog(lo, c));
    let top = lo.abs().max(hi.abs());
    let (k0, k1) = (c.log10().floor() as i32, top.log10().floor() as i32);
    let mut values = vec![0.0];
    for sign in [1.0, -1.0] {
        let mut last = 0.0;
        for k in k0..=k1 {
            let v = sign * 10f64.powi(k);
            let at = symlog(v, c);
            if v >= lo && v <= hi && (at - last).abs() >= gap {
                values.push(v);
                last = at;
            }
        }
    }
    values.sort_by(f64::total_cmp);
    let positions = values.iter().map(|&v| symlog(v, c)).collect();
    let labels = values
        .iter()
        .map(|&v| super::ticks::format_compact(v).replace('-', "\u{2212}"))
        .collect();
    (positions, Vec::new(), labels)
}
