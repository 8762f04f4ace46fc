//! CPU-twin training and Grad-CAM images/s of the default network (`glasscam::learn::cnn::bench_nn`, GPU path left out).
//! `cargo run --release --example nn_bench_cpu -- GRID STEPS` (defaults 64 and 2).

use glasscam::learn::cnn::bench_nn;
use glasscam::learn::cnn::config::ModelConfig;

fn main() -> glasscam::Result<()> {
    let mut args = std::env::args().skip(1);
    let grid = args.next().and_then(|s| s.parse().ok()).unwrap_or(64);
    let steps = args.next().and_then(|s| s.parse().ok()).unwrap_or(2);
    let cfg = ModelConfig {
        grid,
        ..ModelConfig::default()
    };
    for r in bench_nn(&cfg, 2, steps, 0, false)?.rows {
        println!(
            "{}: step {:.1} img/s, train {:.1} img/s, Grad-CAM {:.1} img/s",
            r.backend, r.step_per_s, r.train_per_s, r.gradcam_per_s
        );
    }
    Ok(())
}
