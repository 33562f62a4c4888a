//! The rows of the logistic loss with L2 (docs/theory.md §3.5, §4.1, §5.1, §5.3, §5.6, §5.7), with
//! those for two features and the rotation family (§5.4, §5.5).

use nalgebra::{DMatrix, DVector};

use super::{
    flow_settles, is_identity, rotation_delta, steady_state_differences, worst, PredictionCheck,
};
use crate::error::Result;
use crate::model::{sigmoid_prime, DualDynamics, Loss, PrimalDynamics, Regulariser};
use crate::ode::{FlowMethod, FlowOptions};
use crate::solvers::flow::primal_flow;
use crate::solvers::integrate;
use crate::solvers::steady::steady_state;
use crate::systems::FeatureSystem;
use crate::theory::{decoupled, linearisation, perturbation, sensitivity, surrogate};

pub(super) fn l2_checks(
    system: &FeatureSystem,
    lambda: f64,
    scale: f64,
    rows: &mut Vec<PredictionCheck>,
) -> Result<()> {
    let reg = Regulariser::L2 { lambda };
    let d = PrimalDynamics::new(system, Loss::Logistic, reg)?;
    let fp = steady_state(&d)?;
    let z = &fp.responses;
    let r = system.rank();

    let (settles, t_end, _) = flow_settles(system, reg, z, scale)?;
    rows.push(settles);

    // The dual flow reaches the same steady state.
    let dual = DualDynamics::new(&d)?;
    let sol = integrate(
        &dual,
        dual.start(DualDynamics::DEFAULT_START)?.as_slice(),
        &FlowOptions::new(t_end.max(100.0), 2, 1e-10, 1e-14, FlowMethod::Bdf)?,
    )?;
    let z_dual = dual.responses(sol.states.last().unwrap_or(&[]));
    let (j, p, n) = worst(z, &z_dual);
    rows.push(PredictionCheck::compare(
        format!("dual steady state equals primal z{}*", j + 1),
        "§3.5",
        "any system (Legendre duality)",
        p,
        n,
        1e-6 * scale * z.amax().max(1.0),
    ));

    // Sensitivities: the implicit-function formula against finite differences.
    let sens = sensitivity::l2_sensitivity(system, lambda)?;
    let fd = steady_state_differences(system, reg)?;
    let mut worst_entry = (0, 0);
    let mut worst_err = -1.0;
    for jj in 0..r {
        for ii in 0..r {
            let e = (sens.derivatives[(jj, ii)] - fd[(jj, ii)]).abs();
            if e > worst_err {
                worst_err = e;
                worst_entry = (jj, ii);
            }
        }
    }
    let (jj, ii) = worst_entry;
    rows.push(PredictionCheck::compare(
        format!("∂z{}*/∂s{}² equals finite differences", jj + 1, ii + 1),
        "§5.3",
        "any system; central differences, h = 1e-5·s²",
        sens.derivatives[(jj, ii)],
        fd[(jj, ii)],
        1e-5 * scale * sens.derivatives.amax().max(1e-8),
    ));

    // Decoupled systems: closed-form roots and no cross-sensitivity.
    if is_identity(system.coupling()) {
        let mut exact = DVector::zeros(r);
        let mut lambert = DVector::zeros(r);
        for j in 0..r {
            let root = decoupled::l2_root(system.strengths()[j], lambda)?;
            exact[j] = root.exact;
            lambert[j] = root.lambert;
        }
        let (j, p, n) = worst(&exact, z);
        rows.push(PredictionCheck::compare(
            format!("decoupled root z{0}(1+e^z{0}) = s{0}²/λ", j + 1),
            "§5.1",
            "U = I",
            p,
            n,
            1e-9 * scale * z.amax().max(1.0),
        ));
        // |W₀(c) − z| ≈ w e^{−z}/(1 + w) < e^{−z} to first order in e^{−z}.
        let (j, p, n) = worst(&lambert, z);
        rows.push(PredictionCheck::compare(
            format!("Lambert-W form W₀(s{}²/λ) (tail approximation)", j + 1),
            "§5.1",
            "U = I; error bounded by 1.5·e^{−z}",
            p,
            n,
            1.5 * scale * (-n).exp(),
        ));
        let off = DMatrix::from_fn(r, r, |a, b| if a == b { 0.0 } else { fd[(a, b)].abs() });
        rows.push(PredictionCheck::compare(
            "no starvation: max |∂z_j*/∂s_i²|, i ≠ j",
            "§5.1",
            "U = I",
            0.0,
            off.amax(),
            1e-7 * scale * fd.amax().max(1e-8),
        ));
    }

    if r == 2 {
        two_feature_checks(system, lambda, &fd, scale, rows)?;
    }

    // Relaxation: the late-time decay rate of the flow is the slowest eigenvalue.
    let lin = linearisation::linearisation(system, reg)?;
    let rate = lin.slowest_rate;
    // Output grid 0, t₁, t₂ with t₁ = t₂/2.
    let (t1, t2) = (3.0 / rate, 6.0 / rate);
    let dd = PrimalDynamics::new(system, Loss::Logistic, reg)?;
    // Start off z* in a generic direction, so that the slowest mode is excited (from z = 0 a
    // symmetric system can move in its fast modes only).
    let generic = DVector::from_fn(r, |j, _| {
        if j % 2 == 0 {
            1.0 + 0.3 * j as f64
        } else {
            -0.7 - 0.2 * j as f64
        }
    });
    let start = z + generic * (0.2 * z.amax().max(1.0) / (1.0 + 0.3 * r as f64));
    let sol = primal_flow(
        &dd,
        &start,
        &FlowOptions::new(t2, 3, 1e-11, 1e-13, FlowMethod::Auto)?,
    )?;
    let dist = |k: usize| (sol.states.state(k) - z).norm();
    let measured = (dist(1).ln() - dist(2).ln()) / (t2 - t1);
    rows.push(PredictionCheck::compare(
        "flow relaxation rate = slowest eigenvalue of −(λI + S²UᵀDU)",
        "§5.6",
        format!("near z*, generic start: τ ∈ [{t1:.3e}, {t2:.3e}] (3–6 relaxation times)"),
        rate,
        measured,
        0.1 * scale * rate,
    ));

    // The surrogate, as a comparison only.
    let sur = surrogate::surrogate_steady_state(system, lambda, 0.5)?;
    let (j, p, n) = worst(&sur, z);
    rows.push(
        PredictionCheck::compare(
            format!("uniform-point surrogate z{}* (misses starvation)", j + 1),
            "§5.7",
            "comparison only: no claim to hold",
            p,
            n,
            0.0,
        )
        .info(),
    );
    Ok(())
}

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn two_feature_checks(
    system: &FeatureSystem,
    lambda: f64,
    fd: &DMatrix<f64>,
    scale: f64,
    rows: &mut Vec<PredictionCheck>,
) -> Result<()> {
    let crit = sensitivity::two_feature_criterion(system, lambda)?;
    let derivative = fd[(1, 0)];
    // A sign is only decidable when the derivative stands clear of finite-difference noise.
    let decidable = derivative.abs() > 1e-6 * fd.amax().max(1e-8);
    let regime = if decidable {
        "two features, any coupling (exact)".to_string()
    } else {
        "two features; derivative within finite-difference noise of 0: sign undecidable".to_string()
    };
    let mut row = PredictionCheck::compare(
        "sign ∂z₂*/∂s₁² = −sign(z₁*)·sign(M₂₁)",
        "§5.4",
        regime,
        f64::from(crit.predicted_sign),
        sign(derivative),
        0.0,
    );
    if !decidable {
        row = row.info();
    }
    rows.push(row);

    let Some(delta) = rotation_delta(system.coupling()) else {
        return Ok(());
    };
    let m = &crit.steady_state.margins;
    rows.push(PredictionCheck::compare(
        "rotation form M₂₁ = δ√(1−δ²)(σ'(m₂*) − σ'(m₁*))",
        "§5.4",
        format!("rotation family, δ = {delta}"),
        sensitivity::rotation_cross_curvature(delta, m)?,
        crit.cross_curvature,
        1e-14 * scale * (sigmoid_prime(m[0]) + sigmoid_prime(m[1])),
    ));
    let z = &crit.steady_state.responses;
    if z[0] > 0.0 && z[1] > 0.0 && delta > 0.0 && decidable {
        let predicted = if m[1].abs() < m[0].abs() { -1.0 } else { 1.0 };
        rows.push(PredictionCheck::compare(
            "starvation ⇔ |m₂*| < |m₁*| (sign of ∂z₂*/∂s₁²)",
            "§5.4",
            "rotation family, δ > 0, both responses positive",
            predicted,
            sign(derivative),
            0.0,
        ));
    }
    let s = system.strengths();
    let first_order_regime = delta.abs() <= 0.1 && (s[0] - s[1]).abs() > 1e-3 * s.amax();
    if first_order_regime && decidable {
        let signs = perturbation::first_order_starvation_signs(
            s,
            &perturbation::rotation_generator(),
            delta,
        )?;
        rows.push(PredictionCheck::compare(
            "first order: sign ∂z₂*/∂s₁² = −sign(δ)·sign(s₁ − s₂)",
            "§5.5",
            format!("small coupling: |δ| = {:.3} ≤ 0.1, s₁ ≠ s₂", delta.abs()),
            f64::from(signs[(1, 0)]),
            sign(derivative),
            0.0,
        ));
    }
    // The first-order expansion's error shrinks like δ² (at this system's s and λ).
    let error_at = |dl: f64| -> Result<f64> {
        let sys = FeatureSystem::rotation(s[0], s[1], dl)?;
        let exact = steady_state(&PrimalDynamics::new(
            &sys,
            Loss::Logistic,
            Regulariser::L2 { lambda },
        )?)?
        .responses;
        let pred = perturbation::first_order_steady_state(
            s,
            lambda,
            &perturbation::rotation_generator(),
            dl,
        )?;
        Ok((exact - pred.prediction).amax())
    };
    let (e1, e2) = (error_at(0.01)?, error_at(0.005)?);
    rows.push(PredictionCheck::compare(
        "first-order error ratio e(δ)/e(δ/2) = 4 (error O(δ²))",
        "§5.5",
        "δ → 0 at this system's s and λ (δ = 0.01, 0.005)",
        4.0,
        e1 / e2,
        0.6 * scale,
    ));
    Ok(())
}
