//! The hand-written training of the out-of-distribution network against candle's autodiff of
//! the same objectives (f64 on both sides, the same network and data, short runs), and the
//! objectives' slopes against central differences.

use candle_core::DType;
use rand::{Rng, SeedableRng};

use super::train::{network, run, slopes};
use super::*;
use crate::test_support::max_abs_diff;

/// A small restart: 2 × 60 training examples of the coloured digits, width 16.
fn small_restart() -> (Restart, OodSpec) {
    let spec = OodSpec {
        data: ColouredSpec {
            train_per_environment: 60,
            ..Default::default()
        },
        width: 16,
        ..Default::default()
    };
    let digits = optical_digits().unwrap();
    (restart(&spec, &digits, 0).unwrap(), spec)
}

/// The four objectives on short runs that let every term act: 30 steps at lr 1e-3 with the
/// anneal step at 10 (IRM: at 0, so that the penalty weighs P throughout).
fn short(method: Method) -> MethodSettings {
    let reference = MethodSettings::reference(method);
    MethodSettings {
        steps: 30,
        learning_rate: 1e-3,
        anneal_steps: if method == Method::Irm { 0 } else { 10 },
        ..reference
    }
}

/// The hand-written parameters after a run in f64.
fn hand(r: &Restart, s: &MethodSettings) -> (train::RunEnd, Vec<f64>) {
    let (end, net) = run::<f64>(&r.weights, s, &r.data).unwrap();
    (end, net.parameters().to_vec())
}

#[test]
fn hand_written_runs_are_candles_for_every_objective() {
    let (r, _) = small_restart();
    // Each objective, and the terms whose loss the check must detect: the same settings with
    // that term removed must end measurably elsewhere.
    let tiny = [1e-30, 1e-30];
    let cases: Vec<(MethodSettings, Vec<(&str, MethodSettings)>)> = vec![
        (short(Method::Erm), vec![]),
        (
            short(Method::Sd),
            vec![(
                "SD penalty",
                MethodSettings {
                    class_weights: tiny,
                    ..short(Method::Sd)
                },
            )],
        ),
        (
            short(Method::SdClasses),
            vec![
                (
                    "margin targets",
                    MethodSettings {
                        class_targets: [0.0, 0.0],
                        ..short(Method::SdClasses)
                    },
                ),
                (
                    "class penalty",
                    MethodSettings {
                        class_weights: tiny,
                        ..short(Method::SdClasses)
                    },
                ),
            ],
        ),
        (
            short(Method::Irm),
            vec![
                (
                    "IRM penalty",
                    MethodSettings {
                        coefficient: 0.0,
                        ..short(Method::Irm)
                    },
                ),
                (
                    "L2 term",
                    MethodSettings {
                        l2: 0.0,
                        ..short(Method::Irm)
                    },
                ),
            ],
        ),
    ];
    for (settings, mutants) in cases {
        let name = settings.method.name();
        let (candle_end, candle_theta) =
            oracle::train(&r.weights, &settings, &r.data, DType::F64).unwrap();
        let (end, theta) = hand(&r, &settings);
        let start: Vec<f64> = network::<f64>(&r.weights).unwrap().parameters().to_vec();
        let moved = max_abs_diff(&start, &candle_theta);
        let gap = max_abs_diff(&theta, &candle_theta);
        eprintln!("{name}: parameters moved {moved:.2e}, hand-written vs candle {gap:.1e}");
        // Two summation orders of the same f64 sums over 30 Adam steps: rounding (measured
        // 5.6e-17 here; Adam's normalised steps keep it there).
        assert!(gap <= 1e-13, "{name}: parameters differ by {gap:e}");
        assert!((end.train_nll - candle_end.train_nll).abs() <= 1e-13);
        assert_eq!(
            (end.train_accuracy, end.test_accuracy),
            (candle_end.train_accuracy, candle_end.test_accuracy)
        );
        for (term, mutant) in mutants {
            let (_, without) = hand(&r, &mutant);
            let effect = max_abs_diff(&without, &candle_theta);
            eprintln!("  without the {term}: {effect:.1e} from candle");
            assert!(
                effect >= 1e6 * 1e-13,
                "{name}: dropping the {term} moves the run by {effect:e} only"
            );
        }
    }
}

/// J(θ) of the objective at `step` including IRM's L2 term, and its gradient by the hand-written
/// backward pass.
fn objective_and_gradient(
    net: &crate::deep::DenseMlp<f64>,
    x: &[f64],
    y: &[f64],
    envs: &[usize],
    s: &MethodSettings,
    step: usize,
) -> (f64, Vec<f64>) {
    let mut work = crate::deep::DenseWork::default();
    let f = net.forward(x, &mut work).to_vec();
    let mut g = vec![0.0; f.len()];
    let (_, l2_factor, loss) = slopes(s, step, &f, y, envs, &mut g);
    let theta = net.parameters();
    let squares: f64 = theta.iter().map(|v| v * v).sum();
    let mut grad = net.backward(x, &g, &mut work).to_vec();
    grad.iter_mut()
        .zip(theta)
        .for_each(|(d, t)| *d += l2_factor * t);
    (loss + l2_factor / 2.0 * squares, grad)
}

#[test]
fn objective_gradients_match_central_differences() {
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(7);
    let (d, n) = (6, 14);
    let envs = [6, 8];
    let x: Vec<f64> = (0..n * d).map(|_| rng.random::<f64>()).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| ((i * 7 + 3) % 3 == 0) as u8 as f64)
        .collect();
    let mut weights = MlpWeights::xavier(d, 5, 3);
    weights.b1 = (0..5).map(|j| 0.1 * j as f64 - 0.2).collect();
    weights.b3 = vec![0.3];
    let net = network::<f64>(&weights).unwrap();
    let irm = MethodSettings {
        coefficient: 50.0,
        l2: 0.01,
        ..MethodSettings::reference(Method::Irm)
    };
    let classes = MethodSettings {
        class_weights: [0.5, 2.0],
        class_targets: [1.0, 0.5],
        coefficient: 0.3,
        ..MethodSettings::reference(Method::SdClasses)
    };
    let h = 1e-6;
    for (s, step) in [
        (MethodSettings::reference(Method::Erm), 0),
        (classes.clone(), 0),
        (classes, 1000),
        (irm.clone(), 0),
        (irm, 1000),
    ] {
        let (_, grad) = objective_and_gradient(&net, &x, &y, &envs, &s, step);
        let scale = grad.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let mut worst: f64 = 0.0;
        for k in 0..grad.len() {
            let at = |delta: f64| {
                let mut theta = net.parameters().to_vec();
                theta[k] += delta;
                let moved = crate::deep::DenseMlp::new(net.sizes().to_vec(), theta).unwrap();
                objective_and_gradient(&moved, &x, &y, &envs, &s, step).0
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            worst = worst.max((fd - grad[k]).abs() / scale);
        }
        eprintln!(
            "{} at step {step}: max |fd − analytic| / max |∇J| = {worst:.1e} (max |∇J| {scale:.2e})",
            s.method.name()
        );
        // Central differences at h = 1e-6: truncation O(h²) and rounding O(ε/h) ≈ 1e-10.
        assert!(worst < 1e-7, "{}: {worst:e}", s.method.name());
    }
}
