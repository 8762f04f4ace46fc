//! `glasscam reproduce glassbench`: GlassBench's structure-to-dynamics benchmark from nothing. Quenched `ka2d`
//! starts relaxed at T with the equilibration check (failed starts reported and left out), tau_alpha, the
//! isoconfigurational ensembles on a time grid in units of tau_alpha (targets, noise ceilings and a train/test
//! subset), the inherent structures, the descriptor baselines, the propensity network, and the network scored on
//! the test configurations beside the baselines, the ceiling and GlassBench's published curves; then
//! `report.html` and `results.json`.
//!
//! Stages are recorded and skipped through the shared `StageRunner`, all under the system's unit (`ka2d/starts`,
//! `ka2d/targets`, ...).

use std::path::{Path, PathBuf};
use std::time::Instant;

use glasscam_kernels::Compute;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::analysis::baselines;
use crate::error::{Error, Result};
use crate::events::Ctx;
use crate::io::dataset::Dataset;
use crate::io::json::{read_json, write_json_atomic};
use crate::io::targets::{Subset, Targets, TARGETS};
use crate::learn::dynamics::{self, Gn, GnConfig};
use crate::learn::model::{write_model, Model};
use crate::learn::split::{cut, ReplicaSet};
use crate::pipeline::runner::{Call, Outcome, StageRunner};
use crate::sim::minimize::{minimize, write_inherent, InherentSet, Selection};
use crate::sim::protocol::RunOptions;
use crate::sim::relax::{relax, write_relax, RelaxFile, RELAX};
use crate::sim::targets::{ensemble_targets, write_ensemble_targets, TargetsConfig};

pub mod preset;
pub mod report;
pub mod score;
pub mod stages;

use preset::GlassbenchPreset;
use score::{Curve, MapRecord, Pearson, ScoreFile, SCORE};
pub use stages::{GlassbenchSettings, GlassbenchStage};

/// Everything `reproduce glassbench` needs besides the compute device and the caller's context.
#[derive(Clone, Debug)]
pub struct GlassbenchConfig {
    pub preset: GlassbenchPreset,
    pub out: PathBuf,
    pub force: bool,
}

/// What a `reproduce glassbench` run did.
pub type GlassbenchOutcome = Outcome<GlassbenchStage>;

/// The relaxed starts' data set under the starts stage's directory.
pub const RELAXED: &str = "relaxed";
/// The quench under the starts stage's directory.
pub const QUENCH: &str = "quench";
pub const TAU_ALPHA: &str = "tau_alpha.json";

/// A start left out by the equilibration check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FailedStart {
    /// Its snapshot in the quench.
    pub snapshot: usize,
    pub reason: String,
}

/// `tau_alpha.json`: tau_alpha of the equilibrated starts and the targets' time grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TauRecord {
    pub temperature: f64,
    /// Mean and standard deviation over the equilibrated starts (F_s = 1/e).
    pub tau_alpha: f64,
    pub tau_alpha_spread: f64,
    /// Whether F_s is of cage-relative displacements.
    pub cage: bool,
    pub starts: usize,
    pub equilibrated: usize,
    pub failed: Vec<FailedStart>,
    pub dt: f64,
    /// The targets' time points, in units of tau_alpha and in MD time units.
    pub times_tau: Vec<f64>,
    pub times: Vec<f64>,
}

/// Runs `reproduce glassbench`.
pub fn run(c: &GlassbenchConfig, compute: &Compute, ctx: Ctx) -> Result<GlassbenchOutcome> {
    let total = Instant::now();
    let p = &c.preset;
    p.check()?;
    let sys = p.system()?;
    let unit = sys.name.clone();
    let mut runner = StageRunner::open(&c.out, c.force)?;
    let cpu = Compute::Cpu.describe();

    let starts = runner.stage(
        Call {
            unit: &unit,
            stage: GlassbenchStage::Starts,
            settings: GlassbenchSettings::Starts {
                system: Box::new(sys.clone()),
                protocol: p.protocol(&sys)?,
                relax: p.relax(),
                seed: p.seed,
            },
            parents: &[],
            backend: compute.describe(),
        },
        ctx,
        |dir| starts_stage(p, dir, compute, ctx),
    )?;
    let starts_dir = runner.dir(&unit, GlassbenchStage::Starts);
    let tau = runner.stage(
        Call {
            unit: &unit,
            stage: GlassbenchStage::TauAlpha,
            settings: GlassbenchSettings::TauAlpha {
                times_tau: p.targets.times_tau.clone(),
            },
            parents: &[&starts],
            backend: cpu.clone(),
        },
        ctx,
        |dir| tau_stage(p, &starts_dir, dir),
    )?;
    let tau_dir = runner.dir(&unit, GlassbenchStage::TauAlpha);
    let targets = runner.stage(
        Call {
            unit: &unit,
            stage: GlassbenchStage::Targets,
            settings: GlassbenchSettings::Targets {
                temperature: p.temperature,
                ensembles: p.targets.clone(),
                seed: p.seed,
            },
            parents: &[&starts, &tau],
            backend: compute.describe(),
        },
        ctx,
        |dir| targets_stage(p, (&starts_dir, &tau_dir), dir, compute, ctx),
    )?;
    let targets_dir = runner.dir(&unit, GlassbenchStage::Targets);
    let inherent = runner.stage(
        Call {
            unit: &unit,
            stage: GlassbenchStage::Inherent,
            settings: GlassbenchSettings::Inherent {
                minimize: p.minimize.clone(),
            },
            parents: &[&targets],
            backend: compute.describe(),
        },
        ctx,
        |dir| {
            let data = Dataset::load(&targets_dir)?;
            let inh = minimize(&data, &Selection::All, &p.minimize, compute, &ctx)?;
            write_inherent(dir, &inh, false)
        },
    )?;
    let inherent_dir = runner.dir(&unit, GlassbenchStage::Inherent);
    let bs = p.baselines();
    let baselines = runner.stage(
        Call {
            unit: &unit,
            stage: GlassbenchStage::Baselines,
            settings: GlassbenchSettings::Baselines {
                target: bs.target.clone(),
                lengths: bs.lengths.clone(),
                lambdas: bs.lambdas.clone(),
                split: bs.split,
                seed: bs.seed,
            },
            parents: &[&targets, &inherent],
            backend: cpu.clone(),
        },
        ctx,
        |dir| {
            let data = Dataset::load(&targets_dir)?;
            let t = Targets::load(&targets_dir, &data)?;
            let inh = InherentSet::load(&inherent_dir)?;
            let report = baselines::baselines(&data, &t, Some(&inh), &bs, &ctx)?;
            let out = crate::io::outdir::claim(dir, &[&targets_dir, &inherent_dir], false, false)?;
            baselines::write_baselines(&out, &report, false)
        },
    )?;
    let network = runner.stage(
        Call {
            unit: &unit,
            stage: GlassbenchStage::Network,
            settings: GlassbenchSettings::Network {
                model: p.model.clone(),
            },
            parents: &[&targets, &inherent],
            backend: Gn::backend(&p.model, compute),
        },
        ctx,
        |dir| {
            let data = Dataset::load(&targets_dir)?;
            let inh = inherent_of(&p.model, &inherent_dir)?;
            let t = dynamics::targets::load(&data, &p.model.target)?;
            let trained = dynamics::train(&data, &t, &p.model, inh.as_ref(), compute, ctx)?;
            write_model(dir, &trained)
        },
    )?;
    let network_dir = runner.dir(&unit, GlassbenchStage::Network);
    let baselines_dir = runner.dir(&unit, GlassbenchStage::Baselines);
    runner.stage(
        Call {
            unit: &unit,
            stage: GlassbenchStage::Score,
            settings: GlassbenchSettings::Score {
                target: p.model.target.clone(),
            },
            parents: &[&targets, &inherent, &baselines, &network],
            backend: cpu,
        },
        ctx,
        |dir| {
            score_stage(
                [
                    &targets_dir,
                    &tau_dir,
                    &network_dir,
                    &baselines_dir,
                    &inherent_dir,
                ],
                dir,
                ctx,
            )
        },
    )?;
    let results = report::collect(&c.out, &unit, p, runner.times(), compute)?;
    let html = report::render(&c.out, &unit, &results)?;
    runner.finish(&results, html, total, ctx)
}

/// Quenches the starts, then relaxes those at the preset's temperature with the equilibration check.
fn starts_stage(p: &GlassbenchPreset, dir: &Path, compute: &Compute, ctx: Ctx) -> Result<()> {
    let sys = p.system()?;
    let quench = dir.join(QUENCH);
    let o = RunOptions::new(&quench, p.seed, compute.clone());
    crate::sim::protocol::run(&sys, &p.protocol(&sys)?, &o, &ctx)?;
    let ds = Dataset::load(&quench)?;
    let at_t: Vec<usize> = ds
        .manifest
        .snapshots
        .iter()
        .filter(|m| (m.target_t - p.temperature).abs() < 1e-9)
        .map(|m| m.index)
        .collect();
    let r = relax(&ds, &at_t, &p.relax(), compute, ctx)?;
    write_relax(&dir.join(RELAXED), &ds, &r, false)
}

/// tau_alpha over the equilibrated starts, and the targets' time grid in MD time units.
fn tau_stage(p: &GlassbenchPreset, starts: &Path, dir: &Path) -> Result<()> {
    let r: RelaxFile = read_json(&starts.join(RELAXED).join(RELAX))?;
    let ok: Vec<f64> = r
        .starts
        .iter()
        .filter(|s| s.equilibrated)
        .filter_map(|s| s.tau_alpha)
        .collect();
    if ok.is_empty() {
        return Err(Error::Input(format!(
            "tau_alpha: no equilibrated start reached F_s = 1/e at T = {}; give more `starts.relax_steps`",
            r.temperature
        )));
    }
    let (mean, spread, _) = crate::analysis::stats::mean_std(&ok);
    let failed: Vec<FailedStart> = r
        .starts
        .iter()
        .filter(|s| !s.equilibrated)
        .map(|s| FailedStart {
            snapshot: s.snapshot,
            reason: s.reason.clone().unwrap_or_default(),
        })
        .collect();
    let rec = TauRecord {
        temperature: r.temperature,
        tau_alpha: mean,
        tau_alpha_spread: spread,
        cage: r.cage,
        starts: r.starts.len(),
        equilibrated: r.starts.len() - failed.len(),
        failed,
        dt: r.dt,
        times_tau: p.targets.times_tau.clone(),
        times: p.targets.times_tau.iter().map(|x| x * mean).collect(),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::Input(format!("{}: {e}", dir.display())))?;
    write_json_atomic(&dir.join(TAU_ALPHA), &rec)
}

/// Per configuration, train or test: a seeded cut of `s` configurations with `test_fraction` of them for test;
/// refused unless at least two are for training (training and validation) and one for test.
pub fn subset(s: usize, test_fraction: f64, seed: u64) -> Result<Vec<Subset>> {
    let mut idx: Vec<usize> = (0..s).collect();
    let split = cut(&mut idx, [1.0 - test_fraction, 0.0, test_fraction], seed);
    if split.train.len() < 2 || split.test.is_empty() {
        return Err(Error::Input(format!(
            "targets: {s} configurations with test fraction {test_fraction} leave {} for training and {} for \
             test; give more starts (`starts.replicas`) or another `targets.test_fraction`",
            split.train.len(),
            split.test.len()
        )));
    }
    Ok((0..s)
        .map(|k| match split.test.contains(&k) {
            true => Subset::Test,
            false => Subset::Train,
        })
        .collect())
}

/// The isoconfigurational ensembles of the equilibrated starts on the time grid, with the subset.
fn targets_stage(
    p: &GlassbenchPreset,
    (starts, tau): (&Path, &Path),
    dir: &Path,
    compute: &Compute,
    ctx: Ctx,
) -> Result<()> {
    let data = Dataset::load(&starts.join(RELAXED))?;
    let t: TauRecord = read_json(&tau.join(TAU_ALPHA))?;
    let s = data.n_snapshots();
    let want = p.targets.configurations.unwrap_or(s);
    if want > s {
        ctx.warn(&format!(
            "targets: {s} starts passed the equilibration check, fewer than the {want} configurations asked for; \
             all {s} are used"
        ));
    }
    let snaps: Vec<usize> = (0..want.min(s)).collect();
    let last = t.times.last().copied().unwrap_or(0.0);
    let cfg = TargetsConfig {
        temperature: p.temperature,
        runs: p.targets.runs,
        steps: ((last / t.dt).ceil() as u64).max(1),
        times: Some(t.times.clone()),
        samples: t.times.len(),
        seed: p.seed,
        cage: true,
    };
    let mut run = ensemble_targets(&data, &snaps, &cfg, compute, ctx)?;
    run.meta.tau_alpha = Some(t.tau_alpha);
    run.meta.tau_alpha_spread = Some(t.tau_alpha_spread);
    run.meta.subset = Some(subset(snaps.len(), p.targets.test_fraction, p.seed)?);
    write_ensemble_targets(dir, &data, &snaps, &mut run, false)?;
    Ok(())
}

/// The inherent structures in `dir` for a network that takes them.
fn inherent_of(model: &GnConfig, dir: &Path) -> Result<Option<InherentSet>> {
    model.inherent.then(|| InherentSet::load(dir)).transpose()
}

/// The network's predictions on its test configurations, scored per configuration; the figures.
fn score_stage(
    [targets, tau, network, baselines, inherent]: [&Path; 5],
    dir: &Path,
    ctx: Ctx,
) -> Result<()> {
    let data = Dataset::load(targets)?;
    let t: TauRecord = read_json(&tau.join(TAU_ALPHA))?;
    let model = Gn::load(network)?;
    let target = model.file.config.target.clone();
    let inh = inherent_of(&model.file.config, inherent)?;
    let pred = dynamics::predict(&model, network, &data, ReplicaSet::Test, inh.as_ref(), ctx)?;
    dynamics::write_predictions(dir, &pred, false)?;
    let truth = dynamics::targets::load(&data, &target)?;
    let snaps = &pred.file.snapshots;
    let a: Vec<bool> = data.species.iter().map(|&s| s == 0).collect();
    let network_r = Pearson {
        a: score::per_configuration(&pred.values, &truth, snaps, &a),
        all: score::per_configuration(&pred.values, &truth, snaps, &vec![true; a.len()]),
    };
    let meta: crate::io::targets::TargetsMeta = read_json(&targets.join(TARGETS))?;
    let ceiling = meta.noise_ceiling.get(&target).cloned().unwrap_or_default();
    let times_tau: Vec<f64> = truth.times.iter().map(|x| x / t.tau_alpha).collect();
    // the field map: the first test configuration at the time point nearest tau_alpha
    let j = (0..times_tau.len())
        .min_by(|&x, &y| times_tau[x].ln().abs().total_cmp(&times_tau[y].ln().abs()))
        .unwrap_or(0);
    let (nt, n) = (truth.n_times(), data.n_particles());
    let k0 = *snaps.first().ok_or_else(|| {
        Error::Input("score: the network's split has no test configuration".into())
    })?;
    let p0: Vec<f64> = pred.values[j * n..(j + 1) * n]
        .iter()
        .map(|&x| f64::from(x))
        .collect();
    let y0: Vec<f64> = truth.values[(k0 * nt + j) * n..(k0 * nt + j + 1) * n]
        .iter()
        .map(|&x| f64::from(x))
        .collect();
    score::field_map_pair(&dir.join("map"), &data, k0, times_tau[j], [&p0, &y0])?;
    let map_r = score::per_configuration(&pred.values[..nt * n], &truth, &[k0], &a)[j];
    let mut curves = vec![
        Curve::of("network".into(), &times_tau, &network_r.a),
        Curve::of("noise ceiling".into(), &times_tau, &ceiling),
    ];
    curves.extend(report::baseline_curves(baselines, &times_tau)?);
    // beside GlassBench's: the network, the ceiling and ridge (the first baseline curve)
    score::pearson_figure(
        &dir.join("pearson"),
        &format!("{target}: Pearson per time point, T = {}", meta.temperature),
        (curves, 3),
        &preset::published()?,
    )?;
    write_json_atomic(
        &dir.join(SCORE),
        &ScoreFile {
            format_version: score::FORMAT_VERSION,
            target,
            times: truth.times.clone(),
            times_tau: times_tau.clone(),
            tau_alpha: t.tau_alpha,
            test_snapshots: snaps.clone(),
            network: network_r,
            ceiling,
            map: MapRecord {
                snapshot: k0,
                t_tau: times_tau[j],
                pearson_a: map_r,
            },
        },
    )
}
