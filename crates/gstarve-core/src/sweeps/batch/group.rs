//! The lanes of one group of systems and the vector operations of the lockstep Newton iteration
//! of [`super::lanes`] on them: m = Uz, Uᵀv, the logistic terms, ∇L, H = UᵀDU + W and its
//! Cholesky factor, one system per lane. Only additions, multiplications, divisions and square
//! roots (no fused multiply-add), each on its own lane.
//!
//! With `E` (exact) the systems have n = r = C, and every loop runs to the constant C, which the
//! compiler unrolls with the arrays in registers; otherwise to the group's n and r ≤ C.

// Index loops over the n examples and r features (≤ C) of vectors and matrices of lanes, as the
// formulas read them (as in `super::steady`).
#![allow(clippy::needless_range_loop)]

use pulp::Simd;

use super::lanes::MAX_LANES;
use crate::model::{fast_exp, fast_log1p};

/// Per-lane scalars (only the first `S::F64_LANES` are used).
pub(super) type Lanes<T> = [T; MAX_LANES];

/// The lanes of one group and the vector operations on them, for systems with n, r ≤ C.
pub(super) struct Group<S: Simd, const C: usize, const E: bool> {
    pub(super) simd: S,
    pub(super) n: usize,
    pub(super) r: usize,
    /// Lanes in use (≤ S::F64_LANES; the rest repeat the last system and are never active).
    pub(super) count: usize,
    /// u[j][i] = U_ij of each lane.
    pub(super) u: [[S::f64s; C]; C],
    /// W_jj = λ/s_j².
    pub(super) weights: [S::f64s; C],
    pub(super) strengths_squared: [S::f64s; C],
}

/// The loss terms at one point: L, ψ = σ(−m), D = σ'(m), ∇L and the residual max_j |∇L_j/W_jj|.
#[derive(Clone, Copy)]
pub(super) struct Local<V, const C: usize> {
    pub(super) value: V,
    pub(super) psi: [V; C],
    pub(super) curvature: [V; C],
    pub(super) gradient: [V; C],
    pub(super) residual: V,
}

/// Lane l of v set to x.
#[inline(always)]
pub(super) fn set_lane<S: Simd>(v: &mut S::f64s, l: usize, x: f64) {
    pulp::bytemuck::cast_slice_mut::<S::f64s, f64>(std::slice::from_mut(v))[l] = x;
}

impl<S: Simd, const C: usize, const E: bool> Group<S, C, E> {
    /// Examples per system: C itself on the exact-size path (constant loop bounds).
    #[inline(always)]
    pub(super) fn n(&self) -> usize {
        if E {
            C
        } else {
            self.n
        }
    }

    /// Features per system: C itself on the exact-size path.
    #[inline(always)]
    pub(super) fn r(&self) -> usize {
        if E {
            C
        } else {
            self.r
        }
    }

    /// A vector whose lane l is `f(l)` (l < count; later lanes repeat the last).
    #[inline(always)]
    pub(super) fn gather(&self, f: impl Fn(usize) -> f64) -> S::f64s {
        let mut v = self.splat(0.0);
        let lanes = pulp::bytemuck::cast_slice_mut::<S::f64s, f64>(std::slice::from_mut(&mut v));
        for (l, x) in lanes.iter_mut().enumerate() {
            *x = f(l.min(self.count - 1));
        }
        v
    }

    /// The lanes of `v` (the first `S::F64_LANES` entries).
    #[inline(always)]
    pub(super) fn scatter(&self, v: S::f64s) -> Lanes<f64> {
        let mut b = [0.0; MAX_LANES];
        let lanes = pulp::bytemuck::cast_slice::<S::f64s, f64>(std::slice::from_ref(&v));
        b[..lanes.len()].copy_from_slice(lanes);
        b
    }

    #[inline(always)]
    pub(super) fn splat(&self, v: f64) -> S::f64s {
        self.simd.splat_f64s(v)
    }

    /// The lanes of `mask` as bits (bit l for lane l), lanes past `count` cleared: read from
    /// the mask's memory (one byte of bits under AVX-512 and for the scalar `bool`, one word of
    /// all ones or zeros per lane otherwise), no round trip through floating point.
    #[inline(always)]
    pub(super) fn bits(&self, mask: S::m64s) -> u8 {
        let used = ((1u16 << self.count) - 1) as u8;
        let b = if std::mem::size_of::<S::m64s>() == 1 {
            pulp::bytemuck::cast_slice::<S::m64s, u8>(std::slice::from_ref(&mask))[0]
        } else {
            let lanes = pulp::bytemuck::cast_slice::<S::m64s, u64>(std::slice::from_ref(&mask));
            lanes
                .iter()
                .enumerate()
                .fold(0u8, |b, (l, &x)| b | (((x >> 63) as u8) << l))
        };
        b & used
    }

    /// The mask whose lane l is bit l of `bits`.
    #[inline(always)]
    pub(super) fn mask_of(&self, bits: u8) -> S::m64s {
        let s = self.simd;
        let mut lane_bits = s.splat_u64s(0);
        let lanes =
            pulp::bytemuck::cast_slice_mut::<S::u64s, u64>(std::slice::from_mut(&mut lane_bits));
        for (l, x) in lanes.iter_mut().enumerate() {
            *x = 1 << l;
        }
        s.greater_than_or_equal_u64s(
            s.and_u64s(s.splat_u64s(u64::from(bits)), lane_bits),
            s.splat_u64s(1),
        )
    }

    /// m = U z, summed over features in order.
    #[inline(always)]
    pub(super) fn margins(&self, z: &[S::f64s; C]) -> [S::f64s; C] {
        let s = self.simd;
        let mut m = [self.splat(0.0); C];
        for j in 0..self.r() {
            for i in 0..self.n() {
                m[i] = s.add_f64s(m[i], s.mul_f64s(self.u[j][i], z[j]));
            }
        }
        m
    }

    /// Uᵀv.
    #[inline(always)]
    pub(super) fn transpose_apply(&self, v: &[S::f64s; C]) -> [S::f64s; C] {
        let s = self.simd;
        let mut out = [self.splat(0.0); C];
        for (j, o) in out[..self.r()].iter_mut().enumerate() {
            for i in 0..self.n() {
                *o = s.add_f64s(*o, s.mul_f64s(self.u[j][i], v[i]));
            }
        }
        out
    }

    /// L, ψ, σ', ∇L and the residual at z, every lane.
    #[inline(always)]
    pub(super) fn local(&self, z: &[S::f64s; C]) -> Local<S::f64s, C> {
        let s = self.simd;
        let m = self.margins(z);
        let mut loss = self.splat(0.0);
        let mut psi = [self.splat(0.0); C];
        let mut curvature = [self.splat(0.0); C];
        for i in 0..self.n() {
            let (p, d, l) = self.logistic(m[i]);
            psi[i] = p;
            curvature[i] = d;
            loss = s.add_f64s(loss, l);
        }
        let mut penalty = self.splat(0.0);
        for j in 0..self.r() {
            penalty = s.add_f64s(penalty, s.mul_f64s(s.mul_f64s(self.weights[j], z[j]), z[j]));
        }
        let value = s.add_f64s(loss, s.mul_f64s(self.splat(0.5), penalty));
        let gradient = self.gradient(z, &psi);
        let residual = self.residual(&gradient);
        Local {
            value,
            psi,
            curvature,
            gradient,
            residual,
        }
    }

    /// ψ = σ(−m), σ'(m) and ℓ(m) of every lane, from one exponential (module documentation of
    /// [`super::lanes`]), by the branch-free [`fast_exp::exp_lanes`] and
    /// [`fast_log1p::log1p_unit_lanes`] on the vector.
    #[inline(always)]
    fn logistic(&self, m: S::f64s) -> (S::f64s, S::f64s, S::f64s) {
        let s = self.simd;
        let e = fast_exp::exp_lanes(s, s.neg_f64s(s.abs_f64s(m)));
        let log1p = fast_log1p::log1p_unit_lanes(s, e);
        let one_plus = s.add_f64s(self.splat(1.0), e);
        let numerator = s.select_f64s(
            s.greater_than_or_equal_f64s(m, self.splat(0.0)),
            e,
            self.splat(1.0),
        );
        // One division: ψ and σ' within an ulp or two of the one-system path's quotients.
        let inverse = s.div_f64s(self.splat(1.0), one_plus);
        let psi = s.mul_f64s(numerator, inverse);
        let curvature = s.mul_f64s(s.mul_f64s(e, inverse), inverse);
        let loss = s.add_f64s(s.max_f64s(s.neg_f64s(m), self.splat(0.0)), log1p);
        (psi, curvature, loss)
    }

    /// ∇L = W z − Uᵀψ.
    #[inline(always)]
    pub(super) fn gradient(&self, z: &[S::f64s; C], psi: &[S::f64s; C]) -> [S::f64s; C] {
        let s = self.simd;
        let ut_psi = self.transpose_apply(psi);
        let mut g = [self.splat(0.0); C];
        for j in 0..self.r() {
            g[j] = s.sub_f64s(s.mul_f64s(self.weights[j], z[j]), ut_psi[j]);
        }
        g
    }

    /// max_j |g_j / W_jj|, NaN counted as ∞.
    #[inline(always)]
    pub(super) fn residual(&self, g: &[S::f64s; C]) -> S::f64s {
        let s = self.simd;
        let mut acc = self.splat(0.0);
        for j in 0..self.r() {
            let e = s.abs_f64s(s.div_f64s(g[j], self.weights[j]));
            let e = s.select_f64s(s.equal_f64s(e, e), e, self.splat(f64::INFINITY));
            acc = s.max_f64s(acc, e);
        }
        acc
    }

    /// max(1, ‖z‖∞).
    #[inline(always)]
    pub(super) fn scale(&self, z: &[S::f64s; C]) -> S::f64s {
        let s = self.simd;
        let mut acc = self.splat(0.0);
        for v in &z[..self.r()] {
            acc = s.max_f64s(acc, s.abs_f64s(*v));
        }
        s.max_f64s(acc, self.splat(1.0))
    }

    /// H = UᵀDU + W, as H_ac = Σᵢ U_ia (D_ii U_ic) (the products D U formed once).
    #[inline(always)]
    pub(super) fn hessian(&self, d: &[S::f64s; C]) -> [[S::f64s; C]; C] {
        let s = self.simd;
        let mut du = [[self.splat(0.0); C]; C];
        for c in 0..self.r() {
            for i in 0..self.n() {
                du[c][i] = s.mul_f64s(d[i], self.u[c][i]);
            }
        }
        let mut h = [[self.splat(0.0); C]; C];
        for a in 0..self.r() {
            for c in 0..=a {
                let mut v = self.splat(0.0);
                for i in 0..self.n() {
                    v = s.add_f64s(v, s.mul_f64s(self.u[a][i], du[c][i]));
                }
                h[a][c] = v;
                h[c][a] = v;
            }
        }
        for j in 0..self.r() {
            h[j][j] = s.add_f64s(h[j][j], self.weights[j]);
        }
        h
    }

    /// The Cholesky factor L of H (lower, row-major, its diagonal stored as the reciprocals
    /// 1/L_jj, so that the solves multiply) and the lanes where H is not positive definite (a
    /// pivot ≤ 0 or NaN).
    #[inline(always)]
    pub(super) fn cholesky(&self, h: &[[S::f64s; C]; C]) -> ([[S::f64s; C]; C], S::m64s) {
        let s = self.simd;
        let zero = self.splat(0.0);
        let mut l = [[zero; C]; C];
        let mut bad = s.less_than_f64s(zero, zero);
        for j in 0..self.r() {
            let mut sq = zero;
            for p in 0..j {
                sq = s.add_f64s(sq, s.mul_f64s(l[j][p], l[j][p]));
            }
            let d = s.sub_f64s(h[j][j], sq);
            bad = s.or_m64s(bad, s.not_m64s(s.greater_than_f64s(d, zero)));
            let inverse = s.div_f64s(self.splat(1.0), s.sqrt_f64s(d));
            l[j][j] = inverse;
            for i in j + 1..self.r() {
                let mut v = h[i][j];
                for p in 0..j {
                    v = s.sub_f64s(v, s.mul_f64s(l[i][p], l[j][p]));
                }
                l[i][j] = s.mul_f64s(v, inverse);
            }
        }
        (l, bad)
    }

    /// x = H⁻¹b from the Cholesky factor (its diagonal as reciprocals).
    #[inline(always)]
    pub(super) fn cholesky_solve(&self, l: &[[S::f64s; C]; C], b: &[S::f64s; C]) -> [S::f64s; C] {
        let s = self.simd;
        let mut y = [self.splat(0.0); C];
        for i in 0..self.r() {
            let mut v = b[i];
            for p in 0..i {
                v = s.sub_f64s(v, s.mul_f64s(l[i][p], y[p]));
            }
            y[i] = s.mul_f64s(v, l[i][i]);
        }
        let mut x = [self.splat(0.0); C];
        for i in (0..self.r()).rev() {
            let mut v = y[i];
            for p in i + 1..self.r() {
                v = s.sub_f64s(v, s.mul_f64s(l[p][i], x[p]));
            }
            x[i] = s.mul_f64s(v, l[i][i]);
        }
        x
    }

    /// z + t·p.
    #[inline(always)]
    pub(super) fn axpy(&self, z: &[S::f64s; C], t: S::f64s, p: &[S::f64s; C]) -> [S::f64s; C] {
        let s = self.simd;
        let mut out = *z;
        for j in 0..self.r() {
            out[j] = s.add_f64s(z[j], s.mul_f64s(p[j], t));
        }
        out
    }

    #[inline(always)]
    pub(super) fn select(&self, mask: S::m64s, a: &[S::f64s; C], b: &[S::f64s; C]) -> [S::f64s; C] {
        let mut out = *b;
        for j in 0..C {
            out[j] = self.simd.select_f64s(mask, a[j], b[j]);
        }
        out
    }

    #[inline(always)]
    pub(super) fn select_local(
        &self,
        mask: S::m64s,
        a: &Local<S::f64s, C>,
        b: &Local<S::f64s, C>,
    ) -> Local<S::f64s, C> {
        Local {
            value: self.simd.select_f64s(mask, a.value, b.value),
            psi: self.select(mask, &a.psi, &b.psi),
            curvature: self.select(mask, &a.curvature, &b.curvature),
            gradient: self.select(mask, &a.gradient, &b.gradient),
            residual: self.simd.select_f64s(mask, a.residual, b.residual),
        }
    }
}
