//! The Jacobian Φ = ∂f/∂θ ∈ R^{n×p} of the network outputs in closed form (docs/theory.md §1.1;
//! §8.2 for the Jacobian of a real network).
//!
//! With pre-activations h_ij = w_j·x_i + b_j and 1_ij = [h_ij > 0] (ReLU's derivative, taken as
//! 0 at the kink), for f = s·Σ_j a_j relu(h_j) + c:
//!
//! ```text
//! ∂f(x_i)/∂W_jk = s a_j 1_ij x_ik     ∂f(x_i)/∂b_j = s a_j 1_ij
//! ∂f(x_i)/∂a_j  = s relu(h_ij)        ∂f(x_i)/∂c   = 1
//! ```
//!
//! in the parameter order of [`TwoLayerRelu::parameters`]. No automatic differentiation.

use nalgebra::DMatrix;

use super::TwoLayerRelu;
use gstarve_core::error::Result;

impl TwoLayerRelu {
    /// Φ (n × p): row i is the gradient of f(x_i) with respect to θ (see the module docs).
    pub fn jacobian(&self, inputs: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        self.check_inputs(inputs)?;
        let (n, d, m) = (inputs.nrows(), self.input_dim, self.width());
        let s = self.output_scale();
        let p = self.num_parameters();
        let mut phi = DMatrix::zeros(n, p);
        for j in 0..m {
            let w = &self.weights[j * d..(j + 1) * d];
            let (bj, aj) = (self.biases[j], self.output_weights[j]);
            for i in 0..n {
                let h = bj + (0..d).map(|k| w[k] * inputs[(i, k)]).sum::<f64>();
                if h > 0.0 {
                    for k in 0..d {
                        phi[(i, j * d + k)] = s * aj * inputs[(i, k)];
                    }
                    phi[(i, m * d + j)] = s * aj;
                    phi[(i, m * d + m + j)] = s * h;
                }
            }
        }
        for i in 0..n {
            phi[(i, p - 1)] = 1.0;
        }
        Ok(phi)
    }
}
