//! Steady states of the softmax dynamics (docs/theory.md §9.3) by damped inexact Newton (§12.4),
//! with residual and iterations.
//!
//! The regularised flow is F(z) = −S²∇L(z) with the strictly convex
//! L(z) = Σᵢ CEᵢ(Uz) + ½ zᵀWz, W = λS⁻² (L2) or λI (SD) ([`SoftmaxDynamics::objective`]): Newton
//! on ∇L = 0 with the Hessian A = UᵀHU + W, an Armijo line search on L, from z = 0. Forming A costs
//! O(ncr²) and its Cholesky factor O(r³); each step is instead solved by conjugate gradients on
//! A's action (O(ncr) each, [`cg`]), preconditioned by A's diagonal W + diag(UᵀHU) (O(ncr),
//! [`crate::model::Curvature::diagonal`]), to a residual η·res with η = min(½, √(res/res₀))
//! (superlinear convergence), never below a tenth of the tolerance (so that the last step ends
//! below it; docs/theory.md §12.4). Where they would take longer than forming A
//! ([`jacobi_budget`]), and once the iterates have settled ([`FACTOR_NEAR_STEP`]: before the
//! last, tight steps, which take the most iterations), A is formed and factorised; that factor
//! then preconditions the later steps (a few iterations each), and is formed afresh when it has
//! gone stale. The sensitivities at z* factorise A there once more (`theory::softmax`). For a
//! large U ([`single`]) the preconditioning factor and the Hessian actions of loose steps (those
//! asking for a residual reduction of at most 10⁻²) run in f32: they only guide the steps, so
//! they change the number of conjugate-gradient iterations, not the f64 point Newton stops at.
//! Components with s_j = 0 never move under the flow and are pinned at 0. Unlike the binary SD
//! steady state there is no scalar shortcut: with c > 2 the per-example equations
//! Y − P = λF do not reduce to one margin (§9.3).

mod cg;
mod single;

use nalgebra::{DMatrix, DVector};

use super::steady::{damped_update, NewtonParams};
use crate::error::{Error, InputError, NumericalError, Result};
use crate::model::{mirror_lower, scaled_symmetric_into, Curvature, Regulariser, SoftmaxDynamics};
use crate::sweeps::progress::Stage;
use cg::{conjugate_gradients, scaled_max, Abandoned};
use single::{SingleCoupling, SingleHessianFactor, SINGLE_MAX_REDUCTION, SINGLE_MIN_ENTRIES};

/// A softmax steady state with the evidence that it is one.
#[derive(Clone, Debug, PartialEq)]
pub struct SoftmaxSteadyState {
    /// Responses z*.
    pub responses: DVector<f64>,
    /// Logits F* = Uz*, n × c.
    pub logits: DMatrix<f64>,
    /// Probabilities P* (row-wise softmax of F*), n × c.
    pub probabilities: DMatrix<f64>,
    /// max_j |z_j − (W⁻¹Uᵀvec(Y − P))_j| over the free components: the fixed-point residual in
    /// units of z.
    pub residual: f64,
    /// Newton iterations taken.
    pub iterations: usize,
    /// The linear algebra the iterations took.
    pub work: NewtonWork,
}

/// What a softmax Newton solve spent on its linear systems.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NewtonWork {
    /// Conjugate-gradient iterations (each one action of the Hessian, O(ncr)), over all steps.
    pub cg_iterations: usize,
    /// Hessians UᵀHU + W formed and factorised by Cholesky (O(ncr²/2 + r³/6) each), in f32
    /// where every component is free ([`single`]), to precondition the conjugate gradients.
    pub factorisations: usize,
    /// Of [`Self::cg_iterations`], those whose Hessian action used the f32 copy of U (loose
    /// steps, [`single`]).
    pub single_cg_iterations: usize,
}

impl SoftmaxSteadyState {
    /// The multi-class margins mᵢ = F_{i,yᵢ} − max_{k≠yᵢ} F_ik (positive: example i classified
    /// correctly). For a binary image they are the binary margins (docs/theory.md §9.4).
    pub fn margins(&self, labels: &[usize]) -> DVector<f64> {
        margins(&self.logits, labels)
    }
}

/// mᵢ = F_{i,yᵢ} − max_{k≠yᵢ} F_ik for logits F (n × c).
pub fn margins(logits: &DMatrix<f64>, labels: &[usize]) -> DVector<f64> {
    DVector::from_fn(labels.len(), |i, _| {
        let y = labels[i];
        let other = (0..logits.ncols())
            .filter(|&k| k != y)
            .map(|k| logits[(i, k)])
            .fold(f64::NEG_INFINITY, f64::max);
        logits[(i, y)] - other
    })
}

/// The largest forcing term η of the inexact Newton steps.
const FORCING_MAX: f64 = 0.5;
/// The last step's conjugate gradients stop at this fraction of the Newton tolerance, so that
/// the gradient after it (their residual plus O(‖s‖²)) is below the tolerance.
const LAST_STEP_FRACTION: f64 = 0.1;
/// Conjugate-gradient iterations allowed with the last factorised Hessian as preconditioner
/// before the Hessian is factorised afresh (each costs two triangular solves besides the action).
const FACTOR_CG_BUDGET: usize = 20;
/// The iterates have settled when the last step was no longer than this fraction of
/// max(‖z‖∞, 1) and the residual fell by at least [`FACTOR_NEAR_DROP`] over it (Newton's local,
/// superlinear phase; a short step alone also happens in the damped phase). Then, if no Hessian
/// is factorised yet, it is factorised to precondition the remaining steps: from there on it
/// changes little, and the last steps' tight forcing terms cost the diagonally preconditioned
/// conjugate gradients the most iterations (at n = 100, c = 10, r = 1000: 103 of 151 in the last
/// four steps; docs/benchmarks.md, "Softmax fixed point, fifth pass").
const FACTOR_NEAR_STEP: f64 = 3e-2;
/// See [`FACTOR_NEAR_STEP`]: the residual at most this fraction of the one before the step.
const FACTOR_NEAR_DROP: f64 = 0.1;

/// How much slower a Hessian action runs per multiply–add than the blocked products that form
/// and factorise the Hessian (its matrix–vector products read U from memory for one or two
/// multiply–adds per number). At n = 100, c = 10, r = 1000, single-threaded, the Newton solve
/// (151 actions, 0.30 G multiply–adds, and its other passes over U) took 1.2–1.6 times as long as
/// forming, factorising and inverting one Hessian (0.95 G): 3–5× slower per multiply–add
/// (docs/benchmarks.md, "Multi-class softmax and max-margin speed").
const ACTION_SLOWDOWN: f64 = 4.0;
/// The fewest diagonally preconditioned conjugate-gradient iterations a step may take before the
/// Hessian is factorised instead.
const MIN_JACOBI_BUDGET: usize = 16;

/// Diagonally preconditioned conjugate-gradient iterations that cost about as much as forming
/// and factorising the Hessian: (n(c−1)r²/2 + r³/6) multiply–adds against 2ncr per action,
/// [`ACTION_SLOWDOWN`] times slower per multiply–add.
fn jacobi_budget(dynamics: &SoftmaxDynamics) -> usize {
    let sys = dynamics.system();
    let (n, c, r) = (
        sys.examples() as f64,
        sys.classes() as f64,
        sys.rank() as f64,
    );
    let factorisation = n * (c - 1.0) * r * r / 2.0 + r * r * r / 6.0;
    let action = 2.0 * n * c * r * ACTION_SLOWDOWN;
    ((factorisation / action) as usize).max(MIN_JACOBI_BUDGET)
}

/// The steady state of `dynamics` (docs/theory.md §9.3). No regulariser (or λ = 0): no steady
/// state (exit 2, as in the binary case).
pub fn softmax_steady_state(
    dynamics: &SoftmaxDynamics,
    params: &NewtonParams,
) -> Result<SoftmaxSteadyState> {
    let policy = LinearPolicy {
        budget: jacobi_budget(dynamics),
        factor_near: true,
        single: dynamics.system().system().coupling().len() >= SINGLE_MIN_ENTRIES,
    };
    newton(dynamics, params, policy)
}

/// How the Newton steps are solved.
#[derive(Clone, Copy, Debug)]
struct LinearPolicy {
    /// Diagonally preconditioned conjugate-gradient iterations per step before the Hessian is
    /// factorised instead (0: every step factorises the Hessian or uses its last factor).
    budget: usize,
    /// Whether settled iterates ([`FACTOR_NEAR_STEP`]) make the next iteration factorise the
    /// Hessian.
    factor_near: bool,
    /// Whether the preconditioning factorisations (with every component free) and the loose
    /// steps' Hessian actions run in f32 ([`single`]).
    single: bool,
}

/// [`softmax_steady_state`] with the linear solves of `policy`.
fn newton(
    dynamics: &SoftmaxDynamics,
    params: &NewtonParams,
    policy: LinearPolicy,
) -> Result<SoftmaxSteadyState> {
    if dynamics.regulariser().lambda() <= 0.0 {
        return Err(Error::Input(InputError::NoSteadyState));
    }
    let r = dynamics.dim();
    let s2 = dynamics.strengths_squared();
    let free: Vec<usize> = (0..r).filter(|&j| s2[j] > 0.0).collect();
    let weights =
        DVector::from_iterator(free.len(), free.iter().map(|&j| dynamics.penalty_weight(j)));
    let embed = |x: &DVector<f64>| {
        let mut z = DVector::zeros(r);
        for (k, &j) in free.iter().enumerate() {
            z[j] = x[k];
        }
        z
    };
    let restrict =
        |v: &DVector<f64>| DVector::from_iterator(free.len(), free.iter().map(|&j| v[j]));
    // ∇L on the free components: W ⊙ x − (Uᵀ vec(Y − P))_free. The last point and gradient are
    // kept: the quadratic phase's line search evaluates the gradient at the iterate it then
    // accepts, where the next iteration starts (one pass over U fewer, the same numbers).
    let last_gradient =
        std::cell::RefCell::new((DVector::<f64>::zeros(0), DVector::<f64>::zeros(0)));
    let gradient = |x: &DVector<f64>| {
        let mut last = last_gradient.borrow_mut();
        let same = last.0.len() == x.len()
            && last
                .0
                .iter()
                .zip(x.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits());
        if !same {
            let g = weights.component_mul(x) - restrict(&dynamics.drive(&embed(x)));
            *last = (x.clone(), g);
        }
        last.1.clone()
    };
    let mut work = NewtonWork::default();
    // The logits Uz of the last point the objective was evaluated at: after an accepted step,
    // those of the new iterate (the line search's last evaluation), where the curvature needs
    // them.
    let last_logits = std::cell::RefCell::new(DVector::zeros(0));
    // The steady state at x; `at_last_logits`: x is the point the objective was last evaluated
    // at, so its logits are not formed again.
    let finish = |x: &DVector<f64>,
                  residual: f64,
                  iterations: usize,
                  work: NewtonWork,
                  at_last_logits: bool| {
        let z = embed(x);
        let f = if at_last_logits {
            last_logits.borrow().clone()
        } else {
            dynamics.logits(&z)
        };
        let (logits, probabilities) = dynamics.logits_and_probabilities_at(&f);
        SoftmaxSteadyState {
            responses: z,
            logits,
            probabilities,
            residual,
            iterations,
            work,
        }
    };
    let objective = |x: &DVector<f64>| {
        let z = embed(x);
        let f = dynamics.logits(&z);
        let value = dynamics.objective_at_logits(&z, &f);
        *last_logits.borrow_mut() = f;
        value
    };
    let mut x = DVector::zeros(free.len());
    let mut value = objective(&x);
    let mut residual = f64::INFINITY;
    let mut initial = f64::NAN;
    let mut factor: Option<Preconditioner> = None;
    // The f32 copy of U for the loose steps' Hessian actions.
    let single_u = policy.single.then(|| {
        SingleCoupling::new(
            dynamics.system().system().coupling(),
            dynamics.system().classes(),
        )
    });
    let mut last_step = f64::INFINITY;
    let mut last_residual = f64::INFINITY;
    let stage = Stage::begin("Newton: softmax steady state", "iterations", 0);
    for it in 0..=params.max_iterations {
        let g = gradient(&x);
        residual = scaled_max(&g, &weights);
        stage.advance(it);
        let goal = params.tolerance * x.amax().max(1.0);
        if residual <= goal {
            return Ok(finish(&x, residual, it, work, true));
        }
        if it == params.max_iterations {
            break;
        }
        if it == 0 {
            initial = residual;
        }
        // The inexact Newton step: conjugate gradients to η·res (docs/theory.md §12.4),
        // preconditioned by A's diagonal, or by the last factorised Hessian once there is one;
        // where they would take too long, a fresh factorisation of A at x.
        let eta = (residual / initial).sqrt().min(FORCING_MAX);
        let threshold = (eta * residual).max(LAST_STEP_FRACTION * goal);
        let curvature = dynamics.curvature_at_logits(&last_logits.borrow());
        let double_action =
            |v: &DVector<f64>| restrict(&curvature.action(&embed(v))) + weights.component_mul(v);
        // A loose step's actions on the f32 copy of U (`single`).
        let single_action = single_u
            .as_ref()
            .filter(|_| threshold >= SINGLE_MAX_REDUCTION * residual);
        let single_actions = std::cell::Cell::new(0);
        let hessian_action = |v: &DVector<f64>| match single_action {
            Some(single_u) => {
                single_actions.set(single_actions.get() + 1);
                restrict(&single_u.action(&curvature, &embed(v))) + weights.component_mul(v)
            }
            None => double_action(v),
        };
        let settled = policy.factor_near
            && last_step <= FACTOR_NEAR_STEP * x.amax().max(1.0)
            && residual <= FACTOR_NEAR_DROP * last_residual;
        let solved = match factor.as_ref() {
            // Settled and no factor yet: factorise now.
            None if settled => Err(Abandoned { iterations: 0 }),
            Some(llt) => conjugate_gradients(
                hessian_action,
                |v| llt.solve(v),
                &g,
                &weights,
                threshold,
                FACTOR_CG_BUDGET,
            ),
            None => {
                // From the f32 copy of U where there is one (it only preconditions).
                let diagonal = match single_u.as_ref() {
                    Some(single_u) => single_u.diagonal(&curvature),
                    None => curvature.diagonal(),
                };
                let diagonal = restrict(&diagonal) + &weights;
                conjugate_gradients(
                    hessian_action,
                    |v| v.component_div(&diagonal),
                    &g,
                    &weights,
                    threshold,
                    policy.budget,
                )
            }
        };
        let step = match solved {
            Ok((step, iterations)) => {
                work.cg_iterations += iterations;
                step
            }
            Err(abandoned) => {
                work.cg_iterations += abandoned.iterations;
                // A fresh factor: in f32 with every component free, the step then by the
                // conjugate gradients it preconditions; in f64 (the step solved exactly) where
                // components are pinned or the f32 one fails.
                let single = single_u
                    .as_ref()
                    .filter(|_| free.len() == r)
                    .and_then(|single_u| SingleHessianFactor::new(single_u, &curvature, &weights));
                let by_single = single.and_then(|llt| {
                    work.factorisations += 1;
                    match conjugate_gradients(
                        hessian_action,
                        |v| llt.solve(v),
                        &g,
                        &weights,
                        threshold,
                        FACTOR_CG_BUDGET,
                    ) {
                        Ok((step, iterations)) => {
                            work.cg_iterations += iterations;
                            Some((step, llt))
                        }
                        Err(abandoned) => {
                            work.cg_iterations += abandoned.iterations;
                            None
                        }
                    }
                });
                match by_single {
                    Some((step, llt)) => {
                        factor = Some(Preconditioner::Single(llt));
                        step
                    }
                    None => {
                        let llt = HessianFactor::new(&curvature, &free, &weights).ok_or(
                            Error::Numerical(NumericalError::NewtonFailed {
                                iterations: it,
                                residual,
                            }),
                        )?;
                        work.factorisations += 1;
                        let step = llt.solve(&g.map(|x| -x));
                        factor = Some(Preconditioner::Double(llt));
                        step
                    }
                }
            }
        };
        work.single_cg_iterations += single_actions.get();
        let before = x.clone();
        let moved = damped_update(&mut x, &mut value, &step, &g, residual, objective, |x| {
            scaled_max(&gradient(x), &weights)
        });
        last_step = (&x - &before).amax();
        last_residual = residual;
        if !moved {
            // Stagnation at rounding level reports the residual reached.
            if residual <= 1e3 * goal {
                return Ok(finish(&x, residual, it, work, false));
            }
            return Err(Error::Numerical(NumericalError::NewtonFailed {
                iterations: it,
                residual,
            }));
        }
    }
    Err(Error::Numerical(NumericalError::NewtonFailed {
        iterations: params.max_iterations,
        residual,
    }))
}

/// The Cholesky factor L of the symmetric matrix whose lower triangle `a` holds, in place (faer,
/// on all cores; the strict upper triangle is not read), in the precision `a` is stored in;
/// `None` if it is not numerically positive definite.
fn cholesky_lower_in_place<T: faer::traits::ComplexField>(a: faer::MatMut<'_, T>) -> Option<()> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::cholesky::llt::factor;
    let par = faer::get_global_parallelism();
    let mut mem = MemBuffer::new(factor::cholesky_in_place_scratch::<T>(
        a.nrows(),
        par,
        Default::default(),
    ));
    factor::cholesky_in_place(
        a,
        Default::default(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .ok()
    .map(|_| ())
}

/// `n` zeros, written on all cores for a large `n` (the r × r and E buffers of the
/// factorisations: 4–8 MB at r = 1000, where one core's memset is a visible serial step).
fn zeroed<T: Copy + Default + Send + Sync>(n: usize) -> Vec<T> {
    use rayon::prelude::*;
    let mut v = Vec::with_capacity(n);
    if n >= single::SINGLE_MIN_ENTRIES {
        v.par_extend(rayon::iter::repeat_n(T::default(), n));
    } else {
        v.resize(n, T::default());
    }
    v
}

/// The factorised Hessian that preconditions the conjugate gradients.
enum Preconditioner {
    /// In f32 ([`single`]).
    Single(SingleHessianFactor),
    /// In f64.
    Double(HessianFactor),
}

impl Preconditioner {
    /// M⁻¹b.
    fn solve(&self, b: &DVector<f64>) -> DVector<f64> {
        match self {
            Self::Single(llt) => llt.solve(b),
            Self::Double(llt) => llt.solve(b),
        }
    }
}

/// The fixed-point residual max_j |F_j|/(s_j² W_jj) over the free components at z (the same
/// measure Newton stops on).
pub fn softmax_fixed_point_residual(dynamics: &SoftmaxDynamics, z: &DVector<f64>) -> f64 {
    let f = dynamics.rhs(z);
    let s2 = dynamics.strengths_squared();
    (0..z.len())
        .filter(|&j| s2[j] > 0.0)
        .map(|j| (f[j] / (s2[j] * dynamics.penalty_weight(j))).abs())
        .fold(
            0.0,
            |m: f64, e| if e.is_nan() { f64::INFINITY } else { m.max(e) },
        )
}

/// The Cholesky factor L (faer, lower triangle) of the Hessian A = UᵀHU + W on the free
/// components, factorised in place where A was formed.
pub(crate) struct HessianFactor {
    /// L in the lower triangle, zeros above.
    l: faer::Mat<f64>,
}

impl HessianFactor {
    /// The factor of A at the point of `curvature`; `None` if A is not numerically positive
    /// definite. With every component free, UᵀHU's lower triangle is written straight into the
    /// factor's storage; otherwise A is taken from UᵀHU over all components.
    pub(crate) fn new(
        curvature: &Curvature,
        free: &[usize],
        weights: &DVector<f64>,
    ) -> Option<Self> {
        let r = curvature.dim();
        if free.len() < r {
            return Self::from_gram(&curvature.gram(), free, weights);
        }
        let mut a = faer::Mat::<f64>::zeros(r, r);
        curvature.gram_lower_into(a.as_mut());
        Self::factorise(a, weights)
    }

    /// The factor of A from `gram` = UᵀHU over all components.
    pub(crate) fn from_gram(
        gram: &DMatrix<f64>,
        free: &[usize],
        weights: &DVector<f64>,
    ) -> Option<Self> {
        let k = free.len();
        let a = faer::Mat::<f64>::from_fn(k, k, |a, b| {
            if a >= b {
                gram[(free[a], free[b])]
            } else {
                0.0
            }
        });
        Self::factorise(a, weights)
    }

    /// L of A = `a` + diag(`weights`), `a` holding its lower triangle and zeros above (what
    /// faer's `Mat::llt` copies and factorises; the same factorisation, without the copy).
    fn factorise(mut a: faer::Mat<f64>, weights: &DVector<f64>) -> Option<Self> {
        for (j, &w) in weights.iter().enumerate() {
            a[(j, j)] += w;
        }
        let k = weights.len();
        cholesky_lower_in_place(a.as_mut())?;
        // Zeros above the diagonal, as `Mat::llt` leaves them.
        for j in 1..k {
            a.col_mut(j).subrows_mut(0, j).fill(0.0);
        }
        Some(Self { l: a })
    }

    /// A⁻¹b.
    pub(crate) fn solve(&self, b: &DVector<f64>) -> DVector<f64> {
        use faer::dyn_stack::{MemBuffer, MemStack};
        use faer::linalg::cholesky::llt::solve;
        let mut x = b.clone();
        let n = x.len();
        let par = faer::get_global_parallelism();
        let mut mem = MemBuffer::new(solve::solve_in_place_scratch::<f64>(n, 1, par));
        solve::solve_in_place(
            self.l.as_ref(),
            faer::MatMut::from_column_major_slice_mut(x.as_mut_slice(), n, 1),
            par,
            MemStack::new(&mut mem),
        );
        x
    }

    /// X = A⁻¹ diag(`scales`) (r × r, both triangles) for A = UᵀHU + W at the point of
    /// `curvature` with every component free: what [`Self::new`], [`Self::inverse_into`] and a
    /// scaling of X's columns give, bit for bit (the same E, products, factor and inverse), in
    /// two r × r buffers instead of four and with the copies on all cores: one holds E, then
    /// L⁻¹, then X; the other A, then L, then A⁻¹'s lower triangle, from which X is written
    /// scaled and mirrored in one pass ([`scaled_symmetric_into`]). `None` if A is not
    /// numerically positive definite or A⁻¹ is not finite.
    pub(crate) fn scaled_inverse(
        curvature: &Curvature,
        weights: &DVector<f64>,
        scales: &[f64],
    ) -> Option<DMatrix<f64>> {
        use faer::linalg::matmul::triangular::{matmul, BlockStructure};
        let r = curvature.dim();
        assert_eq!(weights.len(), r, "every component free");
        let mut buffer = zeroed(curvature.factor_rows().max(r) * r);
        let mut gram = faer::Mat::<f64>::zeros(r, r);
        curvature.gram_lower_using(gram.as_mut(), &mut buffer);
        let Self { l: mut a } = Self::factorise(gram, weights)?;
        // faer's `llt::inverse::inverse`, with L⁻¹ in E's storage and A⁻¹ in L's.
        let par = faer::get_global_parallelism();
        buffer.truncate(r * r);
        let mut l_inv = faer::MatMut::from_column_major_slice_mut(&mut buffer, r, r);
        faer::linalg::triangular_inverse::invert_lower_triangular(l_inv.as_mut(), a.as_ref(), par);
        matmul(
            a.as_mut(),
            BlockStructure::TriangularLower,
            faer::Accum::Replace,
            l_inv.as_ref().adjoint(),
            BlockStructure::TriangularUpper,
            l_inv.as_ref(),
            BlockStructure::TriangularLower,
            1.0,
            par,
        );
        scaled_symmetric_into(a.as_ref(), scales, &mut buffer)
            .then(|| DMatrix::from_vec(r, r, buffer))
    }

    /// A⁻¹ = L⁻ᵀL⁻¹ into `out` (k × k, column-major; both triangles written), by faer's
    /// triangular inverse and lower-triangular product (r³/3 multiply–adds), then mirrored.
    pub(crate) fn inverse_into(&self, out: &mut [f64]) {
        use faer::dyn_stack::{MemBuffer, MemStack};
        use faer::linalg::cholesky::llt::inverse;
        let k = self.l.nrows();
        let par = faer::get_global_parallelism();
        let mut mem = MemBuffer::new(inverse::inverse_scratch::<f64>(k, par));
        inverse::inverse(
            faer::MatMut::from_column_major_slice_mut(out, k, k),
            self.l.as_ref(),
            par,
            MemStack::new(&mut mem),
        );
        mirror_lower(out, k);
    }
}

/// Whether the SD sensitivities vanish identically for this system: SD with every s_j > 0,
/// where the fixed point Uᵀvec(Y − P) = λz does not contain S (docs/theory.md §9.3).
pub fn sd_independent_of_strengths(dynamics: &SoftmaxDynamics) -> bool {
    matches!(
        dynamics.regulariser(),
        Regulariser::SpectralDecoupling { .. }
    ) && dynamics.strengths_squared().iter().all(|&s| s > 0.0)
}

#[cfg(test)]
mod tests;
