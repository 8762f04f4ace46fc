//! `glasscam reproduce [oyama]`: arguments and the call to the pipeline.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use glasscam::analysis::CoarseGrain;
use glasscam::domain::Preset;
use glasscam::events::Ctx;
use glasscam::kernels::BackendChoice;
use glasscam::reproduce::{ReproduceConfig, ReproducePreset};
use glasscam::system::SystemDef;

use super::select_compute;

/// A paper's pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Pipeline {
    /// Oyama, Koyama & Kawasaki (2022): CNN, Grad-CAM, structure and propensity.
    Oyama,
}

#[derive(Clone, Debug, Args)]
pub struct ReproduceArgs {
    /// The paper to reproduce.
    #[arg(value_enum, default_value = "oyama")]
    pub pipeline: Pipeline,
    /// `abm`, `kam`, `both`, or a TOML system file.
    #[arg(long, default_value = "both")]
    pub system: String,
    /// `quick` (minutes on a laptop CPU) or `paper` (the paper's sizes, for a GPU).
    #[arg(long, value_enum, default_value = "quick")]
    pub preset: Preset,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "auto")]
    pub backend: BackendChoice,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Replicas per system (default: the preset's).
    #[arg(long)]
    pub replicas: Option<usize>,
    /// Training epochs (default: the preset's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Propensity: runs per temperature and steps (default: the preset's).
    #[arg(long)]
    pub propensity_runs: Option<usize>,
    #[arg(long)]
    pub propensity_steps: Option<u64>,
    /// Coarse-graining length of the analyze stage (the propensity's C(Gamma, 1 - Delta) keeps the paper's 3).
    #[arg(long, default_value_t = 3.0)]
    pub xi: f64,
    /// Coarse-graining cut-off of the analyze stage, in units of xi.
    #[arg(long, default_value_t = 3.0)]
    pub cutoff: f64,
    /// Replace stage directories that DIR/stages.json does not record as this pipeline's (and an unreadable
    /// stages.json).
    #[arg(long)]
    pub force: bool,
}

pub fn reproduce(a: &ReproduceArgs, ctx: Ctx) -> glasscam::Result<()> {
    let Pipeline::Oyama = a.pipeline;
    let mut preset = ReproducePreset::new(a.preset);
    if let Some(r) = a.replicas {
        preset.protocol.replicas = r;
    }
    if let Some(e) = a.epochs {
        preset.model.epochs = e;
    }
    if let Some(r) = a.propensity_runs {
        preset.propensity_runs = r;
    }
    if let Some(s) = a.propensity_steps {
        preset.propensity_steps = s;
    }
    let systems = match a.system.as_str() {
        "both" => vec![SystemDef::abm(), SystemDef::kam()],
        s => vec![SystemDef::resolve(s)?],
    };
    let config = ReproduceConfig {
        systems,
        preset,
        seed: a.seed,
        analyze: CoarseGrain {
            xi: a.xi,
            cutoff_factor: a.cutoff,
        },
        out: a.out.clone(),
        force: a.force,
    };
    let compute = select_compute(a.backend)?;
    glasscam::reproduce::run(&config, &compute, ctx)?;
    Ok(())
}
