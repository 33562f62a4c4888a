//! The paper's Figure 2 panel and the two-moons summaries:
//!
//! - `<prefix>-features`: |z_j| of the overlay features (default 2 and 7), averaged over seeds,
//!   every setting overlaid in one panel; colour = feature (Okabe–Ito blue and orange, which
//!   also differ in grey), line style = setting (the authors': dotted Δ = −0.1, dashed
//!   Δ = +0.1, solid Δ = +0.1 with SD; SD per class sparse dashes), log scale so that the
//!   weak feature is legible beside the leading one. The key states the reversal.
//! - `<prefix>-reversal.csv`: one row per overlay feature, the settings' final means and order
//!   against the paper's ([`gstarve_net::experiments::reversal`]).
//! - `<prefix>-margins.csv` (when a setting has SD per class): each class's mean final margin
//!   against the steady margin of docs/theory.md §10.1 (r = n, the linearised network).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{AxisSpec, CurveStyle, DrawError, Frame, Scale};
use super::canvas::{write_figure, Figure, Written};
use super::legend::{draw_legend, LegendEntry, Swatch};
use super::moons::MoonsFigureOptions;
use super::style::{okabe_ito, Dash, FigureSize};
use super::ticks::subscript;
use gstarve_core::error::Result;
use gstarve_core::output::{Cell, Table};
use gstarve_net::experiments::{reversal, MoonsExperiment, MoonsSetting, Reversal, SettingResult};
use gstarve_net::network::ClassTargets;

const KEY_WIDTH: u32 = 520;
/// Colours of the first and second overlay feature: dark and light in grey as well.
const FEATURE_COLOURS: [RGBColor; 2] = [okabe_ito::BLUE, okabe_ito::ORANGE];

/// The authors' line style of a setting.
fn dash(setting: &MoonsSetting) -> Dash {
    if setting.class_targets.is_some() {
        Dash::Sparse
    } else if setting.spectral_decoupling > 0.0 {
        Dash::Solid
    } else if setting.margin < 0.0 {
        Dash::Dotted
    } else {
        Dash::Dashed
    }
}

fn role(setting: &MoonsSetting) -> &'static str {
    if setting.class_targets.is_some() {
        "SD per class"
    } else if setting.spectral_decoupling > 0.0 {
        "SD"
    } else if setting.margin < 0.0 {
        "overlap"
    } else {
        "larger margin"
    }
}

fn number(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// The caption lines stating the reversal (or that the settings are not the paper's).
pub fn reversal_caption(rev: &Reversal) -> Vec<String> {
    let mut lines = Vec::new();
    for f in &rev.features {
        let [overlap, margin, sd] = f.finals;
        let values = [("overlap", overlap), ("margin", margin), ("SD", sd)];
        let mut sorted = values;
        sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
        let chain = sorted
            .iter()
            .map(|(n, v)| format!("{n} {}", number(*v)))
            .collect::<Vec<_>>()
            .join(" > ");
        let verdict = if f.agrees {
            format!(
                "the paper's order, at {} of {} records",
                f.records_in_order, f.records
            )
        } else {
            format!("NOT the paper's {}", f.expected)
        };
        lines.push(format!(
            "z{} ({}): {chain}: {verdict}",
            subscript(f.feature + 1),
            f.role
        ));
    }
    lines
}

struct FeaturesPlot<'a> {
    exp: &'a MoonsExperiment,
    frame: Frame,
    caption: Vec<String>,
}

impl Figure for FeaturesPlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>> {
        let (width, _) = root.dim_in_pixel();
        let (panel, key) = root.split_horizontally(width - KEY_WIDTH);
        let frame = &self.frame;
        let spec = &self.exp.spec;
        let names: Vec<String> = spec.overlay.iter().map(|j| (j + 1).to_string()).collect();
        let title = format!(
            "|z| of features {}, mean over seeds (the paper's Figure 2)",
            names.join(" and ")
        );
        let mut chart = frame.chart(&panel, Some(&title), true)?;
        for s in &self.exp.settings {
            for k in 0..spec.overlay.len() {
                let colour = FEATURE_COLOURS[k % 2];
                let pts = s
                    .epochs
                    .iter()
                    .zip(&s.overlay_bands)
                    .filter(|(_, b)| b[k].mean > 0.0)
                    .map(|(&e, b)| (e as f64, b[k].mean));
                frame.curve(&mut chart, pts, CurveStyle::new(colour, dash(&s.setting)))?;
            }
        }
        let mut entries: Vec<LegendEntry> = spec
            .overlay
            .iter()
            .enumerate()
            .map(|(k, &j)| {
                let what = if k == 0 { "leading" } else { "weak" };
                LegendEntry::new(
                    format!("|z{}|, feature {} ({what})", subscript(j + 1), j + 1),
                    Swatch::Line(CurveStyle::new(FEATURE_COLOURS[k % 2], Dash::Solid)),
                )
            })
            .collect();
        for s in &self.exp.settings {
            entries.push(LegendEntry::new(
                format!("{} ({})", s.setting.label(), role(&s.setting)),
                Swatch::Line(CurveStyle::new(okabe_ito::BLACK, dash(&s.setting))),
            ));
        }
        entries.push(LegendEntry::new(
            format!(
                "mean over {} seeds of |zⱼ|, z = UᵀYŷ in each seed's initial basis",
                spec.seeds
            ),
            Swatch::Heading,
        ));
        for line in &self.caption {
            entries.push(LegendEntry::new(line.clone(), Swatch::Heading));
        }
        draw_legend(&key.margin(40, 10, 12, 6), &entries, 0)?;
        Ok(())
    }
}

fn features_frame(exp: &MoonsExperiment) -> Frame {
    let values = || {
        exp.settings
            .iter()
            .flat_map(|s| s.overlay_bands.iter().flatten().map(|b| b.mean))
            .filter(|v| *v > 0.0 && v.is_finite())
    };
    let lo = values().fold(f64::INFINITY, f64::min);
    let hi = values().fold(0.0, f64::max);
    let (lo, hi) = if lo < hi { (lo, hi) } else { (1e-3, 1.0) };
    Frame::new(
        AxisSpec::new("epoch", 0.0, exp.spec.training.epochs as f64, Scale::Linear),
        AxisSpec::new("mean |zⱼ| (log scale)", lo / 1.3, hi * 1.3, Scale::Log),
    )
}

fn features_table(exp: &MoonsExperiment) -> Result<Table> {
    let comment = format!(
        "abs_* = statistics over {} seeds of |z_j|, z = U^T Y yhat in each seed's initial basis (the paper's Figure 2 plots abs_mean)",
        exp.spec.seeds
    );
    let header = [
        "setting", "margin", "sd", "epoch", "tau", "feature", "abs_mean", "abs_std", "abs_min",
        "abs_max",
    ];
    let mut table = Table::with_comments(&[&comment], header)?;
    for s in &exp.settings {
        for (k, &j) in exp.spec.overlay.iter().enumerate() {
            for ((&e, &t), b) in s.epochs.iter().zip(&s.tau).zip(&s.overlay_bands) {
                let b = b[k];
                table.row([
                    Cell::Text(&s.setting.name),
                    Cell::Plain(s.setting.margin),
                    Cell::Plain(s.setting.spectral_decoupling),
                    Cell::from(e),
                    Cell::Sci(t),
                    Cell::from(j + 1),
                    Cell::Sci(b.mean),
                    Cell::Sci(b.std),
                    Cell::Sci(b.min),
                    Cell::Sci(b.max),
                ])?;
            }
        }
    }
    Ok(table)
}

/// The reversal as a table: `feature,role,overlap,margin,sd,observed_order,paper_order,agrees,
/// records_in_order,records,settled_from_epoch` (overlap/margin/sd: final mean |z_j|;
/// settled_from_epoch nan when the final order is not the paper's).
pub fn reversal_table(rev: &Reversal) -> Result<Table> {
    let mut comments = vec![
        "the paper's Figure 2: on the leading feature margin > overlap > SD, on the weak feature overlap > SD > margin; overlap = margin -0.1, margin = margin +0.1, SD = margin +0.1 with SD; values = final mean |z_j| over seeds; records_in_order counts the records after epoch 0 with the paper's order; settled_from_epoch = the epoch from which it holds at every later record".to_string(),
    ];
    comments.extend(reversal_caption(rev));
    let comments: Vec<&str> = comments.iter().map(String::as_str).collect();
    let header = [
        "feature",
        "role",
        "overlap",
        "margin",
        "sd",
        "observed_order",
        "paper_order",
        "agrees",
        "records_in_order",
        "records",
        "settled_from_epoch",
    ];
    let mut table = Table::with_comments(&comments, header)?;
    for f in &rev.features {
        table.row([
            Cell::from(f.feature + 1),
            Cell::Text(f.role),
            Cell::Sci(f.finals[0]),
            Cell::Sci(f.finals[1]),
            Cell::Sci(f.finals[2]),
            Cell::Text(&f.observed),
            Cell::Text(f.expected),
            Cell::Bool(f.agrees),
            Cell::from(f.records_in_order),
            Cell::from(f.records),
            f.settled_from.map_or(Cell::FiniteSci(f64::NAN), Cell::from),
        ])?;
    }
    Ok(table)
}

/// The SD term of a setting as class targets (plain SD c: λ = 2c for both, γ = 0).
fn as_class_targets(s: &SettingResult) -> ClassTargets {
    s.setting.class_targets.unwrap_or(ClassTargets {
        lambda: [2.0 * s.setting.spectral_decoupling; 2],
        target: [0.0; 2],
    })
}

/// Each class's mean final margin against docs/theory.md §10.1's steady margin:
/// `setting,class,label,lambda,target,mean_margin,std_margin,steady_margin,accuracy`.
pub fn class_margins_table(exp: &MoonsExperiment) -> Result<Table> {
    let comment = "mean_margin, std_margin: over seeds of each run's mean final margin y*yhat over the class; steady_margin: the root of sigma(-m) = lambda (m - target) (docs/theory.md §10.1, exact for the linearised network with r = n; nan without SD); lambda in the sum convention (mean-objective coefficient lambda/2); class 0 = label -1";
    let header = [
        "setting",
        "class",
        "label",
        "lambda",
        "target",
        "mean_margin",
        "std_margin",
        "steady_margin",
        "accuracy",
    ];
    let mut table = Table::with_comments(&[comment], header)?;
    for s in &exp.settings {
        let t = as_class_targets(s);
        let steady = t.steady_margins();
        let mean = s.mean_class_margins();
        for c in 0..2 {
            let n = s.runs.len() as f64;
            let var = s
                .runs
                .iter()
                .map(|r| (r.class_margins[c] - mean[c]).powi(2))
                .sum::<f64>()
                / n;
            table.row([
                Cell::Text(&s.setting.name),
                Cell::from(c),
                Cell::Plain(if c == 0 { -1.0 } else { 1.0 }),
                Cell::Sci(t.lambda[c]),
                Cell::Plain(t.target[c]),
                Cell::Sci(mean[c]),
                Cell::Sci(var.sqrt()),
                Cell::FiniteSci(steady[c].unwrap_or(f64::NAN)),
                Cell::Sci(s.mean_accuracy()),
            ])?;
        }
    }
    Ok(table)
}

/// Write `<prefix>-features` (when there are overlay features), `<prefix>-reversal.csv` (when
/// the reversal is defined) and `<prefix>-margins.csv` (when a setting has SD per class).
pub(crate) fn paper_figures(
    exp: &MoonsExperiment,
    dir: &Path,
    options: &MoonsFigureOptions,
) -> Result<Vec<Written>> {
    let mut written = Vec::new();
    let rev = reversal(exp);
    if !exp.spec.overlay.is_empty() {
        let plot = FeaturesPlot {
            exp,
            frame: features_frame(exp),
            caption: rev.as_ref().map(reversal_caption).unwrap_or_default(),
        };
        written.push(write_figure(
            &plot,
            dir,
            &format!("{}-features", options.prefix),
            FigureSize::new(1000 + KEY_WIDTH, 720),
            options.formats,
            features_table(exp)?,
        )?);
    }
    if let Some(rev) = rev {
        let path = dir.join(format!("{}-reversal.csv", options.prefix));
        reversal_table(&rev)?.write(&path)?;
        written.push(Written {
            images: Vec::new(),
            data: path,
        });
    }
    if exp
        .settings
        .iter()
        .any(|s| s.setting.class_targets.is_some())
    {
        let path = dir.join(format!("{}-margins.csv", options.prefix));
        class_margins_table(exp)?.write(&path)?;
        written.push(Written {
            images: Vec::new(),
            data: path,
        });
    }
    Ok(written)
}
