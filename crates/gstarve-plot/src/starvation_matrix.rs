//! The starvation matrix E_ji = ∂ log|z_j*| / ∂ log s_i² (docs/theory.md §5.3) as a heatmap: a
//! diverging scale centred at 0 for the cross effects (blue: feature i starves feature j), the
//! diagonal (each feature's own elasticity) left uncoloured, masked rows grey, and the numbers
//! in the cells for small systems.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axes::{AxisSpec, DrawError, Frame, Scale};
use super::canvas::{write_figure, Figure, Formats, Written};
use super::legend::{draw_colour_bar, draw_legend, ColourScale, LegendEntry, Swatch};
use super::style::{self, ColourMap, FigureSize};
use super::ticks::{format_compact, format_significant, strengths_summary};
use gstarve_core::error::Result;
use gstarve_core::model::{Loss, Regulariser};
use gstarve_core::sweeps::StarvationMatrix;

/// Options of [`starvation_matrix_figure`].
#[derive(Clone, Debug, PartialEq)]
pub struct StarvationMatrixOptions {
    /// File stem (default `starvation-matrix`).
    pub name: String,
    /// Write the numbers in the cells up to this many features (default 10).
    pub numbers_up_to: usize,
    /// Pixel size (default one column).
    pub size: FigureSize,
    /// Image formats (default PNG).
    pub formats: Formats,
    /// Title (default: the definition of E_ji).
    pub title: Option<String>,
}

impl Default for StarvationMatrixOptions {
    fn default() -> Self {
        Self {
            name: "starvation-matrix".into(),
            numbers_up_to: 10,
            size: FigureSize::COLUMN,
            formats: Formats::PNG,
            title: None,
        }
    }
}

const KEY_WIDTH: u32 = 290;
const DIAGONAL_FILL: RGBColor = RGBColor(255, 255, 255);

struct MatrixPlot<'a> {
    matrix: &'a StarvationMatrix,
    frame: Frame,
    colours: ColourScale,
    title: String,
    numbers: bool,
    /// Cell borders, while cells are large enough (n ≤ [`BORDERS_UP_TO`]) for them not to
    /// cover the colours.
    cell_borders: bool,
}

/// Cell borders are drawn up to this many features.
const BORDERS_UP_TO: usize = 40;
/// Above this many off-diagonal entries the colour scale spans the 99th percentile of |E_ji|
/// (with arrows on the colour bar for the entries beyond), so that a few outliers do not wash
/// out a large matrix.
const PERCENTILE_FROM: usize = 100;
/// The colour scale turns symmetric-logarithmic when the largest |E_ji| (or its 99th percentile)
/// exceeds the median |E_ji| this many times.
const SYMLOG_FROM: f64 = 8.0;

impl Figure for MatrixPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, height) = root.dim_in_pixel();
        let (plot, key) = root.split_horizontally(width - KEY_WIDTH);
        let mut chart = self.frame.chart(&plot, Some(&self.title), false)?;
        let n = self.matrix.rank();
        let cell_font = style::font(style::text::CELL).pos(Pos::new(HPos::Center, VPos::Center));
        for j in 0..n {
            for i in 0..n {
                let (x, y) = ((i + 1) as f64, -((j + 1) as f64));
                let corners = [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)];
                let value = self.matrix.elasticities[(j, i)];
                let fill = match value {
                    None => style::MASK_GREY,
                    Some(_) if i == j => DIAGONAL_FILL,
                    Some(e) => self.colours.colour(e),
                };
                chart.draw_series(std::iter::once(Rectangle::new(corners, fill.filled())))?;
                if self.cell_borders {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        corners,
                        style::GRID_GREY.stroke_width(1),
                    )))?;
                }
                if let (true, Some(e)) = (self.numbers, value) {
                    let ink = if i == j {
                        style::GUIDE_GREY
                    } else if style::luminance(fill) < 0.3 {
                        WHITE
                    } else {
                        BLACK
                    };
                    let text = Text::new(
                        format_significant(e, 2),
                        (x, y),
                        cell_font.clone().color(&ink),
                    );
                    chart.draw_series(std::iter::once(text))?;
                }
            }
        }
        let key = key.margin(30, 10, 12, 6);
        let bar_bottom = (height as f64 * 0.5) as i32;
        draw_colour_bar(&key, &self.colours, "Eⱼᵢ, i\u{a0}≠\u{a0}j", (0, bar_bottom))?;
        let mut entries = vec![
            LegendEntry::new(
                "blue: Eⱼᵢ\u{a0}<\u{a0}0, feature i starves feature j",
                Swatch::Patch(self.colours.map.colour(0.1)),
            ),
            LegendEntry::new(
                "white: Eⱼⱼ, own elasticity (number in grey)",
                Swatch::Patch(DIAGONAL_FILL),
            ),
        ];
        let masked = (0..n)
            .filter(|&j| self.matrix.elasticities[(j, 0)].is_none())
            .count();
        entries.push(if masked > 0 {
            LegendEntry::new(
                format!("masked: zⱼ*\u{a0}=\u{a0}0 ({masked} rows)"),
                Swatch::Patch(style::MASK_GREY),
            )
        } else {
            LegendEntry::new("no masked cells", Swatch::Heading)
        });
        if let Some(c) = self.colours.symlog {
            entries.push(LegendEntry::new(
                format!(
                    "log colour scale: sign·log(1\u{a0}+\u{a0}|E|/{})",
                    format_significant(c, 2)
                ),
                Swatch::Heading,
            ));
        }
        entries.push(LegendEntry::new(
            strengths_summary(self.matrix.strengths.as_slice(), 8),
            Swatch::Heading,
        ));
        entries.push(LegendEntry::new(
            format!(
                "{} λ\u{a0}=\u{a0}{}{}",
                match self.matrix.regulariser {
                    Regulariser::SpectralDecoupling { .. } => "SD",
                    _ => "L2",
                },
                format_compact(self.matrix.lambda),
                match (self.matrix.classes, self.matrix.loss) {
                    (Some(c), _) => format!(", softmax, {c} classes"),
                    (None, Loss::Logistic) => String::new(),
                    (None, Loss::Squared) => ", squared loss".into(),
                }
            ),
            Swatch::Heading,
        ));
        draw_legend(&key, &entries, bar_bottom + 16)?;
        Ok(())
    }
}

/// Draw the starvation matrix and write `<dir>/<name>.{png,svg}` and its entries as
/// `<dir>/<name>.csv` (`j,i,s_i,z_j,elasticity`).
pub fn starvation_matrix_figure(
    matrix: &StarvationMatrix,
    dir: &Path,
    options: &StarvationMatrixOptions,
) -> Result<Written> {
    let n = matrix.rank();
    let stride = n.div_ceil(12).max(1);
    let ticks = |sign: f64| {
        (1..=n)
            .filter(|k| (k - 1) % stride == 0)
            .map(|k| (sign * k as f64, matrix.feature_number(k - 1).to_string()))
            .collect::<Vec<_>>()
    };
    let x = AxisSpec::new(
        "feature i made stronger (sᵢ² varied)",
        0.5,
        n as f64 + 0.5,
        Scale::Linear,
    )
    .with_ticks(ticks(1.0));
    // Row j = 1 at the top: plot y = −j.
    let y = AxisSpec::new("response zⱼ", -(n as f64) - 0.5, -0.5, Scale::Linear)
        .with_ticks(ticks(-1.0));
    let mut magnitudes: Vec<f64> = (0..n)
        .flat_map(|j| (0..n).map(move |i| (j, i)))
        .filter(|&(j, i)| i != j)
        .filter_map(|(j, i)| matrix.elasticities[(j, i)])
        .map(f64::abs)
        .filter(|e| e.is_finite())
        .collect();
    magnitudes.sort_by(f64::total_cmp);
    let largest = magnitudes.last().copied().unwrap_or(0.0);
    let limit = if magnitudes.len() > PERCENTILE_FROM {
        magnitudes[(magnitudes.len() - 1) * 99 / 100]
    } else {
        largest
    };
    let limit = if limit > 0.0 { limit } else { 1.0 };
    // A matrix whose typical entry is far below its largest (one dominant row or column, as a
    // feature that every other one starves) would be near-white but for a few cells: colour it
    // on a symmetric-log scale, linear within the median magnitude.
    let nonzero: Vec<f64> = magnitudes.iter().copied().filter(|&m| m > 0.0).collect();
    let median = nonzero.get(nonzero.len() / 2).copied().unwrap_or(0.0);
    let symlog = (median > 0.0 && limit > SYMLOG_FROM * median).then_some(median);
    let limit = if symlog.is_some() && largest > 0.0 {
        largest
    } else {
        limit
    };
    let clipped = largest > limit;
    let colours = ColourScale {
        map: ColourMap::Diverging,
        lo: -limit,
        hi: limit,
        scale: Scale::Linear,
        extend_low: clipped,
        extend_high: clipped,
        symlog,
    };
    let title = options
        .title
        .clone()
        .unwrap_or_else(|| "Starvation matrix Eⱼᵢ = ∂log|zⱼ*|/∂log sᵢ²".to_string());
    let plot = MatrixPlot {
        matrix,
        frame: Frame::new(x, y),
        colours,
        title,
        numbers: n <= options.numbers_up_to,
        cell_borders: n <= BORDERS_UP_TO,
    };
    write_figure(
        &plot,
        dir,
        &options.name,
        options.size,
        options.formats,
        matrix.to_table()?,
    )
}
