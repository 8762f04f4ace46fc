//! `glasscam train --arch mpnn`: graphs of the labelled snapshots, Swanson's MPNN trained with Adam on a warm-up
//! then decay schedule on the training replicas, the parameters of the best validation epoch kept, and accuracy
//! per class, ROC AUC and the confusion matrix on the test replicas (`metrics.json`, as the CNN's).

use std::time::Instant;

use glasscam_kernels::gnn::gpu_net::{read, GpuAdam, GpuMpnn};
use glasscam_kernels::gnn::{net, GraphBatch, MpnnSpec, Schedule};
use glasscam_kernels::nn::cpu::adam;
use glasscam_kernels::nn::AdamSpec;
use glasscam_kernels::Compute;

use super::config::MpnnConfig;
use super::graph;
use super::model::{Mpnn, MpnnModelFile, LAYOUT, VERSION};
use crate::error::{Error, Result};
use crate::events::Ctx;
use crate::io::dataset::Dataset;
use crate::learn::fit::{fit_classifier, Batch, Classification, Divergence, Learner, Tally};
use crate::learn::metrics::correct;
use crate::learn::model::{Arch, Header, Model, Run, TensorInfo, Trained};
use crate::learn::split::Sets;

/// The graphs of snapshots `idx` (each with its particle indices), built in parallel.
pub fn graphs(data: &Dataset, cfg: &MpnnConfig, idx: &[usize]) -> Result<Vec<GraphBatch>> {
    let configs: Vec<&[f64]> = idx.iter().map(|&k| data.snapshot(k)).collect();
    let built = graph::build_many(&configs, &data.species, data.box_l(), cfg.k, |c| {
        cfg.region(idx[c])
    })
    .map_err(|e| match e {
        Error::Input(m) => Error::Dataset {
            path: data.dir.clone(),
            message: m,
        },
        e => e,
    })?;
    Ok(built.into_iter().map(|(g, _)| g).collect())
}

/// Mean and standard deviation of the edge lengths of `graphs` (std 1 when they do not vary).
pub fn dist_stats(graphs: &[GraphBatch]) -> (f64, f64) {
    let n: usize = graphs.iter().map(|g| g.n_edges()).sum();
    let mean = graphs.iter().flat_map(|g| &g.dist).sum::<f64>() / n.max(1) as f64;
    let var = graphs
        .iter()
        .flat_map(|g| &g.dist)
        .map(|d| (d - mean).powi(2))
        .sum::<f64>()
        / n.max(1) as f64;
    (mean, if var > 0.0 { var.sqrt() } else { 1.0 })
}

/// The parameters in f32, the training and inference precision: the network's sums run over a few thousand terms
/// of O(1) values, where f32's 1e-7 relative error is far below what the schedule's noise changes, and f32 halves
/// the memory traffic and doubles the GEMM width. The f64 twin stays the reference (finite differences, GPU tests,
/// `f32_forward_matches_the_f64_twin`).
pub fn to_f32(params: &[f64]) -> Vec<f32> {
    params.iter().map(|&x| x as f32).collect()
}

/// Class scores of every graph, `batch` graphs per forward pass (eval mode, f32 CPU twin).
pub fn predict(spec: &MpnnSpec, params: &[f32], graphs: &[GraphBatch], batch: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(graphs.len() * spec.classes);
    for chunk in graphs.chunks(batch.max(1)) {
        let parts: Vec<&GraphBatch> = chunk.iter().collect();
        let b = GraphBatch::concat(&parts);
        out.extend(
            net::forward(spec, params, &b, None)
                .logits
                .iter()
                .map(|&x| x as f64),
        );
    }
    out
}

/// Where the training steps run: the f32 CPU twin with an f64 master copy of the parameters for Adam, or the GPU
/// (`GpuMpnn`: f32 parameters, activations and Adam moments on the device).
enum Trainer {
    Cpu {
        params: Vec<f64>,
        m: Vec<f64>,
        v: Vec<f64>,
        // activations and gradient buffers reused by every step (f32: see `to_f32`)
        fw: Box<net::Forward<f32>>,
        scratch: Box<net::Scratch<f32>>,
    },
    Gpu {
        net: GpuMpnn,
        adam: GpuAdam,
    },
}

impl Trainer {
    fn new(compute: &Compute, spec: &MpnnSpec, params: Vec<f64>) -> Result<Trainer> {
        Ok(match compute {
            Compute::Cpu => Trainer::Cpu {
                m: vec![0.0; params.len()],
                v: vec![0.0; params.len()],
                params,
                fw: Box::default(),
                scratch: Box::default(),
            },
            Compute::Gpu(ctx) => {
                let net = GpuMpnn::new(ctx.clone(), *spec, &to_f32(&params))?;
                let adam = GpuAdam::new(&net)?;
                Trainer::Gpu { net, adam }
            }
        })
    }

    /// One step (forward, loss, backward, Adam step t, 1-based, at rate lr) on batch `b` with dropout seed
    /// `seed`; returns the mean loss and the logits.
    fn step(
        &mut self,
        spec: &MpnnSpec,
        b: &GraphBatch,
        y: &[u32],
        seed: u32,
        lr: f64,
        t: u64,
    ) -> Result<(f64, Vec<f64>)> {
        match self {
            Trainer::Cpu {
                params,
                m,
                v,
                fw,
                scratch,
            } => {
                let (l, g) =
                    net::loss_and_grads_with(spec, &to_f32(params), b, y, Some(seed), fw, scratch);
                let g: Vec<f64> = g.into_iter().map(f64::from).collect();
                let a = AdamSpec {
                    lr,
                    ..AdamSpec::default()
                };
                adam(&a.params(params.len(), t), &g, params, m, v);
                Ok((l, fw.logits.iter().map(|&x| x as f64).collect()))
            }
            Trainer::Gpu { net, adam } => {
                let bb = net.batch(b)?;
                let (losses, logits) = net.loss_and_grads(&bb, y, Some(seed))?;
                adam.step(net, &bb.d.grads, lr, t)?;
                let mean = losses.iter().sum::<f64>() / losses.len().max(1) as f64;
                Ok((mean, logits))
            }
        }
    }

    /// The current parameters in f32, as a model file stores them (on the GPU, the values read back).
    fn params(&self, spec: &MpnnSpec) -> Result<Vec<f32>> {
        Ok(match self {
            Trainer::Cpu { params, .. } => to_f32(params),
            Trainer::Gpu { net, .. } => to_f32(&read(&net.ctx, &net.params, spec.n_params())?),
        })
    }

    /// Class scores of every graph with the current parameters, `batch` graphs per forward pass.
    fn predict(&self, spec: &MpnnSpec, graphs: &[GraphBatch], batch: usize) -> Result<Vec<f64>> {
        match self {
            Trainer::Cpu { params, .. } => Ok(predict(spec, &to_f32(params), graphs, batch)),
            Trainer::Gpu { net, .. } => {
                let mut out = Vec::with_capacity(graphs.len() * spec.classes);
                for chunk in graphs.chunks(batch.max(1)) {
                    let parts: Vec<&GraphBatch> = chunk.iter().collect();
                    out.extend(net.forward(&GraphBatch::concat(&parts))?.logits);
                }
                Ok(out)
            }
        }
    }
}

/// The graph network in training: its trainer, the training and validation graphs, the learning-rate schedule
/// and the epoch's running sums (per batch: the loss and logits come back with every step).
struct MpnnLearner<'a> {
    trainer: Trainer,
    spec: MpnnSpec,
    cfg: &'a MpnnConfig,
    schedule: Schedule,
    train: &'a [GraphBatch],
    labels: &'a [u32],
    validation: &'a [GraphBatch],
    /// Steps taken (Adam's t).
    step: u64,
    tally: Tally,
}

impl Learner for MpnnLearner<'_> {
    fn begin_epoch(&mut self, _: usize, _: &[usize]) -> Result<()> {
        Ok(())
    }

    fn step(&mut self, b: &Batch) -> Result<()> {
        let parts: Vec<&GraphBatch> = b.samples.iter().map(|&i| &self.train[i]).collect();
        let batch = GraphBatch::concat(&parts);
        let y: Vec<u32> = b.samples.iter().map(|&i| self.labels[i]).collect();
        self.step += 1;
        let lr = self.schedule.lr(self.step - 1);
        let (l, logits) = self
            .trainer
            .step(&self.spec, &batch, &y, b.seed, lr, self.step)?;
        if !l.is_finite() {
            return Err(Error::Input(format!(
                "training stopped: the MPNN's training loss became {l} at epoch {}, batch {}; the optimiser \
                 diverged: lower `max_lr` (= {:e}; the quick preset's is 1e-2, Swanson's 1e-3). No model was \
                 written",
                b.epoch,
                b.index + 1,
                self.cfg.max_lr
            )));
        }
        self.tally.loss += l * b.samples.len() as f64;
        self.tally.score += correct(&logits, &y) as f64;
        Ok(())
    }

    fn end_epoch(&mut self) -> Result<Tally> {
        Ok(std::mem::take(&mut self.tally))
    }

    fn validation_outputs(&mut self) -> Result<Vec<f64>> {
        self.trainer
            .predict(&self.spec, self.validation, self.cfg.batch)
    }

    fn params(&mut self) -> Result<Vec<f32>> {
        self.trainer.params(&self.spec)
    }

    fn diverged(&self, d: Divergence) -> Error {
        Error::Input(format!(
            "training stopped: the {}; the optimiser diverged: lower `max_lr` (= {:e}; the quick preset's is 1e-2, \
             Swanson's 1e-3). No model was written",
            d.describe("MPNN's "),
            self.cfg.max_lr
        ))
    }
}

/// Trains on `data` with `cfg` on `compute`: the CPU twin, or the GPU (the same dropout masks). The final
/// validation and test metrics come from the twin's `predict` on the kept parameters either way: they are those
/// of the written model.
pub fn train(
    data: &Dataset,
    cfg: &MpnnConfig,
    compute: &Compute,
    ctx: Ctx,
) -> Result<Trained<Mpnn>> {
    let start = Instant::now();
    cfg.check().map_err(Error::Input)?;
    let ns = data.manifest.system.n_species();
    let sets = Sets::new(data, cfg.split, cfg.seed)?;
    let mut gs = Vec::new();
    for part in [&sets.train, &sets.validation, &sets.test] {
        gs.push(graphs(data, cfg, &part.snapshots)?);
        ctx.cancel.check()?;
    }
    let spec = cfg.spec(ns, dist_stats(&gs[0]));
    spec.check()?;
    let n_train = sets.train.len();
    let mut learner = MpnnLearner {
        trainer: Trainer::new(compute, &spec, spec.init(cfg.seed))?,
        spec,
        cfg,
        schedule: cfg.schedule(n_train.div_ceil(cfg.batch)),
        train: &gs[0],
        labels: &sets.train.labels,
        validation: &gs[1],
        step: 0,
        tally: Tally::default(),
    };
    let fitted = fit_classifier(&mut learner, &sets, (cfg.epochs, cfg.batch, cfg.seed), ctx)?;
    drop(learner);
    let model = Mpnn {
        file: MpnnModelFile {
            header: Header::trained::<Classification>(
                (Arch::Mpnn, VERSION),
                data,
                &sets.split,
                &fitted,
                TensorInfo::list(&spec.tensors()),
                LAYOUT,
            ),
            config: cfg.clone(),
            n_species: ns,
            dist_mean: spec.dist_mean,
            dist_std: spec.dist_std,
        },
        params: fitted.params.clone(),
    };
    let parts = [
        (&gs[1], &sets.validation.labels[..]),
        (&gs[2], &sets.test.labels[..]),
    ];
    let run = Run {
        data,
        sets: &sets,
        compute,
        epochs: cfg.epochs,
        backend: Mpnn::backend(cfg, compute),
        started: start,
    };
    Trained::conclude(model, &Classification, parts, fitted, run)
}
