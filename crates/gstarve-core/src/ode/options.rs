//! Options of an integration, validated once, in their constructors: the tolerances, the
//! output grid and the method. Every integrator receives them valid.

use std::str::FromStr;

use crate::error::{Error, InputError, Result};

/// The smallest relative tolerance, 10·ε ≈ 2.2e-15.
pub const RTOL_FLOOR: f64 = 10.0 * f64::EPSILON;

/// Most step attempts (accepted plus rejected) a solve may take by default, over all its
/// output windows: [`Tolerances::with_max_steps`] changes it.
pub const DEFAULT_MAX_STEPS: u64 = 1_000_000;

/// What a solve must meet: relative and absolute tolerances (finite, in (0, 1), and
/// rtol ≥ 10ε: below that the error test asks for less than rounding), and the work budget, the
/// most step attempts (accepted plus rejected) over the whole solve. A method that needs more
/// stops with a named failure at the time it reached, so no solve runs unbounded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    rtol: f64,
    atol: f64,
    max_steps: u64,
}

impl Tolerances {
    /// Validated tolerances.
    pub fn new(rtol: f64, atol: f64) -> Result<Self> {
        for (name, v) in [("rtol", rtol), ("atol", atol)] {
            if !(v.is_finite() && v > 0.0 && v < 1.0) {
                return Err(Error::Input(InputError::InvalidParameter {
                    name,
                    value: v,
                    rule: "tolerances must be in (0, 1)",
                }));
            }
        }
        if rtol < RTOL_FLOOR {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "rtol",
                value: rtol,
                rule: "the relative tolerance must be ≥ 10·ε ≈ 2.2e-15",
            }));
        }
        Ok(Self {
            rtol,
            atol,
            max_steps: DEFAULT_MAX_STEPS,
        })
    }

    /// The same tolerances with a budget of `max_steps` step attempts (at least 1).
    pub fn with_max_steps(self, max_steps: u64) -> Result<Self> {
        if max_steps == 0 {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "max_steps",
                value: 0.0,
                rule: "the step budget must be at least 1",
            }));
        }
        Ok(Self { max_steps, ..self })
    }

    /// The most step attempts (accepted plus rejected) the solve may take.
    pub fn max_steps(&self) -> u64 {
        self.max_steps
    }

    /// Both tolerances times `factor` (0 < factor ≤ 1), the relative one no smaller than the
    /// floor 10·ε (below it the error test asks for less than rounding) and the absolute one no
    /// smaller than the smallest normal number.
    pub fn scaled(&self, factor: f64) -> Self {
        Self {
            rtol: (factor * self.rtol).max(RTOL_FLOOR),
            atol: (factor * self.atol).max(f64::MIN_POSITIVE),
            max_steps: self.max_steps,
        }
    }

    /// The relative tolerance.
    pub fn rtol(&self) -> f64 {
        self.rtol
    }

    /// The absolute tolerance.
    pub fn atol(&self) -> f64 {
        self.atol
    }
}

impl Default for Tolerances {
    /// rtol 1e-8, atol 1e-10, at most [`DEFAULT_MAX_STEPS`] step attempts.
    fn default() -> Self {
        Self {
            rtol: 1e-8,
            atol: 1e-10,
            max_steps: DEFAULT_MAX_STEPS,
        }
    }
}

/// Most output points a grid may have.
pub const MAX_OUTPUT_POINTS: usize = 10_000_000;

/// The times at which a solution is recorded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutputGrid {
    kind: GridKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum GridKind {
    Uniform {
        t_end: f64,
        points: usize,
    },
    Windows {
        first: f64,
        t_end: f64,
        points_per_window: usize,
    },
}

/// One window of an [`OutputGrid`]: integrate from τ = `start` over `length` with `points`
/// evenly spaced outputs (both ends included).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// Where the window starts.
    pub start: f64,
    /// Its length.
    pub length: f64,
    /// Output points on it, both ends included.
    pub points: usize,
}

impl OutputGrid {
    /// `points` evenly spaced times on [0, τ_end], τ_k = k·τ_end/(points − 1) (computed
    /// directly, no drift): τ_end finite and > 0, 2 ≤ points ≤ [`MAX_OUTPUT_POINTS`].
    pub fn uniform(t_end: f64, points: usize) -> Result<Self> {
        check_t_end(t_end)?;
        check_points(points)?;
        Ok(Self {
            kind: GridKind::Uniform { t_end, points },
        })
    }

    /// Geometric windows for logarithmic time axes: [0, first], then decade by decade
    /// [first·10^k, first·10^{k+1}] up to τ_end, each with `points_per_window` evenly spaced
    /// outputs. The integration restarts at each window's start from the state reached there
    /// (a fresh step-size history, so that the early, fast part of a path is resolved however
    /// long the run).
    pub fn windows(first: f64, t_end: f64, points_per_window: usize) -> Result<Self> {
        check_t_end(t_end)?;
        check_points(points_per_window)?;
        if !(first.is_finite() && first > 0.0) {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "first window",
                value: first,
                rule: "the first window's length must be finite and > 0",
            }));
        }
        let grid = Self {
            kind: GridKind::Windows {
                first,
                t_end,
                points_per_window,
            },
        };
        if grid.len() > MAX_OUTPUT_POINTS {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "points",
                value: grid.len() as f64,
                rule: "the output grid needs between 2 and 10⁷ points (all windows together)",
            }));
        }
        Ok(grid)
    }

    /// The final time τ_end.
    pub fn t_end(&self) -> f64 {
        match self.kind {
            GridKind::Uniform { t_end, .. } | GridKind::Windows { t_end, .. } => t_end,
        }
    }

    /// The integration windows, in order.
    pub fn windows_of(&self) -> Vec<Window> {
        match self.kind {
            GridKind::Uniform { t_end, points } => vec![Window {
                start: 0.0,
                length: t_end,
                points,
            }],
            GridKind::Windows {
                first,
                t_end,
                points_per_window,
            } => {
                let mut edges = vec![0.0, first.min(t_end)];
                while edges[edges.len() - 1] < t_end {
                    let next = (edges[edges.len() - 1] * 10.0).min(t_end);
                    edges.push(next);
                }
                edges
                    .windows(2)
                    .map(|w| Window {
                        start: w[0],
                        length: w[1] - w[0],
                        points: points_per_window,
                    })
                    .collect()
            }
        }
    }

    /// Number of output points (a window's first point is its predecessor's last).
    pub fn len(&self) -> usize {
        match self.kind {
            GridKind::Uniform { points, .. } => points,
            GridKind::Windows { .. } => {
                let windows = self.windows_of();
                1 + windows.iter().map(|w| w.points - 1).sum::<usize>()
            }
        }
    }

    /// Always false: a grid has at least two points.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The evenly spaced times τ_k = k·length/(points − 1), k = 0 … points − 1 (computed
/// directly, no drift; the last one is `length` exactly).
pub fn uniform_times(length: f64, points: usize) -> Vec<f64> {
    let last = points.saturating_sub(1).max(1) as f64;
    (0..points)
        .map(|k| {
            if k + 1 == points {
                length
            } else {
                length * k as f64 / last
            }
        })
        .collect()
}

fn check_t_end(t_end: f64) -> Result<()> {
    if t_end.is_finite() && t_end > 0.0 {
        Ok(())
    } else {
        Err(Error::Input(InputError::InvalidParameter {
            name: "t_end",
            value: t_end,
            rule: "the final time must be finite and > 0",
        }))
    }
}

fn check_points(points: usize) -> Result<()> {
    if (2..=MAX_OUTPUT_POINTS).contains(&points) {
        Ok(())
    } else {
        Err(Error::Input(InputError::InvalidParameter {
            name: "points",
            value: points as f64,
            rule: "the output grid needs between 2 and 10⁷ points",
        }))
    }
}

/// Integration method for a flow. [`FlowMethod::Auto`] follows the table in
/// [`crate::solvers::auto`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowMethod {
    /// Choose from the problem's size, structure, stiffness and tolerance ([`crate::solvers::auto`]).
    Auto,
    /// Explicit Dormand–Prince 8(5,3) (ode_solvers).
    Dop853,
    /// Explicit Dormand–Prince 5(4) (ode_solvers).
    Dopri5,
    /// Implicit variable-order BDF/NDF, hand-written and allocation-free.
    Bdf,
    /// Linearly implicit Rosenbrock method Rodas4 (one LU per step; accurate, best for small n).
    Rodas4,
    /// Hand-written allocation-free Dormand–Prince 5(4) with a stiffness test (fastest for
    /// small non-stiff or transiently stiff flows).
    Dp45,
    /// Stabilised explicit Runge–Kutta–Chebyshev (RKC, second order): stages sized from the
    /// problem's spectral bound, steps chosen for accuracy alone; for large n.
    Rkc,
}

impl FromStr for FlowMethod {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "dop853" => Ok(Self::Dop853),
            "dopri5" => Ok(Self::Dopri5),
            "bdf" => Ok(Self::Bdf),
            "rodas4" => Ok(Self::Rodas4),
            "dp45" => Ok(Self::Dp45),
            "rkc" => Ok(Self::Rkc),
            other => Err(format!(
                "unknown integration method '{other}' (expected auto, dop853, dopri5, bdf, rodas4, dp45 or rkc)"
            )),
        }
    }
}

/// Options of a flow integration: output grid, tolerances and method, each valid by
/// construction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowOptions {
    grid: OutputGrid,
    tolerances: Tolerances,
    method: FlowMethod,
}

impl FlowOptions {
    /// Options from validated parts.
    pub fn from_parts(grid: OutputGrid, tolerances: Tolerances, method: FlowMethod) -> Self {
        Self {
            grid,
            tolerances,
            method,
        }
    }

    /// An evenly spaced grid of `points` on [0, τ_end], tolerances and method, validated.
    pub fn new(
        t_end: f64,
        points: usize,
        rtol: f64,
        atol: f64,
        method: FlowMethod,
    ) -> Result<Self> {
        Ok(Self::from_parts(
            OutputGrid::uniform(t_end, points)?,
            Tolerances::new(rtol, atol)?,
            method,
        ))
    }

    /// The same options with another method.
    pub fn with_method(self, method: FlowMethod) -> Self {
        Self { method, ..self }
    }

    /// The same options with other tolerances.
    pub fn with_tolerances(self, tolerances: Tolerances) -> Self {
        Self { tolerances, ..self }
    }

    /// The same options with another output grid.
    pub fn with_grid(self, grid: OutputGrid) -> Self {
        Self { grid, ..self }
    }

    /// The output grid.
    pub fn grid(&self) -> &OutputGrid {
        &self.grid
    }

    /// The tolerances.
    pub fn tolerances(&self) -> &Tolerances {
        &self.tolerances
    }

    /// The method.
    pub fn method(&self) -> FlowMethod {
        self.method
    }

    /// The final time τ_end.
    pub fn t_end(&self) -> f64 {
        self.grid.t_end()
    }

    /// The relative tolerance.
    pub fn rtol(&self) -> f64 {
        self.tolerances.rtol
    }

    /// The absolute tolerance.
    pub fn atol(&self) -> f64 {
        self.tolerances.atol
    }
}

impl Default for FlowOptions {
    /// τ_end = 250 with 501 points, rtol 1e-8, atol 1e-10, automatic method.
    fn default() -> Self {
        Self {
            grid: OutputGrid {
                kind: GridKind::Uniform {
                    t_end: 250.0,
                    points: 501,
                },
            },
            tolerances: Tolerances::default(),
            method: FlowMethod::Auto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_options_are_rejected_with_the_parameter_named() {
        let name = |r: Result<FlowOptions>| match r {
            Err(Error::Input(InputError::InvalidParameter { name, .. })) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            name(FlowOptions::new(-1.0, 10, 1e-8, 1e-10, FlowMethod::Auto)),
            "t_end"
        );
        assert_eq!(
            name(FlowOptions::new(
                f64::NAN,
                10,
                1e-8,
                1e-10,
                FlowMethod::Auto
            )),
            "t_end"
        );
        assert_eq!(
            name(FlowOptions::new(1.0, 1, 1e-8, 1e-10, FlowMethod::Auto)),
            "points"
        );
        assert_eq!(
            name(FlowOptions::new(1.0, 10, 0.0, 1e-10, FlowMethod::Auto)),
            "rtol"
        );
        assert_eq!(
            name(FlowOptions::new(1.0, 10, 1e-16, 1e-10, FlowMethod::Auto)),
            "rtol"
        );
        assert_eq!(
            name(FlowOptions::new(1.0, 10, 1e-8, 1.5, FlowMethod::Auto)),
            "atol"
        );
        // Scaling below the floor clamps at it (the margin integration of a user's rtol 1e-14).
        let scaled = Tolerances::new(1e-14, 1e-16).unwrap().scaled(0.01);
        assert_eq!((scaled.rtol(), scaled.atol()), (RTOL_FLOOR, 1e-18));
    }

    #[test]
    fn grids_have_their_points_and_windows_cover_the_interval() {
        let g = OutputGrid::uniform(10.0, 11).unwrap();
        assert_eq!(g.len(), 11);
        assert_eq!(uniform_times(10.0, 11)[10], 10.0);
        let w = OutputGrid::windows(1e-3, 50.0, 5).unwrap();
        let windows = w.windows_of();
        let starts: Vec<f64> = windows.iter().map(|w| w.start).collect();
        assert_eq!(starts, vec![0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0]);
        let last = windows.last().unwrap();
        assert_eq!(last.start + last.length, 50.0);
        assert_eq!(w.len(), 1 + 6 * 4);
    }
}
