//! The n-feature starvation matrix E_ji = ∂ log|z_j*| / ∂ log s_i² of a system (docs/theory.md
//! §5.3), with its masked rows and the pairs that starve, ready for a figure or a table.

use nalgebra::{DMatrix, DVector};

use crate::error::Result;
use crate::model::{Loss, Regulariser};
use crate::output::{Cell, Table};
use crate::systems::{FeatureSystem, MulticlassSystem};
use crate::theory::sensitivity::model_sensitivity;
use crate::theory::softmax::softmax_sensitivity;

/// The starvation matrix of a system at its steady state (L2 by default).
#[derive(Clone, Debug, PartialEq)]
pub struct StarvationMatrix {
    /// λ of the regulariser.
    pub lambda: f64,
    /// The loss.
    pub loss: Loss,
    /// The regulariser (strength `lambda`).
    pub regulariser: Regulariser,
    /// The strengths s₁ … s_r.
    pub strengths: DVector<f64>,
    /// The steady state z*.
    pub responses: DVector<f64>,
    /// E_ji: row j (the response), column i (the strength varied); `None` where z_j* = 0.
    pub elasticities: DMatrix<Option<f64>>,
    /// The number of classes c of a multi-class softmax system (docs/theory.md §9.3; the loss
    /// is then the softmax cross-entropy, not `loss`), `None` for a binary system.
    pub classes: Option<usize>,
    /// The features' 0-based indices in the whole system when the matrix is a block of a larger
    /// one ([`Self::block`]); `None`: features 0..r.
    pub features: Option<Vec<usize>>,
}

impl StarvationMatrix {
    /// Number of features r.
    pub fn rank(&self) -> usize {
        self.strengths.len()
    }

    /// The 1-based number of row/column `k` in the whole system (k + 1 unless a block).
    pub fn feature_number(&self, k: usize) -> usize {
        self.features.as_ref().map_or(k, |f| f[k]) + 1
    }

    /// The block of the features `chosen` (0-based, in the given order): their strengths,
    /// responses and the elasticities E_ji among them — the same entries as the whole matrix.
    /// Errors (exit 2): an index ≥ r.
    pub fn block(&self, chosen: &[usize]) -> Result<Self> {
        let r = self.rank();
        if let Some(&bad) = chosen.iter().find(|&&j| j >= r) {
            return Err(crate::error::Error::Input(
                crate::error::InputError::ResponseOutOfRange {
                    index: bad + 1,
                    rank: r,
                },
            ));
        }
        let whole = |k: usize| self.features.as_ref().map_or(k, |f| f[k]);
        let k = chosen.len();
        Ok(Self {
            strengths: DVector::from_fn(k, |a, _| self.strengths[chosen[a]]),
            responses: DVector::from_fn(k, |a, _| self.responses[chosen[a]]),
            elasticities: DMatrix::from_fn(k, k, |a, b| self.elasticities[(chosen[a], chosen[b])]),
            features: Some(chosen.iter().map(|&j| whole(j)).collect()),
            ..self.clone()
        })
    }

    /// The pairs (j, i), i ≠ j, 0-based, in which feature i starves feature j (E_ji < 0).
    pub fn starving_pairs(&self) -> Vec<(usize, usize)> {
        let r = self.rank();
        (0..r)
            .flat_map(|j| (0..r).map(move |i| (j, i)))
            .filter(|&(j, i)| i != j && self.elasticities[(j, i)].is_some_and(|e| e < 0.0))
            .collect()
    }

    /// The entries as a CSV table, `j,i,s_i,z_j,elasticity` with one line per entry (1-based
    /// indices; the elasticity `nan` where masked), its comment naming λ.
    pub fn to_table(&self) -> Result<Table> {
        let loss = match self.classes {
            Some(c) => format!("softmax cross-entropy ({c} classes)"),
            None => format!("{} loss", loss_name(self.loss)),
        };
        let comment = format!(
            "starvation matrix E_ji, {loss}, {} lambda = {}",
            self.regulariser.name().to_uppercase(),
            self.lambda
        );
        let header = ["j", "i", "s_i", "z_j", "elasticity"];
        let mut table = Table::with_comments(&[&comment], header)?;
        let r = self.rank();
        for j in 0..r {
            for i in 0..r {
                table.row([
                    Cell::from(self.feature_number(j)),
                    Cell::from(self.feature_number(i)),
                    Cell::Sci(self.strengths[i]),
                    Cell::Sci(self.responses[j]),
                    Cell::FiniteSci(self.elasticities[(j, i)].unwrap_or(f64::NAN)),
                ])?;
            }
        }
        Ok(table)
    }
}

fn loss_name(loss: Loss) -> &'static str {
    match loss {
        Loss::Logistic => "logistic",
        Loss::Squared => "squared",
    }
}

/// The starvation matrix of `system` under L2 with strength λ and the logistic loss
/// (docs/theory.md §5.3), from [`crate::theory::sensitivity::l2_sensitivity`].
pub fn starvation_matrix(system: &FeatureSystem, lambda: f64) -> Result<StarvationMatrix> {
    starvation_matrix_of(system, Loss::Logistic, Regulariser::L2 { lambda })
}

/// The starvation matrix of `system` at the steady state of `loss` under `regulariser`
/// (docs/theory.md §5.3), from [`crate::theory::sensitivity::model_sensitivity`].
pub fn starvation_matrix_of(
    system: &FeatureSystem,
    loss: Loss,
    regulariser: Regulariser,
) -> Result<StarvationMatrix> {
    let sens = model_sensitivity(system, loss, regulariser)?;
    Ok(StarvationMatrix {
        lambda: regulariser.lambda(),
        loss,
        regulariser,
        strengths: system.strengths().clone(),
        responses: sens.steady_state.responses,
        elasticities: sens.elasticities,
        classes: None,
        features: None,
    })
}

/// The starvation matrix of a multi-class softmax system at its steady state under
/// `regulariser` (L2, or SD with every s_j > 0, where it vanishes): the elasticities of
/// [`crate::theory::softmax::softmax_sensitivity`] (docs/theory.md §9.3), the same as
/// `fixed-point --json` reports.
pub fn starvation_matrix_multiclass(
    system: &MulticlassSystem,
    regulariser: Regulariser,
) -> Result<StarvationMatrix> {
    let sens = softmax_sensitivity(system, regulariser)?;
    Ok(StarvationMatrix {
        lambda: regulariser.lambda(),
        loss: Loss::Logistic,
        regulariser,
        strengths: system.system().strengths().clone(),
        responses: sens.steady_state.responses,
        elasticities: sens.elasticities,
        classes: Some(system.classes()),
        features: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toy_has_mutual_starvation() {
        let m = starvation_matrix(&FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap(), 0.01).unwrap();
        assert_eq!(m.starving_pairs(), vec![(0, 1), (1, 0)]);
        // Header and 2 × 2 entries; λ in the table's comment (its sidecar note).
        let table = m.to_table().unwrap();
        assert_eq!(
            table.notes(),
            ["starvation matrix E_ji, logistic loss, L2 lambda = 0.01"]
        );
        assert_eq!(table.into_string().unwrap().lines().count(), 5);
    }

    /// The toy's two-logit image has the toy's starvation matrix (elasticities are scale-free,
    /// docs/theory.md §9.4), and its table names the softmax loss.
    #[test]
    fn the_binary_image_has_the_toy_matrix() {
        let toy = FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
        let binary = starvation_matrix(&toy, 0.01).unwrap();
        let image = MulticlassSystem::binary_image(&toy, None).unwrap();
        let m = starvation_matrix_multiclass(&image, Regulariser::L2 { lambda: 0.01 }).unwrap();
        for j in 0..2 {
            for i in 0..2 {
                let (a, b) = (
                    binary.elasticities[(j, i)].unwrap(),
                    m.elasticities[(j, i)].unwrap(),
                );
                assert!((a - b).abs() < 1e-9 * a.abs().max(1.0), "E_{j}{i}: {a} {b}");
            }
        }
        assert_eq!(m.starving_pairs(), vec![(0, 1), (1, 0)]);
        let block = m.block(&[1]).unwrap();
        assert_eq!(block.elasticities[(0, 0)], m.elasticities[(1, 1)]);
        assert_eq!(block.feature_number(0), 2);
        assert!(m.block(&[2]).is_err());
        assert_eq!(
            m.to_table().unwrap().notes(),
            ["starvation matrix E_ji, softmax cross-entropy (2 classes), L2 lambda = 0.01"]
        );
    }
}
