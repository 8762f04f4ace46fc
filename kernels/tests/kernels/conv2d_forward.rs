//! conv2d_forward: GPU against the CPU twin on seeded random inputs, at sizes of 1, workgroup - 1, workgroup + 1
//! outputs, a real layer and kernel sizes 7 and 15.

use crate::common::{conv_params, gpu_matches_cpu, Rng, Slot, CONV_SIZES};
use glasscam_kernels::nn::CONV2D_FORWARD;
use glasscam_kernels::tolerance::Tolerance;

#[test]
fn conv2d_forward_should_match_cpu() {
    for (i, &s) in CONV_SIZES.iter().enumerate() {
        for act in [0, 1] {
            let mut rng = Rng(100 + i as u64);
            let (p, np) = conv_params(s, act);
            let n_in = (p.batch * p.c_in * p.h * p.w) as usize;
            let n_out = (p.batch * p.c_out * p.h * p.w) as usize;
            let slots = [
                Slot::F(rng.vec_f32(np, -0.5, 0.5)),
                Slot::F(rng.vec_f32(n_in, -1.0, 1.0)),
                Slot::F(vec![7.0; n_out]),
            ];
            if !gpu_matches_cpu(
                "conv2d_forward_should_match_cpu",
                &CONV2D_FORWARD,
                p,
                &slots,
                Tolerance::F32_SUM,
            ) {
                return;
            }
        }
    }
}
