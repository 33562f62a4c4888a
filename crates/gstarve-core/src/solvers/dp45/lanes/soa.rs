//! The lanes' arithmetic: the struct of arrays, the right-hand side, one DP45 step, the
//! stiffness estimate, the dense output and the crossing bound, each computed for every lane by
//! the same instructions (`x[i][l]` is component i of lane l).

// The lane loops index every array of the struct of arrays by the same lane l and component i,
// mirroring `Stages::step` expression for expression; iterator chains over six arrays would hide
// that correspondence.
#![allow(clippy::needless_range_loop)]
use super::super::stages::{
    A21, A31, A32, A41, A42, A43, A51, A52, A53, A54, A61, A62, A63, A64, A65, A71, A73, A74, A75,
    A76, D1, D3, D4, D5, D6, D7, E1, E3, E4, E5, E6, E7,
};
use super::{LaneExp, LaneFlow, LANES};

/// One value per lane.
pub(super) type V = [f64; LANES];

/// The lanes' flow parameters: `gram[j][i][l]` = K_ij of lane l, μ and λ_SD.
pub(super) struct Params<const N: usize> {
    pub gram: [[V; N]; N],
    pub decay: V,
    pub sd: V,
}

/// The lanes' arrays.
pub(super) struct Soa<const N: usize> {
    pub y: [V; N],
    pub k: [[V; N]; 7],
    arg: [V; N],
    y6: [V; N],
    pub ynew: [V; N],
    /// The dense-output coefficients of the last step (CONTD5 of dopri5.f): y, y₁ − y, bspl,
    /// r4 and r5 per component.
    pub cont: [[V; N]; 5],
    pub p: Params<N>,
    pub h: V,
    pub rtol: V,
    pub atol: V,
}

/// 0 for a finite x, NaN otherwise (x − x): a finiteness test that sums, without a branch.
#[inline(always)]
pub(super) fn poison(x: f64) -> f64 {
    #[allow(clippy::eq_op)]
    let z = x - x;
    z
}

/// σ(−x) as [`crate::model::sigmoid_neg`] computes it (e = e^{−|x|}; e/(1 + e) for x ≥ 0,
/// 1/(1 + e) otherwise), without a branch on x's sign.
#[inline(always)]
fn sigmoid_neg<E: LaneExp>(x: f64) -> f64 {
    let e = E::exp(-x.abs());
    let num = if x >= 0.0 { e } else { 1.0 };
    num / (1.0 + e)
}

/// The right-hand side for one lane (MarginFlowN's operations, in its order).
#[inline(always)]
pub(super) fn rhs_one<E: LaneExp, const N: usize>(f: &LaneFlow<N>, m: &[f64], dm: &mut [f64]) {
    let mut w = [0.0; N];
    for (wi, &mi) in w.iter_mut().zip(m) {
        let g = sigmoid_neg::<E>(mi);
        *wi = if f.lambda_sd == 0.0 {
            g
        } else {
            g - f.lambda_sd * mi
        };
    }
    for (i, (d, &mi)) in dm.iter_mut().zip(m).enumerate() {
        let mut acc = -f.decay * mi;
        for (col, &wj) in f.gram.iter().zip(&w) {
            acc = col[i].mul_add(wj, acc);
        }
        *d = acc;
    }
}

/// The right-hand side of every lane at `m` into `dm`.
#[inline(always)]
fn rhs_lanes<E: LaneExp, const N: usize>(p: &Params<N>, m: &[V; N], dm: &mut [V; N]) {
    let mut w = [[0.0; LANES]; N];
    for (wi, mi) in w.iter_mut().zip(m) {
        // σ(−m) as `sigmoid_neg` computes it, its exponentials first, for all lanes at once.
        let mut x = [0.0; LANES];
        for l in 0..LANES {
            x[l] = -mi[l].abs();
        }
        let e = E::exp_lanes(&x);
        for l in 0..LANES {
            let num = if mi[l] >= 0.0 { e[l] } else { 1.0 };
            let g = num / (1.0 + e[l]);
            wi[l] = if p.sd[l] == 0.0 {
                g
            } else {
                g - p.sd[l] * mi[l]
            };
        }
    }
    for (i, (d, mi)) in dm.iter_mut().zip(m).enumerate() {
        for l in 0..LANES {
            let mut acc = -p.decay[l] * mi[l];
            for (col, wj) in p.gram.iter().zip(&w) {
                acc = col[i][l].mul_add(wj[l], acc);
            }
            d[l] = acc;
        }
    }
}

impl<const N: usize> Soa<N> {
    pub(super) fn new() -> Self {
        Self {
            y: [[0.0; LANES]; N],
            k: [[[0.0; LANES]; N]; 7],
            arg: [[0.0; LANES]; N],
            y6: [[0.0; LANES]; N],
            ynew: [[0.0; LANES]; N],
            cont: [[[0.0; LANES]; N]; 5],
            p: Params {
                gram: [[[0.0; LANES]; N]; N],
                decay: [0.0; LANES],
                sd: [0.0; LANES],
            },
            h: [0.0; LANES],
            rtol: [1.0; LANES],
            atol: [1.0; LANES],
        }
    }

    /// One step of every lane with its `h` (the expressions of `Stages::step`, lane by lane, in
    /// its order: the newest stage added last); the squared error norms (∞ where not finite).
    #[inline(always)]
    pub(super) fn step<E: LaneExp>(&mut self) -> V {
        let h = self.h;
        for i in 0..N {
            for l in 0..LANES {
                self.arg[i][l] = (h[l] * A21).mul_add(self.k[0][i][l], self.y[i][l]);
            }
        }
        rhs_lanes::<E, N>(&self.p, &self.arg, &mut self.k[1]);
        for i in 0..N {
            for l in 0..LANES {
                self.arg[i][l] = (h[l] * A32).mul_add(
                    self.k[1][i][l],
                    self.y[i][l] + h[l] * (A31 * self.k[0][i][l]),
                );
            }
        }
        rhs_lanes::<E, N>(&self.p, &self.arg, &mut self.k[2]);
        for i in 0..N {
            for l in 0..LANES {
                self.arg[i][l] = (h[l] * A43).mul_add(
                    self.k[2][i][l],
                    self.y[i][l] + h[l] * (A41 * self.k[0][i][l] + A42 * self.k[1][i][l]),
                );
            }
        }
        rhs_lanes::<E, N>(&self.p, &self.arg, &mut self.k[3]);
        for i in 0..N {
            for l in 0..LANES {
                self.arg[i][l] = (h[l] * A54).mul_add(
                    self.k[3][i][l],
                    self.y[i][l]
                        + h[l]
                            * (A51 * self.k[0][i][l]
                                + A52 * self.k[1][i][l]
                                + A53 * self.k[2][i][l]),
                );
            }
        }
        rhs_lanes::<E, N>(&self.p, &self.arg, &mut self.k[4]);
        for i in 0..N {
            for l in 0..LANES {
                self.y6[i][l] = (h[l] * A65).mul_add(
                    self.k[4][i][l],
                    self.y[i][l]
                        + h[l]
                            * (A61 * self.k[0][i][l]
                                + A62 * self.k[1][i][l]
                                + A63 * self.k[2][i][l]
                                + A64 * self.k[3][i][l]),
                );
            }
        }
        rhs_lanes::<E, N>(&self.p, &self.y6, &mut self.k[5]);
        for i in 0..N {
            for l in 0..LANES {
                self.ynew[i][l] = (h[l] * A76).mul_add(
                    self.k[5][i][l],
                    self.y[i][l]
                        + h[l]
                            * (A71 * self.k[0][i][l]
                                + A73 * self.k[2][i][l]
                                + A74 * self.k[3][i][l]
                                + A75 * self.k[4][i][l]),
                );
            }
        }
        // 1/scᵢ into `arg`, as `Stages::step` does.
        for i in 0..N {
            for l in 0..LANES {
                self.arg[i][l] = 1.0
                    / (self.atol[l] + self.rtol[l] * self.y[i][l].abs().max(self.ynew[i][l].abs()));
            }
        }
        rhs_lanes::<E, N>(&self.p, &self.ynew, &mut self.k[6]);
        let mut sum = [0.0; LANES];
        // 0 where every component of y₁ is finite, NaN otherwise (x − x), without a branch.
        let mut nan = [0.0; LANES];
        for i in 0..N {
            for l in 0..LANES {
                nan[l] += poison(self.ynew[i][l]);
                let e = (h[l] * E7).mul_add(
                    self.k[6][i][l],
                    h[l] * (E1 * self.k[0][i][l]
                        + E3 * self.k[2][i][l]
                        + E4 * self.k[3][i][l]
                        + E5 * self.k[4][i][l]
                        + E6 * self.k[5][i][l]),
                );
                let q = e * self.arg[i][l];
                sum[l] += q * q;
            }
        }
        let mut err = [0.0; LANES];
        for l in 0..LANES {
            // e + 0 = e (e ≥ 0): the squared norm itself where it and y₁ are finite.
            let e = sum[l] / N as f64 + nan[l];
            err[l] = if e.is_finite() { e } else { f64::INFINITY };
        }
        err
    }

    /// Every lane's stiffness estimate h·λ̂ (`Stages::stiffness`).
    #[inline(always)]
    pub(super) fn stiffness(&self) -> V {
        let (mut num, mut den) = ([0.0; LANES], [0.0; LANES]);
        for i in 0..N {
            for l in 0..LANES {
                let a = self.k[6][i][l] - self.k[5][i][l];
                let b = self.ynew[i][l] - self.y6[i][l];
                num[l] += a * a;
                den[l] += b * b;
            }
        }
        let mut out = [0.0; LANES];
        for l in 0..LANES {
            // The quotient of a lane with den = 0 is not read (no division by zero is taken).
            let q = num[l] / if den[l] > 0.0 { den[l] } else { 1.0 };
            out[l] = if den[l] > 0.0 {
                self.h[l] * q.sqrt()
            } else {
                0.0
            };
        }
        out
    }

    /// The dense-output coefficients of every lane's step just taken (`Stages::prepare_dense`).
    #[inline(always)]
    pub(super) fn prepare_dense(&mut self) {
        let (k, h) = (&self.k, &self.h);
        for i in 0..N {
            for l in 0..LANES {
                let y = self.y[i][l];
                let ydiff = self.ynew[i][l] - y;
                let bspl = h[l] * k[0][i][l] - ydiff;
                self.cont[0][i][l] = y;
                self.cont[1][i][l] = ydiff;
                self.cont[2][i][l] = bspl;
                self.cont[3][i][l] = ydiff - h[l] * k[6][i][l] - bspl;
                self.cont[4][i][l] = h[l]
                    * (D1 * k[0][i][l]
                        + D3 * k[2][i][l]
                        + D4 * k[3][i][l]
                        + D5 * k[4][i][l]
                        + D6 * k[5][i][l]
                        + D7 * k[6][i][l]);
            }
        }
    }

    /// The state of every lane at θ ∈ [0, 1] of its step (`Stages::dense`), or y₁ itself where
    /// `at_end`.
    #[inline(always)]
    pub(super) fn dense(&self, theta: &V, at_end: &[bool; LANES]) -> [V; N] {
        let c = &self.cont;
        let mut out = [[0.0; LANES]; N];
        for i in 0..N {
            for l in 0..LANES {
                let (th, t1) = (theta[l], 1.0 - theta[l]);
                let d = c[0][i][l]
                    + th * (c[1][i][l] + t1 * (c[2][i][l] + th * (c[3][i][l] + t1 * c[4][i][l])));
                out[i][l] = if at_end[l] { self.ynew[i][l] } else { d };
            }
        }
        out
    }

    /// Per lane, whether Σᵢ wᵢ·mᵢ(θ) stays below `threshold` for every θ ∈ [0, 1] of the step
    /// just taken (`prepare_dense` called), with a margin far above the rounding of evaluating it.
    ///
    /// With the dense output m(θ) = y + θ·Δ + θ(1−θ)·b + θ²(1−θ)·r₄ + θ²(1−θ)²·r₅ and, for the
    /// weighted sums W₀, Δ_w, b_w, r₄w, r₅w, the maxima of θ(1−θ), θ²(1−θ), θ²(1−θ)² on [0, 1]
    /// (1/4, 4/27, 1/16):
    ///
    /// ```text
    /// Σᵢ wᵢ mᵢ(θ) ≤ W₀ + max(Δ_w, 0) + ¼ max(b_w, 0) + 4/27 max(r₄w, 0) + 1/16 max(r₅w, 0).
    /// ```
    ///
    /// The margin is 10⁻⁹·Σᵢ |wᵢ|(|y| + |Δ| + |b| + |r₄| + |r₅|)ᵢ, ~10⁶ times the rounding error
    /// of any evaluation of the sum. Not finite coefficients give `false`.
    #[inline(always)]
    pub(super) fn below(&self, weights: &[V; N], threshold: &V) -> [bool; LANES] {
        let mut out = [false; LANES];
        for l in 0..LANES {
            let ([w0, d, b, r4, r5], scale) = self.weighted(weights, l);
            let upper = w0
                + d.max(0.0)
                + 0.25 * b.max(0.0)
                + (4.0 / 27.0) * r4.max(0.0)
                + 0.0625 * r5.max(0.0);
            out[l] = upper + 1e-9 * scale < threshold[l];
        }
        out
    }

    /// Lane `l`'s weighted dense-output coefficients (Σᵢ wᵢ·yᵢ, Σᵢ wᵢ·Δᵢ, Σᵢ wᵢ·bᵢ, Σᵢ wᵢ·r₄ᵢ,
    /// Σᵢ wᵢ·r₅ᵢ) of [`Self::below`] and [`Self::rising`], and the scale of their rounding,
    /// Σᵢ |wᵢ|(|y| + |Δ| + |b| + |r₄| + |r₅|)ᵢ.
    #[inline(always)]
    fn weighted(&self, weights: &[V; N], l: usize) -> ([f64; 5], f64) {
        let (mut sums, mut scale) = ([0.0; 5], 0.0);
        for i in 0..N {
            let w = weights[i][l];
            for (s, ci) in sums.iter_mut().zip(&self.cont) {
                *s += w * ci[i][l];
                scale += (w * ci[i][l]).abs();
            }
        }
        (sums, scale)
    }

    /// Per lane, whether S(θ) = Σᵢ wᵢ·mᵢ(θ) rises on the step just taken (`prepare_dense`
    /// called) so steeply that output points `spacing` apart in θ are in increasing order even
    /// after rounding, and an estimate of the θ ∈ [0, 1] where S reaches `threshold`.
    ///
    /// With the dense output of [`Self::below`], dS/dθ = Δ_w + (1−2θ)·b_w + (2θ−3θ²)·r₄w +
    /// 2θ(1−θ)(1−2θ)·r₅w, whose three last factors lie in [−1, 1], [−1, ⅓] and [−√3/9, √3/9] on
    /// [0, 1], so
    ///
    /// ```text
    /// dS/dθ ≥ L = Δ_w − |b_w| − |r₄w| − 0.2·|r₅w|.
    /// ```
    ///
    /// The points rise in order when L·spacing exceeds twice [`Self::below`]'s margin
    /// 10⁻⁹·Σᵢ |wᵢ|(|y| + |Δ| + |b| + |r₄| + |r₅|)ᵢ, which bounds the rounding of any evaluation
    /// of the sum (10⁶ times over). The estimate is three Newton steps on S(θ) = threshold from
    /// the linear one, kept in [0, 1]; it is a guess only (the caller tests the points it picks).
    #[inline(always)]
    pub(super) fn rising(
        &self,
        weights: &[V; N],
        threshold: &V,
        spacing: &V,
    ) -> ([bool; LANES], V) {
        let (mut out, mut root) = ([false; LANES], [0.0; LANES]);
        for l in 0..LANES {
            (out[l], root[l]) = self.rising_lane(weights, threshold[l], spacing[l], l);
        }
        (out, root)
    }

    /// [`Self::rising`] in lane `l` alone (the same expressions: the same bits), for steps where
    /// few lanes need it (in the τ₉₀ diagram most of the steps that call it).
    #[inline(always)]
    pub(super) fn rising_lane(
        &self,
        weights: &[V; N],
        threshold: f64,
        spacing: f64,
        l: usize,
    ) -> (bool, f64) {
        let ([w0, d, b, r4, r5], scale) = self.weighted(weights, l);
        let slope = d - b.abs() - r4.abs() - 0.2 * r5.abs();
        let rises = slope * spacing > 2e-9 * scale;
        // Where a lane is not rising the estimate is not read; keep its arithmetic finite.
        let slope = if rises { slope } else { 1.0 };
        let mut th = ((threshold - w0) / d.max(slope)).clamp(0.0, 1.0);
        for _ in 0..3 {
            let t1 = 1.0 - th;
            let s = w0 + th * (d + t1 * (b + th * (r4 + t1 * r5)));
            let ds = d
                + (1.0 - 2.0 * th) * b
                + (2.0 * th - 3.0 * th * th) * r4
                + 2.0 * th * t1 * (1.0 - 2.0 * th) * r5;
            th = (th - (s - threshold) / ds.max(slope)).clamp(0.0, 1.0);
        }
        (rises, th)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S(θ) of [`Soa::below`] from the weighted coefficients (W₀, Δ, b, r₄, r₅).
    fn sum_at(c: [f64; 5], th: f64) -> f64 {
        let t1 = 1.0 - th;
        c[0] + th * (c[1] + t1 * (c[2] + th * (c[3] + t1 * c[4])))
    }

    #[test]
    fn rising_bounds_the_slope_and_estimates_the_crossing() {
        let rises = [0.5, 0.6, 0.05, -0.02, 0.01];
        // A hump: S(θ) = 0.5 + θ(1 − θ), up then down.
        let hump = [0.5, 0.0, 1.0, 0.0, 0.0];
        let mut soa = Soa::<1>::new();
        for (l, c) in [rises, hump, rises].iter().enumerate() {
            for (k, &v) in c.iter().enumerate() {
                soa.cont[k][0][l] = v;
            }
        }
        let mut spacing = [0.01; LANES];
        // Points 10⁻¹² apart in θ rise by less than the rounding margin.
        spacing[2] = 1e-12;
        let (rising, root) = soa.rising(&[[1.0; LANES]], &[0.9; LANES], &spacing);
        assert_eq!(&rising[..3], &[true, false, false]);
        // Lane by lane, the same bits.
        for l in 0..3 {
            let (one, at) = soa.rising_lane(&[[1.0; LANES]], 0.9, spacing[l], l);
            assert_eq!(
                (one, at.to_bits()),
                (rising[l], root[l].to_bits()),
                "lane {l}"
            );
        }
        // Three Newton steps from the linear estimate: the crossing to rounding.
        assert!((sum_at(rises, root[0]) - 0.9).abs() < 1e-14, "{}", root[0]);
        assert!(root[0] > 0.0 && root[0] < 1.0);
    }
}
