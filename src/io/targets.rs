//! A data set with targets: per-particle dynamical targets (propensities at a time grid) beside a data set's
//! t = 0 configurations, in `targets.json` and one float32 [S, T, N] array per target.
//!
//! Layout added to a data set directory (whose `positions.npy` holds one t = 0 snapshot per configuration):
//! - `targets.json`  `TargetsMeta`: the data set's fingerprint, temperature, time grid, tau_alpha, runs per
//!   configuration, the targets with their definitions and noise ceilings, the train/test subset and the source.
//! - `<name>.npy`    float32 [S, T, N] per target, e.g. `propensity.npy`, `bond_breaking.npy`,
//!   `propensity_cage.npy`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::io::dataset::Dataset;
use crate::io::json::write_json_readable;
use crate::io::npy;
use crate::io::outdir::{self, OutDir};

pub const TARGETS: &str = "targets.json";
/// `TargetsMeta::format_version` this glasscam writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// GlassBench's displacement propensity: the ensemble mean of |r_i(t) - r_i(0)| (unwrapped, not cage-relative).
pub const PROPENSITY: &str = "propensity";
/// Bond-breaking propensity: the ensemble mean of the fraction of t = 0 neighbours (r < 1.4 sigma_ab) still within
/// 1.8 sigma_ab at t.
pub const BOND_BREAKING: &str = "bond_breaking";
/// The ensemble mean of the cage-relative displacement |dr_i - <dr_j>_cage|.
pub const PROPENSITY_CAGE: &str = "propensity_cage";

/// The one-line definition glasscam writes for a target it knows.
pub fn definition(name: &str) -> Option<&'static str> {
    match name {
        PROPENSITY => Some("isoconfigurational mean of |r_i(t) - r_i(0)| (unwrapped, not cage-relative)"),
        BOND_BREAKING => Some(
            "isoconfigurational mean of n_i(t) / n_i(0): t = 0 neighbours (r < 1.4 sigma_ab) still within 1.8 sigma_ab",
        ),
        PROPENSITY_CAGE => Some(
            "isoconfigurational mean of |dr_i(t) - <dr_j(t)>|, j over i's Voronoi neighbours (cage-relative)",
        ),
        _ => None,
    }
}

/// Which part of a benchmark's split a configuration belongs to.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Subset {
    Train,
    Test,
}

/// Who computed the targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Program {
    /// glasscam's batched isoconfigurational ensembles.
    Glasscam,
    /// Imported from the GlassBench archive (Jung et al. 2023).
    Glassbench,
}

/// Where the targets come from, with the settings that made them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Source {
    pub program: Program,
    /// The settings of the run or import (free-form; recorded, not read back).
    pub settings: serde_json::Value,
}

/// What `targets.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TargetsMeta {
    pub format_version: u32,
    /// `Dataset::fingerprint` of the data set these targets annotate; any other is refused.
    pub data_fingerprint: String,
    /// Temperature of the isoconfigurational runs.
    pub temperature: f64,
    /// [T] time points in MD time units, strictly ascending.
    pub times: Vec<f64>,
    /// The structural relaxation time at this temperature (F_s(k, tau_alpha) = 1/e), if measured.
    pub tau_alpha: Option<f64>,
    /// Its spread (standard deviation over replicas), if measured.
    pub tau_alpha_spread: Option<f64>,
    /// Isoconfigurational runs per configuration.
    pub n_runs: usize,
    /// Target name (its array is `<name>.npy`) to its one-line definition.
    pub targets: BTreeMap<String, String>,
    /// Per target name, [T] values of the noise ceiling rho_max (split halves + Spearman-Brown); `null` where it
    /// cannot be computed (e.g. an import without the runs).
    pub noise_ceiling: BTreeMap<String, Vec<Option<f64>>>,
    /// Per snapshot, "train" or "test"; absent: a trainer uses its own split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<Vec<Subset>>,
    pub source: Source,
}

impl TargetsMeta {
    /// Checks the record on its own and against a data set of `s` snapshots: version, names, time grid,
    /// numbers, ceilings and subset. `file` names it in messages.
    pub fn check(&self, file: &Path, s: usize) -> Result<()> {
        let bad = |m: String| Err(Error::Input(format!("{}: {m}", file.display())));
        if self.format_version > FORMAT_VERSION {
            return bad(format!(
                "format version {} is newer than this glasscam understands ({FORMAT_VERSION}); update glasscam",
                self.format_version
            ));
        }
        if self.targets.is_empty() {
            return bad("`targets` is empty; a data set with targets names at least one".into());
        }
        for name in self.targets.keys() {
            let plain = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !plain {
                return bad(format!(
                    "target name `{}` must be lower-case letters, digits and `_` (it names `<name>.npy`)",
                    name.escape_debug()
                ));
            }
        }
        if self.times.is_empty() {
            return bad("`times` is empty; give at least one time point".into());
        }
        if let Some(k) = self
            .times
            .iter()
            .position(|t| !(t.is_finite() && *t >= 0.0))
        {
            return bad(format!(
                "`times[{k}]` is {}; times are finite and not negative (MD time units)",
                self.times[k]
            ));
        }
        if let Some(k) = self.times.windows(2).position(|w| w[1] <= w[0]) {
            return bad(format!(
                "`times` must be strictly ascending, but times[{}] = {} follows {}",
                k + 1,
                self.times[k + 1],
                self.times[k]
            ));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return bad(format!(
                "`temperature` is {}; give the positive temperature of the runs",
                self.temperature
            ));
        }
        for (key, v) in [
            ("tau_alpha", self.tau_alpha),
            ("tau_alpha_spread", self.tau_alpha_spread),
        ] {
            if let Some(x) = v.filter(|x| !(x.is_finite() && *x >= 0.0)) {
                return bad(format!(
                    "`{key}` is {x}; give a finite, non-negative time or null"
                ));
            }
        }
        if self.n_runs == 0 {
            return bad("`n_runs` is 0; a target is a mean over at least one run".into());
        }
        let t = self.times.len();
        for (name, v) in &self.noise_ceiling {
            if !self.targets.contains_key(name) {
                return bad(format!(
                    "`noise_ceiling` has `{name}`, which is not among `targets`; remove it or add the target"
                ));
            }
            if v.len() != t {
                return bad(format!(
                    "`noise_ceiling.{name}` has {} values, one per time point ({t}) are needed",
                    v.len()
                ));
            }
            if let Some(x) = v
                .iter()
                .flatten()
                .find(|x| !(x.is_finite() && x.abs() <= 1.0))
            {
                return bad(format!(
                    "`noise_ceiling.{name}` holds {x}; a correlation lies in [-1, 1] (null where unknown)"
                ));
            }
        }
        if let Some(name) = self
            .targets
            .keys()
            .find(|k| !self.noise_ceiling.contains_key(*k))
        {
            return bad(format!(
                "`noise_ceiling` has no entry for `{name}`; give [T] values (null where unknown)"
            ));
        }
        if let Some(sub) = &self.subset {
            if sub.len() != s {
                return bad(format!(
                    "`subset` has {} entries but the data set has {s} snapshots; give one per snapshot or none",
                    sub.len()
                ));
            }
        }
        Ok(())
    }
}

/// A loaded, checked set of targets.
#[derive(Clone, Debug)]
pub struct Targets {
    pub meta: TargetsMeta,
    /// [S, T, N] per target name.
    arrays: BTreeMap<String, Vec<f32>>,
    shape: [usize; 3],
}

impl Targets {
    /// Loads `targets.json` and every target array from `dir`, checked against `data` (the data set they
    /// annotate): its fingerprint, the shapes [S, T, N], finite values.
    pub fn load(dir: &Path, data: &Dataset) -> Result<Targets> {
        let file = dir.join(TARGETS);
        let text = std::fs::read_to_string(&file).map_err(|e| {
            Error::Input(format!(
                "{}: cannot read ({e}); a data set with targets is written by `glasscam targets` or \
                 `glasscam import glassbench`",
                file.display()
            ))
        })?;
        let meta: TargetsMeta = serde_json::from_str(&text).map_err(|e| {
            Error::Input(format!(
                "{}: not a valid targets record: {e}",
                file.display()
            ))
        })?;
        let (s, n) = (data.n_snapshots(), data.n_particles());
        meta.check(&file, s)?;
        if meta.data_fingerprint != data.fingerprint {
            return Err(Error::Input(format!(
                "{}: the targets annotate data set {}, not {} ({}); give the data set they were computed on",
                file.display(),
                crate::analysis::gamma::short(&meta.data_fingerprint),
                data.dir.display(),
                crate::analysis::gamma::short(&data.fingerprint),
            )));
        }
        let shape = [s, meta.times.len(), n];
        let mut arrays = BTreeMap::new();
        for name in meta.targets.keys() {
            let path = dir.join(format!("{name}.npy"));
            let bytes = std::fs::read(&path).at(&path)?;
            let values = parse_f32(&path, &bytes)?;
            check_array(&path, &values.0, &values.1, shape)?;
            arrays.insert(name.clone(), values.1);
        }
        Ok(Targets {
            meta,
            arrays,
            shape,
        })
    }

    /// A target's values, row-major [S, T, N]; a name not present is refused, naming those that are.
    pub fn values(&self, name: &str) -> Result<&[f32]> {
        self.arrays.get(name).map(Vec::as_slice).ok_or_else(|| {
            Error::Input(format!(
                "no target `{name}` in this data set; it has {}",
                self.names().join(", ")
            ))
        })
    }

    /// The target names present.
    pub fn names(&self) -> Vec<&str> {
        self.arrays.keys().map(String::as_str).collect()
    }

    /// [S, T, N].
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }
}

/// Reads a float32 array, refusing any other dtype with what it is.
fn parse_f32(path: &Path, bytes: &[u8]) -> Result<(Vec<u64>, Vec<f32>)> {
    let mut rest = bytes;
    if let Ok(h) = npyz::NpyHeader::from_reader(&mut rest) {
        let descr = h.dtype().descr().trim_matches('\'').to_string();
        if !descr.contains("f4") {
            return Err(Error::Input(format!(
                "{}: dtype `{descr}`, but a target array is float32 (`<f4`); save it with .astype(np.float32)",
                path.display()
            )));
        }
    }
    npy::parse::<f32>(path, bytes)
}

/// A target array has `shape` [S, T, N] and finite values.
fn check_array(path: &Path, got: &[u64], values: &[f32], shape: [usize; 3]) -> Result<()> {
    let want: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    if got != want.as_slice() {
        return Err(Error::Input(format!(
            "{}: shape {got:?}, but the data set and targets.json give [S, T, N] = {want:?} (snapshots, time \
             points, particles); the targets belong to another data set or time grid",
            path.display()
        )));
    }
    if let Some(k) = values.iter().position(|x| !x.is_finite()) {
        let (tn, n) = (shape[1] * shape[2], shape[2]);
        return Err(Error::Input(format!(
            "{}: snapshot {} time {} particle {} is {}; targets must be finite",
            path.display(),
            k / tn,
            (k % tn) / n,
            k % n,
            values[k]
        )));
    }
    Ok(())
}

/// Writes targets beside the data set `data` in the output directory `out` (which holds `data`): the arrays
/// first, `targets.json` last, each atomically; an existing `targets.json` is replaced only with `force`.
/// `arrays` gives every target of `meta.targets` as (name, [S, T, N] values); everything is checked as `load`
/// checks it before anything is written.
pub fn write_targets(
    out: &OutDir,
    data: &Dataset,
    meta: &TargetsMeta,
    arrays: &[(&str, &[f32])],
    force: bool,
) -> Result<()> {
    let dir = out.root();
    let file = dir.join(TARGETS);
    let same = |a: &Path, b: &Path| {
        a.canonicalize()
            .ok()
            .zip(b.canonicalize().ok())
            .is_some_and(|(a, b)| a == b)
    };
    if !same(dir, &data.dir) {
        return Err(Error::Input(format!(
            "{}: targets are written beside their data set, but the data set is {}; write into its directory",
            dir.display(),
            data.dir.display()
        )));
    }
    outdir::no_overwrite(&file, force, "targets")?;
    let s = data.n_snapshots();
    meta.check(&file, s)?;
    if meta.data_fingerprint != data.fingerprint {
        return Err(Error::Input(format!(
            "{}: `data_fingerprint` is not the fingerprint of {}; set it from the data set written there",
            file.display(),
            data.dir.display()
        )));
    }
    let shape = [s, meta.times.len(), data.n_particles()];
    let names: Vec<&str> = arrays.iter().map(|(n, _)| *n).collect();
    let want: Vec<&str> = meta.targets.keys().map(String::as_str).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    if sorted != want {
        return Err(Error::Input(format!(
            "{}: arrays given for [{}] but `targets` names [{}]; give one array per target",
            file.display(),
            names.join(", "),
            want.join(", ")
        )));
    }
    let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    for (name, values) in arrays {
        let path = dir.join(format!("{name}.npy"));
        let len = values.len() as u64;
        let got = if len == dims.iter().product::<u64>() {
            dims.clone()
        } else {
            vec![len]
        };
        check_array(&path, &got, values, shape)?;
    }
    if file.exists() {
        std::fs::remove_file(&file).at(&file)?;
    }
    for (name, values) in arrays {
        npy::write(&dir.join(format!("{name}.npy")), &dims, values)?;
    }
    write_json_readable(&file, meta)
}
