//! Random starting configurations: a jittered triangular lattice with species placed at random, relaxed out of
//! its worst overlaps, with Maxwell-Boltzmann velocities; seeded from (run seed, global replica index).

use glasscam_kernels::md::cpu::{compute_forces, rebuild, CpuReplica};
use glasscam_kernels::md::{MdSetup, Replicas, Thermo};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The random stream of one replica: independent of how many replicas run beside it.
pub fn replica_rng(seed: u64, replica: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(replica);
    rng
}

/// A standard normal deviate (Box-Muller).
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Maxwell-Boltzmann velocities at temperature `t` with zero total momentum, rescaled so that the kinetic
/// temperature 2 KE / n_dof is exactly `t`.
pub fn maxwell_boltzmann(setup: &MdSetup, t: f64, rng: &mut ChaCha8Rng) -> Vec<[f64; 2]> {
    let n = setup.n;
    let mass = |i: usize| setup.mass[setup.species[i] as usize];
    let mut v: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let s = (t / mass(i)).sqrt();
            [s * normal(rng), s * normal(rng)]
        })
        .collect();
    let mtot: f64 = (0..n).map(mass).sum();
    let mut p = [0.0; 2];
    for (i, vi) in v.iter().enumerate() {
        p[0] += mass(i) * vi[0];
        p[1] += mass(i) * vi[1];
    }
    for vi in v.iter_mut() {
        vi[0] -= p[0] / mtot;
        vi[1] -= p[1] / mtot;
    }
    let ke2: f64 = v
        .iter()
        .enumerate()
        .map(|(i, vi)| mass(i) * (vi[0] * vi[0] + vi[1] * vi[1]))
        .sum();
    if ke2 > 0.0 {
        let scale = (t * setup.n_dof() / ke2).sqrt();
        for vi in v.iter_mut() {
            vi[0] *= scale;
            vi[1] *= scale;
        }
    }
    v
}

/// Positions on a jittered triangular lattice (sites drawn at random when there are more than N), species
/// scattered at random, then `relax_iters` capped steepest-descent moves to take the sting out of overlaps.
pub fn lattice_start(setup: &MdSetup, rng: &mut ChaCha8Rng, relax_iters: usize) -> Vec<[f64; 2]> {
    let n = setup.n;
    let l = setup.box_l;
    let nx = ((n as f64 * 2.0 / 3f64.sqrt()).sqrt().ceil() as usize).max(1);
    let ny = n.div_ceil(nx);
    let (ax, ay) = (l / nx as f64, l / ny as f64);
    let mut sites: Vec<usize> = (0..nx * ny).collect();
    sites.shuffle(rng);
    let mut pos: Vec<[f64; 2]> = sites[..n]
        .iter()
        .map(|&s| {
            let (ix, iy) = (s % nx, s / nx);
            let shift = if iy % 2 == 1 { 0.5 } else { 0.0 };
            let jx = 0.1 * ax * (rng.random::<f64>() - 0.5);
            let jy = 0.1 * ay * (rng.random::<f64>() - 0.5);
            [
                ((ix as f64 + shift) * ax + jx).rem_euclid(l),
                (iy as f64 * ay + jy).rem_euclid(l),
            ]
        })
        .collect();
    relax(setup, &mut pos, relax_iters);
    pos
}

/// Capped steepest descent: each particle moves along its force by at most 2 % of sigma-ish per iteration.
fn relax(setup: &MdSetup, pos: &mut [[f64; 2]], iters: usize) {
    let n = setup.n;
    let l = setup.box_l;
    let mut rep = CpuReplica {
        pos: pos.to_vec(),
        vel: vec![[0.0; 2]; n],
        force: vec![[0.0; 2]; n],
        pe: vec![0.0; n],
        img: vec![[0; 2]; n],
        ..Default::default()
    };
    let cap = 0.02;
    let alpha = 1e-3;
    for it in 0..iters {
        if it % 5 == 0 {
            rebuild(setup, &mut rep);
        }
        compute_forces(setup, &mut rep);
        for i in 0..n {
            let f = rep.force[i];
            let fm = (f[0] * f[0] + f[1] * f[1]).sqrt();
            let step = (alpha * fm).min(cap);
            if fm > 0.0 && fm.is_finite() {
                for (x, fa) in rep.pos[i].iter_mut().zip(f) {
                    *x = (*x + step * fa / fm).rem_euclid(l);
                }
            }
        }
    }
    pos.copy_from_slice(&rep.pos);
}

/// A fresh replica `replica` of the run `seed`: lattice start, relaxed, velocities at `t`.
pub fn random_replicas(
    setup: &MdSetup,
    seed: u64,
    replicas: std::ops::Range<usize>,
    t: f64,
) -> Replicas {
    use rayon::prelude::*;
    let n = setup.n;
    type PosVel = (Vec<[f64; 2]>, Vec<[f64; 2]>);
    let parts: Vec<PosVel> = replicas
        .into_par_iter()
        .map(|r| {
            let mut rng = replica_rng(seed, r as u64);
            let pos = lattice_start(setup, &mut rng, 60);
            let vel = maxwell_boltzmann(setup, t, &mut rng);
            (pos, vel)
        })
        .collect();
    let mut out = Replicas {
        n,
        ..Default::default()
    };
    for (p, v) in parts {
        out.pos.extend(p);
        out.vel.extend(v);
        out.img.extend(std::iter::repeat_n([0, 0], n));
        out.thermo.push(Thermo::default());
    }
    out
}
