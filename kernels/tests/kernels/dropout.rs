//! dropout: GPU against the CPU twin (the same mask bit for bit) at 1, 255, 257 and 20000 elements, and the
//! mask's statistics.

use crate::common::{gpu_matches_cpu, Rng, Slot};
use glasscam_kernels::nn::{NnParams, DROPOUT};
use glasscam_kernels::tolerance::Tolerance;

#[test]
fn dropout_should_match_cpu() {
    for (i, n) in [1u32, 255, 257, 20000].into_iter().enumerate() {
        for prob in [0.0f32, 0.5, 0.9] {
            let mut rng = Rng(800 + i as u64);
            let p = NnParams {
                n,
                seed: 12345 + i as u32,
                p: prob,
                ..Default::default()
            };
            let slots = [Slot::F(rng.vec_f32(n as usize + 3, -1.0, 1.0))];
            if !gpu_matches_cpu(
                "dropout_should_match_cpu",
                &DROPOUT,
                p,
                &slots,
                Tolerance::F32_TIGHT,
            ) {
                return;
            }
        }
    }
}

#[test]
fn dropout_drops_about_p_and_keeps_the_mean() {
    use glasscam_kernels::nn::keep;
    let n = 100_000u32;
    for p in [0.1f32, 0.5, 0.9] {
        let kept = (0..n).filter(|&i| keep(7, i, p)).count() as f64 / n as f64;
        assert!(
            (kept - (1.0 - p as f64)).abs() < 0.01,
            "p = {p}: kept fraction {kept}"
        );
    }
    // another seed gives another mask
    let same = (0..1000u32)
        .filter(|&i| keep(1, i, 0.5) == keep(2, i, 0.5))
        .count();
    assert!(same < 600, "masks of seeds 1 and 2 agree on {same} of 1000");
}
