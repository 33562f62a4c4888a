//! The rows of the logistic loss with Spectral Decoupling (docs/theory.md §4.2, §5.1, §5.3).

use super::{flow_settles, steady_state_differences, worst, PredictionCheck};
use crate::error::Result;
use crate::model::{Loss, PrimalDynamics, Regulariser};
use crate::solvers::steady::steady_state;
use crate::systems::FeatureSystem;
use crate::theory::sd;

pub(super) fn sd_checks(
    system: &FeatureSystem,
    lambda: f64,
    scale: f64,
    rows: &mut Vec<PredictionCheck>,
) -> Result<()> {
    let reg = Regulariser::SpectralDecoupling { lambda };
    let d = PrimalDynamics::new(system, Loss::Logistic, reg)?;
    let fp = steady_state(&d)?;
    let z = &fp.responses;
    let closed_form_applies =
        system.rank() == system.examples() && system.strengths().iter().all(|&s| s > 0.0);
    let (settles, _, end) = flow_settles(system, reg, z, scale)?;
    rows.push(settles);
    if !closed_form_applies {
        return Ok(());
    }
    let margin = sd::steady_margin(lambda)?;
    let predicted = sd::steady_state(system, lambda)?;
    // Equal margins μ* for every example, from the general Newton solver.
    let spread = fp.margins.max() - fp.margins.min();
    rows.push(PredictionCheck::compare(
        "equal margins: max m* − min m* = 0",
        "§4.2",
        "r = n, all s > 0",
        0.0,
        spread,
        1e-9 * scale * margin.exact,
    ));
    let (j, p, n) = worst(&predicted, &end);
    rows.push(PredictionCheck::compare(
        format!("z{}* = μ*·(Uᵀ1) (flow)", j + 1),
        "§4.2",
        "r = n, all s > 0",
        p,
        n,
        1e-6 * scale * z.amax().max(1.0),
    ));
    rows.push(PredictionCheck::compare(
        "μ* ≈ W₀(1/λ) (tail approximation)",
        "§5.1",
        "error bounded by 1.5·e^{−μ*}",
        margin.lambert,
        margin.exact,
        1.5 * scale * (-margin.exact).exp(),
    ));
    let fd = steady_state_differences(system, reg)?;
    rows.push(PredictionCheck::compare(
        "SD sensitivities vanish: max |∂z_j*/∂s_i²|",
        "§5.3",
        "r = n, all s > 0; central differences",
        0.0,
        fd.amax(),
        1e-8 * scale,
    ));
    Ok(())
}
