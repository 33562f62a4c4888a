//! `gstarve._core.phase_diagram` and its result: the starvation phase diagrams of docs/theory.md
//! §7.1 over two parameters of the rotation family (as `gstarve phase-diagram`), computed in
//! parallel without the GIL, and drawn by gstarve-plot as the command line draws them.

use std::path::PathBuf;

use gstarve_core::sweeps::grid::{Axis, Grid, Parameter, RotationFamily};
use gstarve_core::sweeps::measures::{MaskReason, Measure};
use gstarve_core::sweeps::phase_diagram::{
    phase_diagram as compute_diagram, PhaseDiagram, PhaseDiagramSpec,
};
use gstarve_plot::{phase_diagram_figure, Formats, PhaseDiagramOptions};
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{invalid, IntoPy};
use crate::interrupt::{compute, compute_sweep};

/// The mask reasons in the order of [`PyPhaseDiagram::mask_codes`] (code k + 1 is entry k).
pub const MASK_REASONS: [MaskReason; 5] = [
    MaskReason::ZeroResponse,
    MaskReason::ZeroReference,
    MaskReason::NotConverged,
    MaskReason::NotReached,
    MaskReason::FlowFailed,
];

/// A computed phase diagram.
#[pyclass(frozen, module = "gstarve._core", name = "PhaseDiagram")]
pub struct PyPhaseDiagram {
    diagram: PhaseDiagram,
}

impl PyPhaseDiagram {
    /// One field of every point as an ny × nx array (rows: y, columns: x).
    fn field<'py>(
        &self,
        py: Python<'py>,
        f: impl Fn(&gstarve_core::sweeps::PointRecord) -> f64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let d = &self.diagram;
        let values: Vec<f64> = d.points.iter().map(f).collect();
        PyArray1::from_vec(py, values).reshape([d.y.len(), d.x.len()])
    }
}

/// One axis from its parts, as the command line's PARAMETER:FROM:TO[:log].
fn axis(parameter: &str, from: f64, to: f64, log: bool, points: usize) -> PyResult<Axis> {
    let parameter: Parameter = parameter.parse().map_err(invalid)?;
    Ok(if log {
        Axis::log(parameter, from, to, points)
    } else {
        Axis::linear(parameter, from, to, points)
    })
}

/// The sweep the Python arguments ask for, validated (shared with [`crate::shards`]).
#[allow(clippy::too_many_arguments)]
pub fn diagram_spec(
    measure: &str,
    x: &(String, f64, f64, bool),
    y: &(String, f64, f64, bool),
    grid: usize,
    ratio: f64,
    delta: f64,
    lam: f64,
    s2: f64,
) -> PyResult<PhaseDiagramSpec> {
    let measure: Measure = measure.parse().map_err(invalid)?;
    let spec = PhaseDiagramSpec {
        grid: Grid {
            x: axis(&x.0, x.1, x.2, x.3, grid)?,
            y: axis(&y.0, y.1, y.2, y.3, grid)?,
            fixed: RotationFamily {
                ratio,
                coupling: delta,
                lambda: lam,
                weak_strength: s2,
            },
        },
        measure,
        learning: Default::default(),
    };
    // Invalid grids are rejected before a thread is started.
    spec.grid.validate().py_err()?;
    Ok(spec)
}

impl PyPhaseDiagram {
    /// A computed (or merged) diagram.
    pub fn new(diagram: PhaseDiagram) -> Self {
        Self { diagram }
    }
}

/// A phase diagram of `measure` over the grid (x fastest), with the fixed parameters of the
/// rotation family for the two that are not swept.
#[pyfunction]
#[pyo3(signature = (measure, x, y, grid, ratio, delta, lam, s2))]
#[allow(clippy::too_many_arguments)]
pub fn phase_diagram(
    py: Python<'_>,
    measure: &str,
    x: (String, f64, f64, bool),
    y: (String, f64, f64, bool),
    grid: usize,
    ratio: f64,
    delta: f64,
    lam: f64,
    s2: f64,
) -> PyResult<PyPhaseDiagram> {
    let spec = diagram_spec(measure, &x, &y, grid, ratio, delta, lam, s2)?;
    let diagram = compute_sweep(py, |progress| compute_diagram(&spec, progress))?;
    Ok(PyPhaseDiagram { diagram })
}

#[pymethods]
impl PyPhaseDiagram {
    /// The x values (nx).
    #[getter]
    fn x<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.diagram.x)
    }

    /// The y values (ny).
    #[getter]
    fn y<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.diagram.y)
    }

    /// The measure, ny × nx (NaN where masked).
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.field(py, |p| p.value)
    }

    /// z₁* of the L2 steady state, ny × nx.
    #[getter]
    fn z1<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.field(py, |p| p.responses[0])
    }

    /// z₂* of the L2 steady state, ny × nx.
    #[getter]
    fn z2<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.field(py, |p| p.responses[1])
    }

    /// The boundary field (its sign changes are the phase boundary), ny × nx.
    #[getter]
    fn boundary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.field(py, |p| p.boundary)
    }

    /// The reference response (ratios), ny × nx.
    #[getter]
    fn reference<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.field(py, |p| p.reference)
    }

    /// τ₉₀ only: the width of the bracket of each value, ny × nx.
    #[getter]
    fn resolution<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.field(py, |p| p.resolution)
    }

    /// 0 where a value exists, else 1 + the index of the reason in `MASK_REASONS`, ny × nx.
    #[getter]
    fn mask_codes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<u8>>> {
        let d = &self.diagram;
        let codes: Vec<u8> = d
            .points
            .iter()
            .map(|p| {
                p.mask
                    .and_then(|m| MASK_REASONS.iter().position(|&r| r == m))
                    .map_or(0, |k| k as u8 + 1)
            })
            .collect();
        PyArray1::from_vec(py, codes).reshape([d.y.len(), d.x.len()])
    }

    /// Masked points by reason (name → count).
    #[getter]
    fn masked<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (reason, count) in &self.diagram.masked {
            out.set_item(reason.name(), count)?;
        }
        Ok(out)
    }

    /// The measure's name.
    #[getter]
    fn measure(&self) -> &'static str {
        self.diagram.spec.measure.name()
    }

    /// The measure's label, in the paper's notation.
    #[getter]
    fn label(&self) -> &'static str {
        self.diagram.spec.measure.label()
    }

    /// The swept parameters' names (x, y).
    #[getter]
    fn parameters(&self) -> (&'static str, &'static str) {
        let g = &self.diagram.spec.grid;
        (g.x.parameter.name(), g.y.parameter.name())
    }

    /// Wall-clock seconds of the computation.
    #[getter]
    fn wall_s(&self) -> f64 {
        self.diagram.wall_s
    }

    /// Write the data as the command line's CSV, atomically.
    fn to_csv(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        compute(py, || self.diagram.to_table()?.write(&path))
    }

    /// Draw the figure into `dir` as `<name>.png` and/or `<name>.svg`, with `<name>.csv`;
    /// returns the paths written (images, then the CSV).
    #[pyo3(signature = (dir, name, png, svg, log_colour))]
    fn plot(
        &self,
        py: Python<'_>,
        dir: PathBuf,
        name: String,
        png: bool,
        svg: bool,
        log_colour: bool,
    ) -> PyResult<Vec<PathBuf>> {
        let options = PhaseDiagramOptions {
            name,
            formats: Formats {
                png,
                svg,
                pdf: false,
            },
            log_colour,
            ..Default::default()
        };
        let written = compute(py, || phase_diagram_figure(&self.diagram, &dir, &options))?;
        Ok(written.images.into_iter().chain([written.data]).collect())
    }

    fn __repr__(&self) -> String {
        let (x, y) = self.parameters();
        format!(
            "PhaseDiagram(measure={:?}, x={x:?} ({} points), y={y:?} ({} points), masked={})",
            self.measure(),
            self.diagram.x.len(),
            self.diagram.y.len(),
            self.diagram.masked_total()
        )
    }
}
