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
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::analysis::{AnalyzeInput, CoarseGrain, GammaSet, GradcamIndex};
use crate::dataset::{write_json_atomic, Dataset};
use crate::domain::{Class, Preset};
use crate::error::{Error, IoContext, Result};
use crate::events::Ctx;
use crate::nn::{Covered, ModelConfig, ReplicaSet};
use crate::outdir::OutDir;
use crate::propensity::EnsembleConfig;
use crate::protocol::{Protocol, RunOptions};
use crate::system::SystemDef;

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

/// A stage of the pipeline, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Simulate,
    Train,
    Gradcam,
    Analyze,
    Propensity,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Simulate,
        Stage::Train,
        Stage::Gradcam,
        Stage::Analyze,
        Stage::Propensity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Simulate => "simulate",
            Stage::Train => "train",
            Stage::Gradcam => "gradcam",
            Stage::Analyze => "analyze",
            Stage::Propensity => "propensity",
        }
    }

    /// The directory (under the system's) that the stage writes and owns.
    pub fn dir(self) -> &'static str {
        match self {
            Stage::Simulate => "data",
            Stage::Train => "model",
            Stage::Gradcam => "gradcam",
            Stage::Analyze => "analysis",
            Stage::Propensity => "propensity",
        }
    }

    /// The stages whose outputs this one reads.
    pub fn parents(self) -> &'static [Stage] {
        match self {
            Stage::Simulate => &[],
            Stage::Train => &[Stage::Simulate],
            Stage::Gradcam => &[Stage::Simulate, Stage::Train],
            Stage::Analyze | Stage::Propensity => &[Stage::Simulate, Stage::Gradcam],
        }
    }

    /// Files (relative to the stage directory) that must exist for the stage to count as done.
    fn outputs(self) -> &'static [&'static str] {
        match self {
            Stage::Simulate => &["manifest.json", "positions.npy"],
            Stage::Train => &["metrics.json", "model.safetensors"],
            Stage::Gradcam => &["gradcam.json", "gamma.npy"],
            Stage::Analyze => &["summary.json", "correlations.csv"],
            Stage::Propensity => &["curves.json"],
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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
}

/// Images per Grad-CAM batch.
const GRADCAM_BATCH: usize = 32;
/// The propensity's coarse-graining length: the paper's, whatever the analyze stage uses.
const PROPENSITY_XI: f64 = 3.0;

impl StageSettings {
    fn of(stage: Stage, sys: &SystemDef, c: &ReproduceConfig) -> StageSettings {
        match stage {
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
        }
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

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).at(path)?;
    serde_json::from_str(&text).map_err(|e| Error::Input(format!("{}: {e}", path.display())))
}

/// Grad-CAM of each class over its own test configurations, joined into one directory for `analyze`.
fn gradcam_both(compute: &Compute, model: &Path, data: &Dataset, out: &Path) -> Result<()> {
    let (file, _) = crate::nn::model::load(model)?;
    let mut rows: Vec<f64> = Vec::new();
    let mut index = GradcamIndex {
        format_version: crate::analysis::gamma::GRADCAM_FORMAT_VERSION,
        snapshots: Vec::new(),
        misclassified: Vec::new(),
        target_class: "own class (glass for glass configurations, liquid for liquid ones)".into(),
    };
    for class in [Class::Glass, Class::Liquid] {
        let snapshots =
            crate::nn::select_snapshots(data, &file, Covered::of(class), ReplicaSet::Test)?;
        let r = crate::nn::gradcam(compute, model, data, class, &snapshots, GRADCAM_BATCH)?;
        crate::nn::write_gradcam(&out.join(class.name()), &r)?;
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
            crate::protocol::run(sys, &c.preset.protocol, &o, &ctx)?;
        }
        Stage::Train => {
            let data = Dataset::load(&data_dir)?;
            let t = crate::nn::train(&data, &c.preset.model, compute, ctx)?;
            crate::nn::write_model(&out, &t)?;
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
            let p = crate::propensity::propensity(
                &data,
                snapshot,
                &cfg,
                gamma.as_ref(),
                PROPENSITY_XI,
                compute,
                ctx,
            )?;
            crate::propensity::write_propensity(&out, &data, &p, true)?;
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

/// Runs the pipeline: every stage whose fingerprint or outputs changed, then `results.json` and `report.html`.
pub fn run(c: &ReproduceConfig, compute: &Compute, ctx: Ctx) -> Result<ReproduceOutcome> {
    for sys in &c.systems {
        crate::outdir::check_name("system name", &sys.name)?;
    }
    let mut root = OutDir::lock(&c.out)?;
    let mut records = load_records(&c.out, c.force)?;
    let mut outcome = ReproduceOutcome::default();
    let total = Instant::now();
    for sys in &c.systems {
        let sys_dir = c.out.join(&sys.name);
        let mut fps: BTreeMap<Stage, String> = BTreeMap::new();
        for stage in Stage::ALL {
            ctx.cancel.check()?;
            let settings = StageSettings::of(stage, sys, c);
            let parents: Vec<&str> = stage.parents().iter().map(|p| fps[p].as_str()).collect();
            let fp = fingerprint(stage, &settings, &parents)?;
            fps.insert(stage, fp.clone());
            let key = format!("{}/{stage}", sys.name);
            let outputs: Vec<String> = stage
                .outputs()
                .iter()
                .map(|f| format!("{}/{}/{f}", sys.name, stage.dir()))
                .collect();
            let rec = records.get(&key);
            let same = rec.is_some_and(|r| r.fingerprint == fp);
            if same
                && rec.is_some_and(|r| r.status == StageStatus::Done)
                && outputs.iter().all(|f| c.out.join(f).exists())
            {
                ctx.note(&format!("reproduce: {key}: done before, skipped"));
                outcome.skipped.push((sys.name.clone(), stage));
                continue;
            }
            let stage_dir = sys_dir.join(stage.dir());
            // Only an interrupted simulation with these settings is continued; anything else starts over.
            let resumable = stage == Stage::Simulate && same && stage_dir.join(".partial").exists();
            if stage_dir.exists() && !resumable {
                if rec.is_none() && !c.force {
                    return Err(Error::Input(format!(
                        "{} exists but {} does not record it as this pipeline's: it is left alone. Move it away, \
                         or rerun with --force to replace it",
                        stage_dir.display(),
                        stages_path(&c.out).display()
                    )));
                }
                // ours: recorded in stages.json, or replaced on the user's --force
                root.adopt(&stage_dir)?;
                root.remove_dir(&stage_dir)?;
            }
            let mut record = StageRecord {
                system: sys.name.clone(),
                stage,
                status: StageStatus::Started,
                fingerprint: fp,
                settings,
                seconds: 0.0,
                backend: compute.describe(),
                outputs,
            };
            // Recorded before it starts, so that an interrupted stage's directory is known to be ours.
            records.insert(key.clone(), record.clone());
            save_records(&c.out, &records)?;
            ctx.note(&format!("reproduce: {key} ..."));
            let t0 = Instant::now();
            run_stage(stage, sys, c, &sys_dir, compute, ctx)?;
            record.status = StageStatus::Done;
            record.seconds = t0.elapsed().as_secs_f64();
            ctx.note(&format!("reproduce: {key} done in {:.1} s", record.seconds));
            records.insert(key, record);
            save_records(&c.out, &records)?;
            outcome.ran.push((sys.name.clone(), stage));
        }
    }
    let results = collect_results(&c.out, &c.systems, &records, &c.preset, compute)?;
    outcome.results = c.out.join("results.json");
    write_json_atomic(&outcome.results, &results)?;
    let html = report_html(&c.out, &results)?;
    outcome.report = c.out.join("report.html");
    std::fs::write(&outcome.report, html).at(&outcome.report)?;
    ctx.note(&format!(
        "reproduce: report in {} ({:.1} s this run)",
        outcome.report.display(),
        total.elapsed().as_secs_f64()
    ));
    Ok(outcome)
}

/// The paper's numbers (Table II and §3's correlations) beside which ours are shown.
fn paper_numbers(system: &str) -> Value {
    match system {
        "abm" => json!({
            "accuracy": {"glass": 1.00, "liquid": 1.00},
            "correlation_glass_mean": {"gamma_upsilon": 0.552, "gamma_1mtheta": 0.403, "1mtheta_upsilon": 0.355},
            "signs": "C(Gamma, 1 - Theta) > 0 for glasses, < 0 for liquids",
            "propensity_peak": 0.61,
        }),
        "kam" => json!({
            "accuracy": {"glass": 1.00, "liquid": 0.998},
            "signs": "C(Gamma, Upsilon) < 0 and C(Gamma, 1 - Theta) < 0 for glasses; only C(Gamma, Upsilon) changes sign between glass and liquid",
            "propensity_peak": 0.68,
        }),
        _ => json!({}),
    }
}

fn hardware() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    json!({"cpu": cpu, "threads": rayon::current_num_threads(), "os": std::env::consts::OS})
}

fn collect_results(
    out: &Path,
    systems: &[SystemDef],
    records: &BTreeMap<String, StageRecord>,
    preset: &ReproducePreset,
    compute: &Compute,
) -> Result<Value> {
    let mut per = serde_json::Map::new();
    for sys in systems {
        let dir = out.join(&sys.name);
        let metrics = read_json(&dir.join("model/metrics.json"))?;
        let summary = read_json(&dir.join("analysis/summary.json"))?;
        let curves = read_json(&dir.join("propensity/curves.json"))?;
        let manifest = read_json(&dir.join("data/manifest.json"))?;
        let gc = read_json(&dir.join("gradcam/gradcam.json"))?;
        per.insert(
            sys.name.clone(),
            json!({
                "data": {
                    "replicas": manifest["n_replicas"],
                    "snapshots": manifest["snapshots"].as_array().map_or(0, |v| v.len()),
                    "failed_replicas": manifest["failed"],
                    "backend": manifest["backend"],
                },
                "classification": {
                    "test": metrics["test"],
                    "validation": metrics["validation"],
                    "epochs": metrics["epochs"],
                    "best_epoch": metrics["best_epoch"],
                    "train_samples_per_s": metrics["train_samples_per_s"],
                },
                "gradcam": {
                    "configurations": gc["snapshots"].as_array().map_or(0, |v| v.len()),
                    "misclassified": gc["misclassified"],
                },
                "correlations": summary,
                "propensity": {
                    "snapshot": curves["snapshot"],
                    "temps": curves["temps"],
                    "runs": curves["runs"],
                    "times": curves["times"],
                    "delta": curves["delta"],
                    "correlation": curves["correlation"],
                    "peaks": curves["peaks"],
                    "particle_steps_per_s": curves["particle_steps_per_s"],
                },
                "paper": paper_numbers(&sys.name),
            }),
        );
    }
    Ok(json!({
        "program_version": env!("CARGO_PKG_VERSION"),
        "preset": preset,
        "backend": compute.describe(),
        "hardware": hardware(),
        "stages": records.values().collect::<Vec<_>>(),
        "systems": per,
    }))
}

fn img(path: &Path) -> String {
    use base64::Engine;
    match std::fs::read(path) {
        Ok(bytes) => format!(
            "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
            path.file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default(),
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ),
        Err(_) => format!(
            "<p class=\"missing\">(figure {} missing)</p>",
            path.display()
        ),
    }
}

fn num(v: &Value) -> String {
    v.as_f64().map_or("&ndash;".into(), |x| format!("{x:.3}"))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The self-contained HTML report (figures embedded as data URIs).
pub fn report_html(out: &Path, r: &Value) -> Result<String> {
    let mut h = String::new();
    h.push_str(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>glasscam report</title><style>\
         body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}\
         table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 10px;text-align:right}\
         th{background:#eee}td:first-child,th:first-child{text-align:left}img{max-width:520px;margin:4px}\
         .missing{color:#a00}.note{color:#555;font-size:90%}</style></head><body>",
    );
    h.push_str("<h1>glasscam: what deep networks find in glasses</h1>");
    h.push_str(&format!(
        "<p>Reproduction of Oyama, Koyama &amp; Kawasaki (2022). Preset <b>{}</b>, glasscam {}, backend {}, \
         hardware: {} ({} threads).</p>",
        esc(r["preset"]["name"].as_str().unwrap_or("?")),
        esc(r["program_version"].as_str().unwrap_or("?")),
        esc(r["backend"].as_str().unwrap_or("?")),
        esc(r["hardware"]["cpu"].as_str().unwrap_or("?")),
        r["hardware"]["threads"]
    ));
    let systems = r["systems"].as_object().cloned().unwrap_or_default();

    h.push_str("<h2>Classification (the paper's Table II)</h2><table><tr><th>system</th><th>test configurations</th>\
                <th>accuracy glass</th><th>paper</th><th>accuracy liquid</th><th>paper</th><th>ROC AUC</th><th>epochs (best)</th></tr>");
    for (name, s) in &systems {
        let t = &s["classification"]["test"];
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td></tr>",
            esc(name),
            t["n"],
            num(&t["accuracy"]["glass"]),
            num(&s["paper"]["accuracy"]["glass"]),
            num(&t["accuracy"]["liquid"]),
            num(&s["paper"]["accuracy"]["liquid"]),
            num(&t["roc_auc"]),
            s["classification"]["epochs"],
            s["classification"]["best_epoch"]
        ));
    }
    h.push_str("</table>");

    h.push_str("<h2>Correlations between Gamma and the structural indicators (Fig. 3)</h2>\
                <p class=\"note\">Pearson coefficients per configuration, coarse-grained (xi = 3) and normalised; \
                mean &plusmn; standard deviation over the test configurations the network classified correctly.</p>\
                <table><tr><th>system</th><th>class</th><th>pair</th><th>mean</th><th>std</th><th>n</th><th>paper</th>\
                <th>sign as the paper</th></tr>");
    let (mut agree, mut compared) = (0, 0);
    for (name, s) in &systems {
        for row in s["correlations"].as_array().cloned().unwrap_or_default() {
            if row["method"] != "pearson" {
                continue;
            }
            let pair = row["pair"].as_str().unwrap_or("");
            let paper = match (&row["paper"], row["class"].as_str(), name.as_str()) {
                (Value::String(p), _, _) => esc(p),
                (_, Some("glass"), "abm") => num(&s["paper"]["correlation_glass_mean"][pair]),
                _ => "&ndash;".into(),
            };
            let agrees = row["sign_agrees"].as_bool();
            if let Some(a) = agrees {
                compared += 1;
                agree += usize::from(a);
            }
            let sign = match agrees {
                Some(true) => "yes",
                Some(false) => "<b>no</b>",
                None => "&ndash;",
            };
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>C({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(name),
                esc(row["class"].as_str().unwrap_or("")),
                esc(&pair.replace("gamma", "Gamma").replace("1mtheta", "1 - Theta").replace("upsilon", "Upsilon").replace('_', ", ")),
                num(&row["mean"]),
                num(&row["std"]),
                row["count"],
                paper,
                sign
            ));
        }
    }
    h.push_str("</table>");
    if compared > 0 {
        h.push_str(&format!(
            "<p class=\"note\">{agree} of {compared} means have the paper's sign.{}</p>",
            if agree < compared && r["preset"]["name"] == "quick" {
                " At the quick preset's cooling rate (about 2000 times the paper's) the glasses keep the liquid's \
                 structure: the ordering of the larger particles' regions that the paper's ABM glasses show \
                 (C(1 - Theta, Upsilon) = 0.355) has not formed, and signs that depend on it can differ (measured \
                 in docs/reproduce.md)."
            } else {
                ""
            }
        ));
    }
    for (name, s) in &systems {
        h.push_str(&format!(
            "<p class=\"note\">{}: the paper says {}.</p>",
            esc(name),
            esc(s["paper"]["signs"].as_str().unwrap_or(""))
        ));
    }
    h.push_str("<h3>Violin plots</h3>");
    for name in systems.keys() {
        h.push_str(&format!(
            "<p><b>{}</b><br>{}</p>",
            esc(name),
            img(&out.join(name).join("analysis/violin_pearson.png"))
        ));
    }

    h.push_str("<h2>Field maps (Figs. 1-2)</h2>");
    for name in systems.keys() {
        let an = out.join(name).join("analysis");
        let mut maps: Vec<PathBuf> = std::fs::read_dir(&an)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        maps.retain(|p| {
            let f = p
                .file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default();
            f.starts_with("map_") && f.ends_with(".png")
        });
        maps.sort();
        h.push_str(&format!("<h3>{}</h3><p>", esc(name)));
        for m in maps {
            h.push_str(&img(&m));
        }
        h.push_str("</p>");
    }

    h.push_str("<h2>Grad-CAM and dynamic propensity (Fig. 4)</h2><table><tr><th>system</th><th>temperature</th>\
                <th>max C(Gamma, 1 - Delta)</th><th>at delta</th><th>at time</th><th>paper's peak</th><th>MD particle-steps/s</th></tr>");
    for (name, s) in &systems {
        for p in s["propensity"]["peaks"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3e}</td></tr>",
                esc(name),
                num(&p["temp"]),
                num(&p["c_max"]),
                num(&p["delta_at_max"]),
                num(&p["time_at_max"]),
                num(&s["paper"]["propensity_peak"]),
                s["propensity"]["particle_steps_per_s"].as_f64().unwrap_or(f64::NAN)
            ));
        }
    }
    h.push_str("</table>");
    for name in systems.keys() {
        let p = out.join(name).join("propensity");
        h.push_str(&format!("<p><b>{}</b><br>", esc(name)));
        if !p.join("correlation_vs_delta.png").exists() {
            h.push_str(
                "<span class=\"note\">No C(Gamma, 1 - Delta): the network classified no glass test configuration \
                 correctly, so there was no Gamma to compare with.</span><br>",
            );
        }
        for f in [
            "correlation_vs_delta.png",
            "delta_vs_time.png",
            "field_gamma.png",
            "field_one_minus_delta.png",
        ] {
            if p.join(f).exists() || f == "delta_vs_time.png" {
                h.push_str(&img(&p.join(f)));
            }
        }
        h.push_str("</p>");
    }

    h.push_str("<h2>Stages</h2><table><tr><th>system</th><th>stage</th><th>seconds</th><th>backend</th></tr>");
    for st in r["stages"].as_array().cloned().unwrap_or_default() {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td></tr>",
            esc(st["system"].as_str().unwrap_or("")),
            esc(st["stage"].as_str().unwrap_or("")),
            st["seconds"].as_f64().unwrap_or(f64::NAN),
            esc(st["backend"].as_str().unwrap_or(""))
        ));
    }
    h.push_str("</table><p class=\"note\">Every number on this page is in results.json beside it.</p></body></html>");
    Ok(h)
}
