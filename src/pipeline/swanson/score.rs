//! Scores trained models on the labelled snapshots of other data sets, for example another task's test split: the
//! train-on-i / test-on-j evaluation of Swanson et al.'s AUC matrix, for any `Model`.
//!
//! The inputs a model reads (images, graphs) depend only on its input settings, not on its weights, so they are
//! built once per input key and scored by every model that shares it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use glasscam_kernels::Compute;

use super::records::AucMatrix;
use crate::error::{Error, Result};
use crate::events::Ctx;
use crate::io::dataset::Dataset;
use crate::io::json::finite;
use crate::learn::metrics::{evaluate, Evaluation};
use crate::learn::model::Model;
use crate::learn::split::{test_snapshots, Part};

/// The labelled snapshots of `data`'s test split under `model`'s split rule, less the replicas it has seen.
pub fn unseen_test(model: &impl Model, data: &Dataset) -> Result<Part> {
    let (fractions, seed) = model.split_rule();
    test_snapshots(data, fractions, seed, &model.header().split.seen())
}

/// Class scores of `model` on `inputs`, evaluated against `labels`.
pub fn score<M: Model>(
    compute: &Compute,
    model: &M,
    inputs: &M::Inputs,
    labels: &[u32],
) -> Result<Evaluation> {
    let logits = model.logits(compute, inputs)?;
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
pub fn score_on_test<M: Model>(
    compute: &Compute,
    model_dir: &Path,
    data: &Dataset,
) -> Result<Evaluation> {
    let model = M::load(model_dir)?;
    let part = unseen_test(&model, data)?;
    if part.is_empty() {
        return Err(Error::Dataset {
            path: data.dir.clone(),
            message: format!(
                "no test snapshot left: the model {} was trained or validated on every test replica of this data set",
                model_dir.display()
            ),
        });
    }
    model.check_fits(model_dir, data)?;
    let inputs = model.inputs(compute, data, &part.snapshots)?;
    score(compute, &model, &inputs, &part.labels)
}

/// Every model (one per task, in `names` order, in the directories `models`) scored on every task's test split
/// under `tasks_dir`.
pub fn cross_scores<M: Model>(
    compute: &Compute,
    models: &[PathBuf],
    tasks_dir: &Path,
    names: &[String],
    ctx: Ctx,
) -> Result<AucMatrix> {
    let arch = M::ARCH.name();
    let loaded: Vec<M> = models.iter().map(|d| M::load(d)).collect::<Result<_>>()?;
    let n = names.len();
    let mut m = AucMatrix {
        auc: vec![vec![None; n]; n],
        auc_se: vec![vec![None; n]; n],
        accuracy: vec![vec![None; n]; n],
        n_test: vec![vec![[0, 0]; n]; n],
    };
    for (j, test) in names.iter().enumerate() {
        let data = Dataset::load(&tasks_dir.join(test))?;
        let mut cache: BTreeMap<(String, Vec<usize>), M::Inputs> = BTreeMap::new();
        for (i, model) in loaded.iter().enumerate() {
            ctx.cancel.check()?;
            let part = unseen_test(model, &data)?;
            let n_glass = part.labels.iter().filter(|&&l| l == 1).count();
            m.n_test[i][j] = [part.len() - n_glass, n_glass];
            if part.is_empty() {
                ctx.warn(&format!(
                    "{arch}: the {arch} model of {} has seen every test replica of {test}; cell left empty",
                    names[i]
                ));
                continue;
            }
            let key = (model.input_key(), part.snapshots.clone());
            if !cache.contains_key(&key) {
                model.check_fits(&models[i], &data)?;
                let inputs = model.inputs(compute, &data, &part.snapshots)?;
                cache.insert(key.clone(), inputs);
            }
            let e = score(compute, model, &cache[&key], &part.labels)?;
            m.auc[i][j] = finite(e.roc_auc);
            m.auc_se[i][j] = finite(e.auc_standard_error());
            m.accuracy[i][j] = e.accuracy.get("overall").copied().and_then(finite);
        }
        ctx.note(&format!(
            "reproduce: {arch} models scored on {test}'s test split"
        ));
    }
    Ok(m)
}
