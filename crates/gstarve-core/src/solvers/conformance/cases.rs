//! The catalogue of reference problems: each with its initial state, span, grids, tolerances,
//! the answer (exact, the state the flow settles on, or a tight reference run) and what each
//! method owes on it.
//!
//! The factors in each case's `expect` are how many of its tolerances (mapped by
//! [`Method::accuracy`]) a method's error may reach there: a few times the largest error
//! measured when the case was written (the numbers are in the comments), so that a change that
//! costs accuracy shows.

use nalgebra::{DMatrix, DVector};

use super::problems::{
    logistic_exact, stiff_linear_copies, BlowUp, Linear, Logistic, NanBeyondTwo,
};
use super::Method;
use crate::model::{DualDynamics, Loss, MarginFlow, PrimalDynamics, Regulariser};
use crate::ode::OdeProblem;
use crate::solvers::explicit::ExplicitMethod;
use crate::solvers::steady::steady_state;
use crate::systems::{FeatureSystem, Spectrum};
use crate::theory::decoupled::{l2_root, unregularised_trajectory};

/// A map from a state to what a case compares (e.g. the dual's z(α)).
pub(crate) type Observable = Box<dyn Fn(&[f64]) -> Vec<f64>>;

/// A reference problem.
pub(crate) struct Case {
    /// What it is (in failure messages).
    pub(crate) name: &'static str,
    pub(crate) problem: Box<dyn OdeProblem>,
    pub(crate) y0: Vec<f64>,
    pub(crate) t_end: f64,
    /// The output grids to run on (numbers of points over [0, t_end]).
    pub(crate) points: &'static [usize],
    /// The (rtol, atol) to run at, loosest first, two decades apart when several.
    pub(crate) tolerances: &'static [(f64, f64)],
    /// What is compared: the state, or this function of it.
    pub(crate) observe: Option<Observable>,
    pub(crate) reference: Reference,
    /// Every state lies in the problem's domain.
    pub(crate) domain: Option<fn(&[f64]) -> bool>,
    /// A stiff case: at rtol `.0` an implicit method takes fewer than `.1` accepted steps (an
    /// explicit one, at its stability limit, would need far more).
    pub(crate) stiff_steps: Option<(f64, u64)>,
    /// What a method owes on the case.
    pub(crate) expect: fn(&Method) -> Expect,
}

/// Where a case's answer comes from.
pub(crate) enum Reference {
    /// The exact solution at every output time.
    Exact(Box<dyn Fn(f64) -> Vec<f64>>),
    /// The flow has settled on `state` from output point `from` on.
    Settled { from: usize, state: Vec<f64> },
    /// A run of `method` at tolerances at least a hundred times tighter, on the same grid.
    Tight {
        method: Method,
        rtol: f64,
        atol: f64,
    },
    /// None: the case expects a failure.
    None,
}

/// What a method owes on a case.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Expect {
    /// |y − y_ref| ≤ `factor`·(atol' + rtol'·|y_ref|) and ≤ `cap`·rtol' at every compared point
    /// and component, with (rtol', atol') the method's [`Method::accuracy`] at the requested
    /// tolerances.
    Within { factor: f64, cap: f64 },
    /// [`Expect::Within`], or a stiffness report naming the method (an explicit method on a
    /// stiff case: never a wrong number).
    WithinOrStiff { factor: f64, cap: f64 },
    /// An `IntegrationFailed` naming the method at τ ∈ [lo, hi].
    FailsAt { lo: f64, hi: f64 },
}

/// [`Expect::Within`] without an absolute cap.
fn within(factor: f64) -> Expect {
    Expect::Within {
        factor,
        cap: f64::INFINITY,
    }
}

/// On a stiff case: an explicit method answers within `factor` or reports the stiffness, the
/// others answer within `factor`.
fn explicit_may_stop(method: &Method, factor: f64) -> Expect {
    if method.is_explicit() {
        Expect::WithinOrStiff {
            factor,
            cap: f64::INFINITY,
        }
    } else {
        within(factor)
    }
}

/// A case with one grid of 101 points at rtol 1e-8, atol 1e-10, compared as it is, not stiff,
/// every method within 10 tolerances.
fn case(
    name: &'static str,
    problem: impl OdeProblem + 'static,
    y0: Vec<f64>,
    t_end: f64,
    reference: Reference,
) -> Case {
    Case {
        name,
        problem: Box::new(problem),
        y0,
        t_end,
        points: &[101],
        tolerances: &[(1e-8, 1e-10)],
        observe: None,
        reference,
        domain: None,
        stiff_steps: None,
        expect: |_| within(10.0),
    }
}

/// A system that lives as long as the test (a few hundred bytes, leaked), so that a case can
/// own dynamics that borrow it.
fn leak(system: FeatureSystem) -> &'static FeatureSystem {
    Box::leak(Box::new(system))
}

/// The paper's toy (docs/theory.md §6.1) with l = 4: s = (4, 2), a 30° rotation.
fn toy() -> &'static FeatureSystem {
    leak(FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap())
}

fn vec(y: DVector<f64>) -> Vec<f64> {
    y.as_slice().to_vec()
}

/// The decoupled flow without a regulariser, ż_j = s_j²σ(−z_j) from z = 0, in z (U = I), and
/// its closed form z(τ) = log ω(c) (docs/theory.md §5.2), at every grid point.
///
/// BDF within 100 tolerances (measured ≤ 35), RKC within half its tol^{2/3} scale (measured
/// ≤ 0.28), the others within 10 (measured ≤ 3.8).
fn decoupled_closed_form(
    name: &'static str,
    strengths: &'static [f64],
    t_end: f64,
    points: &'static [usize],
    tolerances: &'static [(f64, f64)],
) -> Case {
    let sys = leak(FeatureSystem::decoupled(strengths).unwrap());
    let dynamics = PrimalDynamics::new(sys, Loss::Logistic, Regulariser::None).unwrap();
    let exact = move |t| {
        strengths
            .iter()
            .map(|&s| unregularised_trajectory(s, 0.0, t).unwrap())
            .collect()
    };
    Case {
        points,
        tolerances,
        expect: |m| {
            within(match m {
                Method::Bdf(_) => 100.0,
                Method::Rkc(_) => 0.5,
                _ => 10.0,
            })
        },
        ..case(
            name,
            dynamics,
            vec![0.0; strengths.len()],
            t_end,
            Reference::Exact(Box::new(exact)),
        )
    }
}

/// n = 1 (the fixed-size paths of DP45 and Rodas4), every grid down to two points (the last
/// point from the dense output), at two tolerances.
pub(crate) fn decoupled_closed_form_n1() -> Case {
    decoupled_closed_form(
        "decoupled closed form, s = 3",
        &[3.0],
        100.0,
        &[2, 3, 11, 1001],
        &[(1e-10, 1e-12), (1e-12, 1e-14)],
    )
}

/// n = 4 (the largest fixed size), over τ ≤ 200.
pub(crate) fn decoupled_closed_form_n4() -> Case {
    decoupled_closed_form(
        "decoupled closed form, s = (6, 3, 1, 0.3)",
        &[6.0, 3.0, 1.0, 0.3],
        200.0,
        &[2, 11, 201],
        &[(1e-10, 1e-12)],
    )
}

/// n = 5 (the general paths), strengths over two decades.
pub(crate) fn decoupled_closed_form_n5() -> Case {
    decoupled_closed_form(
        "decoupled closed form, s = (4, 2, 1, 0.5, 0.1)",
        &[4.0, 2.0, 1.0, 0.5, 0.1],
        100.0,
        &[2, 11, 1001],
        &[(1e-10, 1e-12)],
    )
}

/// A non-stiff nonlinear problem with an exact solution ([`Logistic`]) at four tolerances:
/// every method converges at its order. Within 100 tolerances (measured ≤ 31, BDF).
pub(crate) fn logistic_growth() -> Case {
    Case {
        points: &[2, 41],
        tolerances: &[(1e-4, 1e-6), (1e-6, 1e-8), (1e-8, 1e-10), (1e-10, 1e-12)],
        expect: |_| within(100.0),
        ..case(
            "logistic growth",
            Logistic,
            vec(logistic_exact(0.0)),
            4.0,
            Reference::Exact(Box::new(|t| vec(logistic_exact(t)))),
        )
    }
}

/// dy/dt = Ay, eigenvalues −1 and −1000 on non-orthogonal eigenvectors, against the matrix
/// exponential at four tolerances (atol = 1e-4·rtol). Within 100 tolerances (measured ≤ 83,
/// BDF). An explicit method needs h < 2/1000 over τ = 5, more than 2500 steps; at rtol 1e-8 the
/// implicit ones take fewer than 300 (measured 249, BDF, and 256, Rodas4).
pub(crate) fn stiff_linear() -> Case {
    let (problem, exact) = super::problems::stiff_linear();
    Case {
        tolerances: &[(1e-4, 1e-8), (1e-6, 1e-10), (1e-8, 1e-12), (1e-10, 1e-14)],
        stiff_steps: Some((1e-8, 300)),
        expect: |m| explicit_may_stop(m, 100.0),
        ..case(
            "stiff linear 2 × 2",
            problem,
            vec(exact(0.0)),
            5.0,
            Reference::Exact(Box::new(move |t| vec(exact(t)))),
        )
    }
}

/// Twenty uncoupled copies of [`stiff_linear`] (n = 40: the general paths, faer's LU, BDF's
/// functional iteration while non-stiff). Within 100 tolerances (measured ≤ 40, BDF).
pub(crate) fn stiff_linear_n40() -> Case {
    let (problem, exact) = stiff_linear_copies(20);
    Case {
        tolerances: &[(1e-8, 1e-12)],
        stiff_steps: Some((1e-8, 300)),
        expect: |m| explicit_may_stop(m, 100.0),
        ..case(
            "stiff linear, 20 copies",
            problem,
            vec(exact(0.0)),
            5.0,
            Reference::Exact(Box::new(move |t| vec(exact(t)))),
        )
    }
}

/// y₁' = −y₁, y₂' = y₁ − 10⁴y₂ from (1, 1): the fast mode decays at once and y₂ follows the
/// slow manifold, exactly y₂ = e^{−t}/9999 + (1 − 1/9999)e^{−10⁴t}. Within 5 tolerances
/// (measured ≤ 1.2), BDF within 300 (measured 157, at y₂ ≈ 4.5e-9, where atol dominates). An
/// explicit method needs h < 3.3e-4 over τ = 10; BDF takes fewer than 3000 steps (measured
/// 955).
pub(crate) fn stiff_decay_to_slow_manifold() -> Case {
    let a = DMatrix::from_row_slice(2, 2, &[-1.0, 0.0, 1.0, -1e4]);
    let exact = |t: f64| {
        let slow = (-t).exp();
        vec![
            slow,
            slow / 9999.0 + (1.0 - 1.0 / 9999.0) * (-1e4 * t).exp(),
        ]
    };
    Case {
        points: &[11],
        tolerances: &[(1e-10, 1e-14)],
        stiff_steps: Some((1e-10, 3000)),
        expect: |m| {
            explicit_may_stop(
                m,
                if matches!(m, Method::Bdf(_)) {
                    300.0
                } else {
                    5.0
                },
            )
        },
        ..case(
            "stiff decay to the slow manifold",
            Linear { a },
            vec![1.0, 1.0],
            10.0,
            Reference::Exact(Box::new(exact)),
        )
    }
}

/// U = I with L2 (λ = 0.1): the flow settles on the decoupled roots z(1 + e^z) = s²/λ
/// (docs/theory.md §5.1). Within 1 tolerance (measured ≤ 0.26, Dopri5), RKC within 0.1 of its
/// tol^{2/3} scale (measured 2.5e-5).
pub(crate) fn decoupled_l2_settles_on_its_roots() -> Case {
    let strengths = [10.0, 2.0, 0.5];
    let sys = leak(FeatureSystem::decoupled(&strengths).unwrap());
    let l2 = Regulariser::L2 { lambda: 0.1 };
    let dynamics = PrimalDynamics::new(sys, Loss::Logistic, l2).unwrap();
    let roots = strengths.iter().map(|&s| l2_root(s, 0.1).unwrap().exact);
    Case {
        points: &[3],
        tolerances: &[(1e-9, 1e-12)],
        expect: |m| {
            explicit_may_stop(
                m,
                if matches!(m, Method::Rkc(_)) {
                    0.1
                } else {
                    1.0
                },
            )
        },
        ..case(
            "decoupled L2 steady state",
            dynamics,
            vec![0.0; 3],
            400.0,
            Reference::Settled {
                from: 2,
                state: roots.collect(),
            },
        )
    }
}

/// The toy's margin flow (L2, λ = 0.01) has settled on the Newton steady state, observed in
/// z = Uᵀm, from τ = 1800 on. Within 5 tolerances, ≈ 4e-9 (measured ≤ 1.0), Dop853 within 100
/// (measured 28 at the interior points: its dense output on a stiff component).
pub(crate) fn toy_margin_flow_settles_on_the_newton_steady_state() -> Case {
    let sys = toy();
    let l2 = Regulariser::L2 { lambda: 0.01 };
    let dynamics = PrimalDynamics::new(sys, Loss::Logistic, l2).unwrap();
    let star = steady_state(&dynamics).unwrap();
    let ut = sys.coupling().transpose();
    Case {
        points: &[201],
        tolerances: &[(1e-10, 1e-12)],
        observe: Some(Box::new(move |m| vec(&ut * DVector::from_column_slice(m)))),
        expect: |m| {
            let dop853 = matches!(m, Method::Explicit(ExplicitMethod::Dop853));
            explicit_may_stop(m, if dop853 { 100.0 } else { 5.0 })
        },
        ..case(
            "toy margin flow",
            MarginFlow::new(&dynamics),
            vec![0.0; 2],
            2000.0,
            Reference::Settled {
                from: 180,
                state: vec(star.responses),
            },
        )
    }
}

/// The rotation family's flow in z (s = (3, 1), δ = 0.3, L2 λ = 0.1) against a tight Dop853
/// run, at two tolerances. Within 10 tolerances (measured ≤ 1.8), BDF within 100 (measured 28).
pub(crate) fn rotation_flow_in_z() -> Case {
    let sys = leak(FeatureSystem::rotation(3.0, 1.0, 0.3).unwrap());
    let l2 = Regulariser::L2 { lambda: 0.1 };
    let dynamics = PrimalDynamics::new(sys, Loss::Logistic, l2).unwrap();
    Case {
        tolerances: &[(1e-9, 1e-11), (1e-11, 1e-13)],
        expect: |m| {
            within(if matches!(m, Method::Bdf(_)) {
                100.0
            } else {
                10.0
            })
        },
        ..case(
            "rotation flow in z",
            dynamics,
            vec![0.0; 2],
            50.0,
            Reference::Tight {
                method: Method::Explicit(ExplicitMethod::Dop853),
                rtol: 1e-14,
                atol: 1e-16,
            },
        )
    }
}

/// A stiff random margin flow (n = 40, s from 10 to 0.1, L2 λ = 0.01: ρ = λ + s₁²/4 ≈ 25 over
/// τ ≤ 200) against a tight Dop853 run, at three tolerances (atol = 1e-2·rtol). Within 100
/// tolerances (measured ≤ 35, BDF), Dop853 within 300 (measured 117: its dense output on the
/// stiff components), RKC within 1.5 of its tol^{2/3} scale and 3·rtol^{2/3} absolute (measured
/// 0.72 and 0.98).
pub(crate) fn random_margin_flow_n40() -> Case {
    let spectrum = Spectrum::Geometric {
        from: 10.0,
        to: 0.1,
    };
    let sys = FeatureSystem::random(40, spectrum, 5).unwrap();
    let l2 = Regulariser::L2 { lambda: 0.01 };
    let dynamics = PrimalDynamics::new(&sys, Loss::Logistic, l2).unwrap();
    Case {
        points: &[41],
        tolerances: &[(1e-6, 1e-8), (1e-8, 1e-10), (1e-10, 1e-12)],
        expect: |m| match m {
            Method::Rkc(_) => Expect::Within {
                factor: 1.5,
                cap: 3.0,
            },
            Method::Explicit(ExplicitMethod::Dop853) => explicit_may_stop(m, 300.0),
            _ => explicit_may_stop(m, 100.0),
        },
        ..case(
            "random margin flow, n = 40",
            MarginFlow::new(&dynamics),
            vec![0.0; 40],
            200.0,
            Reference::Tight {
                method: Method::Explicit(ExplicitMethod::Dop853),
                rtol: 1e-13,
                atol: 1e-15,
            },
        )
    }
}

/// The dual flow of the toy (docs/theory.md §3.5) from the authors' α(0) = 10⁻⁸·1 has settled
/// on the primal Newton steady state from τ = 18 on, observed in z(α(β)) (the state is the logit
/// β of α), with β finite.
/// Within 1 tolerance, ≈ 8e-11 (measured ≤ 1.5e-4). Its spectral bound is infinite: RKC must
/// refuse it.
fn dual_case(name: &'static str, regulariser: Regulariser) -> Case {
    let dynamics = PrimalDynamics::new(toy(), Loss::Logistic, regulariser).unwrap();
    let star = steady_state(&dynamics).unwrap();
    let dual = DualDynamics::new(&dynamics).unwrap();
    let map = dual.clone();
    let beta0 = vec(dual.start(DualDynamics::DEFAULT_START).unwrap());
    Case {
        points: &[201],
        tolerances: &[(1e-11, 1e-15)],
        observe: Some(Box::new(move |beta| vec(map.responses(beta)))),
        domain: Some(|beta| beta.iter().all(|b| b.is_finite())),
        expect: |m| explicit_may_stop(m, 1.0),
        ..case(
            name,
            dual,
            beta0,
            20.0,
            Reference::Settled {
                from: 180,
                state: vec(star.responses),
            },
        )
    }
}

/// L2, λ = 0.01.
pub(crate) fn dual_l2_ends_at_the_primal_steady_state() -> Case {
    dual_case("L2 dual flow", Regulariser::L2 { lambda: 0.01 })
}

/// SD, λ = 0.002: z* = μ*·Uᵀ1 with μ* = 4.665120 (docs/theory.md §4.2, §6.2).
pub(crate) fn dual_sd_ends_at_the_primal_steady_state() -> Case {
    dual_case(
        "SD dual flow",
        Regulariser::SpectralDecoupling { lambda: 0.002 },
    )
}

/// y' = y² from 1 blows up at τ = 1: a failure at the τ reached, never a number. The claimed
/// spectral bound 10 (the true one is unbounded) lets RKC run into it too; with too few stages
/// for the real stiffness it may step just past the pole before failing (measured 1 + 2.5e-6;
/// allowed 10⁻³), the others stop before τ = 1 + 10⁻⁶.
pub(crate) fn blow_up() -> Case {
    Case {
        points: &[11],
        expect: |m| Expect::FailsAt {
            lo: 0.9,
            hi: if matches!(m, Method::Rkc(_)) {
                1.001
            } else {
                1.0 + 1e-6
            },
        },
        ..case(
            "blow-up",
            BlowUp { bound: 10.0 },
            vec![1.0],
            2.0,
            Reference::None,
        )
    }
}

/// The right-hand side turns NaN where y₁ passes 2 (at τ = 2): a failure at τ = 2. The
/// ode_solvers pairs report the first output point whose interpolated state is not finite;
/// for Dop853 on this grid that is τ = 1, before the solution leaves the domain (a failure,
/// not a number, but early).
pub(crate) fn nan_beyond_two() -> Case {
    Case {
        points: &[11],
        expect: |m| Expect::FailsAt {
            lo: if matches!(m, Method::Explicit(ExplicitMethod::Dop853)) {
                0.5
            } else {
                2.0 - 1e-6
            },
            hi: 2.0 + 1e-6,
        },
        ..case(
            "NaN beyond y = 2",
            NanBeyondTwo,
            vec![0.0, 0.0],
            5.0,
            Reference::None,
        )
    }
}
