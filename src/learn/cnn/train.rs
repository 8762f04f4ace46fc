//! `glasscam train`: gridize the labelled snapshots, train the CNN on the training replicas with Adam (the
//! training set kept on the backend, batches gathered, augmented and gridized there), keep the parameters of the
//! best validation epoch, and report accuracy per class, ROC AUC and the confusion matrix on the test replicas
//! (`metrics.json`).

use std::time::Instant;

use glasscam_kernels::nn::net::{Net, TrainSet};
use glasscam_kernels::nn::AdamSpec;
use glasscam_kernels::Compute;

use super::config::ModelConfig;
use super::data::{augment_seed, augment_transform, images};
use super::model::{predict_all, Cnn, ModelFile, Standardization, LAYOUT, VERSION};
use crate::error::{Error, Result};
use crate::events::Ctx;
use crate::io::dataset::Dataset;
use crate::learn::fit::{fit_classifier, Batch, Classification, Divergence, Learner, Tally};
use crate::learn::model::{Arch, Header, Model, Run, TensorInfo, Trained};
use crate::learn::split::Sets;

/// The CNN in training: the network with its training set on the backend, and the validation images.
struct CnnLearner<'a> {
    net: Net,
    cfg: &'a ModelConfig,
    adam: AdamSpec,
    box_l: f64,
    /// Snapshot of each training sample (the augmentation is seeded per snapshot).
    train_snapshots: &'a [usize],
    /// The training positions (for the divergence message) and the validation images.
    positions: Vec<f64>,
    validation: &'a [f32],
}

impl Learner for CnnLearner<'_> {
    fn begin_epoch(&mut self, epoch: usize, order: &[usize]) -> Result<()> {
        let order32: Vec<u32> = order.iter().map(|&i| i as u32).collect();
        let transforms: Option<Vec<[f64; 4]>> = self.cfg.augment.then(|| {
            self.train_snapshots
                .iter()
                .map(|&k| augment_transform(self.box_l, augment_seed(self.cfg.seed, epoch, k)))
                .collect()
        });
        Ok(self.net.begin_epoch(&order32, transforms.as_deref())?)
    }

    fn step(&mut self, b: &Batch) -> Result<()> {
        Ok(self
            .net
            .train_set_step(b.offset, b.samples.len(), b.seed, &self.adam)?)
    }

    /// The one read of the epoch's training numbers, summed on the backend.
    fn end_epoch(&mut self) -> Result<Tally> {
        let (loss, correct) = self.net.epoch_tally()?;
        Ok(Tally {
            loss,
            score: correct as f64,
        })
    }

    fn validation_outputs(&mut self) -> Result<Vec<f64>> {
        predict_all(&mut self.net, self.validation)
    }

    fn params(&mut self) -> Result<Vec<f32>> {
        Ok(self.net.params()?)
    }

    fn diverged(&self, d: Divergence) -> Error {
        match d {
            Divergence::Training { loss, epoch } => diverged(
                self.cfg,
                format!("the training loss became {loss} in epoch {epoch}"),
                self.positions.iter().any(|x| !x.is_finite()),
            ),
            Divergence::Validation { loss, epoch } => diverged(
                self.cfg,
                format!("the validation loss became {loss} after epoch {epoch}"),
                self.validation.iter().any(|x| !x.is_finite()),
            ),
        }
    }
}

/// The error for a non-finite loss `at` a point of training; `inputs_bad` when the inputs themselves hold NaN
/// or infinite values. Training stops there, so no model is written.
fn diverged(cfg: &ModelConfig, at: String, inputs_bad: bool) -> Error {
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

/// Trains on `data` with `cfg`: one `Note` per epoch and an `Advance` per epoch through `ctx`; the cancel token
/// is checked before every batch.
pub fn train(
    data: &Dataset,
    cfg: &ModelConfig,
    compute: &Compute,
    ctx: Ctx,
) -> Result<Trained<Cnn>> {
    let start = Instant::now();
    cfg.check()
        .map_err(|m| Error::Input(format!("model settings: {m}")))?;
    let ns = data.manifest.system.n_species();
    let spec = cfg.net_spec(ns);
    spec.check()?;
    let grid = cfg.grid_spec(data.box_l());
    grid.check()?;
    let sets = Sets::new(data, cfg.split, cfg.seed)?;
    let gg = spec.pixels();
    let on = (compute, cfg.precision);
    // the training images are made on the backend batch by batch (`Net::train_set_step`); on the host they only
    // feed the standardization
    let train_imgs = if cfg.standardize {
        images(on, data, &grid, &sets.train.snapshots, 64)?
    } else {
        Vec::new()
    };
    let mut val_imgs = images(on, data, &grid, &sets.validation.snapshots, 64)?;
    let mut test_imgs = images(on, data, &grid, &sets.test.snapshots, 64)?;
    let norm = cfg
        .standardize
        .then(|| Standardization::measure(&train_imgs, ns, gg));
    if let Some(norm) = &norm {
        norm.apply(&mut val_imgs, gg);
        norm.apply(&mut test_imgs, gg);
    }
    let mut net = Net::with_precision(
        compute,
        cfg.precision.kernel(),
        spec.clone(),
        &spec.init(cfg.seed),
        cfg.batch,
    )?;
    let positions: Vec<f64> = sets
        .train
        .snapshots
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
        labels: &sets.train.labels,
        grid,
        mean: &mean,
        std: &std,
    })?;
    let mut learner = CnnLearner {
        net,
        cfg,
        adam: cfg.adam(),
        box_l: data.box_l(),
        train_snapshots: &sets.train.snapshots,
        positions,
        validation: &val_imgs,
    };
    let fitted = fit_classifier(&mut learner, &sets, (cfg.epochs, cfg.batch, cfg.seed), ctx)?;
    drop(learner);
    let model = Cnn {
        file: ModelFile {
            header: Header::trained::<Classification>(
                (Arch::Cnn, VERSION),
                data,
                &sets.split,
                &fitted,
                TensorInfo::list(&spec.tensors()),
                LAYOUT,
            ),
            config: cfg.clone(),
            in_channels: ns,
            input_mean: norm.as_ref().map(|n| n.mean.clone()).unwrap_or_default(),
            input_std: norm.as_ref().map(|n| n.std.clone()).unwrap_or_default(),
        },
        params: fitted.params.clone(),
    };
    let parts = [
        (&val_imgs, &sets.validation.labels[..]),
        (&test_imgs, &sets.test.labels[..]),
    ];
    let run = Run {
        data,
        sets: &sets,
        compute,
        epochs: cfg.epochs,
        backend: Cnn::backend(cfg, compute),
        started: start,
    };
    Trained::conclude(model, &Classification, parts, fitted, run)
}
