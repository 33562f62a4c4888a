//! Sweep grids over the two-feature rotation family (docs/theory.md §5.4, §7.1): which parameters
//! vary, their ranges, and the values held fixed. Every grid is validated before any work
//! (hyperfine's habit): empty ranges, zero points, values outside the family's domain and grids
//! beyond [`MAX_GRID_POINTS`] are errors. Grid values are computed as a + i·h (or a·(b/a)^{i/(n−1)}
//! on a log axis), never accumulated.

use std::str::FromStr;

use crate::error::{Error, InputError, Result};

/// The largest grid a sweep accepts: 4096² points.
pub const MAX_GRID_POINTS: u128 = 4096 * 4096;

/// A parameter of the rotation family U(δ), s = (r·s₂, s₂), L2 strength λ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Parameter {
    /// The strength ratio r = s₁/s₂ (> 0).
    Ratio,
    /// The coupling δ of U(δ) = [[√(1−δ²), −δ], [δ, √(1−δ²)]] (|δ| ≤ 1).
    Coupling,
    /// The regularisation strength λ (> 0).
    Lambda,
    /// The weak feature's strength s₂ (> 0).
    WeakStrength,
}

impl Parameter {
    /// Name for messages: the name an axis is given by (`ratio`, `coupling`, `lambda`, `s2`,
    /// as [`FromStr`] reads it), then the paper's symbol.
    pub fn name(self) -> &'static str {
        match self {
            Parameter::Ratio => "ratio r = s₁/s₂",
            Parameter::Coupling => "coupling δ",
            Parameter::Lambda => "lambda λ",
            Parameter::WeakStrength => "s2 (weak strength s₂)",
        }
    }

    /// Short axis label for figures.
    pub fn label(self) -> &'static str {
        match self {
            Parameter::Ratio => "strength ratio r = s₁/s₂",
            Parameter::Coupling => "coupling δ",
            Parameter::Lambda => "regularisation λ",
            Parameter::WeakStrength => "weak strength s₂",
        }
    }

    /// Column name in CSV files (ASCII).
    pub fn csv_name(self) -> &'static str {
        match self {
            Parameter::Ratio => "r",
            Parameter::Coupling => "delta",
            Parameter::Lambda => "lambda",
            Parameter::WeakStrength => "s2",
        }
    }

    /// Check that `value` lies in the family's domain.
    pub fn check(self, value: f64) -> Result<()> {
        let (ok, rule) = match self {
            Parameter::Ratio => (value > 0.0, "the strength ratio must be finite and > 0"),
            Parameter::Coupling => (value.abs() <= 1.0, "the rotation family needs |δ| ≤ 1"),
            Parameter::Lambda => (value > 0.0, "λ must be finite and > 0 for a steady state"),
            Parameter::WeakStrength => (value > 0.0, "s₂ must be finite and > 0"),
        };
        if ok && value.is_finite() {
            Ok(())
        } else {
            Err(Error::Input(InputError::InvalidParameter {
                name: self.name(),
                value,
                rule,
            }))
        }
    }
}

impl FromStr for Parameter {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "r" | "ratio" => Ok(Parameter::Ratio),
            "delta" | "coupling" | "δ" => Ok(Parameter::Coupling),
            "lambda" | "λ" => Ok(Parameter::Lambda),
            "s2" | "weak-strength" => Ok(Parameter::WeakStrength),
            other => Err(format!(
                "unknown sweep parameter '{other}' (expected ratio, coupling, lambda or s2)"
            )),
        }
    }
}

/// How the points of an axis are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spacing {
    /// Evenly: v_i = a + i·h, h = (b − a)/(n − 1).
    Linear,
    /// Geometrically: v_i = a·(b/a)^{i/(n−1)} (needs a, b > 0; natural for λ).
    Log,
}

/// One axis of a sweep: a parameter and its values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Axis {
    /// The parameter varied.
    pub parameter: Parameter,
    /// First value a.
    pub start: f64,
    /// Last value b (> a, or = a with one point).
    pub end: f64,
    /// Number of points n ≥ 1.
    pub points: usize,
    /// Linear or logarithmic spacing.
    pub spacing: Spacing,
}

impl Axis {
    /// A linearly spaced axis.
    pub fn linear(parameter: Parameter, start: f64, end: f64, points: usize) -> Self {
        Self {
            parameter,
            start,
            end,
            points,
            spacing: Spacing::Linear,
        }
    }

    /// A logarithmically spaced axis.
    pub fn log(parameter: Parameter, start: f64, end: f64, points: usize) -> Self {
        Self {
            spacing: Spacing::Log,
            ..Self::linear(parameter, start, end, points)
        }
    }

    /// Check points, range and domain (before any work).
    pub fn validate(&self) -> Result<()> {
        let axis = self.parameter.name();
        if self.points == 0 {
            return Err(Error::Input(InputError::TooFewPoints {
                axis,
                points: self.points,
            }));
        }
        self.parameter.check(self.start)?;
        self.parameter.check(self.end)?;
        if self.points == 1 && self.start != self.end {
            return Err(Error::Input(InputError::SinglePointRange {
                axis,
                start: self.start,
                end: self.end,
            }));
        }
        if self.points > 1 && self.start >= self.end {
            return Err(Error::Input(InputError::EmptyRange {
                axis,
                start: self.start,
                end: self.end,
            }));
        }
        if self.spacing == Spacing::Log && self.start <= 0.0 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: axis,
                value: self.start,
                rule: "a logarithmic axis needs a start > 0",
            }));
        }
        Ok(())
    }

    /// The i-th value, computed directly (no accumulated drift); the last is exactly `end`, and
    /// every value lies in [start, end] (rounding never steps outside it, so the values never
    /// decrease). A log axis whose ratio b/a overflows (λ from 1e-300 to 1e300) takes
    /// a^{1−t}·b^t, each factor finite.
    pub fn value(&self, i: usize) -> f64 {
        if self.points == 1 || i == 0 {
            return self.start;
        }
        if i + 1 == self.points {
            return self.end;
        }
        let t = i as f64 / (self.points - 1) as f64;
        let v = match self.spacing {
            Spacing::Linear => {
                let h = (self.end - self.start) / (self.points - 1) as f64;
                self.start + i as f64 * h
            }
            Spacing::Log => {
                let ratio = self.end / self.start;
                if ratio.is_finite() {
                    self.start * ratio.powf(t)
                } else {
                    self.start.powf(1.0 - t) * self.end.powf(t)
                }
            }
        };
        v.clamp(self.start, self.end)
    }

    /// All values.
    pub fn values(&self) -> Vec<f64> {
        (0..self.points).map(|i| self.value(i)).collect()
    }

    /// An axis written `PARAMETER:FROM:TO` (linear) or `PARAMETER:FROM:TO:log`, e.g. `ratio:1:5`
    /// or `lambda:1e-3:1e-1:log`, with `points` points, validated ([`Axis::validate`]): a parsed
    /// axis has finite ends in the parameter's domain, FROM < TO (FROM = TO with one point), and
    /// FROM > 0 on a log axis.
    pub fn parse(text: &str, points: usize) -> Result<Self> {
        let syntax = |problem: String| {
            Error::Input(InputError::Syntax {
                what: "axis",
                text: text.to_string(),
                problem,
            })
        };
        let parts: Vec<&str> = text.split(':').collect();
        let log = match parts[..] {
            [_, _, _] => false,
            [_, _, _, "log"] => true,
            _ => {
                return Err(syntax(
                    "must be PARAMETER:FROM:TO or PARAMETER:FROM:TO:log, e.g. ratio:1:5 or \
                     lambda:1e-3:1e-1:log"
                        .into(),
                ))
            }
        };
        let parameter: Parameter = parts[0].parse().map_err(syntax)?;
        let number = |t: &str| {
            t.trim()
                .parse::<f64>()
                .map_err(|_| syntax(format!("'{t}' is not a number")))
        };
        let (start, end) = (number(parts[1])?, number(parts[2])?);
        let axis = if log {
            Axis::log(parameter, start, end, points)
        } else {
            Axis::linear(parameter, start, end, points)
        };
        axis.validate()?;
        Ok(axis)
    }
}

/// The fixed values of the rotation family; the swept parameters override two of them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RotationFamily {
    /// r = s₁/s₂ (default 2).
    pub ratio: f64,
    /// δ (default 0.5, the toy's 30° rotation).
    pub coupling: f64,
    /// λ (default 0.01, the toy's L2 strength).
    pub lambda: f64,
    /// s₂ (default 2, the toy's weak feature).
    pub weak_strength: f64,
}

impl Default for RotationFamily {
    fn default() -> Self {
        Self {
            ratio: 2.0,
            coupling: 0.5,
            lambda: 0.01,
            weak_strength: 2.0,
        }
    }
}

impl RotationFamily {
    /// The family with `parameter` set to `value`.
    pub fn with(mut self, parameter: Parameter, value: f64) -> Self {
        match parameter {
            Parameter::Ratio => self.ratio = value,
            Parameter::Coupling => self.coupling = value,
            Parameter::Lambda => self.lambda = value,
            Parameter::WeakStrength => self.weak_strength = value,
        }
        self
    }

    /// The value of `parameter`.
    pub fn get(&self, parameter: Parameter) -> f64 {
        match parameter {
            Parameter::Ratio => self.ratio,
            Parameter::Coupling => self.coupling,
            Parameter::Lambda => self.lambda,
            Parameter::WeakStrength => self.weak_strength,
        }
    }

    /// Check every value against the family's domain.
    pub fn validate(&self) -> Result<()> {
        for p in [
            Parameter::Ratio,
            Parameter::Coupling,
            Parameter::Lambda,
            Parameter::WeakStrength,
        ] {
            p.check(self.get(p))?;
        }
        Ok(())
    }

    /// The strong feature's strength s₁ = r·s₂.
    pub fn strong_strength(&self) -> f64 {
        self.ratio * self.weak_strength
    }
}

/// A two-parameter grid: x varies fastest (row-major, row = one y value).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid {
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// Values of the parameters that are not swept.
    pub fixed: RotationFamily,
}

impl Grid {
    /// Validate both axes, their distinctness, the size limit and the fixed values.
    pub fn validate(&self) -> Result<()> {
        self.x.validate()?;
        self.y.validate()?;
        if self.x.parameter == self.y.parameter {
            return Err(Error::Input(InputError::DuplicateAxis {
                axis: self.x.parameter.name(),
            }));
        }
        let points = self.x.points as u128 * self.y.points as u128;
        if points > MAX_GRID_POINTS {
            return Err(Error::Input(InputError::GridTooLarge {
                points,
                limit: MAX_GRID_POINTS,
            }));
        }
        // Only the parameters held fixed need checking; the axes were checked above.
        let mut fixed = self.fixed;
        fixed = fixed.with(self.x.parameter, self.x.start);
        fixed = fixed.with(self.y.parameter, self.y.start);
        fixed.validate()
    }

    /// Number of points nx·ny.
    pub fn len(&self) -> usize {
        self.x.points * self.y.points
    }

    /// Whether the grid has no points (never true for a validated grid).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The family at grid point (ix, iy).
    pub fn family(&self, ix: usize, iy: usize) -> RotationFamily {
        self.fixed
            .with(self.x.parameter, self.x.value(ix))
            .with(self.y.parameter, self.y.value(iy))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_computed_not_accumulated() {
        let axis = Axis::linear(Parameter::Coupling, 0.05, 0.95, 1001);
        let v = axis.values();
        assert_eq!(v[0], 0.05);
        assert_eq!(v[1000], 0.95);
        assert_eq!(v[500], 0.05 + 500.0 * ((0.95 - 0.05) / 1000.0));
        let log = Axis::log(Parameter::Lambda, 1e-4, 1.0, 5).values();
        assert!((log[2] - 1e-2).abs() < 1e-16);
    }

    /// Found while writing the invariants of the axis fuzz target (fuzz/fuzz_targets/axis.rs): a
    /// log axis over a range whose ratio overflows gave infinite values, and rounding could step
    /// a value past `end`.
    #[test]
    fn extreme_axes_stay_finite_ordered_and_in_range() {
        for axis in [
            Axis::log(Parameter::Lambda, 1e-300, 1e300, 5),
            Axis::log(Parameter::Ratio, 5e-324, 1.7e308, 4096),
            Axis::log(Parameter::Ratio, 1.0, 1.0 + 4.0 * f64::EPSILON, 4096),
            Axis::linear(Parameter::Ratio, 1.0, 1.0 + f64::EPSILON, 4096),
            Axis::linear(Parameter::Coupling, -1.0, 1.0, 4096),
        ] {
            axis.validate().unwrap();
            let v = axis.values();
            assert!(v.iter().all(|x| x.is_finite()), "{axis:?}");
            assert!(
                v.iter().all(|&x| x >= axis.start && x <= axis.end),
                "{axis:?}"
            );
            assert!(v.windows(2).all(|w| w[0] <= w[1]), "{axis:?}");
        }
        // 1e-300 → 1e300 over 5 points: the decades 1e-300, 1e-150, 1, 1e150, 1e300.
        let v = Axis::log(Parameter::Lambda, 1e-300, 1e300, 5).values();
        for (x, decade) in v.iter().zip([-300.0, -150.0, 0.0, 150.0, 300.0]) {
            assert!((x.log10() - decade).abs() < 1e-12, "{x} vs 1e{decade}");
        }
    }

    #[test]
    fn axes_parse_and_are_validated() {
        assert_eq!(
            Axis::parse("ratio:1:5", 8).unwrap(),
            Axis::linear(Parameter::Ratio, 1.0, 5.0, 8)
        );
        assert_eq!(
            Axis::parse("lambda:1e-3:1e-1:log", 4).unwrap(),
            Axis::log(Parameter::Lambda, 1e-3, 1e-1, 4)
        );
        for (text, points) in [
            ("ratio:1", 8),
            ("ratio:1:5:lin", 8),
            ("ratio:1:5:log:x", 8),
            ("bogus:1:5", 8),
            ("ratio:a:5", 8),
            ("ratio::5", 8),
        ] {
            assert!(
                matches!(
                    Axis::parse(text, points),
                    Err(Error::Input(InputError::Syntax { what: "axis", .. }))
                ),
                "{text}"
            );
        }
        assert!(matches!(
            Axis::parse("ratio:5:1", 8),
            Err(Error::Input(InputError::EmptyRange { .. }))
        ));
        assert!(matches!(
            Axis::parse("coupling:-0.5:0.5:log", 8),
            Err(Error::Input(InputError::InvalidParameter { .. }))
        ));
        assert!(matches!(
            Axis::parse("ratio:nan:5", 8),
            Err(Error::Input(InputError::InvalidParameter { .. }))
        ));
        assert!(matches!(
            Axis::parse("ratio:1:5", 0),
            Err(Error::Input(InputError::TooFewPoints { .. }))
        ));
    }

    #[test]
    fn bad_grids_are_rejected_before_work() {
        let fixed = RotationFamily::default();
        let ok = Axis::linear(Parameter::Ratio, 1.0, 5.0, 8);
        let grid = |x, y| Grid { x, y, fixed };
        assert!(matches!(
            grid(Axis::linear(Parameter::Ratio, 1.0, 5.0, 0), ok).validate(),
            Err(Error::Input(InputError::TooFewPoints { points: 0, .. }))
        ));
        assert!(matches!(
            grid(ok, Axis::linear(Parameter::Coupling, 0.5, 0.5, 3)).validate(),
            Err(Error::Input(InputError::EmptyRange { .. }))
        ));
        assert!(matches!(
            grid(ok, ok).validate(),
            Err(Error::Input(InputError::DuplicateAxis { .. }))
        ));
        assert!(matches!(
            grid(
                Axis::linear(Parameter::Ratio, 1.0, 5.0, 4097),
                Axis::linear(Parameter::Coupling, 0.0, 0.9, 4096)
            )
            .validate(),
            Err(Error::Input(InputError::GridTooLarge { points, .. })) if points == 4097 * 4096
        ));
        assert!(grid(ok, Axis::linear(Parameter::Coupling, 0.0, 1.5, 3))
            .validate()
            .is_err());
        assert!(grid(ok, Axis::linear(Parameter::Coupling, 0.3, 0.3, 1))
            .validate()
            .is_ok());
        // One point cannot span a range: the message says so, and does not call it empty.
        let err = grid(ok, Axis::linear(Parameter::Coupling, 0.05, 0.95, 1))
            .validate()
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Input(InputError::SinglePointRange { .. })
        ));
        let text = err.to_string();
        assert!(
            text.contains("1 point") && text.contains("at least 2") && !text.contains("empty"),
            "{text}"
        );
        let text = grid(Axis::linear(Parameter::Ratio, 5.0, 1.0, 3), ok)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("empty") && !text.contains("1 point"),
            "{text}"
        );
    }
}
