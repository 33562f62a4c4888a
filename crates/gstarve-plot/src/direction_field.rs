//! The direction field and nullclines of a two-feature flow in the (z_a, z_b) plane: arrows of
//! equal length showing the direction of F on a coarse grid, and the curves ż_a = 0, ż_b = 0
//! by marching squares on a fine one.

use plotters::prelude::*;

use super::axes::{Chart, CurveStyle, DrawError, Frame};
use super::contour::{GridField, LabelledContour};
use super::phase_plane::subscript;
use super::style::{self, Dash};

/// Direction-field arrows per axis.
pub(crate) const FIELD_ARROWS: (usize, usize) = (17, 13);
/// Nullcline sampling grid.
const NULLCLINE_GRID: (usize, usize) = (241, 181);
/// Colour of the arrows (light, behind the data).
pub(crate) const ARROW_GREY: RGBColor = RGBColor(175, 175, 175);

/// The flow's rate F at a point of the direction-field grid.
pub(crate) struct FieldSample {
    pub at: (f64, f64),
    pub rate: (f64, f64),
}

/// Draw the arrows of `field` on the chart (direction only, equal lengths in pixels).
pub(crate) fn draw_arrows<DB: DrawingBackend>(
    chart: &Chart<DB>,
    frame: &Frame,
    field: &[FieldSample],
) -> Result<(), DrawError<DB>> {
    if field.is_empty() {
        return Ok(());
    }
    let area = chart.plotting_area();
    let (bx, by) = area.get_base_pixel();
    let (w, h) = area.dim_in_pixel();
    let length = 0.42 * (w as f64 / FIELD_ARROWS.0 as f64).min(h as f64 / FIELD_ARROWS.1 as f64);
    let (x0, x1) = frame.x.plot_range();
    let (y0, y1) = frame.y.plot_range();
    let (sx, sy) = (w as f64 / (x1 - x0), h as f64 / (y1 - y0));
    let pixels = area.strip_coord_spec();
    for sample in field {
        let (px, py) = area.map_coordinate(&sample.at);
        let (dx, dy) = (sample.rate.0 * sx, -sample.rate.1 * sy);
        let norm = dx.hypot(dy);
        if !(norm > 0.0 && norm.is_finite()) {
            continue;
        }
        let (ux, uy) = (dx / norm, dy / norm);
        let c = ((px - bx) as f64, (py - by) as f64);
        let tail = (c.0 - 0.5 * length * ux, c.1 - 0.5 * length * uy);
        let tip = (c.0 + 0.5 * length * ux, c.1 + 0.5 * length * uy);
        let head = |side: f64| {
            (
                (tip.0 - 7.0 * ux + side * 4.0 * uy).round() as i32,
                (tip.1 - 7.0 * uy - side * 4.0 * ux).round() as i32,
            )
        };
        let r = |q: (f64, f64)| (q.0.round() as i32, q.1.round() as i32);
        pixels.draw(&PathElement::new(
            vec![r(tail), r(tip)],
            ARROW_GREY.stroke_width(2),
        ))?;
        pixels.draw(&Polygon::new(
            vec![r(tip), head(1.0), head(-1.0)],
            ARROW_GREY.filled(),
        ))?;
    }
    Ok(())
}

/// F at the points of an (nx × ny) grid filling the window (cell centres).
pub(crate) fn sample(
    frame: &Frame,
    (nx, ny): (usize, usize),
    f: impl Fn(f64, f64) -> (f64, f64),
) -> Vec<FieldSample> {
    let (x0, x1) = frame.x.plot_range();
    let (y0, y1) = frame.y.plot_range();
    let mut out = Vec::with_capacity(nx * ny);
    for j in 0..ny {
        for i in 0..nx {
            let x = x0 + (i as f64 + 0.5) / nx as f64 * (x1 - x0);
            let y = y0 + (j as f64 + 0.5) / ny as f64 * (y1 - y0);
            out.push(FieldSample {
                at: (x, y),
                rate: f(x, y),
            });
        }
    }
    out
}

pub(crate) fn nullclines(
    frame: &Frame,
    (a, b): (usize, usize),
    f: impl Fn(f64, f64) -> (f64, f64),
) -> Vec<LabelledContour> {
    let (nx, ny) = NULLCLINE_GRID;
    let (x0, x1) = frame.x.plot_range();
    let (y0, y1) = frame.y.plot_range();
    let xs: Vec<f64> = (0..nx)
        .map(|i| x0 + i as f64 / (nx - 1) as f64 * (x1 - x0))
        .collect();
    let ys: Vec<f64> = (0..ny)
        .map(|j| y0 + j as f64 / (ny - 1) as f64 * (y1 - y0))
        .collect();
    let mut components = [Vec::with_capacity(nx * ny), Vec::with_capacity(nx * ny)];
    for &y in &ys {
        for &x in &xs {
            let v = f(x, y);
            components[0].push(v.0);
            components[1].push(v.1);
        }
    }
    let styles = [
        CurveStyle::new(style::GUIDE_GREY, Dash::Solid).width(style::width::GUIDE),
        CurveStyle::new(style::GUIDE_GREY, Dash::Dotted).width(style::width::GUIDE),
    ];
    (0..2)
        .map(|k| {
            let field = GridField {
                xs: &xs,
                ys: &ys,
                values: &components[k],
            };
            LabelledContour {
                label: format!("nullcline ż{}\u{a0}=\u{a0}0", subscript([a, b][k] + 1)),
                lines: field.contour(0.0),
                style: styles[k],
            }
        })
        .collect()
}
