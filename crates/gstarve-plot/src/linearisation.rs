//! The width sweep's figures ([`LinearisationSweep`]):
//!
//! - `<prefix>-linearised`: z_j(τ) of the leading features, the linearised flow (solid) against
//!   the real network (dashed with markers), for the narrowest and the widest network side by
//!   side on shared axes;
//! - `<prefix>-width`: the gaps against width, log–log, with a slope −½ reference (the
//!   O(1/√m) rate at which a network leaves its tangent kernel) and the fitted slopes.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Marker, Scale, Shape};
use super::canvas::{write_figure, Figure, Written};
use super::legend::{draw_legend, LegendEntry, Swatch};
use super::moons::MoonsFigureOptions;
use super::style::{self, okabe_ito, Dash, FigureSize};
use super::ticks::{fitted_log_slope, format_compact, subscript};
use gstarve_core::error::{Error, OutputError, Result};
use gstarve_core::output::{Cell, Table};
use gstarve_core::simulation::figures::padded_extent;
use gstarve_net::experiments::{LinearisationSweep, WidthComparison};

const KEY_WIDTH: u32 = 330;
/// Most markers drawn per real-network curve.
const MARKERS: usize = 16;

struct LinearisedPlot<'a> {
    sweep: &'a LinearisationSweep,
    shown: Vec<&'a WidthComparison>,
    frame: Frame,
}

impl LinearisedPlot<'_> {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        w: &WidthComparison,
    ) -> std::result::Result<(), DrawError<DB>> {
        let title = format!(
            "width m\u{a0}=\u{a0}{}: response gap {:.1}\u{a0}%",
            w.width,
            100.0 * w.response_gap_flow
        );
        let mut chart = self.frame.chart(area, Some(&title), true)?;
        let k_top = w.strengths.len();
        let stride = (w.tau.len() / MARKERS).max(1);
        for k in 0..k_top {
            let colour = style::series_colour(k);
            let flow = w.tau.iter().zip(&w.flow).map(|(&t, z)| (t, z[k]));
            self.frame
                .curve(&mut chart, flow, CurveStyle::new(colour, Dash::Solid))?;
            let real: Vec<(f64, f64)> =
                w.tau.iter().zip(&w.real).map(|(&t, z)| (t, z[k])).collect();
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
        }
        Ok(())
    }
}

impl Figure for LinearisedPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, _) = root.dim_in_pixel();
        let (panels, key) = root.split_horizontally(width - KEY_WIDTH);
        let areas = panels.split_evenly((1, self.shown.len()));
        for (area, w) in areas.iter().zip(&self.shown) {
            self.panel(area, w)?;
        }
        let widest = self.shown[self.shown.len() - 1];
        let mut entries: Vec<LegendEntry> = (0..widest.strengths.len())
            .map(|k| {
                LegendEntry::new(
                    format!("z{}", subscript(k + 1)),
                    Swatch::Patch(style::series_colour(k)),
                )
            })
            .collect();
        entries.push(LegendEntry::new(
            "linearised flow (theory)",
            Swatch::Line(CurveStyle::new(okabe_ito::BLACK, Dash::Solid)),
        ));
        let mut marker = Marker::new(Shape::Circle, okabe_ito::BLACK, false);
        marker.size = 5;
        entries.push(LegendEntry::new(
            "real network z = UᵀYŷ",
            Swatch::LineMarker(
                CurveStyle::new(okabe_ito::BLACK, Dash::Dashed).width(style::width::GUIDE),
                marker,
            ),
        ));
        entries.push(LegendEntry::new(settings_note(self.sweep), Swatch::Heading));
        draw_legend(&key.margin(40, 10, 12, 6), &entries, 0)?;
        Ok(())
    }
}

fn settings_note(sweep: &LinearisationSweep) -> String {
    let s = &sweep.spec;
    format!(
        "NTK{}, n\u{a0}=\u{a0}{}, Δ\u{a0}=\u{a0}{}, plain GD η\u{a0}=\u{a0}{} (mean loss), {} epochs, no momentum, weight decay or SD; τ\u{a0}=\u{a0}η·k/n",
        if s.zero_output { ", f₀\u{a0}=\u{a0}0" } else { "" },
        s.n,
        format!("{:+}", s.margin).replace('-', "\u{2212}"),
        format_compact(s.learning_rate),
        s.epochs
    )
}

/// One series of the gap figure: label, colour, marker shape, dash, values per width.
struct GapSeries {
    label: String,
    colour: RGBColor,
    shape: Shape,
    dash: Dash,
    values: Vec<(f64, f64)>,
}

struct WidthPlot<'a> {
    sweep: &'a LinearisationSweep,
    frame: Frame,
    series: Vec<GapSeries>,
    reference: [(f64, f64); 2],
}

impl Figure for WidthPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, _) = root.dim_in_pixel();
        let (plot, key) = root.split_horizontally(width - KEY_WIDTH);
        let mut chart =
            self.frame
                .chart(&plot, Some("Real network against its linearisation"), true)?;
        let guide = CurveStyle::new(style::GUIDE_GREY, Dash::Dotted).width(style::width::GUIDE);
        self.frame.curve(&mut chart, self.reference, guide)?;
        let mut entries = Vec::new();
        for s in &self.series {
            let line = CurveStyle::new(s.colour, s.dash);
            self.frame
                .curve(&mut chart, s.values.iter().copied(), line)?;
            let marker = Marker::new(s.shape, s.colour, true);
            for &p in &s.values {
                self.frame.marker(&mut chart, p, marker)?;
            }
            let slope = fitted_log_slope(&s.values);
            entries.push(LegendEntry::new(
                format!(
                    "{} (slope {})",
                    s.label,
                    format!("{slope:.2}").replace('-', "\u{2212}")
                ),
                Swatch::LineMarker(line, marker),
            ));
        }
        entries.push(LegendEntry::new("slope −½: O(1/√m)", Swatch::Line(guide)));
        entries.push(LegendEntry::new(
            "maxima over the recorded epochs; z over the leading features",
            Swatch::Heading,
        ));
        entries.push(LegendEntry::new(settings_note(self.sweep), Swatch::Heading));
        draw_legend(&key.margin(40, 10, 12, 6), &entries, 0)?;
        Ok(())
    }
}

/// The width table: one line per width, columns `width,parameters,rank,s1,response_gap_flow,
/// response_gap_gd,output_gap_flow,output_gap_gd,output_scale,final_loss,wall_s`.
pub fn width_table(sweep: &LinearisationSweep) -> Result<Table> {
    let mut table = Table::new([
        "width",
        "parameters",
        "rank",
        "s1",
        "response_gap_flow",
        "response_gap_gd",
        "output_gap_flow",
        "output_gap_gd",
        "output_scale",
        "final_loss",
        "wall_s",
    ])?;
    for w in &sweep.widths {
        table.row([
            Cell::from(w.width),
            Cell::from(w.parameters),
            Cell::from(w.rank),
            Cell::FiniteSci(w.strengths.first().copied().unwrap_or(f64::NAN)),
            Cell::Sci(w.response_gap_flow),
            Cell::Sci(w.response_gap_gd),
            Cell::Sci(w.output_gap_flow),
            Cell::Sci(w.output_gap_gd),
            Cell::Sci(w.output_scale),
            Cell::Sci(w.final_loss),
            Cell::Sci(w.wall_s),
        ])?;
    }
    Ok(table)
}

/// The linearised figure's data: `width,epoch,tau,feature,real,flow,gd`, every width.
fn linearised_table(sweep: &LinearisationSweep) -> Result<Table> {
    let header = ["width", "epoch", "tau", "feature", "real", "flow", "gd"];
    let mut table = Table::new(header)?;
    for w in &sweep.widths {
        for (i, (&e, &t)) in w.epochs.iter().zip(&w.tau).enumerate() {
            for k in 0..w.strengths.len() {
                table.row([
                    Cell::from(w.width),
                    Cell::from(e),
                    Cell::Sci(t),
                    Cell::from(k + 1),
                    Cell::Sci(w.real[i][k]),
                    Cell::Sci(w.flow[i][k]),
                    Cell::Sci(w.gd[i][k]),
                ])?;
            }
        }
    }
    Ok(table)
}

/// Draw the width sweep's two figures; write `<dir>/<prefix>-linearised.{png,svg,csv}` (CSV
/// columns `width,epoch,tau,feature,real,flow,gd`, every width) and
/// `<dir>/<prefix>-width.{png,svg,csv}` (CSV: [`width_table`]).
pub fn width_figures(
    sweep: &LinearisationSweep,
    dir: &Path,
    options: &MoonsFigureOptions,
) -> Result<Vec<Written>> {
    let figure = format!("{}-width", options.prefix);
    if sweep.widths.is_empty() {
        return Err(Error::Output(OutputError::EmptyFigure { figure }));
    }
    let linearised = linearised_figure(sweep, dir, options, &figure)?;
    let width = width_figure(sweep, dir, options, figure)?;
    Ok(vec![linearised, width])
}

/// `<prefix>-linearised`: the narrowest and the widest network side by side.
fn linearised_figure(
    sweep: &LinearisationSweep,
    dir: &Path,
    options: &MoonsFigureOptions,
    figure: &str,
) -> Result<Written> {
    let empty = || {
        Error::Output(OutputError::EmptyFigure {
            figure: figure.to_string(),
        })
    };
    let narrow = sweep
        .widths
        .iter()
        .min_by_key(|w| w.width)
        .ok_or_else(empty)?;
    let wide = sweep
        .widths
        .iter()
        .max_by_key(|w| w.width)
        .ok_or_else(empty)?;
    let shown: Vec<&WidthComparison> = if narrow.width == wide.width {
        vec![wide]
    } else {
        vec![narrow, wide]
    };
    let (_, (y0, y1)) = padded_extent(shown.iter().flat_map(|w| {
        w.real
            .iter()
            .chain(&w.flow)
            .flat_map(|z| z.iter().map(|&v| (0.0, v)))
    }));
    let t_end = wide.tau.last().copied().unwrap_or(1.0);
    let frame = Frame::new(
        AxisSpec::new("learning time τ = η·k/n", 0.0, t_end, Scale::Linear),
        AxisSpec::new("response zⱼ", y0, y1, Scale::Linear),
    );
    let size = FigureSize::new(680 * shown.len() as u32 + KEY_WIDTH, 700);
    write_figure(
        &LinearisedPlot {
            sweep,
            shown,
            frame,
        },
        dir,
        &format!("{}-linearised", options.prefix),
        size,
        options.formats,
        linearised_table(sweep)?,
    )
}

/// The three gaps against width, each sorted by width.
fn gap_series(sweep: &LinearisationSweep) -> Vec<GapSeries> {
    let against_width = |gap: fn(&WidthComparison) -> f64| {
        let mut values: Vec<(f64, f64)> = sweep
            .widths
            .iter()
            .map(|w| (w.width as f64, gap(w)))
            .collect();
        values.sort_by(|a, b| a.0.total_cmp(&b.0));
        values
    };
    vec![
        GapSeries {
            label: "responses vs flow".into(),
            colour: okabe_ito::BLUE,
            shape: Shape::Circle,
            dash: Dash::Solid,
            values: against_width(|w| w.response_gap_flow),
        },
        GapSeries {
            label: "responses vs linearised GD".into(),
            colour: okabe_ito::VERMILLION,
            shape: Shape::Square,
            dash: Dash::Dashed,
            values: against_width(|w| w.response_gap_gd),
        },
        GapSeries {
            label: "outputs max|ŷ − ŷ_lin| / max|ŷ_lin| vs flow".into(),
            colour: okabe_ito::BLUISH_GREEN,
            shape: Shape::Diamond,
            dash: Dash::Solid,
            values: against_width(|w| w.output_gap_flow / w.output_scale),
        },
    ]
}

/// `<prefix>-width`: the gaps against width, log–log, with the slope −½ line from the first
/// response gap.
fn width_figure(
    sweep: &LinearisationSweep,
    dir: &Path,
    options: &MoonsFigureOptions,
    figure: String,
) -> Result<Written> {
    let series = gap_series(sweep);
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|p| p.1 > 0.0 && p.1.is_finite())
        .collect();
    if all.is_empty() {
        return Err(Error::Output(OutputError::EmptyFigure { figure }));
    }
    let (xmin, xmax) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
    let (ymin, ymax) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    let first = series[0].values.first().copied().unwrap_or((xmin, ymax));
    let reference = [first, (xmax, first.1 * (xmax / first.0).powf(-0.5))];
    let ymin = ymin.min(reference[1].1);
    let frame = Frame::new(
        AxisSpec::new("width m (NTK)", xmin / 1.5, xmax * 1.5, Scale::Log),
        AxisSpec::new("relative gap", ymin / 2.0, ymax * 2.0, Scale::Log),
    );
    write_figure(
        &WidthPlot {
            sweep,
            frame,
            series,
            reference,
        },
        dir,
        &figure,
        FigureSize::new(900 + KEY_WIDTH, 700),
        options.formats,
        width_table(sweep)?,
    )
}
