//! The batch against the one-system path, and its independence of grouping and instruction set.
use super::*;
use crate::systems::{FeatureSystem, Spectrum};
use crate::theory::sensitivity::l2_sensitivity;

/// Every system of a batch (shapes 2×2, 3×3, 4×4, 8×8, rotations, a zero strength, λ
/// over three decades) against the one-system path: z*, m*, ∂z*/∂s², E to 1e-12
/// relative, the same masks.
#[test]
fn batch_matches_the_one_system_path_to_1e_12() {
    let mut cases: Vec<(Vec<FeatureSystem>, Vec<f64>)> = Vec::new();
    for n in [2usize, 3, 4, 8] {
        let systems: Vec<FeatureSystem> = (0..70)
            .map(|seed| {
                FeatureSystem::random(
                    n,
                    Spectrum::Geometric {
                        from: 1.0 + (seed % 7) as f64,
                        to: 0.1 + 0.05 * (seed % 5) as f64,
                    },
                    seed,
                )
                .unwrap()
            })
            .collect();
        let lambdas = (0..70)
            .map(|k| 10f64.powf(-3.0 + 3.0 * k as f64 / 69.0))
            .collect();
        cases.push((systems, lambdas));
    }
    let rot: Vec<FeatureSystem> = [0.0, 0.3, 0.5, 0.9]
        .iter()
        .map(|&d| FeatureSystem::rotation(4.0, 2.0, d).unwrap())
        .collect();
    cases.push((rot, vec![0.01; 4]));
    let zero = FeatureSystem::new(
        nalgebra::DVector::from_vec(vec![3.0, 1.0, 0.0]),
        FeatureSystem::random(3, Spectrum::Geometric { from: 2.0, to: 1.0 }, 4)
            .unwrap()
            .coupling()
            .clone(),
    )
    .unwrap();
    cases.push((vec![zero], vec![0.02]));
    let mut compared = 0;
    for (systems, lambdas) in &cases {
        let batch = SmallSystems::from_systems(systems, lambdas).unwrap();
        let out = l2_steady_states(&batch).unwrap();
        let (n, r) = (out.examples, out.rank);
        for (b, (sys, &lambda)) in systems.iter().zip(lambdas).enumerate() {
            assert!(out.failures[b].is_none(), "{b}: {:?}", out.failures[b]);
            let one = l2_sensitivity(sys, lambda).unwrap();
            let close = |a: f64, e: f64, what: &str| {
                assert!(
                    (a - e).abs() <= 1e-12 * e.abs().max(1.0),
                    "system {b} (n = {n}, λ = {lambda}): {what} {a} vs {e}"
                );
            };
            for j in 0..r {
                close(
                    out.responses[b * r + j],
                    one.steady_state.responses[j],
                    "z*",
                );
                for i in 0..r {
                    let k = b * r * r + j + i * r;
                    close(out.derivatives[k], one.derivatives[(j, i)], "∂z*/∂s²");
                    match one.elasticities[(j, i)] {
                        Some(e) => close(out.elasticities[k], e, "E"),
                        None => assert!(out.elasticities[k].is_nan()),
                    }
                }
            }
            for i in 0..n {
                close(out.margins[b * n + i], one.steady_state.margins[i], "m*");
            }
            assert!(out.residuals[b] <= 1e-12 * 100.0);
            compared += 1;
        }
    }
    assert_eq!(compared, 285);
}

#[test]
fn bad_batches_are_input_errors() {
    let sys = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
    assert!(SmallSystems::from_systems(std::slice::from_ref(&sys), &[]).is_err());
    assert!(SmallSystems::from_systems(std::slice::from_ref(&sys), &[0.0]).is_err());
    let big = FeatureSystem::random(9, Spectrum::Geometric { from: 2.0, to: 1.0 }, 1).unwrap();
    assert!(SmallSystems::from_systems(&[big], &[0.01]).is_err());
    let other = FeatureSystem::random(3, Spectrum::Geometric { from: 2.0, to: 1.0 }, 1).unwrap();
    assert!(SmallSystems::from_systems(&[sys, other], &[0.01, 0.01]).is_err());
    let empty = SmallSystems::from_systems(&[], &[]).unwrap();
    assert_eq!(l2_steady_states(&empty).unwrap().responses.len(), 0);
}

fn random_batch(n: usize, count: usize) -> SmallSystems {
    let systems: Vec<FeatureSystem> = (0..count as u64)
        .map(|seed| {
            FeatureSystem::random(
                n,
                Spectrum::Geometric {
                    from: 1.0 + (seed % 9) as f64,
                    to: 0.2,
                },
                seed + 100,
            )
            .unwrap()
        })
        .collect();
    let lambdas: Vec<f64> = (0..count)
        .map(|k| 10f64.powf(-3.0 + 2.0 * (k % 13) as f64 / 12.0))
        .collect();
    SmallSystems::from_systems(&systems, &lambdas).unwrap()
}

fn same_bits(a: &Solved, b: &Solved) -> bool {
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    bits(&a.z) == bits(&b.z)
        && bits(&a.m) == bits(&b.m)
        && a.residual.to_bits() == b.residual.to_bits()
        && a.iterations == b.iterations
        && a.derivatives
            .iter()
            .zip(&b.derivatives)
            .all(|(x, y)| bits(x) == bits(y))
        && a.elasticities
            .iter()
            .zip(&b.elasticities)
            .all(|(x, y)| bits(x) == bits(y))
}

/// A system's result is the same bit for bit whichever systems share its lanes (blocks of
/// other sizes and offsets) and whichever instruction set runs (pulp's scalar fallback, AVX2
/// and AVX-512 where the CPU has them, against the dispatched one): what keeps sharded sweeps
/// equal to unsharded ones.
#[test]
fn results_do_not_depend_on_grouping_or_instruction_set() {
    for n in [2usize, 4, 7] {
        let batch = random_batch(n, 23);
        let whole = solve_block(&batch, 0..23, None);
        for range in [3..4, 5..12, 1..23] {
            let part = solve_block(&batch, range.clone(), None);
            for (k, p) in part.iter().enumerate() {
                let (a, b) = (
                    p.as_ref().unwrap(),
                    whole[range.start + k].as_ref().unwrap(),
                );
                assert!(same_bits(a, b), "n = {n}, system {}", range.start + k);
            }
        }
        let scalar = on_instruction_set(&batch, pulp::Scalar::new());
        let mut sets = vec![("scalar", scalar)];
        #[cfg(target_arch = "x86_64")]
        {
            // AVX2 (four lanes) and AVX-512 (eight), each where the CPU has it: the dispatched
            // path above is the widest.
            if let Some(v3) = pulp::x86::V3::try_new() {
                sets.push(("AVX2", on_instruction_set(&batch, v3)));
            }
            if let Some(v4) = pulp::x86::V4::try_new() {
                sets.push(("AVX-512", on_instruction_set(&batch, v4)));
            }
        }
        for (set, results) in &sets {
            for (k, s) in results.iter().enumerate() {
                let s = s.as_ref().unwrap().as_ref().unwrap();
                assert!(
                    same_bits(s, whole[k].as_ref().unwrap()),
                    "{set}: n = {n}, system {k}"
                );
            }
        }
    }
}

/// Every system of `batch` through the lanes of one instruction set.
fn on_instruction_set<S: pulp::Simd>(
    batch: &SmallSystems,
    simd: S,
) -> Vec<Option<std::result::Result<Solved, NumericalError>>> {
    let (n, r) = (batch.examples, batch.rank);
    let block = lanes::Block {
        n,
        r,
        strengths_squared: &batch.strengths_squared,
        coupling: &batch.coupling,
        lambda: &batch.lambda,
        start: None,
    };
    let which: Vec<usize> = (0..batch.len()).collect();
    let mut out = (0..batch.len()).map(|_| None).collect::<Vec<_>>();
    simd.vectorize(lanes::Lockstep {
        block: &block,
        which: &which,
        sink: |k: usize, result: std::result::Result<&Solved, NumericalError>| {
            out[k] = Some(result.copied())
        },
    });
    out
}

/// Warm starts (a perturbed z* and a far-off point) reach the cold start's z* to 1e-12, in the
/// lanes and, for a system with a zero strength, alone.
#[test]
fn warm_starts_reach_the_same_steady_state() {
    let mut batch = random_batch(4, 9);
    batch.strengths_squared[8 * 4 + 2] = 0.0;
    let cold = solve_block(&batch, 0..9, None);
    let mut start = vec![0.0; 9 * 4];
    for (k, c) in cold.iter().enumerate() {
        let z = c.as_ref().unwrap().z;
        for j in 0..4 {
            start[k * 4 + j] = if k % 2 == 0 {
                z[j] * 1.1
            } else {
                -3.0 + j as f64
            };
        }
    }
    start[5] = f64::NAN;
    let warm = solve_block(&batch, 0..9, Some(&start));
    for (k, (c, w)) in cold.iter().zip(&warm).enumerate() {
        let (c, w) = (c.as_ref().unwrap(), w.as_ref().unwrap());
        for j in 0..4 {
            assert!(
                (c.z[j] - w.z[j]).abs() <= 1e-12 * c.z[j].abs().max(1.0),
                "system {k}: {} vs {}",
                w.z[j],
                c.z[j]
            );
            for i in 0..4 {
                let (a, b) = (w.derivatives[j][i], c.derivatives[j][i]);
                assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0), "{a} vs {b}");
            }
        }
        assert_eq!(w.z[2] == 0.0, k == 8);
    }
}

/// Systems whose iteration fails (a NaN in the coupling: H's Cholesky factor breaks down at the
/// first step) are reported as failures with NaN results, and free their lanes for the next
/// systems: the others' results are those of the batch without them, bit for bit.
#[test]
fn failed_systems_are_reported_and_do_not_disturb_the_others() {
    let (n, count) = (4, 19);
    let good = random_batch(n, count);
    let mut bad = good.clone();
    for k in [2usize, 7, 8] {
        bad.coupling[k * n * n + 5] = f64::NAN;
    }
    let (a, b) = (
        l2_steady_states(&good).unwrap(),
        l2_steady_states(&bad).unwrap(),
    );
    for k in 0..count {
        let zs = |o: &BatchSteadyStates| o.responses[k * n..(k + 1) * n].to_vec();
        if [2, 7, 8].contains(&k) {
            assert!(
                matches!(
                    b.failures[k],
                    Some(NumericalError::NewtonFailed { iterations: 0, .. })
                ),
                "system {k}: {:?}",
                b.failures[k]
            );
            assert!(zs(&b).iter().all(|v| v.is_nan()));
            assert!(b.residuals[k].is_nan() && b.margins[k * n].is_nan());
            assert!(b.derivatives[k * n * n..(k + 1) * n * n]
                .iter()
                .chain(&b.elasticities[k * n * n..(k + 1) * n * n])
                .all(|v| v.is_nan()));
        } else {
            assert!(b.failures[k].is_none() && a.failures[k].is_none());
            let bits = |v: Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(zs(&a)), bits(zs(&b)), "system {k}");
            let der = |o: &BatchSteadyStates| o.derivatives[k * n * n..(k + 1) * n * n].to_vec();
            assert_eq!(bits(der(&a)), bits(der(&b)), "system {k}");
            assert_eq!(a.iterations[k], b.iterations[k]);
        }
    }
}
