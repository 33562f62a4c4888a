//! Inputs that are zero outside one channel per example, and the first layer's two products on
//! the active channel only.
//!
//! The d inputs are C channels of w = d/C consecutive columns; example i is zero outside the
//! columns of its channel c(i) (the coloured digits: the image in the channel of its colour,
//! zeros in the other). With X_c the rows of channel c restricted to its columns (n_c × w) and
//! W₁[:, c] the matching w columns of the first layer,
//!
//! ```text
//! Z₁[rows of c] = X_c W₁[:, c]ᵀ + 1 b₁ᵀ,   ∂J/∂W₁[:, c] = G₁[rows of c]ᵀ X_c,
//! ```
//!
//! exactly the dense products with the zero terms left out: d/w = C times fewer operations for
//! these two products (half at C = 2), the same sums up to the order of their terms.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use super::dense::{product, rows, Real};

/// The rows of a row-major n × d matrix grouped by the channel they are non-zero in.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelInputs<T> {
    n: usize,
    d: usize,
    width: usize,
    /// Per channel: its rows (example indices, increasing) and their w active columns, n_c × w
    /// row by row.
    channels: Vec<(Vec<usize>, Vec<T>)>,
}

impl<T: Real> ChannelInputs<T> {
    /// The rows of `x` (n × d, row by row) by channel, for `channels` channels of d/C columns;
    /// `None` if C does not divide d, `x` is not n × d, or a row is non-zero in two channels.
    /// A row of zeros joins channel 0 (its products are zero in any channel).
    pub fn split(x: &[T], d: usize, channels: usize) -> Option<Self> {
        if channels == 0 || d == 0 || !d.is_multiple_of(channels) || !x.len().is_multiple_of(d) {
            return None;
        }
        let (n, width) = (x.len() / d, d / channels);
        let mut groups: Vec<(Vec<usize>, Vec<T>)> = vec![(Vec::new(), Vec::new()); channels];
        for (i, row) in x.chunks_exact(d).enumerate() {
            let mut active = row
                .chunks_exact(width)
                .enumerate()
                .filter(|(_, block)| block.iter().any(|&v| v != T::ZERO))
                .map(|(c, _)| c);
            let c = active.next().unwrap_or(0);
            if active.next().is_some() {
                return None;
            }
            groups[c].0.push(i);
            groups[c]
                .1
                .extend_from_slice(&row[c * width..(c + 1) * width]);
        }
        Some(Self {
            n,
            d,
            width,
            channels: groups,
        })
    }

    /// Examples n.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there is no example.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Inputs d.
    pub fn inputs(&self) -> usize {
        self.d
    }

    /// `out` (n × m, row by row) = X W₁ᵀ + 1 b₁ᵀ for W₁ = `weight` (m × d, row by row) and
    /// b₁ = `bias`, on the active columns; `scratch` holds one channel's rows.
    pub(super) fn first_layer(
        &self,
        weight: &[T],
        bias: &[T],
        out: &mut [T],
        scratch: &mut Vec<T>,
    ) {
        let m = bias.len();
        let full = rows(weight, m, self.d);
        for (c, (members, xc)) in self.channels.iter().enumerate() {
            let nc = members.len();
            scratch.resize(nc * m, T::ZERO);
            for row in scratch.chunks_exact_mut(m) {
                row.copy_from_slice(bias);
            }
            let wc = full.subcols(c * self.width, self.width).transpose();
            product(scratch, true, rows(xc, nc, self.width), wc);
            for (&i, row) in members.iter().zip(scratch.chunks_exact(m)) {
                out[i * m..(i + 1) * m].copy_from_slice(row);
            }
        }
    }

    /// `grad` (m × d, row by row) = G₁ᵀ X for the slopes G₁ = `slope` (n × m, row by row), on
    /// the active columns; `scratch` holds one channel's slopes.
    pub(super) fn weight_gradient(&self, slope: &[T], grad: &mut [T], scratch: &mut Vec<T>) {
        let m = slope.len() / self.n.max(1);
        grad[..m * self.d].fill(T::ZERO);
        for (c, (members, xc)) in self.channels.iter().enumerate() {
            let nc = members.len();
            scratch.clear();
            for &i in members {
                scratch.extend_from_slice(&slope[i * m..(i + 1) * m]);
            }
            let dst = MatMut::from_row_major_slice_mut(&mut grad[..m * self.d], m, self.d)
                .subcols_mut(c * self.width, self.width);
            let lhs = MatRef::from_row_major_slice(&scratch[..], nc, m).transpose();
            matmul(
                dst,
                Accum::Add,
                lhs,
                rows(xc, nc, self.width),
                T::ONE,
                Par::Seq,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::{DenseMlp, DenseWork};
    use rand::{Rng, SeedableRng};

    /// Rows zero outside a random channel of 3 (one row zero everywhere).
    fn inputs(rng: &mut impl Rng, n: usize, d: usize) -> Vec<f64> {
        let w = d / 3;
        let mut x = vec![0.0; n * d];
        for (i, row) in x.chunks_exact_mut(d).enumerate().skip(1) {
            let c = rng.random_range(0..3);
            for v in &mut row[c * w..(c + 1) * w] {
                *v = if i % 2 == 0 && rng.random::<f64>() < 0.3 {
                    0.0
                } else {
                    rng.random::<f64>() * 2.0 - 1.0
                };
            }
        }
        x
    }

    #[test]
    fn channel_passes_match_dense_ones() {
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(7);
        let sizes = vec![12, 9, 7, 1];
        let count: usize = sizes.windows(2).map(|w| w[1] * (w[0] + 1)).sum();
        let theta: Vec<f64> = (0..count).map(|_| rng.random::<f64>() - 0.5).collect();
        let net = DenseMlp::new(sizes, theta).unwrap();
        let n = 23;
        let x = inputs(&mut rng, n, 12);
        let split = ChannelInputs::split(&x, 12, 3).expect("one channel a row");
        assert_eq!((split.len(), split.inputs()), (n, 12));
        let g: Vec<f64> = (0..n).map(|_| rng.random::<f64>() - 0.5).collect();
        let (mut dense, mut channels) = (DenseWork::default(), DenseWork::default());
        let f = net.forward(&x, &mut dense).to_vec();
        let fc = net.forward_channels(&split, &mut channels).to_vec();
        let grad = net.backward(&x, &g, &mut dense).to_vec();
        let gradc = net.backward_channels(&split, &g, &mut channels).to_vec();
        // The same sums without their zero terms, in another order: rounding apart.
        let gap = |a: &[f64], b: &[f64]| {
            let scale = a.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            a.iter()
                .zip(b)
                .fold(0.0_f64, |m, (x, y)| m.max((x - y).abs()))
                / scale
        };
        assert!(gap(&f, &fc) < 1e-14, "outputs {:e}", gap(&f, &fc));
        assert!(
            gap(&grad, &gradc) < 1e-14,
            "gradient {:e}",
            gap(&grad, &gradc)
        );
        // Every channel has rows: every block of ∂J/∂W₁'s columns is a real product.
        for c in 0..3 {
            let block = (0..9).flat_map(|r| gradc[r * 12 + c * 4..r * 12 + c * 4 + 4].to_vec());
            assert!(block.filter(|v| *v != 0.0).count() > 20, "channel {c}");
        }
    }

    #[test]
    fn rows_in_two_channels_are_not_split() {
        let x = vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0];
        assert!(ChannelInputs::split(&x, 4, 2).is_some());
        assert!(
            ChannelInputs::split(&x, 4, 3).is_none(),
            "3 does not divide 4"
        );
        assert!(ChannelInputs::split(&x, 3, 1).is_none(), "not n × 3");
        let both = vec![1.0, 0.0, 2.0, 0.0];
        assert!(ChannelInputs::split(&both, 4, 2).is_none());
    }
}
