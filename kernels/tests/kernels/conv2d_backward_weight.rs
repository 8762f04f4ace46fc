//! conv2d_backward_weight: GPU against the CPU twin on seeded random inputs, at sizes of 1, workgroup - 1, workgroup + 1
//! outputs, a real layer and kernel sizes 7 and 15.

use crate::common::{conv_params, gpu_matches_cpu, Rng, Slot, CONV_SIZES};
use glasscam_kernels::nn::CONV2D_BACKWARD_WEIGHT;
use glasscam_kernels::tolerance::Tolerance;

#[test]
fn conv2d_backward_weight_should_match_cpu() {
    for (i, &s) in CONV_SIZES.iter().enumerate() {
        let mut rng = Rng(300 + i as u64);
        let (p, np) = conv_params(s, 1);
        let n_in = (p.batch * p.c_in * p.h * p.w) as usize;
        let n_out = (p.batch * p.c_out * p.h * p.w) as usize;
        // untouched entries of the gradient vector must stay as they were
        let slots = [
            Slot::F(rng.vec_f32(n_in, -1.0, 1.0)),
            Slot::F(rng.vec_f32(n_out, -1.0, 1.0)),
            Slot::F(rng.vec_f32(np, -1.0, 1.0)),
        ];
        if !gpu_matches_cpu(
            "conv2d_backward_weight_should_match_cpu",
            &CONV2D_BACKWARD_WEIGHT,
            p,
            &slots,
            Tolerance::F32_SUM,
        ) {
            return;
        }
    }
}
