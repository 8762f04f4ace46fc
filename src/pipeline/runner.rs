//! The stage runner every pipeline goes through: a stage's fingerprint (a hash of its own settings and of the
//! fingerprints of the stages it reads), `stages.json` (which stage directories under the output directory the
//! pipeline wrote, with what, on which backend, in how long), and the rule per stage: skip it when its fingerprint
//! is recorded as done and its outputs exist as they were when it finished (a stage found started whose outputs
//! are all there finished before its record and is adopted), otherwise record it as started, clear its directory
//! (only if `stages.json` records it, or on `force`), run it, and record it as done. What a stage hands the stages
//! that read it includes its outputs' content, so data replaced underneath redoes what read it.
//!
//! Only directories recorded in `stages.json` are ever deleted: anything else in the way is refused unless
//! `force` is set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::report::StageTime;
use crate::error::{Error, Result};
use crate::events::Ctx;
use crate::io::json::write_json_atomic;
use crate::io::outdir::OutDir;

/// A stage of a pipeline: its name, the directory it owns, the stages it reads and the files that mark it done.
/// Each pipeline has its own enum of stages, in the order they run.
pub trait Stage:
    Copy + Eq + Ord + std::fmt::Debug + std::fmt::Display + Serialize + DeserializeOwned + 'static
{
    /// What a stage ran with: its own settings only (what it reads enters its fingerprint through its
    /// parents').
    type Settings: Clone + std::fmt::Debug + PartialEq + Serialize + DeserializeOwned;

    fn name(self) -> &'static str;
    /// The directory (under its unit's: a system, a ramp, a task, the pipeline's own) that the stage writes
    /// and owns.
    fn dir(self) -> &'static str;
    /// The stages whose outputs this one reads.
    fn parents(self) -> &'static [Self];
    /// Files (relative to the stage directory) that must exist for the stage to count as done.
    fn outputs(self) -> &'static [&'static str];
    /// Whether an interrupted run with the same settings continues from its checkpoint (a simulation) rather
    /// than starting over.
    fn resumes(self) -> bool;
}

/// Hex SHA-256 of the stage, its settings and its parents' fingerprints.
fn fingerprint<S: Stage>(stage: S, settings: &S::Settings, parents: &[&str]) -> Result<String> {
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
    Ok(hex(h))
}

/// Hex SHA-256 of a stage's small outputs as they are now (its records and tables: the arrays and weights they
/// describe are not read again), `outputs` relative to `out`.
fn content(out: &Path, outputs: &[String]) -> Result<String> {
    use crate::error::IoContext;
    let mut h = Sha256::new();
    for f in outputs
        .iter()
        .filter(|f| !f.ends_with(".npy") && !f.ends_with(".safetensors"))
    {
        let path = out.join(f);
        h.update(f.as_bytes());
        h.update([0]);
        h.update(std::fs::read(&path).at(&path)?);
        h.update([0]);
    }
    Ok(hex(h))
}

/// What the stages reading a stage take as its fingerprint: its own, with its outputs' content.
fn handed_on(fp: &str, content: &str) -> String {
    let mut h = Sha256::new();
    h.update(fp.as_bytes());
    h.update([0]);
    h.update(content.as_bytes());
    hex(h)
}

fn hex(h: Sha256) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a recorded stage finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    /// Started and not (yet) finished: its directory is this run's to redo or resume.
    Started,
    Done,
}

/// One stage of one unit as `stages.json` records it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct StageRecord<S: Stage> {
    /// The unit: a system, a ramp, a task or the pipeline's own.
    pub system: String,
    pub stage: S,
    pub status: StageStatus,
    pub fingerprint: String,
    pub settings: S::Settings,
    pub seconds: f64,
    /// Where the stage ran (see `Model::backend` for the networks).
    pub backend: String,
    /// Files (relative to the output directory) that must exist for the stage to count as done.
    pub outputs: Vec<String>,
    /// Hash of the outputs' records as the stage left them (see `content`); empty in older records.
    #[serde(default)]
    pub content: String,
}

pub const STAGES_FORMAT_VERSION: u32 = 2;

/// `stages.json`: which stage directories under the output directory this pipeline wrote, and with what.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct StagesFile<S: Stage> {
    pub format_version: u32,
    /// By `unit/stage`.
    pub records: BTreeMap<String, StageRecord<S>>,
}

pub fn stages_path(out: &Path) -> PathBuf {
    out.join(crate::io::outdir::PIPELINE_FILES[0].0)
}

/// Reads `stages.json`; a missing one is empty, an unreadable one an error (it is what lets a rerun delete
/// anything), unless `force`.
fn load_records<S: Stage>(out: &Path, force: bool) -> Result<BTreeMap<String, StageRecord<S>>> {
    let path = stages_path(out);
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let parsed = std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<StagesFile<S>>(&t).map_err(|e| e.to_string()))
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
             so nothing is skipped or deleted without them. Restore the file, or rerun with `force` to redo \
             every stage (replacing the stage directories under {})",
            path.display(),
            out.display(),
            out.display()
        ))),
    }
}

fn save_records<S: Stage>(out: &Path, records: &BTreeMap<String, StageRecord<S>>) -> Result<()> {
    write_json_atomic(
        &stages_path(out),
        &StagesFile {
            format_version: STAGES_FORMAT_VERSION,
            records: records.clone(),
        },
    )
}

/// What a pipeline run did.
#[derive(Clone, Debug)]
pub struct Outcome<S> {
    pub report: PathBuf,
    pub results: PathBuf,
    /// (unit, stage) that ran in this call, in order.
    pub ran: Vec<(String, S)>,
    /// (unit, stage) that were done before with the same fingerprint.
    pub skipped: Vec<(String, S)>,
}

/// One stage call: which stage of which unit, with what settings, reading which parents' outputs, on which
/// backend.
pub struct Call<'a, S: Stage> {
    pub unit: &'a str,
    pub stage: S,
    pub settings: S::Settings,
    pub parents: &'a [&'a str],
    /// Where the stage runs (recorded in `stages.json`).
    pub backend: String,
}

/// The stage records of one output directory (`stages.json`) and the rule every stage goes through.
pub struct StageRunner<'a, S: Stage> {
    out: &'a Path,
    root: OutDir,
    records: BTreeMap<String, StageRecord<S>>,
    force: bool,
    pub outcome: Outcome<S>,
}

impl<'a, S: Stage> StageRunner<'a, S> {
    /// Locks `out` and reads its `stages.json`.
    pub fn open(out: &'a Path, force: bool) -> Result<StageRunner<'a, S>> {
        let root = OutDir::lock(out)?;
        let records = load_records(out, force)?;
        Ok(StageRunner {
            out,
            root,
            records,
            force,
            outcome: Outcome {
                report: PathBuf::new(),
                results: PathBuf::new(),
                ran: Vec::new(),
                skipped: Vec::new(),
            },
        })
    }

    /// The directory stage `stage` of `unit` owns.
    pub fn dir(&self, unit: &str, stage: S) -> PathBuf {
        self.out.join(unit).join(stage.dir())
    }

    /// Runs the call with `run(stage directory)` unless it is done with the same fingerprint; returns the
    /// fingerprint, which the stages that read this one's outputs take as a parent.
    pub fn stage(
        &mut self,
        call: Call<S>,
        ctx: Ctx,
        run: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<String> {
        ctx.cancel.check()?;
        let Call {
            unit,
            stage,
            settings,
            parents,
            backend,
        } = call;
        let fp = fingerprint(stage, &settings, parents)?;
        let key = format!("{unit}/{stage}");
        let outputs: Vec<String> = stage
            .outputs()
            .iter()
            .map(|f| format!("{unit}/{}/{f}", stage.dir()))
            .collect();
        let rec = self.records.get(&key);
        let same = rec.is_some_and(|r| r.fingerprint == fp);
        if let Some(r) = rec.filter(|_| same && outputs.iter().all(|f| self.out.join(f).exists())) {
            let now = content(self.out, &outputs)?;
            let keep = match r.status {
                StageStatus::Done if r.content.is_empty() || r.content == now => {
                    ctx.note(&format!("reproduce: {key}: done before, skipped"));
                    true
                }
                StageStatus::Done => {
                    ctx.note(&format!(
                        "reproduce: {key}: its outputs changed since it finished (replaced underneath); running \
                         it again"
                    ));
                    false
                }
                StageStatus::Started => {
                    // killed between its last write and its record: its outputs are complete
                    ctx.note(&format!(
                        "reproduce: {key}: finished before it was recorded; its outputs are kept"
                    ));
                    let mut done = r.clone();
                    done.status = StageStatus::Done;
                    done.content = now.clone();
                    self.records.insert(key.clone(), done);
                    save_records(self.out, &self.records)?;
                    true
                }
            };
            if keep {
                self.outcome.skipped.push((unit.to_string(), stage));
                return Ok(handed_on(&fp, &now));
            }
        }
        let rec = self.records.get(&key);
        let stage_dir = self.dir(unit, stage);
        // Only an interrupted simulation with these settings is continued, from its checkpoint; anything else
        // starts over (a finished one was adopted above).
        let resumable = stage.resumes() && same && stage_dir.join(".partial").exists();
        if stage_dir.exists() && !resumable {
            if rec.is_none() && !self.force {
                return Err(Error::Input(format!(
                    "{} exists but {} does not record it as this pipeline's: it is left alone. Move it away, \
                     or rerun with `force` to replace it",
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
            backend,
            outputs,
            content: String::new(),
        };
        // Recorded before it starts, so that an interrupted stage's directory is known to be ours.
        self.records.insert(key.clone(), record.clone());
        save_records(self.out, &self.records)?;
        ctx.note(&format!("reproduce: {key} ..."));
        let t0 = Instant::now();
        run(&stage_dir)?;
        record.status = StageStatus::Done;
        record.seconds = t0.elapsed().as_secs_f64();
        record.content = content(self.out, &record.outputs)?;
        let handed = handed_on(&fp, &record.content);
        ctx.note(&format!("reproduce: {key} done in {:.1} s", record.seconds));
        self.records.insert(key, record);
        save_records(self.out, &self.records)?;
        self.outcome.ran.push((unit.to_string(), stage));
        Ok(handed)
    }

    /// Every recorded stage's time, for the report.
    pub fn times(&self) -> Vec<StageTime<S>> {
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
    pub fn finish<T: Serialize>(
        mut self,
        results: &T,
        html: String,
        started: Instant,
        ctx: Ctx,
    ) -> Result<Outcome<S>> {
        if self.outcome.ran.is_empty() {
            ctx.note(
                "reproduce: already complete: every stage was done before with the same settings",
            );
        }
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

/// Where a stage ran that used several computes for several things: one compute's description when they all
/// agree, else each with what ran there ("gpu: ... (CNN); cpu: ... (graph network)").
pub fn where_ran(parts: &[(&str, String)]) -> String {
    let first = parts.first().map(|p| p.1.clone()).unwrap_or_default();
    if parts.iter().all(|p| p.1 == first) {
        return first;
    }
    parts
        .iter()
        .map(|(what, backend)| format!("{backend} ({what})"))
        .collect::<Vec<_>>()
        .join("; ")
}
