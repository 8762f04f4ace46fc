//! The fast engine's integrator: the reference's velocity Verlet and Nose-Hoover chain (`md::reference`, the same
//! operations in the same order per particle) with passes fused, on one thread or split over several
//! (`split`).

use rayon::prelude::*;

use super::forces::{check_forces, forces};
use super::split::{forces_split, rebuild_split, SplitWork};
#[cfg(target_arch = "x86_64")]
use super::{avx2, avx512};
use super::{cpu_skin, min_image, rebuild, CpuReplica, Isa};
use crate::md::reference::{nhc_update, wrap};
use crate::md::replica::settle_failure;
use crate::md::{Advance, MdSetup, Thermo};

/// 2 KE of the velocities (particle order).
#[inline]
pub(super) fn ke2_of(setup: &MdSetup, vel: &[[f64; 2]]) -> f64 {
    let mut ke2 = 0.0;
    for (v, &s) in vel.iter().zip(&setup.species) {
        ke2 += setup.mass[s as usize] * (v[0] * v[0] + v[1] * v[1]);
    }
    ke2
}

/// The chain's half step from 2 KE `ke2` (chain length 0 is plain NVE): the velocity scale.
pub(super) fn nhc_scale(setup: &MdSetup, th: &mut Thermo, ke2: f64, kt: f64) -> f64 {
    if setup.n_chain == 0 {
        1.0
    } else {
        nhc_update(setup, th, ke2, kt)
    }
}

/// `md_step` for one replica on the fast engine: `adv.steps` steps of the reference's integrator
/// (`reference::md_step`) with its passes fused where that changes no bit (the thermostat's velocity scaling into
/// the kick, the kinetic energy into the second kick), and the energies, which no step needs, evaluated on the
/// call's last step only (and on a failing step). Compiled for the best vector unit the CPU has.
pub fn md_step(setup: &MdSetup, rep: &mut CpuReplica, adv: &Advance) {
    #[cfg(target_arch = "x86_64")]
    match Isa::detect() {
        // SAFETY: `Isa::detect` found the unit.
        Isa::Avx512 => return unsafe { avx512::step(setup, rep, adv) },
        // SAFETY: as above.
        Isa::Avx2 => return unsafe { avx2::step(setup, rep, adv) },
        Isa::Scalar => {}
    }
    step_loop(setup, rep, adv, &mut None)
}

/// `md_step` with the replica's work split over `parts` rayon tasks per phase (for fewer replicas than
/// threads). Every particle's operations and sums are the ones of `md_step` in the same order, so the bytes are
/// `md_step`'s whatever `parts` and the thread count (see `forces_split`).
pub fn md_step_split(
    setup: &MdSetup,
    rep: &mut CpuReplica,
    adv: &Advance,
    work: &mut SplitWork,
    parts: usize,
) {
    step_loop(setup, rep, adv, &mut Some((work, parts.max(1))))
}

pub(super) type Split<'a> = Option<(&'a mut SplitWork, usize)>;

#[inline(always)]
pub(super) fn step_loop(setup: &MdSetup, rep: &mut CpuReplica, adv: &Advance, split: &mut Split) {
    let half_dt = 0.5 * setup.dt;
    let limit = 0.25 * cpu_skin(setup) * cpu_skin(setup);
    // (1/m) dt/2 per species: the same product the kicks formed per particle
    let kick: Vec<f64> = setup.mass.iter().map(|m| (1.0 / m) * half_dt).collect();
    for s in 0..adv.steps {
        if rep.thermo.status != 0 {
            return;
        }
        let kt = adv.segment.target_at(adv.seg_done + s + 1) * rep.thermo.t_scale;
        let sc = nhc_scale(setup, &mut rep.thermo, ke2_of(setup, &rep.vel), kt);
        let d2max = {
            let CpuReplica {
                pos,
                vel,
                img,
                force,
                xref,
                ..
            } = &mut *rep;
            let drift =
                |pos: &mut [[f64; 2]], vel: &mut [[f64; 2]], img: &mut [[i32; 2]], i0: usize| {
                    let r = i0..i0 + pos.len();
                    let fixed = (&force[r.clone()], &xref[r.clone()], &setup.species[r]);
                    kick_drift(setup, (&kick, sc), (pos, vel, img), fixed)
                };
            match split {
                None => drift(pos, vel, img, 0),
                Some((_, parts)) => {
                    let c = setup.n.div_ceil(*parts);
                    pos.par_chunks_mut(c)
                        .zip(vel.par_chunks_mut(c))
                        .zip(img.par_chunks_mut(c))
                        .enumerate()
                        .map(|(k, ((p, v), w))| drift(p, v, w, k * c))
                        .reduce(|| 0.0, f64::max)
                }
            }
        };
        if d2max > limit {
            match split {
                None => rebuild(setup, rep),
                Some((work, parts)) => rebuild_split(setup, rep, work, *parts),
            }
        }
        let last = s + 1 == adv.steps;
        forces_any(setup, rep, split, last);
        let mut fail = check_forces(setup, rep, last);
        if fail.is_some() && !last {
            // the energies of the failing step, as the shader reports them
            forces_any(setup, rep, split, true);
            fail = check_forces(setup, rep, true);
        }
        let ke2 = match split {
            None => {
                let mut ke2 = 0.0;
                for i in 0..setup.n {
                    ke2 += kick_one(setup, &kick, i, &mut rep.vel[i], rep.force[i]);
                }
                ke2
            }
            Some((work, parts)) => {
                // per particle in parallel, then summed in particle order as above
                let c = setup.n.div_ceil(*parts);
                work.ke.resize(setup.n, 0.0);
                let force = &rep.force;
                rep.vel
                    .par_chunks_mut(c)
                    .zip(work.ke.par_chunks_mut(c))
                    .enumerate()
                    .for_each(|(k, (v, e))| {
                        for (q, (v, e)) in v.iter_mut().zip(e).enumerate() {
                            let i = k * c + q;
                            *e = kick_one(setup, &kick, i, v, force[i]);
                        }
                    });
                let mut ke2 = 0.0;
                for e in &work.ke {
                    ke2 += e;
                }
                ke2
            }
        };
        let sc = nhc_scale(setup, &mut rep.thermo, ke2, kt);
        for v in rep.vel.iter_mut() {
            v[0] *= sc;
            v[1] *= sc;
        }
        rep.thermo.ke = 0.5 * (ke2 * sc * sc);
        if last || fail.is_some() {
            rep.thermo.pe = rep.pe.iter().sum();
        }
        if settle_failure(rep, fail, adv.step0 + s + 1) {
            return;
        }
    }
}

/// A range of particles' positions, velocities and image counts.
pub(super) type Moving<'a> = (&'a mut [[f64; 2]], &'a mut [[f64; 2]], &'a mut [[i32; 2]]);

/// The first half kick (after the thermostat's scaling `sc`) and the drift of particles `pos`, `vel`, `img`
/// (with their forces, reference positions and species); returns the largest squared displacement from the
/// reference positions.
#[inline(always)]
pub(super) fn kick_drift(
    setup: &MdSetup,
    (kick, sc): (&[f64], f64),
    (pos, vel, img): Moving,
    (force, xref, species): (&[[f64; 2]], &[[f64; 2]], &[u32]),
) -> f64 {
    let l = setup.box_l;
    let mut d2max: f64 = 0.0;
    for i in 0..pos.len() {
        let k = kick[species[i] as usize];
        let f = force[i];
        let v = &mut vel[i];
        v[0] *= sc;
        v[1] *= sc;
        v[0] += f[0] * k;
        v[1] += f[1] * k;
        let x = wrap(
            [pos[i][0] + v[0] * setup.dt, pos[i][1] + v[1] * setup.dt],
            &mut img[i],
            l,
        );
        pos[i] = x;
        let r = xref[i];
        let dd = min_image([x[0] - r[0], x[1] - r[1]], l);
        d2max = d2max.max(dd[0] * dd[0] + dd[1] * dd[1]);
    }
    d2max
}

/// The second half kick of particle i; returns its m v^2.
#[inline(always)]
pub(super) fn kick_one(
    setup: &MdSetup,
    kick: &[f64],
    i: usize,
    v: &mut [f64; 2],
    f: [f64; 2],
) -> f64 {
    let si = setup.species[i] as usize;
    let k = kick[si];
    v[0] += f[0] * k;
    v[1] += f[1] * k;
    setup.mass[si] * (v[0] * v[0] + v[1] * v[1])
}

/// The forces (and with `energies` the per-particle energies) on one thread or split.
pub(super) fn forces_any(setup: &MdSetup, rep: &mut CpuReplica, split: &mut Split, energies: bool) {
    match (split, energies) {
        (None, true) => forces::<true>(setup, rep),
        (None, false) => forces::<false>(setup, rep),
        (Some((work, parts)), true) => forces_split::<true>(setup, rep, work, *parts),
        (Some((work, parts)), false) => forces_split::<false>(setup, rep, work, *parts),
    }
}
