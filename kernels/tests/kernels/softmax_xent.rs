//! softmax_xent: GPU against the CPU twin on seeded random inputs at 1, 255, 257 and a real batch.

use crate::common::{gpu_matches_cpu, Rng, Slot};
use glasscam_kernels::nn::{NnParams, SOFTMAX_XENT};
use glasscam_kernels::tolerance::Tolerance;

#[test]
fn softmax_xent_should_match_cpu() {
    for (i, (batch, k)) in [(1u32, 2u32), (255, 2), (257, 3), (1000, 2)]
        .into_iter()
        .enumerate()
    {
        let mut rng = Rng(900 + i as u64);
        let p = NnParams {
            batch,
            n_out: k,
            ..Default::default()
        };
        let labels: Vec<u32> = (0..batch)
            .map(|_| (rng.next() * k as f64) as u32 % k)
            .collect();
        let slots = [
            Slot::F(rng.vec_f32((batch * k) as usize, -8.0, 8.0)),
            Slot::Labels(labels),
            Slot::F(vec![7.0; batch as usize]),
            Slot::F(vec![7.0; (batch * k) as usize]),
        ];
        if !gpu_matches_cpu(
            "softmax_xent_should_match_cpu",
            &SOFTMAX_XENT,
            p,
            &slots,
            Tolerance::F32_SUM,
        ) {
            return;
        }
    }
}
