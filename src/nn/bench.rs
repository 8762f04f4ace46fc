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

/// Times `steps` training steps and `steps` Grad-CAM batches of `cfg.batch` images on one backend.
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

fn print_profile(backend: &str, batch: usize, totals: &[(&'static str, f64)]) {
    let sum: f64 = totals.iter().map(|e| e.1).sum();
    println!("\nper-kernel time of one training step of {batch} images, {backend} (launches one at a time):");
    println!("{:<26} {:>12} {:>8}", "kernel", "ms / step", "share");
    for (name, t) in totals {
        println!("{:<26} {:>12.3} {:>7.1}%", name, t * 1e3, 100.0 * t / sum);
    }
    println!("{:<26} {:>12.3} {:>7.1}%", "total", sum * 1e3, 100.0);
}

/// Why `bench nn` times only the CPU twin, and what to do for the GPU path (`bench nn` always times the CPU
/// twin and has no `--backend`).
pub fn gpu_skipped(e: &glasscam_kernels::KernelError) -> String {
    match e {
        glasscam_kernels::KernelError::NoAdapter => {
            "bench nn: no GPU adapter found, so only the CPU twin is \
            timed; to time the GPU path too, install a Vulkan driver (on Debian: `apt-get install \
            mesa-vulkan-drivers libvulkan1` gives the software one)"
                .into()
        }
        other => format!(
            "bench nn: the GPU path could not start ({other}), so only the CPU twin is timed"
        ),
    }
}

/// Prints training and Grad-CAM samples/s of the CPU twin and (when an adapter exists) the GPU path, for a network
/// of `cfg` on `channels`-channel images; `cpu_steps` and `gpu_steps` timed batches each.
/// With `profile`, each backend's per-kernel times of a training step follow the table.
pub fn bench_nn(
    cfg: &ModelConfig,
    channels: usize,
    cpu_steps: usize,
    gpu_steps: usize,
    profile: bool,
) -> Result<Vec<BenchRow>> {
    let mut backends = Vec::new();
    if cpu_steps > 0 {
        backends.push((Compute::Cpu, cpu_steps));
    }
    match shared_context() {
        Ok(ctx) if gpu_steps > 0 => backends.push((Compute::Gpu(ctx), gpu_steps)),
        Ok(_) => {}
        Err(e) => eprintln!("{}", gpu_skipped(&e)),
    }
    let mut rows = Vec::new();
    let mut profiles = Vec::new();
    for (compute, steps) in &backends {
        rows.push(bench_backend(compute, cfg, channels, *steps)?);
        if profile {
            profiles.push((
                compute.describe(),
                profile_backend(compute, cfg, channels, *steps)?,
            ));
        }
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
    for (backend, totals) in &profiles {
        print_profile(backend, cfg.batch, totals);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_missing_gpu_says_what_to_do_without_a_flag_bench_nn_lacks() {
        let line = super::gpu_skipped(&glasscam_kernels::KernelError::NoAdapter);
        assert_eq!(
            line,
            "bench nn: no GPU adapter found, so only the CPU twin is timed; to time the GPU path too, install a \
             Vulkan driver (on Debian: `apt-get install mesa-vulkan-drivers libvulkan1` gives the software one)"
        );
        assert!(!line.contains("--backend"));
    }
}
