//! `glasscam train`: gridize the labelled snapshots, train the CNN on the training replicas with Adam, keep the
//! parameters of the best validation epoch, and report accuracy per class, ROC AUC and the confusion matrix on
//! the test replicas (`metrics.json`).

use std::path::Path;

use glasscam_kernels::nn::net::{Net, TrainSet};
use glasscam_kernels::Compute;
use serde::{Deserialize, Serialize};

use super::config::ModelConfig;
use super::data::{
    augment_seed, augment_transform, images, labelled, mix, shuffle, split_replicas,
};
use super::model::{self, ModelFile, Standardization, TensorInfo, LAYOUT};
use crate::domain::Class;
use crate::error::{Error, Result};
use crate::events::{Ctx, Event};
use crate::io::dataset::{write_json_atomic, Dataset};

/// One epoch's numbers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// NaN (`null` in JSON) on an empty validation split.
    #[serde(deserialize_with = "crate::io::dataset::null_as_nan")]
    pub validation_loss: f64,
    #[serde(deserialize_with = "crate::io::dataset::null_as_nan")]
    pub validation_accuracy: f64,
}

/// Classification quality on one split.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Evaluation {
    pub n: usize,
    /// Accuracy per class name, and "overall"; NaN (`null` in JSON) for a class the split does not hold.
    #[serde(deserialize_with = "crate::io::dataset::null_as_nan_map")]
    #[schemars(with = "std::collections::BTreeMap<String, Option<f64>>")]
    pub accuracy: std::collections::BTreeMap<String, f64>,
    /// Area under the ROC curve of the glass probability (glass positive); NaN (`null` in JSON) when the split
    /// holds one class only.
    #[serde(deserialize_with = "crate::io::dataset::null_as_nan")]
    #[schemars(with = "Option<f64>")]
    pub roc_auc: f64,
    /// Rows: true class, columns: predicted class, in `labels` order.
    pub confusion: Vec<Vec<usize>>,
    pub labels: Vec<String>,
    /// NaN (`null` in JSON) on an empty split.
    #[serde(deserialize_with = "crate::io::dataset::null_as_nan")]
    #[schemars(with = "Option<f64>")]
    pub loss: f64,
}

/// `metrics.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Metrics {
    pub data: String,
    pub backend: String,
    pub replicas: [usize; 3],
    pub snapshots: [usize; 3],
    pub epochs: usize,
    pub best_epoch: usize,
    pub validation: Evaluation,
    pub test: Evaluation,
    pub seconds: f64,
    pub train_samples_per_s: f64,
    pub history: Vec<EpochLog>,
}

fn softmax_glass(logits: &[f64]) -> f64 {
    let m = logits[0].max(logits[1]);
    let e0 = (logits[0] - m).exp();
    let e1 = (logits[1] - m).exp();
    e1 / (e0 + e1)
}

/// ROC AUC by ranks (Mann-Whitney U), ties counted half; NaN when a class is absent.
pub fn roc_auc(scores: &[f64], labels: &[u32]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[idx[k]] = r;
        }
        i = j + 1;
    }
    let n1 = labels.iter().filter(|&&l| l == 1).count() as f64;
    let n0 = labels.len() as f64 - n1;
    if n1 == 0.0 || n0 == 0.0 {
        return f64::NAN;
    }
    let r1: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, &l)| l == 1)
        .map(|(r, _)| r)
        .sum();
    (r1 - n1 * (n1 + 1.0) / 2.0) / (n1 * n0)
}

/// Scores of every image, in batches of the net's capacity.
pub fn predict_all(net: &mut Net, imgs: &[f32]) -> Result<Vec<f64>> {
    let per = net.spec.act_len(0);
    let mut out = Vec::with_capacity(imgs.len() / per * 2);
    for chunk in imgs.chunks(per * net.capacity) {
        out.extend(net.predict(chunk)?);
    }
    Ok(out)
}

/// Accuracy per class, AUC, confusion matrix and mean loss of scores against labels.
pub fn evaluate(logits: &[f64], labels: &[u32]) -> Evaluation {
    let mut confusion = vec![vec![0usize; 2]; 2];
    let mut scores = Vec::with_capacity(labels.len());
    let mut loss = 0.0;
    for (l, &y) in logits.chunks(2).zip(labels) {
        let pred = usize::from(l[1] > l[0]);
        confusion[y as usize][pred] += 1;
        let pg = softmax_glass(l);
        scores.push(pg);
        let m = l[0].max(l[1]);
        loss += m + ((l[0] - m).exp() + (l[1] - m).exp()).ln() - l[y as usize];
    }
    let mut accuracy = std::collections::BTreeMap::new();
    for (c, class) in Class::BOTH.iter().enumerate() {
        let total: usize = confusion[c].iter().sum();
        accuracy.insert(
            class.name().to_string(),
            if total == 0 {
                f64::NAN
            } else {
                confusion[c][c] as f64 / total as f64
            },
        );
    }
    let n = labels.len();
    accuracy.insert(
        "overall".into(),
        (confusion[0][0] + confusion[1][1]) as f64 / n.max(1) as f64,
    );
    Evaluation {
        n,
        accuracy,
        roc_auc: roc_auc(&scores, labels),
        confusion,
        labels: Class::BOTH.iter().map(|c| c.name().to_string()).collect(),
        loss: loss / n.max(1) as f64,
    }
}

/// A trained network: what `write_model` puts in a model directory.
#[derive(Clone, Debug)]
pub struct Trained {
    /// `config.json`.
    pub file: ModelFile,
    /// The parameters of the best validation epoch, in `file.tensors` order.
    pub params: Vec<f32>,
    /// `metrics.json`.
    pub metrics: Metrics,
}

/// Trains on `data` with `cfg`: one `Note` per epoch and an `Advance` per epoch through `ctx`; the cancel token
/// is checked after every batch.
pub fn train(data: &Dataset, cfg: &ModelConfig, compute: &Compute, ctx: Ctx) -> Result<Trained> {
    let start = std::time::Instant::now();
    cfg.check()
        .map_err(|m| Error::Input(format!("model settings: {m}")))?;
    let ns = data.manifest.system.n_species();
    let spec = cfg.net_spec(ns);
    spec.check()?;
    let grid = cfg.grid_spec(data.box_l());
    grid.check()?;
    let split = split_replicas(data, cfg.split, cfg.seed)?;
    let sets: Vec<Vec<(usize, u32)>> = [&split.train, &split.validation, &split.test]
        .iter()
        .map(|r| labelled(data, r))
        .collect();
    let gg = spec.pixels();
    let mut imgs = Vec::new();
    for (part, s) in sets.iter().enumerate() {
        let idx: Vec<usize> = s.iter().map(|x| x.0).collect();
        // the training images are made on the backend batch by batch (`Net::train_set_step`); on the host they
        // only feed the standardization
        if part == 0 && !cfg.standardize {
            imgs.push(Vec::new());
        } else {
            imgs.push(images(compute, data, &grid, &idx, 64)?);
        }
    }
    let norm = cfg
        .standardize
        .then(|| Standardization::measure(&imgs[0], ns, gg));
    if let Some(norm) = &norm {
        for set in &mut imgs[1..] {
            norm.apply(set, gg);
        }
    }
    let train_idx: Vec<usize> = sets[0].iter().map(|x| x.0).collect();
    let labels: Vec<Vec<u32>> = sets
        .iter()
        .map(|s| s.iter().map(|x| x.1).collect())
        .collect();
    let mut net = Net::new(compute, spec.clone(), &spec.init(cfg.seed), cfg.batch)?;
    let positions: Vec<f64> = train_idx
        .iter()
        .flat_map(|&k| data.snapshot(k).iter().copied())
        .collect();
    let (mean, std) = match &norm {
        Some(n) => (n.mean.clone(), n.std.clone()),
        None => (vec![0.0; ns], vec![1.0; ns]),
    };
    net.load_set(&TrainSet {
        positions: &positions,
        species: &data.species,
        labels: &labels[0],
        grid,
        mean: &mean,
        std: &std,
    })?;
    let adam = cfg.adam();
    ctx.observer.event(Event::Begin {
        what: "epochs",
        total: cfg.epochs as u64,
    });
    let mut history = Vec::new();
    let mut best: Option<(f64, f64, usize, Vec<f32>)> = None;
    let n_train = labels[0].len();
    let mut order: Vec<usize> = (0..n_train).collect();
    let mut seen = 0usize;
    let train_start = std::time::Instant::now();
    for epoch in 1..=cfg.epochs {
        shuffle(&mut order, cfg.seed.wrapping_add(epoch as u64));
        let order32: Vec<u32> = order.iter().map(|&i| i as u32).collect();
        let transforms: Option<Vec<[f64; 4]>> = cfg.augment.then(|| {
            train_idx
                .iter()
                .map(|&k| augment_transform(data.box_l(), augment_seed(cfg.seed, epoch, k)))
                .collect()
        });
        net.begin_epoch(&order32, transforms.as_deref())?;
        for (bi, chunk) in order.chunks(cfg.batch).enumerate() {
            let seed = mix(cfg.seed ^ ((epoch as u64) << 32) ^ bi as u64) as u32;
            net.train_set_step(bi * cfg.batch, chunk.len(), seed, &adam)?;
            seen += chunk.len();
            ctx.cancel.check()?;
        }
        // the one read of the epoch's training numbers
        let (loss_sum, correct) = net.epoch_tally()?;
        if !loss_sum.is_finite() {
            let inputs_bad = positions.iter().any(|x| !x.is_finite());
            return Err(diverged(cfg, loss_sum, epoch, true, inputs_bad));
        }
        let val = evaluate(&predict_all(&mut net, &imgs[1])?, &labels[1]);
        if !val.loss.is_finite() && !labels[1].is_empty() {
            let inputs_bad = imgs[1].iter().any(|x| !x.is_finite());
            return Err(diverged(cfg, val.loss, epoch, false, inputs_bad));
        }
        let log = EpochLog {
            epoch,
            train_loss: loss_sum / n_train as f64,
            train_accuracy: correct as f64 / n_train as f64,
            validation_loss: val.loss,
            validation_accuracy: val.accuracy["overall"],
        };
        ctx.note(&format!(
            "epoch {epoch}/{}: loss {:.4} acc {:.3} | val loss {:.4} acc {:.3}",
            cfg.epochs,
            log.train_loss,
            log.train_accuracy,
            log.validation_loss,
            log.validation_accuracy
        ));
        ctx.observer.event(Event::Advance(1));
        let better = match &best {
            None => true,
            Some((acc, loss, _, _)) => {
                log.validation_accuracy > *acc
                    || (log.validation_accuracy == *acc && log.validation_loss < *loss)
            }
        };
        if better {
            best = Some((
                log.validation_accuracy,
                log.validation_loss,
                epoch,
                net.params()?,
            ));
        }
        history.push(log);
    }
    ctx.observer.event(Event::End);
    let train_secs = train_start.elapsed().as_secs_f64();
    let (val_acc, _, best_epoch, params) = match best {
        Some(b) => b,
        None => (f64::NAN, f64::NAN, 0, net.params()?),
    };
    let mut eval_net = Net::new(compute, spec.clone(), &params, cfg.batch)?;
    let validation = evaluate(&predict_all(&mut eval_net, &imgs[1])?, &labels[1]);
    let test = evaluate(&predict_all(&mut eval_net, &imgs[2])?, &labels[2]);
    let file = ModelFile {
        format: model::FORMAT.into(),
        version: model::VERSION,
        config: cfg.clone(),
        in_channels: ns,
        classes: Class::BOTH.iter().map(|c| c.name().to_string()).collect(),
        box_l: data.box_l(),
        data: data.dir.display().to_string(),
        data_fingerprint: data.fingerprint.clone(),
        weights_sha256: String::new(),
        split: split.clone(),
        best_epoch,
        validation_accuracy: val_acc,
        tensors: spec
            .tensors()
            .into_iter()
            .map(|(name, shape, _)| TensorInfo { name, shape })
            .collect(),
        input_mean: norm.as_ref().map(|n| n.mean.clone()).unwrap_or_default(),
        input_std: norm.as_ref().map(|n| n.std.clone()).unwrap_or_default(),
        layout: LAYOUT.into(),
    };
    let metrics = Metrics {
        data: data.dir.display().to_string(),
        backend: compute.describe(),
        replicas: [split.train.len(), split.validation.len(), split.test.len()],
        snapshots: [labels[0].len(), labels[1].len(), labels[2].len()],
        epochs: cfg.epochs,
        best_epoch,
        validation,
        test,
        seconds: start.elapsed().as_secs_f64(),
        train_samples_per_s: seen as f64 / train_secs.max(1e-9),
        history,
    };
    Ok(Trained {
        file,
        params,
        metrics,
    })
}

/// The error for a non-finite loss: in the training batches of `epoch` (summed once per epoch on the device) or in
/// the validation after it; `inputs_bad` when the inputs themselves hold NaN or infinite values. Training stops
/// there, so no model is written.
fn diverged(cfg: &ModelConfig, loss: f64, epoch: usize, training: bool, inputs_bad: bool) -> Error {
    let at = if training {
        format!("the training loss became {loss} in epoch {epoch}")
    } else {
        format!("the validation loss became {loss} after epoch {epoch}")
    };
    let cause = if inputs_bad {
        "an input image holds NaN or infinite values: check the data set's positions and the model's `width` \
         and `cutoff`"
            .to_string()
    } else {
        format!(
            "the optimiser diverged: lower the learning rate (`lr` = {:e}, the paper's is 1e-3) and check \
             Adam's `eps` = {:e} (default 1e-8)",
            cfg.lr, cfg.eps
        )
    };
    Error::Input(format!(
        "training stopped: {at}; {cause}. No model was written"
    ))
}

/// Writes the model directory: `model.safetensors`, `config.json` and `metrics.json`.
pub fn write_model(out: &Path, t: &Trained) -> Result<()> {
    model::save(out, &t.file, &t.params)?;
    write_json_atomic(&out.join("metrics.json"), &t.metrics)
}

#[cfg(test)]
mod metrics_file_tests {
    use super::*;

    #[test]
    fn undefined_metrics_written_as_null_read_back_as_nan() {
        let e = Evaluation {
            n: 2,
            accuracy: [("glass".to_string(), 1.0), ("liquid".to_string(), f64::NAN)].into(),
            roc_auc: roc_auc(&[0.2, 0.9], &[1, 1]),
            confusion: vec![vec![0, 0], vec![0, 2]],
            labels: vec!["liquid".into(), "glass".into()],
            loss: 0.1,
        };
        let text = serde_json::to_string(&e).expect("serialise");
        assert!(
            text.contains("\"roc_auc\":null") && text.contains("\"liquid\":null"),
            "{text}"
        );
        let back: Evaluation =
            serde_json::from_str(&text).expect("a metrics file with null reads back");
        assert!(back.roc_auc.is_nan() && back.accuracy["liquid"].is_nan());
        assert_eq!(back.accuracy["glass"], 1.0);
        assert_eq!(back.loss, 0.1);
    }
}
