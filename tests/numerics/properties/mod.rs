//! Property tests: statements of docs/theory.md checked on random systems against the exact
//! solvers: the dynamics ([`dynamics`]: properties 1–4), the steady states and their
//! sensitivities ([`steady_states`]: 5–9), the closed forms ([`closed_forms`]: 10–11).
//!
//! Every property draws random feature systems (docs/theory.md §1.2): sizes 2–8, Haar-random
//! couplings U,
//! geometric spectra s₁ = `from` ∈ [0.5, 6] down to s_n = `to` ∈ [0.1, from], λ log-uniform in
//! [1e-3, 0.5] (narrower where a property says so), and compares what the theory says with what
//! the solvers compute, with an explicit, justified tolerance.
//!
//! Runs are deterministic: every property uses ChaCha with a fixed seed (its own), so a failure
//! reproduces exactly, and no failure-persistence file is written into the source tree. A failing
//! case is shrunk and printed with its inputs (each input type has a compact `Debug`).
//!
//! Run with `cargo test --release --test numerics properties::`.

mod closed_forms;
mod dynamics;
mod steady_states;

use std::fmt;

use gstarve_core::model::{sigmoid_prime, DualDynamics, Loss, PrimalDynamics, Regulariser};
use gstarve_core::ode::{FlowMethod, FlowOptions, Trajectory};
use gstarve_core::solvers::flow::primal_flow;
use gstarve_core::solvers::gd::{gradient_descent, gradient_descent_parameters, GdOptions};
use gstarve_core::solvers::integrate;
use gstarve_core::solvers::steady::{steady_state, steady_state_with, NewtonParams};
use gstarve_core::systems::{FeatureSystem, Spectrum};
use gstarve_core::theory::decoupled::unregularised_trajectory;
use gstarve_core::theory::perturbation::{
    exponential_coupling, first_order_steady_state, rotation_generator,
};
use gstarve_core::theory::sensitivity::{
    l2_sensitivity, rotation_cross_curvature, two_feature_criterion,
};
use gstarve_core::theory::{sd, squared};
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, RngSeed, TestCaseError};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// Base of the fixed RNG seeds; property k uses `SEED + k`, so the properties draw independent
/// streams and every run draws the same cases.
const SEED: u64 = 0x6772_6164_5f73_7461; // "grad_sta"

/// A deterministic configuration: `cases` cases from ChaCha seeded with `SEED + property`, no
/// persistence files, and a bounded shrink (each case runs solvers, so an unbounded shrink of a
/// failure could take minutes; 256 iterations still shrink far enough to read the case).
fn config(property: u64, cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(SEED + property),
        failure_persistence: None,
        max_shrink_iters: 256,
        max_global_rejects: 4096,
        ..ProptestConfig::default()
    }
}

/// A library error as a test failure (with the library's one-line message).
fn ok<T>(result: gstarve_core::Result<T>, what: &str) -> Result<T, TestCaseError> {
    result.map_err(|e| TestCaseError::fail(format!("{what}: {e}")))
}

/// The explicit method of the reference flows compared with grid values.
///
/// Dopri5, not Dop853: on a component that has relaxed to its fixed point while the step is
/// limited by stability (a stiff mode, s_j² ≫ the slow rates), the order-7 dense output of
/// ode_solvers' Dop853 (Hairer's continuous extension) is off by up to ~1e-6 relative at interior
/// grid points even at rtol 1e-11, while its step ends and Dopri5's dense output stay at the
/// tolerance. Found by properties 1 and 11 (e.g. U = I, s = (5.35, 0.69), SD λ = 0.5: z₁ off by
/// 9e-7 at τ = 12 with rtol 1e-11); a limitation of the library's flow output, reported, not
/// fixed here.
const REFERENCE_FLOW: FlowMethod = FlowMethod::Dopri5;

// ---------------------------------------------------------------------------------------------
// Strategies and their inputs
// ---------------------------------------------------------------------------------------------

/// x log-uniform in [lo, hi].
fn log_uniform(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    (lo.ln()..=hi.ln()).prop_map(f64::exp)
}

/// A geometric spectrum s₁ = `from` ≥ … ≥ s_n = `to`.
#[derive(Clone, Copy, PartialEq)]
struct Geometric {
    from: f64,
    to: f64,
}

impl fmt::Debug for Geometric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s {:?} → {:?}", self.from, self.to)
    }
}

impl Geometric {
    fn spectrum(self) -> Spectrum {
        Spectrum::Geometric {
            from: self.from,
            to: self.to,
        }
    }

    fn strengths(self, n: usize) -> Result<DVector<f64>, TestCaseError> {
        ok(self.spectrum().strengths(n), "spectrum")
    }
}

/// `from` ∈ [0.5, 6], `to` ∈ [0.1, from] (drawn as a fraction of the way, so it shrinks well).
fn geometric() -> impl Strategy<Value = Geometric> {
    (0.5f64..=6.0, 0.0f64..=1.0).prop_map(|(from, t)| Geometric {
        from,
        to: 0.1 + t * (from - 0.1),
    })
}

/// A random system: n examples = n features, Haar coupling from `seed`, a geometric spectrum,
/// and the λ of its regulariser.
#[derive(Clone, Copy)]
struct RandomSystem {
    n: usize,
    spectrum: Geometric,
    lambda: f64,
    seed: u64,
}

impl fmt::Debug for RandomSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FeatureSystem::random({}, Geometric {{ from: {:?}, to: {:?} }}, {}), λ = {:?}",
            self.n, self.spectrum.from, self.spectrum.to, self.seed, self.lambda
        )
    }
}

impl RandomSystem {
    fn build(&self) -> Result<FeatureSystem, TestCaseError> {
        ok(
            FeatureSystem::random(self.n, self.spectrum.spectrum(), self.seed),
            "random system",
        )
    }
}

/// Random systems of size 2–8 with λ log-uniform in [lambda_lo, lambda_hi].
fn random_system(lambda_lo: f64, lambda_hi: f64) -> impl Strategy<Value = RandomSystem> {
    (
        2usize..=8,
        geometric(),
        log_uniform(lambda_lo, lambda_hi),
        any::<u64>(),
    )
        .prop_map(|(n, spectrum, lambda, seed)| RandomSystem {
            n,
            spectrum,
            lambda,
            seed,
        })
}

/// Which regulariser a case uses (its λ comes from the system).
#[derive(Clone, Copy, Debug, PartialEq)]
enum RegKind {
    L2,
    Sd,
    None,
}

impl RegKind {
    fn with(self, lambda: f64) -> Regulariser {
        match self {
            RegKind::L2 => Regulariser::L2 { lambda },
            RegKind::Sd => Regulariser::SpectralDecoupling { lambda },
            RegKind::None => Regulariser::None,
        }
    }
}

fn any_regulariser() -> impl Strategy<Value = RegKind> {
    prop_oneof![Just(RegKind::L2), Just(RegKind::Sd), Just(RegKind::None)]
}

fn any_loss() -> impl Strategy<Value = Loss> {
    prop_oneof![Just(Loss::Logistic), Just(Loss::Squared)]
}

/// p × n with orthonormal columns (QR of a Gaussian matrix, seeded), p ≥ n.
fn orthonormal_columns(p: usize, n: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(seed);
    let g = DMatrix::from_fn(p, n, |_, _| StandardNormal.sample(&mut rng));
    g.qr().q()
}

/// Labels ±1 from a seed (bit i of the seed).
fn labels(n: usize, seed: u64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            if (seed >> (i % 64)) & 1 == 1 {
                1.0
            } else {
                -1.0
            }
        })
        .collect()
}

/// Φ = Y U S Vᵀ (n × p): the features whose label-signed SVD is (U, S, V), docs/theory.md §1.2.
fn features_of(system: &FeatureSystem, v: &DMatrix<f64>, labels: &[f64]) -> DMatrix<f64> {
    let mut us = system.coupling().clone();
    for (j, mut col) in us.column_iter_mut().enumerate() {
        col *= system.strengths()[j];
    }
    let mut phi = us * v.transpose();
    for (i, mut row) in phi.row_iter_mut().enumerate() {
        row *= labels[i];
    }
    phi
}

/// GD options with η = `fraction`·2/bound (the stability limit of docs/theory.md §3.6 times
/// `fraction`).
fn gd_options(dynamics: &PrimalDynamics, fraction: f64, steps: usize, points: usize) -> GdOptions {
    GdOptions::new(
        fraction * 2.0 / dynamics.curvature_bound(),
        steps,
        points,
        false,
    )
    .unwrap()
}

/// z* of the logistic L2 flow solved to near rounding (Newton tolerance 1e-14 instead of the
/// default 1e-12), for finite differences, whose rounding error is the steady state's divided by
/// the step. (1e-14 is at the rounding floor of the residual on some of these systems, where
/// Newton must still stop (docs/theory.md §12.4); 1e-15 is below it.)
fn tight_l2_steady_state(
    system: &FeatureSystem,
    lambda: f64,
) -> Result<DVector<f64>, TestCaseError> {
    let dynamics = ok(
        PrimalDynamics::new(system, Loss::Logistic, Regulariser::L2 { lambda }),
        "dynamics",
    )?;
    let params = NewtonParams {
        tolerance: 1e-14,
        max_iterations: 200,
    };
    Ok(ok(steady_state_with(&dynamics, &params), "steady state")?.responses)
}

/// Relative step of the central differences in s_i²: truncation error ~ h² ≈ 1e-10 relative,
/// rounding error ~ (error of z*)/(h s_i²) with the error of z* ≲ 1e-14·‖z*‖.
const FD_STEP: f64 = 1e-5;

/// Column `i` of ∂z*/∂(s²) by central differences of the steady state, step h = 1e-5·s_i².
fn fd_column(system: &FeatureSystem, lambda: f64, i: usize) -> Result<DVector<f64>, TestCaseError> {
    let s2 = system.strengths_squared();
    let h = FD_STEP * s2[i];
    let shifted = |sign: f64| {
        let mut s2_shift = s2.clone();
        s2_shift[i] += sign * h;
        let sys = ok(
            system.with_strengths(s2_shift.map(f64::sqrt)),
            "shifted system",
        )?;
        tight_l2_steady_state(&sys, lambda)
    };
    Ok((shifted(1.0)? - shifted(-1.0)?) / (2.0 * h))
}
