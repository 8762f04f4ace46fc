//! The MD reference: plain scalar f64 twins of `md_forces`, `md_step` and `md_crsd` that mirror the shaders step
//! for step (full neighbour lists in index order, built from cells as md_common.wgsl builds them; the same force,
//! velocity Verlet, Nose-Hoover chain and failure flags), and `RefMd`, the backend that runs them. The GPU kernels
//! are tested against it, and so is the fast CPU engine (`md::cpu`), the production path. Written to be read, not
//! to be fast: one replica a thread, no vector code.

use rayon::prelude::*;

use super::replica::{self, settle_failure, Engine, Replica};
use super::{Advance, Cages, Failure, MdBackend, MdSetup, Replicas, Thermo, MAX_CHAIN};
use crate::error::Result;

/// Full neighbour lists: particle i's are `nbr[start[i]..start[i + 1]]`, every j != i within its pair's list
/// radius rc + skin, in index order.
#[derive(Clone, Debug, Default)]
pub struct FullLists {
    pub start: Vec<u32>,
    pub nbr: Vec<u32>,
}

/// A replica on the reference's lists.
pub type RefReplica = Replica<FullLists>;

impl Engine for FullLists {
    fn rebuild(setup: &MdSetup, rep: &mut RefReplica) {
        rebuild(setup, rep)
    }
    fn compute_forces(setup: &MdSetup, rep: &mut RefReplica) -> (f64, Option<Failure>) {
        compute_forces(setup, rep)
    }
}

/// Twin of `min_image` in md_common.wgsl.
pub fn min_image(d: [f64; 2], l: f64) -> [f64; 2] {
    [d[0] - l * (d[0] / l).round(), d[1] - l * (d[1] / l).round()]
}

fn sub(a: [f64; 2], b: [f64; 2]) -> [f64; 2] {
    [a[0] - b[0], a[1] - b[1]]
}

/// Twin of `cell_of` in md_common.wgsl: the (x, y) cell of a position, clamped into the grid.
fn cell_of(x: [f64; 2], cell_size: f64, nc: usize) -> [usize; 2] {
    x.map(|v| ((v / cell_size).floor() as i64).clamp(0, nc as i64 - 1) as usize)
}

/// Twin of `rebuild` in md_common.wgsl: the particles binned into cells in index order (the order the shader's
/// sort leaves each cell in), then each particle's list merged in index order from the 3 x 3 stencil of cells
/// around it (one cell holding all when fewer than three fit across the box), keeping every j != i within its
/// pair's list radius. The positions it was built at become the reference positions.
pub fn rebuild(setup: &MdSetup, rep: &mut RefReplica) {
    let (n, l) = (setup.n, setup.box_l);
    let nc = setup.cells_per_side() as usize;
    let cell_size = l / nc as f64;
    let mut cells: Vec<Vec<u32>> = vec![Vec::new(); nc * nc];
    for (i, &x) in rep.pos.iter().enumerate() {
        let c = cell_of(x, cell_size, nc);
        cells[c[1] * nc + c[0]].push(i as u32);
    }
    let span = if nc >= 3 { 3 } else { 1 };
    let lists = &mut rep.lists;
    lists.start.clear();
    lists.nbr.clear();
    lists.start.push(0);
    for i in 0..n {
        let xi = rep.pos[i];
        let c = cell_of(xi, cell_size, nc);
        let mut candidates: Vec<u32> = Vec::new();
        for k in 0..span * span {
            let cy = (c[1] + nc + k / span - span / 2) % nc;
            let cx = (c[0] + nc + k % span - span / 2) % nc;
            candidates.extend(&cells[cy * nc + cx]);
        }
        // the shader's merge of sorted cells: index order
        candidates.sort_unstable();
        let si = setup.species[i];
        for j in candidates {
            let d = min_image(sub(xi, rep.pos[j as usize]), l);
            let rl = setup.pair(si, setup.species[j as usize]).rl;
            if j as usize != i && d[0] * d[0] + d[1] * d[1] < rl * rl {
                lists.nbr.push(j);
            }
        }
        lists.start.push(lists.nbr.len() as u32);
    }
    rep.xref.clone_from(&rep.pos);
    rep.rebuilds += 1;
}

/// Twin of `compute_forces` in md_common.wgsl: each particle's force and half of each pair's energy (`Pair::eval`
/// in the pair's form, zero beyond rc), summed over its list; returns the total energy (particle order) and the
/// failure the shader flags: the larger code over the particles, so an absurd force outranks a non-finite value.
pub fn compute_forces(setup: &MdSetup, rep: &mut RefReplica) -> (f64, Option<Failure>) {
    let l = setup.box_l;
    let max2 = setup.max_force * setup.max_force;
    let mut total = 0.0;
    let mut code = 0;
    for i in 0..setup.n {
        let xi = rep.pos[i];
        let (mut f, mut e) = ([0.0f64; 2], 0.0f64);
        let (a, b) = (rep.lists.start[i] as usize, rep.lists.start[i + 1] as usize);
        for &j in &rep.lists.nbr[a..b] {
            let d = min_image(sub(xi, rep.pos[j as usize]), l);
            let pair = setup.pair(setup.species[i], setup.species[j as usize]);
            let (fr, eij) = pair.eval(d[0] * d[0] + d[1] * d[1]);
            f = [f[0] + fr * d[0], f[1] + fr * d[1]];
            e += eij;
        }
        rep.force[i] = f;
        rep.pe[i] = 0.5 * e;
        total += 0.5 * e;
        let seen = if !(f[0].is_finite() && f[1].is_finite() && e.is_finite()) {
            Failure::NonFinite.status()
        } else if f[0] * f[0] + f[1] * f[1] > max2 {
            Failure::AbsurdForce.status()
        } else {
            0
        };
        code = code.max(seen);
    }
    (total, Failure::from_status(code))
}

/// Twin of md_forces.wgsl for one replica: lists, forces and energy once, a failure recorded at `step`.
pub fn md_forces(setup: &MdSetup, rep: &mut RefReplica, step: u64) {
    rebuild(setup, rep);
    let (e, fail) = compute_forces(setup, rep);
    rep.thermo.pe = e;
    settle_failure(rep, fail, step);
}

/// Twin of `nhc_update` in md_step.wgsl: half a Martyna-Tuckerman-Klein chain step from 2 KE `ke2_in` at target
/// kT `kt`; returns the velocity scale.
pub fn nhc_update(setup: &MdSetup, th: &mut Thermo, ke2_in: f64, kt: f64) -> f64 {
    let m = setup.n_chain;
    let dt = setup.dt;
    let (dt2, dt4, dt8) = (0.5 * dt, 0.25 * dt, 0.125 * dt);
    let tau2 = setup.tau_t * setup.tau_t;
    let n_dof = setup.n_dof();
    let mut q = [0.0; MAX_CHAIN];
    let mut g = [0.0; MAX_CHAIN];
    q[0] = n_dof * kt * tau2;
    for qj in q.iter_mut().take(m).skip(1) {
        *qj = kt * tau2;
    }
    let mut ke2 = ke2_in;
    g[0] = (ke2 - n_dof * kt) / q[0];
    for j in 1..m {
        g[j] = (q[j - 1] * th.veta[j - 1] * th.veta[j - 1] - kt) / q[j];
    }
    th.veta[m - 1] += g[m - 1] * dt4;
    for j in (0..m.saturating_sub(1)).rev() {
        let aa = (-th.veta[j + 1] * dt8).exp();
        th.veta[j] = (th.veta[j] * aa + g[j] * dt4) * aa;
    }
    let scale = (-th.veta[0] * dt2).exp();
    ke2 *= scale * scale;
    for j in 0..m {
        th.eta[j] += th.veta[j] * dt2;
    }
    g[0] = (ke2 - n_dof * kt) / q[0];
    for j in 0..m - 1 {
        let aa = (-th.veta[j + 1] * dt8).exp();
        th.veta[j] = (th.veta[j] * aa + g[j] * dt4) * aa;
        g[j + 1] = (q[j] * th.veta[j] * th.veta[j] - kt) / q[j + 1];
    }
    th.veta[m - 1] += g[m - 1] * dt4;
    scale
}

/// Twin of `nhc_half` in md_step.wgsl: 2 KE, the chain's half step (none for a chain of length 0, plain NVE), the
/// velocities scaled; returns 2 KE after scaling.
pub fn nhc_half(setup: &MdSetup, rep: &mut RefReplica, kt: f64) -> f64 {
    let mut ke2 = 0.0;
    for (v, &s) in rep.vel.iter().zip(&setup.species) {
        ke2 += setup.mass[s as usize] * (v[0] * v[0] + v[1] * v[1]);
    }
    let sc = if setup.n_chain == 0 {
        1.0
    } else {
        nhc_update(setup, &mut rep.thermo, ke2, kt)
    };
    for v in rep.vel.iter_mut() {
        *v = [v[0] * sc, v[1] * sc];
    }
    ke2 * sc * sc
}

/// Twin of `drift_wrap` in md_common.wgsl: a drifted position folded back into the box [0, L)^2 (at most one box
/// length away), the image counts updated.
pub fn wrap(mut x: [f64; 2], w: &mut [i32; 2], l: f64) -> [f64; 2] {
    for a in 0..2 {
        if x[a] >= l {
            x[a] -= l;
            w[a] += 1;
        }
        if x[a] < 0.0 {
            x[a] += l;
            w[a] -= 1;
        }
    }
    x
}

/// Twin of md_step.wgsl for one replica: `adv.steps` velocity-Verlet steps between the chain's half steps, the
/// target temperature ramping over the segment, the lists rebuilt once a particle has moved half the skin since
/// the last build, stopping at a failure.
pub fn md_step(setup: &MdSetup, rep: &mut RefReplica, adv: &Advance) {
    let (l, dt) = (setup.box_l, setup.dt);
    let half_dt = 0.5 * dt;
    let limit = 0.25 * setup.skin * setup.skin;
    let im = |i: usize| 1.0 / setup.mass[setup.species[i] as usize];
    for s in 0..adv.steps {
        if rep.thermo.status != 0 {
            return;
        }
        let kt = adv.segment.target_at(adv.seg_done + s + 1) * rep.thermo.t_scale;
        nhc_half(setup, rep, kt);
        // kick, drift, wrap into the box, and how far anyone moved since the last list build
        let mut d2max: f64 = 0.0;
        for i in 0..setup.n {
            let (f, v) = (rep.force[i], rep.vel[i]);
            let v = [
                v[0] + f[0] * (im(i) * half_dt),
                v[1] + f[1] * (im(i) * half_dt),
            ];
            rep.vel[i] = v;
            let x = [rep.pos[i][0] + v[0] * dt, rep.pos[i][1] + v[1] * dt];
            rep.pos[i] = wrap(x, &mut rep.img[i], l);
            let dd = min_image(sub(rep.pos[i], rep.xref[i]), l);
            d2max = d2max.max(dd[0] * dd[0] + dd[1] * dd[1]);
        }
        if d2max > limit {
            rebuild(setup, rep);
        }
        let (e, fail) = compute_forces(setup, rep);
        for i in 0..setup.n {
            let (f, v) = (rep.force[i], rep.vel[i]);
            rep.vel[i] = [
                v[0] + f[0] * (im(i) * half_dt),
                v[1] + f[1] * (im(i) * half_dt),
            ];
        }
        let ke2 = nhc_half(setup, rep, kt);
        rep.thermo.ke = 0.5 * ke2;
        rep.thermo.pe = e;
        if settle_failure(rep, fail, adv.step0 + s + 1) {
            return;
        }
    }
}

/// Twin of md_crsd.wgsl for one replica (`pos`, `img` of its n = `out.len()` particles; the box side in f64):
/// out[i] = |d_i - mean of d over i and its cage|^2, d the displacement unwrapped by the image counts, summed in
/// the shader's order.
pub fn md_crsd(box_l: f64, pos: &[[f64; 2]], img: &[[i32; 2]], cages: &Cages, out: &mut [f64]) {
    let l = box_l;
    let d = |j: usize| {
        [
            pos[j][0] + img[j][0] as f64 * l - cages.pos0[j][0],
            pos[j][1] + img[j][1] as f64 * l - cages.pos0[j][1],
        ]
    };
    for (i, o) in out.iter_mut().enumerate() {
        let di = d(i);
        let mut m = di;
        let start = if i > 0 { cages.cage_end[i - 1] } else { 0 } as usize;
        let end = cages.cage_end[i] as usize;
        for &j in &cages.cage[start..end] {
            let dj = d(j as usize);
            m[0] += dj[0];
            m[1] += dj[1];
        }
        let k = (end - start + 1) as f64;
        let (dx, dy) = (di[0] - m[0] / k, di[1] - m[1] / k);
        *o = dx * dx + dy * dy;
    }
}

/// Brute-force O(N^2) forces and per-particle energies of one configuration: no lists at all, the check on both
/// engines' list paths.
pub fn brute_force(setup: &MdSetup, pos: &[[f64; 2]]) -> (Vec<[f64; 2]>, Vec<f64>) {
    let n = pos.len();
    let mut f = vec![[0.0; 2]; n];
    let mut e = vec![0.0; n];
    for i in 0..n {
        for j in 0..n {
            if i == j {
                continue;
            }
            let l = setup.box_l;
            let d = [pos[i][0] - pos[j][0], pos[i][1] - pos[j][1]];
            let d = [d[0] - l * (d[0] / l).round(), d[1] - l * (d[1] / l).round()];
            let (fr, eij) = setup
                .pair(setup.species[i], setup.species[j])
                .eval(d[0] * d[0] + d[1] * d[1]);
            f[i][0] += fr * d[0];
            f[i][1] += fr * d[1];
            e[i] += 0.5 * eij;
        }
    }
    (f, e)
}

/// The reference backend: replicas stepped by the twins above, in parallel over replicas.
pub struct RefMd {
    pub setup: MdSetup,
    pub reps: Vec<RefReplica>,
    step: u64,
}

impl RefMd {
    pub fn new(setup: MdSetup) -> Result<RefMd> {
        setup.check()?;
        Ok(RefMd {
            setup,
            reps: Vec::new(),
            step: 0,
        })
    }
}

impl MdBackend for RefMd {
    fn upload(&mut self, r: &Replicas) -> Result<()> {
        self.reps = replica::load(&self.setup, r)?;
        let (setup, step) = (&self.setup, self.step);
        self.reps
            .par_iter_mut()
            .for_each(|rep| md_forces(setup, rep, step));
        Ok(())
    }

    fn advance(&mut self, adv: &Advance) -> Result<()> {
        let setup = &self.setup;
        self.reps
            .par_iter_mut()
            .for_each(|rep| md_step(setup, rep, adv));
        self.step = adv.step0 + adv.steps;
        Ok(())
    }

    fn download(&mut self) -> Result<Replicas> {
        Ok(replica::gather(self.setup.n, &self.reps))
    }

    fn thermo(&mut self) -> Result<Vec<Thermo>> {
        Ok(self.reps.iter().map(|r| r.thermo).collect())
    }

    fn forces(&mut self) -> Result<(Vec<[f64; 2]>, Vec<f64>)> {
        Ok(replica::forces(&self.reps))
    }

    fn crsd(&mut self, cages: &Cages) -> Result<Vec<f64>> {
        replica::crsd(&self.setup, &self.reps, cages)
    }
}
