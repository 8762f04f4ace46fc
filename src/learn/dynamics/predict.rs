//! `glasscam predict`: a trained propensity network's predictions for every particle of a data set's
//! configurations (`predictions.npy`, float32 [S, T, N] in the targets' layout) and `predictions.json` (the model,
//! the data set's fingerprint, the time grid and, where the data set has targets, Pearson per time point on the
//! scored species); for a network with descriptor inputs, `descriptors.npy` (float64 [S, N, F], the columns
//! before their standardization).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::model::Gn;
use super::targets;
use crate::error::Result;
use crate::events::Ctx;
use crate::io::dataset::Dataset;
use crate::io::json::write_json_atomic;
use crate::io::npy;
use crate::io::outdir::{no_overwrite, OutDir};
use crate::io::targets::TARGETS;
use crate::learn::metrics::evaluate_regression;
use crate::learn::model::Model;
use crate::learn::split::ReplicaSet;
use crate::sim::minimize::InherentSet;

/// `PredictionsFile::format_version` this glasscam writes.
pub const FORMAT_VERSION: u32 = 1;
pub const PREDICTIONS_JSON: &str = "predictions.json";
pub const PREDICTIONS_NPY: &str = "predictions.npy";
pub const DESCRIPTORS_NPY: &str = "descriptors.npy";

/// `predictions.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PredictionsFile {
    pub format_version: u32,
    /// The model directory and its weights' checksum.
    pub model: String,
    pub weights_sha256: String,
    /// The data set and its fingerprint.
    pub data: String,
    pub data_fingerprint: String,
    /// The target the model predicts and its time grid [T].
    pub target: String,
    pub times: Vec<f64>,
    /// The snapshots predicted, in `predictions.npy` order.
    pub snapshots: Vec<usize>,
    /// The species scored below.
    pub species: u32,
    /// Pearson correlation per time point between prediction and target over the scored species' particles of
    /// these snapshots; absent when the data set has no targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pearson: Option<Vec<f64>>,
    /// For a network with descriptor inputs: the names of the columns of `descriptors.npy`, the node inputs
    /// before their standardization by the model's `descriptors`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub descriptors: Vec<String>,
}

/// Predictions and their record.
#[derive(Clone, Debug)]
pub struct Predictions {
    pub file: PredictionsFile,
    /// [S, T, N] row-major.
    pub values: Vec<f32>,
    /// [S, N, F] row-major: the descriptor columns `file.descriptors` of each particle (empty without them).
    pub descriptors: Vec<f64>,
}

/// Predictions of model `model` (read from `dir`) for the snapshots `which` of `data`: its test replicas (of
/// the data set it was trained on) or every snapshot. Where the data set has targets they must be on the model's
/// time grid, and the predictions are scored against them.
pub fn predict(
    model: &Gn,
    dir: &Path,
    data: &Dataset,
    which: ReplicaSet,
    inherent: Option<&InherentSet>,
    ctx: Ctx,
) -> Result<Predictions> {
    model.check_fits(dir, data)?;
    let h = &model.file.header;
    let snapshots: Vec<usize> = match which {
        ReplicaSet::All => (0..data.n_snapshots()).collect(),
        ReplicaSet::Test => {
            h.check_split_data(data, "predict with `--split all` on another data set")?;
            data.manifest
                .snapshots
                .iter()
                .filter(|m| h.split.test.contains(&m.replica))
                .map(|m| m.index)
                .collect()
        }
    };
    ctx.cancel.check()?;
    if let Some(w) = inherent.and_then(super::graph::unconverged_warning) {
        ctx.warn(&w);
    }
    let values = model.predict(data, &snapshots, inherent)?;
    let cfg = &model.file.config;
    let mut descriptors = Vec::new();
    if !cfg.descriptor_lengths.is_empty() {
        for &k in &snapshots {
            let d = super::graph::described(data, inherent, k, &cfg.descriptor_lengths)?;
            descriptors.extend(d.values);
        }
    }
    let pearson = match data.dir.join(TARGETS).exists() {
        false => None,
        true => {
            let t = targets::load(data, &cfg.target)?;
            model.check_times(dir, &t.times)?;
            let (nt, n) = (t.n_times(), data.n_particles());
            let mut out = Vec::new();
            let mut truth = Vec::new();
            for (k, &s) in snapshots.iter().enumerate() {
                let y = t.node_major(s, n);
                for i in (0..n).filter(|&i| data.species[i] == cfg.species) {
                    for j in 0..nt {
                        out.push(values[(k * nt + j) * n + i] as f64);
                        truth.push(y[i * nt + j]);
                    }
                }
            }
            Some(evaluate_regression(&out, &truth, nt).pearson)
        }
    };
    Ok(Predictions {
        file: PredictionsFile {
            format_version: FORMAT_VERSION,
            model: dir.display().to_string(),
            weights_sha256: h.weights_sha256.clone(),
            data: data.dir.display().to_string(),
            data_fingerprint: data.fingerprint.clone(),
            target: cfg.target.clone(),
            times: model.file.times.clone(),
            snapshots,
            species: cfg.species,
            pearson,
            descriptors: model
                .file
                .descriptors
                .iter()
                .map(|c| c.name.clone())
                .collect(),
        },
        values,
        descriptors,
    })
}

/// Writes `predictions.npy` and `predictions.json` into `out` (locked while writing; existing predictions are
/// replaced only with `force`).
pub fn write_predictions(out: &Path, p: &Predictions, force: bool) -> Result<()> {
    let dir = OutDir::lock(out)?;
    let json = dir.root().join(PREDICTIONS_JSON);
    no_overwrite(&json, force, "predictions")?;
    let (s, t) = (p.file.snapshots.len() as u64, p.file.times.len() as u64);
    let n = (p.values.len() as u64).checked_div(s * t).unwrap_or(0);
    npy::write(&dir.root().join(PREDICTIONS_NPY), &[s, t, n], &p.values)?;
    let f = p.file.descriptors.len() as u64;
    if f > 0 {
        npy::write(
            &dir.root().join(DESCRIPTORS_NPY),
            &[s, n, f],
            &p.descriptors,
        )?;
    }
    write_json_atomic(&json, &p.file)
}
