//! The fast engine's neighbour lists: particles binned into cells of half the list radius, each row built from a
//! 5 x 5 stencil of them by a branch-free filter (scalar here, vector code in `avx512` and `avx2`), half lists
//! grouped by species.

use super::forces::at;
#[cfg(target_arch = "x86_64")]
use super::{avx2, avx512};
use super::{cpu_skin, min_image, CpuReplica, HalfLists, Isa, Work, WORK};
use crate::md::MdSetup;

/// The CPU's cell grid for its list radius r_l: (cells per side, stencil reach in cells). Cells of at least
/// r_l / 2 and a 5 x 5 stencil (reach 2) where 5 fit across the box: the stencil then covers 6.25 r_l^2 of
/// candidates, not the 9 r_l^2 of cells of r_l and a 3 x 3 stencil (the shader's), about 30 % fewer to test.
/// A smaller box is one cell holding all (reach 0). Which cells the candidates come from never changes a list
/// (every j > i within r_l, sorted; the tests check it against that definition), only how many are tested.
pub(super) fn cpu_grid(setup: &MdSetup) -> (usize, usize) {
    let rl = setup.pairs.iter().map(|p| p.rc).fold(0.0, f64::max) + cpu_skin(setup);
    let nc = ((setup.box_l / (0.5 * rl)).floor() as usize).min(256);
    if nc >= 5 {
        (nc, 2)
    } else {
        (1, 0)
    }
}

#[inline]
pub(super) fn cell_of(x: [f64; 2], cell_size: f64, nc: u32) -> [u32; 2] {
    let c = |v: f64| ((v / cell_size).floor() as i64).clamp(0, nc as i64 - 1) as u32;
    [c(x[0]), c(x[1])]
}

/// The fast engine's list build: cell binning, then each particle's list within rc + skin (the engine's skin,
/// `cpu_skin`). Unlike the shader's (and the reference's) full lists, each pair is kept once (j > i), Newton's
/// third law applied in `compute_forces`, which halves the work, and each row is grouped by the neighbour's
/// species (index order inside a group) so the force loop runs over blocks with one set of pair constants. The
/// sums equal the reference's up to rounding order; which pairs beyond rc a list holds never changes a bit (see
/// `compute_forces`).
pub fn rebuild(setup: &MdSetup, rep: &mut CpuReplica) {
    rebuild_isa(setup, rep, Isa::detect())
}

/// `rebuild` with the candidate filter of a given vector unit (`Isa::detect` picks the best the CPU has). Every
/// `isa` builds the same lists bit for bit; tests compare them.
pub fn rebuild_isa(setup: &MdSetup, rep: &mut CpuReplica, isa: Isa) {
    let isa = isa.min(Isa::detect());
    WORK.with_borrow_mut(|w| {
        #[cfg(target_arch = "x86_64")]
        {
            if isa == Isa::Avx512 {
                // SAFETY: the CPU has AVX-512F (`Isa::detect`).
                return unsafe { avx512::rebuild(setup, rep, w) };
            }
            if isa == Isa::Avx2 {
                // SAFETY: the CPU has AVX2 (`Isa::detect`).
                return unsafe { avx2::rebuild(setup, rep, w) };
            }
        }
        rebuild_body(setup, rep, w, isa)
    })
}

#[inline(always)]
pub(super) fn rebuild_body(setup: &MdSetup, rep: &mut CpuReplica, w: &mut Work, isa: Isa) {
    let CpuReplica {
        pos,
        xref,
        lists:
            HalfLists {
                start,
                nbr,
                owner,
                ptype,
            },
        rebuilds,
        ..
    } = rep;
    w.grid.bin(setup, pos);
    start.clear();
    nbr.clear();
    owner.clear();
    ptype.clear();
    start.push(0);
    build_rows(
        setup,
        pos,
        0..setup.n,
        (&w.grid, &mut w.row),
        (start, nbr, owner, ptype),
        isa,
    );
    xref.clone_from(pos);
    *rebuilds += 1;
}

/// The cells of a list build: particles binned by cell, their keys and coordinates in cell order.
#[derive(Debug, Default)]
pub(super) struct Grid {
    nc: usize,
    /// The stencil's reach in cells (`cpu_grid`).
    reach: usize,
    cell: Vec<u32>,
    head: Vec<u32>,
    fill: Vec<u32>,
    /// In cell order: the list key of each particle (species << 32 | index) and its coordinates, with `PAD`
    /// entries after the last so that the vector filter may load whole vectors past a run's end.
    ckey: Vec<u64>,
    cx: Vec<f64>,
    cy: Vec<f64>,
    /// (rc + skin)^2 per species pair.
    rl2: Vec<f64>,
}

impl Grid {
    /// Counting sort by cell (index order inside a cell), with keys and positions copied in that order so that
    /// the candidates of three neighbouring cells of a row are one contiguous run.
    #[inline(always)]
    pub(super) fn bin(&mut self, setup: &MdSetup, pos: &[[f64; 2]]) {
        let n = setup.n;
        let (nc, reach) = cpu_grid(setup);
        let cell_size = setup.box_l / nc as f64;
        let ncell = nc * nc;
        self.nc = nc;
        self.reach = reach;
        self.cell.clear();
        self.cell.extend(pos.iter().map(|&x| {
            let c = cell_of(x, cell_size, nc as u32);
            c[1] * nc as u32 + c[0]
        }));
        self.head.clear();
        self.head.resize(ncell + 1, 0);
        for &c in &self.cell {
            self.head[c as usize + 1] += 1;
        }
        for c in 0..ncell {
            self.head[c + 1] += self.head[c];
        }
        self.fill.clone_from(&self.head);
        self.ckey.resize(n + PAD, 0);
        self.cx.resize(n + PAD, 0.0);
        self.cy.resize(n + PAD, 0.0);
        for (i, &c) in self.cell.iter().enumerate() {
            let at = self.fill[c as usize] as usize;
            self.ckey[at] = ((setup.species[i] as u64) << 32) | i as u64;
            self.cx[at] = pos[i][0];
            self.cy[at] = pos[i][1];
            self.fill[c as usize] += 1;
        }
        // the padding holds species 0 (a valid gather index), whatever an earlier, larger setup left there
        self.ckey[n..].fill(0);
        self.rl2.clear();
        let skin = cpu_skin(setup);
        self.rl2
            .extend(setup.pairs.iter().map(|p| (p.rc + skin) * (p.rc + skin)));
    }
}

/// Lists being built: `start`, `nbr`, `owner`, `ptype` as `CpuReplica` holds them.
pub(super) type ListsMut<'a> = (
    &'a mut Vec<u32>,
    &'a mut Vec<u32>,
    &'a mut Vec<u32>,
    &'a mut Vec<u32>,
);

/// The list rows of particles `rows` (binned in `grid`), appended to the lists: per row and species the end of
/// its block in `nbr` (`start`), and per entry the neighbour, the row's particle and the pair type. `row` is
/// the buffer of one row's candidates.
#[inline(always)]
pub(super) fn build_rows(
    setup: &MdSetup,
    pos: &[[f64; 2]],
    rows: std::ops::Range<usize>,
    (grid, row): (&Grid, &mut Vec<u64>),
    lists: ListsMut,
    isa: Isa,
) {
    let (start, nbr, owner, ptype) = lists;
    let n = setup.n;
    let l = setup.box_l;
    let ns = setup.n_species();
    let nc = grid.nc;
    let cand = Candidates {
        key: &grid.ckey,
        x: &grid.cx,
        y: &grid.cy,
    };
    let mut runs = [(0usize, 0usize); 10];
    let reach = grid.reach;
    let width = 2 * reach + 1;
    for i in rows {
        let xi = pos[i];
        let si = setup.species[i] as usize;
        let rl2 = &grid.rl2[si * ns..(si + 1) * ns];
        let c = grid.cell[i] as usize;
        // the stencil's cells as contiguous runs of the cell order: per row of cells, one run, or two where it
        // wraps
        let mut nruns = 0;
        if reach == 0 {
            runs[0] = (0, n);
            nruns = 1;
        } else {
            let (cx, cy) = (c % nc, c / nc);
            let x0 = (cx + nc - reach) % nc;
            for dy in 0..width {
                let base = ((cy + nc + dy - reach) % nc) * nc;
                let h = |k: usize| grid.head[base + k] as usize;
                if x0 + width <= nc {
                    runs[nruns] = (h(x0), h(x0 + width));
                    nruns += 1;
                } else {
                    runs[nruns] = (h(x0), h(nc));
                    runs[nruns + 1] = (h(0), h(x0 + width - nc));
                    nruns += 2;
                }
            }
        }
        let candidates: usize = runs[..nruns].iter().map(|r| r.1 - r.0).sum();
        if row.len() < candidates + PAD {
            row.resize(candidates + PAD, 0);
        }
        // every candidate within the list radius with j > i, in run order; the key sorts a row by species,
        // then index
        let mut cnt = 0;
        for &(a, b) in &runs[..nruns] {
            cnt = match isa {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `isa` is Avx512 only where the CPU has AVX-512F (`Isa::detect`); the row buffer
                // holds candidates + PAD entries.
                Isa::Avx512 => unsafe {
                    avx512::filter(xi, i as u32, l, rl2, &cand, (a, b), row, cnt)
                },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as above, for AVX2.
                Isa::Avx2 => unsafe { avx2::filter(xi, i as u32, l, rl2, &cand, (a, b), row, cnt) },
                _ => filter_scalar(xi, i as u32, l, rl2, &cand, (a, b), row, cnt),
            };
        }
        let row = &mut row[..cnt];
        row.sort_unstable();
        // the sorted keys, split: neighbour (low half), pair type (from the species, the high half); each
        // species' block ends where the next species' keys begin
        let base = nbr.len() as u32;
        nbr.extend(row.iter().map(|&key| key as u32));
        owner.resize(owner.len() + cnt, i as u32);
        let t0 = (si * ns) as u32;
        ptype.extend(row.iter().map(|&key| t0 + (key >> 32) as u32));
        for s in 0..ns as u64 {
            start.push(base + row.partition_point(|&key| key >> 32 <= s) as u32);
        }
    }
}

/// Entries after the last in the cell-order arrays and the row buffer: the widest vector's lanes.
pub(super) const PAD: usize = 8;

/// The cell-order arrays the list filter reads.
pub(super) struct Candidates<'a> {
    pub(super) key: &'a [u64],
    pub(super) x: &'a [f64],
    pub(super) y: &'a [f64],
}

/// The list filter of one run of candidates `a..b` (cell order) for particle i at `xi`: appends to `row` (from
/// `cnt` on) the key of every candidate j > i within the list radius (`rl2[sj]`, squared), in run order, and
/// returns the new count. Branch-free: every candidate is written, the count advances only for kept ones.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn filter_scalar(
    xi: [f64; 2],
    i: u32,
    l: f64,
    rl2: &[f64],
    c: &Candidates,
    (a, b): (usize, usize),
    row: &mut [u64],
    mut cnt: usize,
) -> usize {
    for ((&key, &xj), &yj) in c.key[a..b].iter().zip(&c.x[a..b]).zip(&c.y[a..b]) {
        let d = min_image([xi[0] - xj, xi[1] - yj], l);
        let keep = (key as u32 > i) & (d[0] * d[0] + d[1] * d[1] < at(rl2, (key >> 32) as u32));
        debug_assert!(cnt < row.len());
        // SAFETY: cnt counts kept candidates so far, at most the row's candidates < row.len().
        unsafe { *row.get_unchecked_mut(cnt) = key };
        cnt += keep as usize;
    }
    cnt
}

/// `build_rows` compiled for the vector unit `isa` (one that `Isa::detect` found), for `rebuild_split`.
pub(super) fn build_rows_isa(
    setup: &MdSetup,
    pos: &[[f64; 2]],
    rows: std::ops::Range<usize>,
    grid: (&Grid, &mut Vec<u64>),
    lists: ListsMut,
    isa: Isa,
) {
    #[cfg(target_arch = "x86_64")]
    match isa {
        // SAFETY: `isa` comes from `Isa::detect`, so the CPU has the unit.
        Isa::Avx512 => return unsafe { avx512::build_rows(setup, pos, rows, grid, lists) },
        // SAFETY: as above.
        Isa::Avx2 => return unsafe { avx2::build_rows(setup, pos, rows, grid, lists) },
        Isa::Scalar => {}
    }
    build_rows(setup, pos, rows, grid, lists, Isa::Scalar)
}
