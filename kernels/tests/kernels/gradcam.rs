//! gradcam: GPU against the CPU twin on seeded random feature maps and gradients, 1, 255, 257 pixels and a real
//! batch of 16-map 32x32 layers.

use crate::common::{gpu_matches_cpu, Rng, Slot};
use glasscam_kernels::nn::{NnParams, GRADCAM};
use glasscam_kernels::tolerance::Tolerance;

#[test]
fn gradcam_should_match_cpu() {
    for (i, (batch, maps, h, w)) in [
        (1u32, 1u32, 1u32, 1u32),
        (2, 3, 15, 17),
        (1, 2, 1, 257),
        (5, 16, 32, 32),
    ]
    .into_iter()
    .enumerate()
    {
        let mut rng = Rng(1100 + i as u64);
        let p = NnParams {
            batch,
            c_in: maps,
            h,
            w,
            ..Default::default()
        };
        let n = (batch * maps * h * w) as usize;
        let slots = [
            Slot::F(rng.vec_f32(n, 0.0, 1.0)),
            Slot::F(rng.vec_f32(n, -1.0, 1.0)),
            Slot::F(vec![7.0; (batch * h * w) as usize]),
        ];
        if !gpu_matches_cpu(
            "gradcam_should_match_cpu",
            &GRADCAM,
            p,
            &slots,
            Tolerance::F32_SUM,
        ) {
            return;
        }
    }
}
