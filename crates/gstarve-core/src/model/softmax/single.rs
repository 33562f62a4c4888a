//! The softmax flow's Jacobian Gram G = UᵀHU + λ_SD I rounded to single precision, for BDF's
//! mixed-precision iteration matrix (docs/theory.md §12.2).
//!
//! BDF's simplified Newton iteration converges to the corrector's solution with any iteration
//! matrix close enough to I/c − J: the matrix sets only the contraction rate (it is already
//! taken at an old state and an old c by design), while every residual F(z) stays in f64. So G
//! may be formed in f32: E of UᵀHU = EᵀE (`curvature`) is computed entry by entry in f64 and
//! rounded, and the lower triangle of EᵀE is one f32 triangular product (faer's f32 kernels do
//! twice the multiply–adds per instruction of its f64 ones, and move half the bytes).

use nalgebra::DVector;

use super::SoftmaxDynamics;

/// From this many responses on the softmax flow offers BDF the single-precision Gram: below it
/// the f64 Jacobian and factorisation cost little, and small flows keep their f64 iteration
/// matrix (and their results bit for bit).
pub const SINGLE_PRECISION_MIN_RANK: usize = 256;

impl SoftmaxDynamics<'_> {
    /// The lower triangle (diagonal included) of G = UᵀHU + λ_SD I at z in f32 into `gram`
    /// (r × r, column-major; the strict upper triangle left as it was): E rounded to f32, then
    /// the f32 product EᵀE, then λ_SD added to the diagonal (rounded once).
    pub fn curvature_gram_lower_single(&self, z: &[f64], gram: &mut [f32]) {
        let r = self.dim();
        assert_eq!(gram.len(), r * r, "G is r × r");
        self.curvature(&DVector::from_column_slice(z))
            .gram_lower_single_into(faer::MatMut::from_column_major_slice_mut(gram, r, r));
        let (_, sd) = self.regulariser.split();
        if sd != 0.0 {
            for j in 0..r {
                let g = &mut gram[j * r + j];
                *g = (f64::from(*g) + sd) as f32;
            }
        }
    }
}
