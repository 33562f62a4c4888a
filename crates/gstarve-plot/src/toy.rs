//! The paper's toy figure (its Figure 6, docs/theory.md §6): two examples labelled +1, U = U(0.5),
//! strengths s = (l, 2) for l = 2…6, GD with η = 0.05 for 5000 steps from z = 0. Left panel:
//! primal L2 (solid) with the dual path (dotted); right panel: primal L2 (solid) with Spectral
//! Decoupling (dashed); the same colour for the same l; |z₁| against |z₂| on the paper's axes.

use std::fmt::Write as _;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Marker, Scale, Shape};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::legend::{draw_legend, LegendEntry, Swatch};
use super::style::{self, okabe_ito, Dash, FigureSize};
use super::ticks::format_compact;
use gstarve_core::error::Result;
use gstarve_core::model::Regulariser;
use gstarve_core::ode::OdeSolution;
use gstarve_core::reference::{paper_toy, TOY_ETA, TOY_LAMBDA_L2, TOY_LAMBDA_SD, TOY_STEPS};
use gstarve_core::simulation::paths as runs;
use gstarve_core::solvers::steady::steady_state;

/// Options of [`toy_figure`].
#[derive(Clone, Debug, PartialEq)]
pub struct ToyFigureOptions {
    /// File stem (default `toy-figure`).
    pub name: String,
    /// The strengths l of the strong feature (default 2, 3, 4, 5, 6).
    pub ls: Vec<f64>,
    /// GD step size (default 0.05).
    pub eta: f64,
    /// GD steps (default 5000).
    pub steps: usize,
    /// L2 λ (default 0.01).
    pub lambda_l2: f64,
    /// SD λ (default 0.002).
    pub lambda_sd: f64,
    /// Own time of the dual flow (default 10; it converges long before).
    pub dual_t_end: f64,
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
            ls: vec![2.0, 3.0, 4.0, 5.0, 6.0],
            eta: TOY_ETA,
            steps: TOY_STEPS,
            lambda_l2: TOY_LAMBDA_L2,
            lambda_sd: TOY_LAMBDA_SD,
            dual_t_end: 10.0,
            window: ((-0.5, 10.5), (-0.1, 1.75)),
            size: FigureSize::PAGE,
            formats: Formats::PNG,
        }
    }
}

const KEY_WIDTH: u32 = 300;
/// Most GD states recorded per run (every step of the toy's 5000).
const GD_POINTS: usize = 10_001;

/// One l: its runs and steady states.
struct ToyRun {
    l: f64,
    primal: OdeSolution,
    dual: OdeSolution,
    sd: OdeSolution,
    steady_l2: (f64, f64),
    steady_sd: (f64, f64),
}

fn abs_path(sol: &OdeSolution) -> Vec<(f64, f64)> {
    sol.states
        .iter()
        .map(|z| (z[0].abs(), z[1].abs()))
        .collect()
}

struct ToyPlot {
    frame: Frame,
    runs: Vec<ToyRun>,
    eta: f64,
    steps: usize,
    lambdas: (f64, f64),
}

impl ToyPlot {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        second: Dash,
    ) -> std::result::Result<(), DrawError<DB>> {
        let mut chart = self.frame.chart(area, Some(title), true)?;
        for (k, run) in self.runs.iter().enumerate() {
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
            if let Some(run) = self.runs.first() {
                let marker = Marker::new(Shape::Diamond, okabe_ito::BLACK, true);
                let (a, b) = run.steady_sd;
                self.frame.marker(&mut chart, (a.abs(), b.abs()), marker)?;
            }
        }
        Ok(())
    }
}

impl Figure for ToyPlot {
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
        let mut entries: Vec<LegendEntry> = self
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
                format_compact(self.lambdas.0),
                format_compact(self.eta),
                self.steps
            ),
            black(Dash::Solid),
        ));
        entries.push(LegendEntry::new("L2 dual path", black(Dash::Dotted)));
        entries.push(LegendEntry::new(
            format!("SD GD, λ\u{a0}=\u{a0}{}", format_compact(self.lambdas.1)),
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

/// Draw the paper's toy figure and write `<dir>/<name>.{png,svg}` with its data
/// `<dir>/<name>.csv` (`l,method,index,tau,z1,z2`; τ is learning time for GD and the dual's own
/// time for the dual; steady states as methods `steady-l2`, `steady-sd`).
pub fn toy_figure(dir: &Path, options: &ToyFigureOptions) -> Result<Written> {
    let t_end = options.eta * options.steps as f64;
    let mut toy_runs = Vec::new();
    for &l in &options.ls {
        let system = paper_toy(l);
        let l2 = runs::logistic(
            &system,
            Regulariser::L2 {
                lambda: options.lambda_l2,
            },
        )?;
        let sd = runs::logistic(
            &system,
            Regulariser::SpectralDecoupling {
                lambda: options.lambda_sd,
            },
        )?;
        let pair = |z: &nalgebra::DVector<f64>| (z[0], z[1]);
        toy_runs.push(ToyRun {
            l,
            primal: runs::gd(&l2, options.eta, t_end, GD_POINTS)?,
            dual: runs::dual_path(&l2, options.dual_t_end)?,
            sd: runs::gd(&sd, options.eta, t_end, GD_POINTS)?,
            steady_l2: pair(&steady_state(&l2)?.responses),
            steady_sd: pair(&steady_state(&sd)?.responses),
        });
    }
    let ((x0, x1), (y0, y1)) = options.window;
    let frame = Frame::new(
        AxisSpec::new("|z₁| (strong feature)", x0, x1, Scale::Linear),
        AxisSpec::new("|z₂| (weak feature)", y0, y1, Scale::Linear),
    );
    let csv = toy_csv(&toy_runs);
    let plot = ToyPlot {
        frame,
        runs: toy_runs,
        eta: options.eta,
        steps: options.steps,
        lambdas: (options.lambda_l2, options.lambda_sd),
    };
    write_figure(
        &plot,
        dir,
        &options.name,
        options.size,
        options.formats,
        &csv,
    )
}

fn toy_csv(toy_runs: &[ToyRun]) -> String {
    let mut out = String::from("l,method,index,tau,z1,z2\n");
    for run in toy_runs {
        for (method, sol) in [
            ("l2-gd", &run.primal),
            ("l2-dual", &run.dual),
            ("sd-gd", &run.sd),
        ] {
            for (k, (t, z)) in sol.tau.iter().zip(&sol.states).enumerate() {
                let _ = writeln!(out, "{},{method},{k},{t:e},{:e},{:e}", run.l, z[0], z[1]);
            }
        }
        for (method, z) in [("steady-l2", run.steady_l2), ("steady-sd", run.steady_sd)] {
            let _ = writeln!(out, "{},{method},0,,{:e},{:e}", run.l, z.0, z.1);
        }
    }
    out
}
