//! The paper's toy figure (its Figure 6, docs/theory.md §6.1): two examples labelled +1, U =
//! U(0.5), strengths s = (l, 2) for l = 2…6, GD with η = 0.05 for 5000 steps from z = 0. Left
//! panel: primal L2 (solid) with the dual path (dotted); right panel: primal L2 (solid) with
//! Spectral Decoupling (dashed); the same colour for the same l; |z₁| against |z₂| on the paper's
//! axes.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Marker, Scale, Shape};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::legend::{draw_legend, LegendEntry, Swatch};
use super::style::{self, okabe_ito, Dash, FigureSize};
use super::ticks::format_compact;
use gstarve_core::error::Result;
use gstarve_core::ode::OdeSolution;
use gstarve_core::output::{Cell, Table};
use gstarve_core::simulation::figures::ToyFigureData;

/// Options of [`toy_figure`].
#[derive(Clone, Debug, PartialEq)]
pub struct ToyFigureOptions {
    /// File stem (default `toy-figure`).
    pub name: String,
    /// Axes ((|z₁| range), (|z₂| range)) (default the paper's: [−0.5, 10.5] × [−0.1, 1.75]).
    pub window: ((f64, f64), (f64, f64)),
    /// Pixel size (default a page: two panels side by side).
    pub size: FigureSize,
    /// Image formats (default PNG).
    pub formats: Formats,
}

impl Default for ToyFigureOptions {
    fn default() -> Self {
        Self {
            name: "toy-figure".into(),
            window: ((-0.5, 10.5), (-0.1, 1.75)),
            size: FigureSize::PAGE,
            formats: Formats::PNG,
        }
    }
}

const KEY_WIDTH: u32 = 300;

fn abs_path(sol: &OdeSolution) -> Vec<(f64, f64)> {
    sol.states
        .iter()
        .map(|z| (z[0].abs(), z[1].abs()))
        .collect()
}

struct ToyPlot<'a> {
    data: &'a ToyFigureData,
    frame: Frame,
}

impl ToyPlot<'_> {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        second: Dash,
    ) -> std::result::Result<(), DrawError<DB>> {
        let mut chart = self.frame.chart(area, Some(title), true)?;
        for (k, run) in self.data.runs.iter().enumerate() {
            let colour = style::series_colour(k);
            let other = if second == Dash::Dotted {
                &run.dual
            } else {
                &run.sd
            };
            self.frame
                .curve(&mut chart, abs_path(other), CurveStyle::new(colour, second))?;
            self.frame.curve(
                &mut chart,
                abs_path(&run.primal),
                CurveStyle::new(colour, Dash::Solid),
            )?;
            let marker = Marker::new(Shape::Circle, colour, false);
            let (a, b) = run.steady_l2;
            self.frame.marker(&mut chart, (a.abs(), b.abs()), marker)?;
        }
        if second == Dash::Dashed {
            if let Some(run) = self.data.runs.first() {
                let marker = Marker::new(Shape::Diamond, okabe_ito::BLACK, true);
                let (a, b) = run.steady_sd;
                self.frame.marker(&mut chart, (a.abs(), b.abs()), marker)?;
            }
        }
        Ok(())
    }
}

impl Figure for ToyPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, _) = root.dim_in_pixel();
        let (panels, key) = root.split_horizontally(width - KEY_WIDTH);
        let (w, _) = panels.dim_in_pixel();
        let (left, right) = panels.split_horizontally(w / 2);
        self.panel(&left, "L2: primal (solid) and dual (dotted)", Dash::Dotted)?;
        self.panel(&right, "L2 (solid) and SD (dashed)", Dash::Dashed)?;
        let spec = &self.data.spec;
        let mut entries: Vec<LegendEntry> = self
            .data
            .runs
            .iter()
            .enumerate()
            .map(|(k, run)| {
                LegendEntry::new(
                    format!(
                        "l\u{a0}=\u{a0}{}: s\u{a0}=\u{a0}({}, 2)",
                        format_compact(run.l),
                        format_compact(run.l)
                    ),
                    Swatch::Patch(style::series_colour(k)),
                )
            })
            .collect();
        let black = |dash| Swatch::Line(CurveStyle::new(okabe_ito::BLACK, dash));
        entries.push(LegendEntry::new(
            format!(
                "L2 GD, λ\u{a0}=\u{a0}{}, η\u{a0}=\u{a0}{}, {} steps",
                format_compact(spec.lambda_l2),
                format_compact(spec.eta),
                spec.steps
            ),
            black(Dash::Solid),
        ));
        entries.push(LegendEntry::new("L2 dual path", black(Dash::Dotted)));
        entries.push(LegendEntry::new(
            format!("SD GD, λ\u{a0}=\u{a0}{}", format_compact(spec.lambda_sd)),
            black(Dash::Dashed),
        ));
        entries.push(LegendEntry::new(
            "L2 steady state z*",
            Swatch::Marker(Marker::new(Shape::Circle, okabe_ito::BLACK, false)),
        ));
        entries.push(LegendEntry::new(
            "SD steady state (every l)",
            Swatch::Marker(Marker::new(Shape::Diamond, okabe_ito::BLACK, true)),
        ));
        entries.push(LegendEntry::new(
            "coupling δ\u{a0}=\u{a0}0.5 (30°), both examples labelled +1",
            Swatch::Heading,
        ));
        draw_legend(&key.margin(40, 10, 12, 6), &entries, 0)?;
        Ok(())
    }
}

/// Draw the paper's toy figure from its computed runs and write `<dir>/<name>.{png,svg}` with
/// its data `<dir>/<name>.csv` (`l,method,index,tau,z1,z2`; τ is learning time for GD and the
/// dual's own time for the dual; steady states as methods `steady-l2`, `steady-sd`, with index 0
/// and τ = `inf`).
pub fn toy_figure(data: &ToyFigureData, dir: &Path, options: &ToyFigureOptions) -> Result<Written> {
    let ((x0, x1), (y0, y1)) = options.window;
    let frame = Frame::new(
        AxisSpec::new("|z₁| (strong feature)", x0, x1, Scale::Linear),
        AxisSpec::new("|z₂| (weak feature)", y0, y1, Scale::Linear),
    );
    write_figure(
        &ToyPlot { data, frame },
        dir,
        &options.name,
        options.size,
        options.formats,
        toy_table(data)?,
    )
}

fn toy_table(data: &ToyFigureData) -> Result<Table> {
    let mut table = Table::new(["l", "method", "index", "tau", "z1", "z2"])?;
    for run in &data.runs {
        for (method, sol) in [
            ("l2-gd", &run.primal),
            ("l2-dual", &run.dual),
            ("sd-gd", &run.sd),
        ] {
            for (k, (&t, z)) in sol.tau.iter().zip(&sol.states).enumerate() {
                table.row([
                    Cell::Plain(run.l),
                    Cell::Text(method),
                    Cell::from(k),
                    Cell::Sci(t),
                    Cell::Sci(z[0]),
                    Cell::Sci(z[1]),
                ])?;
            }
        }
        for (method, z) in [("steady-l2", run.steady_l2), ("steady-sd", run.steady_sd)] {
            table.row([
                Cell::Plain(run.l),
                Cell::Text(method),
                Cell::Int(0),
                Cell::Sci(f64::INFINITY),
                Cell::Sci(z.0),
                Cell::Sci(z.1),
            ])?;
        }
    }
    Ok(table)
}
