//! Liquid-vs-glass tasks (Swanson et al. 2020; docs/methods.md, "Tasks"): two snapshot sets labelled liquid and glass, taken from
//! one or two data sets (a ramp point, a temperature or a data set's own class), written as a data set that
//! `train` takes in place of a simulation's, plus `task.json` saying where every class came from.
//!
//! A task directory IS a data set (`dataset` format: `positions.npy`, `labels.npy`, `manifest.json`, ...), so
//! the CNN and the graph network read it unchanged. Replica ids carry the split: a replica's liquid and glass
//! snapshots share its id (one side of the split); a second source data set's replicas are shifted past the
//! first's, so they stay distinct.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::Class;
use crate::error::{Error, IoContext, Result};
use crate::io::dataset::{Dataset, Manifest, SnapshotMeta, MANIFEST};
use crate::io::json::write_json_atomic;
use crate::sim::minimize::{read_inherent, INHERENT};

/// The file beside a task's `manifest.json` that records its sources.
pub const TASK_FILE: &str = "task.json";
pub const FORMAT_VERSION: u32 = 1;
pub use crate::sim::minimize::INHERENT_DIR;
/// Two temperatures closer than this are the same snapshot temperature.
pub(crate) const T_EPS: f64 = 1e-9;

/// A temperature for messages: at most 6 decimals, no float noise (1.61, not 1.6099999999999999).
pub fn fmt_t(t: f64) -> String {
    let s = format!("{t:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Which snapshots of a data set form a class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase", tag = "by", content = "value")]
pub enum Pick {
    /// The data set's own snapshots of the class the task gives them (no suffix).
    Own,
    /// The ramp point nearest this temperature (`:T=x`).
    Temperature(f64),
    /// The k-th ramp point, 1-based from the top as Swanson counts (`:k=i`).
    Point(usize),
}

impl std::fmt::Display for Pick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pick::Own => f.write_str("own class"),
            Pick::Temperature(t) => write!(f, "T={}", fmt_t(*t)),
            Pick::Point(k) => write!(f, "k={k}"),
        }
    }
}

/// A class's source as the command line gives it: `DIR`, `DIR:T=x` or `DIR:k=i`.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub dir: PathBuf,
    pub pick: Pick,
}

impl Source {
    /// Parses `DIR[:T=x|:k=i]`; a suffix that is neither is refused with the accepted forms.
    pub fn parse(text: &str) -> Result<Source> {
        let bad = |why: &str| {
            Error::Input(format!(
                "`{text}`: {why}; write DIR, DIR:T=0.5 (the ramp point nearest T = 0.5) or DIR:k=3 (the 3rd ramp \
                 point from the top)"
            ))
        };
        let Some((dir, suffix)) = text.rsplit_once(':') else {
            return Self::plain(text, bad);
        };
        let pick = if let Some(v) = suffix.strip_prefix("T=") {
            let t: f64 = v
                .trim()
                .parse()
                .map_err(|_| bad("the temperature after T= is not a number"))?;
            if !t.is_finite() {
                return Err(bad("the temperature after T= is not a finite number"));
            }
            Pick::Temperature(t)
        } else if let Some(v) = suffix.strip_prefix("k=") {
            Pick::Point(
                v.trim()
                    .parse()
                    .map_err(|_| bad("the ramp point after k= is not a whole number"))?,
            )
        } else {
            // a colon inside the path itself, not a selector
            return Self::plain(text, bad);
        };
        if dir.is_empty() {
            return Err(bad("the data set directory is missing"));
        }
        Ok(Source {
            dir: PathBuf::from(dir),
            pick,
        })
    }

    fn plain(text: &str, bad: impl Fn(&str) -> Error) -> Result<Source> {
        if text.is_empty() {
            return Err(bad("the data set directory is missing"));
        }
        Ok(Source {
            dir: PathBuf::from(text),
            pick: Pick::Own,
        })
    }
}

/// A data set with what tasks need to know of it: its ramp points and, when minimised, E_IS per snapshot.
#[derive(Clone, Debug)]
pub struct RampData {
    pub data: Dataset,
    /// E_IS per particle of snapshot k (`None`: not minimised or not converged); `None` as a whole without
    /// inherent structures.
    pub e_is: Option<Vec<Option<f64>>>,
    /// SHA-256 of the data set's fingerprint (`Dataset::fingerprint`: manifest and arrays) and, when present, its
    /// `inherent.json`.
    pub fingerprint: String,
}

fn hex(h: Sha256) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl RampData {
    /// Loads a data set and its inherent structures: `DIR/inherent/inherent.json` (from `simulate --inherent` or
    /// `minimize --out DIR/inherent`), or `DIR/inherent.json` when DIR is itself a set of minima.
    pub fn load(dir: &Path) -> Result<RampData> {
        let data = Dataset::load(dir)?;
        let mut h = Sha256::new();
        h.update(data.fingerprint.as_bytes());
        let n = data.n_snapshots();
        let e_is = if dir.join(INHERENT).exists() {
            let info = read_inherent(dir)?;
            h.update([0]);
            h.update(std::fs::read(dir.join(INHERENT)).at(dir.join(INHERENT))?);
            Some(e_is_rows(
                dir,
                n,
                info.snapshots.iter().map(|m| (m.index, m)),
            ))
        } else if dir.join(INHERENT_DIR).join(INHERENT).exists() {
            let idir = dir.join(INHERENT_DIR);
            let info = read_inherent(&idir)?;
            h.update([0]);
            h.update(std::fs::read(idir.join(INHERENT)).at(idir.join(INHERENT))?);
            Some(e_is_rows(
                dir,
                n,
                info.snapshots.iter().map(|m| (m.source_index, m)),
            ))
        } else {
            None
        };
        let e_is = e_is.transpose()?;
        Ok(RampData {
            data,
            e_is,
            fingerprint: hex(h),
        })
    }

    /// A data set already in memory, with E_IS per snapshot if known (tests, pipelines that just minimised).
    pub fn new(data: Dataset, e_is: Option<Vec<Option<f64>>>) -> Result<RampData> {
        if let Some(e) = &e_is {
            if e.len() != data.n_snapshots() {
                return Err(Error::Dataset {
                    path: data.dir.clone(),
                    message: format!(
                        "{} E_IS values for {} snapshots",
                        e.len(),
                        data.n_snapshots()
                    ),
                });
            }
        }
        let mut h = Sha256::new();
        h.update(data.fingerprint.as_bytes());
        h.update(
            serde_json::to_vec(&e_is)
                .map_err(|e| Error::Input(format!("{}: {e}", data.dir.display())))?,
        );
        Ok(RampData {
            data,
            e_is,
            fingerprint: hex(h),
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.data.dir
    }

    /// The ramp points, highest first: the snapshot temperatures, without T_L when the run only added it as the
    /// liquid class beside ramp points of its own (`--ramp-snapshots`, `--temps`).
    pub fn ramp_points(&self) -> Vec<f64> {
        let m = &self.data.manifest;
        let extra: Vec<f64> = m
            .protocol
            .get("extra_temps")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        let t_l = m.system.t_liquid;
        let drop_tl = !extra.is_empty() && !extra.iter().any(|&t| (t - t_l).abs() < T_EPS);
        let mut pts: Vec<f64> = m
            .snapshot_temps
            .iter()
            .copied()
            .filter(|&t| !(drop_tl && (t - t_l).abs() < T_EPS))
            .collect();
        pts.sort_by(|a, b| b.total_cmp(a));
        pts
    }

    /// Where cooling started (the protocol's `t_start`), else the highest snapshot temperature.
    pub fn t_top(&self) -> f64 {
        let pts = self.ramp_points();
        self.data
            .manifest
            .protocol
            .get("t_start")
            .and_then(serde_json::Value::as_f64)
            .or_else(|| pts.first().copied())
            .unwrap_or(f64::NAN)
    }

    /// Snapshots taken at target temperature `t`, in data set order.
    pub fn at_temperature(&self, t: f64) -> Vec<usize> {
        self.data
            .manifest
            .snapshots
            .iter()
            .filter(|m| (m.target_t - t).abs() < T_EPS)
            .map(|m| m.index)
            .collect()
    }

    /// The ramp point a pick names (`None` for `Pick::Own`). A point past the ramp's end or a temperature
    /// outside the ramp is refused with the ramp's range.
    pub fn point(&self, pick: &Pick) -> Result<Option<f64>> {
        let pts = self.ramp_points();
        let (Some(&hi), Some(&lo)) = (pts.first(), pts.last()) else {
            return Err(Error::Dataset {
                path: self.dir().to_path_buf(),
                message: "the data set has no snapshot temperatures".into(),
            });
        };
        let range = || {
            format!(
                "{} has {} ramp points, k = 1..{} (T = {} .. {})",
                self.dir().display(),
                pts.len(),
                pts.len(),
                fmt_t(hi),
                fmt_t(lo)
            )
        };
        match *pick {
            Pick::Own => Ok(None),
            Pick::Point(k) => {
                if k == 0 || k > pts.len() {
                    return Err(Error::Input(format!(
                        "ramp point k={k} does not exist: {}; pick k in that range or a temperature with :T=x",
                        range()
                    )));
                }
                Ok(Some(pts[k - 1]))
            }
            Pick::Temperature(t) => {
                let top = self.t_top().max(hi);
                if !(t >= lo - T_EPS && t <= top + T_EPS) {
                    return Err(Error::Input(format!(
                        "T={t} lies outside the ramp: {}, cooled from T = {}; pick T between {} and {}",
                        range(),
                        fmt_t(top),
                        fmt_t(lo),
                        fmt_t(top)
                    )));
                }
                let best = pts
                    .iter()
                    .copied()
                    .min_by(|a, b| (a - t).abs().total_cmp(&(b - t).abs()))
                    .unwrap_or(hi);
                Ok(Some(best))
            }
        }
    }

    /// The snapshots a pick selects for `class`; an empty selection is refused.
    pub fn select(&self, pick: &Pick, class: Class) -> Result<Selected> {
        let point = self.point(pick)?;
        let indices = match point {
            None => self.data.of_class(class),
            Some(t) => self.at_temperature(t),
        };
        if indices.is_empty() {
            let what = match point {
                None => format!("no {class} snapshots"),
                Some(t) => format!("no snapshots at T = {}", fmt_t(t)),
            };
            return Err(Error::Input(format!(
                "the {class} class is empty: {} has {what}; pick a ramp point with :T=x or :k=i, or another data set",
                self.dir().display()
            )));
        }
        let target_t = point.unwrap_or_else(|| self.data.manifest.snapshots[indices[0]].target_t);
        Ok(Selected {
            pick: pick.clone(),
            target_t,
            indices,
        })
    }

    /// Mean and sample standard deviation of E_IS over the given snapshots (`None` without inherent structures
    /// or when none of them converged).
    pub fn e_is_stats(&self, indices: &[usize]) -> Option<Stats> {
        let e = self.e_is.as_ref()?;
        Stats::of(indices.iter().filter_map(|&k| e[k]))
    }

    /// E_IS(T) along the ramp: mean and spread over replicas at each ramp point, highest T first.
    pub fn curve(&self) -> Result<Vec<CurvePoint>> {
        if self.e_is.is_none() {
            return Err(no_inherent(self.dir()));
        }
        Ok(self
            .ramp_points()
            .into_iter()
            .enumerate()
            .filter_map(|(i, t)| {
                self.e_is_stats(&self.at_temperature(t))
                    .map(|e_is| CurvePoint { k: i + 1, t, e_is })
            })
            .collect())
    }
}

pub(crate) fn no_inherent(dir: &Path) -> Error {
    Error::Input(format!(
        "{} has no inherent structures (E_IS); minimise it first: `glasscam minimize --data {} --out {}` (or \
         simulate with --inherent)",
        dir.display(),
        dir.display(),
        dir.join(INHERENT_DIR).display()
    ))
}

/// E_IS per source row from `inherent.json` records keyed by their source row; a row past the end is refused.
fn e_is_rows<'a>(
    dir: &Path,
    n: usize,
    records: impl Iterator<Item = (usize, &'a crate::sim::minimize::InherentMeta)>,
) -> Result<Vec<Option<f64>>> {
    let mut e = vec![None; n];
    for (k, m) in records {
        if k >= n {
            return Err(Error::Dataset {
                path: dir.to_path_buf(),
                message: format!(
                    "{INHERENT} names snapshot {k} but the data set has {n}; it belongs to another data set \
                     (minimise this one again)"
                ),
            });
        }
        if m.outcome == "converged" {
            e[k] = Some(m.e_is);
        }
    }
    Ok(e)
}

/// Mean, sample standard deviation and count.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stats {
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

impl Stats {
    pub fn of(values: impl Iterator<Item = f64>) -> Option<Stats> {
        let v: Vec<f64> = values.collect();
        if v.is_empty() {
            return None;
        }
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Some(Stats {
            mean,
            std: var.sqrt(),
            n,
        })
    }
}

/// One point of an E_IS(T) curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CurvePoint {
    /// Ramp point, 1-based from the top.
    pub k: usize,
    pub t: f64,
    /// E_IS per particle over the replicas' snapshots at this point.
    pub e_is: Stats,
}

/// The snapshots a pick selected.
#[derive(Clone, Debug, PartialEq)]
pub struct Selected {
    pub pick: Pick,
    /// The ramp point's temperature (for `Pick::Own`, the first snapshot's).
    pub target_t: f64,
    /// Rows of the source data set.
    pub indices: Vec<usize>,
}

/// One class of a task as `task.json` records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClassRecord {
    pub class: Class,
    /// The source data set directory.
    pub source: PathBuf,
    /// `RampData::fingerprint` of the source.
    pub source_fingerprint: String,
    pub pick: Pick,
    /// Target temperature of the chosen snapshots.
    pub target_t: f64,
    /// Rows of the source data set, in the order the task holds them.
    pub source_indices: Vec<usize>,
    /// Added to the source's replica ids to give the task's (keeps two sources' replicas distinct).
    pub replica_offset: usize,
    /// E_IS per particle of the chosen snapshots (`None` without inherent structures).
    pub e_is: Option<Stats>,
}

/// What kind of task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// A liquid set against a glass set.
    Pair,
    /// One snapshot set whose replicas are split at random into two labels: a classifier must score AUC ~ 0.5.
    Null,
}

/// What `task.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaskFile {
    pub format_version: u32,
    pub program_version: String,
    pub name: String,
    pub kind: TaskKind,
    /// The liquid class, then the glass class.
    pub classes: [ClassRecord; 2],
    /// Replicas of the task (both classes together).
    pub replicas: usize,
    /// Seed of a null task's random labels.
    #[serde(default)]
    pub seed: Option<u64>,
    /// SHA-256 of everything above (sources' fingerprints, picks, rows): the task's identity for pipelines.
    pub fingerprint: String,
}

impl TaskFile {
    pub fn liquid(&self) -> &ClassRecord {
        &self.classes[0]
    }
    pub fn glass(&self) -> &ClassRecord {
        &self.classes[1]
    }
}

/// A built task: a data set (manifest, positions, species) and its `task.json`.
#[derive(Clone, Debug)]
pub struct Task {
    pub manifest: Manifest,
    pub positions: Vec<f64>,
    pub species: Vec<u32>,
    pub info: TaskFile,
}

/// One class to assemble: its source, its selection and the replica id shift.
struct Part<'a> {
    class: Class,
    src: &'a RampData,
    sel: Selected,
    offset: usize,
}

/// The liquid snapshots `liquid.1` of `liquid.0` against the glass snapshots `glass.1` of `glass.0`. Both sources
/// must hold the same system; a snapshot in both classes is refused.
pub fn build_task(
    name: &str,
    liquid: (&RampData, &Pick),
    glass: (&RampData, &Pick),
) -> Result<Task> {
    let (ls, gs) = (liquid.0, glass.0);
    let lsel = ls.select(liquid.1, Class::Liquid)?;
    let gsel = gs.select(glass.1, Class::Glass)?;
    let same = ls.fingerprint == gs.fingerprint;
    if same {
        let set: BTreeSet<usize> = lsel.indices.iter().copied().collect();
        let shared: Vec<usize> = gsel
            .indices
            .iter()
            .copied()
            .filter(|k| set.contains(k))
            .collect();
        if let Some(&k) = shared.first() {
            return Err(Error::Input(format!(
                "task {name}: the liquid ({}) and glass ({}) classes share {} snapshots of {} (e.g. snapshot {k} at \
                 T = {}); pick different ramp points or temperatures for the two classes",
                liquid.1,
                glass.1,
                shared.len(),
                ls.dir().display(),
                fmt_t(ls.data.manifest.snapshots[k].target_t)
            )));
        }
    } else {
        same_system(ls, gs)?;
    }
    let offset = if same {
        0
    } else {
        ls.data.manifest.replica_range.1.max(
            ls.data
                .manifest
                .snapshots
                .iter()
                .map(|m| m.replica + 1)
                .max()
                .unwrap_or(0),
        )
    };
    assemble(
        name,
        TaskKind::Pair,
        None,
        vec![
            Part {
                class: Class::Liquid,
                src: ls,
                sel: lsel,
                offset: 0,
            },
            Part {
                class: Class::Glass,
                src: gs,
                sel: gsel,
                offset,
            },
        ],
    )
}

/// A null task: the snapshots `pick` selects (the data set's glass class for `Pick::Own`), their replicas
/// shuffled with `seed` and split into two halves labelled liquid and glass. Both classes come from one
/// distribution, so a classifier's AUC must come out near 0.5.
pub fn build_null_task(name: &str, src: &RampData, pick: &Pick, seed: u64) -> Result<Task> {
    let sel = src.select(pick, Class::Glass)?;
    let mut reps: Vec<usize> = sel
        .indices
        .iter()
        .map(|&k| src.data.manifest.snapshots[k].replica)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if reps.len() < 2 {
        return Err(Error::Input(format!(
            "null task {name}: {} has {} replica(s) at {}; a null task needs at least 2 (simulate more replicas)",
            src.dir().display(),
            reps.len(),
            sel.pick
        )));
    }
    crate::learn::split::shuffle(&mut reps, seed ^ 0x7A5C_0001);
    let half = reps.len() / 2;
    let label: BTreeMap<usize, Class> = reps
        .iter()
        .enumerate()
        .map(|(i, &r)| {
            (
                r,
                if i < half {
                    Class::Liquid
                } else {
                    Class::Glass
                },
            )
        })
        .collect();
    let split = |c: Class| -> Selected {
        Selected {
            indices: sel
                .indices
                .iter()
                .copied()
                .filter(|&k| label[&src.data.manifest.snapshots[k].replica] == c)
                .collect(),
            ..sel.clone()
        }
    };
    let parts = Class::BOTH
        .into_iter()
        .map(|c| Part {
            class: c,
            src,
            sel: split(c),
            offset: 0,
        })
        .collect();
    assemble(name, TaskKind::Null, Some(seed), parts)
}

fn same_system(a: &RampData, b: &RampData) -> Result<()> {
    let (ma, mb) = (&a.data.manifest, &b.data.manifest);
    if ma.system != mb.system
        || ma.n_particles != mb.n_particles
        || ma.box_l != mb.box_l
        || a.data.species != b.data.species
    {
        return Err(Error::Input(format!(
            "{} ({}, N = {}, L = {}) and {} ({}, N = {}, L = {}) hold different systems; take both classes from \
             simulations of one system",
            a.dir().display(),
            ma.system.name,
            ma.n_particles,
            ma.box_l,
            b.dir().display(),
            mb.system.name,
            mb.n_particles,
            mb.box_l
        )));
    }
    Ok(())
}

/// Rows of the task, replica-major (then source row), with the records of both classes.
fn assemble(name: &str, kind: TaskKind, seed: Option<u64>, parts: Vec<Part>) -> Result<Task> {
    let first = parts[0].src;
    let n2 = 2 * first.data.n_particles();
    // (task replica, part, source row)
    let mut rows: Vec<(usize, usize, usize)> = Vec::new();
    for (p, part) in parts.iter().enumerate() {
        for &k in &part.sel.indices {
            rows.push((
                part.src.data.manifest.snapshots[k].replica + part.offset,
                p,
                k,
            ));
        }
    }
    rows.sort_unstable();
    let mut positions = Vec::with_capacity(rows.len() * n2);
    let mut snapshots = Vec::with_capacity(rows.len());
    let mut temps: Vec<f64> = Vec::new();
    for (index, &(replica, p, k)) in rows.iter().enumerate() {
        let part = &parts[p];
        let class = part.class;
        let src = &part.src.data.manifest.snapshots[k];
        positions.extend_from_slice(part.src.data.snapshot(k));
        snapshots.push(SnapshotMeta {
            index,
            replica,
            class,
            label: class.label(),
            ..src.clone()
        });
        if !temps.iter().any(|&t| (t - src.target_t).abs() < T_EPS) {
            temps.push(src.target_t);
        }
    }
    temps.sort_by(|a, b| b.total_cmp(a));
    let replicas: BTreeSet<usize> = rows.iter().map(|r| r.0).collect();
    let records: Vec<ClassRecord> = parts
        .iter()
        .enumerate()
        .map(|(p, part)| {
            let source_indices: Vec<usize> =
                rows.iter().filter(|r| r.1 == p).map(|r| r.2).collect();
            ClassRecord {
                class: part.class,
                source: part.src.dir().to_path_buf(),
                source_fingerprint: part.src.fingerprint.clone(),
                pick: part.sel.pick.clone(),
                target_t: part.sel.target_t,
                e_is: part.src.e_is_stats(&source_indices),
                source_indices,
                replica_offset: part.offset,
            }
        })
        .collect();
    let [liquid, glass]: [ClassRecord; 2] = records
        .try_into()
        .map_err(|_| Error::Input(format!("task {name}: a task has exactly two classes")))?;
    let mut info = TaskFile {
        format_version: FORMAT_VERSION,
        program_version: env!("CARGO_PKG_VERSION").into(),
        name: name.into(),
        kind,
        classes: [liquid, glass],
        replicas: replicas.len(),
        seed,
        fingerprint: String::new(),
    };
    // the sources by their fingerprints, not by where they lie: the same task from another working directory or
    // a moved data set is the same task
    let mut classes = info.classes.clone();
    for c in &mut classes {
        c.source = PathBuf::new();
    }
    let mut h = Sha256::new();
    h.update(
        serde_json::to_vec(&(&info.kind, &classes, &info.seed))
            .map_err(|e| Error::Input(format!("task {name}: {e}")))?,
    );
    info.fingerprint = hex(h);
    let backends: BTreeSet<&str> = parts
        .iter()
        .map(|p| p.src.data.manifest.backend.as_str())
        .collect();
    let fm = &first.data.manifest;
    let manifest = Manifest {
        format_version: crate::io::dataset::FORMAT_VERSION,
        program_version: env!("CARGO_PKG_VERSION").into(),
        system: fm.system.clone(),
        // `md` keeps the integrator settings later stages (minimize, propensity) read from a data set
        protocol: serde_json::json!({
            "task": name,
            "md": fm.protocol.get("md").cloned().unwrap_or(serde_json::Value::Null),
            "liquid": parts[0].src.data.manifest.protocol,
            "glass": parts[1].src.data.manifest.protocol,
        }),
        seed: fm.seed,
        n_particles: fm.n_particles,
        box_l: fm.box_l,
        n_replicas: replicas.len(),
        replica_range: (
            replicas.first().copied().unwrap_or(0),
            replicas.last().map_or(0, |r| r + 1),
        ),
        snapshot_temps: temps,
        backend: backends.into_iter().collect::<Vec<_>>().join(" | "),
        failed: Vec::new(),
        snapshots,
    };
    Ok(Task {
        manifest,
        positions,
        species: first.data.species.clone(),
        info,
    })
}

/// Writes a task as a data set plus `task.json`; refuses to overwrite an existing task unless `force`.
pub fn write_task(dir: &Path, task: &Task, force: bool) -> Result<()> {
    crate::io::outdir::no_overwrite(&dir.join(TASK_FILE), force, "a task")?;
    crate::io::outdir::no_overwrite(&dir.join(MANIFEST), force, "a data set")?;
    let _lock = crate::io::outdir::OutDir::lock(dir)?;
    // task.json goes first and the manifest last, so a directory with a manifest is a complete task
    write_json_atomic(&dir.join(TASK_FILE), &task.info)?;
    Dataset::write(dir, &task.manifest, &task.positions, &task.species)
}

/// Reads `task.json` of a task directory.
pub fn read_task(dir: &Path) -> Result<TaskFile> {
    crate::io::json::read_json_file(
        dir,
        TASK_FILE,
        FORMAT_VERSION,
        |t: &TaskFile| t.format_version,
        "`glasscam task`",
    )
}

/// A task from two command-line sources (one load when both name the same directory).
pub fn task_from_sources(name: &str, liquid: &Source, glass: &Source) -> Result<Task> {
    let l = RampData::load(&liquid.dir)?;
    let g = if same_dir(&liquid.dir, &glass.dir) {
        None
    } else {
        Some(RampData::load(&glass.dir)?)
    };
    let g = g.as_ref().unwrap_or(&l);
    let (lt, gt) = (
        l.select(&liquid.pick, Class::Liquid)?.target_t,
        g.select(&glass.pick, Class::Glass)?.target_t,
    );
    if lt < gt {
        return Err(Error::Input(format!(
            "task {name}: the liquid ({}, T = {}) is colder than the glass ({}, T = {}); the liquid is the hotter \
             class: swap `liquid` and `glass`",
            liquid.pick,
            fmt_t(lt),
            glass.pick,
            fmt_t(gt)
        )));
    }
    build_task(name, (&l, &liquid.pick), (g, &glass.pick))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fake ramp data set of `reps` replicas snapshotted at `temps` (ramp points from 2.0 plus T_L = 0.8 as the
    /// liquid class), E_IS = `e(T)` + 1e-3 * replica, 4 particles.
    pub(crate) fn fake(name: &str, reps: usize, temps: &[f64], e: impl Fn(f64) -> f64) -> RampData {
        let system = crate::sim::system::SystemDef::kam();
        let mut all: Vec<f64> = temps.to_vec();
        all.push(0.8);
        all.sort_by(|a, b| b.total_cmp(a));
        let mut snapshots = Vec::new();
        let mut e_is = Vec::new();
        for r in 0..reps {
            for &t in &all {
                let class = if t == 0.8 {
                    Class::Liquid
                } else if t == 0.05 {
                    Class::Glass
                } else {
                    Class::Other
                };
                snapshots.push(SnapshotMeta {
                    index: snapshots.len(),
                    replica: r,
                    class,
                    label: class.label(),
                    step: 0,
                    target_t: t,
                    kinetic_t: t,
                    pe_per_particle: 0.0,
                });
                e_is.push(Some(e(t) + 1e-3 * r as f64));
            }
        }
        let s = snapshots.len();
        let manifest = Manifest {
            format_version: 1,
            program_version: "test".into(),
            system,
            protocol: serde_json::json!({ "t_start": 2.0, "extra_temps": temps, "name": name }),
            seed: 1,
            n_particles: 4,
            box_l: 2.0,
            n_replicas: reps,
            replica_range: (0, reps),
            snapshot_temps: all,
            backend: "cpu".into(),
            failed: vec![],
            snapshots,
        };
        let positions = (0..s * 8).map(|i| i as f64 * 1e-3).collect();
        let data = Dataset {
            dir: PathBuf::from(name),
            manifest,
            positions,
            species: vec![0, 0, 1, 1],
            fingerprint: format!("sha256:test-{name}"),
        };
        RampData::new(data, Some(e_is)).expect("fake ramp")
    }

    pub(crate) fn temps(k: usize) -> Vec<f64> {
        crate::sim::protocol::ramp_temps(2.0, 0.05, k).expect("ramp")
    }

    #[test]
    fn picks_name_ramp_points_and_refuse_what_is_not_on_the_ramp() {
        let d = fake("slow", 3, &temps(20), |t| -3.4 + 0.05 * t);
        let pts = d.ramp_points();
        assert_eq!(pts.len(), 20, "T_L is not a ramp point: {pts:?}");
        assert_eq!(d.point(&Pick::Point(1)).expect("k=1"), Some(1.9025));
        assert_eq!(d.point(&Pick::Point(20)).expect("k=20"), Some(0.05));
        // Swanson's k = 149 (T = 0.54725) maps to our nearest point, 0.5375 (k = 15 of 20)
        assert_eq!(
            d.point(&Pick::Temperature(
                crate::pipeline::swanson::preset::swanson_temperature(149)
            ))
            .expect("T"),
            Some(2.0 - 1.95 * 15.0 / 20.0)
        );
        let e = d.point(&Pick::Point(21)).expect_err("k=21").to_string();
        assert!(
            e.contains("k=21 does not exist") && e.contains("k = 1..20"),
            "{e}"
        );
        assert!(d.point(&Pick::Point(0)).is_err());
        let e = d
            .point(&Pick::Temperature(2.5))
            .expect_err("T=2.5")
            .to_string();
        assert!(
            e.contains("outside the ramp") && e.contains("between 0.05 and 2"),
            "{e}"
        );
        assert!(d.point(&Pick::Temperature(0.01)).is_err());
        let sel = d.select(&Pick::Own, Class::Liquid).expect("own liquid");
        assert_eq!(sel.indices.len(), 3);
        assert_eq!(sel.target_t, 0.8);
    }

    #[test]
    fn a_task_keeps_each_replica_whole_and_records_its_sources() {
        let slow = fake("slow", 4, &temps(20), |t| -3.4 + 0.05 * t);
        let t = build_task("t", (&slow, &Pick::Point(1)), (&slow, &Pick::Point(20))).expect("task");
        assert_eq!(t.manifest.snapshots.len(), 8);
        assert_eq!(t.info.replicas, 4);
        for (i, m) in t.manifest.snapshots.iter().enumerate() {
            assert_eq!(m.index, i);
            assert_eq!(
                m.replica,
                i / 2,
                "replica-major, one liquid and one glass each"
            );
            let want = if m.target_t == 0.05 {
                Class::Glass
            } else {
                Class::Liquid
            };
            assert_eq!(m.label, want.label());
        }
        assert_eq!(t.positions.len(), 8 * 8);
        assert_eq!(&t.positions[..8], slow.data.snapshot(0));
        let l = t.info.liquid().e_is.expect("E_IS");
        assert!(
            (l.mean - (-3.4 + 0.05 * 1.9025 + 1.5e-3)).abs() < 1e-12,
            "{l:?}"
        );
        assert_eq!(t.info.glass().source_indices, vec![20, 41, 62, 83]);
        // the same snapshot in both classes is refused
        let e = build_task(
            "t",
            (&slow, &Pick::Point(20)),
            (&slow, &Pick::Temperature(0.05)),
        )
        .expect_err("overlap")
        .to_string();
        assert!(
            e.contains("share 4 snapshots") && e.contains("pick different ramp points"),
            "{e}"
        );
        // two data sets: the second one's replicas are shifted past the first's
        let fast = fake("fast", 2, &temps(20), |_| -3.3);
        let t = build_task("t6", (&slow, &Pick::Point(3)), (&fast, &Pick::Own)).expect("two sets");
        let reps: BTreeSet<usize> = t.manifest.snapshots.iter().map(|m| m.replica).collect();
        assert_eq!(reps.len(), 6);
        assert_eq!(t.info.glass().replica_offset, 4);
        assert_ne!(
            t.info.liquid().source_fingerprint,
            t.info.glass().source_fingerprint
        );
    }

    #[test]
    fn sources_parse_with_and_without_a_selector() {
        let s = Source::parse("runs/slow:T=0.5").expect("T");
        assert_eq!(s.dir, PathBuf::from("runs/slow"));
        assert_eq!(s.pick, Pick::Temperature(0.5));
        assert_eq!(Source::parse("a:k=3").expect("k").pick, Pick::Point(3));
        assert_eq!(Source::parse("a").expect("plain").pick, Pick::Own);
        // a colon in the path that is no selector stays part of the path
        assert_eq!(
            Source::parse("c:/x").expect("path").dir,
            PathBuf::from("c:/x")
        );
        for bad in ["a:T=warm", "a:k=-1", "a:k=2.5", ":T=1", "", "a:T=inf"] {
            let e = Source::parse(bad).expect_err(bad).to_string();
            assert!(e.contains("DIR:T=0.5"), "{bad}: {e}");
        }
    }
}
