//! The CNN's benchmarks: training and Grad-CAM samples per second, CPU twin against the GPU path, through the
//! configured network (training steps on fixed images, training as `train` runs it from a training set kept on
//! the backend: gather, augmentation, gridization and standardization per batch, and Grad-CAM), and gridization
//! images per second. Returns typed results; the binary prints them.

use std::time::Instant;

use glasscam_kernels::nn::net::{Net, TrainSet};
use glasscam_kernels::rng::{mix, SplitMix64};
use glasscam_kernels::Compute;

use super::config::ModelConfig;
use super::data::{augment_seed, augment_transform};
use crate::error::Result;

/// One row of the table.
#[derive(Clone, Debug)]
pub struct BenchRow {
    pub backend: String,
    /// Training steps on one fixed batch of host images (`Net::train_step`, which reads loss and scores back).
    pub step_per_s: f64,
    /// Training from the set on the backend (`Net::train_set_step`, augmentation on), as `train` runs it.
    pub train_per_s: f64,
    pub gradcam_per_s: f64,
}

/// Per-kernel wall time of one training step on one backend (see [`profile_backend`]).
#[derive(Clone, Debug)]
pub struct KernelProfile {
    pub backend: String,
    /// Images per step.
    pub batch: usize,
    /// (kernel name, seconds per step summed over its launches), in the order the kernels first appear.
    pub kernels: Vec<(&'static str, f64)>,
}

/// What `bench_nn` measured.
#[derive(Clone, Debug)]
pub struct NnBench {
    pub cfg: ModelConfig,
    pub channels: usize,
    /// Particles per snapshot of the training set the `train_per_s` column draws from.
    pub particles: usize,
    pub rows: Vec<BenchRow>,
    pub profiles: Vec<KernelProfile>,
}

/// Particles per bench snapshot (the paper's system size) at the paper's density.
pub const BENCH_PARTICLES: usize = 2000;
const BENCH_DENSITY: f64 = 1.2;

/// A batch of fixed pseudo-random images of `cfg`'s grid and alternating labels: what the benchmarks feed.
pub fn bench_batch(cfg: &ModelConfig, channels: usize) -> (Vec<f32>, Vec<u32>) {
    let per = cfg.net_spec(channels).act_len(0);
    let imgs = (0..cfg.batch * per)
        .map(|i| ((i * 2654435761) % 1000) as f32 / 4000.0)
        .collect();
    (imgs, (0..cfg.batch as u32).map(|i| i % 2).collect())
}

/// A network of `cfg` on `compute` after one warm-up step (pipelines, allocation), with its batch.
fn warm_net(
    compute: &Compute,
    cfg: &ModelConfig,
    channels: usize,
) -> Result<(Net, Vec<f32>, Vec<u32>)> {
    let spec = cfg.net_spec(channels);
    let mut net = Net::new(compute, spec.clone(), &spec.init(1), cfg.batch)?;
    let (imgs, labels) = bench_batch(cfg, channels);
    net.train_step(&imgs, &labels, 0, &cfg.adam())?;
    Ok((net, imgs, labels))
}

/// A training set of `4 * cfg.batch` snapshots of uniform random positions (two species) and alternating
/// labels, standardized with mean 0 and std 1: loaded into `net` for the `train_per_s` column.
fn load_bench_set(net: &mut Net, cfg: &ModelConfig, channels: usize) -> Result<usize> {
    let n = BENCH_PARTICLES;
    let size = 4 * cfg.batch;
    let box_l = (n as f64 / BENCH_DENSITY).sqrt();
    let mut s = mix(7);
    let positions: Vec<f64> = (0..size * n * 2)
        .map(|_| {
            s = mix(s);
            (s >> 11) as f64 / (1u64 << 53) as f64 * box_l
        })
        .collect();
    let species: Vec<u32> = (0..n).map(|i| (i % channels) as u32).collect();
    let labels: Vec<u32> = (0..size as u32).map(|i| i % 2).collect();
    net.load_set(&TrainSet {
        positions: &positions,
        species: &species,
        labels: &labels,
        grid: cfg.grid_spec(box_l),
        mean: &vec![0.0; channels],
        std: &vec![1.0; channels],
    })?;
    Ok(size)
}

/// Times `steps` training steps on fixed images, `steps` training steps from a set on the backend (with
/// augmentation) and `steps` Grad-CAM batches of `cfg.batch` images on one backend.
pub fn bench_backend(
    compute: &Compute,
    cfg: &ModelConfig,
    channels: usize,
    steps: usize,
) -> Result<BenchRow> {
    let (mut net, imgs, labels) = warm_net(compute, cfg, channels)?;
    let adam = cfg.adam();
    let t = std::time::Instant::now();
    for s in 0..steps {
        net.train_step(&imgs, &labels, s as u32 + 1, &adam)?;
    }
    let step = (steps * cfg.batch) as f64 / t.elapsed().as_secs_f64();
    let size = load_bench_set(&mut net, cfg, channels)?;
    let box_l = (BENCH_PARTICLES as f64 / BENCH_DENSITY).sqrt();
    let order: Vec<u32> = (0..size as u32).collect();
    let epoch = |net: &mut Net, e: usize| -> Result<()> {
        let tf: Vec<[f64; 4]> = (0..size)
            .map(|k| augment_transform(box_l, augment_seed(1, e, k)))
            .collect();
        Ok(net.begin_epoch(&order, Some(&tf))?)
    };
    // warm-up: the set's pipelines and bind groups
    epoch(&mut net, 0)?;
    net.train_set_step(0, cfg.batch, 0, &adam)?;
    net.epoch_tally()?;
    let t = std::time::Instant::now();
    for s in 0..steps {
        let b = s % (size / cfg.batch);
        if b == 0 {
            epoch(&mut net, s + 1)?;
        }
        net.train_set_step(b * cfg.batch, cfg.batch, s as u32 + 1, &adam)?;
    }
    // the read waits for the device: the steps are done when it returns
    net.epoch_tally()?;
    let train = (steps * cfg.batch) as f64 / t.elapsed().as_secs_f64();
    net.gradcam(&imgs, 1)?;
    let t = std::time::Instant::now();
    for _ in 0..steps {
        net.gradcam(&imgs, 1)?;
    }
    let gc = (steps * cfg.batch) as f64 / t.elapsed().as_secs_f64();
    Ok(BenchRow {
        backend: compute.describe(),
        step_per_s: step,
        train_per_s: train,
        gradcam_per_s: gc,
    })
}

/// Per-kernel wall time of a training step on one backend: `steps` profiled steps (after a warm-up), one launch
/// at a time with a wait after each. Returns (kernel name, seconds per step summed over its launches), in the order
/// the kernels first appear in the step.
pub fn profile_backend(
    compute: &Compute,
    cfg: &ModelConfig,
    channels: usize,
    steps: usize,
) -> Result<Vec<(&'static str, f64)>> {
    let (mut net, imgs, labels) = warm_net(compute, cfg, channels)?;
    let adam = cfg.adam();
    let steps = steps.max(1);
    let mut totals: Vec<(&'static str, f64)> = Vec::new();
    for s in 0..steps {
        for (name, t) in net.profile_train_step(&imgs, &labels, s as u32 + 1, &adam)? {
            match totals.iter_mut().find(|(n, _)| *n == name) {
                Some(e) => e.1 += t,
                None => totals.push((name, t)),
            }
        }
    }
    for e in &mut totals {
        e.1 /= steps as f64;
    }
    Ok(totals)
}

/// Training and Grad-CAM samples/s on each of `backends` (see `backend::bench_backends`), for a network of `cfg`
/// on `channels`-channel images, `steps` timed batches each. With `profile`, each backend's per-kernel times of a
/// training step too.
pub fn bench_nn(
    backends: &[Compute],
    cfg: &ModelConfig,
    channels: usize,
    steps: usize,
    profile: bool,
) -> Result<NnBench> {
    let mut rows = Vec::new();
    let mut profiles = Vec::new();
    for compute in backends {
        rows.push(bench_backend(compute, cfg, channels, steps)?);
        if profile {
            profiles.push(KernelProfile {
                backend: compute.describe(),
                batch: cfg.batch,
                kernels: profile_backend(compute, cfg, channels, steps)?,
            });
        }
    }
    Ok(NnBench {
        cfg: cfg.clone(),
        channels,
        particles: BENCH_PARTICLES,
        rows,
        profiles,
    })
}

/// One row of `bench gridize`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GridizeRow {
    pub backend: String,
    pub grid: usize,
    pub particles: usize,
    /// Snapshots per call.
    pub batch: usize,
    pub images: usize,
    pub seconds: f64,
    pub images_per_s: f64,
}

/// Gridization throughput (images/s, uploads and read-back included) of `batch` random two-species snapshots of
/// `n` particles at the presets' density 1.2 into `grid` x `grid` images, with the paper's Gaussian (width 0.3,
/// cut at 4 widths), for about `seconds` per backend.
pub fn bench_gridize(
    backends: &[Compute],
    grid: usize,
    n: usize,
    batch: usize,
    seconds: f64,
) -> Result<Vec<GridizeRow>> {
    use glasscam_kernels::nn::{net::gridize, GridSpec};
    let box_l = (n as f64 / 1.2).sqrt();
    let spec = GridSpec {
        grid,
        box_l,
        width: 0.3,
        cutoff: 4.0,
    };
    // seeded positions, so every run times the same input
    let mut rng = SplitMix64(1);
    let pos: Vec<f64> = (0..batch * n * 2).map(|_| rng.next_f64() * box_l).collect();
    let species: Vec<u32> = (0..n).map(|i| (i % 2) as u32).collect();
    let mut rows = Vec::new();
    for compute in backends {
        gridize(compute, &spec, &pos, &species, 2)?; // warm-up: pipelines built
        let start = Instant::now();
        let mut calls = 0;
        while calls == 0 || start.elapsed().as_secs_f64() < seconds {
            gridize(compute, &spec, &pos, &species, 2)?;
            calls += 1;
        }
        let secs = start.elapsed().as_secs_f64();
        rows.push(GridizeRow {
            backend: crate::sim::bench::backend_name(compute).into(),
            grid,
            particles: n,
            batch,
            images: calls * batch,
            seconds: secs,
            images_per_s: (calls * batch) as f64 / secs,
        });
    }
    Ok(rows)
}

/// `bench gridize`'s table, for the binary to print.
pub fn gridize_table(rows: &[GridizeRow]) -> String {
    let mut s = format!(
        "{:<8} {:>5} {:>10} {:>6} {:>7} {:>9} {:>10}\n",
        "backend", "grid", "particles", "batch", "images", "seconds", "images/s"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<8} {:>5} {:>10} {:>6} {:>7} {:>9.2} {:>10.2}\n",
            r.backend, r.grid, r.particles, r.batch, r.images, r.seconds, r.images_per_s
        ));
    }
    s
}
