//! `glasscam train --arch mpnn`: graphs of the labelled snapshots, Swanson's MPNN trained with Adam on a warm-up
//! then decay schedule on the training replicas, the parameters of the best validation epoch kept, and accuracy
//! per class, ROC AUC and the confusion matrix on the test replicas (`metrics.json`, as the CNN's).

use std::path::Path;

use glasscam_kernels::gnn::gpu_net::{read, GpuAdam, GpuMpnn};
use glasscam_kernels::gnn::{net, GraphBatch, MpnnSpec};
use glasscam_kernels::nn::cpu::adam;
use glasscam_kernels::nn::AdamSpec;
use glasscam_kernels::Compute;

use super::config::MpnnConfig;
use super::graph;
use super::model::{self, MpnnModelFile, FORMAT, LAYOUT};
use crate::domain::Class;
use crate::error::{Error, Result};
use crate::events::{Ctx, Event};
use crate::io::dataset::{write_json_atomic, Dataset};
use crate::learn::cnn::data::{labelled, mix, shuffle, split_replicas};
use crate::learn::cnn::model::TensorInfo;
use crate::learn::cnn::train::{evaluate, EpochLog, Metrics};

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

/// Class scores of every graph, `batch` graphs per forward pass (eval mode, f32).
pub fn predict(spec: &MpnnSpec, params: &[f64], graphs: &[GraphBatch], batch: usize) -> Vec<f64> {
    let p32 = to_f32(params);
    let mut out = Vec::with_capacity(graphs.len() * spec.classes);
    for chunk in graphs.chunks(batch.max(1)) {
        let parts: Vec<&GraphBatch> = chunk.iter().collect();
        let b = GraphBatch::concat(&parts);
        out.extend(
            net::forward(spec, &p32, &b, None)
                .logits
                .iter()
                .map(|&x| x as f64),
        );
    }
    out
}

/// Trains on `data` with `cfg` and writes the model directory `out`; returns the metrics it wrote.
/// A trained graph network: what `write_model` writes.
#[derive(Clone, Debug)]
pub struct MpnnTrained {
    /// `config.json`.
    pub file: MpnnModelFile,
    /// The parameters of the best validation epoch (f32 values), in `file.tensors` order.
    pub params: Vec<f64>,
    /// `metrics.json`.
    pub metrics: Metrics,
}

/// Writes the model directory: weights, config and metrics.
pub fn write_model(out: &Path, t: &MpnnTrained) -> Result<()> {
    model::save(out, &t.file, &t.params)?;
    write_json_atomic(&out.join("metrics.json"), &t.metrics)
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

    /// The current parameters (f64; on the GPU the f32 values read back).
    fn params(&self, spec: &MpnnSpec) -> Result<Vec<f64>> {
        match self {
            Trainer::Cpu { params, .. } => Ok(params.clone()),
            Trainer::Gpu { net, .. } => Ok(read(&net.ctx, &net.params, spec.n_params())?),
        }
    }

    /// Class scores of every graph with the current parameters, `batch` graphs per forward pass.
    fn predict(&self, spec: &MpnnSpec, graphs: &[GraphBatch], batch: usize) -> Result<Vec<f64>> {
        match self {
            Trainer::Cpu { params, .. } => Ok(predict(spec, params, graphs, batch)),
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

/// Trains on `data` with `cfg` on the CPU twin.
pub fn train(data: &Dataset, cfg: &MpnnConfig, ctx: Ctx) -> Result<MpnnTrained> {
    train_on(data, cfg, &Compute::Cpu, ctx)
}

/// Trains on `data` with `cfg` on `compute`: the CPU twin, or the GPU (the same dropout masks). The final validation and test metrics come from the twin's `predict` on the kept
/// parameters either way: they are those of the written model.
pub fn train_on(
    data: &Dataset,
    cfg: &MpnnConfig,
    compute: &Compute,
    ctx: Ctx,
) -> Result<MpnnTrained> {
    let start = std::time::Instant::now();
    cfg.check().map_err(Error::Input)?;
    let ns = data.manifest.system.n_species();
    let split = split_replicas(data, cfg.split, cfg.seed)?;
    let sets: Vec<Vec<(usize, u32)>> = [&split.train, &split.validation, &split.test]
        .iter()
        .map(|r| labelled(data, r))
        .collect();
    let mut gs = Vec::new();
    for s in &sets {
        let idx: Vec<usize> = s.iter().map(|x| x.0).collect();
        gs.push(graphs(data, cfg, &idx)?);
        ctx.cancel.check()?;
    }
    let spec = cfg.spec(ns, dist_stats(&gs[0]));
    spec.check()?;
    let labels: Vec<Vec<u32>> = sets
        .iter()
        .map(|s| s.iter().map(|x| x.1).collect())
        .collect();
    let n_train = labels[0].len();
    let steps_per_epoch = n_train.div_ceil(cfg.batch);
    let schedule = cfg.schedule(steps_per_epoch);
    let mut trainer = Trainer::new(compute, &spec, spec.init(cfg.seed))?;
    let mut order: Vec<usize> = (0..n_train).collect();
    let mut history = Vec::new();
    let mut best: Option<(f64, f64, usize, Vec<f64>)> = None;
    let mut step = 0u64;
    let mut seen = 0usize;
    let train_start = std::time::Instant::now();
    ctx.observer.event(Event::Begin {
        what: "epochs",
        total: cfg.epochs as u64,
    });
    for epoch in 1..=cfg.epochs {
        shuffle(&mut order, cfg.seed.wrapping_add(epoch as u64));
        let (mut loss_sum, mut correct) = (0.0, 0usize);
        for (bi, chunk) in order.chunks(cfg.batch).enumerate() {
            ctx.cancel.check()?;
            let parts: Vec<&GraphBatch> = chunk.iter().map(|&i| &gs[0][i]).collect();
            let b = GraphBatch::concat(&parts);
            let y: Vec<u32> = chunk.iter().map(|&i| labels[0][i]).collect();
            let seed = mix(cfg.seed ^ ((epoch as u64) << 32) ^ bi as u64) as u32;
            step += 1;
            let (l, logits) = trainer.step(&spec, &b, &y, seed, schedule.lr(step - 1), step)?;
            if !l.is_finite() {
                return Err(Error::Input(format!(
                    "training stopped: the MPNN's training loss became {l} at epoch {epoch}, batch {}; the optimiser \
                     diverged: lower `max_lr` (= {:e}; the quick preset's is 1e-2, Swanson's 1e-3). No model was \
                     written",
                    bi + 1,
                    cfg.max_lr
                )));
            }
            loss_sum += l * chunk.len() as f64;
            correct += logits
                .chunks(2)
                .zip(&y)
                .filter(|(l, &y)| usize::from(l[1] > l[0]) == y as usize)
                .count();
            seen += chunk.len();
        }
        let val = evaluate(&trainer.predict(&spec, &gs[1], cfg.batch)?, &labels[1]);
        let log = EpochLog {
            epoch,
            train_loss: loss_sum / n_train.max(1) as f64,
            train_accuracy: correct as f64 / n_train.max(1) as f64,
            validation_loss: val.loss,
            validation_accuracy: val.accuracy["overall"],
        };
        ctx.observer.event(Event::Advance(1));
        ctx.note(&format!(
            "epoch {epoch}/{}: loss {:.4} acc {:.3} | val loss {:.4} acc {:.3}",
            cfg.epochs,
            log.train_loss,
            log.train_accuracy,
            log.validation_loss,
            log.validation_accuracy
        ));
        let better = match &best {
            None => true,
            Some((acc, loss, _, _)) => {
                log.validation_accuracy > *acc
                    || (log.validation_accuracy == *acc && log.validation_loss < *loss)
            }
        };
        if better {
            // kept as saved (f32), so the reported numbers are those of the written model
            let p32 = trainer
                .params(&spec)?
                .iter()
                .map(|&x| x as f32 as f64)
                .collect();
            best = Some((log.validation_accuracy, log.validation_loss, epoch, p32));
        }
        history.push(log);
    }
    ctx.observer.event(Event::End);
    let train_secs = train_start.elapsed().as_secs_f64();
    let (val_acc, _, best_epoch, best_params) = match best {
        Some(b) => b,
        None => (f64::NAN, f64::NAN, 0, trainer.params(&spec)?),
    };
    let validation = evaluate(&predict(&spec, &best_params, &gs[1], cfg.batch), &labels[1]);
    let test = evaluate(&predict(&spec, &best_params, &gs[2], cfg.batch), &labels[2]);
    let file = MpnnModelFile {
        format: FORMAT.into(),
        version: 1,
        config: cfg.clone(),
        n_species: ns,
        dist_mean: spec.dist_mean,
        dist_std: spec.dist_std,
        classes: Class::BOTH.iter().map(|c| c.name().to_string()).collect(),
        box_l: data.box_l(),
        data: data.dir.display().to_string(),
        weights_sha256: String::new(),
        split: split.clone(),
        best_epoch,
        validation_accuracy: val_acc,
        tensors: spec
            .tensors()
            .into_iter()
            .map(|(name, shape, _)| TensorInfo {
                name: name.to_string(),
                shape,
            })
            .collect(),
        layout: LAYOUT.into(),
    };
    let metrics = Metrics {
        data: data.dir.display().to_string(),
        backend: match compute {
            Compute::Cpu => "cpu twin (f32)".into(),
            Compute::Gpu(_) => format!("{} (f32)", compute.describe()),
        },
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
    Ok(MpnnTrained {
        file,
        params: best_params,
        metrics,
    })
}
