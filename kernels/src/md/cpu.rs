//! CPU twins of `md_forces` and `md_step` in f64: the reference the GPU kernels are tested against and the
//! fallback without a GPU. Written to mirror the shaders (same steps, same order), parallel over replicas.

use rayon::prelude::*;

use super::{Advance, Cages, Failure, MdBackend, MdSetup, Pair, Replicas, Thermo, MAX_CHAIN};
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
    /// Half neighbour lists grouped by species: particle i's neighbours j > i of species s are
    /// nbr[start[i * ns + s]..start[i * ns + s + 1]], sorted by index (ns species; start has n * ns + 1 entries).
    pub start: Vec<u32>,
    pub nbr: Vec<u32>,
    /// Per list entry: the row's particle and the pair type (si * ns + sj), so the force loop runs over the whole
    /// list as one vector loop.
    pub owner: Vec<u32>,
    pub ptype: Vec<u32>,
    pub thermo: Thermo,
    pub rebuilds: u64,
}

/// Buffers the list build and the force loop reuse. They live per thread, not per replica (a replica needs them
/// only inside one call), so a thousand replicas cost no more than their lists; they only grow, so the step loop
/// allocates nothing once they have reached their size.
#[derive(Debug, Default)]
struct Work {
    cell: Vec<u32>,
    head: Vec<u32>,
    fill: Vec<u32>,
    members: Vec<u32>,
    /// Positions and species in cell order.
    cpos: Vec<[f64; 2]>,
    cspec: Vec<u32>,
    /// (rc + skin)^2 per species pair.
    rl2: Vec<f64>,
    /// One row's candidates while it is built: species << 32 | index.
    row: Vec<u64>,
    table: PairTable,
    /// Per list entry, the force loop's pair terms: F/r times the separation, and half the pair energy.
    terms: Vec<[f64; 2]>,
    halfe: Vec<f64>,
}

thread_local! {
    static WORK: std::cell::RefCell<Work> = std::cell::RefCell::new(Work::default());
}

/// Minimum image of a separation between two wrapped positions (|d| < L): the same as the shader's
/// `d - L round(d / L)`, without the division and rounding that cost most in the CPU's inner loop.
#[inline(always)]
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

/// The CPU's list skin: the setup's, or this much if that is more. The forces do not depend on the skin (see
/// `compute_forces`), so it is a speed setting only; on KAM N = 2000 at T = 0.8 a wider skin halves the
/// rebuilds (every 15 steps instead of 9) for 17 % longer lists (docs/md-cpu.md measures it).
pub const CPU_SKIN: f64 = 0.5;

/// The list skin the CPU twin builds with and rebuilds by.
pub fn cpu_skin(setup: &MdSetup) -> f64 {
    setup.skin.max(CPU_SKIN)
}

/// Cells per side for the CPU's list radius (as `MdSetup::cells_per_side` for the setup's).
fn cpu_cells_per_side(setup: &MdSetup) -> usize {
    let rl = setup.pairs.iter().map(|p| p.rc).fold(0.0, f64::max) + cpu_skin(setup);
    let nc = ((setup.box_l / rl).floor() as usize).min(32);
    if nc < 3 {
        1
    } else {
        nc
    }
}

#[inline]
fn cell_of(x: [f64; 2], cell_size: f64, nc: u32) -> [u32; 2] {
    let c = |v: f64| ((v / cell_size).floor() as i64).clamp(0, nc as i64 - 1) as u32;
    [c(x[0]), c(x[1])]
}

/// Twin of `rebuild` in md_common.wgsl: cell binning, then each particle's list within rc + skin (the CPU's skin,
/// `cpu_skin`).
/// Deliberate differences: the CPU keeps each pair once (j > i) and applies Newton's third law in
/// `compute_forces`, which halves its work, and groups each row by the neighbour's species (index order
/// inside a group) so the force loop runs over blocks with one set of pair constants. The sums equal the
/// shader's up to rounding order; which pairs beyond rc a list holds never changes a bit (see `compute_forces`).
pub fn rebuild(setup: &MdSetup, rep: &mut CpuReplica) {
    WORK.with_borrow_mut(|w| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F (checked just above).
                return unsafe { rebuild_avx512(setup, rep, w) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { rebuild_avx2(setup, rep, w) };
            }
        }
        rebuild_body(setup, rep, w)
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn rebuild_avx512(setup: &MdSetup, rep: &mut CpuReplica, w: &mut Work) {
    rebuild_body(setup, rep, w)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn rebuild_avx2(setup: &MdSetup, rep: &mut CpuReplica, w: &mut Work) {
    rebuild_body(setup, rep, w)
}

#[inline(always)]
fn rebuild_body(setup: &MdSetup, rep: &mut CpuReplica, w: &mut Work) {
    let CpuReplica {
        pos,
        xref,
        start,
        nbr,
        owner,
        ptype,
        rebuilds,
        ..
    } = rep;
    build_lists(setup, pos, (start, nbr, owner, ptype), w);
    xref.clone_from(pos);
    *rebuilds += 1;
}

#[inline(always)]
fn build_lists(
    setup: &MdSetup,
    pos: &[[f64; 2]],
    lists: (&mut Vec<u32>, &mut Vec<u32>, &mut Vec<u32>, &mut Vec<u32>),
    sc: &mut Work,
) {
    let (start, nbr, owner, ptype) = lists;
    let n = setup.n;
    let l = setup.box_l;
    let ns = setup.n_species();
    let nc = cpu_cells_per_side(setup);
    let cell_size = l / nc as f64;
    let ncell = nc * nc;
    // counting sort by cell (index order inside a cell), with positions and species copied in that order so
    // that the candidates of three neighbouring cells of a row are one contiguous run
    sc.cell.clear();
    sc.cell.extend(pos.iter().map(|&x| {
        let c = cell_of(x, cell_size, nc as u32);
        c[1] * nc as u32 + c[0]
    }));
    sc.head.clear();
    sc.head.resize(ncell + 1, 0);
    for &c in &sc.cell {
        sc.head[c as usize + 1] += 1;
    }
    for c in 0..ncell {
        sc.head[c + 1] += sc.head[c];
    }
    sc.fill.clone_from(&sc.head);
    sc.members.resize(n, 0);
    sc.cpos.resize(n, [0.0; 2]);
    sc.cspec.resize(n, 0);
    for (i, &c) in sc.cell.iter().enumerate() {
        let at = sc.fill[c as usize] as usize;
        sc.members[at] = i as u32;
        sc.cpos[at] = pos[i];
        sc.cspec[at] = setup.species[i];
        sc.fill[c as usize] += 1;
    }
    sc.rl2.clear();
    let skin = cpu_skin(setup);
    sc.rl2
        .extend(setup.pairs.iter().map(|p| (p.rc + skin) * (p.rc + skin)));
    start.clear();
    nbr.clear();
    owner.clear();
    ptype.clear();
    start.push(0);
    let mut runs = [(0usize, 0usize); 6];
    for (i, &xi) in pos.iter().enumerate() {
        let si = setup.species[i] as usize;
        let rl2 = &sc.rl2[si * ns..(si + 1) * ns];
        let c = sc.cell[i] as usize;
        // the stencil's cells as contiguous runs of the cell order: per row, one run, or two where it wraps
        let mut nruns = 0;
        if nc < 3 {
            runs[0] = (0, n);
            nruns = 1;
        } else {
            let (cx, cy) = (c % nc, c / nc);
            let x0 = (cx + nc - 1) % nc;
            for dy in 0..3 {
                let row = ((cy + nc + dy - 1) % nc) * nc;
                let h = |k: usize| sc.head[row + k] as usize;
                if x0 + 3 <= nc {
                    runs[nruns] = (h(x0), h(x0 + 3));
                    nruns += 1;
                } else {
                    runs[nruns] = (h(x0), h(nc));
                    runs[nruns + 1] = (h(0), h(x0 + 3 - nc));
                    nruns += 2;
                }
            }
        }
        let candidates: usize = runs[..nruns].iter().map(|r| r.1 - r.0).sum();
        if sc.row.len() < candidates + 1 {
            sc.row.resize(candidates + 1, 0);
        }
        // branch-free filter: every candidate is written, the count advances only for kept ones; the key sorts
        // a row by species, then index
        let mut cnt = 0;
        let row = &mut sc.row[..candidates + 1];
        for &(a, b) in &runs[..nruns] {
            for ((&j, &xj), &sj) in sc.members[a..b]
                .iter()
                .zip(&sc.cpos[a..b])
                .zip(&sc.cspec[a..b])
            {
                let d = min_image([xi[0] - xj[0], xi[1] - xj[1]], l);
                let keep = (j as usize > i) & (d[0] * d[0] + d[1] * d[1] < at(rl2, sj));
                debug_assert!(cnt < row.len());
                // SAFETY: cnt counts kept candidates so far, at most `candidates` < row.len().
                unsafe { *row.get_unchecked_mut(cnt) = ((sj as u64) << 32) | j as u64 };
                cnt += keep as usize;
            }
        }
        let row = &mut row[..cnt];
        row.sort_unstable();
        nbr.reserve(cnt);

        let mut k = 0;
        for s in 0..ns as u64 {
            while k < cnt && row[k] >> 32 == s {
                nbr.push(row[k] as u32);
                owner.push(i as u32);
                ptype.push((si * ns) as u32 + s as u32);
                k += 1;
            }
            start.push(nbr.len() as u32);
        }
    }
}

/// Per species pair (index si * ns + sj) the force loop's constants, hoisted out of it. The products are the
/// ones `Pair::eval` forms (sigma sigma, 24 eps, 4 eps, left to right), so each pair term is bit for bit
/// `Pair::eval`'s.
#[derive(Clone, Debug, Default)]
struct PairTable {
    s2: Vec<f64>,
    eps24: Vec<f64>,
    eps4: Vec<f64>,
    fc: Vec<f64>,
    ec: Vec<f64>,
    rc: Vec<f64>,
    rc2: Vec<f64>,
}

impl PairTable {
    fn fill(&mut self, pairs: &[Pair]) {
        let col = |v: &mut Vec<f64>, f: &dyn Fn(&Pair) -> f64| {
            v.clear();
            v.extend(pairs.iter().map(f));
        };
        col(&mut self.s2, &|p| p.sigma * p.sigma);
        col(&mut self.eps24, &|p| 24.0 * p.eps);
        col(&mut self.eps4, &|p| 4.0 * p.eps);
        col(&mut self.fc, &|p| p.fc);
        col(&mut self.ec, &|p| p.ec);
        col(&mut self.rc, &|p| p.rc);
        col(&mut self.rc2, &|p| p.rc2);
    }
}

/// `*v.get_unchecked(k)` for the force loop's gathers, whose indices `rebuild` bounds (see there).
#[inline(always)]
fn at<T: Copy>(v: &[T], k: u32) -> T {
    debug_assert!((k as usize) < v.len());
    // SAFETY: every caller passes an index that `rebuild` wrote or read from the setup: a particle index < n
    // (the length of pos), a pair type si * ns + sj < ns * ns (the length of the pair table's columns) or a
    // species < ns (the length of a row of rl2); `MdSetup::check` bounds the species.
    unsafe { *v.get_unchecked(k as usize) }
}

/// Pass 1 of the force loop: every listed pair's term (F/r times the separation, and with `E` half the pair
/// energy), zero beyond rc, in list order. One long loop without branches or sums across pairs, so the
/// compiler vectorises it (gathers of positions and pair constants).
#[inline(always)]
fn pair_terms<const E: bool>(
    pos: &[[f64; 2]],
    l: f64,
    k: &PairTable,
    list: (&[u32], &[u32], &[u32]),
    terms: &mut [[f64; 2]],
    halfe: &mut [f64],
) {
    let (owner, nbr, ptype) = list;
    let m = nbr.len();
    let (owner, ptype, terms) = (&owner[..m], &ptype[..m], &mut terms[..m]);
    let halfe = &mut halfe[..if E { m } else { 0 }];
    for q in 0..m {
        let xi = at(pos, owner[q]);
        let xj = at(pos, nbr[q]);
        let t = ptype[q];
        let d = min_image([xi[0] - xj[0], xi[1] - xj[1]], l);
        let r2 = d[0] * d[0] + d[1] * d[1];
        // one square root and one division per pair, as in Pair::eval
        let rinv = 1.0 / r2.sqrt();
        let inv2 = rinv * rinv;
        let sr2 = at(&k.s2, t) * inv2;
        let sr6 = sr2 * sr2 * sr2;
        let sr12 = sr6 * sr6;
        let inside = r2 < at(&k.rc2, t);
        let fc = at(&k.fc, t);
        let fr = at(&k.eps24, t) * inv2 * (2.0 * sr12 - sr6) + fc * rinv;
        let fr = if inside { fr } else { 0.0 };
        terms[q] = [fr * d[0], fr * d[1]];
        if E {
            let rr = r2 * rinv;
            let e = at(&k.eps4, t) * (sr12 - sr6) - at(&k.ec, t) - (rr - at(&k.rc, t)) * fc;
            halfe[q] = if inside { 0.5 * e } else { 0.0 };
        }
    }
}

/// The force loop. Pass 1 computes every pair's term (`pair_terms`); pass 2 sums them row by row in particle
/// order, each row in list order (species, then index), on i and (Newton's third law) on j. A pair beyond rc
/// adds an exact zero, which leaves every sum's bits alone, so the result depends only on the positions: not
/// on when the lists were built or which pairs beyond rc they hold (a resumed run rebuilds them at another
/// step).
#[inline(always)]
fn forces_body<const E: bool>(setup: &MdSetup, rep: &mut CpuReplica, sc: &mut Work) {
    let CpuReplica {
        pos,
        force,
        pe,
        start,
        nbr,
        owner,
        ptype,
        ..
    } = rep;
    let m = nbr.len();
    sc.table.fill(&setup.pairs);
    sc.terms.resize(m, [0.0; 2]);
    sc.halfe.resize(m, 0.0);
    pair_terms::<E>(
        pos,
        setup.box_l,
        &sc.table,
        (owner, nbr, ptype),
        &mut sc.terms,
        &mut sc.halfe,
    );
    sum_terms::<E>(setup, force, pe, start, nbr, sc);
}

/// Pass 2 of the force loop: the pair terms summed row by row in particle order, each row in list order, on i
/// and (Newton's third law) on j.
#[inline(always)]
fn sum_terms<const E: bool>(
    setup: &MdSetup,
    force: &mut [[f64; 2]],
    pe: &mut [f64],
    start: &[u32],
    nbr: &[u32],
    sc: &Work,
) {
    let ns = setup.n_species();
    force.iter_mut().for_each(|f| *f = [0.0; 2]);
    if E {
        pe.iter_mut().for_each(|e| *e = 0.0);
    }
    for i in 0..setup.n {
        let (a, b) = (start[i * ns] as usize, start[(i + 1) * ns] as usize);
        let mut f = [0.0f64; 2];
        let mut e = 0.0;
        for (q, &j) in nbr[a..b].iter().enumerate() {
            let g = sc.terms[a + q];
            f[0] += g[0];
            f[1] += g[1];
            let fj = &mut force[j as usize];
            fj[0] -= g[0];
            fj[1] -= g[1];
            if E {
                e += sc.halfe[a + q];
                pe[j as usize] += sc.halfe[a + q];
            }
        }
        force[i][0] += f[0];
        force[i][1] += f[1];
        if E {
            pe[i] += e;
        }
    }
}

/// `forces_body` compiled for the best vector unit the CPU has (same operations, so the same bits on each).
fn forces<const E: bool>(setup: &MdSetup, rep: &mut CpuReplica) {
    WORK.with_borrow_mut(|w| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F (checked just above).
                return unsafe { forces_avx512::<E>(setup, rep, w) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { forces_avx2::<E>(setup, rep, w) };
            }
        }
        forces_body::<E>(setup, rep, w)
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn forces_avx512<const E: bool>(setup: &MdSetup, rep: &mut CpuReplica, w: &mut Work) {
    forces_body::<E>(setup, rep, w)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn forces_avx2<const E: bool>(setup: &MdSetup, rep: &mut CpuReplica, w: &mut Work) {
    forces_body::<E>(setup, rep, w)
}

/// The worst failure among the forces (and, with energies, the per-particle energies).
fn check_forces(setup: &MdSetup, rep: &CpuReplica, energies: bool) -> Option<Failure> {
    let mut fail: Option<Failure> = None;
    let max2 = setup.max_force * setup.max_force;
    for (i, f) in rep.force.iter().enumerate() {
        let e_ok = !energies || rep.pe[i].is_finite();
        if !(f[0].is_finite() && f[1].is_finite() && e_ok) {
            return Some(Failure::NonFinite);
        } else if f[0] * f[0] + f[1] * f[1] > max2 {
            fail = Some(Failure::AbsurdForce);
        }
    }
    fail
}

/// Twin of `compute_forces`: forces, per-particle energies (half of each pair); returns the energy sum and
/// the worst failure seen. Each pair is visited once and acts on both particles.
pub fn compute_forces(setup: &MdSetup, rep: &mut CpuReplica) -> (f64, Option<Failure>) {
    forces::<true>(setup, rep);
    let e_total = rep.pe.iter().sum();
    (e_total, check_forces(setup, rep, true))
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

/// 2 KE of the velocities (particle order).
fn ke2_of(setup: &MdSetup, vel: &[[f64; 2]]) -> f64 {
    let mut ke2 = 0.0;
    for (v, &s) in vel.iter().zip(&setup.species) {
        ke2 += setup.mass[s as usize] * (v[0] * v[0] + v[1] * v[1]);
    }
    ke2
}

/// The chain's half step from 2 KE `ke2` (chain length 0 is plain NVE): the velocity scale.
fn nhc_scale(setup: &MdSetup, th: &mut Thermo, ke2: f64, kt: f64) -> f64 {
    if setup.n_chain == 0 {
        1.0
    } else {
        nhc_update(setup, th, ke2, kt)
    }
}

/// Twin of `nhc_half`: returns 2 KE after scaling.
pub fn nhc_half(setup: &MdSetup, rep: &mut CpuReplica, kt: f64) -> f64 {
    let ke2 = ke2_of(setup, &rep.vel);
    let sc = nhc_scale(setup, &mut rep.thermo, ke2, kt);
    for v in rep.vel.iter_mut() {
        v[0] *= sc;
        v[1] *= sc;
    }
    ke2 * sc * sc
}

/// Twin of `md_step` for one replica: `adv.steps` steps. The shader's passes are fused where that changes no
/// bit (the thermostat's velocity scaling into the kick, the kinetic energy into the second kick), and the
/// energies, which no step needs, are evaluated on the call's last step only (and on a failing step).
pub fn md_step(setup: &MdSetup, rep: &mut CpuReplica, adv: &Advance) {
    let l = setup.box_l;
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
        let mut d2max: f64 = 0.0;
        for i in 0..setup.n {
            let k = kick[setup.species[i] as usize];
            let f = rep.force[i];
            let v = &mut rep.vel[i];
            v[0] *= sc;
            v[1] *= sc;
            v[0] += f[0] * k;
            v[1] += f[1] * k;
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
        let last = s + 1 == adv.steps;
        if last {
            forces::<true>(setup, rep);
        } else {
            forces::<false>(setup, rep);
        }
        let mut fail = check_forces(setup, rep, last);
        if fail.is_some() && !last {
            // the energies of the failing step, as the shader reports them
            forces::<true>(setup, rep);
            fail = check_forces(setup, rep, true);
        }
        let mut ke2 = 0.0;
        for i in 0..setup.n {
            let si = setup.species[i] as usize;
            let k = kick[si];
            let f = rep.force[i];
            let v = &mut rep.vel[i];
            v[0] += f[0] * k;
            v[1] += f[1] * k;
            ke2 += setup.mass[si] * (v[0] * v[0] + v[1] * v[1]);
        }
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
                owner: Vec::new(),
                ptype: Vec::new(),
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
