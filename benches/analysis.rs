//! Criterion bench of the structural analysis per 2000-particle configuration: periodic Voronoi, Tong-Tanaka,
//! coarse-graining, and the whole `analyse_config`. Also writes the configurations to
//! `target/bench-analysis/` so `benches/freud_voronoi.py` times freud on the same points.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use glasscam::analysis::bench::random_configs;
use glasscam::analysis::{
    analyse_config, coarse_grain, tong_tanaka, voronoi, CoarseGrain, ConfigInput,
};
use glasscam::sim::system::SystemDef;

const N: usize = 2000;
const CONFIGS: usize = 8;
const SEED: u64 = 2022;

fn bench(c: &mut Criterion) {
    let (l, all) = random_configs(CONFIGS, N, SEED);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-analysis");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = glasscam::io::npy::write(
            &dir.join("configs.npy"),
            &[CONFIGS as u64, N as u64, 2],
            &all,
        );
        let _ = glasscam::io::npy::write(&dir.join("box.npy"), &[2], &[l, l]);
    }
    let box_l = [l, l];
    let diameters = SystemDef::abm().diameters();
    let species: Vec<u32> = (0..N).map(|i| (i % 2) as u32).collect();
    let cg = CoarseGrain::default();
    let conf = |k: usize| &all[(k % CONFIGS) * 2 * N..(k % CONFIGS + 1) * 2 * N];
    let mut g = c.benchmark_group("analysis_2000");
    g.sample_size(30);
    let mut k = 0;
    g.bench_function("voronoi", |b| {
        b.iter(|| {
            k += 1;
            voronoi(conf(k), box_l).map(|v| v.areas.len()).unwrap_or(0)
        })
    });
    let vs: Vec<_> = (0..CONFIGS)
        .filter_map(|k| voronoi(conf(k), box_l).ok())
        .collect();
    g.bench_function("tong_tanaka", |b| {
        b.iter(|| {
            k += 1;
            tong_tanaka(&vs[k % vs.len()], &species, &diameters)
        })
    });
    let thetas: Vec<Vec<f64>> = vs
        .iter()
        .map(|v| tong_tanaka(v, &species, &diameters))
        .collect();
    g.bench_function("coarse_grain_2_fields", |b| {
        b.iter(|| {
            k += 1;
            let i = k % vs.len();
            coarse_grain(conf(i), box_l, cg, &[&vs[i].areas, &thetas[i]])
        })
    });
    g.bench_function("analyse_config", |b| {
        b.iter(|| {
            k += 1;
            let input = ConfigInput {
                positions: conf(k),
                box_l,
                species: &species,
                diameters: &diameters,
                gamma: None,
            };
            analyse_config(&input, cg)
                .map(|r| r.1.pearson[2])
                .unwrap_or(f64::NAN)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
