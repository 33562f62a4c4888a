use super::train::vec_logits;
use super::*;
use crate::data::{spirals, ClassDataset, SpiralsOptions};
use crate::network::{NetworkOptions, Parameterisation, TrainOptions};
use gstarve_core::model::{Regulariser, SoftmaxDynamics};

fn data(n: usize, c: usize) -> ClassDataset {
    spirals(&SpiralsOptions {
        n,
        classes: c,
        noise: 0.05,
        seed: 3,
        ..Default::default()
    })
    .unwrap()
}

fn net(width: usize, c: usize, parameterisation: Parameterisation, zero: bool) -> MulticlassRelu {
    MulticlassRelu::init(
        2,
        c,
        &NetworkOptions {
            width,
            parameterisation,
            seed: 5,
            zero_output: zero,
        },
    )
    .unwrap()
}

/// Backpropagation against central differences of J(θ) (step 1e-6: truncation ~1e-12 · J''',
/// rounding ~1e-16/1e-6; a ReLU kink inside a step would show as an O(1) gap).
#[test]
fn backprop_matches_finite_differences() {
    let d = data(9, 3);
    let mut net = net(6, 3, Parameterisation::PyTorch, false);
    let wd = 0.01;
    let g = multiclass_objective_gradient(&net, &d, wd).unwrap();
    let theta = net.parameters();
    assert_eq!(theta.len(), 6 * 3 + 3 * 7);
    let h = 1e-6;
    let mut worst: f64 = 0.0;
    for p in 0..theta.len() {
        let mut shifted = |delta: f64| {
            let mut t = theta.clone();
            t[p] += delta;
            net.set_parameters(&t).unwrap();
            multiclass_objective(&net, &d, wd).unwrap()
        };
        let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
        worst = worst.max((numeric - g[p]).abs());
    }
    assert!(worst < 1e-8, "largest gap {worst:e}");
}

/// Φ against central differences of the logits, row i·c + k = output k of example i.
#[test]
fn jacobian_matches_finite_differences() {
    let d = data(5, 3);
    let mut net = net(4, 3, Parameterisation::Ntk, false);
    let phi = net.jacobian(d.inputs()).unwrap();
    assert_eq!(phi.shape(), (15, net.num_parameters()));
    let theta = net.parameters();
    let h = 1e-6;
    for p in 0..theta.len() {
        let mut at = |delta: f64| {
            let mut t = theta.clone();
            t[p] += delta;
            net.set_parameters(&t).unwrap();
            vec_logits(&net.outputs(d.inputs()).unwrap())
        };
        let numeric = (at(h) - at(-h)) / (2.0 * h);
        let gap = (numeric - phi.column(p).clone_owned()).amax();
        assert!(gap < 1e-8, "parameter {p}: {gap:e}");
    }
}

/// The zero-output start gives F₀ = 0 exactly, so z(0) = 0.
#[test]
fn zero_output_start_is_zero() {
    let d = data(12, 4);
    let n = net(10, 4, Parameterisation::PyTorch, true);
    assert_eq!(n.outputs(d.inputs()).unwrap().amax(), 0.0);
    let f = multiclass_features(&n, &d).unwrap();
    assert_eq!(f.initial_responses.amax(), 0.0);
    assert!(MulticlassRelu::init(2, 1, &NetworkOptions::default()).is_err());
    let odd = NetworkOptions {
        width: 5,
        zero_output: true,
        ..Default::default()
    };
    assert!(MulticlassRelu::init(2, 3, &odd).is_err());
}

/// One GD step of rate η on the mean loss moves the real network's responses by
/// (η/n)·F(z(0)) + O(η²), F the softmax dynamics of its feature system (docs/theory.md §9.2),
/// from z(0) = Uᵀvec(F₀): with a random start the remainder shrinks 100-fold when η shrinks
/// 10-fold. With the zero-output start the second-order term of the first step cancels between
/// the paired hidden units (ΔA equal, Δh opposite), so the step is linear to rounding.
#[test]
fn one_step_matches_the_linearised_dynamics_to_second_order() {
    let d = data(12, 3);
    for zero in [false, true] {
        let net0 = net(40, 3, Parameterisation::Ntk, zero);
        let features = multiclass_features(&net0, &d).unwrap();
        let sys = &features.system;
        // r = nc = 36 < p = 40·3 + 3·41: U is square and carries F₀ exactly.
        assert_eq!(sys.rank(), 36);
        assert!(features.initial_output_outside < 1e-12);
        let dynamics = SoftmaxDynamics::new(sys, Regulariser::None).unwrap();
        let rate = dynamics.rhs(&features.initial_responses);
        let remainder = |eta: f64| {
            let mut n = net0.clone();
            let options = TrainOptions {
                epochs: 1,
                learning_rate: eta,
                momentum: 0.0,
                weight_decay: 0.0,
                spectral_decoupling: 0.0,
                record_every: 1,
                parallel: false,
            };
            let rec = train_multiclass(&mut n, &d, Some(sys), &options).unwrap();
            assert!((&rec.responses[0] - &features.initial_responses).amax() < 1e-12);
            let step = &rec.responses[1] - &rec.responses[0];
            let predicted = &rate * (eta / d.len() as f64);
            ((step - &predicted).amax(), predicted.amax())
        };
        let (r1, size1) = remainder(1e-1);
        let (r2, size2) = remainder(1e-2);
        if zero {
            assert!(r1 < 1e-12 * size1 && r2 < 1e-12 * size2, "{r1:e} {r2:e}");
        } else {
            assert!(r1 < 1e-2 * size1, "remainder {r1:e} of {size1:e}");
            let ratio = r1 / r2;
            assert!((60.0..160.0).contains(&ratio), "remainder ratio {ratio}");
        }
    }
}
