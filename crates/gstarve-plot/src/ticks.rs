//! Tick steps and number labels in the house style: "nice" steps (1, 2, 2.5, 5 × 10^k),
//! decades with superscript exponents (10⁻³), the Unicode minus sign, compact parameter values,
//! subscript indices (z₁₂).

const SUPERSCRIPTS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];

/// 10^k with a superscript exponent: 10⁻³.
pub(crate) fn decade_label(k: i32) -> String {
    let mut s = String::from("10");
    if k < 0 {
        s.push('⁻');
    }
    for d in k.unsigned_abs().to_string().bytes() {
        s.push(SUPERSCRIPTS[(d - b'0') as usize]);
    }
    s
}

/// A number with `decimals` decimals and a Unicode minus sign.
pub(crate) fn format_number(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v);
    let s = if s.starts_with('-') && s[1..].bytes().all(|b| b == b'0' || b == b'.') {
        s[1..].to_string()
    } else {
        s
    };
    s.replacen('-', "−", 1)
}

/// A compact number for legends and cells: 3 significant digits, Unicode minus.
pub(crate) fn format_significant(v: f64, digits: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_number(v, 0);
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-3..=4).contains(&magnitude) {
        let mantissa = v / 10f64.powi(magnitude);
        return format!(
            "{}×{}",
            format_number(mantissa, digits.saturating_sub(1)),
            decade_label(magnitude)
        );
    }
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    format_number(v, decimals)
}

/// A number as short as possible with up to 4 significant digits (0.01, 2, 0.002, 1.5×10⁻⁵),
/// for parameter values in legends and titles.
pub(crate) fn format_compact(v: f64) -> String {
    let s = format_significant(v, 4);
    let (mantissa, rest) = match s.find('×') {
        Some(k) => (s[..k].to_string(), s[k..].to_string()),
        None => (s.clone(), String::new()),
    };
    let mantissa = if mantissa.contains('.') {
        mantissa
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        mantissa
    };
    mantissa + &rest
}

/// The strengths for a title or legend: all of them, s = (4, 2), up to `listed` features;
/// beyond, the count and the ends of the spectrum, r = 300: s₁ = 138.2 … s₃₀₀ = 1.3×10⁻³, so a
/// real network's system does not run off the figure.
pub(crate) fn strengths_summary(strengths: &[f64], listed: usize) -> String {
    const NBSP: &str = "\u{a0}";
    match strengths {
        [] => format!("r{NBSP}={NBSP}0"),
        s if s.len() <= listed => {
            let all: Vec<String> = s.iter().map(|&v| format_compact(v)).collect();
            format!("s{NBSP}={NBSP}({})", all.join(", "))
        }
        s => {
            let r = s.len();
            format!(
                "r{NBSP}={NBSP}{r}: s₁{NBSP}={NBSP}{} … s{}{NBSP}={NBSP}{}",
                format_compact(s[0]),
                subscript(r),
                format_compact(s[r - 1])
            )
        }
    }
}

/// 1-based subscript digits for response and strength names: 12 → ₁₂.
pub(crate) fn subscript(n: usize) -> String {
    n.to_string()
        .bytes()
        .map(|d| char::from_u32(0x2080 + (d - b'0') as u32).unwrap_or('?'))
        .collect()
}

/// The least-squares slope of log y against log x over the points with x, y > 0 (the order of a
/// power law y ∝ x^k, for the keys of log–log figures).
pub(crate) fn fitted_log_slope(points: &[(f64, f64)]) -> f64 {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.0 > 0.0 && p.1 > 0.0)
        .map(|p| (p.0.ln(), p.1.ln()))
        .collect();
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    sxy / sxx
}

/// A "nice" step (1, 2, 2.5 or 5 × 10^k) giving about `target` intervals over `span`.
pub(crate) fn nice_step(span: f64, target: f64) -> (f64, usize) {
    let raw = span / target;
    let magnitude = 10f64.powf(raw.log10().floor());
    for (m, extra) in [(1.0, 0), (2.0, 0), (2.5, 1i64), (5.0, 0), (10.0, 0)] {
        if m * magnitude >= raw * 0.999 {
            let step = m * magnitude;
            let decimals = (extra - step.log10().floor() as i64).max(0) as usize;
            return (step, decimals);
        }
    }
    (10.0 * magnitude, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_use_unicode_and_few_digits() {
        assert_eq!(format_number(-0.25, 2), "−0.25");
        assert_eq!(format_number(-0.0, 1), "0.0");
        assert_eq!(decade_label(-4), "10⁻⁴");
        assert_eq!(format_significant(-0.012345, 3), "−0.0123");
        assert_eq!(format_compact(0.0100), "0.01");
        assert_eq!(format_compact(2.0), "2");
        // 2.5 × 10^k needs its extra decimal only below k = 1 (25, 50, … are whole).
        assert_eq!(nice_step(100.0, 4.0), (25.0, 0));
        assert_eq!(nice_step(1.0, 4.0), (0.25, 2));
        assert_eq!(nice_step(10.0, 4.0), (2.5, 1));
        assert_eq!(format_compact(1.5e-5), "1.5×10⁻⁵");
        assert_eq!(nice_step(11.0, 6.0), (2.0, 0));
        assert_eq!(nice_step(1.85, 6.0), (0.5, 1));
    }
}

#[cfg(test)]
mod summary_tests {
    use super::strengths_summary;

    #[test]
    fn strengths_are_listed_or_summarised() {
        assert_eq!(strengths_summary(&[4.0, 2.0], 4), "s\u{a0}=\u{a0}(4, 2)");
        let many: Vec<f64> = (0..300).map(|k| 100.0 / (k + 1) as f64).collect();
        assert_eq!(
            strengths_summary(&many, 4),
            "r\u{a0}=\u{a0}300: s₁\u{a0}=\u{a0}100 … s₃₀₀\u{a0}=\u{a0}0.3333"
        );
    }
}

/// ", δ = …" for a member of the rotation family, for titles; empty otherwise.
pub(crate) fn coupling_note(coupling: Option<f64>) -> String {
    coupling.map_or_else(String::new, |d| {
        format!(
            ", δ\u{a0}=\u{a0}{}",
            format_compact(d).replace('-', "\u{2212}")
        )
    })
}

/// "softmax, c classes, " for a multi-class system, for titles; empty for a binary one.
pub(crate) fn softmax_note(classes: Option<usize>) -> String {
    classes.map_or_else(String::new, |c| format!("softmax, {c}\u{a0}classes, "))
}
