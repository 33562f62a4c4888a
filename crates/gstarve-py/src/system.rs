//! `gstarve._core.System`: a validated feature system (strengths s, coupling U) and what can be
//! computed from it — the steady state with its sensitivities, simulations, the theory's checks.
//! Each method follows the command line's subcommand of the same name (`fixed-point`,
//! `simulate`, `check`) and returns the same numbers as its `--json`.

use std::path::PathBuf;

use gstarve_core::model::{DualDynamics, Loss, Regulariser};
use gstarve_core::ode::{FlowMethod, FlowOptions};
use gstarve_core::simulation::{
    simulate, simulate_multiclass, Method, RawFeatures, SimulationConfig, SimulationReport,
};
use gstarve_core::solvers::gd::GdOptions;
use gstarve_core::systems::{
    class_labels, FeatureSystem, MulticlassSystem, Spectrum, Truncation,
    DEFAULT_KERNEL_STRENGTH_FLOOR,
};
use gstarve_core::theory::checks::{
    all_passed, check_multiclass, check_system, nothing_to_check, CheckOptions,
};
use gstarve_core::theory::sensitivity::steady_state_report;
use nalgebra::DVector;
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::{array1, coupling_view, matrix, strengths_view, to_python, vector};
use crate::errors::{invalid, IntoPy};
use crate::fixed_point::PyFixedPoint;
use crate::interrupt::compute;
use crate::multiclass;
use crate::options::SimulateOptions;

/// A feature system: strengths s (r) and coupling U (n × r, orthonormal columns).
#[pyclass(frozen, module = "gstarve._core", name = "System")]
pub struct PySystem {
    system: FeatureSystem,
    /// What building the system left out (a rank or a strength floor).
    truncation: Option<Truncation>,
    /// Initial responses z(0) stored in a system file.
    initial: Option<DVector<f64>>,
    /// The features and labels the system came from (for θ-space GD).
    raw: Option<RawFeatures>,
    /// The classes and labels of a multi-class (softmax) system, whose coupling `system` is.
    multiclass: Option<MulticlassSystem>,
}

impl PySystem {
    fn plain(system: FeatureSystem) -> Self {
        Self {
            system,
            truncation: None,
            initial: None,
            raw: None,
            multiclass: None,
        }
    }

    /// A multi-class system (its coupling and strengths as `system`).
    fn from_multiclass(mc: MulticlassSystem, truncation: Option<Truncation>) -> Self {
        Self {
            truncation,
            multiclass: Some(mc.clone()),
            ..Self::plain(mc.system().clone())
        }
    }

    /// The binary system, or the command line's refusal of a multi-class one for `what`.
    pub fn binary(&self, what: &str) -> PyResult<&FeatureSystem> {
        match &self.multiclass {
            Some(mc) => Err(invalid(format!(
                "{what} does not support multi-class systems yet ({} classes; docs/theory.md §9: \
                 simulate, fixed_point, check and save do)",
                mc.classes()
            ))),
            None => Ok(&self.system),
        }
    }
}

/// The loss and the regulariser by name, validated.
pub fn model(loss: &str, reg: &str, lam: f64) -> PyResult<(Loss, Regulariser)> {
    let loss = match loss.trim().to_ascii_lowercase().as_str() {
        "logistic" => Loss::Logistic,
        "squared" => Loss::Squared,
        other => {
            return Err(invalid(format!(
                "loss '{other}' is invalid: expected 'logistic' or 'squared'"
            )))
        }
    };
    let reg = match reg.trim().to_ascii_lowercase().as_str() {
        "l2" => Regulariser::L2 { lambda: lam },
        "sd" => Regulariser::SpectralDecoupling { lambda: lam },
        "none" => Regulariser::None,
        other => {
            return Err(invalid(format!(
                "reg '{other}' is invalid: expected 'l2', 'sd' or 'none'"
            )))
        }
    }
    .validated()
    .py_err()?;
    Ok((loss, reg))
}

/// 1 ≤ rank ≤ n, as the command line's --rank.
pub fn check_rank(rank: usize, examples: usize) -> PyResult<()> {
    if rank == 0 || rank > examples {
        return Err(invalid(format!(
            "rank = {rank} is invalid: the number of features kept must be between 1 and n = {examples} (the examples)"
        )));
    }
    Ok(())
}

/// The rows of a matrix as a 2-D array.
fn rows_array<'py>(
    py: Python<'py>,
    rows: &[Vec<f64>],
    width: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    PyArray1::from_vec(py, flat).reshape([rows.len(), width])
}

impl PySystem {
    /// A binary system and its initial responses.
    pub(crate) fn with_initial(system: FeatureSystem, initial: Option<DVector<f64>>) -> Self {
        Self {
            initial,
            ..Self::plain(system)
        }
    }

    /// [`Self::load`] from a path.
    pub(crate) fn load_path(py: Python<'_>, path: &std::path::Path) -> PyResult<Self> {
        if let Some((mc, initial)) = compute(py, || MulticlassSystem::load_if_multiclass(path))? {
            return Ok(Self {
                initial,
                ..Self::from_multiclass(mc, None)
            });
        }
        let (system, initial) = compute(py, || FeatureSystem::load_with_initial(path))?;
        Ok(Self {
            initial,
            ..Self::plain(system)
        })
    }
}

impl PySystem {
    /// The validated settings of a simulation of this system.
    pub(crate) fn simulation_config(&self, p: &SimulateOptions) -> PyResult<SimulationConfig> {
        let (loss, mut regulariser) = model(&p.loss, &p.reg, p.lam)?;
        if self.multiclass.is_some() {
            regulariser = multiclass::regulariser(loss, regulariser)?;
        }
        let methods = p
            .methods
            .iter()
            .map(|m| m.parse::<Method>().map_err(invalid))
            .collect::<PyResult<Vec<_>>>()?;
        let flow_method: FlowMethod = p.method.parse().map_err(invalid)?;
        let flow = FlowOptions::new(
            p.t_end.unwrap_or(p.eta * p.steps as f64),
            p.points,
            p.rtol,
            p.atol,
            flow_method,
        )
        .py_err()?;
        let flow = flow.with_tolerances(flow.tolerances().with_max_steps(p.max_steps).py_err()?);
        let initial = match &p.z0 {
            Some(z) => Some(DVector::from_column_slice(z)),
            None => self.initial.clone(),
        };
        if let Some(z) = &initial {
            if z.len() != self.system.rank() {
                return Err(invalid(format!(
                    "z0 has {} entries but the system has {} features",
                    z.len(),
                    self.system.rank()
                )));
            }
            if let Some((i, v)) = z.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(invalid(format!("z0 entry {} = {v} is not finite", i + 1)));
            }
        }
        if methods.contains(&Method::GdTheta) && self.raw.is_none() && self.multiclass.is_none() {
            return Err(invalid(
                "method gd-theta needs raw features: build the system with System.from_features",
            ));
        }
        let config = SimulationConfig {
            loss,
            regulariser,
            methods,
            gd: GdOptions::new(p.eta, p.steps, p.points, p.allow_unstable).py_err()?,
            flow,
            initial,
            dual_start: DualDynamics::DEFAULT_START,
            fixed_point: p.fixed_point,
        };
        Ok(config)
    }

    /// The system, its raw features and its multi-class form, for a computation without the
    /// GIL.
    pub(crate) fn parts(
        &self,
    ) -> (
        &FeatureSystem,
        Option<&RawFeatures>,
        Option<&MulticlassSystem>,
    ) {
        (&self.system, self.raw.as_ref(), self.multiclass.as_ref())
    }

    /// A simulation's report as the dict `System.simulate` returns.
    pub(crate) fn simulation_dict<'py>(
        &self,
        py: Python<'py>,
        report: &SimulationReport,
        fixed_point: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        let fixed = match &report.fixed_point {
            Some(fp) => {
                let d = PyDict::new(py);
                d.set_item("z", array1(py, fp.z.clone()))?;
                d.set_item("margins", array1(py, fp.margins.clone()))?;
                d.set_item("alpha", fp.alpha.clone().map(|a| array1(py, a)))?;
                d.set_item("residual", fp.residual)?;
                d.set_item("iterations", fp.iterations)?;
                Some(d)
            }
            None => None,
        };
        out.set_item("fixed_point", fixed)?;
        let note = match (&report.fixed_point_note, fixed_point) {
            (Some(n), _) => Some(n.clone()),
            (None, false) => Some("not computed (fixed_point=False)".to_string()),
            (None, true) => None,
        };
        out.set_item("fixed_point_note", note)?;
        let runs = PyList::empty(py);
        let r = self.system.rank();
        for run in &report.runs {
            let d = PyDict::new(py);
            d.set_item("method", run.method)?;
            d.set_item(
                "step",
                PyArray1::from_vec(py, run.step.iter().map(|&k| k as u64).collect()),
            )?;
            d.set_item("tau", array1(py, run.tau.clone()))?;
            d.set_item("z", rows_array(py, &run.z, r)?)?;
            d.set_item("z_final", array1(py, run.z_final.clone()))?;
            d.set_item("stats", to_python(py, &run.stats)?)?;
            runs.append(d)?;
        }
        out.set_item("runs", runs)?;
        Ok(out)
    }
}

#[pymethods]
impl PySystem {
    /// The two-feature rotation family U(δ) with strengths (s₁, s₂); without a coupling, the
    /// decoupled system U = I with any number of strengths.
    #[staticmethod]
    #[pyo3(signature = (strengths, coupling=None))]
    fn rotation(strengths: Vec<f64>, coupling: Option<f64>) -> PyResult<Self> {
        let system = match coupling {
            Some(delta) => {
                if strengths.len() != 2 {
                    return Err(invalid(format!(
                        "coupling δ defines the two-feature rotation family: it needs exactly 2 strengths, got {}",
                        strengths.len()
                    )));
                }
                FeatureSystem::rotation(strengths[0], strengths[1], delta)
            }
            None => FeatureSystem::decoupled(&strengths),
        }
        .py_err()?;
        Ok(Self::plain(system))
    }

    /// A random system: n examples, Haar coupling (seeded), geometric spectrum from a to b.
    #[staticmethod]
    #[pyo3(signature = (n, seed, spectrum_from, spectrum_to, rank=None))]
    fn random(
        py: Python<'_>,
        n: usize,
        seed: u64,
        spectrum_from: f64,
        spectrum_to: f64,
        rank: Option<usize>,
    ) -> PyResult<Self> {
        let spectrum = Spectrum::Geometric {
            from: spectrum_from,
            to: spectrum_to,
        };
        if let Some(rank) = rank {
            check_rank(rank, n)?;
        }
        let (system, truncation) = compute(py, || match rank {
            Some(rank) => {
                FeatureSystem::random_top(n, rank, spectrum, seed).map(|(s, t)| (s, Some(t)))
            }
            None => FeatureSystem::random(n, spectrum, seed).map(|s| (s, None)),
        })?;
        Ok(Self {
            truncation,
            ..Self::plain(system)
        })
    }

    /// The SVD of YΦ for features Φ (n × p) and labels y (±1 or 0/1); with class labels
    /// 0..c−1 (any label ≥ 2, or `classes`), the multi-class system of the output Jacobian Φ
    /// (n·c × p, or n × p shared by the c outputs; docs/theory.md §9.1).
    #[staticmethod]
    #[pyo3(signature = (phi, labels, rank=None, classes=None))]
    fn from_features(
        py: Python<'_>,
        phi: PyReadonlyArrayDyn<'_, f64>,
        labels: PyReadonlyArrayDyn<'_, f64>,
        rank: Option<usize>,
        classes: Option<usize>,
    ) -> PyResult<Self> {
        let phi = matrix("features Φ", &phi)?;
        let labels = vector("labels", &labels)?;
        if let Some((classes, labels)) = class_labels(&labels, classes).py_err()? {
            let (mc, truncation) = multiclass::from_features(py, &phi, labels, classes, rank)?;
            return Ok(Self::from_multiclass(mc, truncation));
        }
        if let Some(rank) = rank {
            check_rank(rank, phi.nrows())?;
        }
        let (system, truncation) = compute(py, || match rank {
            Some(rank) => FeatureSystem::from_features_top(&phi, &labels, Some(rank))
                .map(|(s, t)| (s, Some(t))),
            None => FeatureSystem::from_features(&phi, &labels).map(|s| (s, None)),
        })?;
        Ok(Self {
            truncation,
            raw: Some(RawFeatures { phi, labels }),
            ..Self::plain(system)
        })
    }

    /// The eigendecomposition of YΘY for an NTK Gram matrix Θ (n × n) and labels y; with class
    /// labels 0..c−1 (any label ≥ 2, or `classes`), the multi-class system of Θ (nc × nc, or
    /// n × n meaning Θ ⊗ I_c; docs/theory.md §9.1).
    #[staticmethod]
    #[pyo3(signature = (kernel, labels, rank=None, strength_floor=None, classes=None))]
    fn from_kernel(
        py: Python<'_>,
        kernel: PyReadonlyArrayDyn<'_, f64>,
        labels: PyReadonlyArrayDyn<'_, f64>,
        rank: Option<usize>,
        strength_floor: Option<f64>,
        classes: Option<usize>,
    ) -> PyResult<Self> {
        let kernel = matrix("kernel Θ", &kernel)?;
        let labels = vector("labels", &labels)?;
        let floor = strength_floor.unwrap_or(DEFAULT_KERNEL_STRENGTH_FLOOR);
        if let Some((classes, labels)) = class_labels(&labels, classes).py_err()? {
            let (mc, truncation) =
                multiclass::from_kernel(py, &kernel, labels, classes, floor, rank)?;
            return Ok(Self::from_multiclass(mc, Some(truncation)));
        }
        if let Some(rank) = rank {
            check_rank(rank, kernel.nrows())?;
        }
        let (system, truncation) = compute(py, || {
            FeatureSystem::from_kernel_top(&kernel, &labels, floor, rank)
        })?;
        Ok(Self {
            truncation: Some(truncation),
            ..Self::plain(system)
        })
    }

    /// A system file (JSON, TOML for *.toml, NumPy archive *.npz), with z(0) if it stores one.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        Self::load_path(py, &path)
    }

    /// Write the system (format by extension, as `load`), atomically; z(0) too if it has one.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        compute(py, || match &self.multiclass {
            Some(mc) => mc.save(&path, self.initial.as_ref()),
            None => self.system.save_with_initial(&path, self.initial.as_ref()),
        })
    }

    /// The number of classes c of a multi-class system, else None.
    #[getter]
    fn classes(&self) -> Option<usize> {
        self.multiclass.as_ref().map(|mc| mc.classes())
    }

    /// The class labels (n, in 0..c−1) of a multi-class system, else None.
    #[getter]
    fn labels<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<u64>>> {
        self.multiclass
            .as_ref()
            .map(|mc| PyArray1::from_vec(py, mc.labels().iter().map(|&k| k as u64).collect()))
    }

    /// The strengths s (read-only view, no copy).
    #[getter]
    fn strengths<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        strengths_view(slf.clone().into_any(), &slf.get().system)
    }

    /// The coupling U, n × r (read-only Fortran-order view, no copy).
    #[getter]
    fn u<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        coupling_view(slf.clone().into_any(), &slf.get().system)
    }

    /// The number of examples n (a multi-class coupling has n·c rows).
    #[getter]
    fn examples(&self) -> usize {
        match &self.multiclass {
            Some(mc) => mc.examples(),
            None => self.system.examples(),
        }
    }

    /// The number of features r.
    #[getter]
    fn rank(&self) -> usize {
        self.system.rank()
    }

    /// What building the system dropped, or None.
    #[getter]
    fn truncation<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.truncation
            .as_ref()
            .map(|t| to_python(py, t))
            .transpose()
    }

    /// The initial responses z(0) stored in the system file, or None.
    #[getter]
    fn initial<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<f64>>> {
        self.initial
            .as_ref()
            .map(|z| array1(py, z.iter().copied().collect()))
    }

    /// Whether the system keeps the features Φ and labels it came from (θ-space GD needs them).
    #[getter]
    fn has_features(&self) -> bool {
        self.raw.is_some()
    }

    /// The steady state with margins, α, residual, iterations and sensitivities (as
    /// `gstarve fixed-point --json`; multi-class: with classes, labels, logits, probabilities).
    fn fixed_point(
        &self,
        py: Python<'_>,
        loss: &str,
        reg: &str,
        lam: f64,
    ) -> PyResult<PyFixedPoint> {
        let (loss, regulariser) = model(loss, reg, lam)?;
        if let Some(mc) = &self.multiclass {
            let regulariser = multiclass::regulariser(loss, regulariser)?;
            return compute(py, || multiclass::fixed_point(mc, regulariser));
        }
        let report = compute(py, || steady_state_report(&self.system, loss, regulariser))?;
        Ok(PyFixedPoint::binary(report))
    }

    /// Runs of GD, θ-space GD, the flow and the dual (as `gstarve simulate --json`).
    fn simulate<'py>(
        &self,
        py: Python<'py>,
        options: PyRef<'_, SimulateOptions>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let config = self.simulation_config(&options)?;
        let report = compute(py, || match &self.multiclass {
            Some(mc) => simulate_multiclass(mc, &config),
            None => simulate(&self.system, self.raw.as_ref(), &config),
        })?;
        self.simulation_dict(py, &report, options.fixed_point)
    }

    /// Every prediction of the theory that applies, checked against the exact numerics (as
    /// `gstarve check --json`): (rows as dicts, all passed, why nothing applies or None).
    fn check<'py>(
        &self,
        py: Python<'py>,
        loss: &str,
        reg: &str,
        lam: f64,
        tolerance_scale: f64,
    ) -> PyResult<(Bound<'py, PyAny>, bool, Option<&'static str>)> {
        let (loss, mut regulariser) = model(loss, reg, lam)?;
        if self.multiclass.is_some() {
            regulariser = multiclass::regulariser(loss, regulariser)?;
        }
        let options = CheckOptions {
            tolerance_scale,
            ..CheckOptions::default()
        };
        let rows = compute(py, || match &self.multiclass {
            Some(mc) => check_multiclass(mc, regulariser, &options),
            None => check_system(&self.system, loss, regulariser, &options),
        })?;
        let reason = if rows.is_empty() && self.multiclass.is_some() {
            Some(multiclass::NOTHING_TO_CHECK)
        } else if rows.is_empty() {
            Some(
                nothing_to_check(&self.system, loss, regulariser)
                    .unwrap_or("no prediction of docs/theory.md applies to this system"),
            )
        } else {
            None
        };
        Ok((to_python(py, &rows)?, all_passed(&rows), reason))
    }

    fn __repr__(&self) -> String {
        match &self.multiclass {
            Some(mc) => format!(
                "System(examples={}, classes={}, features={})",
                mc.examples(),
                mc.classes(),
                mc.rank()
            ),
            None => format!(
                "System(examples={}, features={})",
                self.system.examples(),
                self.system.rank()
            ),
        }
    }
}
