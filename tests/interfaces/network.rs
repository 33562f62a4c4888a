//! Real networks: the two-moons generator, the closed-form Jacobian, the trainer's
//! gradient, the linearised theory against the trained network, the starvation result, and the
//! command line's handling of bad data.

use super::support::{assert_rejected, gstarve, write};
use std::path::Path;

use gstarve_core::error::{InputError, NumericalError};
use gstarve_core::model::{Loss, PrimalDynamics, Regulariser};
use gstarve_core::ode::{FlowMethod, FlowOptions};
use gstarve_core::solvers::flow::primal_flow;
use gstarve_core::Error;
use gstarve_net::data::{parse_dataset_csv, two_moons, Dataset, MoonsOptions};
use gstarve_net::network::{
    network_features, objective, objective_gradient, train, NetworkOptions, Parameterisation,
    TrainOptions, TwoLayerRelu,
};
use nalgebra::{DMatrix, DVector};

fn moons(n: usize, margin: f64, seed: u64) -> Dataset {
    two_moons(&MoonsOptions {
        n,
        margin,
        seed,
        ..Default::default()
    })
    .unwrap()
}

fn net(d: usize, width: usize, parameterisation: Parameterisation, seed: u64) -> TwoLayerRelu {
    TwoLayerRelu::init(
        d,
        &NetworkOptions {
            width,
            parameterisation,
            seed,
            zero_output: false,
        },
    )
    .unwrap()
}

/// min over units j and examples i of |w_j·x_i + b_j|: how far every pre-activation is from
/// ReLU's kink (central differences of step h are exact up to rounding when this exceeds h·|x|).
fn kink_distance(net: &TwoLayerRelu, x: &DMatrix<f64>) -> f64 {
    let theta = net.parameters();
    let (m, d) = (net.width(), net.input_dim());
    let mut worst = f64::INFINITY;
    for j in 0..m {
        for i in 0..x.nrows() {
            let h = theta[m * d + j] + (0..d).map(|k| theta[j * d + k] * x[(i, k)]).sum::<f64>();
            worst = worst.min(h.abs());
        }
    }
    worst
}

#[test]
fn jacobian_matches_central_differences() {
    for parameterisation in [Parameterisation::PyTorch, Parameterisation::Ntk] {
        for d in [2, 3] {
            let x = DMatrix::from_fn(5, d, |i, k| ((i * 5 + k * 3) % 7) as f64 / 3.0 - 1.0);
            let mut net = net(d, 7, parameterisation, 11);
            assert!(kink_distance(&net, &x) > 1e-4);
            let phi = net.jacobian(&x).unwrap();
            assert_eq!(phi.shape(), (5, 7 * (d + 2) + 1));
            let theta = net.parameters();
            let h = 1e-6;
            let mut worst: f64 = 0.0;
            for q in 0..theta.len() {
                let mut t = theta.clone();
                t[q] = theta[q] + h;
                net.set_parameters(&t).unwrap();
                let plus = net.outputs(&x).unwrap();
                t[q] = theta[q] - h;
                net.set_parameters(&t).unwrap();
                let minus = net.outputs(&x).unwrap();
                for i in 0..5 {
                    let fd = (plus[i] - minus[i]) / (2.0 * h);
                    worst = worst.max((fd - phi[(i, q)]).abs() / phi[(i, q)].abs().max(1.0));
                }
            }
            net.set_parameters(&theta).unwrap();
            // f is bilinear in (a_j, w_j, b_j) away from kinks: central differences are exact
            // up to rounding, ε·|f|/h ≈ 1e-10.
            assert!(
                worst < 1e-7,
                "{parameterisation:?} d = {d}: worst {worst:.2e}"
            );
        }
    }
}

#[test]
fn two_moons_is_deterministic_folded_and_separated() {
    let a = moons(300, 0.1, 4);
    assert_eq!(a, moons(300, 0.1, 4));
    assert_ne!(a, moons(300, 0.1, 5));
    assert_eq!(a.inputs().shape(), (300, 2));
    let labels = a.labels();
    assert!(labels.iter().all(|&y| y == 1.0 || y == -1.0));
    assert_eq!(labels.iter().filter(|&&y| y == 1.0).count(), 150);
    // After the swap the folded axis is the first input: x = −y(|x₂| + Δ), so y·x ≤ −Δ.
    for (margin, gap) in [(0.0, 0.0), (0.1, 0.1)] {
        let data = moons(300, margin, 4);
        for i in 0..300 {
            let yx = data.labels()[i] * data.inputs()[(i, 0)];
            assert!(yx <= -gap + 1e-12, "example {i}: y·x₁ = {yx}");
        }
    }
    // Δ = +0.1 separates the classes along the folded axis by at least 2Δ; Δ = −0.1 overlaps.
    let gap = |data: &Dataset| {
        let (mut lowest_neg, mut highest_pos) = (f64::INFINITY, f64::NEG_INFINITY);
        for i in 0..data.len() {
            let x = data.inputs()[(i, 0)];
            if data.labels()[i] < 0.0 {
                lowest_neg = lowest_neg.min(x);
            } else {
                highest_pos = highest_pos.max(x);
            }
        }
        lowest_neg - highest_pos
    };
    assert!(gap(&moons(300, 0.1, 4)) >= 0.2 - 1e-12);
    assert!(gap(&moons(300, -0.1, 4)) < 0.0);
    // Rotation by 90°: (u, v) ↦ (−v, u).
    let turned = two_moons(&MoonsOptions {
        angle_degrees: 90.0,
        seed: 4,
        ..Default::default()
    })
    .unwrap();
    for i in 0..300 {
        assert!((turned.inputs()[(i, 0)] + a.inputs()[(i, 1)]).abs() < 1e-12);
        assert!((turned.inputs()[(i, 1)] - a.inputs()[(i, 0)]).abs() < 1e-12);
    }
}

#[test]
fn trainer_gradient_matches_central_differences() {
    let data = moons(20, 0.1, 2);
    for parameterisation in [Parameterisation::PyTorch, Parameterisation::Ntk] {
        let mut net = net(2, 6, parameterisation, 5);
        assert!(kink_distance(&net, data.inputs()) > 1e-5);
        let (sd, wd) = (0.05, 0.01);
        let g = objective_gradient(&net, &data, sd, wd).unwrap();
        let theta = net.parameters();
        let h = 1e-5;
        let scale = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut worst: f64 = 0.0;
        for q in 0..theta.len() {
            let mut t = theta.clone();
            t[q] = theta[q] + h;
            net.set_parameters(&t).unwrap();
            let plus = objective(&net, &data, sd, wd).unwrap();
            t[q] = theta[q] - h;
            net.set_parameters(&t).unwrap();
            let minus = objective(&net, &data, sd, wd).unwrap();
            worst = worst.max(((plus - minus) / (2.0 * h) - g[q]).abs() / scale);
        }
        net.set_parameters(&theta).unwrap();
        assert!(
            worst < 1e-7,
            "{parameterisation:?}: worst relative error {worst:.2e}"
        );
    }
}

/// Largest ‖z_real(τ) − z_flow(τ)‖ over the records, relative to the largest ‖z_flow‖.
fn linearisation_gap(width: usize) -> f64 {
    let data = moons(40, 0.1, 1);
    let mut net = net(2, width, Parameterisation::Ntk, 3);
    let features = network_features(&net, &data).unwrap();
    assert!(features.initial_output_outside < 1e-10);
    let sd = 0.01;
    let options = TrainOptions {
        epochs: 1600,
        learning_rate: 0.05,
        momentum: 0.0,
        weight_decay: 0.0,
        spectral_decoupling: sd,
        record_every: 100,
        parallel: false,
    };
    let record = train(&mut net, &data, Some(&features.system), &options).unwrap();
    // Mean-loss SD coefficient c ↔ λ = 2c in the theory's (docs/theory.md §8.5) sum convention; τ =
    // η·k/n.
    let lambda = 2.0 * sd;
    let dynamics = PrimalDynamics::new(
        &features.system,
        Loss::Logistic,
        Regulariser::SpectralDecoupling { lambda },
    )
    .unwrap();
    let t_end = *record.tau.last().unwrap();
    assert!((t_end - 0.05 * 1600.0 / 40.0).abs() < 1e-12);
    let flow = primal_flow(
        &dynamics,
        &features.initial_responses,
        &FlowOptions::new(t_end, record.tau.len(), 1e-8, 1e-10, FlowMethod::Auto).unwrap(),
    )
    .unwrap();
    let scale = flow
        .states
        .iter()
        .map(|z| DVector::from_column_slice(z).norm())
        .fold(0.0, crate::support::nan_max);
    let gap = record
        .responses
        .iter()
        .zip(&flow.states)
        .map(|(real, lin)| (real - DVector::from_column_slice(lin)).norm())
        .fold(0.0, crate::support::nan_max);
    gap / scale
}

#[test]
fn wide_ntk_network_tracks_the_linearised_flow() {
    let narrow = linearisation_gap(50);
    let wide = linearisation_gap(1000);
    eprintln!("relative gap z_real vs flow: m = 50: {narrow:.4e}, m = 1000: {wide:.4e}");
    assert!(wide < 0.05, "m = 1000: gap {wide:.3e}");
    assert!(
        wide < 0.5 * narrow,
        "gap m=50 {narrow:.3e}, m=1000 {wide:.3e}"
    );
}

/// Final responses z_real (in the initial basis) and strengths of a zero-output NTK network
/// trained on two moons with the given SD coefficient.
/// Final responses z_real (in the initial basis U) of a wide zero-output NTK network trained on
/// separable two moons (Δ = +0.1, n = 100) without momentum, and its feature system.
fn final_responses(
    sd: f64,
    wd: f64,
    epochs: usize,
) -> (Vec<f64>, gstarve_core::systems::FeatureSystem) {
    let data = moons(100, 0.1, 0);
    let mut net = TwoLayerRelu::init(
        2,
        &NetworkOptions {
            width: 500,
            parameterisation: Parameterisation::Ntk,
            seed: 0,
            zero_output: true,
        },
    )
    .unwrap();
    let features = network_features(&net, &data).unwrap();
    let options = TrainOptions {
        epochs,
        learning_rate: 1.0,
        momentum: 0.0,
        weight_decay: wd,
        spectral_decoupling: sd,
        record_every: epochs,
        parallel: false,
    };
    let record = train(&mut net, &data, Some(&features.system), &options).unwrap();
    let z = record.responses.last().unwrap();
    (z.iter().copied().collect(), features.system)
}

#[test]
fn leading_feature_dominates_and_sd_reaches_the_decoupled_steady_state() {
    // Weight decay (L2): one response dominates (the folded, linearly separating axis) and the
    // rest are starved.
    let (z, _) = final_responses(0.0, 1e-4, 10_000);
    let mut by_size: Vec<f64> = z.iter().map(|v| v.abs()).collect();
    by_size.sort_by(|a, b| b.total_cmp(a));
    eprintln!("L2: |z| largest first {:?}", &by_size[..5]);
    assert!(by_size[0] > 2.0 * by_size[1], "{:?}", &by_size[..3]);
    assert!(by_size[3] < 0.1 * by_size[0], "{:?}", &by_size[..4]);
    // SD (c = 0.05 on mean ŷ², λ = 2c): the real network settles at docs/theory.md §4.2's SD steady
    // state z* = μ*·Uᵀ1, which does not depend on the strengths (no starvation, docs/theory.md
    // §5.3). Mode j relaxes at a rate ≥ s_j²λ (docs/theory.md §5.6, linearisation): compare the
    // modes with s_j²·λ·τ_end ≥ 10, whose transient has decayed by e^{−10}.
    let sd = 0.05;
    let lambda = 2.0 * sd;
    let (z, sys) = final_responses(sd, 0.0, 10_000);
    let tau_end = 1.0 * 10_000.0 / 100.0;
    let dynamics = PrimalDynamics::new(
        &sys,
        Loss::Logistic,
        Regulariser::SpectralDecoupling { lambda },
    )
    .unwrap();
    let star = gstarve_core::solvers::steady::steady_state(&dynamics).unwrap();
    let scale = star.responses.norm();
    let mut relaxed = 0;
    let mut worst: f64 = 0.0;
    for (j, s) in sys.strengths().iter().enumerate() {
        if s * s * lambda * tau_end >= 10.0 {
            relaxed += 1;
            worst = worst.max((z[j] - star.responses[j]).abs() / scale);
        }
    }
    eprintln!("SD: {relaxed} relaxed modes, worst |z_j − z*_j|/‖z*‖ = {worst:.3e}");
    assert!(relaxed >= 5, "{relaxed}");
    assert!(worst < 0.01, "{worst:.3e}");
}

#[test]
fn training_divergence_is_an_error() {
    let data = moons(20, 0.1, 0);
    let mut net = net(2, 10, Parameterisation::PyTorch, 0);
    let options = TrainOptions {
        epochs: 500,
        learning_rate: 1e6,
        momentum: 0.9,
        ..Default::default()
    };
    let err = train(&mut net, &data, None, &options).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Numerical(NumericalError::TrainingDiverged { .. })
        ),
        "{err}"
    );
}

#[test]
fn grid_evaluation_matches_pointwise_outputs() {
    let net = net(2, 8, Parameterisation::PyTorch, 1);
    let grid = net.evaluate_grid((-1.0, 1.0), (0.0, 2.0), 5, 3).unwrap();
    assert_eq!(grid.shape(), (3, 5));
    assert_eq!(grid[(2, 1)], net.output(&[-0.5, 2.0]));
    assert!(net.evaluate_grid((1.0, 1.0), (0.0, 1.0), 5, 3).is_err());
}

#[test]
fn csv_dataset_errors_are_typed() {
    assert!(matches!(
        parse_dataset_csv("1,2,1\n3,4\n", "d.csv"),
        Err(Error::Input(InputError::DatasetColumns { line: 2, .. }))
    ));
    assert!(matches!(
        parse_dataset_csv("", "d.csv"),
        Err(Error::Input(InputError::EmptyDataset { .. }))
    ));
}

// --- the command line ---

#[test]
fn network_command_rejects_bad_data_and_options() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("net.json");
    let out = out.to_str().unwrap();
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "cols.csv",
            "x1,x2,y\n0,1,1\n0,1\n",
            &["cols.csv", "line 3", "2 columns"],
        ),
        (
            "nan.csv",
            "0,1,1\n0,NaN,-1\n",
            &["nan.csv", "line 2, column 2", "NaN"],
        ),
        (
            "label.csv",
            "0,1,1\n0,2,-1\n1,1,0\n",
            &["label.csv", "line 2", "label -1"],
        ),
        ("empty.csv", "x1,x2,y\n", &["empty.csv", "empty"]),
    ];
    for (name, text, needles) in cases {
        let f = write(d.path(), name, text);
        assert_rejected(&["network", "--data", &f, "--out", out], needles);
    }
    assert_rejected(
        &["network", "--data", "/nonexistent/d.csv", "--out", out],
        &["/nonexistent/d.csv"],
    );
    assert_rejected(&["network", "--width", "0", "--out", out], &["--width = 0"]);
    assert_rejected(
        &["network", "--width", "5", "--zero-output", "--out", out],
        &["--width = 5", "even"],
    );
    assert_rejected(
        &["network", "--noise", "-1", "--out", out],
        &["--noise = -1"],
    );
    assert_rejected(&["network", "--n", "1", "--out", out], &["--n = 1"]);
    assert!(!Path::new(out).exists());
}

#[test]
fn network_system_file_carries_z0_into_simulate() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("net.json");
    let out = out.to_str().unwrap();
    let res = gstarve(&[
        "network", "--moons", "--n", "30", "--width", "20", "--param", "ntk", "--out", out,
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    let z0: Vec<f64> = serde_json::from_value(file["z0"].clone()).unwrap();
    assert_eq!(z0.len(), 30);
    assert_eq!(file["v"].as_array().unwrap().len(), 20 * 4 + 1);
    let sim = gstarve(&[
        "simulate",
        "--system",
        out,
        "--methods",
        "flow",
        "--reg",
        "sd",
        "--lambda",
        "0.01",
        "--t-end",
        "1",
        "--points",
        "3",
        "--no-fixed-point",
        "--json",
    ]);
    assert!(
        sim.status.success(),
        "{}",
        String::from_utf8_lossy(&sim.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&sim.stdout).unwrap();
    let start: Vec<f64> = serde_json::from_value(report["runs"][0]["z"][0].clone()).unwrap();
    for (a, b) in start.iter().zip(&z0) {
        assert!((a - b).abs() < 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // --zero-output: z(0) = 0 (to rounding).
    let res = gstarve(&[
        "network",
        "--n",
        "30",
        "--width",
        "20",
        "--zero-output",
        "--out",
        out,
        // Another configuration over the first file.
        "--force",
    ]);
    assert!(res.status.success());
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    let z0: Vec<f64> = serde_json::from_value(file["z0"].clone()).unwrap();
    assert!(z0.iter().all(|&z| z.abs() < 1e-12));
}
