//! `glasscam reproduce`: simulate, train, Grad-CAM, analyze and propensity for one or both systems, then one
//! self-contained `report.html` and `results.json` with every number in it.
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
use sha2::{Digest, Sha256};

use crate::analysis::{AnalyzeInput, CoarseGrain, GammaSet, GradcamIndex};
use crate::domain::{Class, Preset};
use crate::error::{Error, Result};
use crate::events::Ctx;
use crate::io::dataset::{write_json_atomic, Dataset};
use crate::io::outdir::OutDir;
use crate::learn::cnn::{Covered, ModelConfig, ReplicaSet};
use crate::learn::gnn::MpnnConfig;
use crate::pipeline::oyama::report::StageTime;
pub use crate::pipeline::stages::Stage;
use crate::pipeline::swanson::preset::TaskInput;
use crate::sim::minimize::MinimizeSettings;
use crate::sim::propensity::EnsembleConfig;
use crate::sim::protocol::{Protocol, RunOptions};
use crate::sim::system::SystemDef;

pub mod report;
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
                // G 64, small network with the mean head, 300 epochs (see ModelConfig::quick): about 40 s on a CPU
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

/// What a stage ran with: its own settings only (what it reads enters its fingerprint through its parents').
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageSettings {
    Simulate {
        system: SystemDef,
        protocol: Protocol,
        seed: u64,
    },
    Train {
        model: ModelConfig,
    },
    Gradcam {
        split: ReplicaSet,
        batch: usize,
    },
    Analyze {
        xi: f64,
        cutoff: f64,
    },
    Propensity {
        runs: usize,
        steps: u64,
        samples: usize,
        seed: u64,
        xi: f64,
    },
    /// A ramp of `reproduce swanson` (its protocol carries the ramp's snapshot temperatures).
    Ramp {
        system: SystemDef,
        ramp: crate::pipeline::swanson::preset::RampSettings,
        minimize: MinimizeSettings,
        seed: u64,
    },
    Tasks {
        tasks: Vec<String>,
        /// Seed of the null task's labels.
        seed: u64,
        /// Left out when `snapshots`, so that the stage's fingerprint is the one it had before the choice existed.
        #[serde(default, skip_serializing_if = "TaskInput::is_snapshots")]
        input: TaskInput,
    },
    #[serde(rename = "train-cnn")]
    TrainCnn {
        model: ModelConfig,
    },
    #[serde(rename = "train-mpnn")]
    TrainMpnn {
        model: MpnnConfig,
    },
    Evaluate {
        tasks: Vec<String>,
    },
    Attention {
        task: String,
        threshold: f64,
    },
}

/// Images per Grad-CAM batch.
const GRADCAM_BATCH: usize = 32;
/// The propensity's coarse-graining length: the paper's, whatever the analyze stage uses.
const PROPENSITY_XI: f64 = 3.0;

impl StageSettings {
    fn of(stage: Stage, sys: &SystemDef, c: &ReproduceConfig) -> Result<StageSettings> {
        Ok(match stage {
            Stage::Simulate => StageSettings::Simulate {
                system: sys.clone(),
                protocol: c.preset.protocol.clone(),
                seed: c.seed,
            },
            Stage::Train => StageSettings::Train {
                model: c.preset.model.clone(),
            },
            Stage::Gradcam => StageSettings::Gradcam {
                split: ReplicaSet::Test,
                batch: GRADCAM_BATCH,
            },
            Stage::Analyze => StageSettings::Analyze {
                xi: c.analyze.xi,
                cutoff: c.analyze.cutoff_factor,
            },
            Stage::Propensity => StageSettings::Propensity {
                runs: c.preset.propensity_runs,
                steps: c.preset.propensity_steps,
                samples: c.preset.propensity_samples,
                seed: c.seed,
                xi: PROPENSITY_XI,
            },
            other => {
                return Err(Error::Input(format!(
                    "{other} is not a stage of the main paper's pipeline"
                )))
            }
        })
    }
}

/// Hex SHA-256 of the stage, its settings and its parents' fingerprints.
fn fingerprint(stage: Stage, settings: &StageSettings, parents: &[&str]) -> Result<String> {
    let mut h = Sha256::new();
    h.update(stage.name().as_bytes());
    h.update([0]);
    h.update(
        serde_json::to_vec(settings).map_err(|e| Error::Input(format!("{stage} settings: {e}")))?,
    );
    for p in parents {
        h.update([0]);
        h.update(p.as_bytes());
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether a recorded stage finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    /// Started and not (yet) finished: its directory is this run's to redo or resume.
    Started,
    Done,
}

/// One stage of one system as `stages.json` records it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageRecord {
    pub system: String,
    pub stage: Stage,
    pub status: StageStatus,
    pub fingerprint: String,
    pub settings: StageSettings,
    pub seconds: f64,
    pub backend: String,
    /// Files (relative to the output directory) that must exist for the stage to count as done.
    pub outputs: Vec<String>,
}

pub const STAGES_FORMAT_VERSION: u32 = 2;

/// `stages.json`: which stage directories under the output directory this pipeline wrote, and with what.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StagesFile {
    pub format_version: u32,
    /// By `system/stage`.
    pub records: BTreeMap<String, StageRecord>,
}

fn stages_path(out: &Path) -> PathBuf {
    out.join("stages.json")
}

/// Reads `stages.json`; a missing one is empty, an unreadable one an error (it is what lets a rerun delete
/// anything), unless `force`.
fn load_records(out: &Path, force: bool) -> Result<BTreeMap<String, StageRecord>> {
    let path = stages_path(out);
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let parsed = std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<StagesFile>(&t).map_err(|e| e.to_string()))
        .and_then(|f| {
            if f.format_version == STAGES_FORMAT_VERSION {
                Ok(f.records)
            } else {
                Err(format!(
                    "format version {} (this glasscam writes {STAGES_FORMAT_VERSION})",
                    f.format_version
                ))
            }
        });
    match parsed {
        Ok(r) => Ok(r),
        Err(_) if force => Ok(BTreeMap::new()),
        Err(e) => Err(Error::Input(format!(
            "{}: cannot read the stage records ({e}). They tell which directories under {} this pipeline wrote, \
             so nothing is skipped or deleted without them. Restore the file, or rerun with --force to redo every \
             stage (replacing the stage directories under {})",
            path.display(),
            out.display(),
            out.display()
        ))),
    }
}

fn save_records(out: &Path, records: &BTreeMap<String, StageRecord>) -> Result<()> {
    write_json_atomic(
        &stages_path(out),
        &StagesFile {
            format_version: STAGES_FORMAT_VERSION,
            records: records.clone(),
        },
    )
}

/// What a reproduce run did.
#[derive(Clone, Debug, Default)]
pub struct ReproduceOutcome {
    pub report: PathBuf,
    pub results: PathBuf,
    /// (system, stage) that ran in this call, in order.
    pub ran: Vec<(String, Stage)>,
    /// (system, stage) that were done before with the same fingerprint.
    pub skipped: Vec<(String, Stage)>,
}

/// Grad-CAM of each class over its own test configurations, joined into one directory for `analyze`.
pub(crate) fn gradcam_both(
    compute: &Compute,
    model: &Path,
    data: &Dataset,
    out: &Path,
) -> Result<()> {
    let (file, _) = crate::learn::cnn::model::load(model)?;
    let mut rows: Vec<f64> = Vec::new();
    let mut index = GradcamIndex {
        format_version: crate::analysis::gamma::GRADCAM_FORMAT_VERSION,
        snapshots: Vec::new(),
        misclassified: Vec::new(),
        target_class: "own class (glass for glass configurations, liquid for liquid ones)".into(),
        data: Some(data.dir.display().to_string()),
        data_fingerprint: Some(data.fingerprint.clone()),
    };
    for class in [Class::Glass, Class::Liquid] {
        let snapshots =
            crate::learn::cnn::select_snapshots(data, &file, Covered::of(class), ReplicaSet::Test)?;
        let r = crate::learn::cnn::gradcam(compute, model, data, class, &snapshots, GRADCAM_BATCH)?;
        crate::learn::cnn::write_gradcam(&out.join(class.name()), &r)?;
        rows.extend_from_slice(&r.gamma);
        index.snapshots.extend(&r.file.snapshots);
        index.misclassified.extend(&r.file.misclassified);
    }
    GammaSet::write(out, &index, data.n_particles(), &rows)
}

/// Runs one stage of one system into `dir` (the system's directory).
fn run_stage(
    stage: Stage,
    sys: &SystemDef,
    c: &ReproduceConfig,
    dir: &Path,
    compute: &Compute,
    ctx: Ctx,
) -> Result<()> {
    let data_dir = dir.join(Stage::Simulate.dir());
    let model_dir = dir.join(Stage::Train.dir());
    let gradcam_dir = dir.join(Stage::Gradcam.dir());
    let out = dir.join(stage.dir());
    match stage {
        Stage::Simulate => {
            let mut o = RunOptions::new(&out, c.seed, compute.clone());
            // a killed simulation continues from its checkpoint
            o.resume = out.join(".partial").exists();
            crate::sim::protocol::run(sys, &c.preset.protocol, &o, &ctx)?;
        }
        Stage::Train => {
            let data = Dataset::load(&data_dir)?;
            let t = crate::learn::cnn::train(&data, &c.preset.model, compute, ctx)?;
            crate::learn::cnn::write_model(&out, &t)?;
        }
        Stage::Gradcam => {
            let data = Dataset::load(&data_dir)?;
            gradcam_both(compute, &model_dir, &data, &out)?;
        }
        Stage::Analyze => {
            let data = Dataset::load(&data_dir)?;
            let gamma = GammaSet::load(&gradcam_dir)?;
            let a = crate::analysis::analyze(
                AnalyzeInput {
                    system: &data.manifest.system,
                    source: data_dir.display().to_string(),
                    fingerprint: Some(data.fingerprint.clone()),
                    configs: crate::analysis::dataset_configs(&data),
                    gamma: Some(&gamma),
                    coarse: c.analyze,
                    skipped: Vec::new(),
                },
                ctx,
            )?;
            crate::analysis::write_analysis(
                &out,
                &a,
                true,
                first_good_glass(dir)?,
                Some(&gradcam_dir),
            )?;
        }
        Stage::Propensity => {
            // A glass configuration the network got right carries a Gamma to correlate with; without one the
            // propensity still runs (on the first glass test configuration), with no correlation.
            let (snapshot, gradcam) = match first_good_glass(dir)? {
                Some(k) => (k, Some(gradcam_dir)),
                None => {
                    let g = GammaSet::load(&gradcam_dir.join(Class::Glass.name()))?;
                    let k = *g.index.snapshots.first().ok_or_else(|| {
                        Error::Input(format!(
                            "{}: no glass configuration in the test split",
                            sys.name
                        ))
                    })?;
                    ctx.warn(&format!(
                        "{}: the network misclassified every glass test configuration; the propensity runs on \
                         snapshot {k} without C(Gamma, 1 - Delta)",
                        sys.name
                    ));
                    (k, None)
                }
            };
            let data = Dataset::load(&data_dir)?;
            let gamma = gradcam.map(|d| GammaSet::load(&d)).transpose()?;
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
            crate::sim::propensity::write_propensity(&out, &data, &p, true)?;
        }
        other => {
            return Err(Error::Input(format!(
                "{other} is not a stage of the main paper's pipeline"
            )))
        }
    }
    Ok(())
}

/// The first glass configuration of the Grad-CAM set the network got right.
fn first_good_glass(dir: &Path) -> Result<Option<usize>> {
    let g = GammaSet::load(&dir.join(Stage::Gradcam.dir()).join(Class::Glass.name()))?;
    Ok(g.index
        .snapshots
        .iter()
        .copied()
        .find(|s| !g.index.misclassified.contains(s)))
}

/// The stage records of one output directory (`stages.json`) and the rule every stage goes through: skip it when
/// its fingerprint is recorded as done and its outputs exist, otherwise record it as started, clear its directory
/// (only if `stages.json` records it, or on `force`), run it, and record it as done with its time.
pub(crate) struct StageRunner<'a> {
    out: &'a Path,
    root: OutDir,
    records: BTreeMap<String, StageRecord>,
    force: bool,
    backend: String,
    pub outcome: ReproduceOutcome,
}

impl<'a> StageRunner<'a> {
    /// Locks `out` and reads its `stage.json`.
    pub(crate) fn open(out: &'a Path, force: bool, compute: &Compute) -> Result<StageRunner<'a>> {
        let root = OutDir::lock(out)?;
        let records = load_records(out, force)?;
        Ok(StageRunner {
            out,
            root,
            records,
            force,
            backend: compute.describe(),
            outcome: ReproduceOutcome::default(),
        })
    }

    /// The directory stage `stage` of `unit` (a system, a ramp, a task, or the pipeline's own) owns.
    pub(crate) fn dir(&self, unit: &str, stage: Stage) -> PathBuf {
        self.out.join(unit).join(stage.dir())
    }

    /// Runs `stage` of `unit` with `run(stage directory)` unless it is done with the same fingerprint; returns the
    /// fingerprint, which the stages that read this one's outputs take as a parent.
    pub(crate) fn stage(
        &mut self,
        unit: &str,
        stage: Stage,
        settings: StageSettings,
        parents: &[&str],
        ctx: Ctx,
        run: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<String> {
        ctx.cancel.check()?;
        let fp = fingerprint(stage, &settings, parents)?;
        let key = format!("{unit}/{stage}");
        let outputs: Vec<String> = stage
            .outputs()
            .iter()
            .map(|f| format!("{unit}/{}/{f}", stage.dir()))
            .collect();
        let rec = self.records.get(&key);
        let same = rec.is_some_and(|r| r.fingerprint == fp);
        if same
            && rec.is_some_and(|r| r.status == StageStatus::Done)
            && outputs.iter().all(|f| self.out.join(f).exists())
        {
            ctx.note(&format!("reproduce: {key}: done before, skipped"));
            self.outcome.skipped.push((unit.to_string(), stage));
            return Ok(fp);
        }
        let stage_dir = self.dir(unit, stage);
        // Only an interrupted simulation with these settings is continued; anything else starts over.
        let resumable = matches!(stage, Stage::Simulate | Stage::Ramp)
            && same
            && stage_dir.join(".partial").exists();
        if stage_dir.exists() && !resumable {
            if rec.is_none() && !self.force {
                return Err(Error::Input(format!(
                    "{} exists but {} does not record it as this pipeline's: it is left alone. Move it away, \
                     or rerun with --force to replace it",
                    stage_dir.display(),
                    stages_path(self.out).display()
                )));
            }
            // ours: recorded in stages.json, or replaced on the user's --force
            self.root.adopt(&stage_dir)?;
            self.root.remove_dir(&stage_dir)?;
        }
        let mut record = StageRecord {
            system: unit.to_string(),
            stage,
            status: StageStatus::Started,
            fingerprint: fp.clone(),
            settings,
            seconds: 0.0,
            backend: self.backend.clone(),
            outputs,
        };
        // Recorded before it starts, so that an interrupted stage's directory is known to be ours.
        self.records.insert(key.clone(), record.clone());
        save_records(self.out, &self.records)?;
        ctx.note(&format!("reproduce: {key} ..."));
        let t0 = Instant::now();
        run(&stage_dir)?;
        record.status = StageStatus::Done;
        record.seconds = t0.elapsed().as_secs_f64();
        ctx.note(&format!("reproduce: {key} done in {:.1} s", record.seconds));
        self.records.insert(key, record);
        save_records(self.out, &self.records)?;
        self.outcome.ran.push((unit.to_string(), stage));
        Ok(fp)
    }

    /// Every recorded stage's time, for the report.
    pub(crate) fn times(&self) -> Vec<StageTime> {
        self.records
            .values()
            .map(|r| StageTime {
                system: r.system.clone(),
                stage: r.stage,
                seconds: r.seconds,
                backend: r.backend.clone(),
            })
            .collect()
    }

    /// Writes `results.json` and `report.html` and returns what ran.
    pub(crate) fn finish<T: Serialize>(
        mut self,
        results: &T,
        html: String,
        started: Instant,
        ctx: Ctx,
    ) -> Result<ReproduceOutcome> {
        self.outcome.results = self.out.join("results.json");
        write_json_atomic(&self.outcome.results, results)?;
        self.outcome.report = self.out.join("report.html");
        crate::io::outdir::write_atomic(&self.outcome.report, html.as_bytes())?;
        ctx.note(&format!(
            "reproduce: report in {} ({:.1} s this run)",
            self.outcome.report.display(),
            started.elapsed().as_secs_f64()
        ));
        Ok(self.outcome)
    }
}

/// Runs the pipeline: every stage whose fingerprint or outputs changed, then `results.json` and `report.html`.
pub fn run(c: &ReproduceConfig, compute: &Compute, ctx: Ctx) -> Result<ReproduceOutcome> {
    for sys in &c.systems {
        crate::io::outdir::check_name("system name", &sys.name)?;
    }
    let total = Instant::now();
    let mut runner = StageRunner::open(&c.out, c.force, compute)?;
    for sys in &c.systems {
        let sys_dir = c.out.join(&sys.name);
        let mut fps: BTreeMap<Stage, String> = BTreeMap::new();
        for stage in Stage::OYAMA {
            let parents: Vec<&str> = stage.parents().iter().map(|p| fps[p].as_str()).collect();
            let fp = runner.stage(
                &sys.name,
                stage,
                StageSettings::of(stage, sys, c)?,
                &parents,
                ctx,
                |_| run_stage(stage, sys, c, &sys_dir, compute, ctx),
            )?;
            fps.insert(stage, fp);
        }
    }
    let names: Vec<&str> = c.systems.iter().map(|s| s.name.as_str()).collect();
    let results = crate::pipeline::oyama::report::collect(
        &c.out,
        &names,
        runner.times(),
        c.preset.name,
        compute,
    )?;
    let html = crate::pipeline::oyama::report::render(&c.out, &results)?;
    runner.finish(&results, html, total, ctx)
}
