//! Helpers shared by the integration tests: small systems and seeded configurations (MD); seeded random
//! data, one-kernel GPU-vs-CPU runs and a synthetic data set (nn).
#![allow(dead_code)]

use glasscam::sim::init;
use glasscam::sim::system::{MdSettings, SystemDef};
use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::{Advance, MdBackend, MdSetup, Replicas, Segment};

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

/// `reps` uploaded to `b` and run `steps` steps at constant temperature `t`.
pub fn run_at(b: &mut dyn MdBackend, reps: &Replicas, t: f64, steps: u64) -> Replicas {
    b.upload(reps).expect("upload");
    b.advance(&Advance {
        segment: Segment {
            t_from: t,
            t_to: t,
            len: steps,
        },
        seg_done: 0,
        step0: 0,
        steps,
    })
    .expect("advance");
    b.download().expect("download")
}

pub fn flat(v: &[[f64; 2]]) -> Vec<f64> {
    v.iter().flat_map(|x| [x[0], x[1]]).collect()
}

use glasscam::kernels::gpu::test_context;
use glasscam::kernels::kernel::Kernel;
use glasscam::kernels::nn::cpu::CpuExec;
use glasscam::kernels::nn::gpu::{GpuExec, NnGpu};
use glasscam::kernels::nn::{Buf, NnParams, PlanOp};
use glasscam::kernels::rng::SplitMix64;
use glasscam::kernels::tolerance::{assert_close, Tolerance};
use glasscam::kernels::Binding;

/// Seeded uniform draws (the project's splitmix64 stream, `glasscam_kernels::rng::SplitMix64`).
pub struct Rng(pub u64);

impl Rng {
    /// Uniform in [0, 1).
    pub fn next(&mut self) -> f64 {
        let mut s = SplitMix64(self.0);
        let x = s.next_f64();
        self.0 = s.0;
        x
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
    /// f32 values in [lo, hi) (exactly representable, so both sides see the same input).
    pub fn vec_f32(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi) as f32).collect()
    }
    pub fn vec_f64(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// One binding's contents for a single-kernel test.
pub enum Slot {
    F(Vec<f32>),
    Labels(Vec<u32>),
}

/// Runs `kernel` with `p` once on the GPU and once on its CPU twin from the same inputs (binding i + 1 gets
/// slots[i]) and compares every read-write binding. Returns false when the test skipped (no adapter).
pub fn gpu_matches_cpu(
    test: &str,
    kernel: &'static Kernel,
    p: NnParams,
    slots: &[Slot],
    tol: Tolerance,
) -> bool {
    let Some(ctx) = test_context(test) else {
        return false;
    };
    let ids: Vec<Buf> = slots
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            Slot::F(_) => Buf::Act(i),
            Slot::Labels(_) => Buf::Labels,
        })
        .collect();
    let op = PlanOp {
        kernel,
        p,
        bufs: ids.clone(),
    };
    let mut cpu = CpuExec::default();
    let mut gpu = GpuExec::new(NnGpu::shared(&ctx).expect("pipelines"));
    for (s, &id) in slots.iter().zip(&ids) {
        match s {
            Slot::F(v) => {
                cpu.bufs.insert(id, v.iter().map(|&x| x as f64).collect());
                gpu.alloc(id, v.len()).expect("alloc");
                gpu.write(id, v).expect("write");
            }
            Slot::Labels(v) => {
                cpu.labels = v.clone();
                gpu.alloc(id, v.len()).expect("alloc");
                gpu.write(id, v).expect("write");
            }
        }
    }
    cpu.run_op(&op).expect("cpu twin");
    gpu.run(std::slice::from_ref(&op)).expect("gpu");
    for (i, (s, &id)) in slots.iter().zip(&ids).enumerate() {
        if kernel.bindings[i + 1].access != Binding::ReadWrite {
            continue;
        }
        let Slot::F(v) = s else { continue };
        let got = gpu.read(id, v.len()).expect("read");
        let want = &cpu.bufs[&id];
        assert_close(
            &format!("{test}: {} binding {}", kernel.name, i + 1),
            &got,
            want,
            tol,
        );
    }
    true
}

/// (batch, c_in, c_out, h, w, k): output counts 1, 255 (3*5*17), 257, a real layer (4*8*16*16), and larger
/// kernels (7, and 15 on a 15-row grid, where the circular padding reaches the far edge).
pub const CONV_SIZES: [(u32, u32, u32, u32, u32, u32); 6] = [
    (1, 1, 1, 1, 1, 1),
    (1, 2, 3, 5, 17, 3),
    (1, 1, 1, 1, 257, 3),
    (4, 2, 8, 16, 16, 5),
    (2, 2, 3, 9, 11, 7),
    (1, 1, 2, 15, 16, 15),
];

/// A convolution's parameters at `w_off` 3 and the length of its parameter vector (2 spare entries after).
pub fn conv_params(s: (u32, u32, u32, u32, u32, u32), act: u32) -> (NnParams, usize) {
    let (batch, c_in, c_out, h, w, k) = s;
    let n_w = (c_out * c_in * k * k) as usize;
    let p = NnParams {
        batch,
        c_in,
        c_out,
        h,
        w,
        k,
        pad: k / 2,
        act,
        w_off: 3,
        b_off: 3 + n_w as u32,
        ..Default::default()
    };
    (p, 3 + n_w + c_out as usize + 2)
}

/// (batch, n_in, n_out): inputs or outputs at 1, 255, 257, and a flattened 16-channel 16x16 map into 64.
pub const DENSE_SIZES: [(u32, u32, u32); 5] = [
    (1, 1, 1),
    (1, 255, 1),
    (3, 257, 2),
    (1, 3, 255),
    (4, 4096, 64),
];

/// A dense layer's parameters at `w_off` 5 and the length of its parameter vector (1 spare entry after).
pub fn dense_params((batch, n_in, n_out): (u32, u32, u32), act: u32) -> (NnParams, usize) {
    let n_w = (n_in * n_out) as usize;
    let p = NnParams {
        batch,
        n_in,
        n_out,
        act,
        w_off: 5,
        b_off: 5 + n_w as u32,
        ..Default::default()
    };
    (p, 5 + n_w + n_out as usize + 1)
}

/// (batch, maps, h, w)
pub const POOL_SIZES: [(u32, u32, u32, u32); 4] = [
    (1, 1, 1, 1),
    (2, 3, 15, 17),
    (3, 2, 257, 1),
    (2, 16, 64, 64),
];

/// The parameters of `mean_pool` / `mean_pool_backward` for (batch, maps, h, w).
pub fn pool_params((batch, c, h, w): (u32, u32, u32, u32)) -> NnParams {
    NnParams {
        batch,
        c_in: c,
        h,
        w,
        ..Default::default()
    }
}

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

/// Row (edge, node or segment) counts of every gnn kernel test besides a real batch: 1, workgroup - 1 and
/// workgroup + 1 (WG = 256).
pub const GNN_ROWS: [usize; 3] = [1, 255, 257];

/// One batch of `count` periodic kNN graphs of `n` uniformly random particles (every third of species 1) at
/// density 1.1, all drawn from `seed`.
pub fn random_batch(
    count: usize,
    n: usize,
    k: usize,
    seed: u64,
) -> glasscam::Result<glasscam::kernels::gnn::GraphBatch> {
    let graphs = glasscam::learn::gnn::bench::random_graphs(count, n, k, seed)?;
    Ok(glasscam::kernels::gnn::GraphBatch::concat(
        &graphs.iter().collect::<Vec<_>>(),
    ))
}

/// The real batch of the gnn kernel tests: two periodic kNN graphs (k = 6) of 300 particles.
pub fn gnn_real() -> glasscam::kernels::gnn::GraphBatch {
    random_batch(2, 300, 6, 77).expect("graphs")
}

/// f32 values in [-1, 1) and the same values in f64 for the twin.
pub fn gnn_values(rng: &mut Rng, n: usize) -> (Vec<f32>, Vec<f64>) {
    let v = rng.vec_f32(n, -1.0, 1.0);
    let d = v.iter().map(|&x| x as f64).collect();
    (v, d)
}

/// Random CSR segments: `rows` segments of 1..=`max_len` items each; returns the pointer array.
pub fn gnn_segments(rng: &mut Rng, rows: usize, max_len: usize) -> Vec<u32> {
    let mut ptr = vec![0u32];
    for _ in 0..rows {
        let len = 1 + (rng.next() * max_len as f64) as u32 % max_len as u32;
        ptr.push(ptr.last().copied().unwrap_or(0) + len);
    }
    ptr
}

/// The quick preset's network shapes (hidden 16, depth 3, 2 species) with `attention`, initialised with `seed` and
/// random attention weights (v_a starts at 0: uniform attention, nothing for a test to compare), as f32 values.
pub fn gnn_quick_net(
    attention: glasscam::kernels::gnn::Attention,
    seed: u64,
) -> (glasscam::kernels::gnn::MpnnSpec, Vec<f64>) {
    let spec = glasscam::kernels::gnn::MpnnSpec {
        n_species: 2,
        hidden: 16,
        depth: 3,
        attention,
        dropout: 0.0,
        classes: 2,
        dist_mean: 1.0,
        dist_std: 0.2,
    };
    let mut params = spec.init(seed);
    if attention != glasscam::kernels::gnn::Attention::Off {
        let mut rng = Rng(seed);
        let o = spec.offset("v_a.weight");
        for v in &mut params[o..o + spec.hidden + 1] {
            *v = rng.uniform(-1.0, 1.0);
        }
    }
    // rounded to f32, so the GPU and the f64 twin start from the same parameters
    let params = params.iter().map(|&x| x as f32 as f64).collect();
    (spec, params)
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
