//! relu_backward: GPU against the CPU twin on seeded random inputs at 1, 255, 257 and 20000 elements.

use crate::common::{gpu_matches_cpu, Rng, Slot};
use glasscam_kernels::nn::{NnParams, RELU_BACKWARD};
use glasscam_kernels::tolerance::Tolerance;

#[test]
fn relu_backward_should_match_cpu() {
    for (i, n) in [1u32, 255, 257, 20000].into_iter().enumerate() {
        let mut rng = Rng(700 + i as u64);
        let p = NnParams {
            n,
            ..Default::default()
        };
        let slots = [
            Slot::F(rng.vec_f32(n as usize + 3, -1.0, 1.0)),
            Slot::F(rng.vec_f32(n as usize + 3, -1.0, 1.0)),
        ];
        if !gpu_matches_cpu(
            "relu_backward_should_match_cpu",
            &RELU_BACKWARD,
            p,
            &slots,
            Tolerance::F32_TIGHT,
        ) {
            return;
        }
    }
}
