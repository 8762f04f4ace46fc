//! The CNN's benchmarks: training and Grad-CAM images per second on each path (the CPU's f32 backend and f64
//! twin, the GPU), through the configured network (training steps on fixed images, training as `train` runs it
//! from a training set kept on the backend: gather, augmentation, gridization and standardization per batch, and
//! Grad-CAM); the time per layer and pass with each GEMM's operation count; and gridization images per second.
//! Returns typed results; the binary prints them and runs PyTorch beside them.

use std::time::Instant;

use glasscam_kernels::nn::net::{Net, TrainSet};
use glasscam_kernels::nn::{Layer, NetSpec};
use glasscam_kernels::rng::{mix, SplitMix64};
use glasscam_kernels::Compute;

use super::config::{ModelConfig, Precision};
use super::data::{augment_seed, augment_transform};
use super::model::backend;
use crate::error::Result;

/// A path the CNN is timed on: the GPU, or the CPU in one precision.
#[derive(Clone)]
pub struct NnPath {
    pub compute: Compute,
    /// On the CPU: the f32 backend or the f64 twin; the GPU computes in f32 whatever this says.
    pub precision: Precision,
}

impl NnPath {
    /// Every path of `computes`: the CPU once per entry of `precisions`, the GPU once.
    pub fn of(computes: &[Compute], precisions: &[Precision]) -> Vec<NnPath> {
        let mut out = Vec::new();
        for compute in computes {
            let each: &[Precision] = match compute {
                Compute::Cpu => precisions,
                Compute::Gpu(_) => &[Precision::F32],
            };
            out.extend(each.iter().map(|&precision| NnPath {
                compute: compute.clone(),
                precision,
            }));
        }
        out
    }

    /// "cpu f32 (avx512, 2 threads)", "cpu twin f64 (2 threads)" or the GPU's line.
    pub fn describe(&self) -> String {
        backend(self.precision, &self.compute)
    }

    fn net(&self, spec: NetSpec, params: &[f32], capacity: usize) -> Result<Net> {
        Ok(Net::with_precision(
            &self.compute,
            self.precision.kernel(),
            spec,
            params,
            capacity,
        )?)
    }
}

/// One path's images per second.
#[derive(Clone, Debug)]
pub struct BenchRow {
    pub backend: String,
    /// Training steps on one fixed batch of host images (`Net::train_step`, which reads loss and scores back):
    /// what `benches/torch_cnn.py` times.
    pub step_per_s: f64,
    /// Training from the set on the backend (`Net::train_set_step`, augmentation on), as `train` runs it.
    pub train_per_s: f64,
    /// Grad-CAM batches of class glass.
    pub gradcam_per_s: f64,
}

/// One op of a profiled pass: its layer and pass ("conv2 backward weight"), seconds per batch, and its
/// floating-point operations when it is a GEMM (a convolution or a dense layer).
#[derive(Clone, Debug)]
pub struct LayerTime {
    pub label: String,
    pub seconds: f64,
    pub flops: Option<f64>,
}

/// The time per layer and pass of a training step and of a Grad-CAM batch on one path (see [`profile_path`]).
#[derive(Clone, Debug)]
pub struct LayerProfile {
    pub backend: String,
    /// Images per batch.
    pub batch: usize,
    pub train: Vec<LayerTime>,
    pub gradcam: Vec<LayerTime>,
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

/// A network of `cfg` on `path` after one warm-up step (pipelines, allocation), with its batch.
fn warm_net(
    path: &NnPath,
    cfg: &ModelConfig,
    channels: usize,
) -> Result<(Net, Vec<f32>, Vec<u32>)> {
    let spec = cfg.net_spec(channels);
    let mut net = path.net(spec.clone(), &spec.init(1), cfg.batch)?;
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

/// Runs `f` (one batch of `per` images, given its step number) until `seconds` have passed, at least twice:
/// images per second. The caller warms up first.
fn rate(seconds: f64, per: usize, mut f: impl FnMut(u32) -> Result<()>) -> Result<f64> {
    let t = Instant::now();
    let mut n = 0;
    while n < 2 || t.elapsed().as_secs_f64() < seconds {
        n += 1;
        f(n)?;
    }
    Ok((n as usize * per) as f64 / t.elapsed().as_secs_f64())
}

/// Times training steps on fixed images, training steps from a set on the backend (with augmentation) and
/// Grad-CAM batches of `cfg.batch` images on one path, each for about `seconds`.
pub fn bench_path(
    path: &NnPath,
    cfg: &ModelConfig,
    channels: usize,
    seconds: f64,
) -> Result<BenchRow> {
    let (mut net, imgs, labels) = warm_net(path, cfg, channels)?;
    let adam = cfg.adam();
    let step = rate(seconds, cfg.batch, |s| {
        Ok(net.train_step(&imgs, &labels, s, &adam).map(|_| ())?)
    })?;
    let size = load_bench_set(&mut net, cfg, channels)?;
    let box_l = (BENCH_PARTICLES as f64 / BENCH_DENSITY).sqrt();
    let order: Vec<u32> = (0..size as u32).collect();
    let per_epoch = size / cfg.batch;
    let step_from_set = |net: &mut Net, s: u32| -> Result<()> {
        let b = s as usize % per_epoch;
        if b == 0 {
            let tf: Vec<[f64; 4]> = (0..size)
                .map(|k| augment_transform(box_l, augment_seed(1, s as usize, k)))
                .collect();
            net.begin_epoch(&order, Some(&tf))?;
        }
        Ok(net.train_set_step(b * cfg.batch, cfg.batch, s, &adam)?)
    };
    // warm-up: the set's pipelines and bind groups
    step_from_set(&mut net, 0)?;
    net.epoch_tally()?;
    let t = Instant::now();
    let mut n = 0;
    while n < 2 || t.elapsed().as_secs_f64() < seconds {
        n += 1;
        step_from_set(&mut net, n)?;
    }
    // the read waits for the device: the steps are done when it returns
    net.epoch_tally()?;
    let train = (n as usize * cfg.batch) as f64 / t.elapsed().as_secs_f64();
    net.gradcam(&imgs, 1)?;
    let gradcam = rate(seconds, cfg.batch, |_| {
        Ok(net.gradcam(&imgs, 1).map(|_| ())?)
    })?;
    Ok(BenchRow {
        backend: path.describe(),
        step_per_s: step,
        train_per_s: train,
        gradcam_per_s: gradcam,
    })
}

/// The time per layer and pass of a training step and of a Grad-CAM batch on one path, one op at a time with a
/// wait after each: the median over `reps` batches (after a warm-up) of each label's summed time.
pub fn profile_path(
    path: &NnPath,
    cfg: &ModelConfig,
    channels: usize,
    reps: usize,
) -> Result<LayerProfile> {
    let (mut net, imgs, labels) = warm_net(path, cfg, channels)?;
    let adam = cfg.adam();
    let reps = reps.max(1) as u32;
    let mut train = Vec::new();
    let mut gradcam = Vec::new();
    for s in 0..reps {
        train.push(net.profile_train_layers(&imgs, &labels, s + 1, &adam)?);
        gradcam.push(net.profile_gradcam_layers(&imgs, 1)?);
    }
    let spec = cfg.net_spec(channels);
    let per_label = |runs: Vec<Vec<(String, f64)>>| -> Vec<LayerTime> {
        let mut names: Vec<String> = Vec::new();
        for (n, _) in &runs[0] {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
        names
            .into_iter()
            .map(|label| {
                let per: Vec<f64> = runs
                    .iter()
                    .map(|r| r.iter().filter(|x| x.0 == label).map(|x| x.1).sum())
                    .collect();
                LayerTime {
                    flops: gemm_flops(&spec, &label, cfg.batch),
                    seconds: median(per),
                    label,
                }
            })
            .collect()
    };
    Ok(LayerProfile {
        backend: path.describe(),
        batch: cfg.batch,
        train: per_label(train),
        gradcam: per_label(gradcam),
    })
}

/// Floating-point operations of the GEMM a profile label names, for `batch` images: 2 x batch x c_in x c_out x
/// k^2 x G^2 for each pass of a convolution (forward, backward input, backward weight), 2 x batch x n_in x n_out
/// for a dense layer's; None for the other ops.
pub fn gemm_flops(spec: &NetSpec, label: &str, batch: usize) -> Option<f64> {
    let (layer, pass) = label.split_once(' ')?;
    if !(pass == "forward" || pass.starts_with("backward ")) || pass == "backward relu" {
        return None;
    }
    let i = spec.layer_names().iter().position(|n| n == layer)?;
    let macs = match spec.layers()[i] {
        Layer::Conv { c_in, c_out, k, .. } => c_in * c_out * k * k * spec.pixels(),
        Layer::Dense { n_in, n_out, .. } => n_in * n_out,
        Layer::Pool { .. } => return None,
    };
    Some(2.0 * (batch * macs) as f64)
}

/// The median of `v` (NaN when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
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
