//! `glasscam propensity`: arguments and the call to the propensity engine.

use std::path::PathBuf;

use clap::Args;
use glasscam::analysis::GammaSet;
use glasscam::domain::Preset;
use glasscam::events::Ctx;
use glasscam::io::dataset::Dataset;
use glasscam::kernels::BackendChoice;
use glasscam::sim::propensity::{Curves, EnsembleConfig};

use super::select_compute;

/// `glasscam propensity`
#[derive(Clone, Debug, Args)]
pub struct PropensityArgs {
    /// Data set directory (from `glasscam simulate`).
    #[arg(long)]
    pub data: PathBuf,
    /// Snapshot index of the configuration (a glass, usually).
    #[arg(long)]
    pub snapshot: usize,
    /// Temperatures (comma-separated); default T*, 1.25 T*, 1.5 T* of the system.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub temps: Vec<f64>,
    /// Runs per temperature (default 30).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Steps per run (default: the preset's).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Log-spaced sample times (default: the preset's).
    #[arg(long)]
    pub samples: Option<usize>,
    /// `quick` (minutes on a CPU) or `paper` (the paper's lengths, for a GPU).
    #[arg(long, value_enum, default_value = "quick")]
    pub preset: Preset,
    /// A Grad-CAM directory (`glasscam gradcam`): gives C(Gamma, 1 - Delta).
    #[arg(long)]
    pub gradcam: Option<PathBuf>,
    /// Coarse-graining length xi.
    #[arg(long, default_value_t = 3.0, allow_hyphen_values = true)]
    pub xi: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "auto")]
    pub backend: BackendChoice,
    /// Run the ensemble's chunks on several GPUs at once, one host thread each: adapter indices or names as
    /// `glasscam info` lists them (e.g. `0,1`), or `all`. The result is byte-identical to a one-device run's.
    #[arg(long, conflicts_with = "backend")]
    pub adapters: Option<String>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// No plots.
    #[arg(long)]
    pub no_plots: bool,
}

pub fn propensity(a: &PropensityArgs, ctx: Ctx) -> glasscam::Result<Curves> {
    let inputs: Vec<&std::path::Path> = [Some(&a.data), a.gradcam.as_ref()]
        .into_iter()
        .flatten()
        .map(|p| p.as_path())
        .collect();
    let _out = glasscam::io::outdir::claim(&a.out, &inputs, false, false)?;
    let ds = Dataset::load(&a.data)?;
    let mut cfg = EnsembleConfig::preset(a.preset, ds.manifest.system.t_star);
    if !a.temps.is_empty() {
        cfg.temps = a.temps.clone();
    }
    if let Some(r) = a.runs {
        cfg.runs = r;
    }
    if let Some(s) = a.steps {
        cfg.steps = s;
    }
    if let Some(s) = a.samples {
        cfg.samples = s;
    }
    cfg.seed = a.seed;
    let gamma = a.gradcam.as_deref().map(GammaSet::load).transpose()?;
    let devices = match &a.adapters {
        Some(list) => super::open_devices(list)?,
        None => vec![select_compute(a.backend)?],
    };
    let p = glasscam::sim::propensity::propensity_on(
        &ds,
        a.snapshot,
        &cfg,
        gamma.as_ref(),
        a.xi,
        &devices,
        ctx,
    )
    .map_err(|e| match (&a.gradcam, e) {
        // the engine speaks of "the Grad-CAM set"; name the directory the user gave
        (Some(dir), glasscam::Error::Input(m)) if m.contains("Grad-CAM set") => {
            glasscam::Error::Input(format!("{}: {m}", dir.display()))
        }
        (_, e) => e,
    })?;
    glasscam::sim::propensity::write_propensity(&a.out, &ds, &p, !a.no_plots)?;
    eprintln!("propensity: wrote {}", a.out.display());
    Ok(p.curves)
}
