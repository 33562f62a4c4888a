//! log(1 + x) for x ∈ [0, 1] without branches, so that a loop over the lanes of many systems
//! vectorises (issue #17: the batched steady states evaluate the logistic loss
//! ℓ(m) = max(−m, 0) + log1p(e^{−|m|}), whose argument lies in [0, 1]).
//!
//! The algorithm is fdlibm's `s_log1p.c` (FreeBSD msun; Sun Microsystems 1993), error < 1 ulp,
//! restricted to the unit interval, where its branches reduce to one choice of the reduction:
//!
//! ```text
//! x < T (T just below √2 − 1):   k = 0,  f = x,               c = 0
//! x ≥ T:                         k = 1,  f = (1 + x)/2 − 1,   c = (x − ((1 + x) − 1))/(1 + x)
//! s = f/(2 + f),  z = s²,  R = z(Lp1 + z(Lp2 + … + z Lp7))      (Remez, |error| < 2^−58.45)
//! log1p(x) = k·ln2_hi − ((½f² − (s(½f² + R) + (k·ln2_lo + c))) − f)
//! ```
//!
//! (f ∈ [−0.293, 0.415]; c corrects the rounding of 1 + x; ½(1 + x) − 1 is exact.) With k = 0
//! the last line is fdlibm's f − (½f² − s(½f² + R)) to the bit; fdlibm's shortcuts for tiny x
//! (x and x − x²/2) are left out, the general formula being as accurate there. Outside [0, 1]
//! the result is wrong (k would be larger): callers pass e^{−|m|}. NaN stays NaN.

// fdlibm's constants, digit for digit (each rounds to the f64 fdlibm uses).
#[allow(clippy::excessive_precision)]
mod constants {
    pub const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
    pub const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    pub const LP1: f64 = 6.666_666_666_666_735_130e-1;
    pub const LP2: f64 = 3.999_999_999_940_941_908e-1;
    pub const LP3: f64 = 2.857_142_874_366_239_149e-1;
    pub const LP4: f64 = 2.222_219_843_214_978_396e-1;
    pub const LP5: f64 = 1.818_357_216_161_805_012e-1;
    pub const LP6: f64 = 1.531_383_769_920_937_332e-1;
    pub const LP7: f64 = 1.479_819_860_511_658_591e-1;
    /// fdlibm's switch to the k = 1 reduction: the high word 0x3FDA827A (≈ 0.414213538).
    pub const SWITCH: f64 = f64::from_bits(0x3FDA_827A_0000_0000);
}
use constants::*;

/// log(1 + x) for x ∈ [0, 1], within 1 ulp (module documentation).
#[inline(always)]
pub fn log1p_unit(x: f64) -> f64 {
    let big = x >= SWITCH;
    let u = 1.0 + x;
    // Both reductions computed, one selected: no branch in a loop over lanes.
    let f_big = 0.5 * u - 1.0;
    let c_big = (x - (u - 1.0)) / u;
    let f = if big { f_big } else { x };
    let c = if big { c_big } else { 0.0 };
    let k = if big { 1.0 } else { 0.0 };
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * (LP1 + z * (LP2 + z * (LP3 + z * (LP4 + z * (LP5 + z * (LP6 + z * LP7))))));
    k * LN2_HI - ((hfsq - (s * (hfsq + r) + (k * LN2_LO + c))) - f)
}

/// [`log1p_unit`] on every lane of a pulp vector, bit for bit the same values.
#[inline(always)]
pub fn log1p_unit_lanes<S: pulp::Simd>(simd: S, x: S::f64s) -> S::f64s {
    let splat = |v: f64| simd.splat_f64s(v);
    let big = simd.greater_than_or_equal_f64s(x, splat(SWITCH));
    let u = simd.add_f64s(splat(1.0), x);
    let f_big = simd.sub_f64s(simd.mul_f64s(splat(0.5), u), splat(1.0));
    let c_big = simd.div_f64s(simd.sub_f64s(x, simd.sub_f64s(u, splat(1.0))), u);
    let f = simd.select_f64s(big, f_big, x);
    let c = simd.select_f64s(big, c_big, splat(0.0));
    let k = simd.select_f64s(big, splat(1.0), splat(0.0));
    let hfsq = simd.mul_f64s(simd.mul_f64s(splat(0.5), f), f);
    let s = simd.div_f64s(f, simd.add_f64s(splat(2.0), f));
    let z = simd.mul_f64s(s, s);
    let mut p = splat(LP7);
    for coefficient in [LP6, LP5, LP4, LP3, LP2, LP1] {
        p = simd.add_f64s(splat(coefficient), simd.mul_f64s(z, p));
    }
    let r = simd.mul_f64s(z, p);
    let inner = simd.add_f64s(
        simd.mul_f64s(s, simd.add_f64s(hfsq, r)),
        simd.add_f64s(simd.mul_f64s(k, splat(LN2_LO)), c),
    );
    simd.sub_f64s(
        simd.mul_f64s(k, splat(LN2_HI)),
        simd.sub_f64s(simd.sub_f64s(hfsq, inner), f),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ulps;

    /// [`log1p_unit_lanes`] on `xs`, vector by vector.
    fn log1p_all<S: pulp::Simd>(simd: S, xs: &[f64]) -> Vec<f64> {
        let lanes = S::F64_LANES;
        xs.chunks(lanes)
            .flat_map(|c| {
                let mut out = vec![0.0; lanes];
                let v = log1p_unit_lanes(simd, simd.partial_load_f64s(c));
                simd.partial_store_f64s(&mut out, v);
                out.truncate(c.len());
                out
            })
            .collect()
    }

    struct Log1pAll<'a>(&'a [f64]);
    impl pulp::WithSimd for Log1pAll<'_> {
        type Output = Vec<f64>;
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, simd: S) -> Vec<f64> {
            log1p_all(simd, self.0)
        }
    }

    #[test]
    fn lanes_equal_the_scalar_log1p_bit_for_bit() {
        let mut xs: Vec<f64> = (0..=100_000).map(|i| i as f64 / 100_000.0).collect();
        xs.extend((0..=1000).map(|i| 10f64.powf(-3.0 * i as f64 / 10.0)));
        xs.extend([5e-324, SWITCH, 1.0, f64::NAN]);
        let same = |a: &[f64]| {
            a.iter()
                .zip(&xs)
                .all(|(v, &x)| v.to_bits() == log1p_unit(x).to_bits() || (v.is_nan() && x.is_nan()))
        };
        assert!(same(&pulp::Arch::new().dispatch(Log1pAll(&xs))));
        assert!(same(&log1p_all(pulp::Scalar::new(), &xs)));
    }

    #[test]
    fn within_one_ulp_of_the_platform_log1p_on_the_unit_interval() {
        // The platform's log1p is within 1 ulp too (glibc: < 1 ulp).
        let mut worst = 0.0f64;
        let mut differ = 0usize;
        let count = 400_000;
        let mut check = |x: f64| {
            let (a, b) = (log1p_unit(x), x.ln_1p());
            if a != b {
                differ += 1;
            }
            worst = worst.max(ulps(a, b));
        };
        // Uniform in [0, 1], and log-uniform from 1e-300 (where e^{−|m|} lives for large |m|).
        for i in 0..=count {
            check(i as f64 / count as f64);
            check(10f64.powf(-300.0 * i as f64 / count as f64));
        }
        // Around the switch of reduction, and the ends.
        for b in -2000i64..=2000 {
            check(f64::from_bits((SWITCH.to_bits() as i64 + b) as u64));
            check(f64::from_bits((1.0f64.to_bits() as i64 - b.abs()) as u64));
        }
        for x in [5e-324, 1e-310, 2.2e-308, 1e-17, 1e-9, 0.25, 0.5, 0.75] {
            check(x);
        }
        assert!(worst <= 1.0, "worst {worst} ulp");
        // Nearly always the same bits.
        assert!(differ < count / 10, "{differ} of {} differ", 2 * count);
    }

    #[test]
    fn special_values() {
        assert_eq!(log1p_unit(0.0), 0.0);
        assert_eq!(log1p_unit(1.0), std::f64::consts::LN_2);
        assert_eq!(log1p_unit(5e-324), 5e-324);
        assert_eq!(log1p_unit(1e-300), 1e-300);
        assert!(log1p_unit(f64::NAN).is_nan());
    }
}
