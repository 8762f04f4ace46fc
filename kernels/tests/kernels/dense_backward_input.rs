//! dense_backward_input: GPU against the CPU twin on seeded random inputs, at sizes of 1, workgroup - 1, workgroup + 1
//! and a real layer.

use crate::common::{dense_params, gpu_matches_cpu, Rng, Slot, DENSE_SIZES};
use glasscam_kernels::nn::DENSE_BACKWARD_INPUT;
use glasscam_kernels::tolerance::Tolerance;

#[test]
fn dense_backward_input_should_match_cpu() {
    for (i, &s) in DENSE_SIZES.iter().enumerate() {
        let mut rng = Rng(500 + i as u64);
        let (p, np) = dense_params(s, 1);
        let slots = [
            Slot::F(rng.vec_f32(np, -0.5, 0.5)),
            Slot::F(rng.vec_f32((p.batch * p.n_out) as usize, -1.0, 1.0)),
            Slot::F(vec![7.0; (p.batch * p.n_in) as usize]),
        ];
        if !gpu_matches_cpu(
            "dense_backward_input_should_match_cpu",
            &DENSE_BACKWARD_INPUT,
            p,
            &slots,
            Tolerance::F32_SUM,
        ) {
            return;
        }
    }
}
