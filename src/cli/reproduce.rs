//! `glasscam reproduce [oyama|swanson|glassbench]`: arguments and the call to the pipeline.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use glasscam::analysis::CoarseGrain;
use glasscam::domain::Preset;
use glasscam::events::Ctx;
use glasscam::kernels::BackendChoice;
use glasscam::learn::cnn::Precision;
use glasscam::pipeline::glassbench::preset::GlassbenchPreset;
use glasscam::pipeline::glassbench::GlassbenchConfig;
use glasscam::pipeline::oyama::{ReproduceConfig, ReproducePreset};
use glasscam::pipeline::swanson::preset::{SwansonPreset, TaskInput};
use glasscam::pipeline::swanson::SwansonConfig;
use glasscam::sim::system::SystemDef;

use super::select_compute;

/// A paper's pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Pipeline {
    /// Oyama, Koyama & Kawasaki (2022): CNN, Grad-CAM, structure and propensity.
    Oyama,
    /// Swanson et al. (2020): slow and fast ramps, six liquid-vs-glass tasks and a null task, CNN and graph
    /// network on each, the train-on-i / test-on-j AUC matrices, attention metrics.
    Swanson,
    /// GlassBench (Jung et al.): ka2d starts equilibrated at T, tau_alpha, isoconfigurational targets and their
    /// noise ceiling, inherent structures, descriptor baselines, the propensity network, Pearson per time point.
    Glassbench,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InputArg {
    Snapshots,
    Inherent,
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
    /// The CNN's float type on the CPU: f32, the fast backend, or f64, the twin (the reference, 3 to 10 times
    /// slower). Ignored on the GPU.
    #[arg(long, value_enum, default_value = "f32")]
    pub precision: Precision,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Replicas per system (default: the preset's; `glassbench`: the quenched starts).
    #[arg(long)]
    pub replicas: Option<usize>,
    /// Training epochs (default: the preset's; `swanson`: the CNN's; `glassbench`: the propensity network's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// `swanson`: the graph network's training epochs (default: the preset's).
    #[arg(long)]
    pub mpnn_epochs: Option<usize>,
    /// Propensity: runs per temperature (`glassbench`: per configuration) and steps (default: the preset's).
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
    /// `swanson`: the configurations the networks see, `snapshots` (the ramps' instantaneous configurations, as
    /// Swanson) or `inherent` (their FIRE minima, without thermal vibration). Default: the preset's (quick:
    /// inherent, paper: snapshots).
    #[arg(long, value_enum)]
    pub input: Option<InputArg>,
    /// Replace stage directories that DIR/stages.json does not record as this pipeline's (and an unreadable
    /// stages.json).
    #[arg(long)]
    pub force: bool,
}

pub fn reproduce(a: &ReproduceArgs, ctx: Ctx) -> glasscam::Result<()> {
    match a.pipeline {
        Pipeline::Swanson => return swanson(a, ctx),
        Pipeline::Glassbench => return glassbench(a, ctx),
        Pipeline::Oyama => {}
    }
    if a.mpnn_epochs.is_some() && a.pipeline == Pipeline::Oyama {
        return Err(glasscam::Error::Input(
            "--mpnn-epochs belongs to `reproduce swanson` (the main paper's pipeline trains no graph network)"
                .into(),
        ));
    }
    if a.input.is_some() {
        return Err(glasscam::Error::Input(
            "--input belongs to `reproduce swanson` (the main paper's pipeline trains on its snapshots)".into(),
        ));
    }
    let mut preset = ReproducePreset::new(a.preset);
    if let Some(r) = a.replicas {
        preset.protocol.replicas = r;
    }
    if let Some(e) = a.epochs {
        preset.model.epochs = e;
    }
    preset.model.precision = a.precision;
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
    glasscam::pipeline::oyama::run(&config, &compute, ctx)?;
    Ok(())
}

/// `reproduce swanson`: the arguments of the main paper's pipeline that do not apply are refused, so that no one
/// believes they changed something.
fn swanson(a: &ReproduceArgs, ctx: Ctx) -> glasscam::Result<()> {
    let oyama_only = [
        ("--system", a.system != "both"),
        ("--propensity-runs", a.propensity_runs.is_some()),
        ("--propensity-steps", a.propensity_steps.is_some()),
        ("--xi", a.xi != 3.0),
        ("--cutoff", a.cutoff != 3.0),
    ];
    if let Some((flag, _)) = oyama_only.iter().find(|x| x.1) {
        return Err(glasscam::Error::Input(format!(
            "{flag} belongs to `reproduce oyama`; `reproduce swanson` simulates the kam system and has no \
             propensity or coarse-graining stage (its sizes: --preset, --replicas, --epochs)"
        )));
    }
    let mut preset = SwansonPreset::new(a.preset);
    if let Some(r) = a.replicas {
        preset.ramps.replicas = r;
    }
    if let Some(e) = a.epochs {
        preset.cnn.epochs = e;
    }
    preset.cnn.precision = a.precision;
    if let Some(e) = a.mpnn_epochs {
        preset.mpnn.epochs = e;
    }
    // the preset's input (quick: inherent, paper: snapshots) unless named
    if let Some(i) = a.input {
        preset.input = match i {
            InputArg::Snapshots => TaskInput::Snapshots,
            InputArg::Inherent => TaskInput::Inherent,
        };
    }
    let config = SwansonConfig {
        preset,
        seed: a.seed,
        out: a.out.clone(),
        force: a.force,
    };
    let compute = select_compute(a.backend)?;
    glasscam::pipeline::swanson::run(&config, &compute, ctx)?;
    Ok(())
}

/// `reproduce glassbench`: the arguments of the other pipelines that do not apply are refused, so that no one
/// believes they changed something.
fn glassbench(a: &ReproduceArgs, ctx: Ctx) -> glasscam::Result<()> {
    let other = [
        ("--system", a.system != "both"),
        ("--propensity-steps", a.propensity_steps.is_some()),
        ("--xi", a.xi != 3.0),
        ("--cutoff", a.cutoff != 3.0),
        ("--mpnn-epochs", a.mpnn_epochs.is_some()),
        ("--input", a.input.is_some()),
        ("--precision", a.precision != Precision::F32),
    ];
    if let Some((flag, _)) = other.iter().find(|x| x.1) {
        return Err(glasscam::Error::Input(format!(
            "{flag} belongs to another pipeline; `reproduce glassbench` runs the ka2d system on its time grid in \
             units of tau_alpha (its sizes: --preset, --replicas, --propensity-runs, --epochs, --seed)"
        )));
    }
    let mut preset = GlassbenchPreset::new(a.preset)?;
    preset.seed = a.seed;
    if let Some(r) = a.replicas {
        preset.starts.replicas = r;
    }
    if let Some(r) = a.propensity_runs {
        preset.targets.runs = r;
    }
    if let Some(e) = a.epochs {
        preset.model.epochs = e;
    }
    let config = GlassbenchConfig {
        preset,
        out: a.out.clone(),
        force: a.force,
    };
    let compute = select_compute(a.backend)?;
    glasscam::pipeline::glassbench::run(&config, &compute, ctx)?;
    Ok(())
}
