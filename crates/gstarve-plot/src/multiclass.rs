//! The figures of a [`MulticlassExperiment`] (c classes, docs/theory.md §9):
//!
//! - `<prefix>-responses`: z_j(τ) of the class-discriminating features, the linearised softmax
//!   flow (solid) against the real network (dashed with markers);
//! - `<prefix>-regions`: the trained network's decision regions, one light colour per class, with
//!   the training points in the full colour of their class;
//! - `<prefix>-starvation`: the starvation matrix E_ji among the chosen features (drawn by
//!   [`starvation_matrix_figure`]).
//!
//! Classes and features are coloured with the house series palette (Okabe–Ito first), which
//! stays distinguishable under the common colour-vision deficiencies.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Marker, Scale, Shape};
use super::canvas::{write_figure, Figure, Written};
use super::legend::{draw_legend, LegendEntry, Swatch};
use super::moons::MoonsFigureOptions;
use super::starvation_matrix::{starvation_matrix_figure, StarvationMatrixOptions};
use super::style::{self, okabe_ito, Dash, FigureSize};
use super::ticks::{format_compact, subscript};
use gstarve_core::error::Result;
use gstarve_core::output::{Cell, Table};
use gstarve_core::simulation::figures::padded_extent;
use gstarve_net::experiments::MulticlassExperiment;

const KEY_WIDTH: u32 = 330;
/// Most markers drawn per real-network curve.
const MARKERS: usize = 16;
/// Share of the class colour in a region's fill (the rest white).
const REGION_TINT: f64 = 0.35;

fn settings_note(exp: &MulticlassExperiment) -> String {
    let s = &exp.spec;
    format!(
        "{} spirals, n\u{a0}=\u{a0}{}; NTK width {}, f₀\u{a0}=\u{a0}0; plain GD η\u{a0}=\u{a0}{} (mean loss), {} epochs; τ\u{a0}=\u{a0}η·k/n",
        s.data.classes,
        s.data.n,
        s.width,
        format_compact(s.learning_rate),
        s.epochs
    )
}

struct ResponsesPlot<'a> {
    exp: &'a MulticlassExperiment,
    frame: Frame,
}

impl Figure for ResponsesPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let exp = self.exp;
        let (width, _) = root.dim_in_pixel();
        let (plot, key) = root.split_horizontally(width - KEY_WIDTH);
        let title = format!(
            "Class-discriminating responses: early gap {:.1}\u{a0}%, all {:.1}\u{a0}%",
            100.0 * exp.early_gap,
            100.0 * exp.response_gap
        );
        let mut chart = self.frame.chart(&plot, Some(&title), true)?;
        let stride = (exp.tau.len() / MARKERS).max(1);
        let mut entries = Vec::new();
        for (k, &j) in exp.features.iter().enumerate() {
            let colour = style::series_colour(k);
            let flow = exp.tau.iter().zip(&exp.flow).map(|(&t, z)| (t, z[k]));
            self.frame
                .curve(&mut chart, flow, CurveStyle::new(colour, Dash::Solid))?;
            let real: Vec<(f64, f64)> = exp
                .tau
                .iter()
                .zip(&exp.real)
                .map(|(&t, z)| (t, z[k]))
                .collect();
            self.frame.curve(
                &mut chart,
                real.iter().copied(),
                CurveStyle::new(colour, Dash::Dashed).width(style::width::GUIDE),
            )?;
            let mut marker = Marker::new(Shape::Circle, colour, false);
            marker.size = 5;
            for &p in real.iter().step_by(stride) {
                self.frame.marker(&mut chart, p, marker)?;
            }
            entries.push(LegendEntry::new(
                format!(
                    "z{} (s{}\u{a0}=\u{a0}{})",
                    subscript(j + 1),
                    subscript(j + 1),
                    format_compact(exp.strengths[k])
                ),
                Swatch::Patch(colour),
            ));
        }
        entries.push(LegendEntry::new(
            "linearised softmax flow",
            Swatch::Line(CurveStyle::new(okabe_ito::BLACK, Dash::Solid)),
        ));
        let mut marker = Marker::new(Shape::Circle, okabe_ito::BLACK, false);
        marker.size = 5;
        entries.push(LegendEntry::new(
            "real network z\u{a0}=\u{a0}Uᵀvec(F)",
            Swatch::LineMarker(
                CurveStyle::new(okabe_ito::BLACK, Dash::Dashed).width(style::width::GUIDE),
                marker,
            ),
        ));
        entries.push(LegendEntry::new(
            "features: the largest |dzⱼ/dτ| at τ\u{a0}=\u{a0}0",
            Swatch::Heading,
        ));
        entries.push(LegendEntry::new(settings_note(exp), Swatch::Heading));
        draw_legend(&key.margin(40, 10, 12, 6), &entries, 0)?;
        Ok(())
    }
}

/// The colour of class k.
fn class_colour(k: usize) -> RGBColor {
    style::series_colour(k)
}

fn tint(c: RGBColor) -> [u8; 3] {
    let mix = |v: u8| (REGION_TINT * v as f64 + (1.0 - REGION_TINT) * 255.0).round() as u8;
    [mix(c.0), mix(c.1), mix(c.2)]
}

struct RegionsPlot<'a> {
    exp: &'a MulticlassExperiment,
    frame: Frame,
}

impl Figure for RegionsPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let exp = self.exp;
        let frame = &self.frame;
        let (width, _) = root.dim_in_pixel();
        let (plot, key) = root.split_horizontally(width - KEY_WIDTH);
        let title = format!(
            "Decision regions, training accuracy {:.1}\u{a0}%",
            100.0 * exp.accuracy.last().copied().unwrap_or(f64::NAN)
        );
        let chart = frame.chart(&plot, Some(&title), false)?;
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let (w, h) = ((xr.end - xr.start) as u32, (yr.end - yr.start) as u32);
        let g = &exp.regions;
        let (nx, ny) = (g.x.len(), g.y.len());
        let (x0, x1) = frame.x.plot_range();
        let (y0, y1) = frame.y.plot_range();
        let index = |v: f64, axis: &[f64], count: usize| {
            (((v - axis[0]) / (axis[count - 1] - axis[0]) * (count - 1) as f64).round())
                .clamp(0.0, (count - 1) as f64) as usize
        };
        let mut buf = vec![255u8; w as usize * h as usize * 3];
        for py in 0..h as usize {
            let y = y1 - (py as f64 + 0.5) / h as f64 * (y1 - y0);
            let iy = index(y, &g.y, ny);
            for px in 0..w as usize {
                let x = x0 + (px as f64 + 0.5) / w as f64 * (x1 - x0);
                let c = tint(class_colour(g.classes[(iy, index(x, &g.x, nx))]));
                let k = 3 * (py * w as usize + px);
                buf[k..k + 3].copy_from_slice(&c);
            }
        }
        if let Some(image) = BitMapElement::with_owned_buffer((x0, y1), (w, h), buf) {
            chart.plotting_area().draw(&image)?;
        }
        let area = chart.plotting_area();
        let (bx, by) = area.get_base_pixel();
        let plain = area.strip_coord_spec();
        for (i, row) in exp.data.inputs().row_iter().enumerate() {
            let p = (row[0], row[1]);
            if !frame.contains(p) {
                continue;
            }
            let (px, py) = area.map_coordinate(&frame.to_plot(p));
            let at = (px - bx, py - by);
            let colour = class_colour(exp.data.labels()[i]);
            plain.draw(&Circle::new(at, 5, colour.filled()))?;
            plain.draw(&Circle::new(at, 5, BLACK.stroke_width(1)))?;
        }
        let mut entries: Vec<LegendEntry> = (0..exp.data.classes())
            .map(|k| {
                LegendEntry::new(
                    format!("class {k}"),
                    Swatch::Marker(Marker {
                        shape: Shape::Circle,
                        colour: class_colour(k),
                        filled: true,
                        size: 6,
                    }),
                )
            })
            .collect();
        entries.push(LegendEntry::new(
            "light fill: the class the network predicts (argmax of its logits)",
            Swatch::Heading,
        ));
        entries.push(LegendEntry::new(
            format!(
                "linearised flow's training accuracy: {:.1}\u{a0}%",
                100.0 * exp.flow_accuracy
            ),
            Swatch::Heading,
        ));
        entries.push(LegendEntry::new(settings_note(exp), Swatch::Heading));
        draw_legend(&key.margin(40, 10, 12, 6), &entries, 0)?;
        Ok(())
    }
}

fn responses_table(exp: &MulticlassExperiment) -> Result<Table> {
    let comment = format!(
        "feature = index j of the network's softmax feature system (n·c = {} rows, {} features); \
         real = (Uᵀvec(F))_j of the trained network, flow = z_j of the linearised softmax flow",
        exp.data.len() * exp.data.classes(),
        exp.rank
    );
    let header = ["epoch", "tau", "feature", "strength", "real", "flow"];
    let mut table = Table::with_comments(&[&comment], header)?;
    for (r, (&e, &t)) in exp.epochs.iter().zip(&exp.tau).enumerate() {
        for (k, &j) in exp.features.iter().enumerate() {
            table.row([
                Cell::from(e),
                Cell::Sci(t),
                Cell::from(j + 1),
                Cell::Sci(exp.strengths[k]),
                Cell::Sci(exp.real[r][k]),
                Cell::Sci(exp.flow[r][k]),
            ])?;
        }
    }
    Ok(table)
}

fn regions_table(exp: &MulticlassExperiment) -> Result<Table> {
    let comment =
        "kind grid: class = argmax_k f_k(x1, x2) of the trained network; kind point: class = label";
    let mut table = Table::with_comments(&[comment], ["kind", "x1", "x2", "class"])?;
    let g = &exp.regions;
    for (r, &y) in g.y.iter().enumerate() {
        for (c, &x) in g.x.iter().enumerate() {
            table.row([
                Cell::Text("grid"),
                Cell::Sci(x),
                Cell::Sci(y),
                Cell::from(g.classes[(r, c)]),
            ])?;
        }
    }
    for (i, row) in exp.data.inputs().row_iter().enumerate() {
        table.row([
            Cell::Text("point"),
            Cell::Sci(row[0]),
            Cell::Sci(row[1]),
            Cell::from(exp.data.labels()[i]),
        ])?;
    }
    Ok(table)
}

/// Draw the three figures of `exp` and write `<dir>/<prefix>-responses`, `-regions` and
/// `-starvation` (images as `options.formats`, each with its CSV: `epoch,tau,feature,strength,
/// real,flow`; `kind,x1,x2,class`; `j,i,s_i,z_j,elasticity`).
pub fn multiclass_figures(
    exp: &MulticlassExperiment,
    dir: &Path,
    options: &MoonsFigureOptions,
) -> Result<Vec<Written>> {
    let extent = padded_extent(
        exp.tau
            .iter()
            .zip(exp.real.iter().zip(&exp.flow))
            .flat_map(|(&t, (a, b))| a.iter().chain(b).map(move |&z| (t, z))),
    );
    let responses = write_figure(
        &ResponsesPlot {
            exp,
            frame: Frame::new(
                AxisSpec::new(
                    "learning time τ",
                    0.0,
                    exp.tau.last().copied().unwrap_or(1.0),
                    Scale::Linear,
                ),
                AxisSpec::new("response zⱼ", extent.1 .0, extent.1 .1, Scale::Linear),
            ),
        },
        dir,
        &format!("{}-responses", options.prefix),
        FigureSize::new(900 + KEY_WIDTH, 700),
        options.formats,
        responses_table(exp)?,
    )?;
    let g = &exp.regions;
    let regions = write_figure(
        &RegionsPlot {
            exp,
            frame: Frame::new(
                AxisSpec::new("x₁", g.x[0], g.x[g.x.len() - 1], Scale::Linear),
                AxisSpec::new("x₂", g.y[0], g.y[g.y.len() - 1], Scale::Linear),
            ),
        },
        dir,
        &format!("{}-regions", options.prefix),
        FigureSize::new(760 + KEY_WIDTH, 760),
        options.formats,
        regions_table(exp)?,
    )?;
    let starvation = starvation_matrix_figure(
        &exp.starvation,
        dir,
        &StarvationMatrixOptions {
            name: format!("{}-starvation", options.prefix),
            formats: options.formats,
            title: Some("Starvation among class-discriminating features".into()),
            ..Default::default()
        },
    )?;
    Ok(vec![responses, regions, starvation])
}
