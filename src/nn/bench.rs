//! The nn benchmark: training and Grad-CAM samples per second, CPU twin against the GPU path, on random images
//! through the configured network.

use glasscam_kernels::gpu::shared_context;
use glasscam_kernels::nn::net::Net;
use glasscam_kernels::Compute;

use super::config::ModelConfig;
use crate::error::Result;

/// One row of the table.
#[derive(Clone, Debug)]
pub struct BenchRow {
    pub backend: String,
    pub train_per_s: f64,
    pub gradcam_per_s: f64,
}

/// Times `steps` training steps and `steps` Grad-CAM batches of `cfg.batch` images on one backend.
pub fn bench_backend(
    compute: &Compute,
    cfg: &ModelConfig,
    channels: usize,
    steps: usize,
) -> Result<BenchRow> {
    let spec = cfg.net_spec(channels);
    let mut net = Net::new(compute, spec.clone(), &spec.init(1), cfg.batch)?;
    let per = spec.act_len(0);
    let imgs: Vec<f32> = (0..cfg.batch * per)
        .map(|i| ((i * 2654435761) % 1000) as f32 / 4000.0)
        .collect();
    let labels: Vec<u32> = (0..cfg.batch as u32).map(|i| i % 2).collect();
    let adam = cfg.adam();
    // one warm-up step (pipelines, allocation)
    net.train_step(&imgs, &labels, 0, &adam)?;
    let t = std::time::Instant::now();
    for s in 0..steps {
        net.train_step(&imgs, &labels, s as u32 + 1, &adam)?;
    }
    let train = (steps * cfg.batch) as f64 / t.elapsed().as_secs_f64();
    net.gradcam(&imgs, 1)?;
    let t = std::time::Instant::now();
    for _ in 0..steps {
        net.gradcam(&imgs, 1)?;
    }
    let gc = (steps * cfg.batch) as f64 / t.elapsed().as_secs_f64();
    Ok(BenchRow {
        backend: compute.describe(),
        train_per_s: train,
        gradcam_per_s: gc,
    })
}

/// Prints training and Grad-CAM samples/s of the CPU twin and (when an adapter exists) the GPU path, for a network
/// of `cfg` on `channels`-channel images; `cpu_steps` and `gpu_steps` timed batches each.
pub fn bench_nn(
    cfg: &ModelConfig,
    channels: usize,
    cpu_steps: usize,
    gpu_steps: usize,
) -> Result<Vec<BenchRow>> {
    let mut rows = Vec::new();
    if cpu_steps > 0 {
        rows.push(bench_backend(&Compute::Cpu, cfg, channels, cpu_steps)?);
    }
    match shared_context() {
        Ok(ctx) if gpu_steps > 0 => {
            rows.push(bench_backend(&Compute::Gpu(ctx), cfg, channels, gpu_steps)?)
        }
        Ok(_) => {}
        Err(e) => eprintln!("bench nn: GPU path skipped: {e}"),
    }
    println!(
        "nn bench: grid {} channels {} conv {:?} kernel {} hidden {} batch {}",
        cfg.grid, channels, cfg.conv_channels, cfg.kernel, cfg.hidden, cfg.batch
    );
    println!(
        "{:<70} {:>14} {:>16}",
        "backend", "train img/s", "Grad-CAM img/s"
    );
    for r in &rows {
        println!(
            "{:<70} {:>14.1} {:>16.1}",
            r.backend, r.train_per_s, r.gradcam_per_s
        );
    }
    Ok(rows)
}
