//! Which method integrates a flow: the forced methods, and the automatic choice as one table.
//!
//! [`FlowMethod::Auto`] takes the first row whose condition holds (n = dimension, ρ = the
//! problem's [`OdeProblem::spectral_bound`], "Gram" = the problem exposes the margin flow's
//! structure J = −K·diag(d) − μI through [`OdeProblem::gram_jacobian`], or the softmax flow's
//! J = −diag(d)·G − μI through [`OdeProblem::scaled_gram_jacobian`]):
//!
//! | condition                                   | method                       | if it finds the flow stiff or fails |
//! |---------------------------------------------|------------------------------|-------------------------------------|
//! | n ≤ [`AUTO_SMALL_MAX_DIM`] (4)               | DP45                         | Rodas4                              |
//! | 200 < n ≤ [`AUTO_BDF_MAX_DIM`] (2000), Gram  | BDF                          | –                                   |
//! | n > 200, rtol ≥ [`AUTO_RKC_MIN_RTOL`], ρ < ∞ | RKC                          | –                                   |
//! | 200 < n ≤ [`AUTO_LU_BDF_MAX_DIM`] (1000)     | BDF                          | –                                   |
//! | n > 200                                     | Dopri5, stiffness test off   | –                                   |
//! | ρ·τ_end > [`STIFFNESS_THRESHOLD`] (1000)     | BDF                          | –                                   |
//! | otherwise                                   | Dop853                       | BDF                                 |
//!
//! Why each row, with the measurements, is in docs/benchmarks.md ("Auto's choices"): DP45 and
//! Rodas4 have fixed-size copies for n ≤ 4; BDF's Cholesky factorisations of the Gram form
//! and its functional iterations while non-stiff make it cheaper than RKC and Dopri5 up to
//! n = 2000; at loose tolerances RKC's accuracy-limited steps are long; dense LU above n = 1000
//! costs more than explicit steps at the stability limit; Dopri5 rather than Dop853 there
//! because Dop853's dense output loses accuracy on components whose steps are
//! stability-limited.

use crate::error::{Error, NumericalError, Result};
use crate::ode::{solve, FlowMethod, FlowOptions, OdeProblem, OdeSolution, OutputGrid, Tolerances};
use crate::solvers::bdf::Bdf;
use crate::solvers::dp45::Dp45;
use crate::solvers::explicit::{ExplicitMethod, ExplicitRk};
use crate::solvers::rkc::Rkc;
use crate::solvers::rosenbrock::Rodas4;

/// Above this stiffness estimate ρ·τ_end the automatic choice starts implicit (n ≤ 200).
pub const STIFFNESS_THRESHOLD: f64 = 1000.0;
/// Largest dimension for which the automatic choice decides by the stiffness estimate.
pub const AUTO_IMPLICIT_MAX_DIM: usize = 200;
/// Largest dimension for which the automatic choice uses BDF at any tolerance, for problems
/// with the Gram structure.
pub const AUTO_BDF_MAX_DIM: usize = 2000;
/// Largest dimension for which the automatic choice uses BDF at tight tolerances for problems
/// without the Gram structure (LU factorisations).
pub const AUTO_LU_BDF_MAX_DIM: usize = 1000;
/// Largest dimension for which the automatic choice starts with DP45 (falling back to
/// Rodas4): the dimensions both compile with fixed-size loops.
pub const AUTO_SMALL_MAX_DIM: usize = 4;
/// The relative tolerance, as the integrator receives it, from which the automatic choice
/// uses RKC for n > 200 when BDF is not chosen by the Gram row. The margin flows run at
/// [`crate::solvers::flow::MARGIN_TOL_SCALE`]·rtol, so that is a requested rtol ≥ 1e-6.
pub const AUTO_RKC_MIN_RTOL: f64 = 1e-7;

/// A concrete method (what [`FlowMethod::Auto`] resolves to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Dormand–Prince 8(5,3).
    Dop853,
    /// Dormand–Prince 5(4) (ode_solvers); without its stiffness test when `stiffness_test` is
    /// false (a stiff problem is then integrated at the stability limit: slow but right).
    Dopri5 {
        /// Whether to stop with a stiffness report.
        stiffness_test: bool,
    },
    /// Hand-written BDF/NDF.
    Bdf,
    /// Rodas4.
    Rodas4,
    /// Hand-written DP45 with a stiffness test.
    Dp45,
    /// RKC.
    Rkc,
}

/// What to run: a method at some tolerances, and what to run instead if it finds the flow
/// stiff or fails.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    /// The first method and its tolerances.
    pub first: (Method, Tolerances),
    /// The fallback and its tolerances.
    pub fallback: Option<(Method, Tolerances)>,
}

impl Plan {
    /// One method, no fallback.
    pub fn single(method: Method, tolerances: Tolerances) -> Self {
        Plan {
            first: (method, tolerances),
            fallback: None,
        }
    }
}

/// The method `options` asks for, or the automatic choice of the table above.
pub fn plan(problem: &(impl OdeProblem + ?Sized), y0: &[f64], options: &FlowOptions) -> Plan {
    let tol = *options.tolerances();
    let forced = |m| Plan::single(m, tol);
    match options.method() {
        FlowMethod::Dop853 => forced(Method::Dop853),
        FlowMethod::Dopri5 => forced(Method::Dopri5 {
            stiffness_test: true,
        }),
        FlowMethod::Bdf => forced(Method::Bdf),
        FlowMethod::Rodas4 => forced(Method::Rodas4),
        FlowMethod::Dp45 => forced(Method::Dp45),
        FlowMethod::Rkc => forced(Method::Rkc),
        FlowMethod::Auto => automatic(problem, y0, options.t_end(), tol),
    }
}

/// The automatic choice (the table of the module documentation).
fn automatic(
    problem: &(impl OdeProblem + ?Sized),
    y0: &[f64],
    t_end: f64,
    tol: Tolerances,
) -> Plan {
    let n = problem.dim();
    let rho = problem.spectral_bound();
    if n <= AUTO_SMALL_MAX_DIM {
        return Plan {
            first: (Method::Dp45, tol),
            fallback: Some((Method::Rodas4, tol)),
        };
    }
    if n > AUTO_IMPLICIT_MAX_DIM {
        let gram = n <= AUTO_BDF_MAX_DIM
            && (problem.has_scaled_gram_jacobian()
                || problem.gram_jacobian(y0, &mut vec![0.0; n]).is_some());
        return Plan::single(
            if gram {
                Method::Bdf
            } else if tol.rtol() >= AUTO_RKC_MIN_RTOL && rho.is_finite() {
                Method::Rkc
            } else if n <= AUTO_LU_BDF_MAX_DIM {
                Method::Bdf
            } else {
                Method::Dopri5 {
                    stiffness_test: false,
                }
            },
            tol,
        );
    }
    if rho * t_end > STIFFNESS_THRESHOLD {
        return Plan::single(Method::Bdf, tol);
    }
    Plan {
        first: (Method::Dop853, tol),
        fallback: Some((Method::Bdf, tol)),
    }
}

/// Integrate any [`OdeProblem`] from `y0` as `options` say.
pub fn integrate(
    problem: &(impl OdeProblem + ?Sized),
    y0: &[f64],
    options: &FlowOptions,
) -> Result<OdeSolution> {
    execute(&plan(problem, y0, options), problem, y0, options.grid())
}

/// Run `plan`: its first method; if that reports stiffness or fails and there is a fallback,
/// the fallback instead, with the reason in the solver name and both attempts in `wall_s`.
pub fn execute(
    plan: &Plan,
    problem: &(impl OdeProblem + ?Sized),
    y0: &[f64],
    grid: &OutputGrid,
) -> Result<OdeSolution> {
    let start = std::time::Instant::now();
    let (method, tol) = plan.first;
    let first = run(method, problem, y0, grid, &tol);
    let Some((then, then_tol)) = plan.fallback else {
        return first;
    };
    let note = match first {
        Err(Error::Numerical(NumericalError::StiffnessDetected { solver, tau })) => {
            format!("after {solver} found the problem stiff at τ = {tau:.4}")
        }
        Err(Error::Numerical(NumericalError::IntegrationFailed { solver, tau, .. })) => {
            format!("after {solver} failed at τ = {tau:.4}")
        }
        other => return other,
    };
    let mut sol = run(then, problem, y0, grid, &then_tol)?;
    sol.stats.solver = format!("{} ({note})", sol.stats.solver);
    sol.stats.wall_s = start.elapsed().as_secs_f64();
    Ok(sol)
}

/// Run one concrete method through the shared driver.
pub fn run(
    method: Method,
    problem: &(impl OdeProblem + ?Sized),
    y0: &[f64],
    grid: &OutputGrid,
    tol: &Tolerances,
) -> Result<OdeSolution> {
    match method {
        Method::Dop853 => solve(
            &ExplicitRk::new(ExplicitMethod::Dop853, true),
            problem,
            y0,
            grid,
            tol,
        ),
        Method::Dopri5 { stiffness_test } => {
            let mut sol = solve(
                &ExplicitRk::new(ExplicitMethod::Dopri5, stiffness_test),
                problem,
                y0,
                grid,
                tol,
            )?;
            if !stiffness_test {
                sol.stats.solver = "dopri5 (stiffness test off: n too large for dense LU)".into();
            }
            Ok(sol)
        }
        Method::Bdf => solve(&Bdf::default(), problem, y0, grid, tol),
        Method::Rodas4 => solve(&Rodas4, problem, y0, grid, tol),
        Method::Dp45 => solve(&Dp45, problem, y0, grid, tol),
        Method::Rkc => solve(&Rkc::default(), problem, y0, grid, tol),
    }
}
