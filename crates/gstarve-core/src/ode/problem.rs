//! The problem side of an integration: an autonomous ODE dy/dτ = f(y) with its analytic
//! Jacobian, independent of the method that integrates it.

use nalgebra::DMatrix;

/// An autonomous ODE dy/dτ = f(y) with an analytic Jacobian.
pub trait OdeProblem: Sync {
    /// State dimension.
    fn dim(&self) -> usize;
    /// f(y) into `dy`.
    fn rhs(&self, y: &[f64], dy: &mut [f64]);
    /// ∂f/∂y into `jac` (dim × dim).
    fn jacobian(&self, y: &[f64], jac: &mut DMatrix<f64>);
    /// An upper bound on ‖∂f/∂y‖₂ (hence on its spectral radius) over the region the flow
    /// visits (∞ if unbounded). Used to choose between explicit and implicit methods, to size
    /// RKC's stages, and by BDF to decide when functional iteration converges fast.
    fn spectral_bound(&self) -> f64;
    /// Move a state back into the problem's domain (default: nothing to do).
    fn project(&self, _state: &mut [f64]) {}
    /// When ∂f/∂y = −K·diag(d) − μI with K symmetric positive semi-definite (the margin flows
    /// of docs/theory.md §3.3: K = U S² Uᵀ, d = ℓ''(m) + λ_SD, μ = λ_L2): d(y) into `d` and (K, μ),
    /// so that implicit solvers can factorise their iteration matrices by Cholesky
    /// (the BDF's Cholesky path). Default: no such structure (`None`).
    fn gram_jacobian(&self, _y: &[f64], _d: &mut [f64]) -> Option<(&DMatrix<f64>, f64)> {
        None
    }
    /// When ∂f/∂y = −diag(d)·G(y) − μI with G(y) symmetric positive semi-definite and d, μ
    /// constant (the softmax flow of docs/theory.md §9.2: G = UᵀHU + λ_SD I, d = s²,
    /// μ = λ_L2): G(y) into `gram` (dim × dim, both triangles) and (d, μ), so that implicit
    /// solvers can factorise their iteration matrices by Cholesky without forming ∂f/∂y (the
    /// BDF's Cholesky path; it counts as a Jacobian evaluation). Default: no such structure
    /// (`None`, `gram` untouched).
    fn scaled_gram_jacobian(&self, _y: &[f64], _gram: &mut DMatrix<f64>) -> Option<(&[f64], f64)> {
        None
    }
    /// Whether [`Self::scaled_gram_jacobian`] returns `Some`, known without evaluating it (for
    /// the automatic choice of method). Default: false.
    fn has_scaled_gram_jacobian(&self) -> bool {
        false
    }
    /// [`Self::scaled_gram_jacobian`] with G rounded to single precision, for an iteration
    /// matrix that only steers a simplified Newton iteration (BDF's mixed-precision path,
    /// docs/theory.md §12.2): the lower triangle of G (diagonal included) into `gram` (dim ×
    /// dim, column-major; the strict upper triangle is left as it was) and (d, μ) as there.
    /// Default: none (`None`, `gram` untouched); BDF then factorises in f64.
    fn scaled_gram_jacobian_single(&self, _y: &[f64], _gram: &mut [f32]) -> Option<(&[f64], f64)> {
        None
    }
    /// Whether [`Self::scaled_gram_jacobian_single`] returns `Some`, known without evaluating
    /// it (BDF allocates the single-precision storage only then). Default: false.
    fn has_scaled_gram_jacobian_single(&self) -> bool {
        false
    }
    /// An estimate (not a bound) of the spectral radius of ∂f/∂y at y, cheaper than a
    /// Jacobian, with its cost in evaluations of f (passes of comparable cost): BDF then
    /// chooses functional iteration or Newton on the stiffness the flow has where it is, not on
    /// [`Self::spectral_bound`] over the whole region. Default: none (`None`).
    fn local_spectral_estimate(&self, _y: &[f64]) -> Option<(f64, u64)> {
        None
    }
}

/// A problem with some of its optional structure withheld from the integrator: the same
/// right-hand side and Jacobian, for comparing a method with and without a shortcut (BDF's
/// Cholesky iteration matrix, its single-precision form, its local stiffness estimate).
pub struct Withheld<'a, P: ?Sized> {
    problem: &'a P,
    scaled_gram: bool,
    single: bool,
    local_estimate: bool,
}

impl<'a, P: OdeProblem + ?Sized> Withheld<'a, P> {
    /// Without [`OdeProblem::scaled_gram_jacobian`]: BDF factorises its iteration matrix by LU.
    pub fn scaled_gram(problem: &'a P) -> Self {
        Self {
            problem,
            scaled_gram: false,
            single: false,
            local_estimate: true,
        }
    }

    /// Without [`OdeProblem::scaled_gram_jacobian_single`]: BDF's iteration matrix in f64.
    pub fn single_precision(problem: &'a P) -> Self {
        Self {
            problem,
            scaled_gram: true,
            single: false,
            local_estimate: true,
        }
    }

    /// Without [`OdeProblem::local_spectral_estimate`]: the global bound decides.
    pub fn local_estimate(problem: &'a P) -> Self {
        Self {
            problem,
            scaled_gram: true,
            single: true,
            local_estimate: false,
        }
    }
}

impl<P: OdeProblem + ?Sized> OdeProblem for Withheld<'_, P> {
    fn dim(&self) -> usize {
        self.problem.dim()
    }
    fn rhs(&self, y: &[f64], dy: &mut [f64]) {
        self.problem.rhs(y, dy)
    }
    fn jacobian(&self, y: &[f64], jac: &mut DMatrix<f64>) {
        self.problem.jacobian(y, jac)
    }
    fn spectral_bound(&self) -> f64 {
        self.problem.spectral_bound()
    }
    fn project(&self, state: &mut [f64]) {
        self.problem.project(state)
    }
    fn gram_jacobian(&self, y: &[f64], d: &mut [f64]) -> Option<(&DMatrix<f64>, f64)> {
        self.problem.gram_jacobian(y, d)
    }
    fn scaled_gram_jacobian(&self, y: &[f64], gram: &mut DMatrix<f64>) -> Option<(&[f64], f64)> {
        self.scaled_gram
            .then(|| self.problem.scaled_gram_jacobian(y, gram))
            .flatten()
    }
    fn has_scaled_gram_jacobian(&self) -> bool {
        self.scaled_gram && self.problem.has_scaled_gram_jacobian()
    }
    fn scaled_gram_jacobian_single(&self, y: &[f64], gram: &mut [f32]) -> Option<(&[f64], f64)> {
        (self.scaled_gram && self.single)
            .then(|| self.problem.scaled_gram_jacobian_single(y, gram))
            .flatten()
    }
    fn has_scaled_gram_jacobian_single(&self) -> bool {
        self.scaled_gram && self.single && self.problem.has_scaled_gram_jacobian_single()
    }
    fn local_spectral_estimate(&self, y: &[f64]) -> Option<(f64, u64)> {
        self.local_estimate
            .then(|| self.problem.local_spectral_estimate(y))
            .flatten()
    }
}
