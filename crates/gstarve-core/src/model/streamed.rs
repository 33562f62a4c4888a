//! The two products with the coupling that the z-space dynamics need, each in one pass over U
//! (docs/theory.md §3.2, §8.7): for an n × r coupling with r ≪ n, U is the only large object, and
//! reading it from memory is the cost of an evaluation.
//!
//! U is stored column-major, so a block of B rows is r contiguous runs of B numbers. For each
//! block: the margins m_i = U_i·z of its rows, then their contribution Σ_i U_i f(m_i) to Uᵀf(Uz);
//! the block (B·r numbers, about 512 KB) is still in cache for the second use, so U streams
//! through memory once per evaluation instead of twice. Cost O(nr), memory O(B + r).

use nalgebra::DMatrix;

/// Bytes of U per row block: small enough to stay in a core's L2 cache between its two uses.
const BLOCK_BYTES: usize = 512 * 1024;

/// Rows per block for r columns.
fn block_rows(r: usize) -> usize {
    (BLOCK_BYTES / (8 * r.max(1))).clamp(64, 8192)
}

/// The rows start … start + rows − 1 of the column-major n × r matrix `data` as a faer view.
fn row_block(data: &[f64], n: usize, r: usize, start: usize, rows: usize) -> faer::MatRef<'_, f64> {
    faer::MatRef::from_column_major_slice_with_stride(&data[start..], rows, r, n)
}

/// out = Uᵀ f(Uz), U read once: per row block B, m_B = U_B z and out += U_Bᵀ f(m_B), both by
/// faer's matrix–vector products. `f(i, m_i)` gets the example's index.
///
/// Measured at n = 10⁴, r = 100 (docs/benchmarks.md, "Truncated systems at large n"): 0.51–0.58
/// ms against 0.60–0.65 ms for the two full products (faer, sequential or on 2 threads) and
/// 0.69 ms for nalgebra's.
pub(crate) fn transpose_map_into(
    u: &DMatrix<f64>,
    z: &[f64],
    f: impl Fn(usize, f64) -> f64,
    out: &mut [f64],
) {
    let each = |start: usize, margins: &mut [f64]| {
        for (i, m) in margins.iter_mut().enumerate() {
            *m = f(start + i, *m);
        }
    };
    transpose_group_map_into(u, z, 1, each, out);
}

/// out = Uᵀ g(Uz) for a map g that acts on consecutive groups of `group` rows together (the c
/// logits of one example of a softmax system, docs/theory.md §9.1), U read once as in
/// [`transpose_map_into`], with row blocks that hold whole groups: `g(first_row, values)`
/// replaces the block's values Uz by g's. Allocates one block of scratch.
pub(crate) fn transpose_group_map_into(
    u: &DMatrix<f64>,
    z: &[f64],
    group: usize,
    mut g: impl FnMut(usize, &mut [f64]),
    out: &mut [f64],
) {
    let (n, r) = u.shape();
    let block = group_block_rows(n, r, group);
    let mut values = vec![0.0; block];
    out.fill(0.0);
    accumulate_rows(u, z, 0..n, block, &mut g, &mut values, out);
}

/// Rows per block for r columns that hold whole groups of `group` rows (at most n).
fn group_block_rows(n: usize, r: usize, group: usize) -> usize {
    let group = group.max(1);
    ((block_rows(r) / group).max(1) * group).min(n)
}

/// acc += Σ over the row blocks B of `rows` (each `block` rows, the last shorter) of
/// U_Bᵀ g(U_B z), by faer's matrix–vector products; `values` is one block of scratch.
fn accumulate_rows(
    u: &DMatrix<f64>,
    z: &[f64],
    rows: std::ops::Range<usize>,
    block: usize,
    g: &mut impl FnMut(usize, &mut [f64]),
    values: &mut [f64],
    acc: &mut [f64],
) {
    let (n, r) = u.shape();
    let data = u.as_slice();
    let zf = faer::MatRef::from_column_major_slice(z, r, 1);
    let mut acc = faer::MatMut::from_column_major_slice_mut(acc, r, 1);
    let mut start = rows.start;
    while start < rows.end {
        let len = block.min(rows.end - start);
        let ub = row_block(data, n, r, start, len);
        let mut vb = faer::MatMut::from_column_major_slice_mut(&mut values[..len], len, 1);
        faer::linalg::matmul::matmul(
            vb.as_mut(),
            faer::Accum::Replace,
            ub,
            zf,
            1.0,
            faer::Par::Seq,
        );
        g(start, &mut values[..len]);
        let vb = faer::MatRef::from_column_major_slice(&values[..len], len, 1);
        faer::linalg::matmul::matmul(
            acc.as_mut(),
            faer::Accum::Add,
            ub.transpose(),
            vb,
            1.0,
            faer::Par::Seq,
        );
        start += len;
    }
}

/// Bytes of U per task of [`par_transpose_group_map_into`]: whole row blocks, at least one. A
/// constant, so that the split (and with it every rounding) is the same on any number of
/// threads.
const CHUNK_BYTES: usize = 1 << 20;

/// [`transpose_group_map_into`] on all cores: the rows are split into chunks of whole blocks of
/// about [`CHUNK_BYTES`], independently of the thread count; each chunk accumulates its own
/// partial Σ_B U_Bᵀ g(U_B z) as the sequential loop does, and the partials are summed in chunk
/// order, so the result is bit-identical on any number of threads (it differs from the one-pass
/// sum of [`transpose_group_map_into`] by rounding only). Below two chunks of U it is that
/// function.
pub(crate) fn par_transpose_group_map_into(
    u: &DMatrix<f64>,
    z: &[f64],
    group: usize,
    g: impl Fn(usize, &mut [f64]) + Sync,
    out: &mut [f64],
) {
    use rayon::prelude::*;
    let (n, r) = u.shape();
    let block = group_block_rows(n, r, group);
    let chunk = (CHUNK_BYTES / (8 * r.max(1) * block)).max(1) * block;
    if n < 2 * chunk {
        return transpose_group_map_into(u, z, group, g, out);
    }
    let partials: Vec<Vec<f64>> = (0..n)
        .step_by(chunk)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|start| {
            let mut acc = vec![0.0; r];
            let mut values = vec![0.0; block];
            let mut g = |first: usize, v: &mut [f64]| g(first, v);
            let rows = start..(start + chunk).min(n);
            accumulate_rows(u, z, rows, block, &mut g, &mut values, &mut acc);
            acc
        })
        .collect();
    out.copy_from_slice(&partials[0]);
    for partial in &partials[1..] {
        for (o, &p) in out.iter_mut().zip(partial) {
            *o += p;
        }
    }
}

/// UᵀDU with D = diag(f((Uz)_i)) (r × r), accumulated over row blocks: per block the margins,
/// the scaled block D_B U_B (B × r scratch, B ≥ r) and U_Bᵀ(D_B U_B) by faer's matrix product
/// (in parallel for large blocks). U is read once; no n × r copy is made. Cost O(nr²), memory
/// O(Br + r²). `f(i, m_i)` gets the example's index.
pub(crate) fn weighted_gram(
    u: &DMatrix<f64>,
    z: &[f64],
    f: impl Fn(usize, f64) -> f64,
) -> DMatrix<f64> {
    let n = u.nrows();
    let data = u.as_slice();
    weighted_gram_by_blocks(u, |start, d| {
        d.iter_mut().for_each(|x| *x = 0.0);
        for (j, &zj) in z.iter().enumerate() {
            let column = &data[j * n + start..j * n + start + d.len()];
            for (di, &uij) in d.iter_mut().zip(column) {
                *di += uij * zj;
            }
        }
        d.iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = f(start + i, *x));
    })
}

/// Up to this many features the Gram UᵀDU is summed row by row in scalar code: faer's blocked
/// product costs microseconds of set-up per call, which dominated a whole two-feature Newton
/// solve (a dozen products of 2 × 2 results).
const SMALL_GRAM: usize = 8;

/// [`weighted_gram_by_blocks`] for r ≤ [`SMALL_GRAM`]: Σᵢ dᵢ uᵢ uᵢᵀ over the rows uᵢ of U,
/// the lower triangle summed and mirrored (exactly symmetric), weights filled in blocks of 64.
fn small_weighted_gram(
    u: &DMatrix<f64>,
    mut weights: impl FnMut(usize, &mut [f64]),
) -> DMatrix<f64> {
    let (n, r) = u.shape();
    let mut gram = DMatrix::<f64>::zeros(r, r);
    let mut d = [0.0; 64];
    let mut start = 0;
    while start < n {
        let rows = d.len().min(n - start);
        weights(start, &mut d[..rows]);
        for (offset, &di) in d[..rows].iter().enumerate() {
            let i = start + offset;
            for j in 0..r {
                let w = di * u[(i, j)];
                for l in 0..=j {
                    gram[(j, l)] += w * u[(i, l)];
                }
            }
        }
        start += rows;
    }
    for j in 0..r {
        for l in 0..j {
            gram[(l, j)] = gram[(j, l)];
        }
    }
    gram
}

/// UᵀDU for a given diagonal D = diag(d) (length n), by the same row blocks.
pub(crate) fn diagonal_weighted_gram(u: &DMatrix<f64>, d: &[f64]) -> DMatrix<f64> {
    weighted_gram_by_blocks(u, |start, block| {
        block.copy_from_slice(&d[start..start + block.len()]);
    })
}

/// The block loop of [`weighted_gram`]: `weights(start, d)` fills the weights of rows
/// start … start + d.len() − 1.
fn weighted_gram_by_blocks(
    u: &DMatrix<f64>,
    mut weights: impl FnMut(usize, &mut [f64]),
) -> DMatrix<f64> {
    let (n, r) = u.shape();
    let data = u.as_slice();
    if r <= SMALL_GRAM {
        return small_weighted_gram(u, weights);
    }
    // At least r rows per block, so that each product is a rank-≥r update of the r × r result
    // (the scratch then costs no more than the result).
    let block = block_rows(r).max(r).min(n);
    let par = if block * r * r >= 1 << 21 {
        faer::Par::rayon(0)
    } else {
        faer::Par::Seq
    };
    let mut gram = faer::Mat::<f64>::zeros(r, r);
    let mut scaled = faer::Mat::<f64>::zeros(block, r);
    let mut d = vec![0.0; block];
    let mut start = 0;
    while start < n {
        let rows = block.min(n - start);
        let w = &mut d[..rows];
        weights(start, w);
        let ub = row_block(data, n, r, start, rows);
        for j in 0..r {
            for i in 0..rows {
                scaled[(i, j)] = w[i] * ub[(i, j)];
            }
        }
        faer::linalg::matmul::matmul(
            gram.as_mut(),
            faer::Accum::Add,
            ub.transpose(),
            scaled.as_ref().subrows(0, rows),
            1.0,
            par,
        );
        start += rows;
    }
    DMatrix::from_fn(r, r, |i, j| gram[(i, j)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DVector;

    /// Against the two-product formulas, on sizes that leave a partial last block.
    #[test]
    fn one_pass_products_equal_the_direct_ones() {
        for (n, r) in [(1, 1), (37, 3), (1000, 20), (3000, 7)] {
            let u = DMatrix::from_fn(n, r, |i, j| (((i * 31 + j * 17) % 23) as f64 - 11.0) / 13.0);
            let z: Vec<f64> = (0..r).map(|j| 0.3 - 0.05 * j as f64).collect();
            let f = |m: f64| 1.0 / (1.0 + m.exp());
            let fi = |_: usize, m: f64| f(m);
            let margins = &u * DVector::from_column_slice(&z);
            let direct = u.tr_mul(&margins.map(f));
            let mut out = vec![0.0; r];
            transpose_map_into(&u, &z, fi, &mut out);
            let scale = direct.amax().max(1.0);
            let gap = (DVector::from_vec(out) - &direct).amax();
            assert!(gap < 1e-13 * scale, "{n}×{r}: {gap:e}");
            let mut du = u.clone();
            for (i, mut row) in du.row_iter_mut().enumerate() {
                row *= f(margins[i]);
            }
            let expected = u.transpose() * du;
            let gap = (weighted_gram(&u, &z, fi) - &expected).amax();
            assert!(gap < 1e-13 * expected.amax().max(1.0), "{n}×{r}: {gap:e}");
            let d: Vec<f64> = margins.iter().map(|&m| f(m)).collect();
            let gap = (diagonal_weighted_gram(&u, &d) - &expected).amax();
            assert!(gap < 1e-13 * expected.amax().max(1.0), "{n}×{r}: {gap:e}");
        }
    }

    /// The parallel pass against the sequential one (a grouped map, a U of four chunks and a
    /// partial fifth): equal to rounding, and bit-identical on one thread and on three.
    #[test]
    fn parallel_pass_is_the_sequential_one_on_any_thread_count() {
        let (n, r, group) = (14_010, 40, 10);
        let u = DMatrix::from_fn(n, r, |i, j| (((i * 31 + j * 17) % 23) as f64 - 11.0) / 13.0);
        let z: Vec<f64> = (0..r).map(|j| 0.3 - 0.004 * j as f64).collect();
        // A softmax-like map on each group: v ← e^{v − max} / Σ.
        let g = |_: usize, values: &mut [f64]| {
            for v in values.chunks_exact_mut(group) {
                let top = v.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                v.iter_mut().for_each(|x| *x = (*x - top).exp());
                let total: f64 = v.iter().sum();
                v.iter_mut().for_each(|x| *x /= total);
            }
        };
        let block = group_block_rows(n, r, group);
        let chunk = (CHUNK_BYTES / (8 * r * block)).max(1) * block;
        assert_eq!((n / chunk, n % chunk > 0), (4, true));
        let mut sequential = vec![0.0; r];
        transpose_group_map_into(&u, &z, group, g, &mut sequential);
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut out = vec![0.0; r];
            pool.install(|| par_transpose_group_map_into(&u, &z, group, g, &mut out));
            out
        };
        let one = on(1);
        assert_eq!(one, on(3));
        let scale = sequential.iter().fold(0.0, |m: f64, x| m.max(x.abs()));
        let gap = max_gap(&one, &sequential);
        assert!(gap < 1e-13 * scale, "{gap:e} of {scale:e}");
    }

    /// max_i |a_i − b_i|, NaN if any difference is (so that a NaN fails `gap < tol`).
    fn max_gap(a: &[f64], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .fold(0.0, |m, (x, y)| crate::model::nan_max(m, (x - y).abs()))
    }
}
