//! FIRE 2.0 on the CPU in f64: the iteration of md/shaders/md_fire.wgsl (same steps, same order), written once
//! and generic over the CPU engine. On the reference's lists (`RefFire`) it is `md_fire`'s twin, which the GPU
//! kernel is tested against; on the fast engine's (`CpuFire`, the default) it is the production CPU backend.
//! Parallel over replicas.

use rayon::prelude::*;

use super::{
    check_replicas, outcome, FireBackend, FireConfig, FireVars, Minima, Minimum, CONVERGED, FAILED,
};
use crate::error::Result;
use crate::md::cpu::HalfLists;
use crate::md::reference::{wrap, FullLists};
use crate::md::replica::{Engine, Replica};
use crate::md::{Failure, MdSetup, Replicas};

/// Twin of `fire_stats`: after a force evaluation, the sums the next iteration needs (E, F.F, F.v, max |F|^2).
fn fire_stats<L>(rep: &Replica<L>, st: &mut FireVars, e: f64) {
    let (mut f2, mut power, mut fmax2) = (0.0f64, 0.0f64, 0.0f64);
    for (f, v) in rep.force.iter().zip(&rep.vel) {
        let ff = f[0] * f[0] + f[1] * f[1];
        f2 += ff;
        power += f[0] * v[0] + f[1] * v[1];
        fmax2 = fmax2.max(ff);
    }
    st.pe = e;
    st.f2 = f2;
    st.power = power;
    st.fmax2 = fmax2;
}

/// Twin of `settle`: failure, then convergence, decide the replica's status.
fn settle<L>(cfg: &FireConfig, rep: &mut Replica<L>, st: &mut FireVars, fail: Option<Failure>) {
    if let Some(f) = fail {
        if rep.thermo.status == 0 {
            rep.thermo.status = f.status();
            rep.thermo.fail_step = st.iters as u64;
        }
        st.status = FAILED;
    } else if st.fmax2 < cfg.ftol * cfg.ftol {
        st.status = CONVERGED;
    }
}

/// Start of a minimisation (the host's md_forces dispatch plus `fire_stats`): lists, forces, at rest.
pub fn fire_start<L: Engine>(
    setup: &MdSetup,
    cfg: &FireConfig,
    rep: &mut Replica<L>,
    st: &mut FireVars,
) {
    rep.vel.iter_mut().for_each(|v| *v = [0.0; 2]);
    *st = FireVars::start(cfg);
    L::rebuild(setup, rep);
    let (e, fail) = L::compute_forces(setup, rep);
    rep.thermo.pe = e;
    fire_stats(rep, st, e);
    settle(cfg, rep, st, fail);
}

/// Twin of `md_fire` for one replica: up to `iters` FIRE 2.0 iterations (semi-implicit Euler, Guénolé et al.
/// 2020, Algorithm 2), stopping when the replica converged, failed or reached the cap.
pub fn md_fire<L: Engine>(
    setup: &MdSetup,
    cfg: &FireConfig,
    rep: &mut Replica<L>,
    st: &mut FireVars,
    iters: u32,
) {
    let l = setup.box_l;
    let limit = 0.25 * setup.skin * setup.skin;
    for _ in 0..iters {
        if !st.active(cfg) {
            return;
        }
        // adapt dt and alpha on the sign of the power; going uphill also steps half back and stops
        let uphill = st.power <= 0.0;
        if uphill {
            st.n_pos = 0;
            if st.iters >= cfg.n_delay {
                st.dt = (st.dt * cfg.f_dec).max(cfg.dt_min);
                st.alpha = cfg.alpha0;
            }
        } else {
            st.n_pos += 1;
            if st.n_pos > cfg.n_delay {
                st.dt = (st.dt * cfg.f_inc).min(cfg.dt_max);
                st.alpha *= cfg.f_alpha;
            }
        }
        let dt = st.dt;
        // FIRE 2.0 on an uphill step: half a step back and stop, then the kick from rest; then |v| for the mixing
        let mut v2 = 0.0;
        for i in 0..setup.n {
            let im = 1.0 / setup.mass[setup.species[i] as usize];
            let f = rep.force[i];
            let mut v = rep.vel[i];
            if uphill {
                rep.pos[i][0] -= 0.5 * dt * v[0];
                rep.pos[i][1] -= 0.5 * dt * v[1];
                v = [0.0; 2];
            }
            v[0] += f[0] * (im * dt);
            v[1] += f[1] * (im * dt);
            rep.vel[i] = v;
            v2 += v[0] * v[0] + v[1] * v[1];
        }
        let mix_v = 1.0 - st.alpha;
        let mix_f = if st.f2 > 0.0 {
            st.alpha * (v2 / st.f2).sqrt()
        } else {
            0.0
        };
        // mix, drift, wrap, and how far anyone moved since the list build
        let mut d2max: f64 = 0.0;
        for i in 0..setup.n {
            let f = rep.force[i];
            let old = rep.vel[i];
            let v = [mix_v * old[0] + mix_f * f[0], mix_v * old[1] + mix_f * f[1]];
            rep.vel[i] = v;
            let x = [rep.pos[i][0] + v[0] * dt, rep.pos[i][1] + v[1] * dt];
            rep.pos[i] = wrap(x, &mut rep.img[i], l);
            let r = rep.xref[i];
            let dd = [x[0] - r[0], x[1] - r[1]];
            let dd = [
                dd[0] - l * (dd[0] / l).round(),
                dd[1] - l * (dd[1] / l).round(),
            ];
            d2max = d2max.max(dd[0] * dd[0] + dd[1] * dd[1]);
        }
        if d2max > limit {
            L::rebuild(setup, rep);
        }
        let (e, fail) = L::compute_forces(setup, rep);
        rep.thermo.pe = e;
        st.iters += 1;
        fire_stats(rep, st, e);
        settle(cfg, rep, st, fail);
    }
}

/// A CPU backend on engine `L`: replicas minimised in parallel, each independently (so a replica's minimum does
/// not depend on its neighbours in the batch).
pub struct CpuFire<L = HalfLists> {
    pub setup: MdSetup,
    pub cfg: FireConfig,
    reps: Vec<(Replica<L>, FireVars)>,
}

/// FIRE on the reference's lists: the twin of `md_fire`.
pub type RefFire = CpuFire<FullLists>;

impl CpuFire {
    /// The production backend, on the fast engine.
    pub fn new(setup: MdSetup, cfg: FireConfig) -> Result<CpuFire> {
        Self::with_engine(setup, cfg)
    }
}

impl<L: Engine> CpuFire<L> {
    pub fn with_engine(setup: MdSetup, cfg: FireConfig) -> Result<CpuFire<L>> {
        L::check(&setup)?;
        cfg.check()?;
        Ok(CpuFire {
            setup,
            cfg,
            reps: Vec::new(),
        })
    }
}

impl<L: Engine> FireBackend for CpuFire<L> {
    fn upload(&mut self, r: &Replicas) -> Result<()> {
        let n = self.setup.n;
        check_replicas(n, r)?;
        let cfg = self.cfg;
        self.reps = (0..r.count())
            .map(|k| {
                let mut thermo = r.thermo[k];
                thermo.status = 0;
                (
                    Replica {
                        pos: r.pos[k * n..(k + 1) * n].to_vec(),
                        vel: vec![[0.0; 2]; n],
                        force: vec![[0.0; 2]; n],
                        pe: vec![0.0; n],
                        img: r.img[k * n..(k + 1) * n].to_vec(),
                        thermo,
                        ..Default::default()
                    },
                    FireVars::start(&cfg),
                )
            })
            .collect();
        let setup = &self.setup;
        self.reps
            .par_iter_mut()
            .for_each(|(rep, st)| fire_start(setup, &cfg, rep, st));
        Ok(())
    }

    fn iterate(&mut self, iters: u32) -> Result<usize> {
        let (setup, cfg) = (&self.setup, &self.cfg);
        self.reps
            .par_iter_mut()
            .for_each(|(rep, st)| md_fire(setup, cfg, rep, st, iters));
        Ok(self.reps.iter().filter(|(_, st)| st.active(cfg)).count())
    }

    fn download(&mut self) -> Result<Minima> {
        let n = self.setup.n;
        let mut out = Minima {
            replicas: Replicas {
                n,
                ..Default::default()
            },
            pe: Vec::with_capacity(n * self.reps.len()),
            minima: Vec::with_capacity(self.reps.len()),
        };
        for (rep, st) in &self.reps {
            out.replicas.pos.extend_from_slice(&rep.pos);
            out.replicas.vel.extend(std::iter::repeat_n([0.0; 2], n));
            out.replicas.img.extend_from_slice(&rep.img);
            out.replicas.thermo.push(rep.thermo);
            out.pe.extend_from_slice(&rep.pe);
            out.minima.push(Minimum {
                e_per_particle: st.pe / n as f64,
                fmax: st.fmax2.sqrt(),
                iterations: st.iters,
                outcome: outcome(st, rep.thermo.status),
            });
        }
        Ok(out)
    }
}
