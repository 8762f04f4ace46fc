//! dense_backward_weight: GPU against the CPU twin on seeded random inputs, at sizes of 1, workgroup - 1, workgroup + 1
//! and a real layer.

use crate::common::{dense_params, gpu_matches_cpu, Rng, Slot, DENSE_SIZES};
use glasscam_kernels::nn::DENSE_BACKWARD_WEIGHT;
use glasscam_kernels::tolerance::Tolerance;

#[test]
fn dense_backward_weight_should_match_cpu() {
    for (i, &s) in DENSE_SIZES.iter().enumerate() {
        let mut rng = Rng(600 + i as u64);
        let (p, np) = dense_params(s, 1);
        let slots = [
            Slot::F(rng.vec_f32((p.batch * p.n_in) as usize, -1.0, 1.0)),
            Slot::F(rng.vec_f32((p.batch * p.n_out) as usize, -1.0, 1.0)),
            Slot::F(rng.vec_f32(np, -1.0, 1.0)),
        ];
        if !gpu_matches_cpu(
            "dense_backward_weight_should_match_cpu",
            &DENSE_BACKWARD_WEIGHT,
            p,
            &slots,
            Tolerance::F32_SUM,
        ) {
            return;
        }
    }
}
