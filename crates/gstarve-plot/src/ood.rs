//! The out-of-distribution experiment (coloured digits): train and test accuracy of each method
//! as bars with ±1 std error bars over restarts, the levels of a colour-only and a shape-only
//! classifier as guides, and in the key the feature system at initialisation (the colour
//! feature's strength and starvation entries against the digit features).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Scale};
use super::canvas::{write_figure, Formats, Written};
use super::legend::{draw_legend, LegendEntry, Swatch};
use super::style::{self, okabe_ito, Dash, FigureSize};
use super::ticks::format_significant;
use gstarve_core::error::{Error, OutputError, Result};
use gstarve_core::output::{ensure_dir, write_files, Cell, Table};
use gstarve_net::experiments::ood::{ColourStarvation, OodExperiment};

/// Options of [`ood_figure`].
#[derive(Clone, Debug, PartialEq)]
pub struct OodFigureOptions {
    /// File stem prefix: `<prefix>-accuracy.{png,svg,csv}` and `<prefix>-features.csv`.
    pub prefix: String,
    /// Image formats.
    pub formats: Formats,
}

impl Default for OodFigureOptions {
    fn default() -> Self {
        Self {
            prefix: "ood".into(),
            formats: Formats::PNG,
        }
    }
}

const KEY_WIDTH: u32 = 760;
const TRAIN: RGBColor = okabe_ito::BLUE;
const TEST: RGBColor = okabe_ito::ORANGE;

struct AccuracyPlot<'a> {
    exp: &'a OodExperiment,
    frame: Frame,
}

fn label(method: &str) -> &str {
    match method {
        "erm" => "ERM",
        "sd" => "SD",
        "sd-classes" => "SD, class targets",
        "irm" => "IRM",
        other => other,
    }
}

fn elasticity(e: Option<f64>) -> String {
    e.map_or("masked".into(), |v| format_significant(v, 3))
}

/// The analytic side in words, for the key and the CSV notes.
pub fn features_caption(f: &ColourStarvation) -> Vec<String> {
    let colour = f
        .shares
        .iter()
        .find(|s| s.feature == f.colour_feature)
        .map(|s| (s.strength, s.colour_share));
    let mut lines = vec![format!(
        "Feature system at initialisation (restart 0): Φ = ∂ŷ/∂θ on n\u{a0}=\u{a0}{} training examples, p\u{a0}=\u{a0}{} parameters.",
        f.examples, f.parameters
    )];
    if let Some((s, share)) = colour {
        lines.push(format!(
            "Colour feature: j\u{a0}=\u{a0}{} (s\u{a0}=\u{a0}{}, colour share {:.2}); digit features j\u{a0}=\u{a0}{:?}.",
            f.colour_feature,
            format_significant(s, 3),
            share,
            f.digit_features
        ));
    }
    lines.push(format!(
        "s_colour/s_digit: {}.",
        f.strength_ratios
            .iter()
            .map(|r| format_significant(*r, 3))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    lines.push(format!(
        "Starvation E_dc = ∂log|z_d*|/∂log s_c² (L2, λ\u{a0}=\u{a0}{}): {}; E_cd: {}. Under SD: max |E| = {}.",
        format_significant(f.lambda, 3),
        f.colour_on_digit
            .iter()
            .map(|e| elasticity(*e))
            .collect::<Vec<_>>()
            .join(", "),
        f.digit_on_colour
            .iter()
            .map(|e| elasticity(*e))
            .collect::<Vec<_>>()
            .join(", "),
        format_significant(f.sd_max_abs, 2)
    ));
    lines
}

impl super::canvas::Figure for AccuracyPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, _) = root.dim_in_pixel();
        let (panel, key) = root.split_horizontally(width - KEY_WIDTH);
        let spec = &self.exp.spec;
        let title = format!("Coloured digits, {} restarts: mean ± std", spec.restarts);
        let mut chart = self.frame.chart(&panel, Some(&title), true)?;
        // Guides: a colour-only classifier (colour agreement) and the shape ceiling 75 %.
        let (train_colour, test_colour) = self.exp.colour_agreement;
        let n = self.exp.summaries.len() as f64;
        let guide = |y: f64| [(0.0, y), (n, y)];
        self.frame.curve(
            &mut chart,
            guide(100.0 * train_colour),
            CurveStyle::new(TRAIN, Dash::Dashed).width(style::width::GUIDE),
        )?;
        self.frame.curve(
            &mut chart,
            guide(100.0 * test_colour),
            CurveStyle::new(TEST, Dash::Dashed).width(style::width::GUIDE),
        )?;
        self.frame.curve(
            &mut chart,
            guide(100.0 * (1.0 - spec.data.label_noise)),
            CurveStyle::new(okabe_ito::BLACK, Dash::Dotted).width(style::width::GUIDE),
        )?;
        for (k, s) in self.exp.summaries.iter().enumerate() {
            for (b, (stat, colour)) in [(s.train_accuracy, TRAIN), (s.test_accuracy, TEST)]
                .into_iter()
                .enumerate()
            {
                let x0 = k as f64 + 0.14 + 0.36 * b as f64;
                let x1 = x0 + 0.34;
                let top = 100.0 * stat.mean;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [self.frame.to_plot((x0, 0.0)), self.frame.to_plot((x1, top))],
                    colour.filled(),
                )))?;
                let mid = 0.5 * (x0 + x1);
                let (lo, hi) = (top - 100.0 * stat.std, top + 100.0 * stat.std);
                let bar = CurveStyle::new(okabe_ito::BLACK, Dash::Solid).width(style::width::GUIDE);
                self.frame.curve(&mut chart, [(mid, lo), (mid, hi)], bar)?;
                for y in [lo, hi] {
                    self.frame
                        .curve(&mut chart, [(mid - 0.06, y), (mid + 0.06, y)], bar)?;
                }
            }
        }
        let swatch_line =
            |c: RGBColor, d: Dash| Swatch::Line(CurveStyle::new(c, d).width(style::width::GUIDE));
        let mut entries = vec![
            LegendEntry::new(
                "train accuracy (both training environments)",
                Swatch::Patch(TRAIN),
            ),
            LegendEntry::new(
                "test accuracy (test environment, e\u{a0}=\u{a0}0.9)",
                Swatch::Patch(TEST),
            ),
            LegendEntry::new(
                "error bar: ± 1 std over restarts",
                swatch_line(okabe_ito::BLACK, Dash::Solid),
            ),
            LegendEntry::new(
                format!(
                    "colour-only classifier, train ({:.1} %)",
                    100.0 * train_colour
                ),
                swatch_line(TRAIN, Dash::Dashed),
            ),
            LegendEntry::new(
                format!(
                    "colour-only classifier, test ({:.1} %)",
                    100.0 * test_colour
                ),
                swatch_line(TEST, Dash::Dashed),
            ),
            LegendEntry::new(
                format!(
                    "shape ceiling {:.0} % (label noise {})",
                    100.0 * (1.0 - spec.data.label_noise),
                    spec.data.label_noise
                ),
                swatch_line(okabe_ito::BLACK, Dash::Dotted),
            ),
            LegendEntry::new(
                format!(
                    "MLP 128 → {h} → {h} → 1, Adam, full batch; data seeds {}…{}",
                    spec.seed,
                    spec.seed + spec.restarts as u64 - 1,
                    h = spec.width
                ),
                Swatch::Heading,
            ),
        ];
        for line in features_caption(&self.exp.features) {
            entries.push(LegendEntry::new(line, Swatch::Heading));
        }
        draw_legend(&key, &entries, 30)?;
        Ok(())
    }
}

fn accuracy_table(exp: &OodExperiment) -> Result<Table> {
    let notes: Vec<String> = std::iter::once(format!(
        "coloured digits: {} restarts, accuracy = share of correct signs, std = population std over restarts; colour = label on {:.4} of training and {:.4} of test examples (mean over restarts)",
        exp.spec.restarts, exp.colour_agreement.0, exp.colour_agreement.1
    ))
    .chain(features_caption(&exp.features))
    .collect();
    let notes: Vec<&str> = notes.iter().map(String::as_str).collect();
    let mut table = Table::with_comments(
        &notes,
        [
            "method",
            "train_accuracy",
            "train_accuracy_std",
            "test_accuracy",
            "test_accuracy_std",
            "train_nll",
            "train_nll_std",
            "restarts",
            "width",
            "steps",
            "learning_rate",
            "l2",
            "anneal_steps",
            "coefficient",
            "class_weight_0",
            "class_weight_1",
            "class_target_0",
            "class_target_1",
        ],
    )?;
    for s in &exp.summaries {
        let m = &s.settings;
        table.row([
            Cell::Text(m.method.name()),
            Cell::Plain(s.train_accuracy.mean),
            Cell::Plain(s.train_accuracy.std),
            Cell::Plain(s.test_accuracy.mean),
            Cell::Plain(s.test_accuracy.std),
            Cell::Sci(s.train_nll.mean),
            Cell::Sci(s.train_nll.std),
            Cell::from(s.restarts),
            Cell::from(exp.spec.width),
            Cell::from(m.steps),
            Cell::Plain(m.learning_rate),
            Cell::Plain(m.l2),
            Cell::from(m.anneal_steps),
            Cell::Plain(m.coefficient),
            Cell::Plain(m.class_weights[0]),
            Cell::Plain(m.class_weights[1]),
            Cell::Plain(m.class_targets[0]),
            Cell::Plain(m.class_targets[1]),
        ])?;
    }
    Ok(table)
}

/// The feature table: the leading features' shares and, for the colour and digit features,
/// their role, strength ratio, starvation entries and L2 steady responses.
pub fn features_table(f: &ColourStarvation) -> Result<Table> {
    let notes = features_caption(f);
    let notes: Vec<&str> = notes.iter().map(String::as_str).collect();
    let mut table = Table::with_comments(
        &notes,
        [
            "feature",
            "strength",
            "colour_share",
            "digit_share",
            "shape_share",
            "mean_share",
            "role",
            "colour_strength_ratio",
            "elasticity_colour_on_feature",
            "elasticity_feature_on_colour",
            "steady_response_l2",
        ],
    )?;
    for s in &f.shares {
        let digit = f.digit_features.iter().position(|&d| d == s.feature);
        let role = if s.feature == f.colour_feature {
            "colour"
        } else if digit.is_some() {
            "digit"
        } else {
            "other"
        };
        let response = if s.feature == f.colour_feature {
            f.responses.first().copied()
        } else {
            digit.map(|k| f.responses[k + 1])
        };
        let pick = |v: Option<Option<f64>>| Cell::FiniteSci(v.flatten().unwrap_or(f64::NAN));
        table.row([
            Cell::from(s.feature),
            Cell::Sci(s.strength),
            Cell::Plain(s.colour_share),
            Cell::Plain(s.digit_share),
            Cell::Plain(s.shape_share),
            Cell::Plain(s.mean_share),
            Cell::Text(role),
            pick(digit.map(|k| Some(f.strength_ratios[k]))),
            pick(digit.map(|k| f.colour_on_digit[k])),
            pick(digit.map(|k| f.digit_on_colour[k])),
            Cell::FiniteSci(response.unwrap_or(f64::NAN)),
        ])?;
    }
    Ok(table)
}

/// Draw `<dir>/<prefix>-accuracy.{png,svg,csv}` and write `<dir>/<prefix>-features.csv`, one
/// output each (inside the command's batch: together).
pub fn ood_figure(
    exp: &OodExperiment,
    dir: &Path,
    options: &OodFigureOptions,
) -> Result<Vec<Written>> {
    if exp.summaries.is_empty() {
        return Err(Error::Output(OutputError::EmptyFigure {
            figure: format!("{}-accuracy", options.prefix),
        }));
    }
    let n = exp.summaries.len();
    let ticks = exp
        .summaries
        .iter()
        .enumerate()
        .map(|(k, s)| (k as f64 + 0.5, label(s.settings.method.name()).to_string()))
        .collect();
    let frame = Frame::new(
        AxisSpec::new("method", 0.0, n as f64, Scale::Linear).with_ticks(ticks),
        AxisSpec::new("accuracy (%)", 0.0, 100.0, Scale::Linear),
    );
    let accuracy = write_figure(
        &AccuracyPlot { exp, frame },
        dir,
        &format!("{}-accuracy", options.prefix),
        FigureSize::new(300 * n as u32 + 420 + KEY_WIDTH, 760),
        options.formats,
        accuracy_table(exp)?,
    )?;
    let features = dir.join(format!("{}-features.csv", options.prefix));
    ensure_dir(dir)?;
    write_files(&[features_table(&exp.features)?.into_output(&features)?])?;
    Ok(vec![
        accuracy,
        Written {
            images: Vec::new(),
            data: features,
        },
    ])
}
