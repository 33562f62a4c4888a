//! y = K x for the symmetric Gram matrix K = U S² Uᵀ of the margin flow (docs/theory.md §3.3),
//! reading only K's lower triangle.
//!
//! At n = 1000 a margin-flow evaluation is one such product, and the product is bound by memory
//! traffic, not arithmetic: the full matrix is 8 MB. Each stored entry K_ij (i > j) is used twice,
//! as in BLAS's dsymv,
//!
//! ```text
//! y_i += K_ij x_j      (column j as an axpy)
//! y_j += K_ij x_i      (column j as a dot product)
//! ```
//!
//! so one pass over the 4 MB triangle gives the whole product. For large n the columns are
//! split into two parts of equal area, one per core, each with its own accumulator; each part
//! (2 MB at n = 1000) is then about the size of a core's L2 cache, so repeated products (an
//! integrator's stages, GD's steps) can re-read much of it from L2. Columns are processed four at a
//! time so that y is loaded and stored once per four columns; the sweeps use pulp's explicit
//! SIMD vectors inside its runtime dispatch (AVX2 + FMA where available).

/// Size from which [`symmetric_product`] splits the triangle over two threads: below it the
/// hand-off costs more than the second core saves (measured: docs/benchmarks.md, "Solver tuning
/// measurements (moved from the code)", Gram products).
pub const PARALLEL_MIN_DIM: usize = 512;

/// Columns processed together by the kernel.
const PANEL: usize = 4;

/// y = K x, with K symmetric n×n in column-major order (`k.len() == n²`); only entries on or
/// below the diagonal are read. `x` and `y` have length n.
///
/// The result equals the full product up to rounding (the summation order differs).
pub fn symmetric_product(k: &[f64], x: &[f64], y: &mut [f64]) {
    symmetric_product_directed(k, x, y, false);
}

/// [`symmetric_product`] with the columns swept last to first when `reverse` is set.
///
/// A loop of repeated products (GD's steps) alternates the direction: each sweep then starts
/// on the columns the previous one read last, which are still in cache, instead of on the ones
/// evicted longest ago. Called from outside rayon's pool, part p of the triangle always runs on
/// the pool's worker p (rayon's broadcast), so that it meets the same core's cache from one
/// product to the next; from a rayon worker, the parts go to `rayon::join`.
pub fn symmetric_product_directed(k: &[f64], x: &[f64], y: &mut [f64], reverse: bool) {
    let n = x.len();
    assert_eq!(k.len(), n * n, "K must be n×n for x of length n");
    assert_eq!(y.len(), n, "y must have the length of x");
    y.fill(0.0);
    if n < PARALLEL_MIN_DIM || rayon::current_num_threads() < 2 {
        dispatch(k, n, (0, n), x, y, reverse);
        return;
    }
    // Columns [0, c) and [c, n) hold equal parts of the triangle: (n − c)² = n²/2.
    let c = split_column(n);
    let mut tail = vec![0.0; n - c];
    if rayon::current_thread_index().is_some() {
        // Already on a rayon worker (a sweep running systems in parallel): a broadcast would
        // wait for every other worker to reach a scheduling point; join lets this thread run
        // both parts itself if no one is free. The parts and their sum are the same.
        rayon::join(
            || dispatch(k, n, (0, c), x, &mut y[..], reverse),
            || dispatch(k, n, (c, n), x, tail_view(&mut tail, c), reverse),
        );
    } else {
        let head = std::sync::Mutex::new(&mut y[..]);
        let rest = std::sync::Mutex::new(&mut tail[..]);
        rayon::broadcast(|ctx| match ctx.index() {
            0 => {
                let mut rows = head.lock().unwrap_or_else(|e| e.into_inner());
                dispatch(k, n, (0, c), x, &mut rows[..], reverse);
            }
            1 => {
                let mut rows = rest.lock().unwrap_or_else(|e| e.into_inner());
                dispatch(k, n, (c, n), x, tail_view(&mut rows, c), reverse);
            }
            _ => {}
        });
    }
    for (yi, ti) in y[c..].iter_mut().zip(&tail) {
        *yi += ti;
    }
}

/// One of the two equal-area parts of the triangle (`part` 0: columns [0, c), 1: [c, n)) of
/// y = K x, for callers that run the two parts on threads of their own: `out` receives rows
/// [0, n) for part 0 and rows [c, n) (length n − c) for part 1; summing the two, row by row,
/// gives [`symmetric_product_directed`]'s result with the same rounding.
pub(crate) fn symmetric_product_part(
    k: &[f64],
    x: &[f64],
    part: usize,
    out: &mut [f64],
    reverse: bool,
) {
    let n = x.len();
    assert_eq!(k.len(), n * n, "K must be n×n for x of length n");
    let c = split_column(n);
    out.fill(0.0);
    if part == 0 {
        assert_eq!(out.len(), n, "part 0 covers all rows");
        dispatch(k, n, (0, c), x, out, reverse);
    } else {
        assert_eq!(out.len(), n - c, "part 1 covers rows [c, n)");
        dispatch(k, n, (c, n), x, tail_view(out, c), reverse);
    }
}

/// The first column of the second, equal-area part of the lower triangle.
pub(crate) fn split_column(n: usize) -> usize {
    let c = n as f64 * (1.0 - std::f64::consts::FRAC_1_SQRT_2);
    // A multiple of the panel width keeps the first part's panels whole.
    ((c as usize) / PANEL * PANEL).min(n)
}

/// An accumulator for rows [offset, n), indexed by the global row number.
struct Offset<'a> {
    rows: &'a mut [f64],
    offset: usize,
}

fn tail_view(rows: &mut [f64], offset: usize) -> Offset<'_> {
    Offset { rows, offset }
}

/// Row storage for the kernel: the whole of y, or the rows from an offset on.
trait Rows {
    /// Rows [from, n).
    fn from(&mut self, from: usize) -> &mut [f64];
}

impl Rows for &mut [f64] {
    #[inline(always)]
    fn from(&mut self, from: usize) -> &mut [f64] {
        &mut self[from..]
    }
}

impl Rows for Offset<'_> {
    #[inline(always)]
    fn from(&mut self, from: usize) -> &mut [f64] {
        &mut self.rows[from - self.offset..]
    }
}

fn dispatch<R: Rows>(k: &[f64], n: usize, cols: (usize, usize), x: &[f64], y: R, reverse: bool) {
    pulp::Arch::new().dispatch(Columns {
        k,
        n,
        first: cols.0,
        last: cols.1,
        x,
        y,
        reverse,
    });
}

/// One call of the kernel, as a pulp operation: `with_simd` is compiled once per instruction
/// set and inlines the loops so that the compiler can vectorise them for it.
struct Columns<'a, R> {
    k: &'a [f64],
    n: usize,
    first: usize,
    last: usize,
    x: &'a [f64],
    y: R,
    reverse: bool,
}

impl<R: Rows> pulp::WithSimd for Columns<'_, R> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(mut self, simd: S) {
        lower_columns(
            simd,
            self.k,
            self.n,
            self.first,
            self.last,
            self.x,
            &mut self.y,
            self.reverse,
        );
    }
}

/// Add columns [first, last) of K's lower triangle, used twice each, into the rows y[first..n].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lower_columns<S: pulp::Simd>(
    simd: S,
    k: &[f64],
    n: usize,
    first: usize,
    last: usize,
    x: &[f64],
    y: &mut impl Rows,
    reverse: bool,
) {
    // Panels of four columns from `first`, then the remaining columns one at a time; in
    // reverse order when asked (the same panels, so only the order of the sums changes).
    let panels_end = first + (last - first) / PANEL * PANEL;
    if reverse {
        for j in (panels_end..last).rev() {
            one_column(simd, k, n, j, x, y);
        }
        for j in (first..panels_end).step_by(PANEL).rev() {
            four_columns(simd, k, n, j, x, y);
        }
    } else {
        for j in (first..panels_end).step_by(PANEL) {
            four_columns(simd, k, n, j, x, y);
        }
        for j in panels_end..last {
            one_column(simd, k, n, j, x, y);
        }
    }
}

/// Columns j … j+3 of K's lower triangle, used twice each, into rows y[j..n].
#[inline(always)]
fn four_columns<S: pulp::Simd>(
    simd: S,
    k: &[f64],
    n: usize,
    j: usize,
    x: &[f64],
    y: &mut impl Rows,
) {
    let c0 = &k[j * n..(j + 1) * n];
    let c1 = &k[(j + 1) * n..(j + 2) * n];
    let c2 = &k[(j + 2) * n..(j + 3) * n];
    let c3 = &k[(j + 3) * n..(j + 4) * n];
    let rows = y.from(j);
    // The 4×4 diagonal block, both triangles from the stored lower one.
    let xs = [x[j], x[j + 1], x[j + 2], x[j + 3]];
    let cols = [c0, c1, c2, c3];
    for (a, row) in rows[..PANEL].iter_mut().enumerate() {
        let mut s = 0.0;
        for (b, xb) in xs.iter().enumerate() {
            let (r, c) = if a >= b { (a, b) } else { (b, a) };
            s += cols[c][j + r] * xb;
        }
        *row += s;
    }
    // Rows below the block: y_i += Σ_c K_ic x_c and d_c += K_ic x_i.
    let below = j + PANEL;
    let dots = panel(
        simd,
        &c0[below..],
        &c1[below..],
        &c2[below..],
        &c3[below..],
        &x[below..],
        xs,
        &mut rows[PANEL..],
    );
    for (h, d) in rows[..PANEL].iter_mut().zip(dots) {
        *h += d;
    }
}

/// Column j of K's lower triangle, used twice, into rows y[j..n].
#[inline(always)]
fn one_column<S: pulp::Simd>(simd: S, k: &[f64], n: usize, j: usize, x: &[f64], y: &mut impl Rows) {
    let col = &k[j * n + j..(j + 1) * n];
    let rows = y.from(j);
    let xj = x[j];
    let mut dot = col[0] * xj;
    let (tail_rows, tail_col, tail_x) = (&mut rows[1..], &col[1..], &x[j + 1..]);
    let (rh, rt) = S::as_mut_simd_f64s(tail_rows);
    let (kh, kt) = S::as_simd_f64s(tail_col);
    let (xh, xt) = S::as_simd_f64s(tail_x);
    let xj_s = simd.splat_f64s(xj);
    let mut acc = simd.splat_f64s(0.0);
    for ((r, &kk), &xx) in rh.iter_mut().zip(kh).zip(xh) {
        *r = simd.mul_add_f64s(kk, xj_s, *r);
        acc = simd.mul_add_f64s(kk, xx, acc);
    }
    for ((r, kk), xx) in rt.iter_mut().zip(kt).zip(xt) {
        *r += kk * xj;
        dot += kk * xx;
    }
    rows[0] += dot + simd.reduce_sum_f64s(acc);
}

/// The fused axpy/dot sweep of four columns over the rows below their diagonal block: returns
/// the four dot products Σ_i K_ic x_i.
///
/// Written with pulp's explicit SIMD vectors (4 doubles under AVX2): left to itself the compiler
/// vectorised the sweep across the four columns and kept the row updates scalar (≈ 1 FMA per
/// cycle). Rows are taken two vectors at a time with two sets of dot accumulators, so the eight
/// dot-product chains hide the FMA latency.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn panel<S: pulp::Simd>(
    simd: S,
    c0: &[f64],
    c1: &[f64],
    c2: &[f64],
    c3: &[f64],
    x: &[f64],
    xs: [f64; PANEL],
    rows: &mut [f64],
) -> [f64; PANEL] {
    let (rh, rt) = S::as_mut_simd_f64s(rows);
    let (k0h, k0t) = S::as_simd_f64s(c0);
    let (k1h, k1t) = S::as_simd_f64s(c1);
    let (k2h, k2t) = S::as_simd_f64s(c2);
    let (k3h, k3t) = S::as_simd_f64s(c3);
    let (xh, xt) = S::as_simd_f64s(x);
    let v = xs.map(|xc| simd.splat_f64s(xc));
    let zero = simd.splat_f64s(0.0);
    let (mut a, mut b) = ([zero; PANEL], [zero; PANEL]);
    let len = rh.len();
    let k = [k0h, k1h, k2h, k3h];
    let mut i = 0;
    while i + 2 <= len {
        for (acc, i) in [(&mut a, i), (&mut b, i + 1)] {
            let xi = xh[i];
            let mut r = rh[i];
            for c in 0..PANEL {
                let kc = k[c][i];
                r = simd.mul_add_f64s(kc, v[c], r);
                acc[c] = simd.mul_add_f64s(kc, xi, acc[c]);
            }
            rh[i] = r;
        }
        i += 2;
    }
    if i < len {
        let xi = xh[i];
        let mut r = rh[i];
        for c in 0..PANEL {
            let kc = k[c][i];
            r = simd.mul_add_f64s(kc, v[c], r);
            a[c] = simd.mul_add_f64s(kc, xi, a[c]);
        }
        rh[i] = r;
    }
    let mut dots = [0.0; PANEL];
    for c in 0..PANEL {
        dots[c] = simd.reduce_sum_f64s(simd.add_f64s(a[c], b[c]));
    }
    let kt = [k0t, k1t, k2t, k3t];
    for (i, (r, xi)) in rt.iter_mut().zip(xt).enumerate() {
        for c in 0..PANEL {
            *r += kt[c][i] * xs[c];
            dots[c] += kt[c][i] * xi;
        }
    }
    dots
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A random symmetric n×n matrix, column-major.
    fn symmetric(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(seed);
        let mut k = vec![0.0; n * n];
        for j in 0..n {
            for i in j..n {
                let v: f64 = rng.random_range(-1.0..1.0);
                k[j * n + i] = v;
                k[i * n + j] = v;
            }
        }
        k
    }

    fn full_product(k: &[f64], x: &[f64]) -> Vec<f64> {
        let n = x.len();
        (0..n)
            .map(|i| (0..n).map(|j| k[j * n + i] * x[j]).sum())
            .collect()
    }

    /// The kernel equals the full product to rounding (relative to Σ_j |K_ij x_j|), for sizes
    /// below, at and above the panel width, odd and even, on both sides of the parallel split,
    /// sweeping the columns in either direction.
    #[test]
    fn equals_the_full_product() {
        for n in [
            1, 2, 3, 4, 5, 7, 8, 9, 31, 100, 257, 511, 512, 513, 640, 1001,
        ] {
            let k = symmetric(n, n as u64);
            let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(7 + n as u64);
            let x: Vec<f64> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
            let mut y = vec![f64::NAN; n];
            symmetric_product(&k, &x, &mut y);
            let mut y_reverse = vec![f64::NAN; n];
            symmetric_product_directed(&k, &x, &mut y_reverse, true);
            let expected = full_product(&k, &x);
            for (i, &yr) in y_reverse.iter().enumerate() {
                let scale: f64 = (0..n).map(|j| (k[j * n + i] * x[j]).abs()).sum();
                assert!(
                    (yr - expected[i]).abs() / scale < 1e-13,
                    "reverse, n = {n}, row {i}"
                );
            }
            for i in 0..n {
                let scale: f64 = (0..n).map(|j| (k[j * n + i] * x[j]).abs()).sum();
                let rel = (y[i] - expected[i]).abs() / scale;
                assert!(
                    rel < 1e-13,
                    "n = {n}, row {i}: {} vs {} ({rel:.1e})",
                    y[i],
                    expected[i]
                );
            }
        }
    }

    /// Only the lower triangle is read: garbage above the diagonal changes nothing.
    #[test]
    fn reads_only_the_lower_triangle() {
        for n in [6, 13, 500, 600] {
            let k = symmetric(n, 3);
            let mut poisoned = k.clone();
            for j in 1..n {
                for i in 0..j {
                    poisoned[j * n + i] = f64::NAN;
                }
            }
            let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
            symmetric_product(&k, &x, &mut a);
            symmetric_product(&poisoned, &x, &mut b);
            assert_eq!(a, b, "n = {n}");
            symmetric_product_directed(&k, &x, &mut a, true);
            symmetric_product_directed(&poisoned, &x, &mut b, true);
            assert_eq!(a, b, "n = {n}, reverse");
            // The same split run from a rayon worker (join instead of broadcast).
            let c = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap();
            c.install(|| symmetric_product_directed(&poisoned, &x, &mut b, true));
            assert_eq!(a, b, "n = {n}, reverse, from a worker");
        }
    }

    #[test]
    fn the_split_halves_the_triangle() {
        for n in [384, 1000, 4001] {
            let c = split_column(n);
            let first = (n * (n + 1) - (n - c) * (n - c + 1)) as f64 / 2.0;
            let total = (n * (n + 1)) as f64 / 2.0;
            assert!((first / total - 0.5).abs() < 0.01, "n = {n}: c = {c}");
            assert_eq!(c % PANEL, 0);
        }
    }
}
