//! Helpers shared by the integration tests: small systems and seeded configurations (MD); seeded random
//! data, one-kernel GPU-vs-CPU runs and a synthetic data set (nn).
#![allow(dead_code)]

use glasscam::init;
use glasscam::system::{MdSettings, SystemDef};
use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::{Advance, MdBackend, MdSetup, Replicas, Segment};

/// A 100-particle KAM-like system file for CLI tests (with t_star for the propensity temperatures).
pub const TINY_SYSTEM: &str = r#"
name = "tiny"
density = 1.09
t_liquid = 0.8
t_glass = 0.05
t_star = 0.37
[[species]]
name = "A"
count = 65
[[species]]
name = "B"
count = 35
[[pairs]]
a = "A"
b = "A"
sigma = 1.0
epsilon = 1.0
[[pairs]]
a = "A"
b = "B"
sigma = 0.8
epsilon = 1.5
[[pairs]]
a = "B"
b = "B"
sigma = 0.88
epsilon = 0.5
"#;

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
    cpu.upload(&start).expect("upload");
    cpu.advance(&Advance {
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
    cpu.download().expect("download")
}

pub fn flat(v: &[[f64; 2]]) -> Vec<f64> {
    v.iter().flat_map(|x| [x[0], x[1]]).collect()
}

use glasscam::kernels::gpu::test_context;
use glasscam::kernels::nn::cpu::CpuExec;
use glasscam::kernels::nn::gpu::{GpuExec, NnGpu};
use glasscam::kernels::nn::{Buf, NnKernel, NnParams, PlanOp};
use glasscam::kernels::tolerance::{assert_close, Tolerance};
use glasscam::kernels::Binding;

/// splitmix64 uniform in [0, 1).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
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
    kernel: &'static NnKernel,
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
        if kernel.bindings[i + 1] != Binding::ReadWrite {
            continue;
        }
        let Slot::F(v) = s else { continue };
        let got = gpu.read(id, v.len()).expect("read");
        let want = &cpu.bufs[&id];
        assert_close(
            &format!("{test}: {} binding {}", kernel.kernel.name, i + 1),
            &got,
            want,
            tol,
        );
    }
    true
}
