//! The tables of `glasscam bench md`, `nn`, `analysis` and `propensity`: what the library's benches return, printed.

use glasscam::analysis::bench::{BenchReport, BENCH_DENSITY};
use glasscam::learn::cnn::bench::{KernelProfile, NnBench};
use glasscam::sim::bench::{MdRow, PropensityRow};

/// The nn table (stdout) and each backend's per-kernel profile after it; a skipped GPU path goes to stderr.
pub fn print_nn(b: &NnBench) {
    if let Some(why) = &b.gpu_skipped {
        eprintln!("bench nn: {why}");
    }
    let c = &b.cfg;
    println!(
        "nn bench: grid {} channels {} conv {:?} kernel {} hidden {} batch {}",
        c.grid, b.channels, c.conv_channels, c.kernel, c.hidden, c.batch
    );
    println!(
        "step: training steps on one fixed batch of images; train: from a training set on the backend \
         ({} particles per snapshot, augmented, gridized and standardized per batch), as `train` runs",
        b.particles
    );
    println!(
        "{:<70} {:>14} {:>14} {:>16}",
        "backend", "step img/s", "train img/s", "Grad-CAM img/s"
    );
    for r in &b.rows {
        println!(
            "{:<70} {:>14.1} {:>14.1} {:>16.1}",
            r.backend, r.step_per_s, r.train_per_s, r.gradcam_per_s
        );
    }
    for p in &b.profiles {
        print_profile(p);
    }
}

fn print_profile(p: &KernelProfile) {
    let sum: f64 = p.kernels.iter().map(|e| e.1).sum();
    println!(
        "\nper-kernel time of one training step of {} images, {} (launches one at a time):",
        p.batch, p.backend
    );
    println!("{:<26} {:>12} {:>8}", "kernel", "ms / step", "share");
    for (name, t) in &p.kernels {
        println!("{:<26} {:>12.3} {:>7.1}%", name, t * 1e3, 100.0 * t / sum);
    }
    println!("{:<26} {:>12.3} {:>7.1}%", "total", sum * 1e3, 100.0);
}

/// The analysis table: median and minimum per stage, then the all-core throughput.
pub fn print_analysis(r: &BenchReport) {
    println!(
        "analysis bench: {} configurations of {} particles (density {BENCH_DENSITY}, seed {})",
        r.n_configs, r.n_particles, r.seed
    );
    println!(
        "{:<28} {:>10} {:>10}",
        "stage (1 thread)", "median ms", "min ms"
    );
    for (name, med, min) in [
        ("Voronoi (periodic)", r.voronoi_s, r.min_s[0]),
        ("Tong-Tanaka", r.tong_tanaka_s, r.min_s[1]),
        ("coarse-graining (2 fields)", r.coarse_grain_s, r.min_s[2]),
        ("total", r.total_s, r.min_s[3]),
    ] {
        println!("{name:<28} {:>10.3} {:>10.3}", 1e3 * med, 1e3 * min);
    }
    println!(
        "all cores ({} threads, full analyse_config incl. normalise + correlations): {:.1} configurations/s",
        r.threads, r.configs_per_s
    );
}

/// The md table: one line per replica count and backend, each with its ratio to the CPU twin's row of that count.
pub fn print_md(rows: &[MdRow]) {
    println!(
        "{:<8} {:>9} {:>10} {:>7} {:>9} {:>16} {:>12}",
        "backend", "replicas", "particles", "steps", "seconds", "particle-steps/s", "vs cpu twin"
    );
    for r in rows {
        let cpu = rows
            .iter()
            .find(|c| c.backend == "cpu" && c.replicas == r.replicas);
        let ratio = cpu.map_or("-".to_string(), |c| {
            format!("{:.2}x", r.particle_steps_per_s / c.particle_steps_per_s)
        });
        println!(
            "{:<8} {:>9} {:>10} {:>7} {:>9.2} {:>16.3e} {:>12}",
            r.backend, r.replicas, r.particles, r.steps, r.seconds, r.particle_steps_per_s, ratio
        );
    }
}

/// The propensity table: the ensemble's rate beside `bench md`'s at the same replica count.
pub fn print_propensity(rows: &[PropensityRow]) {
    println!(
        "{:<8} {:>9} {:>18} {:>18} {:>8}",
        "backend", "replicas", "bench md p-s/s", "propensity p-s/s", "ratio"
    );
    for r in rows {
        println!(
            "{:<8} {:>9} {:>18.3e} {:>18.3e} {:>7.2}x",
            r.backend,
            r.replicas,
            r.md_particle_steps_per_s,
            r.propensity_particle_steps_per_s,
            r.propensity_particle_steps_per_s / r.md_particle_steps_per_s
        );
    }
}
