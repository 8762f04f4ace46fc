//! standardize: GPU against the CPU twin on seeded random images at 1, 255, 257 values and a real batch.

use crate::common::{gpu_matches_cpu, Rng, Slot};
use glasscam_kernels::nn::{NnParams, STANDARDIZE};
use glasscam_kernels::tolerance::Tolerance;

#[test]
fn standardize_should_match_cpu() {
    // (values, pixels per side, channels)
    for (i, (n, g, c)) in [
        (1u32, 1u32, 1u32),
        (255, 5, 3),
        (257, 4, 2),
        (8 * 2 * 64 * 64, 64, 2),
    ]
    .into_iter()
    .enumerate()
    {
        let mut rng = Rng(1500 + i as u64);
        let p = NnParams {
            n,
            h: g,
            w: g,
            n_species: c,
            ..Default::default()
        };
        let norm: Vec<f32> = (0..c)
            .flat_map(|_| [rng.uniform(-1.0, 1.0) as f32, rng.uniform(0.5, 4.0) as f32])
            .collect();
        let slots = [Slot::F(norm), Slot::F(rng.vec_f32(n as usize, 0.0, 3.0))];
        if !gpu_matches_cpu(
            "standardize_should_match_cpu",
            &STANDARDIZE,
            p,
            &slots,
            Tolerance::F32_TIGHT,
        ) {
            return;
        }
    }
}
