//! adam: GPU against the CPU twin on seeded random inputs at 1, 255, 257 and a real parameter count.

use crate::common::{gpu_matches_cpu, Rng, Slot};
use glasscam_kernels::nn::{AdamSpec, ADAM};
use glasscam_kernels::tolerance::Tolerance;

#[test]
fn adam_should_match_cpu() {
    for (i, n) in [1usize, 255, 257, 50_000].into_iter().enumerate() {
        for t in [1u64, 7, 1000] {
            let mut rng = Rng(1000 + i as u64);
            let p = AdamSpec::default().params(n, t);
            let slots = [
                Slot::F(rng.vec_f32(n, -1.0, 1.0)),
                Slot::F(rng.vec_f32(n, -1.0, 1.0)),
                Slot::F(rng.vec_f32(n, -0.1, 0.1)),
                Slot::F(rng.vec_f32(n, 0.001, 0.01)),
            ];
            if !gpu_matches_cpu(
                "adam_should_match_cpu",
                &ADAM,
                p,
                &slots,
                Tolerance::F32_TIGHT,
            ) {
                return;
            }
        }
    }
}
