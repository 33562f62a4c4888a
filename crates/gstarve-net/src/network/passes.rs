//! The loops over a block of hidden units: the forward and backward passes of
//! [`super::kernel::Kernel`] for a contiguous range of units, as pulp operations.
//!
//! With pre-activations h_ij = w_j·x_i + b_j and 1_ij = [h_ij > 0] (docs/theory.md §8.2: the
//! network's Jacobian), a block of units j contributes
//!
//! ```text
//! forward:   out_i = s Σ_j a_j relu(h_ij)
//! backward:  ∂J/∂a_j = s Σ_i r_i relu(h_ij),   ∂J/∂b_j = s a_j Σ_i r_i 1_ij,
//!            ∂J/∂W_jk = s a_j Σ_i r_i 1_ij x_ik
//! ```
//!
//! for residuals r_i = ∂J/∂f(x_i). Each pass is one pulp operation ([`Forward`], [`Backward`]),
//! compiled once per instruction set and dispatched at run time: AVX-512 or AVX2+FMA on x86_64,
//! NEON on aarch64, the scalar fallback elsewhere. For d = 2 (the paper's moons) the loops are
//! written on pulp's vectors; for other d they are portable loops that the compiler vectorises
//! for the dispatched set.

/// Partial sums per reduction (and the padding of the example count, so that every sweep is
/// whole vectors).
pub(super) const LANES: usize = 8;

/// A contiguous block of hidden units: their W rows, b and a.
#[derive(Clone, Copy)]
pub(super) struct Units<'a> {
    pub(super) w: &'a [f64],
    pub(super) b: &'a [f64],
    pub(super) a: &'a [f64],
}

/// Per-block scratch buffers, n_pad entries each: partial outputs, and for d ≠ 2 the
/// pre-activations and masked residuals of one unit.
#[derive(Clone)]
pub(super) struct Scratch {
    pub(super) out: Vec<f64>,
    pub(super) pre: Vec<f64>,
    pub(super) masked: Vec<f64>,
}

impl Scratch {
    pub(super) fn new(n_pad: usize) -> Self {
        Self {
            out: vec![0.0; n_pad],
            pre: vec![0.0; n_pad],
            masked: vec![0.0; n_pad],
        }
    }
}

/// scratch.out = s·Σ_{j in block} a_j relu(w_j·x_i + b_j) for every (padded) example i, with the
/// widest instruction set the CPU has (pulp's run-time dispatch).
pub(super) fn forward_units(
    p: Units<'_>,
    s: f64,
    d: usize,
    n_pad: usize,
    x: &[f64],
    scratch: &mut Scratch,
) {
    pulp::Arch::new().dispatch(Forward {
        p,
        s,
        d,
        n_pad,
        x,
        scratch,
    });
}

/// The gradients of a block of units from the residuals r (see [`backward_general`]), with the
/// widest instruction set the CPU has.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward_units(
    p: Units<'_>,
    s: f64,
    d: usize,
    n_pad: usize,
    x: &[f64],
    r: &[f64],
    g: (&mut [f64], &mut [f64], &mut [f64]),
    scratch: &mut Scratch,
) {
    pulp::Arch::new().dispatch(Backward {
        p,
        s,
        d,
        n_pad,
        x,
        r,
        g,
        scratch,
    });
}

/// The forward pass of a block of units as a pulp operation: `with_simd` is compiled once per
/// instruction set (AVX-512 or AVX2+FMA on x86_64; NEON on aarch64; scalar), so that d = 2
/// runs [`forward_d2`] on that set's vectors and any other d the portable loops of
/// [`forward_general`], vectorised by the compiler for it.
struct Forward<'a> {
    p: Units<'a>,
    s: f64,
    d: usize,
    n_pad: usize,
    x: &'a [f64],
    scratch: &'a mut Scratch,
}

impl pulp::WithSimd for Forward<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Self {
            p,
            s,
            d,
            n_pad,
            x,
            scratch,
        } = self;
        if d == 2 {
            forward_d2(simd, p, s, n_pad, x, &mut scratch.out);
        } else {
            forward_general(p, s, d, n_pad, x, scratch);
        }
    }
}

/// The backward pass of a block of units as a pulp operation (as [`Forward`]: [`backward_d2`]
/// for d = 2, [`backward_general`] otherwise).
struct Backward<'a> {
    p: Units<'a>,
    s: f64,
    d: usize,
    n_pad: usize,
    x: &'a [f64],
    r: &'a [f64],
    g: (&'a mut [f64], &'a mut [f64], &'a mut [f64]),
    scratch: &'a mut Scratch,
}

impl pulp::WithSimd for Backward<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Self {
            p,
            s,
            d,
            n_pad,
            x,
            r,
            g,
            scratch,
        } = self;
        if d == 2 {
            backward_d2(simd, p, s, n_pad, x, r, g);
        } else {
            backward_general(p, s, d, n_pad, x, r, g, scratch);
        }
    }
}

/// The forward pass for d = 2 on explicit SIMD vectors, two hidden units per sweep over the
/// examples (half the loads and stores of the outputs):
///
/// ```text
/// out_i ← fma(s a_{j+1}, relu(h_{i,j+1}), fma(s a_j, relu(h_ij), out_i)),
/// h_ij = fma(W_j1, x_i1, fma(W_j2, x_i2, b_j))
/// ```
///
/// Every operation is per example, so the result does not depend on the vector width. The
/// multiply-adds are pulp's `mul_add_e`: fused where the instruction set has FMA (AVX2, NEON), a
/// multiply then an add in the scalar fallback, where a fused one would be a call to a software
/// fma on CPUs without FMA.
#[inline(always)]
fn forward_d2<S: pulp::Simd>(
    simd: S,
    p: Units<'_>,
    s: f64,
    n_pad: usize,
    x: &[f64],
    out: &mut [f64],
) {
    assert!(n_pad.is_multiple_of(LANES) && LANES.is_multiple_of(S::F64_LANES));
    let out = &mut out[..n_pad];
    out.fill(0.0);
    let (x0, _) = S::as_simd_f64s(&x[..n_pad]);
    let (x1, _) = S::as_simd_f64s(&x[n_pad..2 * n_pad]);
    let (out, _) = S::as_mut_simd_f64s(out);
    let zero = simd.splat_f64s(0.0);
    let m = p.b.len();
    for j in (0..m).step_by(2) {
        let w0 = simd.splat_f64s(p.w[2 * j]);
        let w1 = simd.splat_f64s(p.w[2 * j + 1]);
        let b0 = simd.splat_f64s(p.b[j]);
        let a0 = simd.splat_f64s(s * p.a[j]);
        // A missing partner contributes a·relu(·) with a = 0.
        let (v0, v1, c0, a1) = if j + 1 < m {
            (
                simd.splat_f64s(p.w[2 * j + 2]),
                simd.splat_f64s(p.w[2 * j + 3]),
                simd.splat_f64s(p.b[j + 1]),
                simd.splat_f64s(s * p.a[j + 1]),
            )
        } else {
            (zero, zero, zero, zero)
        };
        for ((o, &u), &v) in out.iter_mut().zip(x0).zip(x1) {
            let h0 = simd.mul_add_e_f64s(w0, u, simd.mul_add_e_f64s(w1, v, b0));
            let h1 = simd.mul_add_e_f64s(v0, u, simd.mul_add_e_f64s(v1, v, c0));
            let (h0, h1) = (simd.max_f64s(h0, zero), simd.max_f64s(h1, zero));
            *o = simd.mul_add_e_f64s(a1, h1, simd.mul_add_e_f64s(a0, h0, *o));
        }
    }
}

/// The backward pass for d = 2 on explicit SIMD vectors, one sweep over the examples per unit
/// (a masked four-way reduction, which the compiler vectorises only partly from scalar loops).
/// Each of the four sums
/// Σ r_i relu(h_ij), Σ r_i 1_ij, Σ r_i 1_ij x_i1, Σ r_i 1_ij x_i2 is kept as [`LANES`] partial
/// sums, partial sum l taking the examples i ≡ l (mod LANES) — held in LANES / (vector width)
/// registers, two under AVX2 — and they are added as ((p₀+p₄)+(p₁+p₅)) + ((p₂+p₆)+(p₃+p₇)).
/// The order of every addition is thus fixed by LANES and not by the vector width, so with
/// fused multiply-adds (see [`forward_d2`]) the gradients do not depend on the instruction set
/// (AVX-512, AVX2 and NEON; the widest the CPU has is tested here); the scalar fallback differs
/// from them only by the rounding of its unfused products (tested).
#[inline(always)]
fn backward_d2<S: pulp::Simd>(
    simd: S,
    p: Units<'_>,
    s: f64,
    n_pad: usize,
    x: &[f64],
    r: &[f64],
    (gw, gb, ga): (&mut [f64], &mut [f64], &mut [f64]),
) {
    match LANES / S::F64_LANES {
        1 => backward_d2_regs::<S, 1>(simd, p, s, n_pad, x, r, (gw, gb, ga)),
        2 => backward_d2_regs::<S, 2>(simd, p, s, n_pad, x, r, (gw, gb, ga)),
        4 => backward_d2_regs::<S, 4>(simd, p, s, n_pad, x, r, (gw, gb, ga)),
        8 => backward_d2_regs::<S, 8>(simd, p, s, n_pad, x, r, (gw, gb, ga)),
        _ => unreachable!("f64 vectors of 1, 2, 4 or 8 lanes"),
    }
}

/// [`backward_d2`] with its LANES partial sums per reduction in R = LANES / (vector width)
/// registers.
#[inline(always)]
fn backward_d2_regs<S: pulp::Simd, const R: usize>(
    simd: S,
    p: Units<'_>,
    s: f64,
    n_pad: usize,
    x: &[f64],
    r: &[f64],
    (gw, gb, ga): (&mut [f64], &mut [f64], &mut [f64]),
) {
    assert!(n_pad.is_multiple_of(LANES) && R * S::F64_LANES == LANES);
    let (x0, _) = S::as_simd_f64s(&x[..n_pad]);
    let (x1, _) = S::as_simd_f64s(&x[n_pad..2 * n_pad]);
    let (r, _) = S::as_simd_f64s(&r[..n_pad]);
    let (x0, x1, r) = (
        x0.as_chunks::<R>().0,
        x1.as_chunks::<R>().0,
        r.as_chunks::<R>().0,
    );
    let zero = simd.splat_f64s(0.0);
    for j in 0..p.b.len() {
        let w0 = simd.splat_f64s(p.w[2 * j]);
        let w1 = simd.splat_f64s(p.w[2 * j + 1]);
        let bj = simd.splat_f64s(p.b[j]);
        let mut acc_a = [zero; R];
        let mut acc_b = [zero; R];
        let mut acc_w0 = [zero; R];
        let mut acc_w1 = [zero; R];
        for ((c0, c1), cr) in x0.iter().zip(x1).zip(r) {
            for q in 0..R {
                let (u, v, g) = (c0[q], c1[q], cr[q]);
                let h = simd.mul_add_e_f64s(w0, u, simd.mul_add_e_f64s(w1, v, bj));
                let on = simd.greater_than_f64s(h, zero);
                let masked = where_on(simd, on, g);
                acc_a[q] = simd.mul_add_e_f64s(g, simd.max_f64s(h, zero), acc_a[q]);
                acc_b[q] = simd.add_f64s(acc_b[q], masked);
                acc_w0[q] = simd.mul_add_e_f64s(masked, u, acc_w0[q]);
                acc_w1[q] = simd.mul_add_e_f64s(masked, v, acc_w1[q]);
            }
        }
        let sum = |acc: [S::f64s; R]| {
            let mut partial = [0.0; LANES];
            S::as_mut_simd_f64s(&mut partial).0.copy_from_slice(&acc);
            pairwise_total(&partial)
        };
        let sa = s * p.a[j];
        ga[j] = s * sum(acc_a);
        gb[j] = sa * sum(acc_b);
        gw[2 * j] = sa * sum(acc_w0);
        gw[2 * j + 1] = sa * sum(acc_w1);
    }
}

/// v where the comparison `on` holds, else 0. Where a mask is a vector of all-ones/all-zeros
/// lanes (AVX2, NEON) this is a bitwise and; pulp's select would go through a blend on the sign
/// bit, whose re-test of the mask costs the register that otherwise holds the last accumulator
/// of [`backward_d2`]. Elsewhere (bool or bit masks: scalar, AVX-512) it is pulp's select.
#[inline(always)]
fn where_on<S: pulp::Simd>(simd: S, on: S::m64s, v: S::f64s) -> S::f64s {
    if size_of::<S::m64s>() == size_of::<S::f64s>() {
        simd.and_f64s(pulp::bytemuck::cast(on), v)
    } else {
        simd.select_f64s(on, v, simd.splat_f64s(0.0))
    }
}

/// ((p₀+p₄)+(p₁+p₅)) + ((p₂+p₆)+(p₃+p₇)): the lanes of two 4-wide registers added, then the
/// four sums pairwise.
#[inline(always)]
fn pairwise_total(p: &[f64; LANES]) -> f64 {
    ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]))
}

/// The forward pass for any d in portable loops: scratch.out = s·Σ_j a_j relu(w_j·x_i + b_j).
#[inline(always)]
fn forward_general(p: Units<'_>, s: f64, d: usize, n_pad: usize, x: &[f64], scratch: &mut Scratch) {
    let out = &mut scratch.out[..n_pad];
    out.fill(0.0);
    let pre = &mut scratch.pre[..n_pad];
    for j in 0..p.b.len() {
        pre_activations(&p.w[j * d..(j + 1) * d], p.b[j], n_pad, x, pre);
        let aj = s * p.a[j];
        for (o, &h) in out.iter_mut().zip(pre.iter()) {
            *o += aj * relu(h);
        }
    }
}

/// pre_i = w·x_i + b.
#[inline(always)]
fn pre_activations(w: &[f64], b: f64, n_pad: usize, x: &[f64], pre: &mut [f64]) {
    pre.fill(b);
    for (k, &wk) in w.iter().enumerate() {
        for (p, &xv) in pre.iter_mut().zip(&x[k * n_pad..(k + 1) * n_pad]) {
            *p += wk * xv;
        }
    }
}

/// Σ over the lanes of LANES partial sums.
#[inline(always)]
fn total(acc: &[f64; LANES]) -> f64 {
    acc.iter().sum()
}

/// Σ_i u_i v_i with LANES partial sums (n_pad is a multiple of LANES).
#[inline(always)]
fn dot(u: &[f64], v: &[f64]) -> f64 {
    let mut acc = [0.0; LANES];
    for (cu, cv) in u.chunks_exact(LANES).zip(v.chunks_exact(LANES)) {
        for l in 0..LANES {
            acc[l] += cu[l] * cv[l];
        }
    }
    total(&acc)
}

/// Gradients of a block of units from the residuals r_i = ∂J/∂f(x_i), for any d in portable
/// loops: ∂J/∂a_j = s Σ r_i relu(h_ij), ∂J/∂b_j = s a_j Σ r_i 1_ij,
/// ∂J/∂W_jk = s a_j Σ r_i 1_ij x_ik.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_general(
    p: Units<'_>,
    s: f64,
    d: usize,
    n_pad: usize,
    x: &[f64],
    r: &[f64],
    (gw, gb, ga): (&mut [f64], &mut [f64], &mut [f64]),
    scratch: &mut Scratch,
) {
    let Scratch { pre, masked, .. } = scratch;
    let (pre, masked) = (&mut pre[..n_pad], &mut masked[..n_pad]);
    for j in 0..p.b.len() {
        pre_activations(&p.w[j * d..(j + 1) * d], p.b[j], n_pad, x, pre);
        let mut acc_a = [0.0; LANES];
        let mut acc_b = [0.0; LANES];
        for ((ch, cr), cm) in pre
            .chunks_exact(LANES)
            .zip(r.chunks_exact(LANES))
            .zip(masked.chunks_exact_mut(LANES))
        {
            for l in 0..LANES {
                cm[l] = if ch[l] > 0.0 { cr[l] } else { 0.0 };
                acc_a[l] += cr[l] * relu(ch[l]);
                acc_b[l] += cm[l];
            }
        }
        let sa = s * p.a[j];
        ga[j] = s * total(&acc_a);
        gb[j] = sa * total(&acc_b);
        for k in 0..d {
            gw[j * d + k] = sa * dot(masked, &x[k * n_pad..(k + 1) * n_pad]);
        }
    }
}

/// relu(h) = max(h, 0), 0 at the kink and for NaN.
#[inline(always)]
fn relu(h: f64) -> f64 {
    if h > 0.0 {
        h
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::kernel::{tests::data, Kernel};
    use crate::network::sgd::Gradient;
    use crate::network::{NetworkOptions, TwoLayerRelu};
    use pulp::Simd;

    /// Gradient of the loss terms of `net` at its current outputs by one block (all units).
    fn block_gradient(
        k: &mut Kernel,
        net: &TwoLayerRelu,
        run: impl FnOnce(Backward<'_>),
    ) -> Gradient {
        let mut g = Gradient::zeros(net);
        let (w, b, a) = (&net.weights[..], &net.biases[..], &net.output_weights[..]);
        run(Backward {
            p: Units { w, b, a },
            s: net.output_scale(),
            d: k.d,
            n_pad: k.n_pad,
            x: &k.x,
            r: &k.residual,
            g: (&mut g.weights, &mut g.biases, &mut g.output_weights),
            scratch: &mut k.scratch[1],
        });
        g
    }

    fn assert_close(u: &Gradient, v: &Gradient) {
        let pairs = u
            .weights
            .iter()
            .zip(&v.weights)
            .chain(u.biases.iter().zip(&v.biases));
        for (p, q) in pairs.chain(u.output_weights.iter().zip(&v.output_weights)) {
            assert!((p - q).abs() < 1e-14 * (1.0 + q.abs()), "{p} vs {q}");
        }
    }

    #[test]
    fn simd_scalar_and_general_kernels_agree() {
        // The d = 2 kernels on the widest instruction set the CPU has, on pulp's scalar fallback
        // (what a CPU without AVX2 runs), and the portable any-d loops on the same network (odd
        // width: a unit without a partner in the forward pass; n = 21: 3 padded examples).
        let data = data(2, 21);
        let net = TwoLayerRelu::init(
            2,
            &NetworkOptions {
                width: 11,
                ..Default::default()
            },
        )
        .unwrap();
        let mut k = Kernel::new(&net, &data).unwrap();
        k.forward(&net, false);
        k.loss_and_residual(0.003);
        let (w, b, a) = (&net.weights[..], &net.biases[..], &net.output_weights[..]);
        let (s, n_pad) = (net.output_scale(), k.n_pad);
        let mut scalar = k.scratch[1].clone();
        pulp::Scalar::new().vectorize(Forward {
            p: Units { w, b, a },
            s,
            d: 2,
            n_pad,
            x: &k.x,
            scratch: &mut scalar,
        });
        let mut general = k.scratch[1].clone();
        forward_general(Units { w, b, a }, s, 2, n_pad, &k.x, &mut general);
        for i in 0..21 {
            let f = k.out[i] - net.output_bias;
            assert!((scalar.out[i] - f).abs() < 1e-13);
            assert!((general.out[i] - f).abs() < 1e-13);
        }
        let mut fast = Gradient::zeros(&net);
        k.backward(&net, &mut fast, false);
        let scalar = block_gradient(&mut k, &net, |op| pulp::Scalar::new().vectorize(op));
        assert_close(&fast, &scalar);
        let general = block_gradient(&mut k, &net, |op| {
            let Backward {
                p,
                s,
                d,
                n_pad,
                x,
                r,
                g,
                scratch,
            } = op;
            backward_general(p, s, d, n_pad, x, r, g, scratch)
        });
        assert_close(&fast, &general);
    }
}
