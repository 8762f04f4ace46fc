//! The data set as the CNN sees it: images from gridization in chunks, the augmentation by the box's exact
//! symmetries, and a synthetic data set writer for tests and demos.

use std::path::Path;

use glasscam_kernels::nn::cpu::augment_point;
use glasscam_kernels::nn::net::gridize;
use glasscam_kernels::nn::GridSpec;
use glasscam_kernels::rng::mix;
use glasscam_kernels::Compute;

use crate::domain::Class;
use crate::error::Result;
use crate::io::dataset::{Dataset, Manifest, SnapshotMeta, FORMAT_VERSION};
use crate::sim::system::SystemDef;

/// Images of the given snapshots [k, species, G, G] as f32, gridized in chunks of `chunk` snapshots.
pub fn images(
    compute: &Compute,
    data: &Dataset,
    grid: &GridSpec,
    snapshots: &[usize],
    chunk: usize,
) -> Result<Vec<f32>> {
    let ns = data.manifest.system.n_species();
    let mut out = Vec::with_capacity(snapshots.len() * ns * grid.grid * grid.grid);
    for part in snapshots.chunks(chunk.max(1)) {
        let pos: Vec<f64> = part
            .iter()
            .flat_map(|&k| data.snapshot(k).iter().copied())
            .collect();
        out.extend(gridize(compute, grid, &pos, &data.species, ns)?);
    }
    Ok(out)
}

/// One exact symmetry of a periodic square box: a periodic translation by a uniform random vector after one of
/// the 8 elements of the square's symmetry group (4 rotations by 90 degrees, each with or without a reflection),
/// both drawn from `seed`. Positions are interleaved (x, y); the result is wrapped into [0, box_l). Pair
/// distances (minimum image) are unchanged.
pub fn augment(positions: &[f64], box_l: f64, seed: u64) -> Vec<f64> {
    let tf = augment_transform(box_l, seed);
    let mut out = Vec::with_capacity(positions.len());
    for p in positions.chunks_exact(2) {
        let (x, y) = augment_point(p[0], p[1], &tf);
        out.push(x);
        out.push(y);
    }
    out
}

/// The symmetry [`augment`] applies for `seed`, as the training set on the device takes it (gather_augment.wgsl):
/// (tx, ty, g, box_l), g in 0..8 (bit 4: swap x and y, bit 1: negate x, bit 2: negate y, before the translation).
pub fn augment_transform(box_l: f64, seed: u64) -> [f64; 4] {
    let s1 = mix(seed ^ 0xA66A_0001);
    let s2 = mix(s1);
    let s3 = mix(s2);
    let unit = |s: u64| (s >> 11) as f64 / (1u64 << 53) as f64;
    [unit(s1) * box_l, unit(s2) * box_l, (s3 >> 61) as f64, box_l]
}

/// The per-snapshot augmentation seed of a training epoch (`ModelConfig::augment`).
pub fn augment_seed(model_seed: u64, epoch: usize, snapshot: usize) -> u64 {
    mix(mix(model_seed ^ 0xA06_0000_0000) ^ epoch as u64) ^ mix(snapshot as u64)
}

/// A synthetic two-class data set: `replicas` replicas of `n` particles (two species) in a box of side `box_l`,
/// each with a liquid snapshot (uniform random positions) and a glass snapshot (a jittered square lattice).
pub fn write_synthetic(
    dir: &Path,
    replicas: usize,
    n_side: usize,
    box_l: f64,
    jitter: f64,
    seed: u64,
) -> Result<()> {
    let n = n_side * n_side;
    let mut system = SystemDef::abm();
    system.species[0].count = n / 2;
    system.species[1].count = n - n / 2;
    system.n = Some(n);
    system.density = n as f64 / (box_l * box_l);
    let mut positions = Vec::with_capacity(replicas * 2 * n * 2);
    let mut snapshots = Vec::new();
    let mut s = mix(seed);
    let mut uni = move || {
        s = mix(s);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let a = box_l / n_side as f64;
    for r in 0..replicas {
        for (t, class) in Class::BOTH.into_iter().enumerate() {
            let off = (uni() * a, uni() * a);
            for i in 0..n {
                let (x, y) = if class == Class::Liquid {
                    (uni() * box_l, uni() * box_l)
                } else {
                    let (ix, iy) = (i % n_side, i / n_side);
                    (
                        (ix as f64 * a + off.0 + jitter * a * (uni() - 0.5)).rem_euclid(box_l),
                        (iy as f64 * a + off.1 + jitter * a * (uni() - 0.5)).rem_euclid(box_l),
                    )
                };
                positions.push(x);
                positions.push(y);
            }
            snapshots.push(SnapshotMeta {
                index: r * 2 + t,
                replica: r,
                class,
                label: class.label(),
                step: 0,
                target_t: if t == 0 { 2.0 } else { 0.05 },
                kinetic_t: 0.0,
                pe_per_particle: 0.0,
            });
        }
    }
    let species: Vec<u32> = (0..n).map(|i| if i < n / 2 { 0 } else { 1 }).collect();
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        program_version: env!("CARGO_PKG_VERSION").into(),
        system,
        protocol: serde_json::json!({ "synthetic": { "jitter": jitter, "seed": seed } }),
        seed,
        n_particles: n,
        box_l,
        n_replicas: replicas,
        replica_range: (0, replicas),
        snapshot_temps: vec![2.0, 0.05],
        backend: "synthetic".into(),
        failed: vec![],
        snapshots,
    };
    Dataset::write(dir, &manifest, &positions, &species)
}
