//! gridize_bin: the GPU's bins against the CPU twin's: the same key ranges, the same particles in the same order
//! (the shader sorts each bin by particle index), the same window norms; at 1, 255, 257 and 2000 particles.

use crate::common::Rng;
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::nn::gpu::{Launch, NnGpu};
use glasscam_kernels::nn::{cpu, GridSpec, GRIDIZE_BIN};
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gridize_bin_should_match_cpu() {
    let Some(ctx) = test_context("gridize_bin_should_match_cpu") else {
        return;
    };
    let nn = NnGpu::shared(&ctx).expect("pipelines");
    // (snapshots, particles, grid, box, species): one particle, a workgroup -1 and +1, a crowded small grid
    // (many particles per bin, so the in-bin sort matters), and a production-sized snapshot
    for (i, &(s, n, g, l, c)) in [
        (1usize, 1usize, 3usize, 3.0f64, 1u32),
        (2, 255, 16, 8.0, 2),
        (1, 257, 11, 6.0, 2),
        (3, 600, 8, 5.0, 3),
        (1, 2000, 128, 40.8, 2),
    ]
    .iter()
    .enumerate()
    {
        let mut rng = Rng(1500 + i as u64);
        let pos: Vec<f32> = rng.vec_f32(s * n * 2, 0.0, l * 0.99999);
        let species: Vec<u32> = (0..n as u32).map(|j| (j * 7 + 3) % c).collect();
        let grid = GridSpec {
            grid: g,
            box_l: l,
            width: 0.3,
            cutoff: 3.0,
        };
        let p = grid.params(s, n, c as usize);
        let nk = c as usize * g * g + 1;
        let mut want_end = vec![0u32; s * nk];
        let mut want_bins = vec![[0.0f64; 4]; s * n];
        let pos64: Vec<f64> = pos.iter().map(|&x| x as f64).collect();
        cpu::gridize_bin(&p, &pos64, &species, &mut want_end, &mut want_bins);

        let pos_b = nn.ctx.storage("pos", &pos);
        let sp_b = nn.ctx.storage("species", &species);
        let end_b = nn.ctx.storage_zeroed("bin_end", (s * nk) as u64 * 4);
        let bins_b = nn.ctx.storage_zeroed("binned", (s * n) as u64 * 16);
        nn.run(&[Launch {
            kernel: &GRIDIZE_BIN,
            p,
            bufs: vec![&pos_b, &sp_b, &end_b, &bins_b],
        }])
        .expect("gpu");
        let got_end: Vec<u32> = nn.ctx.read("gridize_bin", &end_b).expect("read");
        let got_bins: Vec<[f32; 4]> = nn.ctx.read("gridize_bin", &bins_b).expect("read");
        assert_eq!(
            got_end[..s * nk],
            want_end[..],
            "size {i}: key range ends differ"
        );
        for (j, (a, w)) in got_bins.iter().zip(&want_bins).enumerate() {
            assert_eq!(
                [a[0] as f64, a[1] as f64, a[3] as f64],
                [w[0], w[1], w[3]],
                "size {i}: binned entry {j} (x, y, particle index)"
            );
        }
        let norm_a: Vec<f64> = got_bins.iter().map(|e| e[2] as f64).collect();
        let norm_w: Vec<f64> = want_bins.iter().map(|e| e[2]).collect();
        assert_close(
            &format!("gridize_bin size {i} window norms"),
            &norm_a,
            &norm_w,
            Tolerance::F32_SUM,
        );
    }
}
