//! e^x without branches, so that a loop over the lanes of many systems vectorises (issue #17:
//! the batched steady states of [`crate::sweeps::batch`] evaluate σ(−m) of all lanes with
//! [`exp_lanes`]).
//!
//! The algorithm is fdlibm's `e_exp.c` (FreeBSD msun; Sun Microsystems 1993), error < 1 ulp:
//!
//! ```text
//! k = round(x / ln 2),  r = (x − k·ln2_hi) − k·ln2_lo        (|r| ≤ ln 2 / 2, the first product exact)
//! c = r − r²(P1 + r²(P2 + r²(P3 + r²(P4 + r² P5))))          (Remez, |error| < 2^−59)
//! e^r = 1 − ((k·ln2_lo − r·c/(2 − c)) − (x − k·ln2_hi)),    e^x = e^r · 2^k
//! ```
//!
//! with fdlibm's special cases replaced by arithmetic: x is clamped to [−746, 710] (beyond,
//! e^x rounds to 0 or overflows to ∞ all the same), k is rounded by the 1.5·2⁵² shift, and
//! 2^k is applied as 2^⌊k/2⌋·2^{k−⌊k/2⌋}, two normal powers of two, so that the subnormal
//! results are rounded once, as fdlibm's are. NaN stays NaN. Not bit-identical to the
//! platform's `f64::exp` (glibc rounds differently in the last bit now and then); the DP45 flows,
//! one system or many in lanes, use [`crate::model::table_exp`] instead.

// fdlibm's constants, digit for digit (each rounds to the f64 fdlibm uses).
#[allow(clippy::excessive_precision)]
mod constants {
    pub const LN2_HI: f64 = 6.931_471_803_691_238_164_9e-1;
    pub const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    pub const P1: f64 = 1.666_666_666_666_660_190_37e-1;
    pub const P2: f64 = -2.777_777_777_701_559_338_42e-3;
    pub const P3: f64 = 6.613_756_321_437_934_361_17e-5;
    pub const P4: f64 = -1.653_390_220_546_525_153_9e-6;
    pub const P5: f64 = 4.138_136_797_057_238_460_39e-8;
    /// 1.5·2⁵²: adding and subtracting it rounds to the nearest integer, which then sits in the low
    /// bits of the sum.
    pub const SHIFT: f64 = 6_755_399_441_055_744.0;
}
use constants::*;

/// e^x, within 1 ulp of the exact value for every x (module documentation).
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    // f64::clamp keeps NaN.
    let x = x.clamp(-746.0, 710.0);
    let shifted = x * std::f64::consts::LOG2_E + SHIFT;
    let kf = shifted - SHIFT;
    let k = (shifted.to_bits() as i64).wrapping_sub(SHIFT.to_bits() as i64);
    let hi = x - kf * LN2_HI;
    let lo = kf * LN2_LO;
    let r = hi - lo;
    let t = r * r;
    let c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
    let y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    let k1 = k >> 1;
    let k2 = k.wrapping_sub(k1);
    let scale = |k: i64| f64::from_bits((k.wrapping_add(1023) as u64) << 52);
    y * scale(k1) * scale(k2)
}

/// [`exp`] on every lane of a pulp vector, bit for bit the same values: the reduction, the
/// polynomial and the division on the vector, the two powers of two built lane by lane from k
/// (pulp has no 64-bit shifts on its vectors).
#[inline(always)]
pub fn exp_lanes<S: pulp::Simd>(simd: S, x: S::f64s) -> S::f64s {
    let splat = |v: f64| simd.splat_f64s(v);
    // f64::clamp: NaN compares false both times and stays NaN.
    let x = simd.select_f64s(simd.less_than_f64s(x, splat(-746.0)), splat(-746.0), x);
    let x = simd.select_f64s(simd.greater_than_f64s(x, splat(710.0)), splat(710.0), x);
    let shifted = simd.add_f64s(
        simd.mul_f64s(x, splat(std::f64::consts::LOG2_E)),
        splat(SHIFT),
    );
    let kf = simd.sub_f64s(shifted, splat(SHIFT));
    let hi = simd.sub_f64s(x, simd.mul_f64s(kf, splat(LN2_HI)));
    let lo = simd.mul_f64s(kf, splat(LN2_LO));
    let r = simd.sub_f64s(hi, lo);
    let t = simd.mul_f64s(r, r);
    let mut p = splat(P5);
    for coefficient in [P4, P3, P2, P1] {
        p = simd.add_f64s(splat(coefficient), simd.mul_f64s(t, p));
    }
    let c = simd.sub_f64s(r, simd.mul_f64s(t, p));
    let quotient = simd.div_f64s(simd.mul_f64s(r, c), simd.sub_f64s(splat(2.0), c));
    let y = simd.sub_f64s(splat(1.0), simd.sub_f64s(simd.sub_f64s(lo, quotient), hi));
    let bits = pulp::bytemuck::cast_slice::<S::f64s, f64>(std::slice::from_ref(&shifted));
    let (mut first, mut second) = (splat(0.0), splat(0.0));
    let first_lanes =
        pulp::bytemuck::cast_slice_mut::<S::f64s, f64>(std::slice::from_mut(&mut first));
    let second_lanes =
        pulp::bytemuck::cast_slice_mut::<S::f64s, f64>(std::slice::from_mut(&mut second));
    // k and ⌊k/2⌋ in two's complement on u64, ⌊k/2⌋ by a logical shift of k + 2048 ≥ 0: only the
    // 64-bit additions and logical shifts AVX2 has, so that the compiler vectorises this loop too.
    for l in 0..bits.len() {
        let k = bits[l].to_bits().wrapping_sub(SHIFT.to_bits());
        let k1 = (k.wrapping_add(2048) >> 1).wrapping_sub(1024);
        first_lanes[l] = f64::from_bits(k1.wrapping_add(1023) << 52);
        second_lanes[l] = f64::from_bits(k.wrapping_sub(k1).wrapping_add(1023) << 52);
    }
    simd.mul_f64s(simd.mul_f64s(y, first), second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ulps;

    /// [`exp_lanes`] on `xs`, vector by vector.
    fn exp_all<S: pulp::Simd>(simd: S, xs: &[f64]) -> Vec<f64> {
        let lanes = S::F64_LANES;
        xs.chunks(lanes)
            .flat_map(|c| {
                let mut out = vec![0.0; lanes];
                simd.partial_store_f64s(&mut out, exp_lanes(simd, simd.partial_load_f64s(c)));
                out.truncate(c.len());
                out
            })
            .collect()
    }

    struct ExpAll<'a>(&'a [f64]);
    impl pulp::WithSimd for ExpAll<'_> {
        type Output = Vec<f64>;
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, simd: S) -> Vec<f64> {
            exp_all(simd, self.0)
        }
    }

    #[test]
    fn lanes_equal_the_scalar_exp_bit_for_bit() {
        let mut xs: Vec<f64> = (0..=200_000)
            .map(|i| -750.0 + 1465.0 * i as f64 / 200_000.0)
            .collect();
        xs.extend([
            0.0,
            -0.0,
            1e-300,
            -1e-17,
            -745.0,
            -740.0,
            -708.5,
            709.78,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NAN,
        ]);
        let same = |a: &[f64]| {
            a.iter()
                .zip(&xs)
                .all(|(v, &x)| v.to_bits() == exp(x).to_bits() || (v.is_nan() && x.is_nan()))
        };
        assert!(same(&pulp::Arch::new().dispatch(ExpAll(&xs))));
        assert!(same(&exp_all(pulp::Scalar::new(), &xs)));
    }

    #[test]
    fn within_one_ulp_of_the_platform_exp() {
        // The platform's exp is within 1 ulp too (glibc: < 1 ulp), so the two may differ by ≤ 2.
        let mut worst = 0.0f64;
        let mut differ = 0usize;
        let count = 400_000;
        for i in 0..=count {
            let x = -745.0 + 1454.0 * i as f64 / count as f64;
            let (a, b) = (exp(x), x.exp());
            if a != b {
                differ += 1;
            }
            worst = worst.max(ulps(a, b));
        }
        for x in [
            -1e-300, 1e-300, -1e-17, 1e-17, 0.5, -0.5, 0.3465, -0.3466, 1.0, -1.0, 88.7, -708.3,
            -708.5, -744.4, 709.7,
        ] {
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        assert!(worst <= 1.0, "worst {worst} ulp");
        // Nearly always the same bits (measured: a few per cent of the arguments differ).
        assert!(differ < count / 10, "{differ} of {count} differ");
    }

    #[test]
    fn special_values() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-0.0), 1.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(-746.0), 0.0);
        assert_eq!(exp(-1e6), 0.0);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert!(exp(f64::NAN).is_nan());
        assert!(ulps(exp(1.0), std::f64::consts::E) <= 1.0);
        // Subnormal results, rounded once: e^−745 ≈ 4.94e−324 = the smallest subnormal.
        assert_eq!(exp(-745.0), (-745.0f64).exp());
        assert_eq!(exp(-740.0), (-740.0f64).exp());
        assert_eq!(exp(709.78), 709.78f64.exp());
    }
}
