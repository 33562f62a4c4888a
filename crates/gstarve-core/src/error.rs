//! The library's typed errors. Every variant carries the offending value and names the rule it
//! breaks, so the command line can print it as one helpful line.

use thiserror::Error;

/// Everything that can go wrong in gstarve's library.
#[derive(Debug, Error)]
pub enum Error {
    /// A strength s_j that is negative or not finite (docs/theory.md §1: s_j ≥ 0).
    #[error("strength s_{index} = {value} is invalid: strengths must be finite and ≥ 0")]
    InvalidStrength {
        /// 1-based index of the strength.
        index: usize,
        /// The value given.
        value: f64,
    },
    /// A matrix or vector entry that is NaN or infinite.
    #[error("{what} has a non-finite entry {value} at row {row}, column {col}")]
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
    /// The coupling matrix does not have orthonormal columns (docs/theory.md §1: UᵀU = I).
    #[error(
        "coupling U is not orthonormal: max |UᵀU − I| = {deviation:.3e} exceeds the tolerance {tolerance:.1e}"
    )]
    NotOrthogonal {
        /// max_ij |(UᵀU − I)_ij|.
        deviation: f64,
        /// The tolerance allowed.
        tolerance: f64,
    },
    /// Inconsistent sizes between inputs.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A label that is not ±1 (or 0/1).
    #[error("label y_{index} = {value} is invalid: labels must be −1/+1 (or 0/1)")]
    InvalidLabel {
        /// 1-based index of the example.
        index: usize,
        /// The value given.
        value: f64,
    },
    /// A parameter outside its allowed range.
    #[error("{name} = {value} is invalid: {rule}")]
    InvalidParameter {
        /// The parameter's name as the user knows it (e.g. "λ", "--eta").
        name: &'static str,
        /// The value given.
        value: f64,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A gradient-descent step size beyond the stability bound of docs/theory.md §3.
    #[error(
        "learning rate η = {eta} is unstable: η·(curvature bound {bound:.6}) = {product:.4} ≥ 2 (docs/theory.md §3); use η < {limit:.6}"
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
    /// An iteration left the finite numbers.
    #[error("{method} diverged at step {step} (τ = {tau}): the state is no longer finite")]
    Diverged {
        /// Which method.
        method: &'static str,
        /// Step index where the state became non-finite.
        step: usize,
        /// Learning time there.
        tau: f64,
    },
    /// An explicit integrator found the problem stiff (internal: the automatic method switches).
    #[error("{solver} detected stiffness at τ = {tau}; use an implicit method (BDF or Rodas4)")]
    StiffnessDetected {
        /// The explicit solver.
        solver: &'static str,
        /// Time at which stiffness was detected.
        tau: f64,
    },
    /// An integrator failed to reach the end time.
    #[error("{solver} failed at τ = {tau}: {reason}")]
    IntegrationFailed {
        /// The solver.
        solver: &'static str,
        /// Time reached.
        tau: f64,
        /// Why.
        reason: String,
    },
    /// No steady state exists (no regulariser: responses grow like log τ, docs/theory.md §2).
    #[error("no steady state exists without a regulariser: responses grow like log τ (docs/theory.md §2, §5)")]
    NoSteadyState,
    /// Newton's method did not converge.
    #[error("steady-state Newton iteration did not converge: residual {residual:.3e} after {iterations} iterations")]
    NewtonFailed {
        /// Iterations taken.
        iterations: usize,
        /// Final max-norm residual.
        residual: f64,
    },
    /// A matrix the theory proves nonsingular (e.g. the Jacobian J = I + λ⁻¹S²UᵀDU of
    /// docs/theory.md §4, whose eigenvalues are ≥ 1) was singular in floating point.
    #[error("the {dimension}×{dimension} matrix {matrix} is singular to working precision")]
    SingularMatrix {
        /// Which matrix, in the theory's notation.
        matrix: &'static str,
        /// Its dimension.
        dimension: usize,
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
    /// A figure asked for with no output format.
    #[error("figure {figure}: no output format chosen (choose PNG, SVG or both)")]
    NoOutputFormat {
        /// The figure's file stem.
        figure: String,
    },
    /// A figure with nothing to draw (no finite data in the chosen window).
    #[error("figure {figure} has no finite data to draw")]
    EmptyFigure {
        /// The figure's file stem.
        figure: String,
    },
    /// The plotting backend failed while drawing a figure.
    #[error("drawing {figure} as {format} failed: {detail}")]
    Render {
        /// The figure's file stem.
        figure: String,
        /// `png` or `svg`.
        format: &'static str,
        /// The backend's message.
        detail: String,
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
    #[error("{path}: line {line}: label {value} is invalid: labels must be all −1/+1 or all 0/1")]
    DatasetLabel {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The label found.
        value: f64,
    },
    /// Network training left the finite numbers (learning rate too large for the network).
    #[error("network training diverged at epoch {epoch}: the loss is {loss} (lower the learning rate {learning_rate})")]
    TrainingDiverged {
        /// Epoch (number of updates done) at which the loss became non-finite.
        epoch: usize,
        /// The loss found.
        loss: f64,
        /// The learning rate used.
        learning_rate: f64,
    },
    /// A combination the theory does not define.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A file could not be read or written (the I/O error is its source, so `{:#}` shows both).
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file could not be parsed.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;
