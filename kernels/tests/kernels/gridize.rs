//! gridize: GPU against the CPU twin, and the physics of M and M^-1: each channel holds its
//! species' particle count, the image is periodic (a shift by whole pixels rolls it), and the bilinear read-back
//! is exact on a linear field.

use crate::common::Rng;
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::nn::net::{grid_sample, gridize};
use glasscam_kernels::nn::GridSpec;
use glasscam_kernels::tolerance::{assert_close, Tolerance};
use glasscam_kernels::Compute;

fn random_snapshots(rng: &mut Rng, s: usize, n: usize, l: f64) -> (Vec<f64>, Vec<u32>) {
    let pos = rng.vec_f64(s * n * 2, 0.0, l);
    let species = (0..n).map(|i| (i % 2) as u32).collect();
    (pos, species)
}

#[test]
fn gridize_should_match_cpu() {
    let Some(ctx) = test_context("gridize_should_match_cpu") else {
        return;
    };
    let gpu = Compute::Gpu(ctx);
    // (snapshots, particles, grid, box, channels): 9 pixels, exactly one workgroup (256), 242, and a real batch
    for (i, &(s, n, g, l, c)) in [
        (1, 1, 3, 3.0, 1),
        (1, 5, 16, 8.0, 1),
        (1, 7, 11, 6.0, 2),
        (3, 200, 32, 12.9, 2),
    ]
    .iter()
    .enumerate()
    {
        let mut rng = Rng(1200 + i as u64);
        let (pos, mut species) = random_snapshots(&mut rng, s, n, l);
        species.iter_mut().for_each(|x| *x %= c as u32);
        let grid = GridSpec {
            grid: g,
            box_l: l,
            width: 0.3,
            cutoff: 3.0,
        };
        let want = gridize(&Compute::Cpu, &grid, &pos, &species, c).expect("cpu");
        let got = gridize(&gpu, &grid, &pos, &species, c).expect("gpu");
        let w: Vec<f64> = want.iter().map(|&x| x as f64).collect();
        let a: Vec<f64> = got.iter().map(|&x| x as f64).collect();
        assert_close(&format!("gridize size {i}"), &a, &w, Tolerance::F32_SUM);
    }
}

#[test]
fn gridize_should_match_cpu_at_production_size() {
    // the paper's sizes: N = 2000 at density 1.2, G = 128, Gaussian width 0.3 cut at 4 widths; two snapshots
    let Some(ctx) = test_context("gridize_should_match_cpu_at_production_size") else {
        return;
    };
    let (s, n, l) = (2, 2000, (2000.0f64 / 1.2).sqrt());
    let mut rng = Rng(1250);
    // f32-exact positions, so both sides bin each particle into the same pixel
    let pos: Vec<f64> = rng
        .vec_f32(s * n * 2, 0.0, l * 0.99999)
        .iter()
        .map(|&x| x as f64)
        .collect();
    let species: Vec<u32> = (0..n).map(|i| (i % 2) as u32).collect();
    let grid = GridSpec {
        grid: 128,
        box_l: l,
        width: 0.3,
        cutoff: 4.0,
    };
    assert_eq!(grid.radius(), 4, "a 9 x 9 window, as in training");
    let want = gridize(&Compute::Cpu, &grid, &pos, &species, 2).expect("cpu");
    let gpu = Compute::Gpu(ctx);
    let got = gridize(&gpu, &grid, &pos, &species, 2).expect("gpu");
    let w: Vec<f64> = want.iter().map(|&x| x as f64).collect();
    let a: Vec<f64> = got.iter().map(|&x| x as f64).collect();
    assert_close("gridize N 2000 G 128", &a, &w, Tolerance::F32_SUM);
    // the bins fix the summation order: a second run is bit for bit the same
    let again = gridize(&gpu, &grid, &pos, &species, 2).expect("gpu");
    assert!(
        got.iter()
            .zip(&again)
            .all(|(x, y)| x.to_bits() == y.to_bits()),
        "two GPU runs of gridize differ"
    );
    let total: f64 = w.iter().sum();
    assert!(
        (total - (s * n) as f64).abs() < 1e-6 * (s * n) as f64,
        "images hold {total}, not the {} particles",
        s * n
    );
}

#[test]
fn every_channel_holds_its_particle_count() {
    let mut rng = Rng(1400);
    let (s, n, l) = (3, 301, 15.0);
    let (pos, species) = random_snapshots(&mut rng, s, n, l);
    let grid = GridSpec {
        grid: 48,
        box_l: l,
        width: 0.3,
        cutoff: 4.0,
    };
    let img = gridize(&Compute::Cpu, &grid, &pos, &species, 2).expect("gridize");
    let gg = 48 * 48;
    for k in 0..s {
        for c in 0..2 {
            let mass: f64 = img[(k * 2 + c) * gg..(k * 2 + c + 1) * gg]
                .iter()
                .map(|&x| x as f64)
                .sum();
            let count = species.iter().filter(|&&x| x as usize == c).count() as f64;
            assert!(
                (mass - count).abs() < 1e-3,
                "snapshot {k} channel {c}: mass {mass}, {count} particles"
            );
        }
    }
    if let Some(ctx) = test_context("every_channel_holds_its_particle_count (gpu)") {
        let img = gridize(&Compute::Gpu(ctx), &grid, &pos, &species, 2).expect("gridize");
        let mass: f64 = img[..gg].iter().map(|&x| x as f64).sum();
        assert!(
            (mass - 151.0).abs() < 1e-2,
            "gpu channel 0 mass {mass}, 151 particles"
        );
    }
}

#[test]
fn gridize_is_periodic() {
    let mut rng = Rng(1500);
    let (n, l, g) = (50, 10.0, 20usize);
    let (pos, species) = random_snapshots(&mut rng, 1, n, l);
    let grid = GridSpec {
        grid: g,
        box_l: l,
        width: 0.4,
        cutoff: 4.0,
    };
    let h = l / g as f64;
    let img = gridize(&Compute::Cpu, &grid, &pos, &species, 2).expect("gridize");
    // shifting every particle by (3, 7) pixels, wrapped into the box, rolls the image by (3, 7)
    let shifted: Vec<f64> = pos
        .chunks(2)
        .flat_map(|p| {
            [
                (p[0] + 3.0 * h).rem_euclid(l),
                (p[1] + 7.0 * h).rem_euclid(l),
            ]
        })
        .collect();
    let img2 = gridize(&Compute::Cpu, &grid, &shifted, &species, 2).expect("gridize");
    for c in 0..2 {
        for y in 0..g {
            for x in 0..g {
                let a = img[(c * g + y) * g + x];
                let b = img2[(c * g + (y + 7) % g) * g + (x + 3) % g];
                assert!(
                    (a - b).abs() < 1e-5,
                    "channel {c} pixel ({x},{y}): {a} vs rolled {b}"
                );
            }
        }
    }
    // a particle on the edge deposits across it
    let edge = gridize(&Compute::Cpu, &grid, &[0.01, 5.0], &[0], 1).expect("gridize");
    let row = 10; // y = 5.0 is pixel 10
    assert!(
        edge[row * g + g - 1] > 0.1 * edge[row * g],
        "no mass across the periodic edge"
    );
}

#[test]
fn grid_sample_is_exact_on_a_linear_field() {
    let (g, l) = (16usize, 8.0);
    let h = l / g as f64;
    let grid = GridSpec {
        grid: g,
        box_l: l,
        width: 0.3,
        cutoff: 3.0,
    };
    let (a, b, c) = (0.7, -1.3, 2.1);
    let mut field = vec![0.0; g * g];
    for y in 0..g {
        for x in 0..g {
            field[y * g + x] = a + b * (x as f64 + 0.5) * h + c * (y as f64 + 0.5) * h;
        }
    }
    let mut rng = Rng(1600);
    // between the first and last pixel centres, where the periodic wrap plays no part
    let pos = rng.vec_f64(2 * 200, 0.5 * h, l - 0.5 * h);
    let want: Vec<f64> = pos.chunks(2).map(|p| a + b * p[0] + c * p[1]).collect();
    let got = grid_sample(&Compute::Cpu, &grid, &field, &pos, 200).expect("grid_sample");
    assert_close(
        "M^-1 of a linear field (cpu)",
        &got,
        &want,
        Tolerance {
            abs: 1e-12,
            rel: 1e-12,
        },
    );
    if let Some(ctx) = test_context("grid_sample_is_exact_on_a_linear_field (gpu)") {
        let got = grid_sample(&Compute::Gpu(ctx), &grid, &field, &pos, 200).expect("grid_sample");
        assert_close(
            "M^-1 of a linear field (gpu)",
            &got,
            &want,
            Tolerance::F32_SUM,
        );
    }
}

#[test]
fn a_window_wider_than_the_grid_is_refused() {
    let grid = GridSpec {
        grid: 4,
        box_l: 4.0,
        width: 1.0,
        cutoff: 4.0,
    };
    let err = gridize(&Compute::Cpu, &grid, &[1.0, 1.0], &[0], 1).expect_err("must refuse");
    assert!(err.to_string().contains("does not fit"), "{err}");
}
