//! mean_pool_backward (the `mean` head): GPU against the CPU twin on seeded random inputs, with maps of 1 pixel, 255 and
//! 257 pixels (around the workgroup size) and a real layer (16 maps of 64 x 64).

use crate::common::{gpu_matches_cpu, pool_params, Rng, Slot, POOL_SIZES};
use glasscam_kernels::nn::MEAN_POOL_BACKWARD;
use glasscam_kernels::tolerance::Tolerance;

#[test]
fn mean_pool_backward_should_match_cpu() {
    for (i, &s) in POOL_SIZES.iter().enumerate() {
        let mut rng = Rng(3200 + i as u64);
        let p = pool_params(s);
        let n = (p.batch * p.c_in) as usize;
        let slots = [
            Slot::F(rng.vec_f32(n, -1.0, 1.0)),
            Slot::F(vec![7.0; n * (p.h * p.w) as usize + 2]),
        ];
        if !gpu_matches_cpu(
            "mean_pool_backward_should_match_cpu",
            &MEAN_POOL_BACKWARD,
            p,
            &slots,
            Tolerance::F32_TIGHT,
        ) {
            return;
        }
    }
}
