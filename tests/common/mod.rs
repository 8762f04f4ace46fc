//! Helpers shared by the integration tests: small systems and seeded configurations (MD); seeded random data
//! and a synthetic data set (nn). (The GPU-vs-twin tests and their helpers live in the kernels crate.)
#![allow(dead_code)]

use glasscam::sim::init;
use glasscam::sim::system::{MdSettings, SystemDef};
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
pub fn tiny_model_config() -> glasscam::learn::cnn::config::ModelConfig {
    glasscam::learn::cnn::config::ModelConfig {
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
pub fn trained_tiny(dir: &std::path::Path) -> (glasscam::io::dataset::Dataset, std::path::PathBuf) {
    let data_dir = dir.join("data");
    write_synthetic(&data_dir, 25, 6, 6.0, 0.3, 3).expect("data");
    let data = glasscam::io::dataset::Dataset::load(&data_dir).expect("load");
    let out = dir.join("model");
    let t = glasscam::learn::cnn::train(
        &data,
        &tiny_model_config(),
        &glasscam::kernels::Compute::Cpu,
        glasscam::events::quiet(),
    )
    .expect("train");
    glasscam::learn::model::write_model(&out, &t).expect("write model");
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
pub fn tiny_protocol(replicas: usize) -> glasscam::sim::protocol::Protocol {
    let mut p = glasscam::sim::protocol::Protocol::quick();
    p.replicas = replicas;
    p.equilibrate_time = 0.5;
    p.cool_rate = 2.0;
    p.hold_time = 0.25;
    p
}

/// A synthetic two-class data set: `replicas` replicas of `n` particles (two species) in a box of side `box_l`,
/// each with a liquid snapshot (uniform random positions) and a glass snapshot (a jittered square lattice).
pub fn write_synthetic(
    dir: &std::path::Path,
    replicas: usize,
    n_side: usize,
    box_l: f64,
    jitter: f64,
    seed: u64,
) -> glasscam::Result<()> {
    let n = n_side * n_side;
    let mut system = glasscam::sim::system::SystemDef::abm();
    system.species[0].count = n / 2;
    system.species[1].count = n - n / 2;
    system.n = Some(n);
    system.density = n as f64 / (box_l * box_l);
    let mut positions = Vec::with_capacity(replicas * 2 * n * 2);
    let mut snapshots = Vec::new();
    let mut s = glasscam::kernels::rng::mix(seed);
    let mut uni = move || {
        s = glasscam::kernels::rng::mix(s);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let a = box_l / n_side as f64;
    for r in 0..replicas {
        for (t, class) in glasscam::domain::Class::BOTH.into_iter().enumerate() {
            let off = (uni() * a, uni() * a);
            for i in 0..n {
                let (x, y) = if class == glasscam::domain::Class::Liquid {
                    (uni() * box_l, uni() * box_l)
                } else {
                    let (ix, iy) = (i % n_side, i / n_side);
                    (
                        (ix as f64 * a + off.0 + jitter * a * (uni() - 0.5)).rem_euclid(box_l),
                        (iy as f64 * a + off.1 + jitter * a * (uni() - 0.5)).rem_euclid(box_l),
                    )
                };
                positions.push(x);
                positions.push(y);
            }
            snapshots.push(glasscam::io::dataset::SnapshotMeta {
                index: r * 2 + t,
                replica: r,
                class,
                label: class.label(),
                step: 0,
                target_t: if t == 0 { 2.0 } else { 0.05 },
                kinetic_t: 0.0,
                pe_per_particle: 0.0,
            });
        }
    }
    let species: Vec<u32> = (0..n).map(|i| if i < n / 2 { 0 } else { 1 }).collect();
    let manifest = glasscam::io::dataset::Manifest {
        format_version: glasscam::io::dataset::FORMAT_VERSION,
        program_version: env!("CARGO_PKG_VERSION").into(),
        system,
        protocol: serde_json::json!({ "synthetic": { "jitter": jitter, "seed": seed } }),
        seed,
        n_particles: n,
        box_l,
        n_replicas: replicas,
        replica_range: (0, replicas),
        snapshot_temps: vec![2.0, 0.05],
        backend: "synthetic".into(),
        failed: vec![],
        snapshots,
    };
    glasscam::io::dataset::Dataset::write(dir, &manifest, &positions, &species)
}

/// A synthetic data set with targets, of the contract's shape: `configs` configurations (one replica and one
/// snapshot each) of `n_side`^2 particles on a square lattice of spacing 1 with jitter +-0.25 (a third of
/// species 1; every particle has neighbours within 1.6), and a target at `times` time points that is a known
/// function of the local structure: y_t(i) = (1 + t) sum over the j within 1.6 of (1 + species j) exp(-(r_ij /
/// 0.9)^2), and every second configuration a test one.
pub fn write_annotated(
    dir: &std::path::Path,
    configs: usize,
    n_side: usize,
    times: usize,
    seed: u64,
) -> glasscam::Result<(
    glasscam::io::dataset::Dataset,
    glasscam::learn::dynamics::TargetSet,
)> {
    let n = n_side * n_side;
    let box_l = n_side as f64;
    let species: Vec<u32> = (0..n).map(|i| u32::from(i % 3 == 0)).collect();
    let n1 = species.iter().filter(|&&s| s == 1).count();
    let mut system = glasscam::sim::system::SystemDef::abm();
    system.species[0].count = n - n1;
    system.species[1].count = n1;
    system.n = Some(n);
    system.density = 1.0;
    let mut rng = Rng(seed);
    let mut positions = Vec::with_capacity(configs * n * 2);
    let mut values = vec![0f32; configs * times * n];
    let mut snapshots = Vec::new();
    for c in 0..configs {
        let pos: Vec<f64> = (0..n)
            .flat_map(|i| [(i % n_side) as f64, (i / n_side) as f64])
            .map(|x| (x + 0.5 * (rng.next() - 0.5) + 0.25).rem_euclid(box_l))
            .collect();
        for i in 0..n {
            let mut local = 0.0;
            for j in (0..n).filter(|&j| j != i) {
                let [dx, dy] = glasscam_kernels::gnn::bapst::min_image(&pos, i, j, box_l);
                let r2 = dx * dx + dy * dy;
                if r2 < 1.6 * 1.6 {
                    local += (1.0 + species[j] as f64) * (-r2 / 0.81).exp();
                }
            }
            for t in 0..times {
                values[(c * times + t) * n + i] = ((1.0 + t as f64) * local) as f32;
            }
        }
        positions.extend(pos);
        snapshots.push(glasscam::io::dataset::SnapshotMeta {
            index: c,
            replica: c,
            class: glasscam::domain::Class::Liquid,
            label: glasscam::domain::Class::Liquid.label(),
            step: 0,
            target_t: 0.5,
            kinetic_t: 0.0,
            pe_per_particle: 0.0,
        });
    }
    let manifest = glasscam::io::dataset::Manifest {
        format_version: glasscam::io::dataset::FORMAT_VERSION,
        program_version: env!("CARGO_PKG_VERSION").into(),
        system,
        protocol: serde_json::json!({ "synthetic": { "annotated": true, "seed": seed } }),
        seed,
        n_particles: n,
        box_l,
        n_replicas: configs,
        replica_range: (0, configs),
        snapshot_temps: vec![0.5],
        backend: "synthetic".into(),
        failed: vec![],
        snapshots,
    };
    glasscam::io::dataset::Dataset::write(dir, &manifest, &positions, &species)?;
    let data = glasscam::io::dataset::Dataset::load(dir)?;
    use glasscam::io::targets::{self, Program, Source, Subset, TargetsMeta, PROPENSITY};
    let meta = TargetsMeta {
        format_version: targets::FORMAT_VERSION,
        data_fingerprint: data.fingerprint.clone(),
        temperature: 0.5,
        times: (0..times).map(|t| 10f64.powi(t as i32)).collect(),
        tau_alpha: None,
        tau_alpha_spread: None,
        n_runs: 1,
        targets: [(
            PROPENSITY.to_string(),
            "synthetic: a function of local structure".to_string(),
        )]
        .into(),
        noise_ceiling: [(PROPENSITY.to_string(), vec![None; times])].into(),
        subset: Some(
            (0..configs)
                .map(|c| {
                    if c % 2 == 1 {
                        Subset::Test
                    } else {
                        Subset::Train
                    }
                })
                .collect(),
        ),
        source: Source {
            program: Program::Glasscam,
            settings: serde_json::json!({ "synthetic": true }),
        },
    };
    let out = glasscam::io::outdir::OutDir::lock(dir)?;
    targets::write_targets(&out, &data, &meta, &[(PROPENSITY, &values)], false)?;
    drop(out);
    let targets = glasscam::learn::dynamics::targets::load(&data, PROPENSITY)?;
    Ok((data, targets))
}

/// A data set of `count` liquid configurations of `sys` at temperature `t` (lattice start, `steps` CPU steps) in
/// `dir`: one snapshot per replica.
pub fn write_liquid(
    dir: &std::path::Path,
    sys: &SystemDef,
    count: usize,
    t: f64,
    steps: u64,
) -> glasscam::Result<glasscam::io::dataset::Dataset> {
    let s = setup(sys);
    let reps = liquid(&s, 11, count, t, steps);
    let l = s.box_l;
    let positions: Vec<f64> = reps
        .pos
        .iter()
        .flat_map(|p| [p[0].rem_euclid(l), p[1].rem_euclid(l)])
        .collect();
    let snapshots = (0..count)
        .map(|r| glasscam::io::dataset::SnapshotMeta {
            index: r,
            replica: r,
            class: glasscam::domain::Class::Other,
            label: -1,
            step: steps,
            target_t: t,
            kinetic_t: t,
            pe_per_particle: 0.0,
        })
        .collect();
    let manifest = glasscam::io::dataset::Manifest {
        format_version: glasscam::io::dataset::FORMAT_VERSION,
        program_version: env!("CARGO_PKG_VERSION").into(),
        system: sys.clone(),
        protocol: serde_json::json!({ "liquid": { "t": t, "steps": steps } }),
        seed: 11,
        n_particles: s.n,
        box_l: l,
        n_replicas: count,
        replica_range: (0, count),
        snapshot_temps: vec![t],
        backend: "cpu".into(),
        failed: vec![],
        snapshots,
    };
    glasscam::io::dataset::Dataset::write(dir, &manifest, &positions, &s.species)?;
    glasscam::io::dataset::Dataset::load(dir)
}

/// GlassBench's KA2D mixture at 129 particles (`tests/data/ka2d-tiny.toml`).
pub fn ka2d_tiny() -> SystemDef {
    SystemDef::from_toml(include_str!("../data/ka2d-tiny.toml"), "ka2d-tiny.toml")
        .expect("ka2d-tiny")
}

/// Records the notes and cancels its token at the first event that `at` matches (a chunk's status, a note, the
/// start of a piece of work): an interrupt at a chosen moment of a run, as a signal would give.
pub struct CancelAt {
    pub cancel: glasscam::events::Cancel,
    pub at: fn(&glasscam::events::Event<'_>) -> bool,
    pub lines: glasscam::events::Recorder,
}

impl glasscam::events::Observer for CancelAt {
    fn event(&self, e: glasscam::events::Event<'_>) {
        if (self.at)(&e) {
            self.cancel.cancel();
        }
        self.lines.event(e);
    }
}
