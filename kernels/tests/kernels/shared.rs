//! What this crate's kernel tests share with the main crate's tests (which include this file): seeded uniform
//! draws for test inputs, and a run of replicas at constant temperature on any MD backend.

use glasscam_kernels::md::{Advance, MdBackend, Replicas, Segment};
use glasscam_kernels::rng::SplitMix64;

/// splitmix64 uniform draws in [0, 1) and vectors of them.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> f64 {
        let mut s = SplitMix64(self.0);
        let u = s.next_f64();
        self.0 = s.0;
        u
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
