//! dense_forward: GPU against the CPU twin on seeded random inputs, at sizes of 1, workgroup - 1, workgroup + 1
//! and a real layer.

use crate::common::{dense_params, gpu_matches_cpu, Rng, Slot, DENSE_SIZES};
use glasscam_kernels::nn::DENSE_FORWARD;
use glasscam_kernels::tolerance::Tolerance;

#[test]
fn dense_forward_should_match_cpu() {
    for (i, &s) in DENSE_SIZES.iter().enumerate() {
        for act in [0, 1] {
            let mut rng = Rng(400 + i as u64);
            let (p, np) = dense_params(s, act);
            let slots = [
                Slot::F(rng.vec_f32(np, -0.5, 0.5)),
                Slot::F(rng.vec_f32((p.batch * p.n_in) as usize, -1.0, 1.0)),
                Slot::F(vec![7.0; (p.batch * p.n_out) as usize]),
            ];
            if !gpu_matches_cpu(
                "dense_forward_should_match_cpu",
                &DENSE_FORWARD,
                p,
                &slots,
                Tolerance::F32_SUM,
            ) {
                return;
            }
        }
    }
}

#[test]
fn dense_forward_should_match_cpu_across_batch_tiles() {
    // batches around the tile of DENSE_BATCH samples (one short, exact, one over, several tiles with a ragged
    // last one) and the real head: a batch of 32 on 16 maps of 16 x 16 into 64
    let tile = glasscam_kernels::nn::DENSE_BATCH;
    for (i, s) in [
        (tile - 1, 300, 5),
        (tile, 255, 2),
        (tile + 1, 257, 3),
        (3 * tile + 5, 33, 17),
        (32, 4096, 64),
    ]
    .into_iter()
    .enumerate()
    {
        let mut rng = Rng(450 + i as u64);
        let (p, np) = dense_params(s, 1);
        let slots = [
            Slot::F(rng.vec_f32(np, -0.5, 0.5)),
            Slot::F(rng.vec_f32((p.batch * p.n_in) as usize, -1.0, 1.0)),
            Slot::F(vec![7.0; (p.batch * p.n_out) as usize + 3]),
        ];
        if !gpu_matches_cpu(
            "dense_forward_should_match_cpu_across_batch_tiles",
            &DENSE_FORWARD,
            p,
            &slots,
            Tolerance::F32_SUM,
        ) {
            return;
        }
    }
}
