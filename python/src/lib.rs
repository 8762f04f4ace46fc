//! `glasscam._glasscam`: the pyo3 extension behind the `glasscam` Python package. Array checks and conversions
//! live here and in `arrays`; every call into the library goes through `glue`; long work runs through
//! `run::run_long` (GIL released, Ctrl-C cancels, progress forwarded). The public, documented API is the Python
//! package `glasscam` (python/glasscam/__init__.py), which wraps these functions.

mod arrays;
mod errors;
mod glue;
mod run;

use std::path::PathBuf;

use glasscam::analysis::Voronoi as LibVoronoi;
use glasscam::kernels::Compute;
use glasscam::sim::system::SystemDef;
use numpy::{PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use rayon::prelude::*;

use crate::arrays::{box_sides, data, f64_array};
use crate::errors::{bad_arg, to_py, GlasscamError};
use crate::run::run_long;

/// A numpy array of `shape` holding `v` (moved, not copied).
fn out_array<'py, T: numpy::Element>(
    py: Python<'py>,
    v: Vec<T>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    Ok(PyArray1::from_vec(py, v)
        .reshape(shape.to_vec())?
        .into_any())
}

/// Leading batch axis or none.
fn shape_of(batched: bool, b: usize, rest: &[usize]) -> Vec<usize> {
    let mut s = Vec::with_capacity(rest.len() + 1);
    if batched {
        s.push(b);
    }
    s.extend_from_slice(rest);
    s
}

/// A 2D glass-former: species, LJ pairs, density, cut-off and state points, as in a system TOML file.
#[pyclass(module = "glasscam._glasscam", name = "System", frozen)]
struct System {
    def: SystemDef,
}

#[pymethods]
impl System {
    /// System(name=..., density=..., species=[{name, count, mass?, diameter?}], pairs=[{a, b, sigma, epsilon}],
    /// t_liquid=..., t_glass=..., cutoff=2.5, n=None, t_star=None): the fields of a system TOML file.
    #[new]
    #[pyo3(signature = (**fields))]
    fn new(py: Python<'_>, fields: Option<&Bound<'_, PyDict>>) -> PyResult<System> {
        let dict = match fields {
            Some(d) => d.clone(),
            None => PyDict::new(py),
        };
        let text: String = py
            .import("json")?
            .call_method1("dumps", (dict,))?
            .extract()?;
        let def: SystemDef =
            serde_json::from_str(&text).map_err(|e| bad_arg("System(...)", e.to_string()))?;
        glue::system_check(&def, "System(...)").map_err(to_py)?;
        Ok(System { def })
    }

    /// A built-in system: "kam" or "abm".
    #[staticmethod]
    fn preset(name: &str) -> PyResult<System> {
        if name != "kam" && name != "abm" {
            return Err(bad_arg(
                "name",
                format!("unknown preset `{name}`: use kam or abm"),
            ));
        }
        glue::system_resolve(name)
            .map(|def| System { def })
            .map_err(to_py)
    }

    /// A system TOML file.
    #[staticmethod]
    fn from_file(path: PathBuf) -> PyResult<System> {
        glue::system_resolve(&path.to_string_lossy())
            .map(|def| System { def })
            .map_err(to_py)
    }

    /// A system from TOML text.
    #[staticmethod]
    #[pyo3(signature = (text, origin = "<string>"))]
    fn from_toml(text: &str, origin: &str) -> PyResult<System> {
        glue::system_from_toml(text, origin)
            .map(|def| System { def })
            .map_err(to_py)
    }

    /// The system as JSON text (the manifest's `system` field).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.def).map_err(|e| GlasscamError::new_err(e.to_string()))
    }

    #[getter]
    fn name(&self) -> String {
        self.def.name.clone()
    }

    /// Number of particles N.
    #[getter]
    fn n(&self) -> usize {
        self.def.n_particles()
    }

    #[getter]
    fn n_species(&self) -> usize {
        self.def.n_species()
    }

    #[getter]
    fn density(&self) -> f64 {
        self.def.density
    }

    /// Box side L (square box).
    #[getter]
    fn box_l(&self) -> f64 {
        self.def.box_l()
    }

    #[getter]
    fn t_liquid(&self) -> f64 {
        self.def.t_liquid
    }

    #[getter]
    fn t_glass(&self) -> f64 {
        self.def.t_glass
    }

    #[getter]
    fn t_star(&self) -> Option<f64> {
        self.def.t_star
    }

    /// Tong-Tanaka diameter of each species.
    #[getter]
    fn diameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let d = self.def.diameters();
        let n = d.len();
        out_array(py, d, &[n])
    }

    /// Species index of every particle (uint32, N), as in a data set's species.npy.
    #[getter]
    fn species<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = self.def.species_of_particles();
        let n = s.len();
        out_array(py, s, &[n])
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<System>()
            .map(|o| o.get().def == self.def)
            .unwrap_or(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "System(name={:?}, n={}, species={}, density={}, box_l={:.6})",
            self.def.name,
            self.def.n_particles(),
            self.def.n_species(),
            self.def.density,
            self.def.box_l()
        )
    }
}

/// Runs the cooling protocol into `out`; returns the manifest as JSON text.
#[pyfunction]
#[pyo3(signature = (system, out, preset, replicas, seed, backend, cool_rate = None, equilibrate_time = None, hold_time = None, dt = None, temps = Vec::new(), resume = false, force = false, progress = None))]
#[allow(clippy::too_many_arguments)]
fn simulate(
    py: Python<'_>,
    system: &System,
    out: PathBuf,
    preset: &str,
    replicas: Option<usize>,
    seed: u64,
    backend: &str,
    cool_rate: Option<f64>,
    equilibrate_time: Option<f64>,
    hold_time: Option<f64>,
    dt: Option<f64>,
    temps: Vec<f64>,
    resume: bool,
    force: bool,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let compute = glue::select_compute(backend).map_err(to_py)?;
    let args = glue::SimulateArgs {
        preset,
        overrides: glue::Overrides {
            replicas,
            cool_rate,
            equilibrate_time,
            hold_time,
            dt,
            temps,
            ..Default::default()
        },
        seed,
        resume,
        force,
    };
    let sys = &system.def;
    let manifest = run_long(py, progress.as_ref(), |ctx| {
        glue::simulate(sys, &args, compute, &out, ctx)
    })?;
    serde_json::to_string(&manifest).map_err(|e| GlasscamError::new_err(e.to_string()))
}

/// Loads a data set directory: (positions (S, N, 2), species (N,), labels (S,), box (2,), manifest JSON text).
#[pyfunction]
fn load_dataset(py: Python<'_>, dir: PathBuf) -> PyResult<Bound<'_, pyo3::types::PyTuple>> {
    let d = py.detach(|| glue::load_dataset(&dir)).map_err(to_py)?;
    let (s, n) = (d.n_snapshots(), d.n_particles());
    let labels: Vec<i64> = d.manifest.snapshots.iter().map(|m| m.label).collect();
    let manifest =
        serde_json::to_string(&d.manifest).map_err(|e| GlasscamError::new_err(e.to_string()))?;
    let l = d.box_l();
    pyo3::types::PyTuple::new(
        py,
        [
            out_array(py, d.positions, &[s, n, 2])?,
            out_array(py, d.species, &[n])?,
            out_array(py, labels, &[s])?,
            out_array(py, vec![l, l], &[2])?,
            manifest.into_pyobject(py)?.into_any(),
        ],
    )
}

/// Writes a data set directory in the CLI's format.
#[pyfunction]
fn save_dataset(
    py: Python<'_>,
    dir: PathBuf,
    manifest: &str,
    positions: &Bound<'_, PyAny>,
    species: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let p = arrays::positions(positions, "positions")?;
    let sp = arrays::species(species, "species", p.n)?;
    let pos = data(&p.array);
    py.detach(|| glue::save_dataset(&dir, manifest, &pos, &sp))
        .map_err(to_py)
}

/// Periodic Voronoi tessellation of one configuration or a batch.
#[pyclass(module = "glasscam._glasscam", name = "Voronoi", frozen)]
struct Voronoi {
    cells: Vec<LibVoronoi>,
    batched: bool,
    n: usize,
}

impl Voronoi {
    fn concat<'py, T: numpy::Element + Copy>(
        &self,
        py: Python<'py>,
        f: impl Fn(&LibVoronoi) -> Vec<T>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let v: Vec<T> = self.cells.iter().flat_map(f).collect();
        out_array(py, v, &shape_of(self.batched, self.cells.len(), &[self.n]))
    }

    /// Per configuration: an array (M, k) built from neighbour entries; a list of them for a batch.
    fn per_entry<'py, T: numpy::Element + Copy>(
        &self,
        py: Python<'py>,
        k: usize,
        f: impl Fn(&LibVoronoi) -> Vec<T>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let arrays: Vec<Bound<'py, PyAny>> = self
            .cells
            .iter()
            .map(|c| {
                let v = f(c);
                let m = v.len() / k;
                let shape = if k == 1 { vec![m] } else { vec![m, k] };
                out_array(py, v, &shape)
            })
            .collect::<PyResult<_>>()?;
        if self.batched {
            Ok(PyList::new(py, arrays)?.into_any())
        } else {
            Ok(arrays.into_iter().next().expect("one configuration"))
        }
    }
}

#[pymethods]
impl Voronoi {
    /// Cell area of every particle: (N,) or (B, N).
    #[getter]
    fn areas<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.concat(py, |c| c.areas.clone())
    }

    /// Number of Voronoi neighbours of every particle: (N,) or (B, N), uint32.
    #[getter]
    fn neighbour_counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.concat(py, |c| c.counts())
    }

    /// Neighbour pairs (i, j) as a uint32 array (M, 2), sorted by i, each i's neighbours counterclockwise (like
    /// freud's NeighborList query_point_indices, point_indices); a list of them for a batch.
    #[getter]
    fn neighbours<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.per_entry(py, 2, |c| {
            (0..c.n())
                .flat_map(|i| c.neighbours_of(i).iter().flat_map(move |&j| [i as u32, j]))
                .collect()
        })
    }

    /// Length of the Voronoi edge each neighbour pair shares: (M,), a list for a batch.
    #[getter]
    fn edge_lengths<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.per_entry(py, 1, |c| c.edge_lengths.clone())
    }

    /// Vector from i to j's nearest periodic image for each neighbour pair: (M, 2), a list for a batch.
    #[getter]
    fn vectors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.per_entry(py, 2, |c| {
            c.vectors.iter().flat_map(|v| [v[0], v[1]]).collect()
        })
    }

    /// Box sides (Lx, Ly).
    #[getter]
    fn r#box(&self) -> (f64, f64) {
        let b = self.cells[0].box_l;
        (b[0], b[1])
    }

    /// Whether this is a batch (leading axis B).
    #[getter]
    fn batched(&self) -> bool {
        self.batched
    }

    fn __len__(&self) -> usize {
        if self.batched {
            self.cells.len()
        } else {
            self.n
        }
    }

    fn __repr__(&self) -> String {
        if self.batched {
            format!(
                "Voronoi(batch of {} configurations of {} particles)",
                self.cells.len(),
                self.n
            )
        } else {
            format!("Voronoi({} particles)", self.n)
        }
    }
}

/// Runs `f` on every configuration of a batch in parallel (cancellable), in order.
fn per_config<T: Send>(
    py: Python<'_>,
    pos: &[f64],
    batch: usize,
    n: usize,
    f: impl Fn(usize, &[f64]) -> glasscam::Result<T> + Sync + Send,
) -> PyResult<Vec<T>> {
    // One configuration takes milliseconds: run it here, without a worker thread or rayon's hand-off.
    if batch == 1 {
        return py
            .detach(|| f(0, &pos[..2 * n]))
            .map(|r| vec![r])
            .map_err(to_py);
    }
    run_long(py, None, |ctx| {
        (0..batch)
            .into_par_iter()
            .map(|k| {
                ctx.cancel.check()?;
                f(k, &pos[2 * n * k..2 * n * (k + 1)])
            })
            .collect()
    })
}

#[pyfunction]
fn voronoi(
    py: Python<'_>,
    positions: &Bound<'_, PyAny>,
    r#box: &Bound<'_, PyAny>,
) -> PyResult<Voronoi> {
    let p = arrays::positions(positions, "positions")?;
    let b = box_sides(r#box)?;
    let pos = data(&p.array);
    let cells = per_config(py, &pos, p.batch, p.n, |_, x| glue::voronoi(x, b))?;
    Ok(Voronoi {
        cells,
        batched: p.batched,
        n: p.n,
    })
}

/// Species indices and per-species diameters from per-particle diameters (equal values are one species).
fn species_from_diameters(d: &[f64]) -> PyResult<(Vec<u32>, Vec<f64>)> {
    let mut unique: Vec<f64> = d.to_vec();
    unique.sort_by(f64::total_cmp);
    unique.dedup();
    if unique.len() > 64 {
        return Err(bad_arg(
            "diameters",
            format!(
                "{} distinct diameters: give species (N,) and one diameter per species instead",
                unique.len()
            ),
        ));
    }
    let species = d
        .iter()
        .map(|x| unique.partition_point(|u| u.total_cmp(x).is_lt()) as u32)
        .collect();
    Ok((species, unique))
}

#[pyfunction]
#[pyo3(signature = (positions, r#box, diameters, species = None, voronoi = None))]
fn tong_tanaka<'py>(
    py: Python<'py>,
    positions: &Bound<'py, PyAny>,
    r#box: &Bound<'py, PyAny>,
    diameters: &Bound<'py, PyAny>,
    species: Option<&Bound<'py, PyAny>>,
    voronoi: Option<&Voronoi>,
) -> PyResult<Bound<'py, PyAny>> {
    let p = arrays::positions(positions, "positions")?;
    let b = box_sides(r#box)?;
    let d = f64_array(
        diameters,
        "diameters",
        "(N,) or, with species, (n_species,)",
    )?;
    let d = data(&d).into_owned();
    if d.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
        return Err(bad_arg("diameters", "every diameter must be positive"));
    }
    let (sp, table) = match species {
        None => {
            if d.len() != p.n {
                return Err(bad_arg(
                    "diameters",
                    format!(
                        "expected shape ({},) (one per particle) without species, got ({},)",
                        p.n,
                        d.len()
                    ),
                ));
            }
            species_from_diameters(&d)?
        }
        Some(s) => {
            let sp = arrays::species(s, "species", p.n)?;
            let need = sp.iter().max().map_or(0, |m| *m as usize + 1);
            if d.len() < need {
                return Err(bad_arg(
                    "diameters",
                    format!(
                        "species go up to {} but {} diameters were given (one per species)",
                        need - 1,
                        d.len()
                    ),
                ));
            }
            (sp, d)
        }
    };
    if let Some(v) = voronoi {
        if v.n != p.n || v.cells.len() != p.batch || v.batched != p.batched || v.cells[0].box_l != b
        {
            return Err(bad_arg(
                "voronoi",
                "was computed for other positions or another box: pass the same positions and box",
            ));
        }
    }
    let pos = data(&p.array);
    let theta = per_config(py, &pos, p.batch, p.n, |k, x| match voronoi {
        Some(v) => Ok(glue::tong_tanaka(&v.cells[k], &sp, &table)),
        None => glue::voronoi(x, b).map(|v| glue::tong_tanaka(&v, &sp, &table)),
    })?;
    out_array(py, theta.concat(), &shape_of(p.batched, p.batch, &[p.n]))
}

#[pyfunction]
#[pyo3(signature = (values, positions, r#box, xi = 3.0, cutoff = 3.0))]
fn coarse_grain<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    positions: &Bound<'py, PyAny>,
    r#box: &Bound<'py, PyAny>,
    xi: f64,
    cutoff: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let p = arrays::positions(positions, "positions")?;
    let b = box_sides(r#box)?;
    if !(xi > 0.0 && xi.is_finite() && cutoff > 0.0 && cutoff.is_finite()) {
        return Err(bad_arg(
            "xi",
            format!("xi = {xi} and cutoff = {cutoff} must be positive"),
        ));
    }
    let (single, multi) = if p.batched {
        (
            format!("({}, {})", p.batch, p.n),
            format!("({}, F, {})", p.batch, p.n),
        )
    } else {
        (format!("({},)", p.n), format!("(F, {})", p.n))
    };
    let expect = format!("{single} or {multi}");
    let v = f64_array(values, "values", &expect)?;
    let vshape = v.shape().to_vec();
    let lead = usize::from(p.batched);
    let fields = match vshape.len() - lead.min(vshape.len()) {
        1 => 1,
        2 => vshape[lead],
        _ => 0,
    };
    let mut want = shape_of(p.batched, p.batch, &[]);
    if vshape.len() == lead + 2 {
        want.push(fields);
    }
    want.push(p.n);
    if fields == 0 || vshape != want {
        return Err(bad_arg(
            "values",
            format!(
                "expected shape {expect} for positions of shape {:?}, got {vshape:?}",
                p.array.shape()
            ),
        ));
    }
    let vals = data(&v);
    let pos = data(&p.array);
    let per = fields * p.n;
    let out = per_config(py, &pos, p.batch, p.n, |k, x| {
        let mine = &vals[k * per..(k + 1) * per];
        let f: Vec<&[f64]> = mine.chunks(p.n).collect();
        Ok(glue::coarse_grain(x, b, xi, cutoff, &f).concat())
    })?;
    out_array(py, out.concat(), &vshape)
}

#[pyfunction]
fn normalise<'py>(py: Python<'py>, values: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let v = f64_array(values, "values", "(N,) or (..., N)")?;
    let shape = v.shape().to_vec();
    let n = *shape
        .last()
        .ok_or_else(|| bad_arg("values", "expected at least one axis"))?;
    let x = data(&v);
    let out: Vec<f64> = if n == 0 {
        Vec::new()
    } else {
        x.chunks(n).flat_map(glue::normalise).collect()
    };
    out_array(py, out, &shape)
}

#[pyfunction]
#[pyo3(signature = (positions, species, r#box, grid = 64, width = 0.5, cutoff = 4.0, n_species = None, backend = "cpu"))]
#[allow(clippy::too_many_arguments)]
fn gridize<'py>(
    py: Python<'py>,
    positions: &Bound<'py, PyAny>,
    species: &Bound<'py, PyAny>,
    r#box: &Bound<'py, PyAny>,
    grid: usize,
    width: f64,
    cutoff: f64,
    n_species: Option<usize>,
    backend: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let p = arrays::positions(positions, "positions")?;
    let sp = arrays::species(species, "species", p.n)?;
    let [lx, ly] = box_sides(r#box)?;
    if lx != ly {
        return Err(bad_arg(
            "box",
            format!("gridize needs a square box, got ({lx}, {ly})"),
        ));
    }
    let need = sp.iter().max().map_or(0, |m| *m as usize + 1);
    let ns = n_species.unwrap_or(need);
    if ns < need {
        return Err(bad_arg(
            "n_species",
            format!("{ns}, but species go up to {}", need - 1),
        ));
    }
    let compute = glue::select_compute(backend).map_err(to_py)?;
    let spec = glue::grid_spec(grid, lx, width, cutoff);
    let pos = data(&p.array);
    let imgs = run_long(py, None, |ctx| {
        ctx.cancel.check()?;
        glue::gridize(&compute, &spec, &pos, &sp, ns)
    })?;
    out_array(py, imgs, &shape_of(p.batched, p.batch, &[ns, grid, grid]))
}

/// A CNN model directory written by `glasscam train`.
#[pyclass(module = "glasscam._glasscam", name = "Model", frozen)]
struct Model {
    model: glue::Loaded,
    compute: Compute,
    batch: usize,
    dir: PathBuf,
}

/// p(liquid), p(glass) of each pair of logits, computed as `glasscam gradcam` writes `p_glass`.
fn probabilities(logits: &[f64]) -> Vec<f64> {
    logits
        .chunks(2)
        .flat_map(|l| {
            let m = l[0].max(l[1]);
            let z = (l[0] - m).exp() + (l[1] - m).exp();
            [(l[0] - m).exp() / z, (l[1] - m).exp() / z]
        })
        .collect()
}

impl Model {
    /// Checked positions and species for this model.
    fn inputs<'py>(
        &self,
        positions: &Bound<'py, PyAny>,
        species: &Bound<'py, PyAny>,
        r#box: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(arrays::Positions<'py>, Vec<u32>)> {
        let p = arrays::positions(positions, "positions")?;
        let sp = arrays::species(species, "species", p.n)?;
        if let Some(m) = sp
            .iter()
            .find(|&&s| s as usize >= self.model.file.in_channels)
        {
            return Err(bad_arg(
                "species",
                format!(
                    "species {m}, but the model takes {} species (input channels)",
                    self.model.file.in_channels
                ),
            ));
        }
        if let Some(b) = r#box {
            let [lx, ly] = box_sides(b)?;
            let l = self.model.file.header.box_l;
            if (lx - l).abs() > 1e-6 * l || (ly - l).abs() > 1e-6 * l {
                return Err(bad_arg(
                    "box",
                    format!("({lx}, {ly}), but the model was trained on a box of side {l}: retrain on this system"),
                ));
            }
        }
        Ok((p, sp))
    }
}

#[pymethods]
impl Model {
    #[staticmethod]
    #[pyo3(signature = (dir, backend = "auto", batch = 32))]
    fn load(dir: PathBuf, backend: &str, batch: usize) -> PyResult<Model> {
        let model = glue::load_model(&dir).map_err(to_py)?;
        let compute = glue::select_compute(backend).map_err(to_py)?;
        Ok(Model {
            model,
            compute,
            batch: batch.max(1),
            dir,
        })
    }

    #[pyo3(signature = (positions, species, r#box = None, progress = None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        positions: &Bound<'py, PyAny>,
        species: &Bound<'py, PyAny>,
        r#box: Option<&Bound<'py, PyAny>>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (p, sp) = self.inputs(positions, species, r#box)?;
        let pos = data(&p.array);
        let logits = run_long(py, progress.as_ref(), |ctx| {
            glue::predict(&self.compute, &self.model, &pos, &sp, self.batch, ctx)
        })?;
        out_array(
            py,
            probabilities(&logits),
            &shape_of(p.batched, p.batch, &[2]),
        )
    }

    /// (probabilities (.., 2), gamma (.., N), maps (.., G, G) float32).
    #[pyo3(signature = (positions, species, cls = "glass", r#box = None, progress = None))]
    #[allow(clippy::type_complexity)]
    fn gradcam<'py>(
        &self,
        py: Python<'py>,
        positions: &Bound<'py, PyAny>,
        species: &Bound<'py, PyAny>,
        cls: &str,
        r#box: Option<&Bound<'py, PyAny>>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let c = glue::class_index(cls).map_err(to_py)?;
        let (p, sp) = self.inputs(positions, species, r#box)?;
        let pos = data(&p.array);
        let (logits, gamma, maps) = run_long(py, progress.as_ref(), |ctx| {
            glue::gradcam(&self.compute, &self.model, &pos, &sp, c, self.batch, ctx)
        })?;
        let g = self.model.file.config.grid;
        Ok((
            out_array(
                py,
                probabilities(&logits),
                &shape_of(p.batched, p.batch, &[2]),
            )?,
            out_array(py, gamma, &shape_of(p.batched, p.batch, &[p.n]))?,
            out_array(py, maps, &shape_of(p.batched, p.batch, &[g, g]))?,
        ))
    }

    /// config.json as JSON text.
    fn config_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.model.file).map_err(|e| GlasscamError::new_err(e.to_string()))
    }

    #[getter]
    fn box_l(&self) -> f64 {
        self.model.file.header.box_l
    }

    #[getter]
    fn grid(&self) -> usize {
        self.model.file.config.grid
    }

    #[getter]
    fn n_species(&self) -> usize {
        self.model.file.in_channels
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.dir.clone()
    }

    #[getter]
    fn backend(&self) -> String {
        self.compute.describe()
    }

    fn __repr__(&self) -> String {
        format!(
            "Model({:?}, grid={}, species={}, box_l={}, {})",
            self.dir.display().to_string(),
            self.model.file.config.grid,
            self.model.file.in_channels,
            self.model.file.header.box_l,
            self.compute.describe()
        )
    }
}

/// Isoconfigurational ensemble: dict with steps, propensity (T, S, N), delta (T, S), failed, md_seconds, temps.
#[pyfunction]
#[pyo3(signature = (system, positions, temps, runs, steps, samples, seed, backend, protocol = None, progress = None))]
#[allow(clippy::too_many_arguments)]
fn propensity<'py>(
    py: Python<'py>,
    system: &System,
    positions: &Bound<'py, PyAny>,
    temps: Option<Vec<f64>>,
    runs: Option<usize>,
    steps: Option<u64>,
    samples: Option<usize>,
    seed: u64,
    backend: &str,
    protocol: Option<&str>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let sys = &system.def;
    let n = sys.n_particles();
    let p = arrays::f64_shaped(positions, "positions", &[n, 2])?;
    let md = glue::md_settings(protocol).map_err(to_py)?;
    let mut cfg = glue::ensemble_defaults(sys);
    if let Some(t) = temps {
        cfg.temps = t;
    }
    if cfg.temps.is_empty() {
        return Err(bad_arg(
            "temps",
            format!(
                "system `{}` has no t_star: give temps (between T* and 1.5 T*)",
                sys.name
            ),
        ));
    }
    if let Some(r) = runs {
        cfg.runs = r;
    }
    if let Some(s) = steps {
        cfg.steps = s;
    }
    if let Some(s) = samples {
        cfg.samples = s;
    }
    cfg.seed = seed;
    let compute = glue::select_compute(backend).map_err(to_py)?;
    let pos = data(&p);
    let r = run_long(py, progress.as_ref(), |ctx| {
        glue::propensity(sys, &md, &pos, &cfg, &compute, ctx)
    })?;
    let (nt, ns) = (r.propensity.len(), r.steps.len());
    let dt = glue::md_dt(&md);
    let out = PyDict::new(py);
    out.set_item("temps", cfg.temps.clone())?;
    out.set_item(
        "times",
        out_array(
            py,
            r.steps.iter().map(|&s| s as f64 * dt).collect::<Vec<f64>>(),
            &[ns],
        )?,
    )?;
    out.set_item("steps", out_array(py, r.steps.clone(), &[ns])?)?;
    let flat: Vec<f64> = r.propensity.iter().flatten().flatten().copied().collect();
    out.set_item("propensity", out_array(py, flat, &[nt, ns, n])?)?;
    let delta: Vec<f64> = r.delta.iter().flatten().copied().collect();
    out.set_item("delta", out_array(py, delta, &[nt, ns])?)?;
    out.set_item("failed", r.failed.clone())?;
    out.set_item("md_seconds", r.md_seconds)?;
    out.set_item("backend", compute.describe())?;
    Ok(out)
}

/// Trains the CNN (`glasscam train`) on the data set directory `data`; writes `out`; returns metrics.json text.
#[pyfunction]
#[pyo3(signature = (data, out, preset = "quick", config = "{}", backend = "auto", progress = None))]
fn train(
    py: Python<'_>,
    data: PathBuf,
    out: PathBuf,
    preset: &str,
    config: &str,
    backend: &str,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let cfg = glue::model_config(preset, config).map_err(to_py)?;
    let compute = glue::select_compute(backend).map_err(to_py)?;
    run_long(py, progress.as_ref(), |ctx| {
        glue::train(&data, &cfg, &compute, &out, ctx)
    })
}

#[pymodule]
fn _glasscam(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("GlasscamError", m.py().get_type::<GlasscamError>())?;
    m.add_class::<System>()?;
    m.add_class::<Voronoi>()?;
    m.add_class::<Model>()?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(load_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(save_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(voronoi, m)?)?;
    m.add_function(wrap_pyfunction!(tong_tanaka, m)?)?;
    m.add_function(wrap_pyfunction!(coarse_grain, m)?)?;
    m.add_function(wrap_pyfunction!(normalise, m)?)?;
    m.add_function(wrap_pyfunction!(gridize, m)?)?;
    m.add_function(wrap_pyfunction!(propensity, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    Ok(())
}
