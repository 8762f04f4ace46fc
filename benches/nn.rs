//! Criterion bench of the nn path: one training step and one Grad-CAM batch, CPU twin and (when an adapter
//! exists) GPU, on a small network so that it runs on a software adapter too. `glasscam bench nn` prints the
//! samples/s table (`glasscam::learn::cnn::bench_nn`).

use criterion::{criterion_group, criterion_main, Criterion};
use glasscam::kernels::gpu::shared_context;
use glasscam::kernels::nn::net::Net;
use glasscam::kernels::Compute;
use glasscam::learn::cnn::config::ModelConfig;

fn config() -> ModelConfig {
    let grid = std::env::var("GLASSCAM_BENCH_GRID")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    ModelConfig {
        grid,
        batch: 8,
        ..ModelConfig::default()
    }
}

fn bench(c: &mut Criterion) {
    let cfg = config();
    let mut backends = vec![("cpu", Compute::Cpu)];
    if let Ok(ctx) = shared_context() {
        backends.push(("gpu", Compute::Gpu(ctx)));
    } else {
        eprintln!("bench nn: no GPU adapter, CPU twin only");
    }
    let spec = cfg.net_spec(2);
    let (imgs, labels) = glasscam::learn::cnn::bench::bench_batch(&cfg, 2);
    let adam = cfg.adam();
    let mut group = c.benchmark_group(format!("nn grid {} batch {}", cfg.grid, cfg.batch));
    group.sample_size(10);
    for (name, compute) in backends {
        let mut net = Net::new(&compute, spec.clone(), &spec.init(1), cfg.batch).expect("net");
        let mut seed = 0u32;
        group.bench_function(format!("{name} train_step"), |b| {
            b.iter(|| {
                seed += 1;
                net.train_step(&imgs, &labels, seed, &adam).expect("step")
            })
        });
        group.bench_function(format!("{name} gradcam"), |b| {
            b.iter(|| net.gradcam(&imgs, 1).expect("gradcam"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
