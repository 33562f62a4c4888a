//! The multi-class (softmax) paths of `fixed-point` and `simulate` (docs/theory.md §9).

use anyhow::{bail, Result};
use gstarve_core::model::{Loss, Regulariser};
use gstarve_core::output::{to_json_sorted, Layout};
use gstarve_core::systems::{MulticlassSystem, Truncation};
use gstarve_core::theory::softmax::softmax_sensitivity;
use gstarve_core::{
    model::SoftmaxDynamics,
    solvers::{steady::NewtonParams, steady_softmax::softmax_steady_state},
};
use nalgebra::DMatrix;
use serde::Serialize;

use super::ModelArgs;

/// The loss of a multi-class system is the softmax cross-entropy: `--loss squared` is refused.
pub fn regulariser(model: &ModelArgs) -> Result<Regulariser> {
    let (loss, reg) = model.model()?;
    if loss != Loss::Logistic {
        bail!(
            "--loss squared is not available for a multi-class system: its loss is the softmax \
             cross-entropy (docs/theory.md §9.2)"
        );
    }
    if matches!(reg, Regulariser::SpectralDecouplingClasses { .. }) {
        bail!(
            "Spectral Decoupling with class targets (--sd-target, per-class --lambda) is defined \
             for binary systems (docs/theory.md §10.1); a multi-class system takes one λ"
        );
    }
    Ok(reg)
}

/// `gstarve fixed-point --json` for a multi-class system: the binary keys (z, margins, alpha
/// null, residual, iterations, method, sensitivity, elasticity) and classes, labels, logits and
/// probabilities (n × c, row i: example i).
#[derive(Serialize)]
struct MulticlassFixedPointJson {
    z: Vec<f64>,
    /// mᵢ = F_{i,yᵢ} − max_{k≠yᵢ} F_ik.
    margins: Vec<f64>,
    alpha: Option<Vec<f64>>,
    residual: f64,
    iterations: usize,
    method: &'static str,
    sensitivity: Option<Vec<Vec<f64>>>,
    elasticity: Option<Vec<Vec<Option<f64>>>>,
    classes: usize,
    labels: Vec<usize>,
    logits: Vec<Vec<f64>>,
    probabilities: Vec<Vec<f64>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    truncation: Option<Truncation>,
}

fn rows<T: Copy>(m: &DMatrix<T>) -> Vec<Vec<T>> {
    m.row_iter()
        .map(|row| row.iter().copied().collect())
        .collect()
}

/// Run `gstarve fixed-point` on a multi-class system.
pub fn fixed_point(
    system: &MulticlassSystem,
    truncation: Option<Truncation>,
    model: &ModelArgs,
    json: bool,
) -> Result<()> {
    let reg = regulariser(model)?;
    let sensitivities = match reg {
        Regulariser::L2 { .. } => true,
        Regulariser::SpectralDecoupling { .. } => {
            system.system().strengths().iter().all(|&s| s > 0.0)
        }
        // Refused by `regulariser`.
        Regulariser::None | Regulariser::SpectralDecouplingClasses { .. } => false,
    };
    let (fp, sensitivity, elasticity) = if sensitivities {
        let sens = softmax_sensitivity(system, reg)?;
        (
            sens.steady_state,
            Some(rows(&sens.derivatives)),
            Some(rows(&sens.elasticities)),
        )
    } else {
        let d = SoftmaxDynamics::new(system, reg)?;
        (
            softmax_steady_state(&d, &NewtonParams::default())?,
            None,
            None,
        )
    };
    let margins: Vec<f64> = fp.margins(system.labels()).iter().copied().collect();
    if json {
        let value = MulticlassFixedPointJson {
            z: fp.responses.iter().copied().collect(),
            margins,
            alpha: None,
            residual: fp.residual,
            iterations: fp.iterations,
            method: "newton",
            sensitivity,
            elasticity,
            classes: system.classes(),
            labels: system.labels().to_vec(),
            logits: rows(&fp.logits),
            probabilities: rows(&fp.probabilities),
            truncation,
        };
        println!("{}", to_json_sorted(&value, Layout::Compact)?);
        return Ok(());
    }
    let fmt = |v: &[f64]| {
        let parts: Vec<String> = v.iter().map(|x| format!("{x:.6}")).collect();
        format!("({})", parts.join(", "))
    };
    println!(
        "multi-class softmax system: {} examples, {} classes, {} features",
        system.examples(),
        system.classes(),
        system.rank()
    );
    println!("z*       = {}", fmt(fp.responses.as_slice()));
    println!("margins  = {}  (F_iy − max_k≠y F_ik)", fmt(&margins));
    println!(
        "residual = {:.3e} after {} iterations (newton)",
        fp.residual, fp.iterations
    );
    if let Some(e) = &elasticity {
        println!(
            "elasticity E_ji = ∂log|z_j*|/∂log s_i² (rows j, columns i; negative = starvation):"
        );
        for row in e {
            let cells: Vec<String> = row
                .iter()
                .map(|v| v.map_or("   masked".to_string(), |x| format!("{x:>9.5}")))
                .collect();
            println!("  [{}]", cells.join(", "));
        }
    }
    Ok(())
}
