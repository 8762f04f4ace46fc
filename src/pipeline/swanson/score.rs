//! Scores a trained model (the CNN or the graph network) on the labelled snapshots of any data set, for example
//! another task's test split: the train-on-i / test-on-j evaluation of Swanson et al.'s AUC matrix.
//!
//! The inputs a model reads (images, graphs) depend only on its input settings, not on its weights, so they are
//! built once (`Inputs`) and scored by every model that shares those settings.

use std::collections::BTreeSet;
use std::path::Path;

use glasscam_kernels::nn::net::Net;
use glasscam_kernels::Compute;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::dataset::Dataset;
use crate::learn::cnn::data::{images, labelled, split_replicas};
use crate::learn::cnn::train::{evaluate, predict_all, Evaluation};

/// The two model families.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Cnn,
    Mpnn,
}

impl Arch {
    pub const BOTH: [Arch; 2] = [Arch::Cnn, Arch::Mpnn];

    pub fn name(self) -> &'static str {
        match self {
            Arch::Cnn => "cnn",
            Arch::Mpnn => "mpnn",
        }
    }
}

/// The labelled test snapshots (index, 0 liquid / 1 glass) of `data`: its test replicas under the replica split
/// `fractions`/`seed` (the trainers' rule), less any replica in `exclude` (those a model was trained or
/// validated on, so that no model is scored on a replica it has seen even when two data sets share replicas).
pub fn test_snapshots(
    data: &Dataset,
    fractions: [f64; 3],
    seed: u64,
    exclude: &[usize],
) -> Result<Vec<(usize, u32)>> {
    let split = split_replicas(data, fractions, seed)?;
    let seen: BTreeSet<usize> = exclude.iter().copied().collect();
    let test: Vec<usize> = split
        .test
        .into_iter()
        .filter(|r| !seen.contains(r))
        .collect();
    Ok(labelled(data, &test))
}

/// A model read from its directory.
pub enum Loaded {
    Cnn {
        file: Box<crate::learn::cnn::model::ModelFile>,
        params: Vec<f32>,
    },
    Mpnn {
        file: Box<crate::learn::gnn::model::MpnnModelFile>,
        params: Vec<f64>,
    },
}

impl Loaded {
    /// Reads the model directory `dir` written by the trainer of `arch`.
    pub fn load(arch: Arch, dir: &Path) -> Result<Loaded> {
        Ok(match arch {
            Arch::Cnn => {
                let (file, params) = crate::learn::cnn::model::load(dir)?;
                Loaded::Cnn {
                    file: Box::new(file),
                    params,
                }
            }
            Arch::Mpnn => {
                let (file, params) = crate::learn::gnn::model::load(dir)?;
                Loaded::Mpnn {
                    file: Box::new(file),
                    params,
                }
            }
        })
    }

    /// The replicas the model was trained and validated on.
    pub fn seen_replicas(&self) -> Vec<usize> {
        let split = match self {
            Loaded::Cnn { file, .. } => &file.split,
            Loaded::Mpnn { file, .. } => &file.split,
        };
        split
            .train
            .iter()
            .chain(&split.validation)
            .copied()
            .collect()
    }

    /// Its split fractions and seed (so a data set's test split is the one its trainer would take).
    pub fn split_rule(&self) -> ([f64; 3], u64) {
        match self {
            Loaded::Cnn { file, .. } => (file.config.split, file.config.seed),
            Loaded::Mpnn { file, .. } => (file.config.split, file.config.seed),
        }
    }

    /// What the model's inputs depend on: models with the same key read the same inputs.
    pub fn input_key(&self) -> String {
        match self {
            Loaded::Cnn { file, .. } => format!(
                "cnn {:?} mean {:?} std {:?}",
                file.config.grid_spec(file.box_l),
                file.input_mean,
                file.input_std
            ),
            Loaded::Mpnn { file, .. } => format!(
                "mpnn k {} window {:?} seed {}",
                file.config.k,
                file.config.window,
                if file.config.window.is_some() {
                    file.config.seed
                } else {
                    0
                }
            ),
        }
    }
}

/// The inputs of one model family for a list of snapshots: standardized images or graphs.
pub enum Inputs {
    Images(Vec<f32>),
    Graphs(Vec<glasscam_kernels::gnn::GraphBatch>),
}

impl Inputs {
    /// Builds what `model` reads for `snapshots` of `data` (after checking that the data fit the model).
    pub fn build(
        compute: &Compute,
        model: &Loaded,
        model_dir: &Path,
        data: &Dataset,
        snapshots: &[usize],
    ) -> Result<Inputs> {
        match model {
            Loaded::Cnn { file, .. } => {
                crate::learn::cnn::model::check_fits(file, model_dir, data)?;
                let grid = file.config.grid_spec(data.box_l());
                let mut imgs = images(compute, data, &grid, snapshots, 64)?;
                if let Some(norm) = file.standardization() {
                    norm.apply(&mut imgs, file.spec().pixels());
                }
                Ok(Inputs::Images(imgs))
            }
            Loaded::Mpnn { file, .. } => {
                crate::learn::gnn::model::check_fits(file, model_dir, data)?;
                Ok(Inputs::Graphs(crate::learn::gnn::train::graphs(
                    data,
                    &file.config,
                    snapshots,
                )?))
            }
        }
    }
}

/// Class scores of `model` on `inputs`, evaluated against `labels`.
pub fn score(
    compute: &Compute,
    model: &Loaded,
    inputs: &Inputs,
    labels: &[u32],
) -> Result<Evaluation> {
    let logits = match (model, inputs) {
        (Loaded::Cnn { file, params }, Inputs::Images(imgs)) => {
            let mut net = Net::new(compute, file.spec(), params, file.config.batch.max(1))?;
            predict_all(&mut net, imgs)?
        }
        (Loaded::Mpnn { file, params }, Inputs::Graphs(gs)) => {
            crate::learn::gnn::train::predict(&file.spec(), params, gs, file.config.batch)
        }
        _ => {
            return Err(Error::Input(
                "a CNN scores images and a graph network graphs; the inputs were built for the other family"
                    .into(),
            ))
        }
    };
    if logits.len() != 2 * labels.len() {
        return Err(Error::Input(format!(
            "{} scores for {} labelled snapshots",
            logits.len() / 2,
            labels.len()
        )));
    }
    Ok(evaluate(&logits, labels))
}

/// Scores the model in `model_dir` on `data`'s test split (its trainer's split rule, less the replicas the model
/// has seen).
pub fn score_on_test(
    compute: &Compute,
    arch: Arch,
    model_dir: &Path,
    data: &Dataset,
) -> Result<Evaluation> {
    let model = Loaded::load(arch, model_dir)?;
    let (fractions, seed) = model.split_rule();
    let snaps = test_snapshots(data, fractions, seed, &model.seen_replicas())?;
    if snaps.is_empty() {
        return Err(Error::Dataset {
            path: data.dir.clone(),
            message: format!(
                "no test snapshot left: the model {} was trained or validated on every test replica of this data set",
                model_dir.display()
            ),
        });
    }
    let idx: Vec<usize> = snaps.iter().map(|s| s.0).collect();
    let labels: Vec<u32> = snaps.iter().map(|s| s.1).collect();
    let inputs = Inputs::build(compute, &model, model_dir, data, &idx)?;
    score(compute, &model, &inputs, &labels)
}

/// The standard error of a ROC AUC from `n_pos` positives and `n_neg` negatives (Hanley & McNeil 1982), the
/// yardstick for "near 0.5" on a small test set.
pub fn auc_standard_error(auc: f64, n_pos: usize, n_neg: usize) -> f64 {
    let (p, n) = (n_pos as f64, n_neg as f64);
    if p == 0.0 || n == 0.0 || !auc.is_finite() {
        return f64::NAN;
    }
    let q1 = auc / (2.0 - auc);
    let q2 = 2.0 * auc * auc / (1.0 + auc);
    ((auc * (1.0 - auc) + (p - 1.0) * (q1 - auc * auc) + (n - 1.0) * (q2 - auc * auc)) / (p * n))
        .max(0.0)
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_standard_error_matches_hanley_mcneil() {
        // Hanley & McNeil (1982), Table 1 style check: AUC 0.5 with 10 + 10 gives sqrt((0.25 + 9 (1/3 - 1/4) +
        // 9 (1/3 - 1/4)) / 100)
        let want = ((0.25 + 18.0 * (1.0 / 3.0 - 0.25)) / 100.0f64).sqrt();
        assert!((auc_standard_error(0.5, 10, 10) - want).abs() < 1e-12);
        assert_eq!(auc_standard_error(1.0, 10, 10), 0.0);
        assert!(auc_standard_error(0.5, 0, 10).is_nan());
        assert!(auc_standard_error(0.9, 50, 50) < auc_standard_error(0.9, 10, 10));
    }
}
