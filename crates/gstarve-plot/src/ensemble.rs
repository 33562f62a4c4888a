//! An ensemble of random systems (docs/theory.md §7.5): two panels against the spectrum decay
//! s₁/s_n, one curve per coupling — the fraction of off-diagonal starvation-matrix entries that
//! starve, with its 95 % band (± 1.96 standard errors over systems), and the strong-starvation
//! tail of the entries: their 5 % quantile, with a band up to the 25 % quantile. The CSV is the
//! ensemble's per-cell table (every quantile).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Marker, Scale, Shape};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::legend::{draw_legend, LegendEntry, Swatch};
use super::style::{self, Dash, FigureSize};
use super::ticks::format_compact;
use gstarve_core::error::{Error, OutputError, Result};
use gstarve_core::sweeps::ensemble::{CellSummary, Coupling, Ensemble};

/// Options of [`ensemble_figure`].
#[derive(Clone, Debug, PartialEq)]
pub struct EnsembleOptions {
    /// File stem (default `ensemble`).
    pub name: String,
    /// Pixel size (default a page width).
    pub size: FigureSize,
    /// Image formats (default PNG).
    pub formats: Formats,
}

impl Default for EnsembleOptions {
    fn default() -> Self {
        Self {
            name: "ensemble".into(),
            size: FigureSize::PAGE,
            formats: Formats::PNG,
        }
    }
}

/// Opacity of the bands.
const BAND_ALPHA: f64 = 0.2;
/// The key's share of the width.
const KEY_SHARE: f64 = 0.24;

struct EnsemblePlot<'a> {
    ensemble: &'a Ensemble,
    fraction: Frame,
    median: Frame,
    colours: Vec<RGBColor>,
}

/// The cells of coupling `ic`, in decay order.
fn series(e: &Ensemble, ic: usize) -> Vec<&CellSummary> {
    (0..e.spec.decays.len()).map(|id| e.cell(id, ic)).collect()
}

fn curve_style(colour: RGBColor, coupling: Coupling) -> CurveStyle {
    let dash = match coupling {
        Coupling::Haar => Dash::Dashed,
        Coupling::NearIdentity(_) => Dash::Solid,
    };
    CurveStyle::new(colour, dash)
}

fn marker(colour: RGBColor, coupling: Coupling) -> Marker {
    match coupling {
        Coupling::Haar => Marker::new(Shape::Square, colour, true),
        Coupling::NearIdentity(_) => Marker::new(Shape::Circle, colour, true),
    }
}

impl EnsemblePlot<'_> {
    /// One panel: for each coupling, the band (lo, hi) and then the line `mid` over the decays.
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        frame: &Frame,
        title: &str,
        stat: fn(&CellSummary) -> (f64, f64, f64),
    ) -> std::result::Result<(), DrawError<DB>> {
        let mut chart = frame.chart(area, Some(title), true)?;
        let e = self.ensemble;
        for (ic, _) in e.spec.couplings.iter().enumerate() {
            let colour = self.colours[ic];
            let cells = series(e, ic);
            let ok: Vec<(f64, (f64, f64, f64))> = cells
                .iter()
                .map(|c| (c.decay, stat(c)))
                .filter(|(_, (lo, mid, hi))| lo.is_finite() && mid.is_finite() && hi.is_finite())
                .collect();
            if ok.len() > 1 {
                let mut polygon: Vec<(f64, f64)> = ok
                    .iter()
                    .map(|&(d, (_, _, hi))| frame.to_plot((d, hi)))
                    .collect();
                polygon.extend(
                    ok.iter()
                        .rev()
                        .map(|&(d, (lo, _, _))| frame.to_plot((d, lo))),
                );
                chart.draw_series(std::iter::once(Polygon::new(
                    polygon,
                    colour.mix(BAND_ALPHA).filled(),
                )))?;
            }
        }
        // Every curve over every band, so that no band veils another coupling's markers.
        for (ic, &coupling) in e.spec.couplings.iter().enumerate() {
            let colour = self.colours[ic];
            let cells = series(e, ic);
            let line = cells.iter().map(|c| (c.decay, stat(c).1));
            frame.curve(&mut chart, line, curve_style(colour, coupling))?;
            for c in &cells {
                frame.marker(&mut chart, (c.decay, stat(c).1), marker(colour, coupling))?;
            }
        }
        Ok(())
    }
}

impl Figure for EnsemblePlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, _) = root.dim_in_pixel();
        let key_width = (width as f64 * KEY_SHARE) as u32;
        let (panels, key) = root.split_horizontally(width - key_width);
        let areas = panels.split_evenly((1, 2));
        let spec = &self.ensemble.spec;
        self.panel(
            &areas[0],
            &self.fraction,
            "fraction of Eⱼᵢ that starve",
            |c| {
                let half = 1.96 * c.fraction_se;
                (c.fraction - half, c.fraction, c.fraction + half)
            },
        )?;
        self.panel(
            &areas[1],
            &self.median,
            "5 % quantile of Eⱼᵢ (j ≠ i)",
            |c| (c.quantiles[0], c.quantiles[0], c.quantiles[1]),
        )?;
        let mut entries: Vec<LegendEntry> = spec
            .couplings
            .iter()
            .enumerate()
            .map(|(ic, &c)| {
                let label = match c {
                    Coupling::Haar => "Haar coupling".to_string(),
                    Coupling::NearIdentity(d) => format!("δ\u{a0}=\u{a0}{}", format_compact(d)),
                };
                let colour = self.colours[ic];
                LegendEntry::new(
                    label,
                    Swatch::LineMarker(curve_style(colour, c), marker(colour, c)),
                )
            })
            .collect();
        let grey = RGBColor(200, 200, 200);
        entries.push(LegendEntry::new(
            "left band: 95 % (± 1.96 SE over systems)",
            Swatch::Patch(grey),
        ));
        entries.push(LegendEntry::new(
            "right band: 5–25 % quantiles of Eⱼᵢ",
            Swatch::Patch(grey),
        ));
        let threshold = format!(
            "starving: Eⱼᵢ\u{a0}<\u{a0}{}",
            format_compact(spec.starving_below()).replace('-', "−")
        );
        entries.push(LegendEntry::new(threshold, Swatch::Heading));
        entries.push(LegendEntry::new(
            format!(
                "n\u{a0}=\u{a0}{}, {} systems per point, λ\u{a0}=\u{a0}{}, sₙ\u{a0}=\u{a0}{}, seed {}",
                spec.n,
                spec.systems,
                format_compact(spec.lambda),
                format_compact(spec.weakest),
                spec.seed
            ),
            Swatch::Heading,
        ));
        draw_legend(&key.margin(40, 10, 12, 6), &entries, 0)?;
        Ok(())
    }
}

/// The range of the finite values, padded by 5 % (a unit range around a single value).
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    (lo - 0.05 * span, hi + 0.05 * span)
}

/// Draw an ensemble (see the module docs); writes `<dir>/<name>.{png,svg,pdf}` and
/// `<dir>/<name>.csv` (the per-cell table, [`Ensemble::cells_table`]).
pub fn ensemble_figure(e: &Ensemble, dir: &Path, options: &EnsembleOptions) -> Result<Written> {
    if !e.cells.iter().any(|c| c.fraction.is_finite()) {
        return Err(Error::Output(OutputError::EmptyFigure {
            figure: options.name.clone(),
        }));
    }
    let decays = &e.spec.decays;
    let (d0, d1) = decays
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), &d| (a.min(d), b.max(d)));
    let x = if d1 / d0 >= 10.0 {
        let pad = (d1 / d0).powf(0.04);
        AxisSpec::new("spectrum decay s₁/sₙ", d0 / pad, d1 * pad, Scale::Log)
    } else {
        let (lo, hi) = padded([d0, d1].into_iter());
        AxisSpec::new("spectrum decay s₁/sₙ", lo, hi, Scale::Linear)
    };
    let (f0, f1) = padded(e.cells.iter().flat_map(|c| {
        let h = 1.96 * c.fraction_se;
        [c.fraction, c.fraction - h, c.fraction + h]
    }));
    let fraction = Frame::new(
        x.clone(),
        AxisSpec::new(
            "fraction starving",
            f0.max(-0.05),
            f1.min(1.05),
            Scale::Linear,
        ),
    );
    let (m0, m1) = padded(e.cells.iter().flat_map(|c| c.quantiles[0..2].to_vec()));
    let median = Frame::new(
        x,
        AxisSpec::new("Eⱼᵢ = ∂log|zⱼ*|/∂log sᵢ²", m0, m1, Scale::Linear),
    );
    let plot = EnsemblePlot {
        ensemble: e,
        fraction,
        median,
        colours: style::series_colours(e.spec.couplings.len()),
    };
    write_figure(
        &plot,
        dir,
        &options.name,
        options.size,
        options.formats,
        e.cells_table()?,
    )
}
