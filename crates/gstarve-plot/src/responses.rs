//! Responses over learning time, z_j(τ): the exact flow (solid) against GD (dashed), one colour
//! per response, steady states dotted, on a linear or logarithmic time axis.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Scale};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::legend::{draw_colour_bar, draw_legend, ColourScale, LegendEntry, Swatch};
use super::style::{self, okabe_ito, ColourMap, Dash, FigureSize};
use super::ticks::{coupling_note, format_compact, softmax_note, strengths_summary, subscript};
use gstarve_core::error::Result;
use gstarve_core::model::Regulariser;
use gstarve_core::output::{Cell, Table};
use gstarve_core::simulation::figures::{padded_extent, ResponsesData};

/// Options of [`responses`].
#[derive(Clone, Debug, PartialEq)]
pub struct ResponsesOptions {
    /// File stem (default `responses`).
    pub name: String,
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
            size: FigureSize::COLUMN,
            formats: Formats::PNG,
            title: None,
        }
    }
}

const KEY_WIDTH: u32 = 260;

struct ResponsesPlot<'a> {
    data: &'a ResponsesData,
    frame: Frame,
    title: String,
    /// (response index, label, colour).
    responses: Vec<(usize, String, RGBColor)>,
}

impl Figure for ResponsesPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, _) = root.dim_in_pixel();
        let (plot, key) = root.split_horizontally(width - KEY_WIDTH);
        let mut chart = self.frame.chart(&plot, Some(&self.title), true)?;
        let (t0, t1) = (self.frame.x.lo, self.frame.x.hi);
        let data = self.data;
        for &(j, _, colour) in &self.responses {
            if let Some(z) = &data.z_star {
                let style = CurveStyle::new(colour, Dash::Dotted).width(style::width::GUIDE);
                self.frame
                    .curve(&mut chart, [(t0, z[j]), (t1, z[j])], style)?;
            }
            for (sol, dash) in [(&data.flow, Dash::Solid), (&data.gd, Dash::Dashed)] {
                if let Some(sol) = sol {
                    let pts = sol.tau.iter().zip(&sol.states).map(|(&t, z)| (t, z[j]));
                    self.frame
                        .curve(&mut chart, pts, CurveStyle::new(colour, dash))?;
                }
            }
        }
        let key = key.margin(30, 10, 12, 6);
        let mut top = 0;
        let mut entries: Vec<LegendEntry> = Vec::new();
        if self.responses.len() <= style::SERIES.len() {
            entries.extend(
                self.responses.iter().map(|(_, label, colour)| {
                    LegendEntry::new(label.clone(), Swatch::Patch(*colour))
                }),
            );
        } else {
            // More responses than distinct colours: a colour bar over their indices.
            let (first, last) = (
                self.responses[0].0 + 1,
                self.responses[self.responses.len() - 1].0 + 1,
            );
            let (_, height) = key.dim_in_pixel();
            let bottom = (height as f64 * 0.55) as i32;
            let scale = ColourScale {
                map: ColourMap::Series,
                lo: first as f64,
                hi: last as f64,
                scale: Scale::Linear,
                extend_low: false,
                extend_high: false,
                symlog: None,
            };
            let title = format!(
                "response zⱼ, {} of j\u{a0}=\u{a0}{first}…{last}",
                self.responses.len()
            );
            draw_colour_bar(&key, &scale, &title, (0, bottom))?;
            top = bottom + 12;
        }
        let black = |dash| Swatch::Line(CurveStyle::new(okabe_ito::BLACK, dash));
        if data.flow.is_some() {
            entries.push(LegendEntry::new("exact flow", black(Dash::Solid)));
        }
        if data.gd.is_some() {
            let label = format!("GD, η\u{a0}=\u{a0}{}", format_compact(data.spec.eta));
            entries.push(LegendEntry::new(label, black(Dash::Dashed)));
        }
        if data.z_star.is_some() {
            entries.push(LegendEntry::new("steady state z*", black(Dash::Dotted)));
        }
        draw_legend(&key, &entries, top)?;
        Ok(())
    }
}

/// Draw computed responses z_j(τ) and write `<dir>/<name>.{png,svg,csv}` (CSV columns
/// `method,index,tau,z1..zr`, index counting recorded states; the steady state as method
/// `steady`, with index 0 and τ = `inf`).
pub fn responses(data: &ResponsesData, dir: &Path, options: &ResponsesOptions) -> Result<Written> {
    let chosen = &data.chosen;
    let values = [&data.flow, &data.gd]
        .into_iter()
        .flatten()
        .flat_map(|sol| sol.states.iter())
        .flat_map(|z| chosen.iter().map(move |&j| (0.0, z[j])))
        .chain(
            data.z_star
                .iter()
                .flat_map(|z| chosen.iter().map(move |&j| (0.0, z[j]))),
        );
    let (_, (y0, y1)) = padded_extent(values);
    let (x_lo, scale) = if data.spec.log_time {
        (data.first_time, Scale::Log)
    } else {
        (0.0, Scale::Linear)
    };
    let frame = Frame::new(
        AxisSpec::new("learning time τ", x_lo, data.spec.t_end, scale),
        AxisSpec::new("response zⱼ", y0, y1, Scale::Linear),
    );
    let strengths: Vec<String> = data.strengths.iter().map(|&s| format_compact(s)).collect();
    let colours = style::series_colours(chosen.len());
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
            (j, label, colours[k])
        })
        .collect();
    let title = options.title.clone().unwrap_or_else(|| {
        let regulariser = match data.spec.regulariser {
            Regulariser::None => "no regulariser".to_string(),
            reg => format!(
                "{}\u{a0}λ\u{a0}=\u{a0}{}",
                reg.name().to_uppercase(),
                format_compact(reg.lambda())
            ),
        };
        format!(
            "Responses, {}{}{}, {regulariser}",
            softmax_note(data.classes),
            strengths_summary(data.strengths.as_slice(), 4),
            coupling_note(data.coupling)
        )
    });
    let plot = ResponsesPlot {
        data,
        frame,
        title,
        responses: responses_drawn,
    };
    write_figure(
        &plot,
        dir,
        &options.name,
        options.size,
        options.formats,
        responses_table(data)?,
    )
}

fn responses_table(data: &ResponsesData) -> Result<Table> {
    let header = ["method", "index", "tau"]
        .map(String::from)
        .into_iter()
        .chain((1..=data.rank()).map(|j| format!("z{j}")));
    let mut table = Table::new(header)?;
    for (name, sol) in [("flow", &data.flow), ("gd", &data.gd)] {
        if let Some(sol) = sol {
            for (k, (&t, z)) in sol.tau.iter().zip(&sol.states).enumerate() {
                let head = [Cell::Text(name), Cell::from(k), Cell::Sci(t)];
                table.row(head.into_iter().chain(z.iter().map(|&v| Cell::Sci(v))))?;
            }
        }
    }
    if let Some(z) = &data.z_star {
        let head = [Cell::Text("steady"), Cell::Int(0), Cell::Sci(f64::INFINITY)];
        table.row(head.into_iter().chain(z.iter().map(|&v| Cell::Sci(v))))?;
    }
    Ok(table)
}
