//! The candle network against the hand-written one (same draw, same gradient, same SGD
//! trajectory), candle's gradients against finite differences where there is no hand-written
//! twin (depth, BatchNorm), and Adam, BatchNorm and dropout against their closed forms.

use candle_core::Tensor;
use rand::SeedableRng;

use super::train::{dropout_mask, objective};
use super::*;
use crate::data::{two_moons, MoonsOptions};
use crate::network::{objective_gradient, train, NetworkOptions, TrainOptions};
use crate::test_support::max_abs_diff;

fn moons(n: usize, seed: u64) -> crate::data::Dataset {
    two_moons(&MoonsOptions {
        n,
        seed,
        ..Default::default()
    })
    .unwrap()
}

fn two_layer(width: usize, seed: u64) -> TwoLayerRelu {
    TwoLayerRelu::init(
        2,
        &NetworkOptions {
            width,
            seed,
            ..Default::default()
        },
    )
    .unwrap()
}

/// ∇J by candle's backward pass, in the order of [`Mlp::parameters`].
fn gradient(net: &Mlp, data: &crate::data::Dataset, sd: f64) -> Vec<f64> {
    let x = net.input_tensor(data.inputs()).unwrap();
    let y = Tensor::from_vec(data.labels().as_slice().to_vec(), data.len(), x.device()).unwrap();
    let (f, _) = net.forward(&x, Mode::Train { mask: None }).unwrap();
    let grads = objective(&f, &y, sd).unwrap().backward().unwrap();
    net.vars()
        .iter()
        .flat_map(|v| {
            grads
                .get(v.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()
        })
        .collect()
}

/// J in training mode (batch statistics, no dropout) at the current parameters.
fn training_objective(net: &Mlp, data: &crate::data::Dataset, sd: f64) -> f64 {
    let x = net.input_tensor(data.inputs()).unwrap();
    let y = Tensor::from_vec(data.labels().as_slice().to_vec(), data.len(), x.device()).unwrap();
    let (f, _) = net.forward(&x, Mode::Train { mask: None }).unwrap();
    objective(&f, &y, sd).unwrap().to_scalar::<f64>().unwrap()
}

#[test]
fn two_layer_initialisation_is_the_hand_written_draw() {
    for seed in [0, 7] {
        let mlp = Mlp::init(
            2,
            &MlpOptions {
                width: 50,
                seed,
                ..Default::default()
            },
        )
        .unwrap();
        // Value for value: the same ChaCha12 stream, the same order, the same bounds.
        assert_eq!(mlp.parameters().unwrap(), two_layer(50, seed).parameters());
    }
}

#[test]
fn gradient_and_sgd_trajectory_match_the_hand_written_network() {
    let data = moons(300, 0);
    let net = two_layer(500, 0);
    let mlp = Mlp::from_two_layer(&net, &MlpOptions::default()).unwrap();
    let sd = 0.003;
    let g_hand = objective_gradient(&net, &data, sd, 0.0).unwrap();
    let g_candle = gradient(&mlp, &data, sd);
    let scale = g_hand.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let gap = max_abs_diff(&g_hand, &g_candle);
    // Two summation orders of the same sums over 300 examples: rounding only.
    assert!(
        gap <= 1e-13 * scale,
        "gradient gap {gap:e} (scale {scale:e})"
    );

    // 200 steps of the paper's SGD (momentum, weight decay, SD) from the same weights; measured:
    // outputs 6.2e-15 apart (max |ŷ| 5.8), parameters 1.1e-16.
    let (epochs, lr, mu, wd) = (200, 1e-2, 0.9, 2e-4);
    let mut hand = net.clone();
    let record = train(
        &mut hand,
        &data,
        None,
        &TrainOptions {
            epochs,
            learning_rate: lr,
            momentum: mu,
            weight_decay: wd,
            spectral_decoupling: sd,
            record_every: epochs,
            parallel: false,
        },
    )
    .unwrap();
    let mut deep = mlp.clone();
    let out = train_mlp(
        &mut deep,
        &data,
        &MlpTrainOptions {
            epochs,
            optimiser: Optimiser::Sgd {
                learning_rate: lr,
                momentum: mu,
                weight_decay: wd,
            },
            spectral_decoupling: sd,
        },
    )
    .unwrap();
    let y_hand = record.outputs.last().unwrap();
    let size = y_hand.amax();
    let gap = max_abs_diff(y_hand.as_slice(), out.outputs.as_slice());
    assert!(
        gap <= 1e-12 * size,
        "outputs after {epochs} steps differ by {gap:e} (max |ŷ| {size:e})"
    );
    let theta_gap = max_abs_diff(&hand.parameters(), &deep.parameters().unwrap());
    assert!(theta_gap <= 1e-12, "parameters differ by {theta_gap:e}");
    assert!((record.loss.last().unwrap() - out.final_loss).abs() <= 1e-12);
}

#[test]
fn deep_batch_norm_gradient_matches_finite_differences() {
    let data = moons(24, 3);
    let mlp = Mlp::init(
        2,
        &MlpOptions {
            layers: 4,
            width: 6,
            batch_norm: true,
            seed: 5,
            ..Default::default()
        },
    )
    .unwrap();
    let sd = 0.01;
    let g = gradient(&mlp, &data, sd);
    let theta = mlp.parameters().unwrap();
    assert_eq!(g.len(), theta.len());
    let vars = mlp.vars();
    let h = 1e-6;
    let mut worst: f64 = 0.0;
    let mut index = 0;
    for var in &vars {
        let shape = var.as_tensor().dims().to_vec();
        let count: usize = shape.iter().product();
        let values = var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        for k in 0..count {
            let at = |delta: f64| {
                let mut v = values.clone();
                v[k] += delta;
                var.set(&Tensor::from_vec(v, shape.as_slice(), &candle_core::Device::Cpu).unwrap())
                    .unwrap();
                training_objective(&mlp, &data, sd)
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            at(0.0);
            worst = worst.max((fd - g[index]).abs());
            index += 1;
        }
    }
    // Central differences: error O(h²)·J''' + O(ε/h) ≈ 1e-10 here; ReLU kinks are not met at
    // these points (a kink would show as an O(1) error).
    assert!(worst < 1e-7, "worst |fd − autograd| = {worst:e}");
}

#[test]
fn adam_first_step_is_the_sign_step() {
    // Step 1: m̂ = g, v̂ = g², so θ₁ = θ₀ − η g/(|g| + ε).
    let data = moons(40, 1);
    let mut mlp = Mlp::init(
        2,
        &MlpOptions {
            width: 10,
            ..Default::default()
        },
    )
    .unwrap();
    let theta0 = mlp.parameters().unwrap();
    let g = gradient(&mlp, &data, 0.0);
    let lr = 3e-3;
    train_mlp(
        &mut mlp,
        &data,
        &MlpTrainOptions {
            epochs: 1,
            optimiser: Optimiser::adam(lr),
            spectral_decoupling: 0.0,
        },
    )
    .unwrap();
    let expected: Vec<f64> = theta0
        .iter()
        .zip(&g)
        .map(|(t, g)| t - lr * g / (g.abs() + 1e-8))
        .collect();
    let gap = max_abs_diff(&expected, &mlp.parameters().unwrap());
    assert!(gap < 1e-15, "Adam's first step off by {gap:e}");
}

#[test]
fn batch_norm_running_statistics_follow_pytorch() {
    let data = moons(30, 2);
    let options = MlpOptions {
        width: 4,
        batch_norm: true,
        ..Default::default()
    };
    let mut mlp = Mlp::init(2, &options).unwrap();
    // The first pre-activation a = W₁x + b₁ at initialisation, by hand.
    let theta = mlp.parameters().unwrap();
    let (w, b) = (&theta[..8], &theta[8..12]);
    let n = data.len() as f64;
    let mut mean = [0.0; 4];
    let mut square = [0.0; 4];
    for row in data.inputs().row_iter() {
        for j in 0..4 {
            let a = w[2 * j] * row[0] + w[2 * j + 1] * row[1] + b[j];
            mean[j] += a / n;
            square[j] += a * a / n;
        }
    }
    // One step with a tiny learning rate: the statistics are those of the initial network.
    train_mlp(
        &mut mlp,
        &data,
        &MlpTrainOptions {
            epochs: 1,
            optimiser: Optimiser::Sgd {
                learning_rate: 1e-300,
                momentum: 0.0,
                weight_decay: 0.0,
            },
            spectral_decoupling: 0.0,
        },
    )
    .unwrap();
    let bn = mlp.batch_norm.as_ref().unwrap();
    let rm = bn.running_mean.to_vec1::<f64>().unwrap();
    let rv = bn.running_var.to_vec1::<f64>().unwrap();
    for j in 0..4 {
        let var = square[j] - mean[j] * mean[j];
        assert!((rm[j] - 0.1 * mean[j]).abs() < 1e-14, "running mean {j}");
        let expected = 0.9 + 0.1 * var * n / (n - 1.0);
        assert!((rv[j] - expected).abs() < 1e-13, "running var {j}");
    }
    // Evaluation uses them: f = W₂ relu(γ(a − r_μ)/√(r_σ² + ε) + β) + b₂ with γ = 1, β = 0.
    let x = data.inputs().row(0);
    let theta = mlp.parameters().unwrap();
    let mut f = theta[16];
    for j in 0..4 {
        let a = theta[2 * j] * x[0] + theta[2 * j + 1] * x[1] + theta[8 + j];
        let normed = (a - rm[j]) / (rv[j] + BATCH_NORM_EPSILON).sqrt();
        f += theta[12 + j] * normed.max(0.0);
    }
    let out = mlp.outputs(&data.inputs().rows(0, 1).into_owned()).unwrap();
    assert!((out[0] - f).abs() < 1e-14, "{} against {f}", out[0]);
}

#[test]
fn dropout_masks_drop_p_and_keep_the_mean() {
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(0);
    let (count, p) = (200_000, 0.7);
    let mask = dropout_mask(&mut rng, count, p);
    let dropped = mask.iter().filter(|&&v| v == 0.0).count() as f64 / count as f64;
    // Binomial: standard deviation √(p(1 − p)/count) ≈ 1.0e-3.
    assert!((dropped - p).abs() < 5e-3, "dropped {dropped}");
    assert!(mask
        .iter()
        .all(|&v| v == 0.0 || (v - 1.0 / 0.3).abs() < 1e-15));
    let mean = mask.iter().sum::<f64>() / count as f64;
    assert!((mean - 1.0).abs() < 0.02, "mean {mean}");
}

#[test]
fn dropout_runs_are_reproducible_and_differ_from_none() {
    let data = moons(40, 0);
    let run = |dropout: f64| {
        let mut mlp = Mlp::init(
            2,
            &MlpOptions {
                width: 20,
                dropout,
                ..Default::default()
            },
        )
        .unwrap();
        let options = MlpTrainOptions {
            epochs: 20,
            ..Default::default()
        };
        train_mlp(&mut mlp, &data, &options).unwrap().outputs
    };
    assert_eq!(run(0.5), run(0.5));
    assert!(max_abs_diff(run(0.5).as_slice(), run(0.0).as_slice()) > 1e-6);
}

#[test]
fn rejects_bad_options() {
    for o in [
        MlpOptions {
            layers: 1,
            ..Default::default()
        },
        MlpOptions {
            width: 0,
            ..Default::default()
        },
        MlpOptions {
            dropout: 1.0,
            ..Default::default()
        },
    ] {
        assert!(matches!(
            Mlp::init(2, &o),
            Err(Error::Input(InputError::InvalidParameter { .. }))
        ));
    }
    for o in [
        Optimiser::adam(0.0),
        Optimiser::Sgd {
            learning_rate: 1e-2,
            momentum: 1.0,
            weight_decay: 0.0,
        },
    ] {
        let options = MlpTrainOptions {
            optimiser: o,
            ..Default::default()
        };
        assert!(options.validate().is_err());
    }
}
