//! One replica of the fast engine split over threads (for fewer replicas than threads): the list rows built in
//! parallel ranges and joined in particle order, and the force loop's sums gathered per particle in the order
//! the one-thread loop scatters them, so the bits do not depend on the split.

use rayon::prelude::*;

use super::forces::{pair_terms_isa, PairTable};
use super::lists::{build_rows_isa, Grid};
use super::{CpuReplica, HalfLists, Isa};
use crate::md::MdSetup;

/// What splitting one replica over threads needs besides the replica: the cells, per part its rows of the lists
/// while they are built, the pair terms of the whole list, and the incoming pairs of each particle.
#[derive(Debug, Default)]
pub struct SplitWork {
    grid: Grid,
    parts: Vec<PartLists>,
    table: PairTable,
    terms: Vec<[f64; 2]>,
    halfe: Vec<f64>,
    /// Per particle j, the list entries of rows i < j that hold j, in row order:
    /// in_q[in_start[j]..in_start[j + 1]]; built for the lists of rebuild number `in_of`.
    in_start: Vec<u32>,
    in_fill: Vec<u32>,
    in_q: Vec<u32>,
    in_of: Option<u64>,
    /// Per particle, m v^2 after the second kick.
    pub(super) ke: Vec<f64>,
}

/// One part's rows of the lists, as `CpuReplica` holds them (without the leading 0 of `start`).
#[derive(Debug, Default)]
pub(super) struct PartLists {
    row: Vec<u64>,
    start: Vec<u32>,
    nbr: Vec<u32>,
    owner: Vec<u32>,
    ptype: Vec<u32>,
}

/// `rebuild` with the rows built in `parts` parallel ranges and joined in particle order: the same lists.
pub(super) fn rebuild_split(
    setup: &MdSetup,
    rep: &mut CpuReplica,
    work: &mut SplitWork,
    parts: usize,
) {
    let n = setup.n;
    let isa = Isa::detect();
    work.grid.bin(setup, &rep.pos);
    work.parts.resize_with(parts, Default::default);
    let c = n.div_ceil(parts);
    let (grid, pos) = (&work.grid, &rep.pos);
    work.parts.par_iter_mut().enumerate().for_each(|(k, p)| {
        p.start.clear();
        p.nbr.clear();
        p.owner.clear();
        p.ptype.clear();
        let rows = (k * c).min(n)..((k + 1) * c).min(n);
        let lists = (&mut p.start, &mut p.nbr, &mut p.owner, &mut p.ptype);
        build_rows_isa(setup, pos, rows, (grid, &mut p.row), lists, isa);
    });
    rep.lists.start.clear();
    rep.lists.nbr.clear();
    rep.lists.owner.clear();
    rep.lists.ptype.clear();
    rep.lists.start.push(0);
    for p in &work.parts {
        let off = rep.lists.nbr.len() as u32;
        rep.lists.start.extend(p.start.iter().map(|s| s + off));
        rep.lists.nbr.extend_from_slice(&p.nbr);
        rep.lists.owner.extend_from_slice(&p.owner);
        rep.lists.ptype.extend_from_slice(&p.ptype);
    }
    rep.xref.clone_from(&rep.pos);
    rep.rebuilds += 1;
}

/// The incoming pairs of each particle for the replica's current lists: a counting sort of the list entries by
/// neighbour, stable, so each particle's entries come in row order.
pub(super) fn incoming(n: usize, rep: &CpuReplica, work: &mut SplitWork) {
    let w = work;
    w.in_start.clear();
    w.in_start.resize(n + 1, 0);
    for &j in &rep.lists.nbr {
        w.in_start[j as usize + 1] += 1;
    }
    for j in 0..n {
        w.in_start[j + 1] += w.in_start[j];
    }
    w.in_fill.clone_from(&w.in_start);
    w.in_q.resize(rep.lists.nbr.len(), 0);
    for (q, &j) in rep.lists.nbr.iter().enumerate() {
        let at = &mut w.in_fill[j as usize];
        w.in_q[*at as usize] = q as u32;
        *at += 1;
    }
    w.in_of = Some(rep.rebuilds);
}

/// The force loop split over `parts` tasks: pass 1 (`pair_terms`) over ranges of the list; pass 2 per range of
/// particles, each particle gathering what `sum_terms` scatters to it, in the same order: first the terms of
/// the rows i < j that hold it (subtracted, in row order, from 0), then its own row's sum (added). Each
/// particle's result is a function of the list alone, so it does not depend on the split.
pub(super) fn forces_split<const E: bool>(
    setup: &MdSetup,
    rep: &mut CpuReplica,
    work: &mut SplitWork,
    parts: usize,
) {
    let n = setup.n;
    if work.in_of != Some(rep.rebuilds) || work.in_start.len() != n + 1 {
        incoming(n, rep, work);
    }
    let isa = Isa::detect();
    let m = rep.lists.nbr.len();
    work.table.fill(&setup.pairs);
    work.terms.resize(m, [0.0; 2]);
    work.halfe.resize(m, 0.0);
    let CpuReplica {
        pos,
        force,
        pe,
        lists:
            HalfLists {
                start,
                nbr,
                owner,
                ptype,
            },
        ..
    } = rep;
    let (l, table) = (setup.box_l, &work.table);
    let c = m.div_ceil(parts).max(1);
    work.terms
        .par_chunks_mut(c)
        .zip(work.halfe.par_chunks_mut(c))
        .enumerate()
        .for_each(|(k, (t, h))| {
            let r = k * c..k * c + t.len();
            let list = (&owner[r.clone()], &nbr[r.clone()], &ptype[r]);
            pair_terms_isa::<E>(isa, pos, l, table, list, t, h);
        });
    let ns = setup.n_species();
    let c = n.div_ceil(parts);
    let w = &*work;
    force
        .par_chunks_mut(c)
        .zip(pe.par_chunks_mut(c))
        .enumerate()
        .for_each(|(k, (f, e))| {
            for (q, (f, e)) in f.iter_mut().zip(e).enumerate() {
                let p = k * c + q;
                let mut acc = [0.0f64; 2];
                let mut eacc = 0.0;
                let (a, b) = (w.in_start[p] as usize, w.in_start[p + 1] as usize);
                for &q in &w.in_q[a..b] {
                    let g = w.terms[q as usize];
                    acc[0] -= g[0];
                    acc[1] -= g[1];
                    if E {
                        eacc += w.halfe[q as usize];
                    }
                }
                let (a, b) = (start[p * ns] as usize, start[(p + 1) * ns] as usize);
                let mut own = [0.0f64; 2];
                let mut eown = 0.0;
                for q in a..b {
                    let g = w.terms[q];
                    own[0] += g[0];
                    own[1] += g[1];
                    if E {
                        eown += w.halfe[q];
                    }
                }
                *f = [acc[0] + own[0], acc[1] + own[1]];
                if E {
                    *e = eacc + eown;
                }
            }
        });
}
