//! Rows of a system's phase diagram by the batched steady states of [`crate::sweeps::batch`]
//! (issue #17): for systems with n, r ≤ [`BATCH_MAX_DIM`] and the measures that need only L2
//! steady states and sensitivities (E_ji, ρ, SD recovery), a row's members are solved together,
//! one per SIMD lane, from z = 0 as the general path does. Each point's record comes from the
//! same [`super::record`] as the general path and equals it to 1e-12 (the batch's steady states
//! and sensitivities are tested to that against the one-system path); a point does not depend
//! on the other points of its row.

use super::{member, record, SystemDiagramSpec};
use crate::sweeps::batch::{solve_block, SmallSystems, Solved, BATCH_MAX_DIM};
use crate::sweeps::measures::{MaskReason, Measure, PointRecord};
use crate::systems::FeatureSystem;

/// Whether [`row`] takes this diagram.
pub(super) fn applies(system: &FeatureSystem, spec: &SystemDiagramSpec) -> bool {
    let small = system.examples() <= BATCH_MAX_DIM && system.rank() <= BATCH_MAX_DIM;
    let steady_only = matches!(
        spec.measure,
        Measure::Elasticity | Measure::StarvationRatio | Measure::SdRecovery(_)
    );
    small && steady_only
}

/// The steady states of `members` (those present), in their order.
fn solve(members: &[Option<(FeatureSystem, f64)>]) -> Vec<Option<Solved>> {
    let present: Vec<&(FeatureSystem, f64)> = members.iter().flatten().collect();
    let systems: Vec<FeatureSystem> = present.iter().map(|(s, _)| s.clone()).collect();
    let lambdas: Vec<f64> = present.iter().map(|(_, l)| *l).collect();
    let Ok(batch) = SmallSystems::from_systems(&systems, &lambdas) else {
        return vec![None; members.len()];
    };
    let mut solved = solve_block(&batch, 0..batch.len(), None).into_iter();
    members
        .iter()
        .map(|m| m.as_ref().and_then(|_| solved.next()?.ok()))
        .collect()
}

/// The records of the row at y = `y` over the x values `x` (the diagram validated).
pub(super) fn row(
    system: &FeatureSystem,
    spec: &SystemDiagramSpec,
    x: &[f64],
    y: f64,
) -> Vec<PointRecord> {
    let (i, j) = (spec.feature, spec.response);
    let members: Vec<Option<(FeatureSystem, f64)>> = x
        .iter()
        .map(|&xv| {
            member(
                system,
                spec.lambda,
                &[(spec.x.parameter, xv), (spec.y.parameter, y)],
            )
            .ok()
        })
        .collect();
    let main = solve(&members);
    let references = if spec.measure == Measure::StarvationRatio {
        let balanced: Vec<Option<(FeatureSystem, f64)>> = members
            .iter()
            .map(|m| {
                let (sys, lambda) = m.as_ref()?;
                let mut s = sys.strengths().clone();
                s[i] = s[j];
                Some((sys.with_strengths_of_valid_coupling(s).ok()?, *lambda))
            })
            .collect();
        solve(&balanced)
    } else {
        vec![None; members.len()]
    };
    let (n, r) = (system.examples(), system.rank());
    members
        .iter()
        .zip(main.iter().zip(&references))
        .map(|(m, (solved, reference))| {
            let (Some((sys, lambda)), Some(s)) = (m, solved) else {
                return PointRecord::masked(MaskReason::NotConverged, [f64::NAN; 2]);
            };
            record(
                spec,
                sys,
                *lambda,
                &s.z[..r],
                &s.m[..n],
                Some((s.elasticities[j][i], s.derivatives[j][i])),
                || reference.map(|rs| rs.z[..r].to_vec()),
            )
        })
        .collect()
}
