//! The direction field of a two-feature flow in the (z_a, z_b) plane: arrows of equal length
//! showing the direction of the sampled rates F.

use plotters::prelude::*;

use super::axes::{Chart, DrawError, Frame};
use gstarve_core::simulation::figures::DirectionField;

/// Colour of the arrows (light, behind the data).
pub(crate) const ARROW_GREY: RGBColor = RGBColor(175, 175, 175);

/// Draw the arrows of `field` on the chart (direction only, equal lengths in pixels: 0.42 of a
/// grid cell).
pub(crate) fn draw_arrows<DB: DrawingBackend>(
    chart: &Chart<DB>,
    frame: &Frame,
    field: &DirectionField,
) -> Result<(), DrawError<DB>> {
    if field.samples.is_empty() {
        return Ok(());
    }
    let (columns, rows) = field.shape;
    let area = chart.plotting_area();
    let (bx, by) = area.get_base_pixel();
    let (w, h) = area.dim_in_pixel();
    let length = 0.42 * (w as f64 / columns as f64).min(h as f64 / rows as f64);
    let (x0, x1) = frame.x.plot_range();
    let (y0, y1) = frame.y.plot_range();
    let (sx, sy) = (w as f64 / (x1 - x0), h as f64 / (y1 - y0));
    let pixels = area.strip_coord_spec();
    for sample in &field.samples {
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
