//! Responses over learning time, z_j(τ): the exact flow (solid) against GD (dashed), one colour
//! per response, steady states dotted, on a linear or logarithmic time axis.

use std::fmt::Write as _;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Scale};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::legend::{draw_legend, LegendEntry, Swatch};
use super::phase_plane::{padded_extent, subscript};
use super::style::{self, okabe_ito, Dash, FigureSize};
use super::ticks::format_compact;
use gstarve_core::error::{Error, InputError, Result};
use gstarve_core::model::Regulariser;
use gstarve_core::ode::OdeSolution;
use gstarve_core::reference::{TOY_ETA, TOY_LAMBDA_L2, TOY_STEPS};
use gstarve_core::simulation::paths as runs;
use gstarve_core::solvers::steady::steady_state;
use gstarve_core::systems::FeatureSystem;

/// Options of [`responses`].
#[derive(Clone, Debug, PartialEq)]
pub struct ResponsesOptions {
    /// File stem (default `responses`).
    pub name: String,
    /// The responses to draw, 0-based (default: all, at most 7).
    pub responses: Option<Vec<usize>>,
    /// The regulariser (default L2 with λ = 0.01).
    pub regulariser: Regulariser,
    /// Draw the exact flow (default true).
    pub flow: bool,
    /// Draw GD (default true).
    pub gd: bool,
    /// GD step size η (default 0.05).
    pub eta: f64,
    /// Final learning time (default 250 = 5000 steps of 0.05).
    pub t_end: f64,
    /// Logarithmic time axis, from τ = η (default false).
    pub log_time: bool,
    /// Pixel size (default one column).
    pub size: FigureSize,
    /// Image formats (default PNG).
    pub formats: Formats,
    /// Title (default: strengths and regulariser).
    pub title: Option<String>,
}

impl Default for ResponsesOptions {
    fn default() -> Self {
        Self {
            name: "responses".into(),
            responses: None,
            regulariser: Regulariser::L2 {
                lambda: TOY_LAMBDA_L2,
            },
            flow: true,
            gd: true,
            eta: TOY_ETA,
            t_end: TOY_ETA * TOY_STEPS as f64,
            log_time: false,
            size: FigureSize::COLUMN,
            formats: Formats::PNG,
            title: None,
        }
    }
}

const KEY_WIDTH: u32 = 260;
/// Most GD states recorded (all steps below this).
const MAX_GD_POINTS: usize = 100_001;

struct ResponsesPlot {
    frame: Frame,
    title: String,
    /// (response index, label, colour).
    responses: Vec<(usize, String, RGBColor)>,
    flow: Option<OdeSolution>,
    gd: Option<OdeSolution>,
    steady: Option<Vec<f64>>,
    eta: f64,
}

impl Figure for ResponsesPlot {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, _) = root.dim_in_pixel();
        let (plot, key) = root.split_horizontally(width - KEY_WIDTH);
        let mut chart = self.frame.chart(&plot, Some(&self.title), true)?;
        let (t0, t1) = (self.frame.x.lo, self.frame.x.hi);
        for &(j, _, colour) in &self.responses {
            if let Some(z) = &self.steady {
                let style = CurveStyle::new(colour, Dash::Dotted).width(style::width::GUIDE);
                self.frame
                    .curve(&mut chart, [(t0, z[j]), (t1, z[j])], style)?;
            }
            for (sol, dash) in [(&self.flow, Dash::Solid), (&self.gd, Dash::Dashed)] {
                if let Some(sol) = sol {
                    let pts = sol.tau.iter().zip(&sol.states).map(|(&t, z)| (t, z[j]));
                    self.frame
                        .curve(&mut chart, pts, CurveStyle::new(colour, dash))?;
                }
            }
        }
        let mut entries: Vec<LegendEntry> = self
            .responses
            .iter()
            .map(|(_, label, colour)| LegendEntry::new(label.clone(), Swatch::Patch(*colour)))
            .collect();
        let black = |dash| Swatch::Line(CurveStyle::new(okabe_ito::BLACK, dash));
        if self.flow.is_some() {
            entries.push(LegendEntry::new("exact flow", black(Dash::Solid)));
        }
        if self.gd.is_some() {
            let label = format!("GD, η\u{a0}=\u{a0}{}", format_compact(self.eta));
            entries.push(LegendEntry::new(label, black(Dash::Dashed)));
        }
        if self.steady.is_some() {
            entries.push(LegendEntry::new("steady state z*", black(Dash::Dotted)));
        }
        draw_legend(&key.margin(30, 10, 12, 6), &entries, 0)?;
        Ok(())
    }
}

/// Draw z_j(τ) of `system` (flow and/or GD from z = 0) and write `<dir>/<name>.{png,svg,csv}`
/// (CSV columns `method,index,tau,z1..zr`, index counting recorded states; the steady state
/// as method `steady`).
pub fn responses(
    system: &FeatureSystem,
    dir: &Path,
    options: &ResponsesOptions,
) -> Result<Written> {
    let r = system.rank();
    let chosen: Vec<usize> = match &options.responses {
        Some(list) => list.clone(),
        None => (0..r.min(7)).collect(),
    };
    if let Some(&bad) = chosen.iter().find(|&&j| j >= r) {
        return Err(Error::Input(InputError::ResponseOutOfRange {
            index: bad + 1,
            rank: r,
        }));
    }
    let dynamics = runs::logistic(system, options.regulariser)?;
    let t_first = if options.gd {
        options.eta
    } else {
        options.t_end * 1e-4
    };
    let flow = options
        .flow
        .then(|| {
            let geometric = options.log_time.then_some(t_first / 10.0);
            runs::flow(&dynamics, options.t_end, 2001, geometric)
        })
        .transpose()?;
    let gd_points = if options.log_time {
        MAX_GD_POINTS
    } else {
        2001
    };
    let gd = options
        .gd
        .then(|| runs::gd(&dynamics, options.eta, options.t_end, gd_points))
        .transpose()?;
    let steady = match steady_state(&dynamics) {
        Ok(s) => Some(s.responses.iter().copied().collect::<Vec<f64>>()),
        Err(Error::Input(InputError::NoSteadyState)) => None,
        Err(e) => return Err(e),
    };
    let values = [&flow, &gd]
        .into_iter()
        .flatten()
        .flat_map(|sol| sol.states.iter())
        .flat_map(|z| chosen.iter().map(move |&j| (0.0, z[j])))
        .chain(
            steady
                .iter()
                .flat_map(|z| chosen.iter().map(move |&j| (0.0, z[j]))),
        );
    let (_, (y0, y1)) = padded_extent(values);
    let (x_lo, scale) = if options.log_time {
        (t_first, Scale::Log)
    } else {
        (0.0, Scale::Linear)
    };
    let frame = Frame::new(
        AxisSpec::new("learning time τ", x_lo, options.t_end, scale),
        AxisSpec::new("response zⱼ", y0, y1, Scale::Linear),
    );
    let strengths: Vec<String> = system
        .strengths()
        .iter()
        .map(|&s| format_compact(s))
        .collect();
    let responses_drawn = chosen
        .iter()
        .enumerate()
        .map(|(k, &j)| {
            let label = format!(
                "z{} (s{}\u{a0}=\u{a0}{})",
                subscript(j + 1),
                subscript(j + 1),
                strengths[j]
            );
            (j, label, style::series_colour(k))
        })
        .collect();
    let title = options.title.clone().unwrap_or_else(|| {
        let regulariser = match options.regulariser {
            Regulariser::None => "no regulariser".to_string(),
            reg => format!(
                "{}\u{a0}λ\u{a0}=\u{a0}{}",
                reg.name().to_uppercase(),
                format_compact(reg.lambda())
            ),
        };
        format!(
            "Responses, s\u{a0}=\u{a0}({}), {regulariser}",
            strengths.join(", "),
        )
    });
    let csv = responses_csv(&flow, &gd, &steady, r);
    let plot = ResponsesPlot {
        frame,
        title,
        responses: responses_drawn,
        flow,
        gd,
        steady,
        eta: options.eta,
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

fn responses_csv(
    flow: &Option<OdeSolution>,
    gd: &Option<OdeSolution>,
    steady: &Option<Vec<f64>>,
    r: usize,
) -> String {
    let mut out = String::from("method,index,tau");
    for j in 1..=r {
        let _ = write!(out, ",z{j}");
    }
    out.push('\n');
    for (name, sol) in [("flow", flow), ("gd", gd)] {
        if let Some(sol) = sol {
            for (k, (t, z)) in sol.tau.iter().zip(&sol.states).enumerate() {
                let _ = write!(out, "{name},{k},{t:e}");
                for v in z.iter() {
                    let _ = write!(out, ",{v:e}");
                }
                out.push('\n');
            }
        }
    }
    if let Some(z) = steady {
        out.push_str("steady,,");
        for v in z {
            let _ = write!(out, ",{v:e}");
        }
        out.push('\n');
    }
    out
}
