//! Phase plane: draws a computed [`PhasePlaneData`] — response z_a against z_b with the exact
//! flow, GD, the dual path, the SD flow and the decoupled system's flow, steady states marked,
//! and for two features the direction field and the nullclines ż_a = 0, ż_b = 0 traced on the
//! data's rate grid.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Marker, Scale, Shape};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::contour::{GridField, LabelledContour};
use super::direction_field::{draw_arrows, ARROW_GREY};
use super::legend::{draw_legend, LegendEntry, Swatch};
use super::style::{self, okabe_ito, Dash, FigureSize};
use super::ticks::{coupling_note, format_compact, softmax_note, strengths_summary, subscript};
use gstarve_core::error::Result;
use gstarve_core::model::Loss;
use gstarve_core::output::{Cell, Table};
use gstarve_core::simulation::figures::{
    DirectionField, PhasePlaneData, PlanePath, PlaneRun, PlaneSteadyState, RateGrid,
    RegulariserKind, SteadyKind,
};

/// Options of [`phase_plane`].
#[derive(Clone, Debug, PartialEq)]
pub struct PhasePlaneOptions {
    /// File stem (default `phase-plane`).
    pub name: String,
    /// Pixel size (default one column).
    pub size: FigureSize,
    /// Image formats (default PNG).
    pub formats: Formats,
    /// Title (default: the strengths).
    pub title: Option<String>,
}

impl Default for PhasePlaneOptions {
    fn default() -> Self {
        Self {
            name: "phase-plane".into(),
            size: FigureSize::COLUMN,
            formats: Formats::PNG,
            title: None,
        }
    }
}

const KEY_WIDTH: u32 = 290;

/// How a run is drawn and named in the key.
fn run_look(data: &PhasePlaneData, run: PlaneRun) -> (String, CurveStyle) {
    let spec = &data.spec;
    // The main runs' model: "L2" by default; "SD", "no reg." and "squared loss" when chosen.
    let main = match spec.regulariser {
        RegulariserKind::L2 => "L2",
        RegulariserKind::SpectralDecoupling => "SD",
        RegulariserKind::None => "unregularised",
    };
    let loss = match spec.loss {
        Loss::Logistic => "",
        Loss::Squared => ", squared loss",
    };
    let strength = match spec.regulariser {
        RegulariserKind::None => String::new(),
        _ => format!(", λ\u{a0}=\u{a0}{}", format_compact(spec.lambda)),
    };
    match run {
        PlaneRun::Flow => (
            format!("{main} flow{strength}{loss}"),
            CurveStyle::new(okabe_ito::BLUE, Dash::Solid),
        ),
        PlaneRun::Gd => (
            format!("{main} GD, η\u{a0}=\u{a0}{}", format_compact(spec.eta)),
            CurveStyle::new(okabe_ito::VERMILLION, Dash::Dashed),
        ),
        PlaneRun::Dual => (
            "L2 dual path".into(),
            CurveStyle::new(okabe_ito::BLUISH_GREEN, Dash::Dotted),
        ),
        PlaneRun::Sd => (
            format!("SD flow, λ\u{a0}=\u{a0}{}", format_compact(spec.sd_lambda)),
            CurveStyle::new(okabe_ito::REDDISH_PURPLE, Dash::Sparse),
        ),
        PlaneRun::Decoupled => (
            format!("decoupled system (U\u{a0}=\u{a0}I), {main} flow"),
            CurveStyle::new(okabe_ito::ORANGE, Dash::Dashed),
        ),
    }
}

/// How a steady state is marked and named in the key.
fn steady_look(kind: SteadyKind, main: RegulariserKind) -> (&'static str, Marker) {
    match kind {
        SteadyKind::L2 => (
            match main {
                RegulariserKind::SpectralDecoupling => "SD steady state z* (main λ)",
                _ => "L2 steady state z*",
            },
            Marker::new(Shape::Circle, okabe_ito::BLACK, true),
        ),
        SteadyKind::Sd => (
            "SD steady state",
            Marker::new(Shape::Diamond, okabe_ito::REDDISH_PURPLE, true),
        ),
        SteadyKind::Decoupled => (
            "decoupled steady state",
            Marker::new(Shape::Square, okabe_ito::ORANGE, true),
        ),
    }
}

/// The nullclines ż_a = 0 and ż_b = 0: the zero contours of the two rate components.
fn nullclines(grid: &RateGrid, (a, b): (usize, usize)) -> Vec<LabelledContour> {
    let styles = [
        CurveStyle::new(style::GUIDE_GREY, Dash::Solid).width(style::width::GUIDE),
        CurveStyle::new(style::GUIDE_GREY, Dash::Dotted).width(style::width::GUIDE),
    ];
    (0..2)
        .map(|k| {
            let field = GridField {
                xs: &grid.xs,
                ys: &grid.ys,
                values: &grid.rates[k],
            };
            LabelledContour {
                label: format!("nullcline ż{}\u{a0}=\u{a0}0", subscript([a, b][k] + 1)),
                lines: field.contour(0.0),
                style: styles[k],
            }
        })
        .collect()
}

struct PhasePlanePlot<'a> {
    data: &'a PhasePlaneData,
    frame: Frame,
    title: String,
    nullclines: Vec<LabelledContour>,
}

impl Figure for PhasePlanePlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, _) = root.dim_in_pixel();
        let (plot, key) = root.split_horizontally(width - KEY_WIDTH);
        let mut chart = self.frame.chart(&plot, Some(&self.title), true)?;
        if let Some(field) = &self.data.field {
            draw_arrows(&chart, &self.frame, field)?;
        }
        for n in &self.nullclines {
            for line in &n.lines {
                self.frame
                    .curve(&mut chart, line.iter().copied(), n.style)?;
            }
        }
        let mut entries = Vec::new();
        for path in &self.data.paths {
            let (label, style) = run_look(self.data, path.run);
            self.frame
                .curve(&mut chart, path.points.iter().copied(), style)?;
            entries.push(LegendEntry::new(label, Swatch::Line(style)));
        }
        for s in &self.data.steady {
            let (label, marker) = steady_look(s.kind, self.data.spec.regulariser);
            self.frame.marker(&mut chart, s.at, marker)?;
            entries.push(LegendEntry::new(label, Swatch::Marker(marker)));
        }
        for n in &self.nullclines {
            if !n.lines.is_empty() {
                entries.push(LegendEntry::new(n.label.clone(), Swatch::Line(n.style)));
            }
        }
        if self
            .data
            .field
            .as_ref()
            .is_some_and(|f| !f.samples.is_empty())
        {
            entries.push(LegendEntry::new(
                match self.data.spec.regulariser {
                    RegulariserKind::L2 => "direction of the L2 flow (equal-length arrows)",
                    RegulariserKind::SpectralDecoupling => {
                        "direction of the SD flow (equal-length arrows)"
                    }
                    RegulariserKind::None => "direction of the flow (equal-length arrows)",
                },
                Swatch::Arrow(ARROW_GREY),
            ));
        }
        draw_legend(&key.margin(30, 10, 12, 6), &entries, 0)?;
        Ok(())
    }
}

/// Draw a computed phase plane and write `<dir>/<name>.{png,svg,csv}` (CSV columns
/// `series,part,index,tau,z_a,z_b,dz_a,dz_b`: every run, steady state, nullcline point and
/// direction-field sample; τ is `inf` for a steady state and `nan` for nullclines and the
/// field, whose rates dz are `nan` on every other row).
pub fn phase_plane(
    data: &PhasePlaneData,
    dir: &Path,
    options: &PhasePlaneOptions,
) -> Result<Written> {
    let (a, b) = data.spec.responses;
    let ((x0, x1), (y0, y1)) = data.window;
    let label = |k: usize| format!("response z{}", subscript(k + 1));
    let frame = Frame::new(
        AxisSpec::new(label(a), x0, x1, Scale::Linear),
        AxisSpec::new(label(b), y0, y1, Scale::Linear),
    );
    let nullclines = data
        .nullclines
        .as_ref()
        .map_or_else(Vec::new, |grid| nullclines(grid, (a, b)));
    let title = options.title.clone().unwrap_or_else(|| {
        format!(
            "Phase plane, {}{}{}",
            softmax_note(data.classes),
            strengths_summary(data.strengths.as_slice(), 4),
            coupling_note(data.coupling)
        )
    });
    let table = phase_plane_table(&data.paths, &data.steady, data.field.as_ref(), &nullclines)?;
    let plot = PhasePlanePlot {
        data,
        frame,
        title,
        nullclines,
    };
    write_figure(
        &plot,
        dir,
        &options.name,
        options.size,
        options.formats,
        table,
    )
}

fn phase_plane_table(
    paths: &[PlanePath],
    steady: &[PlaneSteadyState],
    field: Option<&DirectionField>,
    nullclines: &[LabelledContour],
) -> Result<Table> {
    let header = [
        "series", "part", "index", "tau", "z_a", "z_b", "dz_a", "dz_b",
    ];
    let mut table = Table::new(header)?;
    let point = |series, part: usize, index: usize, (x, y): (f64, f64)| {
        [
            Cell::Text(series),
            Cell::from(part),
            Cell::from(index),
            Cell::FiniteSci(f64::NAN),
            Cell::Sci(x),
            Cell::Sci(y),
            Cell::FiniteSci(f64::NAN),
            Cell::FiniteSci(f64::NAN),
        ]
    };
    for path in paths {
        for (k, (&p, &t)) in path.points.iter().zip(&path.tau).enumerate() {
            let mut row = point(path.run.name(), 0, k, p);
            row[3] = Cell::Sci(t);
            table.row(row)?;
        }
    }
    for s in steady {
        let mut row = point(s.kind.name(), 0, 0, s.at);
        row[3] = Cell::Sci(f64::INFINITY);
        table.row(row)?;
    }
    for (n, name) in nullclines.iter().zip(["nullcline-a", "nullcline-b"]) {
        for (part, line) in n.lines.iter().enumerate() {
            for (i, &p) in line.iter().enumerate() {
                table.row(point(name, part, i, p))?;
            }
        }
    }
    for (i, f) in field.map_or(&[][..], |f| &f.samples).iter().enumerate() {
        let mut row = point("field", 0, i, f.at);
        row[6] = Cell::Sci(f.rate.0);
        row[7] = Cell::Sci(f.rate.1);
        table.row(row)?;
    }
    Ok(table)
}
