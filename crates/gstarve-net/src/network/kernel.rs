//! The training kernel: the data laid out for the passes over the hidden units, the loss and
//! its residuals, and the forward and backward passes over all units.
//!
//! One epoch is two fused passes over the hidden units, each an inner loop over the examples
//! ([`super::passes`]): forward h_ij = w_j·x_i + b_j, f_i += s a_j relu(h_ij); backward
//! recomputes h_ij (cheaper than storing and re-reading m·n values) and accumulates ∂J/∂a_j,
//! ∂J/∂b_j, ∂J/∂w_j in [`LANES`] independent partial sums so that the sums vectorise. The inputs
//! are stored column by column and padded to a multiple of LANES with examples of zero
//! residual, so that every sweep is whole vectors. Optionally the units are split in two halves
//! run by rayon (`parallel`). Everything is f64.

use super::class_targets::ClassTargets;
use super::passes::{backward_units, forward_units, Scratch, Units, LANES};
use super::sgd::Gradient;
use super::TwoLayerRelu;
use crate::data::Dataset;
use gstarve_core::error::Result;

/// The data laid out for the passes, and their buffers.
pub(super) struct Kernel {
    pub(super) n: usize,
    /// n rounded up to a multiple of LANES.
    pub(super) n_pad: usize,
    pub(super) d: usize,
    /// Inputs column by column: x[k·n_pad + i] = x_ik (0 in the padding).
    pub(super) x: Vec<f64>,
    /// Labels (0 in the padding).
    pub(super) y: Vec<f64>,
    /// Outputs f(x_i).
    pub(super) out: Vec<f64>,
    /// r_i = ∂J/∂f(x_i) (0 in the padding).
    pub(super) residual: Vec<f64>,
    /// Scratch of the two halves of the units (the first alone when sequential).
    pub(super) scratch: [Scratch; 2],
}

impl Kernel {
    /// Lay out `data` for `net` (which fixes d) and allocate the buffers.
    pub(super) fn new(net: &TwoLayerRelu, data: &Dataset) -> Result<Self> {
        net.check_inputs(data.inputs())?;
        let (n, d) = (data.len(), data.dim());
        let n_pad = n.div_ceil(LANES) * LANES;
        let mut x = vec![0.0; d * n_pad];
        for k in 0..d {
            for i in 0..n {
                x[k * n_pad + i] = data.inputs()[(i, k)];
            }
        }
        let mut y = vec![0.0; n_pad];
        y[..n].copy_from_slice(data.labels().as_slice());
        let scratch = Scratch::new(n_pad);
        Ok(Self {
            n,
            n_pad,
            d,
            x,
            y,
            out: vec![0.0; n_pad],
            residual: vec![0.0; n_pad],
            scratch: [scratch.clone(), scratch],
        })
    }

    /// out_i = f(x_i).
    pub(super) fn forward(&mut self, net: &TwoLayerRelu, parallel: bool) {
        let s = net.output_scale();
        let (d, n_pad, x) = (self.d, self.n_pad, &self.x[..]);
        let m = net.width();
        let (w, b, a) = (&net.weights[..], &net.biases[..], &net.output_weights[..]);
        if parallel && m >= 2 {
            let h = m / 2;
            let [s0, s1] = &mut self.scratch;
            rayon::join(
                || {
                    let p = Units {
                        w: &w[..h * d],
                        b: &b[..h],
                        a: &a[..h],
                    };
                    forward_units(p, s, d, n_pad, x, s0)
                },
                || {
                    let p = Units {
                        w: &w[h * d..],
                        b: &b[h..],
                        a: &a[h..],
                    };
                    forward_units(p, s, d, n_pad, x, s1)
                },
            );
            for ((o, p), q) in self.out.iter_mut().zip(&s0.out).zip(&s1.out) {
                *o = p + q + net.output_bias;
            }
        } else {
            let s0 = &mut self.scratch[0];
            forward_units(Units { w, b, a }, s, d, n_pad, x, s0);
            for (o, p) in self.out.iter_mut().zip(&s0.out) {
                *o = p + net.output_bias;
            }
        }
    }

    /// The mean loss + SD term of the current outputs f_i, with margins m_i = y_i f_i and the
    /// logistic loss ℓ(m) = log(1 + e^{−m}) of docs/theory.md §2.1:
    ///
    /// ```text
    /// L = (1/n) Σ_i [ℓ(m_i) + c f_i²],   r_i = ∂L/∂f_i = (1/n) (−y_i σ(−m_i) + 2c f_i)
    /// ```
    ///
    /// Returns L and sets the residuals r_i.
    pub(super) fn loss_and_residual(&mut self, sd: f64) -> f64 {
        self.loss_and_residual_with(sd, None)
    }

    /// [`Self::loss_and_residual`] with, optionally, the per-class SD term of
    /// [`super::class_targets`]: L gains (1/n) Σ_i (λ_c/2)(m_i − γ_c)² and r_i gains
    /// (1/n) y_i λ_c (m_i − γ_c).
    pub(super) fn loss_and_residual_with(
        &mut self,
        sd: f64,
        targets: Option<&ClassTargets>,
    ) -> f64 {
        let inv_n = 1.0 / self.n as f64;
        let mut loss = 0.0;
        for i in 0..self.n {
            let (f, y) = (self.out[i], self.y[i]);
            let margin = y * f;
            // ℓ(m) and σ(−m) from e^{−|m|} ≤ 1, which cannot overflow (e^{−m} would for
            // m ≪ 0): ℓ(m) = log1p(e^{−m}) for m > 0 and −m + log1p(e^{m}) otherwise.
            let (softplus, sigma) = if margin > 0.0 {
                let e = (-margin).exp();
                (e.ln_1p(), e / (1.0 + e))
            } else {
                let e = margin.exp();
                (-margin + e.ln_1p(), 1.0 / (1.0 + e))
            };
            let (term, slope) = targets.map_or((0.0, 0.0), |t| t.term(y, f));
            loss += softplus + sd * f * f + term;
            self.residual[i] = inv_n * (-y * sigma + 2.0 * sd * f + slope);
        }
        loss * inv_n
    }

    /// The gradient of the loss terms (no weight decay) from the current residuals.
    pub(super) fn backward(&mut self, net: &TwoLayerRelu, grad: &mut Gradient, parallel: bool) {
        let s = net.output_scale();
        let (d, n_pad, x, r) = (self.d, self.n_pad, &self.x[..], &self.residual[..]);
        let m = net.width();
        let (w, b, a) = (&net.weights[..], &net.biases[..], &net.output_weights[..]);
        if parallel && m >= 2 {
            let h = m / 2;
            let (gw0, gw1) = grad.weights.split_at_mut(h * d);
            let (gb0, gb1) = grad.biases.split_at_mut(h);
            let (ga0, ga1) = grad.output_weights.split_at_mut(h);
            let [s0, s1] = &mut self.scratch;
            rayon::join(
                || {
                    let p = Units {
                        w: &w[..h * d],
                        b: &b[..h],
                        a: &a[..h],
                    };
                    backward_units(p, s, d, n_pad, x, r, (gw0, gb0, ga0), s0)
                },
                || {
                    let p = Units {
                        w: &w[h * d..],
                        b: &b[h..],
                        a: &a[h..],
                    };
                    backward_units(p, s, d, n_pad, x, r, (gw1, gb1, ga1), s1)
                },
            );
        } else {
            let p = Units { w, b, a };
            let g = (
                &mut grad.weights[..],
                &mut grad.biases[..],
                &mut grad.output_weights[..],
            );
            backward_units(p, s, d, n_pad, x, r, g, &mut self.scratch[0]);
        }
        grad.output_bias = r.iter().sum();
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::network::{NetworkOptions, Parameterisation};
    use nalgebra::DMatrix;

    /// n examples in d dimensions on a small grid, one label in three positive.
    pub(crate) fn data(d: usize, n: usize) -> Dataset {
        let inputs = DMatrix::from_fn(n, d, |i, k| ((i * 7 + k * 3) % 11) as f64 / 5.0 - 1.0);
        let labels: Vec<f64> = (0..n)
            .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
            .collect();
        Dataset::new(inputs, &labels).unwrap()
    }

    #[test]
    fn parallel_and_general_d_kernels_agree_with_the_plain_network() {
        for d in [1, 2, 3] {
            let data = data(d, 13);
            let net = TwoLayerRelu::init(
                d,
                &NetworkOptions {
                    width: 9,
                    parameterisation: Parameterisation::Ntk,
                    ..Default::default()
                },
            )
            .unwrap();
            let mut k = Kernel::new(&net, &data).unwrap();
            let plain = net.outputs(data.inputs()).unwrap();
            for parallel in [false, true] {
                k.forward(&net, parallel);
                for i in 0..13 {
                    assert!((k.out[i] - plain[i]).abs() < 1e-13);
                }
            }
            k.loss_and_residual(0.01);
            let mut g1 = Gradient::zeros(&net);
            let mut g2 = Gradient::zeros(&net);
            k.backward(&net, &mut g1, false);
            k.backward(&net, &mut g2, true);
            for (u, v) in g1.weights.iter().zip(&g2.weights) {
                assert!((u - v).abs() < 1e-15);
            }
        }
    }
}
