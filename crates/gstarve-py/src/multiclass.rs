//! Multi-class (softmax) systems from Python (docs/theory.md §9): their construction from
//! features or a kernel with class labels, and their steady state, as the command line's
//! `--features/--kernel … --labels [--classes]` and `gstarve fixed-point --json`.

use gstarve_core::model::{Loss, Regulariser, SoftmaxDynamics};
use gstarve_core::solvers::steady::NewtonParams;
use gstarve_core::solvers::steady_softmax::softmax_steady_state;
use gstarve_core::systems::{MulticlassSystem, Truncation};
use gstarve_core::theory::softmax::softmax_sensitivity;
use gstarve_core::Result;
use nalgebra::DMatrix;
use pyo3::prelude::*;

use crate::errors::invalid;
use crate::fixed_point::PyFixedPoint;
use crate::interrupt::compute;
use crate::system::check_rank;

/// Why `check` has nothing to report on a multi-class system (as `gstarve check`, exit 3).
pub const NOTHING_TO_CHECK: &str =
    "a multi-class system without a regulariser has no steady state (docs/theory.md §9.3)";

/// The regulariser of a multi-class system: its loss is the softmax cross-entropy, so
/// `loss="squared"` is refused (the command line's message, naming the argument).
pub fn regulariser(loss: Loss, regulariser: Regulariser) -> PyResult<Regulariser> {
    if loss != Loss::Logistic {
        return Err(invalid(
            "loss='squared' is not available for a multi-class system: its loss is the softmax \
             cross-entropy (docs/theory.md §9.2)",
        ));
    }
    Ok(regulariser)
}

/// The system of the output Jacobian Φ with class labels; `rank` keeps the top features (as
/// for a kernel), reported in the truncation.
pub fn from_features(
    py: Python<'_>,
    phi: &DMatrix<f64>,
    labels: Vec<usize>,
    classes: usize,
    rank: Option<usize>,
) -> PyResult<(MulticlassSystem, Option<Truncation>)> {
    let mc = compute(py, || MulticlassSystem::from_features(phi, labels, classes))?;
    let Some(rank) = rank else {
        return Ok((mc, None));
    };
    check_rank(rank, mc.system().examples())?;
    let (kept, truncation) = compute(py, || mc.keep_top(rank))?;
    Ok((kept, Some(truncation)))
}

/// The system of an NTK Gram matrix with class labels, its negligible strengths dropped, then
/// the top `rank` features kept: the command line's `--kernel … --rank`, the two truncations
/// combined as it combines them.
pub fn from_kernel(
    py: Python<'_>,
    kernel: &DMatrix<f64>,
    labels: Vec<usize>,
    classes: usize,
    floor: f64,
    rank: Option<usize>,
) -> PyResult<(MulticlassSystem, Truncation)> {
    let (mc, truncation) = compute(py, || {
        MulticlassSystem::from_kernel(kernel, labels, classes, floor)
    })?;
    let Some(rank) = rank else {
        return Ok((mc, truncation));
    };
    check_rank(rank, mc.system().examples())?;
    let (kept, top) = compute(py, || mc.keep_top(rank))?;
    let combined = truncation.then(top);
    Ok((kept, combined))
}

/// The steady state with the sensitivities where known (L2; SD when every s_j > 0), as
/// `gstarve fixed-point --json` on a multi-class system.
pub fn fixed_point(mc: &MulticlassSystem, regulariser: Regulariser) -> Result<PyFixedPoint> {
    let sensitivities = match regulariser {
        Regulariser::L2 { .. } => true,
        Regulariser::SpectralDecoupling { .. } => mc.system().strengths().iter().all(|&s| s > 0.0),
        Regulariser::None | Regulariser::SpectralDecouplingClasses { .. } => false,
    };
    let (labels, classes) = (mc.labels(), mc.classes());
    if sensitivities {
        let sens = softmax_sensitivity(mc, regulariser)?;
        return Ok(PyFixedPoint::multiclass(
            sens.steady_state,
            labels,
            classes,
            Some((sens.derivatives, sens.elasticities)),
        ));
    }
    let dynamics = SoftmaxDynamics::new(mc, regulariser)?;
    let steady_state = softmax_steady_state(&dynamics, &NewtonParams::default())?;
    Ok(PyFixedPoint::multiclass(
        steady_state,
        labels,
        classes,
        None,
    ))
}
