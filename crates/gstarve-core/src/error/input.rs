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
    /// The coupling matrix does not have orthonormal columns (docs/theory.md §1.2: UᵀU = I).
    #[error(
        "coupling U is not orthonormal: max |UᵀU − I| = {deviation:.3e} exceeds the tolerance {tolerance:.1e}"
    )]
    NotOrthogonal {
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
    /// A sweep axis whose range is empty or reversed (start ≥ end with more than one point).
    #[error("sweep axis {axis}: the range [{start}, {end}] is empty (start must be < end, or give 1 point)")]
    EmptyRange {
        /// The axis's parameter (e.g. "ratio r").
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
    use super::{number, round_down};

    #[test]
    fn limits_round_down_and_numbers_print_short() {
        assert_eq!(round_down(2.0 / 9.01, 4), 0.2219);
        assert_eq!(round_down(4.19e-4 + 9.9e-9, 4), 4.19e-4);
        assert!(round_down(0.221976, 4) < 0.221976);
        assert_eq!(number(1e-300), "1e-300");
        assert_eq!(number(0.05), "0.05");
        assert_eq!(number(1e12), "1e12");
    }
}
