//! Helpers shared by the integration tests: small systems and seeded configurations (MD); seeded random data
//! and a synthetic data set (nn). (The GPU-vs-twin tests and their helpers live in the kernels crate.)
#![allow(dead_code)]

use glasscam::init;
use glasscam::system::{MdSettings, SystemDef};
use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::{MdSetup, Replicas};

/// A 100-particle KAM-like system file for CLI tests (with t_star for the propensity temperatures).
pub const TINY_SYSTEM: &str = include_str!("../data/tiny.toml");

/// A preset scaled to `n` particles (same composition, density and potential).
pub fn scaled(mut sys: SystemDef, n: usize) -> SystemDef {
    let total = sys.n_particles();
    let mut left = n;
    let k = sys.species.len();
    for (i, s) in sys.species.iter_mut().enumerate() {
        s.count = if i + 1 == k {
            left
        } else {
            s.count * n / total
        };
        left -= s.count;
    }
    sys.n = Some(n);
    sys
}

pub fn setup(sys: &SystemDef) -> MdSetup {
    sys.md_setup(&MdSettings::default())
}

/// `count` disordered liquid configurations: lattice start, then `steps` CPU steps at temperature `t`.
pub fn liquid(setup: &MdSetup, seed: u64, count: usize, t: f64, steps: u64) -> Replicas {
    let start = init::random_replicas(setup, seed, 0..count, t);
    let mut cpu = CpuMd::new(setup.clone()).expect("valid setup");
    run_at(&mut cpu, &start, t, steps)
}

#[path = "../../kernels/tests/kernels/shared.rs"]
mod shared;
#[allow(unused_imports)]
pub use shared::{run_at, Rng};

/// A tiny CNN (grid 16, one convolution of 2 maps) for tests of model files.
pub fn tiny_model_config() -> glasscam::nn::config::ModelConfig {
    glasscam::nn::config::ModelConfig {
        grid: 16,
        cutoff: 3.0,
        conv_channels: vec![2],
        kernel: 3,
        hidden: 4,
        batch: 8,
        epochs: 1,
        ..Default::default()
    }
}

/// A synthetic data set (25 replicas of 36 particles) in `dir/data` and a tiny model trained on it in `dir/model`.
pub fn trained_tiny(dir: &std::path::Path) -> (glasscam::dataset::Dataset, std::path::PathBuf) {
    use glasscam::nn::train;
    let data_dir = dir.join("data");
    glasscam::nn::data::write_synthetic(&data_dir, 25, 6, 6.0, 0.3, 3).expect("data");
    let data = glasscam::dataset::Dataset::load(&data_dir).expect("load");
    let out = dir.join("model");
    let t = train::train(
        &data,
        &tiny_model_config(),
        &glasscam::kernels::Compute::Cpu,
        glasscam::events::quiet(),
    )
    .expect("train");
    train::write_model(&out, &t).expect("write model");
    (data, out)
}

/// The message of an error that a test expects.
pub fn err_of<T>(r: glasscam::Result<T>) -> String {
    match r {
        Ok(_) => panic!("bad input was accepted"),
        Err(e) => e.to_string(),
    }
}

/// A protocol that cools 4.0 -> 0.05 in about 400 steps (`replicas` replicas).
pub fn tiny_protocol(replicas: usize) -> glasscam::protocol::Protocol {
    let mut p = glasscam::protocol::Protocol::quick();
    p.replicas = replicas;
    p.equilibrate_time = 0.5;
    p.cool_rate = 2.0;
    p.hold_time = 0.25;
    p
}
