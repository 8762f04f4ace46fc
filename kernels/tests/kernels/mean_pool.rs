//! mean_pool (the `mean` head): GPU against the CPU twin on seeded random inputs, with maps of 1 pixel, 255 and
//! 257 pixels (around the workgroup size) and a real layer (16 maps of 64 x 64).

use crate::common::{gpu_matches_cpu, pool_params, Rng, Slot, POOL_SIZES};
use glasscam_kernels::nn::MEAN_POOL;
use glasscam_kernels::tolerance::Tolerance;

#[test]
fn mean_pool_should_match_cpu() {
    for (i, &s) in POOL_SIZES.iter().enumerate() {
        let mut rng = Rng(3100 + i as u64);
        let p = pool_params(s);
        let n = (p.batch * p.c_in) as usize;
        let slots = [
            Slot::F(rng.vec_f32(n * (p.h * p.w) as usize, -1.0, 1.0)),
            Slot::F(vec![7.0; n + 2]),
        ];
        if !gpu_matches_cpu(
            "mean_pool_should_match_cpu",
            &MEAN_POOL,
            p,
            &slots,
            Tolerance::F32_SUM,
        ) {
            return;
        }
    }
}

#[test]
fn a_dispatch_above_the_workgroup_limit_spills_into_y() {
    // mean_pool runs one workgroup per map: one more map than the device dispatches along x goes out as a 2D
    // grid, which the kernel flattens back (flat_group); every map must still be written, once, in its place
    let Some(ctx) =
        glasscam_kernels::gpu::test_context("a_dispatch_above_the_workgroup_limit_spills_into_y")
    else {
        return;
    };
    let max = ctx.limits.max_compute_workgroups_per_dimension;
    let maps = max + 1000;
    assert_eq!(
        ctx.spill("mean_pool", maps as u64).expect("fits"),
        (max, 2),
        "the launch spills into a second row"
    );
    let p = pool_params((1, maps, 1, 1));
    let mut rng = Rng(3300);
    let slots = [
        Slot::F(rng.vec_f32(maps as usize, -1.0, 1.0)),
        Slot::F(vec![7.0; maps as usize + 2]),
    ];
    gpu_matches_cpu(
        "a_dispatch_above_the_workgroup_limit_spills_into_y",
        &MEAN_POOL,
        p,
        &slots,
        Tolerance::F32_TIGHT,
    );
}
