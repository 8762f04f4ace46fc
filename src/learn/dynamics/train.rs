//! `glasscam train --arch gn`: the cutoff graphs of a data set's configurations, Bapst's network trained with Adam
//! (gradients clipped to a global norm) on randomly rotated and mirrored configurations to predict the
//! standardized target of every particle of the scored species at every time point, the parameters of the best
//! validation epoch (mean Pearson correlation over the time points) kept, and the test scores (`metrics.json`).

use std::time::Instant;

use glasscam_kernels::gnn::bapst::{self, GnGraph, GnSpec};
use glasscam_kernels::gnn::gpu_bapst::GpuGn;
use glasscam_kernels::nn::cpu::adam;
use glasscam_kernels::nn::AdamSpec;
use glasscam_kernels::Compute;

use super::config::GnConfig;
use super::graph::unconverged_warning;
use super::graph::{graphs, transformed, Orthogonal};
use super::model::{outputs, scaled_inputs, scored_rows, Gn, GnModelFile, LAYOUT, VERSION};
use super::targets::{standardization, TargetSet};
use crate::error::{Error, Result};
use crate::events::Ctx;
use crate::io::dataset::Dataset;
use crate::learn::fit::{fit, Batch, Divergence, Fitted, Learner, Plan, Regression, Tally};
use crate::learn::model::{Arch, Header, Run, TensorInfo, Trained};
use crate::learn::split::target_sets;
use crate::sim::minimize::InherentSet;

/// The standardized targets [V, T] of snapshot `k`.
fn standardized(
    targets: &TargetSet,
    k: usize,
    n: usize,
    (mean, std): (&[f64], &[f64]),
) -> Vec<f64> {
    let t = targets.n_times();
    let mut y = targets.node_major(k, n);
    for (i, x) in y.iter_mut().enumerate() {
        *x = (*x - mean[i % t]) / std[i % t];
    }
    y
}

/// The network in training: f32 forward and backward on the CPU twin, or on the GPU (`gpu`), and an f64 master
/// copy of the parameters for the clip and Adam on the host.
struct GnLearner<'a> {
    spec: GnSpec,
    gpu: Option<GpuGn>,
    cfg: &'a GnConfig,
    params: Vec<f64>,
    m: Vec<f64>,
    v: Vec<f64>,
    /// The moving average of the parameters (`average`), without its bias correction.
    avg: Vec<f64>,
    train: &'a [GnGraph],
    /// Standardized targets [V, T] per training graph.
    train_y: &'a [Vec<f64>],
    validation: &'a [GnGraph],
    /// Steps taken (Adam's t).
    step: u64,
    tally: Tally,
}

fn to_f32(x: &[f64]) -> Vec<f32> {
    x.iter().map(|&v| v as f32).collect()
}

/// Scales `g` down to global norm `clip` when it is longer (clip 0: unchanged).
pub fn clip_norm(g: &mut [f64], clip: f64) {
    let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    if clip > 0.0 && norm > clip {
        let s = clip / norm;
        for x in g.iter_mut() {
            *x *= s;
        }
    }
}

impl Learner for GnLearner<'_> {
    fn begin_epoch(&mut self, _: usize, _: &[usize]) -> Result<()> {
        Ok(())
    }

    fn step(&mut self, b: &Batch) -> Result<()> {
        let parts: Vec<GnGraph> = b
            .samples
            .iter()
            .enumerate()
            .map(|(j, &i)| match self.cfg.augment {
                true => transformed(
                    &self.train[i],
                    Orthogonal::random(((b.seed as u64) << 32) ^ j as u64),
                    self.cfg.node_vectors(),
                ),
                false => self.train[i].clone(),
            })
            .collect();
        let batch = GnGraph::concat(&parts.iter().collect::<Vec<_>>());
        let y: Vec<f32> = b
            .samples
            .iter()
            .flat_map(|&i| self.train_y[i].iter().map(|&x| x as f32))
            .collect();
        let p32 = to_f32(&self.params);
        let (l, mut g) = match &self.gpu {
            None => {
                let (l, g, _) =
                    bapst::loss_and_grads(&self.spec, &p32, &batch, self.cfg.loss_species(), &y);
                (l, g.into_iter().map(f64::from).collect())
            }
            Some(gpu) => {
                gpu.set_params(&p32);
                gpu.loss_and_grads(&gpu.batch(&batch, self.cfg.loss_species())?, &y)?
            }
        };
        if !l.is_finite() {
            return Err(self.diverged(Divergence::Training {
                loss: l,
                epoch: b.epoch,
            }));
        }
        clip_norm(&mut g, self.cfg.clip);
        self.step += 1;
        let a = AdamSpec {
            lr: self.cfg.lr,
            ..AdamSpec::default()
        };
        let shrink = 1.0 - self.cfg.lr * self.cfg.weight_decay;
        if shrink < 1.0 {
            self.params.iter_mut().for_each(|p| *p *= shrink);
        }
        adam(
            &a.params(self.params.len(), self.step),
            &g,
            &mut self.params,
            &mut self.m,
            &mut self.v,
        );
        let d = self.cfg.average;
        if d > 0.0 {
            for (a, p) in self.avg.iter_mut().zip(&self.params) {
                *a = d * *a + (1.0 - d) * p;
            }
        }
        // the loop's training mean squared error divides by samples x time points
        self.tally.loss += l * (b.samples.len() * self.spec.outputs) as f64;
        Ok(())
    }

    fn end_epoch(&mut self) -> Result<Tally> {
        Ok(std::mem::take(&mut self.tally))
    }

    fn validation_outputs(&mut self) -> Result<Vec<f64>> {
        let p = self.params()?;
        let c = self.cfg;
        let ys = outputs(
            &self.spec,
            &p,
            self.validation,
            c.symmetrize,
            c.node_vectors(),
        );
        Ok(scored_rows(
            &ys,
            self.validation,
            self.cfg.species,
            self.spec.outputs,
        ))
    }

    /// The last step's parameters, or their moving average with `average` (bias-corrected, as Adam's moments).
    fn params(&mut self) -> Result<Vec<f32>> {
        let d = self.cfg.average;
        if d == 0.0 || self.step == 0 {
            return Ok(to_f32(&self.params));
        }
        let c = 1.0 - d.powi(self.step.min(i32::MAX as u64) as i32);
        Ok(self.avg.iter().map(|&a| (a / c) as f32).collect())
    }

    fn diverged(&self, d: Divergence) -> Error {
        Error::Input(format!(
            "training stopped: the {}; the optimiser diverged: lower `lr` (= {:e}; Bapst's is 1e-4) or set \
             `clip` (= {}). No model was written",
            d.describe(""),
            self.cfg.lr,
            self.cfg.clip
        ))
    }
}

/// The parameters training starts from: `GnSpec::init`'s, with the decoder's last layer at zero, so that the
/// first predictions are the training mean. With a random last layer, the sums over ~15-20 neighbours give
/// outputs of several standard deviations (a first loss of 10-100 in standardized units), and the first steps
/// then silence the ReLUs and leave the network at a constant output.
pub fn initial_params(spec: &GnSpec, seed: u64) -> Vec<f64> {
    let mut p = spec.init(seed);
    if let Some(last) = spec.layers().last().and_then(|d| d.last()) {
        p[last.w..last.b + last.n_out].fill(0.0);
    }
    p
}

/// Trains on target `targets` of `data` with `cfg` (and the inherent structures `inherent` of `data`, which a
/// network with `inherent` takes); validation and test are scored on the kept parameters.
pub fn train(
    data: &Dataset,
    targets: &TargetSet,
    cfg: &GnConfig,
    inherent: Option<&InherentSet>,
    compute: &Compute,
    ctx: Ctx,
) -> Result<Trained<Gn>> {
    let start = Instant::now();
    cfg.check().map_err(Error::Input)?;
    targets.check(data)?;
    let ns = data.manifest.system.n_species();
    if cfg.species as usize >= ns {
        return Err(Error::Input(format!(
            "`species` = {} but the system has {ns} species (0-based); score one of them",
            cfg.species
        )));
    }
    let sets = target_sets(data, targets.test.as_deref(), cfg.split, cfg.seed)?;
    let (inputs, desc) = scaled_inputs(data, cfg, inherent, &sets.train.snapshots)?;
    if let Some(w) = inputs.as_ref().and_then(|i| unconverged_warning(i.set)) {
        ctx.warn(&w);
    }
    ctx.cancel.check()?;
    let mut gs = Vec::new();
    for part in [&sets.train, &sets.validation, &sets.test] {
        let (inh, d) = (inputs.as_ref(), desc.as_ref());
        gs.push(graphs(data, cfg.cutoff, &part.snapshots, inh, d)?);
        ctx.cancel.check()?;
    }
    let (mean, std) = standardization(targets, data, &sets.train.snapshots, cfg.species);
    let n = data.n_particles();
    let ys: Vec<Vec<Vec<f64>>> = [&sets.train, &sets.validation, &sets.test]
        .iter()
        .map(|p| {
            p.snapshots
                .iter()
                .map(|&k| standardized(targets, k, n, (&mean, &std)))
                .collect()
        })
        .collect();
    let t = targets.n_times();
    let scored = |i: usize| scored_rows(&ys[i], &gs[i], cfg.species, t);
    let (val_y, test_y) = (scored(1), scored(2));
    let spec = cfg.spec(ns, t);
    spec.check()?;
    let objective = Regression { targets: t };
    let mut fits = Vec::with_capacity(cfg.members);
    for k in 0..cfg.members {
        if cfg.members > 1 {
            ctx.note(&format!("member {} of {}", k + 1, cfg.members));
        }
        let seed = cfg.member_seed(k);
        let params = initial_params(&spec, seed);
        let gpu = match compute {
            Compute::Cpu => None,
            Compute::Gpu(ctx) => Some(GpuGn::new(ctx.clone(), spec, &to_f32(&params))?),
        };
        let mut learner = GnLearner {
            spec,
            gpu,
            cfg,
            m: vec![0.0; params.len()],
            v: vec![0.0; params.len()],
            avg: vec![0.0; params.len()],
            params,
            train: &gs[0],
            train_y: &ys[0],
            validation: &gs[1],
            step: 0,
            tally: Tally::default(),
        };
        let plan = Plan {
            epochs: cfg.epochs,
            batch: cfg.batch,
            seed,
            n_train: sets.train.len(),
        };
        fits.push(fit(
            &mut learner,
            &objective,
            &val_y[..],
            val_y.len(),
            &plan,
            ctx,
        )?);
    }
    let member_epochs = match cfg.members {
        1 => Vec::new(),
        _ => fits.iter().map(Fitted::best_epoch).collect(),
    };
    let fitted = Fitted::joined(fits);
    let mut header = Header::trained::<Regression>(
        (Arch::Gn, VERSION),
        data,
        &sets.split,
        &fitted,
        TensorInfo::list(&spec.tensors()),
        LAYOUT,
    );
    header.classes.clear();
    let model = Gn {
        file: GnModelFile {
            header,
            config: cfg.clone(),
            n_species: ns,
            times: targets.times.clone(),
            target_mean: mean,
            target_std: std,
            inherent_energy: inputs.as_ref().map(|i| i.energy),
            descriptors: desc.map(|d| d.columns).unwrap_or_default(),
            member_epochs,
        },
        params: fitted.params.clone(),
    };
    let run = Run {
        data,
        sets: &sets,
        compute,
        epochs: cfg.epochs,
        backend: <Gn as crate::learn::model::Model>::backend(cfg, compute),
        started: start,
    };
    let parts = [(&gs[1], &val_y[..]), (&gs[2], &test_y[..])];
    Trained::conclude(model, &objective, parts, fitted, run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use glasscam_kernels::gnn::bapst::cutoff_graph;

    #[test]
    fn training_starts_at_the_mean_whatever_the_neighbourhoods() {
        // a square lattice at spacing 0.8: 12 neighbours within the cutoff, as in a dense liquid
        let side = 8;
        let pos: Vec<f64> = (0..side * side)
            .flat_map(|i| {
                [
                    0.8 * (i % side) as f64 + 0.01 * (i % 3) as f64,
                    0.8 * (i / side) as f64,
                ]
            })
            .collect();
        let species: Vec<u32> = (0..side * side).map(|i| u32::from(i % 3 == 0)).collect();
        let g = cutoff_graph(&pos, &species, 0.8 * side as f64, 2.0);
        let spec = GnSpec {
            n_species: 2,
            node_in: 0,
            edge_in: 2,
            hidden: 8,
            steps: 2,
            outputs: 3,
        };
        let y = bapst::forward(&spec, &initial_params(&spec, 3), &g)
            .y()
            .to_vec();
        assert!(y.iter().all(|&v| v == 0.0), "{:?}", &y[..6]);
        // the random last layer would start several standard deviations away
        let y0 = bapst::forward(&spec, &spec.init(3), &g).y().to_vec();
        assert!(y0.iter().map(|v| v * v).sum::<f64>() / y0.len() as f64 > 0.1);
        // only the decoder's last layer differs from GnSpec::init
        let (a, b) = (initial_params(&spec, 3), spec.init(3));
        let last = spec.layers().last().unwrap().last().copied().unwrap();
        assert!(a[..last.w] == b[..last.w] && b[last.w..last.b].iter().any(|&x| x != 0.0));
    }

    #[test]
    fn weight_decay_shrinks_before_adam_and_the_moving_average_is_bias_corrected() {
        let side = 6;
        let pos: Vec<f64> = (0..side * side)
            .flat_map(|i| [(i % side) as f64 + 0.1 * (i % 4) as f64, (i / side) as f64])
            .collect();
        let species: Vec<u32> = (0..side * side).map(|i| u32::from(i % 3 == 0)).collect();
        let g = cutoff_graph(&pos, &species, side as f64, 1.6);
        let spec = GnSpec {
            n_species: 2,
            node_in: 0,
            edge_in: 2,
            hidden: 8,
            steps: 1,
            outputs: 2,
        };
        let y: Vec<Vec<f64>> = vec![(0..2 * side * side).map(|i| (i % 5) as f64 - 2.0).collect()];
        let p0 = initial_params(&spec, 1);
        // the parameters after one step and what validation and the saved model read
        let step = |weight_decay: f64, average: f64| {
            let cfg = GnConfig {
                lr: 1e-2,
                weight_decay,
                average,
                augment: false,
                ..GnConfig::default()
            };
            let mut l = GnLearner {
                spec,
                gpu: None,
                cfg: &cfg,
                m: vec![0.0; p0.len()],
                v: vec![0.0; p0.len()],
                avg: vec![0.0; p0.len()],
                params: p0.clone(),
                train: std::slice::from_ref(&g),
                train_y: &y,
                validation: &[],
                step: 0,
                tally: Tally::default(),
            };
            l.step(&Batch {
                epoch: 1,
                index: 0,
                offset: 0,
                samples: &[0],
                seed: 0,
            })
            .unwrap();
            (l.params.clone(), l.params().unwrap())
        };
        let (plain, read) = step(0.0, 0.0);
        assert_eq!(read, to_f32(&plain));
        assert!(plain.iter().zip(&p0).any(|(a, b)| a != b));
        // the same Adam step from parameters scaled by 1 - lr x weight_decay (decoupled, as AdamW)
        let (decayed, _) = step(2.0, 0.0);
        for ((d, p), q) in decayed.iter().zip(&plain).zip(&p0) {
            assert!((d - (p - 0.02 * q)).abs() < 1e-12, "{d} {p} {q}");
        }
        // after one step the bias-corrected average is that step's parameters, not 0.1 of them
        let (last, averaged) = step(0.0, 0.9);
        assert_eq!(last, plain);
        for (a, p) in averaged.iter().zip(&plain) {
            assert!((*a as f64 - p).abs() <= 1e-6 * p.abs().max(1e-3), "{a} {p}");
        }
    }
}
