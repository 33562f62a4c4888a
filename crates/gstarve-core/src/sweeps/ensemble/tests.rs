use super::*;
use crate::sweeps::grid::RotationFamily;
use crate::sweeps::rotation::{rotation_sensitivity, rotation_steady_state};
use crate::sweeps::shards::{
    merge_shards, EnsembleSystems, ShardFile, ShardHeader, ShardKind, ShardRun,
};
use crate::sweeps::Shard;
use nalgebra::Vector2;

/// `system_seed(0, 0, 0)`.
const PINNED_SEED: u64 = 6_050_961_064_690_644_123;

fn spec(n: usize, couplings: Vec<Coupling>, systems: usize) -> EnsembleSpec {
    EnsembleSpec {
        n,
        decays: vec![1.0, 3.0, 10.0],
        couplings,
        systems,
        seed: 7,
        lambda: 0.01,
        weakest: 2.0,
        threshold: 0.0,
    }
}

/// δ = 0 is U = I, decoupled (docs/theory.md §5.1): ∂z_j*/∂s_i² = 0 for i ≠ j, so every
/// off-diagonal entry is 0 and nothing starves, whatever the spectrum.
#[test]
fn decoupled_cells_do_not_starve() {
    let e = ensemble(
        &spec(5, vec![Coupling::NearIdentity(0.0)], 4),
        Progress::Hidden,
    )
    .unwrap();
    for s in &e.systems {
        assert_eq!(s.elasticities.len(), 20);
        assert!(s.elasticities.iter().all(|&v| v.abs() < 1e-15), "{s:?}");
    }
    for c in &e.cells {
        assert_eq!((c.entries, c.starving, c.masked, c.failed), (80, 0, 0, 0));
        assert_eq!(c.fraction, 0.0);
        assert_eq!(c.systems_starving, 0);
    }
}

/// Equal strengths (decay 1) with r = n: λm = s²σ(−m) entry by entry, so every margin is the
/// same root, UᵀDU = dI, J is diagonal and E_ji = 0 for j ≠ i under any coupling
/// (docs/theory.md §7.5). The computed entries are rounding noise far below the noise floor.
#[test]
fn equal_strengths_do_not_starve_under_any_coupling() {
    let sp = EnsembleSpec {
        decays: vec![1.0],
        ..spec(6, vec![Coupling::Haar, Coupling::NearIdentity(0.7)], 5)
    };
    let e = ensemble(&sp, Progress::Hidden).unwrap();
    for s in &e.systems {
        assert!(s.elasticities.iter().all(|v| v.abs() < 1e-13), "{s:?}");
    }
    for c in &e.cells {
        assert_eq!((c.starving, c.fraction, c.entries), (0, 0.0, 150));
    }
    // The noise floor applies whatever the threshold: threshold 0 counts the same.
    assert!(sp.threshold == 0.0 && sp.starving_below() == -NOISE_FLOOR);
}

/// For n = 2 the near-identity coupling is the rotation by θ = δ·A₂₁, i.e. the rotation family
/// U(sin θ) of docs/theory.md §5.4 (with both columns negated when cos θ < 0, which leaves E
/// unchanged, §1.4): each system's E₂₁ and E₁₂ equal the closed-form 2×2 sensitivity of
/// `sweeps::rotation`, and E₂₁ has the sign of E₁₂ (starvation is mutual) and of the first-order
/// rule of §5.5, so each system's fraction is 0 or 1.
#[test]
fn two_features_match_the_rotation_family() {
    let sp = EnsembleSpec {
        decays: vec![1.5, 4.0],
        ..spec(2, vec![Coupling::NearIdentity(0.3)], 16)
    };
    let e = ensemble(&sp, Progress::Hidden).unwrap();
    let (mut compared, mut starving_by_sign) = (0, 0);
    for s in &e.systems {
        let (system, seed) = sp.system(s.index).unwrap();
        // θ from the same stream, independently of the matrix exponential.
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(seed);
        let g: f64 = StandardNormal.sample(&mut rng);
        let theta = 0.3 * g;
        let u = system.coupling();
        assert!((u[(0, 0)] - theta.cos()).abs() < 1e-14);
        assert!((u[(1, 0)] - theta.sin()).abs() < 1e-14);
        assert!((u[(0, 1)] + theta.sin()).abs() < 1e-14);
        let delta = theta.sin() * theta.cos().signum();
        let st = system.strengths();
        let family = RotationFamily {
            ratio: st[0] / st[1],
            coupling: delta,
            lambda: sp.lambda,
            weak_strength: st[1],
        };
        let steady = rotation_steady_state(&family, Vector2::zeros()).unwrap();
        let closed = rotation_sensitivity(&family, &steady).elasticities;
        let (e12, e21) = (s.elasticities[0], s.elasticities[1]);
        assert!((e21 - closed[(1, 0)]).abs() < 1e-9 * closed[(1, 0)].abs().max(1.0));
        assert!((e12 - closed[(0, 1)]).abs() < 1e-9 * closed[(0, 1)].abs().max(1.0));
        assert_eq!(e21 < 0.0, e12 < 0.0);
        // §5.5: sign(∂z₂*/∂s₁²) = −sign(δA₂₁)·sign(s₁ − s₂), and s₁ > s₂: the stronger
        // feature starves the weaker one exactly when the rotation is positive.
        assert_eq!(e21 < 0.0, g > 0.0, "θ = {theta}, E₂₁ = {e21}");
        starving_by_sign += usize::from(g > 0.0);
        compared += 1;
    }
    assert_eq!(compared, 32);
    // So a cell's fraction starving is the share of positive rotations (about 1/2 at any δ > 0).
    assert_eq!(
        e.cells.iter().map(|c| c.starving).sum::<usize>(),
        2 * starving_by_sign
    );
}

/// The cell's statistics equal a direct computation on the same seeds: each system's starvation
/// matrix from `l2_sensitivity` one by one (equal to the ensemble's batched entries to 1e-12),
/// the ensemble's entries pooled, sorted, and type-7 quantiles written out independently.
#[test]
fn cell_statistics_match_a_direct_computation() {
    let sp = EnsembleSpec {
        decays: vec![8.0],
        threshold: 1e-3,
        ..spec(4, vec![Coupling::NearIdentity(0.2), Coupling::Haar], 6)
    };
    let e = ensemble(&sp, Progress::Hidden).unwrap();
    for (c, cell) in e.cells.iter().enumerate() {
        let mut pooled = Vec::new();
        let mut fractions = Vec::new();
        for k in 0..sp.systems {
            let (system, _) = sp.system(c * sp.systems + k).unwrap();
            let m = l2_sensitivity(&system, sp.lambda).unwrap().elasticities;
            let own: Vec<f64> = (0..4)
                .flat_map(|j| (0..4).map(move |i| (j, i)))
                .filter(|&(j, i)| j != i)
                .map(|(j, i)| m[(j, i)].unwrap())
                .collect();
            let batched = &e.systems[c * sp.systems + k].elasticities;
            for (a, b) in batched.iter().zip(&own) {
                assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
            }
            let own = batched.clone();
            let starving = own.iter().filter(|&&v| v < -1e-3).count();
            fractions.push(starving as f64 / 12.0);
            pooled.extend(own);
        }
        pooled.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let n = pooled.len();
        assert_eq!(cell.entries, n);
        let starving = pooled.iter().filter(|&&v| v < -1e-3).count();
        assert_eq!(cell.starving, starving);
        assert_eq!(cell.fraction, starving as f64 / n as f64);
        for (p, q) in QUANTILES.iter().zip(cell.quantiles) {
            let h = (n - 1) as f64 * p;
            let (lo, t) = (h.floor() as usize, h - h.floor());
            let direct = (1.0 - t) * pooled[lo] + t * pooled[(lo + 1).min(n - 1)];
            assert!(
                (q - direct).abs() <= 1e-14 * direct.abs().max(1.0),
                "{p}: {q} {direct}"
            );
        }
        assert_eq!((cell.min, cell.max), (pooled[0], pooled[n - 1]));
        let mean_f = fractions.iter().sum::<f64>() / 6.0;
        let var = fractions.iter().map(|f| (f - mean_f).powi(2)).sum::<f64>() / 5.0;
        assert!((cell.fraction_se - (var / 6.0).sqrt()).abs() < 1e-15);
    }
}

/// NumPy's `np.quantile([3.5, -1.25, 0, 7, 2, -4.5, 1], [.05, .25, .5, .75, .95])` (the
/// default, linear method) = [-3.525, -0.625, 1, 2.75, 5.95], to rounding (NumPy interpolates
/// from the nearer order statistic; the two forms differ by a few ulps).
#[test]
fn quantiles_are_numpy_linear() {
    let mut x = vec![3.5, -1.25, 0.0, 7.0, 2.0, -4.5, 1.0];
    x.sort_by(f64::total_cmp);
    let numpy = [-3.525, -0.625, 1.0, 2.75, 5.95];
    for (p, want) in QUANTILES.iter().zip(numpy) {
        assert!(
            (quantile(&x, *p) - want).abs() < 4e-15,
            "{p}: {}",
            quantile(&x, *p)
        );
    }
    assert!(quantile(&[], 0.5).is_nan());
    assert_eq!(quantile(&[2.0], 0.95), 2.0);
}

/// A Haar system is `FeatureSystem::random` with the system's seed; seeds differ between cells
/// and indices and do not depend on the other systems.
#[test]
fn systems_are_seeded_by_themselves() {
    let sp = spec(6, vec![Coupling::Haar], 3);
    let (sys, seed) = sp.system(4).unwrap();
    assert_eq!(seed, system_seed(7, 1, 1));
    let again = FeatureSystem::random(6, sp.spectrum(3.0), seed).unwrap();
    assert_eq!(sys.coupling(), again.coupling());
    assert_eq!(sys.strengths()[0], 6.0);
    assert!((sys.strengths()[5] - 2.0).abs() < 1e-15);
    let seeds: std::collections::BTreeSet<u64> = (0..4)
        .flat_map(|c| (0..4).map(move |k| system_seed(7, c, k)))
        .collect();
    assert_eq!(seeds.len(), 16);
    // Pinned (computed once by this implementation): a change of this value would change every
    // ensemble already published.
    assert_eq!(system_seed(0, 0, 0), PINNED_SEED);
    let alone = ensemble_systems(&sp, &[4], Progress::Hidden).unwrap();
    let whole = ensemble(&sp, Progress::Hidden).unwrap();
    assert_eq!(alone[0], whole.systems[4]);
}

/// Shards (round-robin over systems) written to shard files, read back and merged give every
/// system bit for bit, hence the same cells; an incomplete or duplicated set is refused.
#[test]
fn shards_merge_to_the_whole() {
    let sp = spec(3, vec![Coupling::NearIdentity(0.5), Coupling::Haar], 5);
    let whole = ensemble(&sp, Progress::Hidden).unwrap();
    let total = sp.total_systems();
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<(String, ShardFile)> = (1..=4)
        .map(|i| {
            let shard = Shard::new(i, 4).unwrap();
            let path = dir.path().join(format!("e.{}.bin", shard.suffix()));
            let header = ShardHeader {
                kind: EnsembleSystems::KIND.into(),
                shard,
                items: total,
                config: 0xabc,
                arguments: vec!["x".into()],
                provenance: String::new(),
            };
            ShardRun::<EnsembleSystems>::open(&path, header)
                .unwrap()
                .run("ensemble", Progress::Hidden, |items, p| {
                    ensemble_systems(&sp, items, p)
                })
                .unwrap();
            (format!("f{i}"), ShardFile::read(&path).unwrap())
        })
        .collect();
    let merged = merge_shards::<EnsembleSystems>(&files).unwrap();
    assert_eq!(merged.header.arguments, ["x"]);
    let merged = Ensemble::assemble(sp.clone(), merged.items, 0.0);
    assert_eq!(merged.systems, whole.systems);
    assert_eq!(
        merged.cells_table().unwrap().into_string().unwrap(),
        whole.cells_table().unwrap().into_string().unwrap()
    );
    let err = merge_shards::<EnsembleSystems>(&files[..3])
        .unwrap_err()
        .to_string();
    assert!(err.contains("shard 4/4 is missing"), "{err}");
    let mut twice = files.clone();
    let first = twice[0].1.records[0].clone();
    twice[1].1.records.push(first);
    let err = merge_shards::<EnsembleSystems>(&twice)
        .unwrap_err()
        .to_string();
    assert!(err.contains("system 0 appears more than once"), "{err}");
    let mut short = files;
    short[2].1.records.pop();
    let err = merge_shards::<EnsembleSystems>(&short)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is missing"), "{err}");
}

#[test]
fn bad_specifications_are_refused() {
    let good = spec(3, vec![Coupling::Haar], 2);
    let cases: Vec<(EnsembleSpec, &str)> = vec![
        (
            EnsembleSpec {
                n: 1,
                ..good.clone()
            },
            "n = 1",
        ),
        (
            EnsembleSpec {
                decays: vec![0.5],
                ..good.clone()
            },
            "decay = 0.5",
        ),
        (
            EnsembleSpec {
                decays: vec![],
                ..good.clone()
            },
            "decay list",
        ),
        (
            EnsembleSpec {
                couplings: vec![Coupling::NearIdentity(-0.1)],
                ..good.clone()
            },
            "coupling = -0.1",
        ),
        (
            EnsembleSpec {
                systems: 0,
                ..good.clone()
            },
            "systems = 0",
        ),
        (
            EnsembleSpec {
                lambda: 0.0,
                ..good.clone()
            },
            "λ = 0",
        ),
        (
            EnsembleSpec {
                weakest: f64::NAN,
                ..good.clone()
            },
            "weakest = NaN",
        ),
        (
            EnsembleSpec {
                threshold: -1.0,
                ..good.clone()
            },
            "threshold = -1",
        ),
        (
            EnsembleSpec {
                n: 2000,
                systems: 1000,
                ..good.clone()
            },
            "systems = 1000",
        ),
    ];
    for (bad, expected) in cases {
        let err = ensemble(&bad, Progress::Hidden).unwrap_err();
        assert!(!err.is_numerical());
        assert!(err.to_string().contains(expected), "{err} ∌ {expected}");
    }
    assert!("haar".parse::<Coupling>().unwrap() == Coupling::Haar);
    assert!("0.25".parse::<Coupling>().unwrap() == Coupling::NearIdentity(0.25));
    assert!("x".parse::<Coupling>().is_err());
}
