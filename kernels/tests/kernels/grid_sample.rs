//! grid_sample (M^-1, bilinear read-back of a field at the particles): GPU against the CPU twin at 1, 255, 257
//! particles and 4 snapshots of 500.

use crate::common::Rng;
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::nn::net::grid_sample;
use glasscam_kernels::nn::GridSpec;
use glasscam_kernels::tolerance::{assert_close, Tolerance};
use glasscam_kernels::Compute;

#[test]
fn grid_sample_should_match_cpu() {
    let Some(ctx) = test_context("grid_sample_should_match_cpu") else {
        return;
    };
    let gpu = Compute::Gpu(ctx);
    // particle counts 1, 255, 257 and 4 snapshots of 500
    for (i, &(s, n)) in [(1usize, 1usize), (1, 255), (1, 257), (4, 500)]
        .iter()
        .enumerate()
    {
        let mut rng = Rng(1300 + i as u64);
        let grid = GridSpec {
            grid: 16,
            box_l: 10.0,
            width: 0.3,
            cutoff: 3.0,
        };
        let field: Vec<f64> = rng
            .vec_f32(s * 256, -1.0, 1.0)
            .iter()
            .map(|&x| x as f64)
            .collect();
        // f32-exact positions so that both sides read the same place
        let pos: Vec<f64> = rng
            .vec_f32(s * n * 2, 0.0, 9.999)
            .iter()
            .map(|&x| x as f64)
            .collect();
        let want = grid_sample(&Compute::Cpu, &grid, &field, &pos, n).expect("cpu");
        let got = grid_sample(&gpu, &grid, &field, &pos, n).expect("gpu");
        assert_close(
            &format!("grid_sample size {i}"),
            &got,
            &want,
            Tolerance::F32_SUM,
        );
    }
}
