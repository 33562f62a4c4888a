//! The n-feature starvation matrix E_ji = ∂ log|z_j*| / ∂ log s_i² of a system (docs/theory.md
//! §5.3), with its masked rows and the pairs that starve, ready for a figure or a table.

use nalgebra::{DMatrix, DVector};

use crate::error::Result;
use crate::model::{Loss, Regulariser};
use crate::output::{Cell, Table};
use crate::systems::FeatureSystem;
use crate::theory::sensitivity::model_sensitivity;

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
}

impl StarvationMatrix {
    /// Number of features r.
    pub fn rank(&self) -> usize {
        self.strengths.len()
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
        let comment = format!(
            "starvation matrix E_ji, {} loss, {} lambda = {}",
            loss_name(self.loss),
            self.regulariser.name().to_uppercase(),
            self.lambda
        );
        let header = ["j", "i", "s_i", "z_j", "elasticity"];
        let mut table = Table::with_comments(&[&comment], header)?;
        let r = self.rank();
        for j in 0..r {
            for i in 0..r {
                table.row([
                    Cell::from(j + 1),
                    Cell::from(i + 1),
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
}
