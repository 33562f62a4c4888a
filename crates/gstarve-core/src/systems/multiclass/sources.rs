//! Where multi-class systems come from (docs/theory.md §9.1, §9.4): the output Jacobian Φ
//! (n·c rows, or n rows shared by the c outputs: Φ ⊗ I_c), an NTK Gram matrix (nc × nc, or
//! n × n meaning Θ ⊗ I_c), and the two-logit image of a binary system (the reduction check).

use nalgebra::{DMatrix, DVector};

use super::MulticlassSystem;
use crate::error::{Error, InputError, Result};
use crate::systems::{FeatureSystem, Truncation};

impl MulticlassSystem {
    /// The system of the output Jacobian Φ with labels in 0..c−1: the thin SVD Φ = U S Vᵀ
    /// (docs/theory.md §9.1; no label signing). Φ has n·c rows (row i·c + k: output k of example
    /// i), or n rows, meaning every output of an example has the same features, Φ ⊗ I_c: then
    /// U = U_Φ ⊗ I_c, each strength of Φ repeated c times (feature j·c + k is feature j of Φ
    /// on output k). Columns are oriented as [`orient`] says. The features V are not kept.
    pub fn from_features(phi: &DMatrix<f64>, labels: Vec<usize>, classes: usize) -> Result<Self> {
        let ones = vec![1.0; phi.nrows()];
        let shared = shared_rows(phi.nrows(), labels.len(), classes, "features Φ")?;
        let base = FeatureSystem::from_features(phi, &ones)?;
        Self::assemble(base, shared, labels, classes)
    }

    /// The system of an NTK Gram matrix with labels in 0..c−1: the eigendecomposition of Θ
    /// (nc × nc), or of an n × n Θ meaning Θ ⊗ I_c (docs/theory.md §9.1, §8.6), with the
    /// negligible strengths (s² ≤ floor·s₁²) dropped and reported.
    pub fn from_kernel(
        kernel: &DMatrix<f64>,
        labels: Vec<usize>,
        classes: usize,
        strength_floor: f64,
    ) -> Result<(Self, Truncation)> {
        let ones = vec![1.0; kernel.nrows()];
        let shared = shared_rows(kernel.nrows(), labels.len(), classes, "kernel Θ")?;
        let (base, mut truncation) = FeatureSystem::from_kernel(kernel, &ones, strength_floor)?;
        if shared {
            // Each dropped eigenvalue of Θ is c features of Θ ⊗ I_c (the share is unchanged).
            truncation.dropped_features *= classes;
        }
        Ok((Self::assemble(base, shared, labels, classes)?, truncation))
    }

    /// The two-logit image of a binary system (docs/theory.md §9.4): with the label-signed
    /// coupling U (n × r) and labels y (±1; `None`: every y = +1, the labels folded into U), the
    /// network with outputs (i, 1) = φᵢ/2 and (i, 0) = −φᵢ/2 has
    ///
    /// ```text
    /// U_mc[(i,1), :] = yᵢ U[i, :]/√2,   U_mc[(i,0), :] = −yᵢ U[i, :]/√2,   S_mc = S/√2,
    /// label 1 for y = +1, 0 for y = −1,
    /// ```
    ///
    /// and its softmax responses are z_mc = z/√2 under L2 or none; under SD at 2λ (§9.4).
    pub fn binary_image(binary: &FeatureSystem, signs: Option<&[f64]>) -> Result<Self> {
        let (n, r) = (binary.examples(), binary.rank());
        let signs: Vec<f64> = match signs {
            Some(y) => {
                if y.len() != n {
                    return Err(Error::Input(InputError::Length {
                        what: "labels",
                        found: y.len(),
                        expected: n,
                        rule: "one per example of the binary system",
                    }));
                }
                crate::systems::labels_to_signs(y)?
                    .iter()
                    .copied()
                    .collect()
            }
            None => vec![1.0; n],
        };
        let half = std::f64::consts::FRAC_1_SQRT_2;
        let u = binary.coupling();
        let coupling = DMatrix::from_fn(2 * n, r, |row, j| {
            let (i, k) = (row / 2, row % 2);
            let side = if k == 1 { 1.0 } else { -1.0 };
            side * signs[i] * u[(i, j)] * half
        });
        let strengths = binary.strengths() * half;
        let labels = signs.iter().map(|&y| usize::from(y > 0.0)).collect();
        Self::new(FeatureSystem::new(strengths, coupling)?, 2, labels)
    }

    /// `base` over all n·c outputs, or (`shared`) over the n examples, expanded by ⊗ I_c; then
    /// oriented.
    fn assemble(
        base: FeatureSystem,
        shared: bool,
        labels: Vec<usize>,
        classes: usize,
    ) -> Result<Self> {
        let system = if shared {
            let (n, r) = (base.examples(), base.rank());
            let u = base.coupling();
            let c = classes;
            let coupling = DMatrix::from_fn(n * c, r * c, |row, col| {
                if row % c == col % c {
                    u[(row / c, col / c)]
                } else {
                    0.0
                }
            });
            let strengths = DVector::from_fn(r * c, |col, _| base.strengths()[col / c]);
            FeatureSystem::from_orthonormal_coupling(strengths, coupling)?
        } else {
            base
        };
        let unoriented = Self::new(system, classes, labels)?;
        orient(unoriented)
    }
}

/// Whether a matrix with `rows` rows describes the n examples (shared by the c outputs, ⊗ I_c)
/// or all n·c outputs; any other count is an error naming both.
fn shared_rows(rows: usize, examples: usize, classes: usize, what: &'static str) -> Result<bool> {
    if rows == examples * classes {
        Ok(false)
    } else if rows == examples {
        Ok(true)
    } else {
        Err(Error::Input(InputError::MatrixShape {
            what: what.into(),
            rows,
            cols: rows,
            rule: "a multi-class system needs n·c rows (one per example and class) or n rows \
                   (shared by the c outputs); n is the number of labels",
        }))
    }
}

/// Orientation (docs/theory.md §9.1): column signs of U and V flip in pairs; each column is
/// turned so that its initial drive (Uᵀ vec(Y − 1/c))_j, the response's rate at z = 0 divided by
/// s_j², is ≥ 0: every response starts by growing. For a binary image this is the binary
/// orientation (Uᵀ1)_j ≥ 0.
pub fn orient(system: MulticlassSystem) -> Result<MulticlassSystem> {
    let c = system.classes() as f64;
    let drive = system.targets().map(|y| y - 1.0 / c);
    let u = system.system().coupling();
    let signs = u.tr_mul(&drive).map(|d| if d < 0.0 { -1.0 } else { 1.0 });
    if signs.iter().all(|&s| s > 0.0) {
        return Ok(system);
    }
    let mut flipped = u.clone();
    for (j, mut col) in flipped.column_iter_mut().enumerate() {
        col *= signs[j];
    }
    let strengths = system.system().strengths().clone();
    system.with_system(FeatureSystem::from_orthonormal_coupling(
        strengths, flipped,
    )?)
}
