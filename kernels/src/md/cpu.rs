//! CPU twins of `md_forces` and `md_step` in f64: the reference the GPU kernels are tested against and the
//! fallback without a GPU. Written to mirror the shaders (same steps, same order), parallel over replicas.

use rayon::prelude::*;

use super::{Advance, Cages, Failure, MdBackend, MdSetup, Replicas, Thermo, MAX_CHAIN};
use crate::error::Result;

/// One replica's arrays.
#[derive(Clone, Debug, Default)]
pub struct CpuReplica {
    pub pos: Vec<[f64; 2]>,
    pub vel: Vec<[f64; 2]>,
    pub force: Vec<[f64; 2]>,
    pub pe: Vec<f64>,
    pub img: Vec<[i32; 2]>,
    pub xref: Vec<[f64; 2]>,
    /// Half neighbour lists, compressed rows: particle i's neighbours j > i are nbr[start[i]..start[i+1]], sorted.
    pub start: Vec<u32>,
    pub nbr: Vec<u32>,
    pub thermo: Thermo,
    pub rebuilds: u64,
}

/// Minimum image of a separation between two wrapped positions (|d| < L): the same as the shader's
/// `d - L round(d / L)`, without the division and rounding that cost most in the CPU's inner loop.
#[inline]
fn min_image(d: [f64; 2], l: f64) -> [f64; 2] {
    let h = 0.5 * l;
    let fold = |x: f64| {
        if x > h {
            x - l
        } else if x < -h {
            x + l
        } else {
            x
        }
    };
    [fold(d[0]), fold(d[1])]
}

#[inline]
fn cell_of(x: [f64; 2], cell_size: f64, nc: u32) -> [u32; 2] {
    let c = |v: f64| ((v / cell_size).floor() as i64).clamp(0, nc as i64 - 1) as u32;
    [c(x[0]), c(x[1])]
}

/// Twin of `rebuild` in md_common.wgsl: cell binning, then each particle's sorted list within rc + skin.
/// One deliberate difference: the CPU keeps each pair once (j > i) and applies Newton's third law in
/// `compute_forces`, which halves its work; the sums equal the shader's up to rounding order.
pub fn rebuild(setup: &MdSetup, rep: &mut CpuReplica) {
    let n = setup.n;
    let l = setup.box_l;
    let nc = setup.cells_per_side();
    let cell_size = l / nc as f64;
    let ncell = (nc * nc) as usize;
    // counting sort by cell keeps particles in index order inside a cell
    let cell: Vec<usize> = rep
        .pos
        .iter()
        .map(|&x| {
            let c = cell_of(x, cell_size, nc);
            (c[1] * nc + c[0]) as usize
        })
        .collect();
    let mut head = vec![0u32; ncell + 1];
    for &c in &cell {
        head[c + 1] += 1;
    }
    for c in 0..ncell {
        head[c + 1] += head[c];
    }
    let mut fill = head.clone();
    let mut members = vec![0u32; n];
    for (i, &c) in cell.iter().enumerate() {
        members[fill[c] as usize] = i as u32;
        fill[c] += 1;
    }
    let span: u32 = if nc >= 3 { 3 } else { 1 };
    let back = span / 2;
    rep.start.clear();
    rep.nbr.clear();
    rep.start.push(0);
    let mut row: Vec<u32> = Vec::with_capacity(64);
    for i in 0..n {
        let xi = rep.pos[i];
        let si = setup.species[i];
        let c = cell_of(xi, cell_size, nc);
        row.clear();
        for dy in 0..span {
            let cy = (c[1] + nc + dy - back) % nc;
            for dx in 0..span {
                let cx = (c[0] + nc + dx - back) % nc;
                let ci = (cy * nc + cx) as usize;
                for &j in &members[head[ci] as usize..head[ci + 1] as usize] {
                    if j as usize <= i {
                        continue;
                    }
                    let xj = rep.pos[j as usize];
                    let d = min_image([xi[0] - xj[0], xi[1] - xj[1]], l);
                    let rl = setup.pair(si, setup.species[j as usize]).rl;
                    if d[0] * d[0] + d[1] * d[1] < rl * rl {
                        row.push(j);
                    }
                }
            }
        }
        row.sort_unstable();
        rep.nbr.extend_from_slice(&row);
        rep.start.push(rep.nbr.len() as u32);
    }
    rep.xref.clone_from(&rep.pos);
    rep.rebuilds += 1;
}

/// Twin of `compute_forces`: forces, per-particle energies (half of each pair); returns the energy sum and
/// the worst failure seen. Each pair is visited once and acts on both particles.
pub fn compute_forces(setup: &MdSetup, rep: &mut CpuReplica) -> (f64, Option<Failure>) {
    let l = setup.box_l;
    let n = setup.n;
    rep.force.iter_mut().for_each(|f| *f = [0.0; 2]);
    rep.pe.iter_mut().for_each(|e| *e = 0.0);
    for i in 0..n {
        let xi = rep.pos[i];
        let si = setup.species[i];
        let mut f = [0.0f64; 2];
        let mut e = 0.0;
        for &j in &rep.nbr[rep.start[i] as usize..rep.start[i + 1] as usize] {
            let j = j as usize;
            let xj = rep.pos[j];
            let d = min_image([xi[0] - xj[0], xi[1] - xj[1]], l);
            let r2 = d[0] * d[0] + d[1] * d[1];
            let p = setup.pair(si, setup.species[j]);
            if r2 < p.rc2 {
                let (fr, eij) = p.eval(r2);
                f[0] += fr * d[0];
                f[1] += fr * d[1];
                rep.force[j][0] -= fr * d[0];
                rep.force[j][1] -= fr * d[1];
                e += 0.5 * eij;
                rep.pe[j] += 0.5 * eij;
            }
        }
        rep.force[i][0] += f[0];
        rep.force[i][1] += f[1];
        rep.pe[i] += e;
    }
    let mut e_total = 0.0;
    let mut fail: Option<Failure> = None;
    for (f, &e) in rep.force.iter().zip(&rep.pe) {
        e_total += e;
        if !(f[0].is_finite() && f[1].is_finite() && e.is_finite()) {
            fail = Some(Failure::NonFinite);
        } else if f[0] * f[0] + f[1] * f[1] > setup.max_force * setup.max_force
            && fail != Some(Failure::NonFinite)
        {
            fail = Some(Failure::AbsurdForce);
        }
    }
    (e_total, fail)
}

fn settle_failure(rep: &mut CpuReplica, fail: Option<Failure>, step: u64) -> bool {
    if let Some(f) = fail {
        if rep.thermo.status == 0 {
            rep.thermo.status = f.status();
            rep.thermo.fail_step = step;
        }
    }
    rep.thermo.status != 0
}

/// Twin of `md_forces` for one replica.
pub fn md_forces(setup: &MdSetup, rep: &mut CpuReplica, step: u64) {
    rebuild(setup, rep);
    let (e, fail) = compute_forces(setup, rep);
    rep.thermo.pe = e;
    settle_failure(rep, fail, step);
}

/// Twin of `nhc_update`: half a Martyna-Tuckerman-Klein chain step; returns the velocity scale.
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

/// Twin of `nhc_half`: returns 2 KE after scaling.
pub fn nhc_half(setup: &MdSetup, rep: &mut CpuReplica, kt: f64) -> f64 {
    let mut ke2 = 0.0;
    for (v, &s) in rep.vel.iter().zip(&setup.species) {
        ke2 += setup.mass[s as usize] * (v[0] * v[0] + v[1] * v[1]);
    }
    // chain length 0 is plain NVE
    let sc = if setup.n_chain == 0 {
        1.0
    } else {
        nhc_update(setup, &mut rep.thermo, ke2, kt)
    };
    for v in rep.vel.iter_mut() {
        v[0] *= sc;
        v[1] *= sc;
    }
    ke2 * sc * sc
}

/// Twin of `md_step` for one replica: `adv.steps` steps.
pub fn md_step(setup: &MdSetup, rep: &mut CpuReplica, adv: &Advance) {
    let l = setup.box_l;
    let half_dt = 0.5 * setup.dt;
    let limit = 0.25 * setup.skin * setup.skin;
    for s in 0..adv.steps {
        if rep.thermo.status != 0 {
            return;
        }
        let kt = adv.segment.target_at(adv.seg_done + s + 1) * rep.thermo.t_scale;
        nhc_half(setup, rep, kt);
        let mut d2max: f64 = 0.0;
        for i in 0..setup.n {
            let im = 1.0 / setup.mass[setup.species[i] as usize];
            let f = rep.force[i];
            let v = &mut rep.vel[i];
            v[0] += f[0] * (im * half_dt);
            v[1] += f[1] * (im * half_dt);
            let mut x = [
                rep.pos[i][0] + v[0] * setup.dt,
                rep.pos[i][1] + v[1] * setup.dt,
            ];
            let w = &mut rep.img[i];
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
            rep.pos[i] = x;
            let r = rep.xref[i];
            let dd = min_image([x[0] - r[0], x[1] - r[1]], l);
            d2max = d2max.max(dd[0] * dd[0] + dd[1] * dd[1]);
        }
        if d2max > limit {
            rebuild(setup, rep);
        }
        let (e, fail) = compute_forces(setup, rep);
        for i in 0..setup.n {
            let im = 1.0 / setup.mass[setup.species[i] as usize];
            let f = rep.force[i];
            rep.vel[i][0] += f[0] * (im * half_dt);
            rep.vel[i][1] += f[1] * (im * half_dt);
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

/// The CPU backend: a vector of replicas advanced in parallel.
pub struct CpuMd {
    pub setup: MdSetup,
    pub reps: Vec<CpuReplica>,
    step: u64,
}

impl CpuMd {
    pub fn new(setup: MdSetup) -> Result<CpuMd> {
        setup.check()?;
        Ok(CpuMd {
            setup,
            reps: Vec::new(),
            step: 0,
        })
    }
}

impl MdBackend for CpuMd {
    fn upload(&mut self, r: &Replicas) -> Result<()> {
        let n = self.setup.n;
        if r.n != n {
            return Err(crate::error::KernelError::Input {
                kernel: "md_forces".into(),
                message: format!("replicas have {} particles, the setup {}", r.n, n),
            });
        }
        self.reps = (0..r.count())
            .map(|k| CpuReplica {
                pos: r.pos[k * n..(k + 1) * n].to_vec(),
                vel: r.vel[k * n..(k + 1) * n].to_vec(),
                force: vec![[0.0; 2]; n],
                pe: vec![0.0; n],
                img: r.img[k * n..(k + 1) * n].to_vec(),
                xref: Vec::new(),
                start: Vec::new(),
                nbr: Vec::new(),
                thermo: r.thermo[k],
                rebuilds: 0,
            })
            .collect();
        let setup = &self.setup;
        let step = self.step;
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
        let mut out = Replicas {
            n: self.setup.n,
            ..Default::default()
        };
        for rep in &self.reps {
            out.pos.extend_from_slice(&rep.pos);
            out.vel.extend_from_slice(&rep.vel);
            out.img.extend_from_slice(&rep.img);
            out.thermo.push(rep.thermo);
        }
        Ok(out)
    }

    fn forces(&mut self) -> Result<(Vec<[f64; 2]>, Vec<f64>)> {
        let mut f = Vec::new();
        let mut e = Vec::new();
        for rep in &self.reps {
            f.extend_from_slice(&rep.force);
            e.extend_from_slice(&rep.pe);
        }
        Ok((f, e))
    }

    fn crsd(&mut self, cages: &Cages) -> Result<Vec<f64>> {
        let n = self.setup.n;
        if cages.pos0.len() != n {
            return Err(crate::error::KernelError::Input {
                kernel: "md_crsd".into(),
                message: format!("cages of {} particles, the setup has {n}", cages.pos0.len()),
            });
        }
        let mut out = vec![0.0; n * self.reps.len()];
        let l = self.setup.box_l;
        out.par_chunks_mut(n.max(1))
            .zip(&self.reps)
            .for_each(|(o, rep)| md_crsd(l, &rep.pos, &rep.img, cages, o));
        Ok(out)
    }
}

/// Brute-force O(N^2) forces and per-particle energies of one configuration, the check on the cell path.
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
