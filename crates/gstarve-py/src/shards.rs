//! Phase diagrams in shards from Python, for notebooks that map a sweep over workers (Dask,
//! `concurrent.futures`; docs/scale-out.md): `phase_diagram_shard` computes shard I of N (the
//! rows iy ≡ I − 1 mod N, round-robin as `gstarve phase-diagram --shard I/N`), and
//! `merge_shards` checks that the shards are one sweep's, each once, every point present once,
//! and returns the diagram the unsharded call returns, bit for bit. A shard is the command
//! line's shard file in memory (`sweeps::shards::ShardFile`: rows, configuration hash, the
//! arguments that rebuild the sweep; the mechanism of `gstarve_core::sweeps::shards`), and
//! pickles as that file's bytes, so it crosses process boundaries exactly.

use std::time::Instant;

use gstarve_core::sweeps::shards::format::Record;
use gstarve_core::sweeps::shards::{hash_text, legacy, PhaseRows, ShardHeader, ShardKind};
use gstarve_core::sweeps::{
    config_hash, merge_shards as merge_files, phase_diagram_rows, PhaseDiagram, PhaseDiagramSpec,
    Shard, ShardFile,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use crate::errors::{invalid, IntoPy};
use crate::interrupt::compute_sweep;
use crate::sweeps::{diagram_spec, PyPhaseDiagram};

/// The sweep's arguments as the Python call gave them (x, y: parameter, from, to, log).
type Axis = (String, f64, f64, bool);

/// What rebuilds a sweep: the arguments of `phase_diagram`, every number written exactly.
#[derive(Clone, Debug, PartialEq)]
struct Arguments {
    measure: String,
    x: Axis,
    y: Axis,
    grid: usize,
    fixed: [f64; 4],
}

impl Arguments {
    fn spec(&self) -> PyResult<PhaseDiagramSpec> {
        let [ratio, delta, lam, s2] = self.fixed;
        diagram_spec(
            &self.measure,
            &self.x,
            &self.y,
            self.grid,
            ratio,
            delta,
            lam,
            s2,
        )
    }

    /// As strings (`{:?}` of an f64 reads back to the same bits).
    fn encode(&self) -> Vec<String> {
        let axis = |a: &Axis| format!("{}:{:?}:{:?}:{}", a.0, a.1, a.2, a.3);
        let [ratio, delta, lam, s2] = self.fixed;
        vec![
            format!("measure={}", self.measure),
            format!("x={}", axis(&self.x)),
            format!("y={}", axis(&self.y)),
            format!("grid={}", self.grid),
            format!("fixed={ratio:?}:{delta:?}:{lam:?}:{s2:?}"),
        ]
    }

    fn decode(items: &[String]) -> Option<Self> {
        let value = |k: usize, key: &str| items.get(k)?.strip_prefix(key);
        let axis = |text: &str| -> Option<Axis> {
            let p: Vec<&str> = text.split(':').collect();
            match p.as_slice() {
                [name, from, to, log] => Some((
                    name.to_string(),
                    from.parse().ok()?,
                    to.parse().ok()?,
                    log.parse().ok()?,
                )),
                _ => None,
            }
        };
        let fixed: Vec<f64> = value(4, "fixed=")?
            .split(':')
            .map(|t| t.parse().ok())
            .collect::<Option<_>>()?;
        Some(Self {
            measure: value(0, "measure=")?.to_string(),
            x: axis(value(1, "x=")?)?,
            y: axis(value(2, "y=")?)?,
            grid: value(3, "grid=")?.parse().ok()?,
            fixed: fixed.try_into().ok()?,
        })
    }
}

/// The configuration a shard's rows depend on: the library version and the sweep (every f64
/// exactly, as the command line's shards).
fn canonical(spec: &PhaseDiagramSpec) -> String {
    format!(
        "gstarve {}; phase-diagram (python); {spec:?}",
        env!("CARGO_PKG_VERSION")
    )
}

/// One shard of a phase diagram: its rows, computed, with the configuration they belong to.
///
/// Attributes:
///     shard: (I, N), 1 ≤ I ≤ N.
///     rows: the grid rows iy it holds (iy ≡ I − 1 mod N).
///     config_hash: the hash of the sweep's configuration (equal for every shard of one sweep).
///     wall_s: seconds of computation.
#[pyclass(frozen, module = "gstarve._core", name = "PhaseDiagramShard")]
pub struct PyPhaseDiagramShard {
    file: ShardFile,
    wall_s: f64,
}

#[pymethods]
impl PyPhaseDiagramShard {
    #[getter]
    fn shard(&self) -> (usize, usize) {
        let s = self.file.header.shard;
        (s.index(), s.count())
    }

    #[getter]
    fn rows(&self) -> Vec<usize> {
        self.file.records.iter().map(|r| r.index).collect()
    }

    #[getter]
    fn config_hash(&self) -> String {
        hash_text(self.file.header.config)
    }

    #[getter]
    fn wall_s(&self) -> f64 {
        self.wall_s
    }

    /// Pickled as the shard file's bytes (every f64 bit for bit).
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let rebuild = py
            .import("gstarve._core")?
            .getattr("_phase_diagram_shard")?;
        Ok((
            rebuild,
            PyTuple::new(
                py,
                [
                    PyBytes::new(py, &self.file.encode()).into_any(),
                    self.wall_s.into_pyobject(py)?.into_any(),
                ],
            )?,
        ))
    }

    fn __repr__(&self) -> String {
        let (i, n) = self.shard();
        format!(
            "PhaseDiagramShard(shard={i}/{n}, rows={}, config_hash={:?})",
            self.file.records.len(),
            self.config_hash()
        )
    }
}

/// Shard `index` of `count` of the phase diagram the other arguments describe.
#[pyfunction]
#[pyo3(signature = (measure, x, y, grid, ratio, delta, lam, s2, index, count))]
#[allow(clippy::too_many_arguments)]
pub fn phase_diagram_shard(
    py: Python<'_>,
    measure: &str,
    x: Axis,
    y: Axis,
    grid: usize,
    ratio: f64,
    delta: f64,
    lam: f64,
    s2: f64,
    index: usize,
    count: usize,
) -> PyResult<PyPhaseDiagramShard> {
    let shard = Shard::new(index, count).py_err()?;
    let arguments = Arguments {
        measure: measure.to_string(),
        x,
        y,
        grid,
        fixed: [ratio, delta, lam, s2],
    };
    let spec = arguments.spec()?;
    let ny = spec.grid.y.points;
    let rows = shard.items(ny);
    let start = Instant::now();
    let computed = compute_sweep(py, |progress| phase_diagram_rows(&spec, &rows, progress))?;
    let wall_s = start.elapsed().as_secs_f64();
    let config = config_hash(&canonical(&spec));
    let mut file = ShardFile::new(ShardHeader {
        kind: PhaseRows::KIND.to_string(),
        shard,
        items: ny,
        config,
        arguments: arguments.encode(),
        provenance: String::new(),
    });
    for (&iy, records) in rows.iter().zip(&computed) {
        let mut payload = Vec::new();
        PhaseRows::encode(records, &mut payload);
        file.records.push(Record {
            index: iy,
            config,
            payload,
        });
    }
    Ok(PyPhaseDiagramShard { file, wall_s })
}

/// A shard back from its pickle: the shard file's bytes (or, pickled by an earlier version, its
/// JSON text).
#[pyfunction]
pub fn _phase_diagram_shard(data: &Bound<'_, PyAny>, wall_s: f64) -> PyResult<PyPhaseDiagramShard> {
    let shown = "a pickled gstarve phase-diagram shard";
    let file = if let Ok(bytes) = data.cast::<PyBytes>() {
        ShardFile::parse(bytes.as_bytes(), shown).py_err()?
    } else {
        legacy::parse(&data.extract::<String>()?, shown).py_err()?
    };
    Ok(PyPhaseDiagramShard { file, wall_s })
}

/// The diagram of a complete set of shards: every shard 1..N once, all of one sweep, every point
/// once (the checks of `gstarve merge`); its `wall_s` is the shards' total.
#[pyfunction]
pub fn merge_shards(shards: Vec<Bound<'_, PyPhaseDiagramShard>>) -> PyResult<PyPhaseDiagram> {
    let files: Vec<(String, ShardFile)> = shards
        .iter()
        .map(|s| {
            let f = &s.get().file;
            let (i, n) = (f.header.shard.index(), f.header.shard.count());
            (format!("shard {i}/{n}"), f.clone())
        })
        .collect();
    let merged = merge_files::<PhaseRows>(&files).py_err()?;
    let spec = Arguments::decode(&merged.header.arguments)
        .ok_or_else(|| invalid("the shards' arguments do not describe a phase diagram"))?
        .spec()?;
    if config_hash(&canonical(&spec)) != merged.header.config {
        return Err(invalid(
            "the shards were computed by another version of gstarve: their configuration hash \
             differs from this version's for the same arguments",
        ));
    }
    let nx = spec.grid.x.points;
    if merged.items.len() != spec.grid.y.points || merged.items.iter().any(|r| r.len() != nx) {
        return Err(invalid("the shards' rows do not fit the sweep's grid"));
    }
    let wall_s = shards.iter().map(|s| s.get().wall_s).sum();
    let records = merged.items.into_iter().flatten().collect();
    Ok(PyPhaseDiagram::new(PhaseDiagram::assemble(
        spec, records, wall_s,
    )))
}
