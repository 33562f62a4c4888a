//! Input the library rejects: a value, a shape or a file the user can fix.

/// `value` > 0 rounded down to `digits` significant digits, so that a printed upper limit is
/// still below the true one (2/ρ = 0.2219765 prints as 0.2219, not 0.222).
pub fn round_down(value: f64, digits: i32) -> f64 {
    if !(value.is_finite() && value > 0.0) {
        return value;
    }
    let scale = 10f64.powi(digits - 1 - value.log10().floor() as i32);
    (value * scale).floor() / scale
}

/// A number as an error message shows it: as typed for ordinary magnitudes (0.05, 2, 1000),
/// in exponent form outside 10⁻⁴ ≤ |v| < 10⁹ (1e-300, not three hundred zeros).
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    if value == 0.0 || !value.is_finite() || (1e-4..1e9).contains(&magnitude) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// `text` on one line: control characters (a newline or carriage return inside a file name, a
/// JSON key or a command-line value) written as escapes (`\n`, `\r`, `\u{1b}`), so that an error
/// message quoting user input is still the one line the command line promises.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

/// A computed number (a time reached, a loss) as a message shows it: 5 significant digits,
/// trailing zeros dropped, in exponent form outside 10⁻⁴ ≤ |v| < 10⁹ (τ = 3.1396e-6, not
/// 0.000003139603871512317; 1.7977e308, not 309 digits). A value the user typed is echoed by
/// [`number`] instead, as typed.
pub fn computed(value: f64) -> String {
    let magnitude = value.abs();
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    if (1e-4..1e9).contains(&magnitude) {
        let decimals = (4 - magnitude.log10().floor() as i32).max(0) as usize;
        let text = format!("{value:.decimals$}");
        let text = if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.')
        } else {
            &text
        };
        return text.to_string();
    }
    let text = format!("{value:.4e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) if mantissa.contains('.') => format!(
            "{}e{exponent}",
            mantissa.trim_end_matches('0').trim_end_matches('.')
        ),
        _ => text,
    }
}

/// A value, shape or file that breaks a rule of the theory or of the API.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A strength s_j that is negative or not finite (docs/theory.md §1.2: s_j ≥ 0).
    #[error("strength s_{index} = {} is invalid: strengths must be finite and ≥ 0", number(*value))]
    InvalidStrength {
        /// 1-based index of the strength.
        index: usize,
        /// The value given.
        value: f64,
    },
    /// A matrix or vector entry that is NaN or infinite.
    #[error("{what} has a non-finite entry {} at row {row}, column {col}", number(*value))]
    NonFinite {
        /// Which input (e.g. "coupling U", "features Φ").
        what: String,
        /// 1-based row.
        row: usize,
        /// 1-based column.
        col: usize,
        /// The value found.
        value: f64,
    },
    /// The coupling U (or the features V) does not have orthonormal columns (docs/theory.md
    /// §1.2: UᵀU = I, VᵀV = I).
    #[error(
        "{what} is not orthonormal: max |{symbol}ᵀ{symbol} − I| = {deviation:.3e} exceeds the tolerance {tolerance:.1e}"
    )]
    NotOrthogonal {
        /// Which matrix: "coupling U" or "features V".
        what: &'static str,
        /// Its symbol, "U" or "V".
        symbol: &'static str,
        /// max_ij |(UᵀU − I)_ij|.
        deviation: f64,
        /// The tolerance allowed.
        tolerance: f64,
    },
    /// A label that is not ±1 (or 0/1).
    #[error("label y_{index} = {} is invalid: labels must be −1/+1 (or 0/1)", number(*value))]
    InvalidLabel {
        /// 1-based index of the example.
        index: usize,
        /// The value given.
        value: f64,
    },
    /// A class label of a multi-class system that is not an integer in 0..c−1
    /// (docs/theory.md §9.1).
    #[error(
        "label y_{index} = {} is invalid: a system with {classes} classes needs integer labels in 0..{}",
        number(*value),
        classes.saturating_sub(1)
    )]
    ClassLabel {
        /// 1-based index of the example.
        index: usize,
        /// The value given.
        value: f64,
        /// The number of classes c.
        classes: usize,
    },
    /// A multi-class system with fewer than two classes (docs/theory.md §9.1).
    #[error("classes = {classes} is invalid: a multi-class system needs at least 2 classes")]
    TooFewClasses {
        /// The number of classes given.
        classes: usize,
    },
    /// A parameter outside its allowed range.
    #[error("{name} = {} is invalid: {rule}", number(*value))]
    InvalidParameter {
        /// The parameter as the API names it (e.g. "λ", "eta", "t_end"); the command line maps it to its flag.
        name: &'static str,
        /// The value given.
        value: f64,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A value given as text that breaks its rule (e.g. a shard "5/4").
    #[error("{name} '{text}' is invalid: {rule}")]
    InvalidText {
        /// The parameter as the API names it; the command line maps it to its flag.
        name: &'static str,
        /// The text given.
        text: String,
        /// The rule it breaks.
        rule: String,
    },
    /// A gradient-descent step size beyond the stability bound of docs/theory.md §3.6.
    #[error(
        "learning rate η = {} is unstable: η·(curvature bound {}) = {} ≥ 2 (docs/theory.md §3.6); use η < {}",
        number(*eta), number(*bound), number(*product), number(round_down(*limit, 4))
    )]
    UnstableStep {
        /// The step size given.
        eta: f64,
        /// The curvature bound (e.g. λ + s₁²/4).
        bound: f64,
        /// η · bound.
        product: f64,
        /// 2 / bound.
        limit: f64,
    },
    /// A value written in a syntax of its own (a sweep axis `PARAMETER:FROM:TO[:log]`, a
    /// spectrum `FROM:TO`) that does not parse.
    #[error("{what} '{text}': {problem}")]
    Syntax {
        /// What was written (e.g. "axis", "spectrum").
        what: &'static str,
        /// The text as written.
        text: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A sweep axis whose range is empty or reversed (start ≥ end with more than one point).
    #[error(
        "sweep axis {axis}: the range [{}, {}] is empty: FROM must be < TO",
        number(*start), number(*end)
    )]
    EmptyRange {
        /// The axis's parameter (e.g. "ratio r").
        axis: &'static str,
        /// Start of the range.
        start: f64,
        /// End of the range.
        end: f64,
    },
    /// A sweep axis of one point whose range has two different ends.
    #[error(
        "sweep axis {axis}: 1 point cannot span the range [{}, {}]: give at least 2 points per \
         axis, or FROM = TO for a single value",
        number(*start), number(*end)
    )]
    SinglePointRange {
        /// The axis's parameter.
        axis: &'static str,
        /// Start of the range.
        start: f64,
        /// End of the range.
        end: f64,
    },
    /// A sweep axis with no points (zero steps).
    #[error("sweep axis {axis} has {points} points: it needs at least 1")]
    TooFewPoints {
        /// The axis's parameter.
        axis: &'static str,
        /// The number of points given.
        points: usize,
    },
    /// A sweep grid with more points than the limit.
    #[error("the sweep grid has {points} points, more than the limit {limit} (4096²)")]
    GridTooLarge {
        /// nx · ny.
        points: u128,
        /// The largest grid allowed.
        limit: u128,
    },
    /// Two sweep axes that vary the same parameter.
    #[error("both sweep axes vary {axis}: choose two different parameters")]
    DuplicateAxis {
        /// The parameter.
        axis: &'static str,
    },
    /// A computation defined for two-feature systems only.
    #[error("{what} needs exactly 2 features, but the system has {rank}")]
    NotTwoFeatures {
        /// What was asked for (e.g. "the vector field").
        what: &'static str,
        /// The system's number of features.
        rank: usize,
    },
    /// A response index outside the system.
    #[error("response z_{index} does not exist: the system has {rank} features")]
    ResponseOutOfRange {
        /// 1-based index asked for.
        index: usize,
        /// Number of features.
        rank: usize,
    },
    /// A data set with no examples (or no input columns).
    #[error("{origin}: the data set is empty: {detail}")]
    EmptyDataset {
        /// Where the data came from (a file name, or "two-moons").
        origin: String,
        /// What is missing.
        detail: &'static str,
    },
    /// A data-set CSV row with the wrong number of columns.
    #[error(
        "{path}: line {line} has {found} columns but {expected} are expected (x₁…x_d, y, as in the first row)"
    )]
    DatasetColumns {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// Columns on this line.
        found: usize,
        /// Columns on the first data row.
        expected: usize,
    },
    /// A data-set CSV entry that is not a finite number.
    #[error("{path}: line {line}, column {column}: '{text}' is not a finite number")]
    DatasetValue {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The entry as written.
        text: String,
    },
    /// A data-set label outside the allowed set.
    #[error("{path}: line {line}: label {} is invalid: labels must be all −1/+1 or all 0/1", number(*value))]
    DatasetLabel {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The label found.
        value: f64,
    },
    /// A CSV file whose first row mixes names and numbers: it is neither a header (all names)
    /// nor data (all numbers), and no row is guessed away.
    #[error(
        "{path}: row 1 (line {line}) mixes names and numbers ('{name}', '{number}'): a header \
         row must be all names, a data row all numbers"
    )]
    MixedHeader {
        /// The file.
        path: String,
        /// 1-based line number of the first row.
        line: usize,
        /// A field of it that is not a number.
        name: String,
        /// A field of it that is.
        number: String,
    },
    /// A combination the theory does not define.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// No steady state exists (no regulariser: responses grow like log τ, docs/theory.md §2.2).
    #[error("no steady state exists without a regulariser: responses grow like log τ (docs/theory.md §2.2, §5.2)")]
    NoSteadyState,
    /// A setting that needs the labels of the examples, on a system that does not carry them.
    #[error(
        "{what} needs the labels of the examples: build the system from features or a kernel \
         with labels, or give a system file that lists \"labels\" (docs/theory.md §10.1)"
    )]
    NeedsLabels {
        /// The setting.
        what: &'static str,
    },
    /// A file could not be parsed.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Two inputs whose sizes disagree.
    #[error("{what}: {found} given, {expected} expected ({rule})")]
    Length {
        /// What has the wrong size (e.g. "labels", "initial responses z₀").
        what: &'static str,
        /// Its size.
        found: usize,
        /// The size it must have.
        expected: usize,
        /// Where the expected size comes from (e.g. "one per row of Φ").
        rule: &'static str,
    },
    /// A matrix whose shape breaks a rule.
    #[error("{what} is {rows}×{cols}: {rule}")]
    MatrixShape {
        /// Which matrix (e.g. "coupling U").
        what: String,
        /// Its rows.
        rows: usize,
        /// Its columns.
        cols: usize,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// Rows of a table or matrix with different lengths.
    #[error("{what}: row {row} has {found} entries but row 1 has {expected}")]
    Ragged {
        /// Which input.
        what: String,
        /// 1-based row.
        row: usize,
        /// Entries in that row.
        found: usize,
        /// Entries in row 1.
        expected: usize,
    },
    /// An input with nothing in it.
    #[error("{what} is empty: {rule}")]
    Empty {
        /// Which input.
        what: &'static str,
        /// What it needs.
        rule: &'static str,
    },
    /// A file that could not be read (the I/O error is its source, so `{:#}` shows both).
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A matrix that must be symmetric and is not.
    #[error(
        "{what} is not symmetric: max |A − Aᵀ| / max |A| = {asymmetry:.3e} exceeds {tolerance:.0e}"
    )]
    NotSymmetric {
        /// Which matrix.
        what: &'static str,
        /// The relative asymmetry.
        asymmetry: f64,
        /// The tolerance allowed.
        tolerance: f64,
    },
    /// A matrix that must be positive semi-definite and is not.
    #[error(
        "{what} is not positive semi-definite: eigenvalue {eigenvalue:.6e} is below −{tolerance:.0e} × the largest, {largest:.6e}"
    )]
    NotPositiveSemidefinite {
        /// Which matrix.
        what: &'static str,
        /// Its most negative eigenvalue.
        eigenvalue: f64,
        /// Its largest eigenvalue.
        largest: f64,
        /// The relative tolerance allowed.
        tolerance: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::{computed, number, one_line, round_down};

    #[test]
    fn user_text_is_quoted_on_one_line() {
        assert_eq!(one_line("axis 'ratio:1:5'"), "axis 'ratio:1:5'");
        assert_eq!(
            one_line("unknown field `a\nb`\r, \u{1b}[31m"),
            "unknown field `a\\nb`\\r, \\u{1b}[31m"
        );
        assert_eq!(one_line("s₁ = 2, λ ≥ 0"), "s₁ = 2, λ ≥ 0");
    }

    #[test]
    fn limits_round_down_and_numbers_print_short() {
        assert_eq!(round_down(2.0 / 9.01, 4), 0.2219);
        assert_eq!(round_down(4.19e-4 + 9.9e-9, 4), 4.19e-4);
        assert!(round_down(0.221976, 4) < 0.221976);
        assert_eq!(number(1e-300), "1e-300");
        assert_eq!(number(0.05), "0.05");
        assert_eq!(number(1e12), "1e12");
        assert_eq!(computed(0.000003139603871512317), "3.1396e-6");
        assert_eq!(computed(-1e308), "-1e308");
        assert_eq!(computed(f64::MAX), "1.7977e308");
        assert_eq!(computed(250.0), "250");
        assert_eq!(computed(12.345678), "12.346");
        assert_eq!(computed(0.00123456), "0.0012346");
        assert_eq!(computed(123456789.0), "123456789");
        assert_eq!(computed(0.0), "0");
        assert_eq!(computed(f64::INFINITY), "inf");
    }
}
