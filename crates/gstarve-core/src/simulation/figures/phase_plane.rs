//! The phase plane of a system: responses z_a against z_b under L2 (docs/theory.md §3.2) — the
//! exact flow, GD, the dual path (§3.5), the flow under Spectral Decoupling and the flow of the
//! decoupled system (U = I, same strengths; §5.1), as chosen — with the steady states (§4.1–§4.2),
//! and for two features the L2 right-hand side F(z) = S²Uᵀσ(−Uz) − λz sampled for a direction field
//! and on the fine grid from which the nullclines F_a = 0, F_b = 0 are traced.

use nalgebra::DVector;

use super::padded_extent;
use crate::error::{Error, InputError, Result};
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::ode::OdeSolution;
use crate::reference::{TOY_ETA, TOY_LAMBDA_L2, TOY_LAMBDA_SD, TOY_STEPS};
use crate::simulation::paths;
use crate::solvers::steady::steady_state;
use crate::systems::FeatureSystem;

/// A plot window ((x₀, x₁), (y₀, y₁)).
pub type Window = ((f64, f64), (f64, f64));

/// Direction-field samples per axis.
pub const FIELD_SHAPE: (usize, usize) = (17, 13);
/// Points per axis of the grid on which the nullclines are traced.
pub const NULLCLINE_GRID: (usize, usize) = (241, 181);
/// Output points of the drawn flows and GD runs.
pub(super) const PATH_POINTS: usize = 2001;

/// Which runs to overlay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhasePlaneCurves {
    /// The exact L2 flow.
    pub flow: bool,
    /// Gradient descent under L2.
    pub gd: bool,
    /// The dual (Legendre) path of L2.
    pub dual: bool,
    /// The exact flow under Spectral Decoupling.
    pub sd: bool,
    /// The exact L2 flow of the decoupled system (U = I, same strengths); off by default, since
    /// its weak response is far larger than the coupled one and sets the scale.
    pub decoupled: bool,
}

impl Default for PhasePlaneCurves {
    fn default() -> Self {
        Self {
            flow: true,
            gd: true,
            dual: true,
            sd: true,
            decoupled: false,
        }
    }
}

/// Which regulariser the main runs of a phase plane use (their strength is the spec's λ).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RegulariserKind {
    /// Weight decay (the default).
    #[default]
    L2,
    /// Spectral Decoupling.
    SpectralDecoupling,
    /// None: no steady state exists, so none is marked.
    None,
}

/// What to compute for a phase plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PhasePlaneSpec {
    /// The responses on the x and y axes, 0-based (default (0, 1): z₁ against z₂).
    pub responses: (usize, usize),
    /// L2 strength λ (default 0.01, the toy's); the λ of the main runs' regulariser.
    pub lambda: f64,
    /// The loss of every run (default logistic).
    pub loss: Loss,
    /// The regulariser of the main runs (flow, GD, dual, decoupled), of the direction field and
    /// the nullclines, with strength `lambda`: L2 (the default), SD or none. The `sd` run stays
    /// Spectral Decoupling with `sd_lambda`.
    pub regulariser: RegulariserKind,
    /// SD strength λ (default 0.002, the toy's).
    pub sd_lambda: f64,
    /// Runs to overlay (default all but the decoupled system).
    pub curves: PhasePlaneCurves,
    /// GD step size η (default 0.05).
    pub eta: f64,
    /// Learning time of the flows and GD (default 250 = 5000 GD steps of 0.05, the toy's).
    pub t_end: f64,
    /// Own time of the dual flow (default 10; it converges long before).
    pub dual_t_end: f64,
    /// Sample the direction field (two-feature systems only; default true).
    pub vector_field: bool,
    /// Sample the nullcline grid (two-feature systems only; default true).
    pub nullclines: bool,
    /// The window (default: the runs' extent with the origin, padded).
    pub window: Option<Window>,
}

impl Default for PhasePlaneSpec {
    fn default() -> Self {
        Self {
            responses: (0, 1),
            lambda: TOY_LAMBDA_L2,
            loss: Loss::Logistic,
            regulariser: RegulariserKind::L2,
            sd_lambda: TOY_LAMBDA_SD,
            curves: PhasePlaneCurves::default(),
            eta: TOY_ETA,
            t_end: TOY_ETA * TOY_STEPS as f64,
            dual_t_end: 10.0,
            vector_field: true,
            nullclines: true,
            window: None,
        }
    }
}

impl PhasePlaneSpec {
    /// The main runs' regulariser, with its strength λ.
    pub fn main_regulariser(&self) -> Regulariser {
        match self.regulariser {
            RegulariserKind::L2 => Regulariser::L2 {
                lambda: self.lambda,
            },
            RegulariserKind::SpectralDecoupling => Regulariser::SpectralDecoupling {
                lambda: self.lambda,
            },
            RegulariserKind::None => Regulariser::None,
        }
    }

    /// Whether the main runs have a dual path (docs/theory.md §3.5: logistic loss under L2).
    pub fn has_dual(&self) -> bool {
        self.loss == Loss::Logistic && self.regulariser == RegulariserKind::L2
    }

    /// Check the spec against a system of `rank` features: both responses exist and differ, and
    /// the direction field and nullclines (which need the whole state in the plane) ask for two
    /// features.
    pub fn validate(&self, rank: usize) -> Result<()> {
        let (a, b) = self.responses;
        for index in [a, b] {
            if index >= rank {
                return Err(Error::Input(InputError::ResponseOutOfRange {
                    index: index + 1,
                    rank,
                }));
            }
        }
        if a == b {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "responses",
                value: (a + 1) as f64,
                rule: "a phase plane needs two different responses (z_a against z_b, a ≠ b)",
            }));
        }
        if self.curves.dual && !self.has_dual() {
            return Err(Error::Input(InputError::Unsupported(
                "the dual path is that of the logistic loss under L2 (docs/theory.md §3.5): \
                 leave out the dual curve for another loss or regulariser"
                    .into(),
            )));
        }
        if (self.vector_field || self.nullclines) && rank != 2 {
            return Err(Error::Input(InputError::NotTwoFeatures {
                what: "the direction field and nullclines of the phase plane",
                rank,
            }));
        }
        Ok(())
    }
}

/// A run overlaid on the phase plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaneRun {
    /// The exact L2 flow.
    Flow,
    /// GD under L2.
    Gd,
    /// The L2 dual path, mapped to z.
    Dual,
    /// The exact SD flow.
    Sd,
    /// The exact L2 flow of the decoupled system.
    Decoupled,
}

impl PlaneRun {
    /// The run's name in data files.
    pub fn name(self) -> &'static str {
        match self {
            PlaneRun::Flow => "flow",
            PlaneRun::Gd => "gd",
            PlaneRun::Dual => "dual",
            PlaneRun::Sd => "sd",
            PlaneRun::Decoupled => "decoupled",
        }
    }
}

/// One run, projected on the plane.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanePath {
    /// Which run.
    pub run: PlaneRun,
    /// (z_a, z_b) at each recorded time.
    pub points: Vec<(f64, f64)>,
    /// The recorded times (learning time; the dual's own time for the dual).
    pub tau: Vec<f64>,
}

/// Whose steady state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SteadyKind {
    /// The L2 steady state z* (docs/theory.md §4.1).
    L2,
    /// The SD steady state (§4.2).
    Sd,
    /// The decoupled system's L2 steady state (§5.1).
    Decoupled,
}

impl SteadyKind {
    /// The steady state's name in data files.
    pub fn name(self) -> &'static str {
        match self {
            SteadyKind::L2 => "steady-l2",
            SteadyKind::Sd => "steady-sd",
            SteadyKind::Decoupled => "steady-decoupled",
        }
    }
}

/// A steady state, projected on the plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlaneSteadyState {
    /// Whose.
    pub kind: SteadyKind,
    /// (z_a*, z_b*).
    pub at: (f64, f64),
}

/// The L2 rate F at one point of the plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldSample {
    /// The point (z_a, z_b).
    pub at: (f64, f64),
    /// (F_a, F_b) there.
    pub rate: (f64, f64),
}

/// F at the cell centres of a (columns × rows) grid filling the window, row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct DirectionField {
    /// (columns, rows).
    pub shape: (usize, usize),
    /// The samples, x fastest.
    pub samples: Vec<FieldSample>,
}

/// F on a grid spanning the window corner to corner: `rates[k][iy·nx + ix]` is component k
/// (0: F_a, 1: F_b) at (`xs[ix]`, `ys[iy]`); its zero sets are the nullclines.
#[derive(Clone, Debug, PartialEq)]
pub struct RateGrid {
    /// The x values (nx).
    pub xs: Vec<f64>,
    /// The y values (ny).
    pub ys: Vec<f64>,
    /// F_a and F_b, x fastest.
    pub rates: [Vec<f64>; 2],
}

/// A computed phase plane.
#[derive(Clone, Debug, PartialEq)]
pub struct PhasePlaneData {
    /// What was computed.
    pub spec: PhasePlaneSpec,
    /// The system's strengths s₁ … s_r.
    pub strengths: Vec<f64>,
    /// The coupling δ when the system is a member of the rotation family
    /// ([`FeatureSystem::rotation_coupling`]).
    pub coupling: Option<f64>,
    /// The number of classes c of a multi-class softmax system (docs/theory.md §9), `None` for
    /// a binary one.
    pub classes: Option<usize>,
    /// The runs, in the order flow, GD, dual, SD, decoupled (those asked for).
    pub paths: Vec<PlanePath>,
    /// The L2 steady state, then the SD and the decoupled one when their runs are drawn.
    pub steady: Vec<PlaneSteadyState>,
    /// The window: the spec's, or the extent of the runs, steady states and origin, padded.
    pub window: Window,
    /// The direction field of the L2 flow (when asked for).
    pub field: Option<DirectionField>,
    /// The L2 rates on the nullcline grid (when asked for).
    pub nullclines: Option<RateGrid>,
}

pub(super) fn project(sol: OdeSolution, run: PlaneRun, (a, b): (usize, usize)) -> PlanePath {
    PlanePath {
        run,
        points: sol.states.iter().map(|z| (z[a], z[b])).collect(),
        tau: sol.tau,
    }
}

/// The three dynamics a phase plane draws from: L2 and SD on the system, L2 on its decoupled
/// twin.
struct PlaneDynamics<'a> {
    l2: PrimalDynamics<'a>,
    sd: PrimalDynamics<'a>,
    decoupled: PrimalDynamics<'a>,
}

impl<'a> PlaneDynamics<'a> {
    fn new(
        system: &'a FeatureSystem,
        decoupled: &'a FeatureSystem,
        spec: &PhasePlaneSpec,
    ) -> Result<Self> {
        let main = spec.main_regulariser();
        let sd = Regulariser::SpectralDecoupling {
            lambda: spec.sd_lambda,
        };
        Ok(Self {
            l2: PrimalDynamics::new(system, spec.loss, main)?,
            sd: PrimalDynamics::new(system, spec.loss, sd)?,
            decoupled: PrimalDynamics::new(decoupled, spec.loss, main)?,
        })
    }

    /// The chosen runs from z = 0, in the order flow, GD, dual, SD, decoupled.
    fn runs(&self, spec: &PhasePlaneSpec) -> Result<Vec<PlanePath>> {
        let (c, ab) = (spec.curves, spec.responses);
        let mut runs = Vec::new();
        if c.flow {
            let sol = paths::flow(&self.l2, spec.t_end, PATH_POINTS, None)?;
            runs.push(project(sol, PlaneRun::Flow, ab));
        }
        if c.gd {
            let sol = paths::gd(&self.l2, spec.eta, spec.t_end, PATH_POINTS)?;
            runs.push(project(sol, PlaneRun::Gd, ab));
        }
        if c.dual {
            let sol = paths::dual_path(&self.l2, spec.dual_t_end)?;
            runs.push(project(sol, PlaneRun::Dual, ab));
        }
        if c.sd {
            let sol = paths::flow(&self.sd, spec.t_end, PATH_POINTS, None)?;
            runs.push(project(sol, PlaneRun::Sd, ab));
        }
        if c.decoupled {
            let sol = paths::flow(&self.decoupled, spec.t_end, PATH_POINTS, None)?;
            runs.push(project(sol, PlaneRun::Decoupled, ab));
        }
        Ok(runs)
    }

    /// The L2 steady state, and the SD and decoupled ones when their runs are drawn.
    fn steady_states(&self, spec: &PhasePlaneSpec) -> Result<Vec<PlaneSteadyState>> {
        let ab = spec.responses;
        let at = |kind, dynamics: &PrimalDynamics| -> Result<PlaneSteadyState> {
            let z = steady_state(dynamics)?.responses;
            Ok(PlaneSteadyState {
                kind,
                at: (z[ab.0], z[ab.1]),
            })
        };
        // No regulariser, no steady state (docs/theory.md §2.2): none is marked.
        let main = spec.regulariser != RegulariserKind::None;
        let mut steady = Vec::new();
        if main {
            steady.push(at(SteadyKind::L2, &self.l2)?);
        }
        if spec.curves.sd {
            steady.push(at(SteadyKind::Sd, &self.sd)?);
        }
        if spec.curves.decoupled && main {
            steady.push(at(SteadyKind::Decoupled, &self.decoupled)?);
        }
        Ok(steady)
    }

    /// F of L2 restricted to the plane of (z_a, z_b) — the whole state, as the system has two
    /// features whenever the field or the nullclines are asked for.
    fn l2_rate(&self, (a, b): (usize, usize), x: f64, y: f64) -> (f64, f64) {
        let mut z = DVector::zeros(2);
        z[a] = x;
        z[b] = y;
        let v = self.l2.rhs(&z);
        (v[a], v[b])
    }
}

impl PhasePlaneData {
    /// Validate `spec` against `system`, run the chosen runs from z = 0, find the steady states,
    /// and sample the L2 rates in the window.
    pub fn compute(system: &FeatureSystem, spec: &PhasePlaneSpec) -> Result<Self> {
        spec.validate(system.rank())?;
        let strengths: Vec<f64> = system.strengths().iter().copied().collect();
        let decoupled = FeatureSystem::decoupled(&strengths)?;
        let dynamics = PlaneDynamics::new(system, &decoupled, spec)?;
        let runs = dynamics.runs(spec)?;
        let steady = dynamics.steady_states(spec)?;
        let window = spec.window.unwrap_or_else(|| {
            let points = runs
                .iter()
                .flat_map(|p| p.points.iter().copied())
                .chain(steady.iter().map(|s| s.at))
                .chain(std::iter::once((0.0, 0.0)));
            padded_extent(points)
        });
        let rate = |x, y| dynamics.l2_rate(spec.responses, x, y);
        let field = spec
            .vector_field
            .then(|| direction_field(window, FIELD_SHAPE, rate));
        let nullclines = spec
            .nullclines
            .then(|| rate_grid(window, NULLCLINE_GRID, rate));
        Ok(Self {
            spec: *spec,
            strengths,
            coupling: system.rotation_coupling(),
            classes: None,
            paths: runs,
            steady,
            window,
            field,
            nullclines,
        })
    }
}

/// `f` at the centres of the cells of an (nx × ny) grid filling the window.
pub(super) fn direction_field(
    ((x0, x1), (y0, y1)): Window,
    (nx, ny): (usize, usize),
    f: impl Fn(f64, f64) -> (f64, f64),
) -> DirectionField {
    let mut samples = Vec::with_capacity(nx * ny);
    for j in 0..ny {
        for i in 0..nx {
            let x = x0 + (i as f64 + 0.5) / nx as f64 * (x1 - x0);
            let y = y0 + (j as f64 + 0.5) / ny as f64 * (y1 - y0);
            samples.push(FieldSample {
                at: (x, y),
                rate: f(x, y),
            });
        }
    }
    DirectionField {
        shape: (nx, ny),
        samples,
    }
}

/// `f` on an (nx × ny) grid from corner to corner of the window.
pub(super) fn rate_grid(
    ((x0, x1), (y0, y1)): Window,
    (nx, ny): (usize, usize),
    f: impl Fn(f64, f64) -> (f64, f64),
) -> RateGrid {
    let xs: Vec<f64> = (0..nx)
        .map(|i| x0 + i as f64 / (nx - 1) as f64 * (x1 - x0))
        .collect();
    let ys: Vec<f64> = (0..ny)
        .map(|j| y0 + j as f64 / (ny - 1) as f64 * (y1 - y0))
        .collect();
    let mut rates = [Vec::with_capacity(nx * ny), Vec::with_capacity(nx * ny)];
    for &y in &ys {
        for &x in &xs {
            let v = f(x, y);
            rates[0].push(v.0);
            rates[1].push(v.1);
        }
    }
    RateGrid { xs, ys, rates }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::paper_toy;

    #[test]
    fn the_rates_vanish_at_the_steady_state_and_the_window_holds_every_run() {
        let spec = PhasePlaneSpec {
            t_end: 20.0,
            ..Default::default()
        };
        let data = PhasePlaneData::compute(&paper_toy(4.0), &spec).unwrap();
        let names: Vec<&str> = data.paths.iter().map(|p| p.run.name()).collect();
        assert_eq!(names, ["flow", "gd", "dual", "sd"]);
        let ((x0, x1), (y0, y1)) = data.window;
        for p in data.paths.iter().flat_map(|p| &p.points) {
            assert!(x0 <= p.0 && p.0 <= x1 && y0 <= p.1 && p.1 <= y1, "{p:?}");
        }
        let field = data.field.unwrap();
        assert_eq!(field.samples.len(), 17 * 13);
        let grid = data.nullclines.unwrap();
        assert_eq!(grid.rates[0].len(), 241 * 181);
        // F(z*) = 0 (docs/theory.md §4.1).
        let system = paper_toy(4.0);
        let l2 = paths::logistic(&system, Regulariser::L2 { lambda: 0.01 }).unwrap();
        let z = data.steady[0].at;
        let f = l2.rhs(&DVector::from_vec(vec![z.0, z.1]));
        assert!(f.amax() < 1e-9, "{f}");
    }
}
