//! epoch_tally: GPU against the CPU twin (loss sum and correct count added to a running tally) at batches of 1,
//! 255, 257 and a real batch, with 2 and 3 classes and ties between scores (the first largest score wins).

use crate::common::{gpu_matches_cpu, Rng, Slot};
use glasscam_kernels::nn::{NnParams, EPOCH_TALLY};
use glasscam_kernels::tolerance::Tolerance;

#[test]
fn epoch_tally_should_match_cpu() {
    for (i, (batch, k)) in [(1u32, 2u32), (255, 2), (257, 3), (32, 2)]
        .into_iter()
        .enumerate()
    {
        let mut rng = Rng(1600 + i as u64);
        let p = NnParams {
            batch,
            n_out: k,
            ..Default::default()
        };
        // scores on a coarse grid, so that ties happen
        let logits: Vec<f32> = (0..batch * k)
            .map(|_| (rng.uniform(-2.0, 2.0) * 2.0).round() as f32 / 2.0)
            .collect();
        let labels: Vec<u32> = (0..batch)
            .map(|_| (rng.next() * k as f64) as u32 % k)
            .collect();
        let slots = [
            Slot::F(rng.vec_f32(batch as usize, 0.0, 3.0)),
            Slot::F(logits),
            Slot::Labels(labels),
            Slot::F(vec![1.5, 4.0]),
        ];
        if !gpu_matches_cpu(
            "epoch_tally_should_match_cpu",
            &EPOCH_TALLY,
            p,
            &slots,
            Tolerance::F32_SUM,
        ) {
            return;
        }
    }
}

#[test]
fn epoch_tally_counts_the_first_largest_score() {
    use glasscam_kernels::nn::cpu::epoch_tally;
    let p = NnParams {
        batch: 3,
        n_out: 2,
        ..Default::default()
    };
    // sample 0: tie, predicts 0 (label 0, right); 1: predicts 1 (label 0, wrong); 2: predicts 1 (label 1, right)
    let mut tally = vec![1.0, 2.0];
    epoch_tally(
        &p,
        &[0.5, 1.0, 0.25, 9.0],
        &[0.3, 0.3, 0.0, 1.0, -1.0, 2.0],
        &[0, 0, 1],
        &mut tally,
    );
    assert_eq!(tally, vec![1.0 + 1.75, 4.0]);
}
