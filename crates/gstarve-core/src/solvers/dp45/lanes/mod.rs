//! DP45 across many small systems at once (issue #17): the method of [`super`] step for step —
//! the same stages, error norm, controller, stiffness test, dense output and output grid — on
//! [`LANES`] logistic margin flows side by side, stored as a struct of arrays (one array of
//! lanes per component and stage), so that the stages and σ(−m) of all lanes are computed by
//! the same vector instructions. Each lane keeps its own step size, acceptance, output cursor
//! and stiffness count, and takes the next flow of the queue ([`LaneJobs`]) as soon as its flow
//! ends; a lane's arithmetic never reads another lane, so a flow's result does not depend on
//! which flows share its steps (what makes batched and sharded sweeps equal to the one-system
//! path point by point).
//!
//! The flow of a lane is docs/theory.md §3.3's margin flow of the logistic loss,
//!
//! ```text
//! dm/dτ = K (σ(−m) − λ_SD m) − μ m,    K = U S² Uᵀ (n × n, n = r = N ≤ 4),
//! ```
//!
//! evaluated with the operations of [`crate::model::MarginFlowN`] in the same order, σ(−m) and
//! the step-size controller with the one-system DP45's exponential and logarithm
//! ([`crate::model::table_exp`], [`crate::model::table_ln`]) vectorised across the lanes
//! ([`TableExp`]: a gather reads their tables), so that every lane reproduces [`super::Dp45`]
//! on its flow bit for bit (tested). The code is compiled for the processor's vector width and
//! chosen at run time ([`run_lanes`]; fused multiply-adds only where `mul_add` asks for one, so
//! the result does not depend on the instruction set).
//!
//! The step's arithmetic is in `soa`; the control after it (error test, controller, stiffness
//! test, output times, acceptance) in `driver`, as selects between per-lane arrays, so that it
//! is vector arithmetic too. A flow with a [`Watch`] (a learning time's crossing) skips the output
//! points no crossing can be at, bounded from the step's dense output.

use crate::model::{table_exp, table_ln, Loss, MarginFlowN};

mod driver;
mod soa;

use driver::{run, AVX2, AVX512, BASELINE};

/// Flows integrated side by side: 32, four AVX-512 registers (eight AVX2 ones) per array. A
/// stage's σ(−m) is one long chain of dependent instructions (the exponential's reduction,
/// table read and polynomial, then σ's division), and the six stages of a step follow each other,
/// so the step is bound by that chain's latency rather than by its instruction count: with 32
/// lanes four chains are in flight where 8 lanes had one, for the same arithmetic per lane (the
/// τ₉₀ 256² diagram: 0.84 → 0.60 CPU s on one thread, docs/benchmarks.md, "τ₉₀ 256², sixth
/// pass"). Each lane's arithmetic does not depend on the count.
pub const LANES: usize = 32;

/// The exponential a lane evaluates σ(−m) and its step-size controller with, and the
/// controller's logarithm: [`TableExp`]; the per-lane defaults of the array forms serve the
/// tests (the same values without vectorisation).
pub trait LaneExp {
    /// e^x.
    fn exp(x: f64) -> f64;
    /// ln x, for x positive, normal and finite.
    fn ln(x: f64) -> f64;
    /// [`Self::exp`] of every lane, bit for bit.
    #[inline(always)]
    fn exp_lanes(x: &[f64; LANES]) -> [f64; LANES] {
        x.map(Self::exp)
    }
    /// [`Self::ln`] of every lane, bit for bit.
    #[inline(always)]
    fn ln_lanes(x: &[f64; LANES]) -> [f64; LANES] {
        x.map(Self::ln)
    }
}

/// The one-system path's functions, [`table_exp::exp`] and [`table_ln::ln`], vectorised across
/// the lanes ([`table_exp::exp_array`], [`table_ln::ln_array`]: the same values bit for bit):
/// the lanes reproduce [`super::Dp45`] bit for bit.
#[derive(Clone, Copy, Debug)]
pub struct TableExp;

impl LaneExp for TableExp {
    #[inline(always)]
    fn exp(x: f64) -> f64 {
        table_exp::exp(x)
    }
    #[inline(always)]
    fn ln(x: f64) -> f64 {
        table_ln::ln(x)
    }
    #[inline(always)]
    fn exp_lanes(x: &[f64; LANES]) -> [f64; LANES] {
        table_exp::exp_array(x)
    }
    #[inline(always)]
    fn ln_lanes(x: &[f64; LANES]) -> [f64; LANES] {
        table_ln::ln_array(x)
    }
}

/// One flow for the lanes: the margin flow above from `m0` over [0, `t_end`], output at
/// `points` evenly spaced times (the driver's [`crate::ode::uniform_times`]), at the
/// tolerances the caller asks of [`super::Dp45`] (it applies [`TOL_SCALE`] itself).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LaneFlow<const N: usize> {
    /// K, column-major: `gram[j][i]` = K_ij.
    pub gram: [[f64; N]; N],
    /// μ = λ_L2.
    pub decay: f64,
    /// λ_SD.
    pub lambda_sd: f64,
    /// The initial margins.
    pub m0: [f64; N],
    /// The final time (> 0).
    pub t_end: f64,
    /// Output points, τ = 0 and `t_end` included (≥ 2).
    pub points: usize,
    /// Relative tolerance, as given to [`super::Dp45`].
    pub rtol: f64,
    /// Absolute tolerance, as given to [`super::Dp45`].
    pub atol: f64,
    /// Step attempts allowed.
    pub max_steps: u64,
    /// The caller's name for this flow, passed back with its outputs and its end.
    pub tag: usize,
    /// `None`: every output point is delivered. `Some`: only the points [`Watch`] names.
    pub watch: Option<Watch<N>>,
}

/// A flow that only needs the first output point where a weighted sum of the margins reaches a
/// fraction of a target (a learning time's crossing, docs/theory.md §7.2): the first k ≥ 1 with
///
/// ```text
/// (Σᵢ weightsᵢ·mᵢ(τ_k)) / target ≥ fraction    (the sum accumulated from i = 0, from 0.0)
/// ```
///
/// [`LaneJobs::output`] is called for points k − 1 and k, and the flow ends
/// [`LaneEnd::Stopped`]; if no point crosses, for the last two points, and it ends
/// [`LaneEnd::Done`] (`output`'s return value is not read). Those points are computed exactly
/// as without a watch (bit for bit), and the test above is evaluated at every output point a
/// crossing could be at: in a step where a bound on the dense output shows that the sum stays
/// below the fraction, none is computed (the step's last output point, the point k − 1 of a
/// later crossing, is computed from the step's dense output, kept, when that crossing comes),
/// and none is delivered; in a step where a bound on its derivative shows that
/// the sum rises from point to point, the test starts at the point before the crossing that the
/// dense output predicts (the points before it cannot cross when that one does not).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Watch<const N: usize> {
    /// The weights of the sum (e.g. a column of U: a response z_j = Σᵢ U_ij m_i).
    pub weights: [f64; N],
    /// The target (finite, ≠ 0).
    pub target: f64,
    /// The fraction.
    pub fraction: f64,
}

impl<const N: usize> LaneFlow<N> {
    /// The parameters of `flow` (K, μ, λ_SD), if its model is the logistic loss without class
    /// targets (the only right-hand side the lanes evaluate); the rest is the caller's.
    pub fn parameters(flow: &MarginFlowN<N>) -> Option<([[f64; N]; N], f64, f64)> {
        let model = flow.model();
        (model.loss() == Loss::Logistic && model.examples().is_none())
            .then(|| (*flow.gram(), model.decay(), model.lambda_sd()))
    }
}

/// How a lane's flow ended.
#[derive(Clone, Debug, PartialEq)]
pub enum LaneEnd {
    /// Every output point was delivered.
    Done,
    /// [`LaneJobs::output`] asked to stop.
    Stopped,
    /// The stiffness test fired at τ (as [`crate::ode::StepFailure::Stiff`]).
    Stiff {
        /// Time reached.
        tau: f64,
    },
    /// The flow could not continue (invalid flow, step size underflow, budget, a non-finite
    /// output): the caller runs the one-system path, which reports the reason.
    Failed {
        /// Time reached.
        tau: f64,
    },
}

/// The queue of flows and the receiver of their outputs.
pub trait LaneJobs<const N: usize> {
    /// The next flow, if any (called whenever a lane is free, also after [`Self::end`]).
    fn next(&mut self) -> Option<LaneFlow<N>>;
    /// Output point `k` (at τ) of flow `tag`: the margins there. `false` stops the flow (a
    /// flow with a [`Watch`] ends as its contract says instead).
    fn output(&mut self, tag: usize, k: usize, tau: f64, m: &[f64; N]) -> bool;
    /// Flow `tag` ended.
    fn end(&mut self, tag: usize, end: LaneEnd);
}

/// Integrate every flow of `jobs` ([`LaneJobs::next`] until it returns `None` with no lane
/// running), [`LANES`] at a time, with the exponential `E`.
///
/// The lane loops are plain array loops that the compiler vectorises; they are compiled for
/// AVX-512 (8 lanes to a register) and AVX2 besides the baseline, and the widest the processor
/// has runs (detected at run time). This predates the workspace enabling pulp's AVX-512 level
/// (x86-v4), which pulp's dispatch could now serve. Rust never fuses a product and a sum on its
/// own, so every level computes the same bits as the one-system path (tested).
pub fn run_lanes<E: LaneExp, const N: usize, J: LaneJobs<N>>(jobs: &mut J) {
    #[cfg(target_arch = "x86_64")]
    {
        let fma = std::arch::is_x86_feature_detected!("fma");
        if fma
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            // SAFETY: the processor has the features `run_avx512` is compiled for.
            return unsafe { run_avx512::<E, N, J>(jobs) };
        }
        if fma && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has the features `run_avx2` is compiled for.
            return unsafe { run_avx2::<E, N, J>(jobs) };
        }
    }
    run::<E, N, J, BASELINE>(jobs)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma,avx512f,avx512dq,avx512vl")]
unsafe fn run_avx512<E: LaneExp, const N: usize, J: LaneJobs<N>>(jobs: &mut J) {
    run::<E, N, J, AVX512>(jobs)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma")]
unsafe fn run_avx2<E: LaneExp, const N: usize, J: LaneJobs<N>>(jobs: &mut J) {
    run::<E, N, J, AVX2>(jobs)
}
