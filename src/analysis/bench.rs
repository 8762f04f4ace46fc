//! `bench analysis`: time Voronoi, Tong-Tanaka and coarse-graining per configuration on seeded random
//! configurations (minimum distance, density 1.2), and write them to `.npy` so `benches/freud_voronoi.py` times
//! freud on the very same points.

use std::path::Path;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::{analyse_config, coarse_grain, tong_tanaka, voronoi, CoarseGrain, ConfigInput};
use crate::error::Result;
use crate::io::npy;
use crate::sim::system::SystemDef;

/// Minimum distance between random bench particles (packing fraction ~0.34 at density 1.2: quick to place).
pub const BENCH_MIN_DIST: f64 = 0.6;
pub const BENCH_DENSITY: f64 = 1.2;

/// `count` seeded random configurations of `n` points at density 1.2 with a minimum distance, by random
/// sequential addition on a cell grid. Returns the box side and [count * n * 2] positions.
pub fn random_configs(count: usize, n: usize, seed: u64) -> (f64, Vec<f64>) {
    let l = (n as f64 / BENCH_DENSITY).sqrt();
    let mut all = Vec::with_capacity(count * n * 2);
    for c in 0..count {
        let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(c as u64));
        all.extend(random_points(n, l, BENCH_MIN_DIST, &mut rng));
    }
    (l, all)
}

fn random_points(n: usize, l: f64, dmin: f64, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let nc = ((l / dmin).floor() as usize).max(1);
    let cw = l / nc as f64;
    let mut grid: Vec<Vec<usize>> = vec![Vec::new(); nc * nc];
    let mut pts: Vec<f64> = Vec::with_capacity(2 * n);
    let d2 = dmin * dmin;
    while pts.len() < 2 * n {
        let x = rng.random::<f64>() * l;
        let y = rng.random::<f64>() * l;
        let (cx, cy) = (
            ((x / cw) as usize).min(nc - 1),
            ((y / cw) as usize).min(nc - 1),
        );
        let mut ok = true;
        'scan: for oy in [nc - 1, 0, 1] {
            for ox in [nc - 1, 0, 1] {
                let c = ((cy + oy) % nc) * nc + (cx + ox) % nc;
                for &j in &grid[c] {
                    let mut dx = pts[2 * j] - x;
                    let mut dy = pts[2 * j + 1] - y;
                    dx -= l * (dx / l).round();
                    dy -= l * (dy / l).round();
                    if dx * dx + dy * dy < d2 {
                        ok = false;
                        break 'scan;
                    }
                }
            }
        }
        if ok {
            grid[cy * nc + cx].push(pts.len() / 2);
            pts.push(x);
            pts.push(y);
        }
    }
    pts
}

/// Median per-configuration times (seconds) of each stage, single thread, their minima, and the all-core
/// throughput.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub n_particles: usize,
    pub n_configs: usize,
    pub seed: u64,
    pub voronoi_s: f64,
    pub tong_tanaka_s: f64,
    pub coarse_grain_s: f64,
    pub total_s: f64,
    /// The minimum of each stage beside the median (on a shared machine the median also measures the neighbours'
    /// load): Voronoi, Tong-Tanaka, coarse-graining, total.
    pub min_s: [f64; 4],
    pub threads: usize,
    pub configs_per_s: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

/// Runs the analysis bench. With `out`, writes `configs.npy` (float64 [S, N, 2]) and
/// `box.npy` (float64 [2]) there for `benches/freud_voronoi.py`.
pub fn bench_analysis(
    n_configs: usize,
    n_particles: usize,
    seed: u64,
    out: Option<&Path>,
) -> Result<BenchReport> {
    let (l, all) = random_configs(n_configs, n_particles, seed);
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).map_err(|source| crate::Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        npy::write(
            &dir.join("configs.npy"),
            &[n_configs as u64, n_particles as u64, 2],
            &all,
        )?;
        npy::write(&dir.join("box.npy"), &[2], &[l, l])?;
    }
    let box_l = [l, l];
    let system = SystemDef::abm();
    let diameters = system.diameters();
    // Half A, half B, like the ABM.
    let species: Vec<u32> = (0..n_particles).map(|i| (i % 2) as u32).collect();
    let cg = CoarseGrain::default();
    let (mut tv, mut tt, mut tc, mut tall) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for c in 0..n_configs {
        let pos = &all[c * 2 * n_particles..(c + 1) * 2 * n_particles];
        let t0 = Instant::now();
        let v = voronoi(pos, box_l)?;
        let t1 = Instant::now();
        let theta = tong_tanaka(&v, &species, &diameters);
        let t2 = Instant::now();
        let smooth = coarse_grain(pos, box_l, cg, &[&v.areas, &theta]);
        let t3 = Instant::now();
        std::hint::black_box(smooth);
        tv.push((t1 - t0).as_secs_f64());
        tt.push((t2 - t1).as_secs_f64());
        tc.push((t3 - t2).as_secs_f64());
        tall.push((t3 - t0).as_secs_f64());
    }
    let t0 = Instant::now();
    let done: Result<Vec<_>> = (0..n_configs)
        .into_par_iter()
        .map(|c| {
            let pos = &all[c * 2 * n_particles..(c + 1) * 2 * n_particles];
            let input = ConfigInput {
                positions: pos,
                box_l,
                species: &species,
                diameters: &diameters,
                gamma: None,
            };
            analyse_config(&input, cg).map(|_| ())
        })
        .collect();
    done?;
    let wall = t0.elapsed().as_secs_f64();
    let fmin = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
    let min_s = [fmin(&tv), fmin(&tt), fmin(&tc), fmin(&tall)];
    Ok(BenchReport {
        n_particles,
        n_configs,
        seed,
        min_s,
        voronoi_s: median(tv),
        tong_tanaka_s: median(tt),
        coarse_grain_s: median(tc),
        total_s: median(tall),
        threads: rayon::current_num_threads(),
        configs_per_s: n_configs as f64 / wall,
    })
}
