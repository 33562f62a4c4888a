use super::super::grid::{Grid, RotationFamily};
use super::super::phase_diagram::{phase_diagram, PhaseDiagramSpec};
use super::*;

/// The rotation family's diagram over (r, λ) at s₂ = 2 is the system diagram of
/// rotation(2r, 2, δ) over (s₁ = 2r, λ): the same measure by independent code (the 2 × 2
/// closed-form Newton and sensitivity of `rotation` against the general solvers).
#[test]
fn a_rotation_system_reproduces_the_rotation_family() {
    let delta = 0.3;
    let system = FeatureSystem::rotation(4.0, 2.0, delta).unwrap();
    let ratios = Axis::linear(Parameter::Ratio, 0.5, 3.0, 5);
    let lambdas = Axis::log(Parameter::Lambda, 1e-3, 1e-1, 4);
    let strengths = SystemAxis {
        parameter: SystemParameter::Strength(0),
        start: 1.0,
        end: 6.0,
        points: 5,
        spacing: Spacing::Linear,
    };
    let lambda_axis = SystemAxis {
        parameter: SystemParameter::Lambda,
        start: 1e-3,
        end: 1e-1,
        points: 4,
        spacing: Spacing::Log,
    };
    for (measure, tolerance) in [
        (Measure::Elasticity, 1e-9),
        (Measure::StarvationRatio, 1e-9),
        (Measure::SdRecovery(SdMatching::Lambda), 1e-9),
        (Measure::SdRecovery(SdMatching::FinalLoss), 1e-9),
    ] {
        let rotation = phase_diagram(
            &PhaseDiagramSpec {
                grid: Grid {
                    x: ratios,
                    y: lambdas,
                    fixed: RotationFamily {
                        coupling: delta,
                        weak_strength: 2.0,
                        ..Default::default()
                    },
                },
                measure,
                learning: Default::default(),
            },
            Progress::Hidden,
        )
        .unwrap();
        let general = system_diagram(
            &system,
            &SystemDiagramSpec {
                x: strengths,
                y: lambda_axis,
                lambda: 0.01,
                measure,
                response: 1,
                feature: 0,
                learning: Default::default(),
            },
            Progress::Hidden,
        )
        .unwrap();
        assert_eq!(general.masked_total(), rotation.masked_total());
        for (a, b) in rotation.points.iter().zip(&general.points) {
            let scale = a.value.abs().max(1.0);
            assert!(
                (a.value - b.value).abs() <= tolerance * scale,
                "{measure:?}: {} vs {}",
                a.value,
                b.value
            );
            assert!((a.responses[1] - b.responses[1]).abs() <= 1e-9 * scale);
        }
    }
}

/// τ₉₀ of a system point equals `learning_time` on the system with the value substituted.
#[test]
fn learning_time_is_that_of_the_substituted_system() {
    let system = FeatureSystem::random(
        4,
        crate::systems::Spectrum::Geometric { from: 3.0, to: 0.5 },
        1,
    )
    .unwrap();
    let spec = SystemDiagramSpec {
        x: SystemAxis {
            parameter: SystemParameter::Strength(2),
            start: 0.5,
            end: 2.0,
            points: 2,
            spacing: Spacing::Linear,
        },
        y: SystemAxis {
            parameter: SystemParameter::Strength(0),
            start: 3.0,
            end: 3.0,
            points: 1,
            spacing: Spacing::Linear,
        },
        lambda: 0.05,
        measure: Measure::LearningTime,
        response: 3,
        feature: 0,
        learning: Default::default(),
    };
    let d = system_diagram(&system, &spec, Progress::Hidden).unwrap();
    let mut s = system.strengths().clone();
    s[2] = 2.0;
    s[0] = 3.0;
    let member = system.with_strengths(s).unwrap();
    let z = l2(&member, 0.05).unwrap().responses;
    let t = learning_time(&member, 0.05, 3, z[3], &Default::default())
        .unwrap()
        .unwrap();
    assert_eq!(d.value(1, 0), t.tau);
}

#[test]
fn bad_specs_are_refused_before_work() {
    let system = FeatureSystem::random(
        3,
        crate::systems::Spectrum::Geometric { from: 3.0, to: 0.5 },
        1,
    )
    .unwrap();
    let axis = |p, a, b| SystemAxis {
        parameter: p,
        start: a,
        end: b,
        points: 3,
        spacing: Spacing::Linear,
    };
    let spec = |x, y, response, feature| SystemDiagramSpec {
        x,
        y,
        lambda: 0.01,
        measure: Measure::Elasticity,
        response,
        feature,
        learning: Default::default(),
    };
    let s1 = axis(SystemParameter::Strength(0), 1.0, 2.0);
    let lambda = axis(SystemParameter::Lambda, 1e-3, 1e-2);
    let refused = |s: SystemDiagramSpec| {
        matches!(
            system_diagram(&system, &s, Progress::Hidden),
            Err(Error::Input(_))
        )
    };
    assert!(refused(spec(s1, s1, 1, 0)), "duplicate axis");
    assert!(
        refused(spec(
            axis(SystemParameter::Strength(3), 1.0, 2.0),
            lambda,
            1,
            0
        )),
        "s4 of 3"
    );
    assert!(refused(spec(s1, lambda, 1, 1)), "i = j");
    assert!(refused(spec(s1, lambda, 3, 0)), "j out of range");
    assert!(
        refused(spec(
            axis(SystemParameter::Strength(0), 2.0, 1.0),
            lambda,
            1,
            0
        )),
        "reversed"
    );
    assert!(
        refused(spec(axis(SystemParameter::Lambda, 0.0, 1.0), s1, 1, 0)),
        "λ = 0"
    );
    assert!(!refused(spec(s1, lambda, 1, 0)));
    assert_eq!(
        "s3".parse::<SystemParameter>(),
        Ok(SystemParameter::Strength(2))
    );
    assert!("s0".parse::<SystemParameter>().is_err());
    assert!("delta".parse::<SystemParameter>().is_err());
}

/// The batched rows (n, r ≤ 8) give every point's record as the general path does, point by
/// point, to 1e-12: value, responses, boundary field, reference, and the same masks; a 3 × 3
/// system with a zero strength runs its pinned feature outside the lanes.
#[test]
fn batched_rows_match_the_general_path_to_1e_12() {
    use crate::systems::Spectrum;
    let haar = FeatureSystem::random(3, Spectrum::Geometric { from: 4.0, to: 1.0 }, 11).unwrap();
    let mut pinned = haar.strengths().clone();
    pinned[2] = 0.0;
    let pinned = haar.with_strengths_of_valid_coupling(pinned).unwrap();
    let x = SystemAxis {
        parameter: SystemParameter::Strength(0),
        start: 0.5,
        end: 6.0,
        points: 6,
        spacing: Spacing::Linear,
    };
    let y = SystemAxis {
        parameter: SystemParameter::Lambda,
        start: 1e-3,
        end: 1e-1,
        points: 3,
        spacing: Spacing::Log,
    };
    let mut compared = 0;
    for system in [&haar, &pinned] {
        for measure in [
            Measure::Elasticity,
            Measure::StarvationRatio,
            Measure::SdRecovery(SdMatching::Lambda),
            Measure::SdRecovery(SdMatching::FinalLoss),
        ] {
            let spec = SystemDiagramSpec {
                x,
                y,
                lambda: 0.01,
                measure,
                response: 1,
                feature: 0,
                learning: Default::default(),
            };
            assert!(batched::applies(system, &spec));
            let d = system_diagram(system, &spec, Progress::Hidden).unwrap();
            for (iy, &yv) in d.y.iter().enumerate() {
                for (ix, &xv) in d.x.iter().enumerate() {
                    let general = evaluate(system, &spec, &[(x.parameter, xv), (y.parameter, yv)]);
                    let p = d.at(ix, iy);
                    assert_eq!(p.mask, general.mask, "{measure:?} ({ix}, {iy})");
                    let pairs = [
                        (p.value, general.value),
                        (p.responses[0], general.responses[0]),
                        (p.responses[1], general.responses[1]),
                        (p.boundary, general.boundary),
                        (p.reference, general.reference),
                    ];
                    for (a, e) in pairs {
                        assert!(
                            (a.is_nan() && e.is_nan()) || (a - e).abs() <= 1e-12 * e.abs().max(1.0),
                            "{measure:?} ({ix}, {iy}): {a} vs {e}"
                        );
                    }
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 2 * 4 * 18);
}
