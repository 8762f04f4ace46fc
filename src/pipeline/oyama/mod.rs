//! `glasscam reproduce oyama`: Oyama, Koyama & Kawasaki (2022) from nothing. Simulate, train the CNN, Grad-CAM,
//! analyze and propensity for one or both systems, then one self-contained `report.html` and `results.json` with
//! every number in it.
//!
//! Each stage has a fingerprint: a hash of its own settings and of the fingerprints of the stages it reads. A
//! rerun skips a stage whose fingerprint and outputs are unchanged and redoes one whose fingerprint changed, so
//! `--epochs` retrains and redoes what follows training but never simulates again. Every stage is recorded in
//! `stages.json` before it starts, and only directories recorded there are ever deleted: anything else in the way
//! is refused unless `force` is set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use glasscam_kernels::Compute;
use serde::{Deserialize, Serialize};

use crate::analysis::{AnalyzeInput, CoarseGrain, GammaSet};
use crate::domain::{Class, Preset};
use crate::error::{Error, Result};
use crate::events::Ctx;
use crate::io::dataset::Dataset;
use crate::learn::cnn::gradcam::gradcam_both;
use crate::learn::cnn::{Cnn, ModelConfig, ReplicaSet};
use crate::learn::model::{write_model, Model};
use crate::pipeline::runner::{Call, Outcome, Stage, StageRunner};
use crate::sim::propensity::EnsembleConfig;
use crate::sim::protocol::{Protocol, RunOptions};
use crate::sim::system::SystemDef;

pub mod report;
pub mod stages;

pub use stages::{OyamaSettings, OyamaStage};

/// The sizes of a reproduce preset.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReproducePreset {
    pub name: Preset,
    pub protocol: Protocol,
    pub model: ModelConfig,
    pub propensity_runs: usize,
    pub propensity_steps: u64,
    pub propensity_samples: usize,
}

impl ReproducePreset {
    pub fn new(preset: Preset) -> ReproducePreset {
        match preset {
            Preset::Quick => ReproducePreset {
                name: preset,
                protocol: Protocol::quick(),
                // G 64, small network with the mean head, 300 epochs (see ModelConfig::quick): about 20 s on a CPU
                model: ModelConfig::quick(),
                propensity_runs: 10,
                propensity_steps: 3000,
                propensity_samples: 16,
            },
            Preset::Paper => ReproducePreset {
                name: preset,
                protocol: Protocol::paper(),
                model: ModelConfig::default(),
                propensity_runs: 30,
                propensity_steps: 300_000_000,
                propensity_samples: 40,
            },
        }
    }
}

/// Everything a reproduce run needs besides the compute device and the caller's context.
#[derive(Clone, Debug)]
pub struct ReproduceConfig {
    pub systems: Vec<SystemDef>,
    /// The preset with any overrides (replicas, epochs, propensity sizes) applied.
    pub preset: ReproducePreset,
    /// Seed of the simulation and the propensity ensembles (the network's seed is in `preset.model`).
    pub seed: u64,
    /// The analyze stage's coarse-graining.
    pub analyze: CoarseGrain,
    pub out: PathBuf,
    /// Replace stage directories that `stages.json` does not record (and an unreadable `stages.json`).
    pub force: bool,
}

/// Images per Grad-CAM batch.
const GRADCAM_BATCH: usize = 32;
/// The propensity's coarse-graining length: the paper's, whatever the analyze stage uses.
const PROPENSITY_XI: f64 = 3.0;

/// The settings a stage of `sys` runs with.
fn settings(stage: OyamaStage, sys: &SystemDef, c: &ReproduceConfig) -> OyamaSettings {
    match stage {
        OyamaStage::Simulate => OyamaSettings::Simulate {
            system: sys.clone(),
            protocol: c.preset.protocol.clone(),
            seed: c.seed,
        },
        OyamaStage::Train => OyamaSettings::Train {
            model: c.preset.model.clone(),
        },
        OyamaStage::Gradcam => OyamaSettings::Gradcam {
            split: ReplicaSet::Test,
            batch: GRADCAM_BATCH,
        },
        OyamaStage::Analyze => OyamaSettings::analyze(c.analyze),
        OyamaStage::Propensity => OyamaSettings::Propensity {
            runs: c.preset.propensity_runs,
            steps: c.preset.propensity_steps,
            samples: c.preset.propensity_samples,
            seed: c.seed,
            xi: PROPENSITY_XI,
        },
    }
}

/// Where a stage runs: the structural analysis on the CPU, everything else on `compute` (the CNN's stages in the
/// model's precision on the CPU).
fn backend(stage: OyamaStage, c: &ReproduceConfig, compute: &Compute) -> String {
    match stage {
        OyamaStage::Analyze => Compute::Cpu.describe(),
        OyamaStage::Train | OyamaStage::Gradcam => Cnn::backend(&c.preset.model, compute),
        _ => compute.describe(),
    }
}

/// One system's directories: its data set, model and Grad-CAM set.
struct SystemDirs {
    data: PathBuf,
    model: PathBuf,
    gradcam: PathBuf,
}

impl SystemDirs {
    fn of(root: &Path) -> SystemDirs {
        SystemDirs {
            data: root.join(OyamaStage::Simulate.dir()),
            model: root.join(OyamaStage::Train.dir()),
            gradcam: root.join(OyamaStage::Gradcam.dir()),
        }
    }
}

/// Runs one stage of one system into `out` (the stage's directory).
fn run_stage(
    stage: OyamaStage,
    sys: &SystemDef,
    c: &ReproduceConfig,
    dirs: &SystemDirs,
    out: &Path,
    compute: &Compute,
    ctx: Ctx,
) -> Result<()> {
    match stage {
        OyamaStage::Simulate => {
            let mut o = RunOptions::new(out, c.seed, compute.clone());
            // a killed simulation continues from its checkpoint
            o.resume = out.join(".partial").exists();
            crate::sim::protocol::run(sys, &c.preset.protocol, &o, &ctx)?;
            Ok(())
        }
        OyamaStage::Train => {
            let data = Dataset::load(&dirs.data)?;
            let t = crate::learn::cnn::train(&data, &c.preset.model, compute, ctx)?;
            write_model(out, &t)
        }
        OyamaStage::Gradcam => {
            let data = Dataset::load(&dirs.data)?;
            gradcam_both(compute, &dirs.model, &data, GRADCAM_BATCH, out)
        }
        OyamaStage::Analyze => analyze(c, dirs, out, ctx),
        OyamaStage::Propensity => propensity(sys, c, dirs, out, compute, ctx),
    }
}

/// The structural indicators and their correlations with both classes' Gamma.
fn analyze(c: &ReproduceConfig, dirs: &SystemDirs, out: &Path, ctx: Ctx) -> Result<()> {
    let data = Dataset::load(&dirs.data)?;
    let gamma = GammaSet::load(&dirs.gradcam)?;
    let a = crate::analysis::analyze(
        AnalyzeInput {
            system: &data.manifest.system,
            source: dirs.data.display().to_string(),
            fingerprint: Some(data.fingerprint.clone()),
            configs: crate::analysis::dataset_configs(&data),
            gamma: Some(&gamma),
            coarse: c.analyze,
            skipped: Vec::new(),
        },
        ctx,
    )?;
    crate::analysis::write_analysis(out, &a, true, first_good_glass(dirs)?, Some(&dirs.gradcam))
}

/// The propensity of one glass configuration. One the network got right carries a Gamma to correlate with;
/// without one the propensity still runs (on the first glass test configuration), with no correlation.
fn propensity(
    sys: &SystemDef,
    c: &ReproduceConfig,
    dirs: &SystemDirs,
    out: &Path,
    compute: &Compute,
    ctx: Ctx,
) -> Result<()> {
    let (snapshot, gradcam) = match first_good_glass(dirs)? {
        Some(k) => (k, Some(&dirs.gradcam)),
        None => {
            let g = GammaSet::load(&dirs.gradcam.join(Class::Glass.name()))?;
            let k = *g.index.snapshots.first().ok_or_else(|| {
                Error::Input(format!(
                    "{}: no glass configuration in the test split",
                    sys.name
                ))
            })?;
            ctx.warn(&format!(
                "{}: the network misclassified every glass test configuration; the propensity runs on snapshot \
                 {k} without C(Gamma, 1 - Delta)",
                sys.name
            ));
            (k, None)
        }
    };
    let data = Dataset::load(&dirs.data)?;
    let gamma = gradcam.map(|d| GammaSet::load(d)).transpose()?;
    let mut cfg = EnsembleConfig::preset(Preset::Quick, data.manifest.system.t_star);
    cfg.runs = c.preset.propensity_runs;
    cfg.steps = c.preset.propensity_steps;
    cfg.samples = c.preset.propensity_samples;
    cfg.seed = c.seed;
    let p = crate::sim::propensity::propensity(
        &data,
        snapshot,
        &cfg,
        gamma.as_ref(),
        PROPENSITY_XI,
        compute,
        ctx,
    )?;
    crate::sim::propensity::write_propensity(out, &data, &p, true)
}

/// The first glass configuration of the Grad-CAM set the network got right.
fn first_good_glass(dirs: &SystemDirs) -> Result<Option<usize>> {
    let g = GammaSet::load(&dirs.gradcam.join(Class::Glass.name()))?;
    Ok(g.index
        .snapshots
        .iter()
        .copied()
        .find(|s| !g.index.misclassified.contains(s)))
}

/// What a reproduce run did.
pub type ReproduceOutcome = Outcome<OyamaStage>;

/// Runs the pipeline: every stage whose fingerprint or outputs changed, then `results.json` and `report.html`.
pub fn run(c: &ReproduceConfig, compute: &Compute, ctx: Ctx) -> Result<ReproduceOutcome> {
    for sys in &c.systems {
        crate::io::outdir::check_name("system name", &sys.name)?;
    }
    let total = Instant::now();
    let mut runner = StageRunner::open(&c.out, c.force)?;
    for sys in &c.systems {
        let dirs = SystemDirs::of(&c.out.join(&sys.name));
        let mut fps: BTreeMap<OyamaStage, String> = BTreeMap::new();
        for stage in OyamaStage::ALL {
            let parents: Vec<&str> = stage.parents().iter().map(|p| fps[p].as_str()).collect();
            let call = Call {
                unit: &sys.name,
                stage,
                settings: settings(stage, sys, c),
                parents: &parents,
                backend: backend(stage, c, compute),
            };
            let fp = runner.stage(call, ctx, |out| {
                run_stage(stage, sys, c, &dirs, out, compute, ctx)
            })?;
            fps.insert(stage, fp);
        }
    }
    let names: Vec<&str> = c.systems.iter().map(|s| s.name.as_str()).collect();
    let results = report::collect(&c.out, &names, runner.times(), c.preset.name, compute)?;
    let html = report::render(&c.out, &results)?;
    runner.finish(&results, html, total, ctx)
}
