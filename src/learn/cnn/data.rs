//! The data set as the CNN sees it: images from gridization in chunks, and the augmentation by the box's exact
//! symmetries.

use glasscam_kernels::nn::cpu::augment_point;
use glasscam_kernels::nn::net::gridize_with;
use glasscam_kernels::nn::GridSpec;
use glasscam_kernels::rng::mix;
use glasscam_kernels::Compute;

use super::config::Precision;
use crate::error::Result;
use crate::io::dataset::Dataset;

/// Images of the given snapshots [k, species, G, G] as f32, gridized in chunks of `chunk` snapshots (on the CPU
/// in `precision`, as the network's own training batches are).
pub fn images(
    (compute, precision): (&Compute, Precision),
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
        out.extend(gridize_with(
            compute,
            precision.kernel(),
            grid,
            &pos,
            &data.species,
            ns,
        )?);
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
