//! The primal gradient flow dz/dτ = F(z) of a model (docs/theory.md §3.2), integrated on an
//! output grid: the state space (margins or responses), the tolerances that hold the error in
//! z, and the fixed-size forms of small systems.

use nalgebra::DVector;

use crate::error::{Error, InputError, Result};
use crate::model::{MarginFlow, MarginFlowN, PrimalDynamics};
use crate::ode::{FlowOptions, OdeProblem, OdeSolution};
use crate::solvers::auto::{self, Method};

/// The factor on rtol and atol when [`primal_flow`] integrates margins, except with DP45 (the
/// automatic choice for n ≤ 4), which scales its own; when DP45 finds a small flow stiff, the
/// automatic fallback to Rodas4 runs at the scaled tolerances.
///
/// The user's tolerances are meant for the responses z, but the solvers weigh each margin's
/// error by rtol·|mᵢ|, and through z = Uᵀm that bounds the error in z relative to ‖z‖, not to
/// |z_j| (docs/theory.md §12.3). The factor 0.1 is the one measured to bring the error in z
/// below a z-space integration's at the requested tolerances, for a few tens of per cent more
/// evaluations (docs/benchmarks.md, "Where the flow's time goes", Accuracy).
pub const MARGIN_TOL_SCALE: f64 = 0.1;

/// Integrate the primal flow of `dynamics` from z₀ and return the responses z on the grid.
///
/// When r ≥ n/2 it integrates the margins m = Uz (one n×n product per evaluation,
/// docs/theory.md §3.3) at [`MARGIN_TOL_SCALE`] times the requested tolerances, so that the error
/// in z, the quantity the tolerances refer to, is held, and maps back with z = Uᵀm; otherwise it
/// integrates z directly. DP45 (n ≤ 4) applies its own factor instead.
pub fn primal_flow(
    dynamics: &PrimalDynamics,
    z0: &DVector<f64>,
    options: &FlowOptions,
) -> Result<OdeSolution> {
    let sys = dynamics.system();
    if z0.len() != sys.rank() {
        return Err(Error::Input(InputError::Length {
            what: "initial responses z₀",
            found: z0.len(),
            expected: sys.rank(),
            rule: "one per feature",
        }));
    }
    let (n, r) = (sys.examples(), sys.rank());
    if 2 * r < n {
        return auto::integrate(dynamics, z0.as_slice(), options);
    }
    let m0 = sys.margins(z0);
    let m0 = m0.as_slice();
    // Small systems: the same right-hand side on fixed-size arrays (n ≤ 4).
    let small = match n {
        1 => small_margin_flow::<1>(dynamics, m0, options),
        2 => small_margin_flow::<2>(dynamics, m0, options),
        3 => small_margin_flow::<3>(dynamics, m0, options),
        4 => small_margin_flow::<4>(dynamics, m0, options),
        _ => None,
    };
    if let Some(sol) = small {
        return sol;
    }
    let mut sol = margin_flow(&MarginFlow::new(dynamics), m0, options, false)?;
    // z = Uᵀm for every state.
    sol.left_multiply_states(sys.coupling(), true);
    Ok(sol)
}

/// The margin flow of a system with N = n = r ≤ 4 on fixed-size arrays ([`MarginFlowN`]), and
/// z = Uᵀm in place, state by state (a GEMM call's set-up costs more than these 2×2 products:
/// issue #17's profile). `None` if the system is not N × N.
fn small_margin_flow<const N: usize>(
    dynamics: &PrimalDynamics,
    m0: &[f64],
    options: &FlowOptions,
) -> Option<Result<OdeSolution>> {
    let flow = MarginFlowN::<N>::new(dynamics)?;
    let mut sol = match margin_flow(&flow, m0, options, true) {
        Ok(sol) => sol,
        Err(e) => return Some(Err(e)),
    };
    let start = std::time::Instant::now();
    let u = dynamics.system().coupling();
    // ut[j][i] = U_ij: z_j = Σᵢ U_ij m_i.
    let mut ut = [[0.0; N]; N];
    for (j, row) in ut.iter_mut().enumerate() {
        for (i, v) in row.iter_mut().enumerate() {
            *v = u[(i, j)];
        }
    }
    for state in sol.states.iter_mut() {
        let m: [f64; N] = state.try_into().expect("a state of dimension N");
        for (zj, row) in state.iter_mut().zip(&ut) {
            let mut acc = 0.0;
            for (&uij, &mi) in row.iter().zip(&m) {
                acc += uij * mi;
            }
            *zj = acc;
        }
    }
    sol.stats.wall_s += start.elapsed().as_secs_f64();
    Some(Ok(sol))
}

/// The margin flow at [`MARGIN_TOL_SCALE`]·tolerances, except, for a `small` system (n ≤ 4),
/// DP45, which scales its own (forced, or Auto's first choice; Auto's Rodas4 fallback then
/// runs at the scaled ones).
fn margin_flow(
    flow: &(impl OdeProblem + ?Sized),
    m0: &[f64],
    options: &FlowOptions,
    small: bool,
) -> Result<OdeSolution> {
    let requested = *options.tolerances();
    let scaled = requested.scaled(MARGIN_TOL_SCALE);
    let mut plan = auto::plan(flow, m0, &options.with_tolerances(scaled));
    if small && plan.first.0 == Method::Dp45 {
        plan.first.1 = requested;
    }
    auto::execute(&plan, flow, m0, options.grid())
}
