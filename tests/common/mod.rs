//! Helpers shared by the integration tests: small systems and seeded configurations.
#![allow(dead_code)]

use glasscam::init;
use glasscam::system::{MdSettings, SystemDef};
use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::{Advance, MdBackend, MdSetup, Replicas, Segment};

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
