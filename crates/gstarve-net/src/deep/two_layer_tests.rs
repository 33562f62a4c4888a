//! The hand-written two-layer network against candle's [`Mlp`] on the same runs: SGD with
//! weight decay and SD, Adam, dropout, BatchNorm and both, from the same draw with the same
//! masks; the outputs, parameters and running statistics must agree to rounding.

use super::*;
use crate::data::{two_moons, MoonsOptions};
use crate::test_support::max_abs_diff;

/// Train both on the same data and options; return (outputs gap / max |ŷ|, parameters gap).
fn compare(options: MlpOptions, train: MlpTrainOptions) -> (f64, f64) {
    let data = two_moons(&MoonsOptions {
        n: 90,
        margin: 0.1,
        seed: 3,
        ..Default::default()
    })
    .unwrap();
    let mut candle = Mlp::init(2, &options).unwrap();
    let mut hand = TwoLayerMlp::init(2, &options).unwrap();
    assert_eq!(candle.parameters().unwrap(), hand.parameters());
    let a = train_mlp(&mut candle, &data, &train).unwrap();
    let b = hand.train(&data, &train).unwrap();
    assert_eq!(a.epochs, b.epochs);
    assert!((a.last_training_loss - b.last_training_loss).abs() <= 1e-12);
    assert!((a.final_loss - b.final_loss).abs() <= 1e-12);
    let size = a.outputs.amax();
    let outputs = max_abs_diff(a.outputs.as_slice(), b.outputs.as_slice()) / size;
    // Evaluation on other points (BatchNorm's running statistics enter here).
    let grid = DMatrix::from_fn(50, 2, |i, k| -2.0 + 0.08 * i as f64 + 0.5 * k as f64);
    let on_grid = max_abs_diff(
        candle.outputs(&grid).unwrap().as_slice(),
        hand.outputs(&grid).unwrap().as_slice(),
    ) / size;
    if let Some((mean, var)) = hand.running_statistics() {
        let bn = candle.batch_norm.as_ref().unwrap();
        let gap = max_abs_diff(&bn.running_mean.to_vec1::<f64>().unwrap(), mean)
            + max_abs_diff(&bn.running_var.to_vec1::<f64>().unwrap(), var);
        assert!(gap <= 1e-11, "running statistics differ by {gap:e}");
    }
    let theta = max_abs_diff(&candle.parameters().unwrap(), hand.parameters());
    (outputs.max(on_grid), theta)
}

#[test]
fn hand_written_two_layer_runs_are_candles() {
    let sgd = |wd| Optimiser::Sgd {
        learning_rate: 1e-2,
        momentum: 0.9,
        weight_decay: wd,
    };
    let net = |dropout, batch_norm| MlpOptions {
        width: 40,
        dropout,
        batch_norm,
        seed: 5,
        ..Default::default()
    };
    let cases = [
        ("SGD, weight decay, SD", net(0.0, false), sgd(0.01), 0.003),
        ("Adam 3e-3", net(0.0, false), Optimiser::adam(3e-3), 0.0),
        ("dropout 0.7", net(0.7, false), sgd(0.0), 0.0),
        ("BatchNorm", net(0.0, true), sgd(0.0), 0.0),
        (
            "dropout and BatchNorm, Adam",
            net(0.3, true),
            Optimiser::adam(1e-3),
            0.0,
        ),
    ];
    for (name, options, optimiser, sd) in cases {
        let (outputs, theta) = compare(
            options,
            MlpTrainOptions {
                epochs: 150,
                optimiser,
                spectral_decoupling: sd,
            },
        );
        // Two summation orders of the same sums, 150 steps: rounding only (measured: outputs
        // ≤ 4.1e-16 relative, parameters ≤ 8.0e-16).
        assert!(
            outputs <= 1e-13,
            "{name}: outputs differ by {outputs:e} (relative)"
        );
        assert!(theta <= 1e-13, "{name}: parameters differ by {theta:e}");
        eprintln!("{name}: outputs {outputs:.1e} relative, parameters {theta:.1e}");
    }
}

#[test]
fn hand_written_two_layer_rejects_what_candle_rejects() {
    let deep = MlpOptions {
        layers: 3,
        ..Default::default()
    };
    assert!(TwoLayerMlp::init(2, &deep).is_err());
    assert!(TwoLayerMlp::init(0, &MlpOptions::default()).is_err());
    let net = TwoLayerMlp::init(2, &MlpOptions::default()).unwrap();
    assert!(net.outputs(&DMatrix::zeros(3, 3)).is_err());
    let one = crate::data::Dataset::new(DMatrix::zeros(1, 2), &[1.0]).unwrap();
    let mut bn = TwoLayerMlp::init(
        2,
        &MlpOptions {
            batch_norm: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(bn.train(&one, &MlpTrainOptions::default()).is_err());
}
