//! The checker passes on the paper's toy and on decoupled, SD, unregularised and squared-loss
//! settings; fails when its tolerances are tiny; and every row fails when the predicted side is
//! given a wrong input (λ off by 1e-3, or one entry of U with its sign flipped).

use super::*;
use crate::reference::paper_toy;

/// The prediction's name without the worst entry it reports.
fn key(row: &PredictionCheck) -> String {
    let name = row.prediction.split(" (worst").next().unwrap_or("");
    format!("{} {name}", row.section)
}

fn run(
    sys: &FeatureSystem,
    loss: Loss,
    reg: Regulariser,
    p: Option<Perturbation>,
) -> Vec<PredictionCheck> {
    let options = CheckOptions {
        perturbation: p,
        ..CheckOptions::default()
    };
    check_system(sys, loss, reg, &options).unwrap()
}

/// Every row passes on the exact input, and each fails under at least one of the wrong inputs.
fn assert_rows_can_fail(
    sys: &FeatureSystem,
    loss: Loss,
    reg: Regulariser,
    wrong: &[Perturbation],
) -> usize {
    let rows = run(sys, loss, reg, None);
    assert!(!rows.is_empty(), "{reg:?}: no rows");
    let mut claims = 0;
    for row in &rows {
        assert!(is_subsection(row.section), "{row:?}");
        assert!(
            row.predicted.is_finite() && row.numerical.is_finite(),
            "{row:?}"
        );
        assert_ne!(row.verdict, Verdict::Fail, "{reg:?}: {row:?}");
        if row.verdict == Verdict::Info {
            continue;
        }
        claims += 1;
        let fails = wrong.iter().any(|&p| {
            run(sys, loss, reg, Some(p))
                .iter()
                .any(|other| key(other) == key(row) && other.verdict == Verdict::Fail)
        });
        assert!(
            fails,
            "{reg:?}: no wrong input makes this row fail: {row:?}"
        );
    }
    claims
}

const LAMBDA_OFF: Perturbation = Perturbation::LambdaRelative(1e-3);

fn flips(n: usize, r: usize) -> Vec<Perturbation> {
    let mut all = vec![LAMBDA_OFF];
    for row in 0..n {
        for column in 0..r {
            all.push(Perturbation::CouplingSign { row, column });
        }
    }
    all
}

#[test]
fn toy_rows_pass_and_fail_a_wrong_input() {
    for (l, delta) in [(4.0, 0.5), (6.0, 0.05)] {
        let sys = FeatureSystem::rotation(l, 2.0, delta).unwrap();
        let claims = assert_rows_can_fail(
            &sys,
            Loss::Logistic,
            Regulariser::L2 { lambda: 0.01 },
            &flips(2, 2),
        );
        assert!(claims >= 7, "l = {l}: {claims} rows");
        let claims = assert_rows_can_fail(
            &sys,
            Loss::Logistic,
            Regulariser::SpectralDecoupling { lambda: 0.002 },
            &flips(2, 2),
        );
        assert_eq!(
            claims, 4,
            "SD rows: flow, closed form, tail, binary reduction of softmax (§9.4)"
        );
        let rows = run(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }, None);
        assert!(rows
            .iter()
            .any(|r| r.section == "§9.4" && r.verdict == Verdict::Pass));
    }
}

#[test]
fn decoupled_rows_pass_and_fail_a_wrong_input() {
    let sys = FeatureSystem::decoupled(&[3.0, 2.0, 1.0]).unwrap();
    let claims = assert_rows_can_fail(
        &sys,
        Loss::Logistic,
        Regulariser::L2 { lambda: 0.01 },
        &flips(3, 3),
    );
    assert!(claims >= 6, "{claims}");
    let claims = assert_rows_can_fail(&sys, Loss::Logistic, Regulariser::None, &flips(3, 3));
    assert_eq!(claims, 1);
}

#[test]
fn squared_loss_rows_pass_and_fail_a_wrong_input() {
    let sys = FeatureSystem::random(
        4,
        crate::systems::Spectrum::Geometric { from: 3.0, to: 0.5 },
        2,
    )
    .unwrap();
    for reg in [Regulariser::L2 { lambda: 0.05 }, Regulariser::None] {
        let claims = assert_rows_can_fail(&sys, Loss::Squared, reg, &flips(4, 4));
        assert_eq!(claims, 2, "{reg:?}");
    }
}

#[test]
fn zero_strength_is_differenced_one_sidedly_and_masked() {
    let sys = FeatureSystem::decoupled(&[3.0, 0.0]).unwrap();
    let fd = steady_state_differences(&sys, Regulariser::L2 { lambda: 0.01 }).unwrap();
    assert_eq!(fd.one_sided, 1);
    // z₂* = s₂²(Uᵀσ(−m*))₂/λ = s₂²σ(0)/λ near s₂ = 0: ∂z₂*/∂s₂² = 0.5/λ = 50.
    assert!(
        (fd.derivatives[(1, 1)] - 50.0).abs() < 1e-6,
        "{}",
        fd.derivatives
    );
    let rows = run(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }, None);
    let e = rows
        .iter()
        .find(|r| r.prediction.starts_with("starvation matrix"))
        .unwrap();
    // E_j2 (s₂ = 0) and E_2i (z₂* = 0) are masked: 3 of 4 entries.
    assert_eq!((e.compared, e.masked), (1, 3), "{e:?}");
    assert!(all_passed(&rows), "{rows:?}");
}

#[test]
fn nothing_to_check_is_reported() {
    let sys = paper_toy(4.0);
    assert!(nothing_to_check(&sys, Loss::Logistic, Regulariser::None).is_some());
    assert!(run(&sys, Loss::Logistic, Regulariser::None, None).is_empty());
    let sd = Regulariser::SpectralDecoupling { lambda: 0.01 };
    assert!(run(&sys, Loss::Squared, sd, None).is_empty());
    assert!(nothing_to_check(&sys, Loss::Logistic, Regulariser::L2 { lambda: 0.01 }).is_none());
}

#[test]
fn a_tiny_tolerance_makes_the_checker_fail() {
    let rows = check_system(
        &paper_toy(4.0),
        Loss::Logistic,
        Regulariser::L2 { lambda: 0.01 },
        &CheckOptions {
            tolerance_scale: 1e-14,
            ..CheckOptions::default()
        },
    )
    .unwrap();
    assert!(!all_passed(&rows));
}

/// A label of the form §n.m: a numbered subsection of docs/theory.md, not a whole section.
fn is_subsection(label: &str) -> bool {
    let number = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
    match label
        .strip_prefix('§')
        .and_then(|rest| rest.split_once('.'))
    {
        Some((section, subsection)) => number(section) && number(subsection),
        None => false,
    }
}

#[test]
fn every_sensitivity_entry_is_checked_on_a_random_system() {
    // The example: a random n = 50 system, where comparing only the largest error let
    // 380 of 2450 off-diagonal signs go unchecked. Every entry is compared, none is left within
    // its tolerance of 0, and a λ off by 1e-3 or one flipped sign of U fails both rows.
    let sys = FeatureSystem::random(
        50,
        crate::systems::Spectrum::Geometric { from: 3.0, to: 0.5 },
        1,
    )
    .unwrap();
    let reg = Regulariser::L2 { lambda: 0.05 };
    let rows_of = |p| -> Vec<PredictionCheck> {
        run(&sys, Loss::Logistic, reg, p)
            .into_iter()
            .filter(|r| r.section == "§5.3")
            .collect()
    };
    let exact = rows_of(None);
    assert_eq!(exact.len(), 2);
    for row in &exact {
        assert_eq!(row.verdict, Verdict::Pass, "{row:?}");
        assert_eq!((row.compared, row.masked), (2500, 0), "{row:?}");
        assert!(row.tolerance < 1e-6, "{row:?}");
    }
    assert!(
        exact[0]
            .regime
            .contains("; 0 nonzero entries within their tolerance"),
        "{:?}",
        exact[0]
    );
    for p in [LAMBDA_OFF, Perturbation::CouplingSign { row: 3, column: 7 }] {
        for row in rows_of(Some(p)) {
            assert_eq!(row.verdict, Verdict::Fail, "{p:?}: {row:?}");
        }
    }
}

#[test]
fn a_flow_that_cannot_settle_is_a_comparison_not_a_claim() {
    // SD with s₂ = 10⁻⁵: the slowest rate is ~10⁻¹⁰, the flow is capped at MAX_SETTLE_TIME
    // and its row is INFO; the tail form of μ* is still checked.
    let sys = FeatureSystem::decoupled(&[3.0, 1e-5]).unwrap();
    let reg = Regulariser::SpectralDecoupling { lambda: 0.002 };
    let (t_end, rate) = settle_time(&sys, reg).unwrap();
    assert!(
        t_end == MAX_SETTLE_TIME && rate > 0.0 && rate < 1e-9,
        "{t_end} {rate}"
    );
    let rows = run(&sys, Loss::Logistic, reg, None);
    assert_eq!(rows[0].section, "§4.2");
    assert_eq!(rows[0].verdict, Verdict::Info, "{:?}", rows[0]);
    assert!(rows[0].regime.contains("flow capped"), "{:?}", rows[0]);
    assert!(rows
        .iter()
        .any(|r| r.section == "§5.1" && r.verdict == Verdict::Pass));
    // s₂ = 0 exactly: that feature is pinned (ż₂ = 0 under SD) and does not set the rate; the
    // free feature's flow settles and the row is a claim.
    let pinned = FeatureSystem::decoupled(&[3.0, 0.0]).unwrap();
    let (t_end, rate) = settle_time(&pinned, reg).unwrap();
    // k = s₁²(λ + σ'(μ*)) = 9·(0.002 + 0.00924) ≈ 0.101 for the free feature.
    assert!(
        (t_end * rate - 40.0).abs() < 1e-9 && (rate - 0.1012).abs() < 1e-3,
        "{t_end} {rate}"
    );
    let rows = run(&pinned, Loss::Logistic, reg, None);
    assert_eq!(rows[0].verdict, Verdict::Pass, "{:?}", rows[0]);
    // With both strengths > 0 the flow settles within the cap and the row is a claim.
    let sys = FeatureSystem::decoupled(&[3.0, 1.0]).unwrap();
    let (t_end, _) = settle_time(&sys, reg).unwrap();
    assert!(t_end < MAX_SETTLE_TIME);
    assert_eq!(
        run(&sys, Loss::Logistic, reg, None)[0].verdict,
        Verdict::Pass
    );
}

/// SD with class targets (docs/theory.md §10.1): the flow row and the per-example closed form,
/// each failing under a wrong λ or a flipped coupling entry.
#[test]
fn class_target_rows_pass_and_fail_a_wrong_input() {
    let sys = FeatureSystem::random(
        4,
        crate::systems::Spectrum::Geometric { from: 3.0, to: 0.5 },
        7,
    )
    .unwrap()
    .with_labels(&[1.0, -1.0, -1.0, 1.0])
    .unwrap();
    let reg = Regulariser::SpectralDecouplingClasses {
        lambda: [0.088, 0.012],
        target: [0.44, 2.5],
    };
    let rows = run(&sys, Loss::Logistic, reg, None);
    assert!(rows
        .iter()
        .any(|r| r.section == "§10.1" && r.prediction.contains("σ(−mᵢ*)")));
    let claims = assert_rows_can_fail(&sys, Loss::Logistic, reg, &flips(4, 4));
    assert_eq!(claims, 2, "flow and closed form");
    // Without labels the setting is rejected, not checked.
    let bare = FeatureSystem::rotation(3.0, 1.0, 0.3).unwrap();
    assert!(check_system(&bare, Loss::Logistic, reg, &CheckOptions::default()).is_err());
}

/// The max-margin rows (docs/theory.md §11): on a system where every example is a support
/// vector all five appear; where not, the three path rows; every one fails a wrong input.
#[test]
fn max_margin_rows_pass_and_fail_a_wrong_input() {
    let count =
        |rows: &[PredictionCheck]| rows.iter().filter(|r| r.section.starts_with("§11")).count();
    let all = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
    let some = FeatureSystem::rotation(6.0, 2.0, 0.5).unwrap();
    for (sys, expected) in [(all, 5), (some, 3)] {
        let reg = Regulariser::L2 { lambda: 0.01 };
        assert_eq!(count(&run(&sys, Loss::Logistic, reg, None)), expected);
        assert_rows_can_fail(&sys, Loss::Logistic, reg, &flips(2, 2));
    }
}
