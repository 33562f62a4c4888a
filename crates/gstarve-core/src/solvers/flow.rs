//! The gradient flow dz/dτ = F(z) (docs/theory.md §3), integrated to τ_end with tolerances, on an
//! output grid, by an explicit or implicit method chosen automatically or by the user.

use std::str::FromStr;

use nalgebra::DVector;

use super::explicit::{self, ExplicitMethod};
use super::{OdeProblem, OdeSolution};
use crate::error::{Error, Result};
use crate::model::{MarginFlow, MarginFlowN, PrimalDynamics};

/// Integration method for a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowMethod {
    /// Choose from the problem's size and stiffness: for n ≤ 4 ([`AUTO_SMALL_MAX_DIM`]), the
    /// allocation-free DP45 with its stiffness test, switching to Rodas4 if DP45 finds the
    /// problem stiff; for 4 < n ≤ 200, BDF ([`super::bdf`]) when the stiffness
    /// estimate ρ(∂F/∂z)·τ_end exceeds 1000, else Dop853, switching to BDF if Dop853 detects
    /// stiffness; for 200 < n ≤ [`AUTO_BDF_MAX_DIM`] and a problem with the Gram structure of
    /// the margin flows ([`OdeProblem::gram_jacobian`]), BDF at any tolerance (its Cholesky
    /// factorisations and functional iterations while non-stiff make it faster than RKC and
    /// Dopri5 there; measurements at that constant). Otherwise, for n > 200: RKC when
    /// rtol ≥ [`AUTO_RKC_MIN_RTOL`] (loose tolerances, where its accuracy-limited steps are
    /// long), else BDF up to n = [`AUTO_LU_BDF_MAX_DIM`] and above it Dopri5 with its
    /// stiffness test off (dense factorisations would cost more than explicit steps at the
    /// stability limit, and Dopri5's dense output stays accurate where the steps are
    /// stability-limited, unlike Dop853's).
    Auto,
    /// Explicit Dormand–Prince 8(5,3).
    Dop853,
    /// Explicit Dormand–Prince 5(4).
    Dopri5,
    /// Implicit variable-order BDF/NDF, hand-written and allocation-free ([`super::bdf`]).
    Bdf,
    /// Linearly implicit Rosenbrock method Rodas4 (one LU per step; accurate, best for small n).
    Rodas4,
    /// Hand-written allocation-free Dormand–Prince 5(4) with a stiffness test (fastest for
    /// small non-stiff or transiently stiff flows; see [`super::dp45`]).
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

/// Options of a flow integration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowOptions {
    /// Final learning time τ_end > 0.
    pub t_end: f64,
    /// Number of output points (≥ 2), evenly spaced on [0, τ_end].
    pub points: usize,
    /// Relative tolerance (default 1e-8).
    pub rtol: f64,
    /// Absolute tolerance (default 1e-10).
    pub atol: f64,
    /// Method.
    pub method: FlowMethod,
}

impl Default for FlowOptions {
    fn default() -> Self {
        Self {
            t_end: 250.0,
            points: 501,
            rtol: 1e-8,
            atol: 1e-10,
            method: FlowMethod::Auto,
        }
    }
}

impl FlowOptions {
    /// Check τ_end, points and tolerances.
    pub fn validate(&self) -> Result<()> {
        if !(self.t_end.is_finite() && self.t_end > 0.0) {
            return Err(Error::InvalidParameter {
                name: "--t-end",
                value: self.t_end,
                rule: "the final time must be finite and > 0",
            });
        }
        if self.points < 2 || self.points > 10_000_000 {
            return Err(Error::InvalidParameter {
                name: "--points",
                value: self.points as f64,
                rule: "the output grid needs between 2 and 10⁷ points",
            });
        }
        for (name, v) in [("--rtol", self.rtol), ("--atol", self.atol)] {
            if !(v.is_finite() && v > 0.0 && v < 1.0) {
                return Err(Error::InvalidParameter {
                    name,
                    value: v,
                    rule: "tolerances must be in (0, 1)",
                });
            }
        }
        if self.rtol < 10.0 * f64::EPSILON {
            return Err(Error::InvalidParameter {
                name: "--rtol",
                value: self.rtol,
                rule: "the relative tolerance must be ≥ 10·ε ≈ 2.2e-15",
            });
        }
        Ok(())
    }
}

/// Above this stiffness estimate ρ·τ_end the automatic choice starts implicit.
pub const STIFFNESS_THRESHOLD: f64 = 1000.0;
/// Largest state for which the automatic choice starts implicit by the stiffness estimate
/// (dense factorisations cost n³); above it, up to [`AUTO_BDF_MAX_DIM`], BDF is chosen
/// regardless.
pub const AUTO_IMPLICIT_MAX_DIM: usize = 200;
/// Largest state for which the automatic choice uses BDF at any tolerance, for problems with
/// the Gram structure (the margin flows; others: [`AUTO_LU_BDF_MAX_DIM`]). Measured on
/// `gstarve system --random N --seed 1 --spectrum 10:0.1`, λ = 0.01, τ ≤ 1000 (requested
/// tolerances; one run each on the 2-core machine):
///
/// | n    | rtol | BDF                          | alternative                          |
/// |------|------|------------------------------|--------------------------------------|
/// | 400  | 1e-4 | 46 ms, error 4.7e-4          | RKC 68 ms, error 4.7e-4              |
/// | 400  | 1e-6 | 64 ms, error 3.0e-6          | RKC 179 ms, error 2.8e-5             |
/// | 1000 | 1e-4 | 444 ms, error 1.4e-3 (4×)    | RKC 495 ms, error 3.5e-4             |
/// | 1000 | 1e-5 | 484 ms, error 3.6e-5         | RKC 802 ms, error 8.2e-5             |
/// | 1000 | 1e-8 | 0.73–0.88 s, error 5.0e-8    | Dopri5 1.8–2.0 s (19 600 evaluations)|
/// | 2000 | 1e-8 | 3.6 s (784 f, 30 Cholesky)   | Dopri5 11.4 s (19 725 f), Δz 5.1e-8  |
///
/// At rtol 1e-4 and n = 1000 BDF is only 10 % faster, at 4× RKC's error. Larger states keep
/// RKC / Dopri5: their cost per evaluation grows like n², the factorisations' like n³, and the
/// crossing was not measured.
pub const AUTO_BDF_MAX_DIM: usize = 2000;
/// Largest state for which the automatic choice uses BDF at tight tolerances (rtol below
/// [`AUTO_RKC_MIN_RTOL`]) for problems without the Gram structure (LU factorisations; measured
/// before the Cholesky path, at n = 1000 on the margin flow: 67 LUs, 1.6–1.9 s against
/// Dopri5's ≈ 2.5 s).
pub const AUTO_LU_BDF_MAX_DIM: usize = 1000;
/// Largest state for which the automatic choice starts with DP45 (falling back to Rodas4):
/// the dimensions DP45 and Rodas4 compile with fixed-size loops.
pub const AUTO_SMALL_MAX_DIM: usize = 4;

/// The relative tolerance, as the integrator receives it, from which the automatic choice uses
/// RKC for n > 200 when BDF is not chosen regardless ([`AUTO_BDF_MAX_DIM`]: n > 2000, or a
/// problem without the Gram structure); [`primal_flow`]'s margin integration passes
/// [`MARGIN_TOL_SCALE`]·rtol, so that is a requested rtol ≥ 1e-6. Below it a second-order
/// method's accuracy-limited steps are shorter than Dopri5's stability-limited ones
/// (n = 1000, rtol 1e-8: 13 300 RKC evaluations with 16× Dopri5's error).
pub const AUTO_RKC_MIN_RTOL: f64 = 1e-7;

/// The factor on rtol and atol when [`primal_flow`] integrates margins, except with DP45 (the
/// automatic choice for n ≤ [`AUTO_SMALL_MAX_DIM`]), which scales its own; when DP45 finds a
/// small flow stiff, the automatic fallback to Rodas4 runs at the scaled tolerances (before it
/// did not: error in z 3.6e-7 at n = 3, against LSODA's 1.9e-7).
///
/// The user's tolerances are meant for the responses z, but the solvers weigh each margin's
/// error by rtol·|mᵢ|; mapped back through z = Uᵀm the error in z was 3.5–4× SciPy's z-space
/// integrations at the same rtol. Measured on `gstarve system --random N --seed 1 --spectrum
/// 10:0.1`, λ = 0.01, τ ≤ 1000, rtol 1e-8, atol 1e-10, against an rtol 1e-12 reference: with
/// the factor 0.1 the error in z falls from 3.6e-7 / 2.5e-7 / 2.8e-7 to 5.4e-8 / 4.0e-8 /
/// 2.7e-8 at n = 10 / 100 / 1000 (SciPy's best: 9.3e-7 / 7.2e-8 / 7.3e-8), for 41 % / 37 % /
/// 13 % more evaluations; at n = 100 BDF's LU count (the cost there) does not grow.
pub const MARGIN_TOL_SCALE: f64 = 0.1;

/// Integrate any [`OdeProblem`] from `y0` with the chosen method.
pub fn integrate(
    problem: &(impl OdeProblem + ?Sized),
    y0: &DVector<f64>,
    options: &FlowOptions,
) -> Result<OdeSolution> {
    options.validate()?;
    let FlowOptions {
        t_end,
        points,
        rtol,
        atol,
        method,
    } = *options;
    let explicit = |m| explicit::solve(problem, m, y0, t_end, points, rtol, atol);
    match method {
        FlowMethod::Dop853 => explicit(ExplicitMethod::Dop853),
        FlowMethod::Dopri5 => explicit(ExplicitMethod::Dopri5),
        FlowMethod::Bdf => super::bdf::solve(problem, y0, t_end, points, rtol, atol),
        FlowMethod::Rodas4 => super::rosenbrock::solve(problem, y0, t_end, points, rtol, atol),
        FlowMethod::Rkc => super::rkc::solve(problem, y0, t_end, points, rtol, atol),
        FlowMethod::Dp45 => super::dp45::solve(problem, y0, t_end, points, rtol, atol),
        FlowMethod::Auto if problem.dim() <= AUTO_SMALL_MAX_DIM => with_fallback(
            "dp45",
            || super::dp45::solve(problem, y0, t_end, points, rtol, atol),
            || super::rosenbrock::solve(problem, y0, t_end, points, rtol, atol),
        ),
        FlowMethod::Auto => {
            let stiffness = problem.spectral_bound() * t_end;
            let n = problem.dim();
            let gram = n > AUTO_IMPLICIT_MAX_DIM
                && n <= AUTO_BDF_MAX_DIM
                && problem
                    .gram_jacobian(y0.as_slice(), &mut vec![0.0; n])
                    .is_some();
            if gram {
                return super::bdf::solve(problem, y0, t_end, points, rtol, atol);
            }
            if problem.dim() > AUTO_IMPLICIT_MAX_DIM
                && rtol >= AUTO_RKC_MIN_RTOL
                && problem.spectral_bound().is_finite()
            {
                // Loose tolerance: RKC's long, accuracy-limited steps win over Dopri5's (at
                // n = 1000, rtol 1e-5: a quarter to a sixth of Dopri5's evaluations at equal
                // error).
                return super::rkc::solve(problem, y0, t_end, points, rtol, atol);
            }
            if n > AUTO_IMPLICIT_MAX_DIM && n <= AUTO_LU_BDF_MAX_DIM {
                return super::bdf::solve(problem, y0, t_end, points, rtol, atol);
            }
            if problem.dim() > AUTO_IMPLICIT_MAX_DIM {
                // Dense LU at this size costs more than explicit steps at the stability limit.
                let mut sol = explicit::solve_with(
                    problem,
                    ExplicitMethod::Dopri5,
                    y0,
                    t_end,
                    points,
                    rtol,
                    atol,
                    false,
                )?;
                sol.stats.solver = "dopri5 (stiffness test off: n too large for dense LU)".into();
                return Ok(sol);
            }
            if stiffness > STIFFNESS_THRESHOLD {
                return super::bdf::solve(problem, y0, t_end, points, rtol, atol);
            }
            with_fallback(
                "dop853",
                || explicit(ExplicitMethod::Dop853),
                || super::bdf::solve(problem, y0, t_end, points, rtol, atol),
            )
        }
    }
}

/// Run `first` (an explicit method, named `name`); if it reports stiffness or fails, run
/// `then` (an implicit one) instead, say why in the solver name, and count both attempts in
/// wall_s. Any other outcome of `first`, a result or an error, is returned as it is.
fn with_fallback(
    name: &str,
    first: impl FnOnce() -> Result<OdeSolution>,
    then: impl FnOnce() -> Result<OdeSolution>,
) -> Result<OdeSolution> {
    let start = std::time::Instant::now();
    let note = match first() {
        Err(Error::StiffnessDetected { tau, .. }) => {
            format!("after {name} found the problem stiff at τ = {tau:.4}")
        }
        Err(Error::IntegrationFailed { tau, .. }) => format!("after {name} failed at τ = {tau:.4}"),
        other => return other,
    };
    let mut sol = then()?;
    sol.stats.solver = format!("{} ({note})", sol.stats.solver);
    sol.stats.wall_s = start.elapsed().as_secs_f64();
    Ok(sol)
}

/// The margin flow of a system with n ≤ [`AUTO_SMALL_MAX_DIM`] examples: DP45 (Auto's first
/// choice, or forced) scales its own tolerances; every other method, including Auto's Rodas4
/// when DP45 finds the flow stiff, integrates the margins at [`MARGIN_TOL_SCALE`] times them,
/// as for n > 4.
fn small_margin_flow(
    flow: &impl OdeProblem,
    m0: &DVector<f64>,
    options: &FlowOptions,
) -> Result<OdeSolution> {
    let scaled = FlowOptions {
        rtol: MARGIN_TOL_SCALE * options.rtol,
        atol: MARGIN_TOL_SCALE * options.atol,
        ..*options
    };
    match options.method {
        FlowMethod::Dp45 => integrate(flow, m0, options),
        FlowMethod::Auto => {
            options.validate()?;
            // The fallback's scaled tolerances must be valid too (as for n > 4).
            scaled.validate()?;
            let FlowOptions {
                t_end,
                points,
                rtol,
                atol,
                ..
            } = *options;
            with_fallback(
                "dp45",
                || super::dp45::solve(flow, m0, t_end, points, rtol, atol),
                || super::rosenbrock::solve(flow, m0, t_end, points, scaled.rtol, scaled.atol),
            )
        }
        _ => integrate(flow, m0, &scaled),
    }
}

/// Integrate the primal flow of `dynamics` from z₀ and return the responses z on the grid.
///
/// When r ≥ n/2 it integrates the margins m = Uz (one n×n product per evaluation, docs/theory.md §3)
/// and maps back with z = Uᵀm; otherwise it integrates z directly. The margin integration runs
/// at [`MARGIN_TOL_SCALE`] times the requested tolerances, so that the error in z, the quantity
/// the tolerances refer to, is held; DP45 (n ≤ 4) applies its own factor instead.
pub fn primal_flow(
    dynamics: &PrimalDynamics,
    z0: &DVector<f64>,
    options: &FlowOptions,
) -> Result<OdeSolution> {
    let sys = dynamics.system();
    if z0.len() != sys.rank() {
        return Err(Error::Shape(format!(
            "initial responses have {} entries but the system has {} features",
            z0.len(),
            sys.rank()
        )));
    }
    let (n, r) = (sys.examples(), sys.rank());
    if 2 * r >= n {
        let m0 = sys.margins(z0);
        // Small systems: the same right-hand side on fixed-size arrays (n ≤ 4).
        let small = match n {
            1 => MarginFlowN::<1>::new(dynamics).map(|f| small_margin_flow(&f, &m0, options)),
            2 => MarginFlowN::<2>::new(dynamics).map(|f| small_margin_flow(&f, &m0, options)),
            3 => MarginFlowN::<3>::new(dynamics).map(|f| small_margin_flow(&f, &m0, options)),
            4 => MarginFlowN::<4>::new(dynamics).map(|f| small_margin_flow(&f, &m0, options)),
            _ => None,
        };
        let mut sol = match small {
            Some(sol) => sol?,
            None => {
                let flow = MarginFlow::new(dynamics);
                let options = FlowOptions {
                    rtol: MARGIN_TOL_SCALE * options.rtol,
                    atol: MARGIN_TOL_SCALE * options.atol,
                    ..*options
                };
                integrate(&flow, &m0, &options)?
            }
        };
        // z = Uᵀm for every state.
        sol.left_multiply_states(sys.coupling(), true);
        Ok(sol)
    } else {
        integrate(dynamics, z0, options)
    }
}
