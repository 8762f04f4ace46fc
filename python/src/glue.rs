//! Every call from the Python binding into the glasscam library, in small functions, so a change of the library's
//! API is adapted here and nowhere else. Nothing here touches Python.
//!
//! Thin glue that the library does not (yet) offer as a function: `predict` and `gradcam` on arrays (the library's
//! `nn::gradcam::gradcam` takes a data set directory); both follow its steps exactly (gridize, standardise, the
//! network, grid_sample), so the numbers are the CLI's.

use std::path::Path;

use glasscam::analysis::{self, CoarseGrain, Voronoi};
use glasscam::domain::Class;
use glasscam::events::{Ctx, Event};
use glasscam::io::dataset::{Dataset, Manifest};
use glasscam::kernels::nn::net::{grid_sample, gridize as gridize_kernel, gridize_with, Net};
use glasscam::kernels::nn::GridSpec;
use glasscam::kernels::Compute;
use glasscam::learn::cnn::model::ModelFile;
use glasscam::learn::cnn::{Cnn, ModelConfig};
use glasscam::learn::model::{write_model, Model};
use glasscam::sim::propensity::{EnsembleConfig, EnsembleResult};
pub use glasscam::sim::protocol::Overrides;
use glasscam::sim::protocol::{Protocol, RunOptions};
use glasscam::sim::system::{MdSettings, SystemDef};
use glasscam::{Error, Result};

/// `kam`, `abm`, or a TOML system file.
pub fn system_resolve(name_or_path: &str) -> Result<SystemDef> {
    SystemDef::resolve(name_or_path)
}

pub fn system_from_toml(text: &str, origin: &str) -> Result<SystemDef> {
    SystemDef::from_toml(text, origin)
}

pub fn system_check(sys: &SystemDef, origin: &str) -> Result<()> {
    sys.check(origin)
}

/// `auto`, `gpu` or `cpu`, resolved by the library's one backend policy (the line it gives is not printed).
pub fn select_compute(backend: &str) -> Result<Compute> {
    let (compute, _) = glasscam::backend::resolve(glasscam::backend::parse(backend)?)?;
    Ok(compute)
}

/// What `simulate` needs besides the system.
pub struct SimulateArgs<'a> {
    pub preset: &'a str,
    /// The protocol's changes to the preset (the library's, as the CLI's `simulate` passes them).
    pub overrides: Overrides,
    pub seed: u64,
    /// Continue an unfinished run in `out` (as `--resume`).
    pub resume: bool,
    /// Replace what is in `out` (as `--force`).
    pub force: bool,
}

/// Runs the cooling protocol and writes the data set to `out` (the CLI's `simulate`).
pub fn simulate(
    sys: &SystemDef,
    args: &SimulateArgs,
    compute: Compute,
    out: &Path,
    ctx: &Ctx,
) -> Result<Manifest> {
    let proto = args.overrides.apply(args.preset, sys)?;
    let mut opts = RunOptions::new(out, args.seed, compute);
    opts.resume = args.resume;
    opts.force = args.force;
    glasscam::sim::protocol::run(sys, &proto, &opts, ctx)
}

pub fn load_dataset(dir: &Path) -> Result<Dataset> {
    Dataset::load(dir)
}

/// Writes a data set in the CLI's format from a manifest (JSON text) and the arrays.
pub fn save_dataset(
    dir: &Path,
    manifest_json: &str,
    positions: &[f64],
    species: &[u32],
) -> Result<()> {
    let manifest: Manifest = serde_json::from_str(manifest_json)
        .map_err(|e| Error::Input(format!("manifest: not a glasscam manifest: {e}")))?;
    // Dataset::write trusts its caller; a Python caller may have edited the arrays.
    let (s, n) = (manifest.snapshots.len(), manifest.n_particles);
    if positions.len() != s * n * 2 || species.len() != n {
        return Err(Error::Input(format!(
            "positions: the manifest describes {s} snapshots of {n} particles, shape ({s}, {n}, 2), but \
             positions has {} values and species {}",
            positions.len(),
            species.len()
        )));
    }
    Dataset::write(dir, &manifest, positions, species)
}

pub fn voronoi(positions: &[f64], box_l: [f64; 2]) -> Result<Voronoi> {
    analysis::voronoi(positions, box_l)
}

pub fn tong_tanaka(v: &Voronoi, species: &[u32], diameters: &[f64]) -> Vec<f64> {
    analysis::tong_tanaka(v, species, diameters)
}

pub fn coarse_grain(
    positions: &[f64],
    box_l: [f64; 2],
    xi: f64,
    cutoff_factor: f64,
    fields: &[&[f64]],
) -> Vec<Vec<f64>> {
    analysis::coarse_grain(positions, box_l, CoarseGrain { xi, cutoff_factor }, fields)
}

pub fn normalise(x: &[f64]) -> Vec<f64> {
    analysis::normalise(x)
}

pub fn grid_spec(grid: usize, box_l: f64, width: f64, cutoff: f64) -> GridSpec {
    GridSpec {
        grid,
        box_l,
        width,
        cutoff,
    }
}

/// Gaussian density images [batch, n_species, G, G] of `positions` [batch * N * 2].
pub fn gridize(
    compute: &Compute,
    grid: &GridSpec,
    positions: &[f64],
    species: &[u32],
    n_species: usize,
) -> Result<Vec<f32>> {
    Ok(gridize_kernel(
        compute, grid, positions, species, n_species,
    )?)
}

/// A model directory's configuration and weights.
pub type Loaded = Cnn;

pub fn load_model(dir: &Path) -> Result<Loaded> {
    Cnn::load(dir)
}

/// The model's images of `positions` [batch * N * 2]: gridized on its grid (on the CPU in the model's
/// precision), standardised as in training.
fn model_images(
    compute: &Compute,
    file: &ModelFile,
    positions: &[f64],
    species: &[u32],
) -> Result<Vec<f32>> {
    let grid = file.config.grid_spec(file.header.box_l);
    let mut imgs = gridize_with(
        compute,
        file.config.precision.kernel(),
        &grid,
        positions,
        species,
        file.in_channels,
    )?;
    if let Some(norm) = file.standardization() {
        norm.apply(&mut imgs, file.config.grid * file.config.grid);
    }
    Ok(imgs)
}

/// Class scores (logits, [batch * 2], liquid then glass) of configurations, `batch` images at a time.
pub fn predict(
    compute: &Compute,
    model: &Loaded,
    positions: &[f64],
    species: &[u32],
    batch: usize,
    ctx: &Ctx,
) -> Result<Vec<f64>> {
    let (file, n2) = (&model.file, 2 * species.len());
    let mut net = Net::with_precision(
        compute,
        file.config.precision.kernel(),
        file.spec(),
        &model.params,
        batch,
    )?;
    let mut out = Vec::with_capacity(positions.len() / n2 * 2);
    ctx.observer.event(Event::Begin {
        what: "configurations",
        total: (positions.len() / n2) as u64,
    });
    for part in positions.chunks(n2 * batch.max(1)) {
        ctx.cancel.check()?;
        let imgs = model_images(compute, file, part, species)?;
        out.extend(net.predict(&imgs)?);
        ctx.observer.event(Event::Advance((part.len() / n2) as u64));
    }
    ctx.observer.event(Event::End);
    Ok(out)
}

/// Grad-CAM of class `cls`: logits [batch * 2], Gamma per particle [batch * N], maps [batch * G * G].
pub fn gradcam(
    compute: &Compute,
    model: &Loaded,
    positions: &[f64],
    species: &[u32],
    cls: usize,
    batch: usize,
    ctx: &Ctx,
) -> Result<(Vec<f64>, Vec<f64>, Vec<f32>)> {
    let (file, n) = (&model.file, species.len());
    let grid = file.config.grid_spec(file.header.box_l);
    let mut net = Net::with_precision(
        compute,
        file.config.precision.kernel(),
        file.spec(),
        &model.params,
        batch,
    )?;
    let (mut logits, mut gamma, mut maps) = (Vec::new(), Vec::new(), Vec::new());
    ctx.observer.event(Event::Begin {
        what: "configurations",
        total: (positions.len() / (2 * n)) as u64,
    });
    for part in positions.chunks(2 * n * batch.max(1)) {
        ctx.cancel.check()?;
        let imgs = model_images(compute, file, part, species)?;
        let (l, m) = net.gradcam(&imgs, cls)?;
        gamma.extend(grid_sample(compute, &grid, &m, part, n)?);
        maps.extend(m.iter().map(|&x| x as f32));
        logits.extend(l);
        ctx.observer
            .event(Event::Advance((part.len() / (2 * n)) as u64));
    }
    ctx.observer.event(Event::End);
    Ok((logits, gamma, maps))
}

/// The class score index of a class name ("liquid" 0, "glass" 1).
pub fn class_index(name: &str) -> Result<usize> {
    let class: Class = name.parse()?;
    class.score_index().ok_or_else(|| {
        Error::Input("Grad-CAM explains the glass or the liquid score, not `other`".into())
    })
}

/// MD settings of a data set's protocol (JSON), or the defaults.
pub fn md_settings(protocol_json: Option<&str>) -> Result<MdSettings> {
    match protocol_json {
        None => Ok(MdSettings::default()),
        Some(text) => serde_json::from_str::<Protocol>(text)
            .map(|p| p.md)
            .map_err(|e| Error::Input(format!("protocol: not a glasscam protocol: {e}"))),
    }
}

/// The short propensity ensemble of the system (T*, 1.25 T*, 1.5 T*), or empty temperatures without T*.
pub fn ensemble_defaults(sys: &SystemDef) -> EnsembleConfig {
    match sys.t_star {
        Some(t) => EnsembleConfig::short(t),
        None => EnsembleConfig {
            temps: Vec::new(),
            ..EnsembleConfig::short(1.0)
        },
    }
}

/// Isoconfigurational ensemble of one configuration with cages from its Voronoi neighbours (the CLI's
/// `propensity`).
pub fn propensity(
    sys: &SystemDef,
    md: &MdSettings,
    positions: &[f64],
    cfg: &EnsembleConfig,
    compute: &Compute,
    ctx: &Ctx,
) -> Result<EnsembleResult> {
    let setup = sys.md_setup(md);
    let l = setup.box_l;
    let vor = voronoi(positions, [l, l])?;
    let cages: Vec<Vec<u32>> = (0..vor.n())
        .map(|i| vor.neighbours_of(i).to_vec())
        .collect();
    let pos0: Vec<[f64; 2]> = positions.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
    glasscam::sim::propensity::run_ensemble(&setup, &pos0, &cages, cfg, compute, *ctx)
}

/// Time step of the MD settings (sample times = steps * dt).
pub fn md_dt(md: &MdSettings) -> f64 {
    md.dt
}

/// The model configuration: `quick` (`ModelConfig::quick()`, presets/quick-model.toml) or `paper` (the paper's
/// network), with the fields of `overrides` (a JSON object of `ModelConfig` fields) replaced.
pub fn model_config(base: &str, overrides: &str) -> Result<ModelConfig> {
    let cfg = match base {
        "quick" => ModelConfig::quick(),
        "paper" => ModelConfig::default(),
        other => {
            return Err(Error::Input(format!(
                "unknown model preset `{other}`: use quick or paper"
            )))
        }
    };
    let bad = |e: serde_json::Error| Error::Input(format!("config: {e}"));
    let mut v = serde_json::to_value(&cfg).map_err(bad)?;
    let extra: serde_json::Value = serde_json::from_str(overrides).map_err(bad)?;
    if let (Some(obj), Some(add)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in add {
            obj.insert(k.clone(), x.clone());
        }
    }
    let cfg: ModelConfig = serde_json::from_value(v).map_err(bad)?;
    cfg.check()
        .map_err(|m| Error::Input(format!("config: {m}")))?;
    Ok(cfg)
}

/// Trains the CNN on the data set in `data_dir` and writes the model directory `out` (the CLI's `train`);
/// returns metrics.json as JSON text.
pub fn train(
    data_dir: &Path,
    cfg: &ModelConfig,
    compute: &Compute,
    out: &Path,
    ctx: &Ctx,
) -> Result<String> {
    let data = Dataset::load(data_dir)?;
    let trained = glasscam::learn::cnn::train(&data, cfg, compute, *ctx)?;
    write_model(out, &trained)?;
    serde_json::to_string(&trained.metrics).map_err(|e| Error::Input(format!("metrics: {e}")))
}
