//! The logistic function and its derivative, evaluated without overflow (docs/theory.md §1.5).

/// σ(x) = 1/(1 + e^{−x}).
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    sigmoid_neg(-x)
}

/// σ(−x) = 1/(1 + e^{x}); exact limits 0 and 1 for large |x| (an infinite e^x gives 0, not NaN).
#[inline]
pub fn sigmoid_neg(x: f64) -> f64 {
    sigmoid_neg_with(x, f64::exp)
}

/// [`sigmoid_neg`] with the exponential `exp` (e.g. [`super::table_exp::exp`]): e/(1 + e) with
/// e = exp(−x) for x ≥ 0, 1/(1 + exp(x)) otherwise.
#[inline(always)]
pub fn sigmoid_neg_with(x: f64, exp: impl Fn(f64) -> f64) -> f64 {
    if x >= 0.0 {
        let e = exp(-x);
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + exp(x))
    }
}

/// σ'(x) = σ(x)σ(−x) = e^{−|x|}/(1 + e^{−|x|})², no overflow for any x.
#[inline]
pub fn sigmoid_prime(x: f64) -> f64 {
    let e = (-x.abs()).exp();
    e / ((1.0 + e) * (1.0 + e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_symmetry() {
        assert_eq!(sigmoid_neg(1000.0), 0.0);
        assert_eq!(sigmoid_neg(-1000.0), 1.0);
        assert!((sigmoid(0.3) + sigmoid(-0.3) - 1.0).abs() < 1e-16);
        assert!((sigmoid_prime(0.0) - 0.25).abs() < 1e-16);
        assert!((sigmoid_prime(2.0) - sigmoid(2.0) * sigmoid(-2.0)).abs() < 1e-16);
        // Relative accuracy deep in the tail: σ(−40) = e^{−40}/(1+e^{−40}).
        assert!((sigmoid_neg(40.0) / (-40.0f64).exp() - 1.0).abs() < 1e-15);
    }
}
