//! e^x without branches, so that a loop over the lanes of many systems vectorises (issue #17:
//! the lanes of [`crate::solvers::dp45::lanes`] spend most of their arithmetic on σ(−m)).
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
//! platform's `f64::exp` (glibc rounds differently in the last bit now and then), which is why
//! the one-system flows keep `f64::exp` and the lanes are tested against them to the flow's
//! tolerance (and to the bit with `f64::exp` in the lanes).

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

/// ln x without branches, for the lanes' step-size controller (issue #17): fdlibm's `e_log.c`
/// (FreeBSD msun; Sun Microsystems 1993), error < 1 ulp,
///
/// ```text
/// x = 2^k (1 + f),  √2/2 ≤ 1 + f < √2,   s = f/(2 + f),   R = Remez in s² (|error| < 2^−58.45)
/// ln x = k·ln2_hi − ((½f² − (s(½f² + R) + k·ln2_lo)) − f)     (|f| not small)
///      = k·ln2_hi − ((s(f − R) − k·ln2_lo) − f)                 (otherwise)
/// ```
///
/// with fdlibm's choice between the two forms made by a select instead of a branch, and its
/// special cases left out: x must be a positive, normal, finite number (the controller's errors
/// are clamped to ≥ 10⁻¹⁶ and finite); any other x gives an unspecified number, never a panic.
#[inline(always)]
#[allow(clippy::excessive_precision)] // fdlibm's constants, digit for digit
pub fn ln(x: f64) -> f64 {
    const LG1: f64 = 6.666_666_666_666_735_130e-1;
    const LG2: f64 = 3.999_999_999_940_941_908e-1;
    const LG3: f64 = 2.857_142_874_366_239_149e-1;
    const LG4: f64 = 2.222_219_843_214_978_396e-1;
    const LG5: f64 = 1.818_357_216_161_805_012e-1;
    const LG6: f64 = 1.531_383_769_920_937_332e-1;
    const LG7: f64 = 1.479_819_860_511_658_591e-1;
    let bits = x.to_bits();
    let hx = (bits >> 32) as i64;
    let mantissa_hi = hx & 0x000f_ffff;
    // 1 + f in [√2/2, √2): x's mantissa, halved when it is ≥ √2 (fdlibm's 0x95f64 test).
    let i = (mantissa_hi + 0x95f64) & 0x10_0000;
    let k = (hx >> 20) - 1023 + (i >> 20);
    let high = (mantissa_hi | (i ^ 0x3ff0_0000)) as u64;
    let f = f64::from_bits((high << 32) | (bits & 0xffff_ffff)) - 1.0;
    let s = f / (2.0 + f);
    let dk = k as f64;
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    let hfsq = 0.5 * f * f;
    let far = (mantissa_hi - 0x6147a) | (0x6b851 - mantissa_hi);
    let large = dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f);
    let small = dk * LN2_HI - ((s * (f - r) - dk * LN2_LO) - f);
    if far > 0 {
        large
    } else {
        small
    }
}

#[cfg(test)]
mod ln_tests {
    use super::ln;
    use crate::model::ulps;

    #[test]
    fn ln_within_one_ulp_of_the_platform_ln() {
        // Arguments spread over [1e-300, 1e300] and packed near 1 (where the small form serves),
        // and the controller's range [1e-16, 1e4].
        let mut worst = 0.0f64;
        let mut check = |x: f64| {
            worst = worst.max(ulps(ln(x), x.ln()));
        };
        let count = 200_000;
        for i in 0..=count {
            let u = i as f64 / count as f64;
            check(10f64.powf(-300.0 + 600.0 * u));
            check(10f64.powf(-16.0 + 20.0 * u));
            check(1.0 + (u - 0.5) * 1e-3);
            check(1.0 + (u - 0.5) * 1e-9);
        }
        for x in [
            1.0,
            2.0,
            0.5,
            std::f64::consts::E,
            std::f64::consts::SQRT_2,
            1e-16,
            1e-4,
        ] {
            check(x);
        }
        assert!(worst <= 1.0, "worst {worst} ulp");
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(2.0), std::f64::consts::LN_2);
    }
}
