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
    grid: Grid,
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

/// The CPU's cell grid for its list radius r_l: (cells per side, stencil reach in cells). Cells of at least
/// r_l / 2 and a 5 x 5 stencil (reach 2) where 5 fit across the box: the stencil then covers 6.25 r_l^2 of
/// candidates, not the 9 r_l^2 of cells of r_l and a 3 x 3 stencil (the shader's), about 30 % fewer to test.
/// A smaller box is one cell holding all (reach 0). Which cells the candidates come from never changes a list
/// (every j > i within r_l, sorted; the tests check it against that definition), only how many are tested.
fn cpu_grid(setup: &MdSetup) -> (usize, usize) {
    let rl = setup.pairs.iter().map(|p| p.rc).fold(0.0, f64::max) + cpu_skin(setup);
    let nc = ((setup.box_l / (0.5 * rl)).floor() as usize).min(256);
    if nc >= 5 {
        (nc, 2)
    } else {
        (1, 0)
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
                return unsafe { rebuild_avx512(setup, rep, w) };
            }
            if isa == Isa::Avx2 {
                // SAFETY: the CPU has AVX2 (`Isa::detect`).
                return unsafe { rebuild_avx2(setup, rep, w, isa) };
            }
        }
        rebuild_body(setup, rep, w, isa)
    })
}

/// The vector units the CPU twin has code paths for, in order of preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    Scalar,
    Avx2,
    Avx512,
}

impl Isa {
    /// The best vector unit of this CPU.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            // the list filters count kept lanes with popcnt, which every AVX2 processor has
            let popcnt = std::arch::is_x86_feature_detected!("popcnt");
            if popcnt && std::arch::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if popcnt && std::arch::is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Scalar
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,popcnt")]
unsafe fn rebuild_avx512(setup: &MdSetup, rep: &mut CpuReplica, w: &mut Work) {
    rebuild_body(setup, rep, w, Isa::Avx512)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn rebuild_avx2(setup: &MdSetup, rep: &mut CpuReplica, w: &mut Work, isa: Isa) {
    rebuild_body(setup, rep, w, isa)
}

#[inline(always)]
fn rebuild_body(setup: &MdSetup, rep: &mut CpuReplica, w: &mut Work, isa: Isa) {
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
struct Grid {
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
    fn bin(&mut self, setup: &MdSetup, pos: &[[f64; 2]]) {
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
type ListsMut<'a> = (
    &'a mut Vec<u32>,
    &'a mut Vec<u32>,
    &'a mut Vec<u32>,
    &'a mut Vec<u32>,
);

/// The list rows of particles `rows` (binned in `grid`), appended to the lists: per row and species the end of
/// its block in `nbr` (`start`), and per entry the neighbour, the row's particle and the pair type. `row` is
/// the buffer of one row's candidates.
#[inline(always)]
fn build_rows(
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
                    filter_avx512(xi, i as u32, l, rl2, &cand, (a, b), row, cnt)
                },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as above, for AVX2.
                Isa::Avx2 => unsafe { filter_avx2(xi, i as u32, l, rl2, &cand, (a, b), row, cnt) },
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
const PAD: usize = 8;

/// The cell-order arrays the list filter reads.
struct Candidates<'a> {
    key: &'a [u64],
    x: &'a [f64],
    y: &'a [f64],
}

/// The list filter of one run of candidates `a..b` (cell order) for particle i at `xi`: appends to `row` (from
/// `cnt` on) the key of every candidate j > i within the list radius (`rl2[sj]`, squared), in run order, and
/// returns the new count. Branch-free: every candidate is written, the count advances only for kept ones.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn filter_scalar(
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

/// `filter_scalar` on 8 candidates at a time: the same IEEE operations (minimum image by masked subtraction
/// and addition of L, r^2 = dx dx + dy dy without FMA), so the same keys kept, packed by a compress.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,popcnt")]
#[allow(clippy::too_many_arguments)]
unsafe fn filter_avx512(
    xi: [f64; 2],
    i: u32,
    l: f64,
    rl2: &[f64],
    c: &Candidates,
    (a, b): (usize, usize),
    row: &mut [u64],
    mut cnt: usize,
) -> usize {
    use std::arch::x86_64::*;
    let h = 0.5 * l;
    let (hv, nhv, lv) = (_mm512_set1_pd(h), _mm512_set1_pd(-h), _mm512_set1_pd(l));
    let (xiv, yiv) = (_mm512_set1_pd(xi[0]), _mm512_set1_pd(xi[1]));
    let iv = _mm512_set1_epi64(i as i64);
    let low = _mm512_set1_epi64(0xffff_ffff);
    // up to 8 species, the radii are looked up by a permutation of one register, not a gather (slow on AMD)
    let few = rl2.len() <= 8;
    let mut radii = [0.0; 8];
    radii[..rl2.len().min(8)].copy_from_slice(&rl2[..rl2.len().min(8)]);
    let table = _mm512_loadu_pd(radii.as_ptr());
    let fold = |d: __m512d| {
        let over = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(d, hv);
        let under = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(d, nhv);
        let d = _mm512_mask_sub_pd(d, over, d, lv);
        _mm512_mask_add_pd(d, under, d, lv)
    };
    let mut k = a;
    while k < b {
        // lanes past the run's end are masked out of the loads and the result
        let lanes: __mmask8 = (0xffu32 >> (8 - (b - k).min(8))) as u8;
        // SAFETY (all pointer reads): k < b <= n, masked-out lanes are not read; the gather indices are species
        // < ns (`MdSetup::check`) or 0 in masked-out lanes, and rl2 has ns entries.
        let key = _mm512_maskz_loadu_epi64(lanes, c.key.as_ptr().add(k) as *const i64);
        let xj = _mm512_maskz_loadu_pd(lanes, c.x.as_ptr().add(k));
        let yj = _mm512_maskz_loadu_pd(lanes, c.y.as_ptr().add(k));
        let dx = fold(_mm512_sub_pd(xiv, xj));
        let dy = fold(_mm512_sub_pd(yiv, yj));
        let r2 = _mm512_add_pd(_mm512_mul_pd(dx, dx), _mm512_mul_pd(dy, dy));
        let sj = _mm512_srli_epi64::<32>(key);
        let lim = if few {
            _mm512_permutexvar_pd(sj, table)
        } else {
            _mm512_i64gather_pd::<8>(sj, rl2.as_ptr())
        };
        // a masked-out lane reads key 0, index 0, never > i: no need to mask the result again
        let keep = _mm512_mask_cmpgt_epu64_mask(
            _mm512_cmp_pd_mask::<_CMP_LT_OQ>(r2, lim),
            _mm512_and_si512(key, low),
            iv,
        );
        debug_assert!(cnt + 8 <= row.len());
        // SAFETY: cnt <= the row's candidates, and row has PAD = 8 entries more. The compress goes to a register
        // and the whole vector is stored: a compressing store to memory is microcoded and slow on AMD Zen 4/5.
        _mm512_storeu_si512(
            row.as_mut_ptr().add(cnt) as *mut __m512i,
            _mm512_maskz_compress_epi64(keep, key),
        );
        cnt += keep.count_ones() as usize;
        k += 8;
    }
    cnt
}

/// `filter_scalar` on 4 candidates at a time (as `filter_avx512`); the kept keys are packed by a permutation
/// looked up from the 4-bit mask and stored as a whole vector (the row buffer has `PAD` spare entries).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
#[allow(clippy::too_many_arguments)]
unsafe fn filter_avx2(
    xi: [f64; 2],
    i: u32,
    l: f64,
    rl2: &[f64],
    c: &Candidates,
    (a, b): (usize, usize),
    row: &mut [u64],
    mut cnt: usize,
) -> usize {
    use std::arch::x86_64::*;
    // per 4-bit mask, the 32-bit lanes that bring the kept 64-bit lanes to the front
    const PACK: [[i32; 8]; 16] = {
        let mut t = [[0i32; 8]; 16];
        let mut m = 0;
        while m < 16 {
            let mut o = 0;
            let mut lane: i32 = 0;
            while lane < 4 {
                if m & (1 << lane) != 0 {
                    t[m][2 * o] = 2 * lane;
                    t[m][2 * o + 1] = 2 * lane + 1;
                    o += 1;
                }
                lane += 1;
            }
            m += 1;
        }
        t
    };
    let h = 0.5 * l;
    let (hv, nhv, lv) = (_mm256_set1_pd(h), _mm256_set1_pd(-h), _mm256_set1_pd(l));
    let (xiv, yiv) = (_mm256_set1_pd(xi[0]), _mm256_set1_pd(xi[1]));
    let iv = _mm256_set1_epi64x(i as i64);
    let low = _mm256_set1_epi64x(0xffff_ffff);
    let fold = |d: __m256d| {
        let over = _mm256_cmp_pd::<_CMP_GT_OQ>(d, hv);
        let under = _mm256_cmp_pd::<_CMP_LT_OQ>(d, nhv);
        let d = _mm256_blendv_pd(d, _mm256_sub_pd(d, lv), over);
        _mm256_blendv_pd(d, _mm256_add_pd(d, lv), under)
    };
    let mut k = a;
    while k < b {
        let lanes = 0xfu32 >> (4 - (b - k).min(4));
        // SAFETY (all pointer reads): k < b <= n and the arrays have PAD >= 4 entries after n, so whole vectors
        // are in bounds; lanes past b are masked out of the result. The gather indices are keys' species, < ns
        // (`MdSetup::check`), also in the padding (key 0).
        let key = _mm256_loadu_si256(c.key.as_ptr().add(k) as *const __m256i);
        let xj = _mm256_loadu_pd(c.x.as_ptr().add(k));
        let yj = _mm256_loadu_pd(c.y.as_ptr().add(k));
        let dx = fold(_mm256_sub_pd(xiv, xj));
        let dy = fold(_mm256_sub_pd(yiv, yj));
        let r2 = _mm256_add_pd(_mm256_mul_pd(dx, dx), _mm256_mul_pd(dy, dy));
        let lim = _mm256_i64gather_pd::<8>(rl2.as_ptr(), _mm256_srli_epi64::<32>(key));
        let near = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(r2, lim)) as u32;
        let after = _mm256_cmpgt_epi64(_mm256_and_si256(key, low), iv);
        let keep = lanes & near & _mm256_movemask_pd(_mm256_castsi256_pd(after)) as u32;
        let perm = _mm256_loadu_si256(PACK[keep as usize].as_ptr() as *const __m256i);
        debug_assert!(cnt + 4 <= row.len());
        // SAFETY: cnt <= the row's candidates, and row has PAD >= 4 entries more.
        _mm256_storeu_si256(
            row.as_mut_ptr().add(cnt) as *mut __m256i,
            _mm256_permutevar8x32_epi32(key, perm),
        );
        cnt += keep.count_ones() as usize;
        k += 4;
    }
    cnt
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
fn forces_body<const E: bool>(setup: &MdSetup, rep: &mut CpuReplica, sc: &mut Work, isa: Isa) {
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
    pair_terms_isa::<E>(
        isa,
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
    let n = setup.n;
    assert!(force.len() >= n && start.len() > n * ns && (!E || pe.len() >= n));
    force.iter_mut().for_each(|f| *f = [0.0; 2]);
    if E {
        pe.iter_mut().for_each(|e| *e = 0.0);
    }
    let m = nbr.len();
    let (terms, halfe) = (&sc.terms[..m], &sc.halfe[..if E { m } else { 0 }]);
    for i in 0..n {
        let (a, b) = (start[i * ns] as usize, start[(i + 1) * ns] as usize);
        let mut f = [0.0f64; 2];
        let mut e = 0.0;
        for (q, (&j, g)) in nbr[a..b].iter().zip(&terms[a..b]).enumerate() {
            f[0] += g[0];
            f[1] += g[1];
            debug_assert!((j as usize) < n);
            // SAFETY: `rebuild` lists only particle indices < n, and force (pe) holds n entries (asserted).
            let fj = unsafe { force.get_unchecked_mut(j as usize) };
            fj[0] -= g[0];
            fj[1] -= g[1];
            if E {
                let h = halfe[a + q];
                e += h;
                // SAFETY: as above.
                unsafe { *pe.get_unchecked_mut(j as usize) += h };
            }
        }
        force[i][0] += f[0];
        force[i][1] += f[1];
        if E {
            pe[i] += e;
        }
    }
}

/// `pair_terms` for the vector unit `isa` (one that `Isa::detect` found). AVX-512 has a kernel of its own
/// (`pair_terms_avx512`); AVX2 is `pair_terms` compiled for it. All give the same bits.
fn pair_terms_isa<const E: bool>(
    isa: Isa,
    pos: &[[f64; 2]],
    l: f64,
    k: &PairTable,
    list: (&[u32], &[u32], &[u32]),
    terms: &mut [[f64; 2]],
    halfe: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<const E: bool>(
            pos: &[[f64; 2]],
            l: f64,
            k: &PairTable,
            list: (&[u32], &[u32], &[u32]),
            out: (&mut [[f64; 2]], &mut [f64]),
        ) {
            pair_terms::<E>(pos, l, k, list, out.0, out.1)
        }
        match isa {
            // SAFETY: `isa` comes from `Isa::detect`, so the CPU has the unit.
            Isa::Avx512 => return unsafe { pair_terms_avx512::<E>(pos, l, k, list, terms, halfe) },
            // SAFETY: as above.
            Isa::Avx2 => return unsafe { avx2::<E>(pos, l, k, list, (terms, halfe)) },
            Isa::Scalar => {}
        }
    }
    pair_terms::<E>(pos, l, k, list, terms, halfe)
}

/// `pair_terms` on 8 list entries at a time, written out: LLVM's vectorisation of `pair_terms` gathers the
/// four pair constants of every entry (8 gathers per 8 entries, slow on AMD Zen 4/5), where with up to 8 pair
/// types (2 species) one register holds each constant and a permutation looks it up. The IEEE operations are
/// `pair_terms`' in its order (no FMA), so the terms are its bits; the last entries are masked.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pair_terms_avx512<const E: bool>(
    pos: &[[f64; 2]],
    l: f64,
    k: &PairTable,
    (owner, nbr, ptype): (&[u32], &[u32], &[u32]),
    terms: &mut [[f64; 2]],
    halfe: &mut [f64],
) {
    use std::arch::x86_64::*;
    let (m, n) = (nbr.len(), pos.len());
    assert!(owner.len() >= m && ptype.len() >= m && terms.len() >= m && (!E || halfe.len() >= m));
    let few = k.s2.len() <= 8;
    // one constant per pair type, as a register (up to 8 types) or looked up by a gather
    let column = |v: &[f64]| {
        let mut t = [0.0; 8];
        t[..v.len().min(8)].copy_from_slice(&v[..v.len().min(8)]);
        _mm512_loadu_pd(t.as_ptr())
    };
    let (s2, rc2, fc, eps24) = (
        column(&k.s2),
        column(&k.rc2),
        column(&k.fc),
        column(&k.eps24),
    );
    let (eps4, ec, rc) = (column(&k.eps4), column(&k.ec), column(&k.rc));
    let h = 0.5 * l;
    let (hv, nhv, lv) = (_mm512_set1_pd(h), _mm512_set1_pd(-h), _mm512_set1_pd(l));
    let (one, two, half, zero) = (
        _mm512_set1_pd(1.0),
        _mm512_set1_pd(2.0),
        _mm512_set1_pd(0.5),
        _mm512_setzero_pd(),
    );
    let fold = |d: __m512d| {
        let over = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(d, hv);
        let under = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(d, nhv);
        let d = _mm512_mask_sub_pd(d, over, d, lv);
        _mm512_mask_add_pd(d, under, d, lv)
    };
    // lanes of terms[q..q + 8] as [x, y] pairs: the first four entries, then the last four
    let (lo, hi) = (
        _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11),
        _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15),
    );
    let base = pos.as_ptr() as *const f64;
    let (evens, odds) = (
        _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14),
        _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15),
    );
    let mut q = 0;
    while q < m {
        let left = (m - q).min(8);
        let lanes = (0xffu32 >> (8 - left)) as __mmask8;
        // SAFETY (all reads): q + lanes <= m and the slices hold m entries (asserted), masked-out lanes are not
        // read; gather offsets are 2 x a particle index < n (`rebuild`), so x and y of pos, and pair types are
        // < ns * ns, the length of the table's columns.
        let idx = |v: &[u32]| {
            let w = _mm512_maskz_loadu_epi32(lanes as __mmask16, v.as_ptr().add(q) as *const i32);
            _mm512_castsi512_si256(w)
        };
        let (iv, j2, t) = (idx(owner), idx(nbr), idx(ptype));
        let j2 = _mm256_slli_epi32::<1>(j2);
        let gather = |o: __m256i, p: *const f64| _mm512_mask_i32gather_pd::<8>(zero, lanes, o, p);
        // The rows' particles: the list runs row by row, so 8 entries usually belong to one or two rows, and
        // then the positions of particles i0..i0 + 8 (two whole-vector loads, x and y interleaved) hold them
        // all and a permutation picks each lane's; a gather otherwise.
        let i0 = *owner.get_unchecked(q) as usize;
        let span = *owner.get_unchecked(q + left - 1) as usize - i0;
        let (xi, yi) = if span < 8 {
            let have = (n - i0).min(8);
            let mask = |from: usize| {
                (0xffffu32 >> (16 - 2 * have.saturating_sub(from).min(4))) as __mmask8
            };
            // SAFETY: particles i0..i0 + have < n exist; the masks cover 2 x have doubles from 2 x i0.
            let lo = _mm512_maskz_loadu_pd(mask(0), base.add(2 * i0));
            let hi = _mm512_maskz_loadu_pd(mask(4), base.add(2 * i0 + 8));
            let d = _mm512_cvtepu32_epi64(_mm256_sub_epi32(iv, _mm256_set1_epi32(i0 as i32)));
            let dx2 = _mm512_slli_epi64::<1>(d);
            let dy2 = _mm512_add_epi64(dx2, _mm512_set1_epi64(1));
            (
                _mm512_permutex2var_pd(lo, dx2, hi),
                _mm512_permutex2var_pd(lo, dy2, hi),
            )
        } else {
            let i2 = _mm256_slli_epi32::<1>(iv);
            (gather(i2, base), gather(i2, base.add(1)))
        };
        let (xj, yj) = if left == 8 {
            // the neighbours' positions as 8 loads of (x, y) into two registers, then split into x and y
            let p = |o: usize| {
                let j = *nbr.get_unchecked(q + o) as usize;
                _mm_loadu_ps(base.add(2 * j) as *const f32)
            };
            let a = _mm512_castps128_ps512(p(0));
            let a = _mm512_insertf32x4::<1>(a, p(1));
            let a = _mm512_insertf32x4::<2>(a, p(2));
            let a = _mm512_castps_pd(_mm512_insertf32x4::<3>(a, p(3)));
            let b = _mm512_castps128_ps512(p(4));
            let b = _mm512_insertf32x4::<1>(b, p(5));
            let b = _mm512_insertf32x4::<2>(b, p(6));
            let b = _mm512_castps_pd(_mm512_insertf32x4::<3>(b, p(7)));
            (
                _mm512_permutex2var_pd(a, evens, b),
                _mm512_permutex2var_pd(a, odds, b),
            )
        } else {
            (gather(j2, base), gather(j2, base.add(1)))
        };
        let dx = fold(_mm512_sub_pd(xi, xj));
        let dy = fold(_mm512_sub_pd(yi, yj));
        let t64 = _mm512_cvtepu32_epi64(t);
        let pick = |reg: __m512d, v: &[f64]| {
            if few {
                _mm512_permutexvar_pd(t64, reg)
            } else {
                _mm512_mask_i32gather_pd::<8>(zero, lanes, t, v.as_ptr())
            }
        };
        let r2 = _mm512_add_pd(_mm512_mul_pd(dx, dx), _mm512_mul_pd(dy, dy));
        let rinv = _mm512_div_pd(one, _mm512_sqrt_pd(r2));
        let inv2 = _mm512_mul_pd(rinv, rinv);
        let sr2 = _mm512_mul_pd(pick(s2, &k.s2), inv2);
        let sr6 = _mm512_mul_pd(_mm512_mul_pd(sr2, sr2), sr2);
        let sr12 = _mm512_mul_pd(sr6, sr6);
        let inside = lanes & _mm512_cmp_pd_mask::<_CMP_LT_OQ>(r2, pick(rc2, &k.rc2));
        let fcv = pick(fc, &k.fc);
        let lj = _mm512_sub_pd(_mm512_mul_pd(two, sr12), sr6);
        let fr = _mm512_add_pd(
            _mm512_mul_pd(_mm512_mul_pd(pick(eps24, &k.eps24), inv2), lj),
            _mm512_mul_pd(fcv, rinv),
        );
        let fr = _mm512_maskz_mov_pd(inside, fr);
        let (tx, ty) = (_mm512_mul_pd(fr, dx), _mm512_mul_pd(fr, dy));
        // SAFETY: terms holds m >= q + left entries of 2 f64; the stores write 2 x left of them.
        let out = terms.as_mut_ptr().add(q) as *mut f64;
        let first = (0xffffu32 >> (16 - 2 * left.min(4))) as __mmask8;
        _mm512_mask_storeu_pd(out, first, _mm512_permutex2var_pd(tx, lo, ty));
        if left > 4 {
            let second = (0xffffu32 >> (16 - 2 * (left - 4))) as __mmask8;
            _mm512_mask_storeu_pd(out.add(8), second, _mm512_permutex2var_pd(tx, hi, ty));
        }
        if E {
            let rr = _mm512_mul_pd(r2, rinv);
            let e = _mm512_sub_pd(
                _mm512_sub_pd(
                    _mm512_mul_pd(pick(eps4, &k.eps4), _mm512_sub_pd(sr12, sr6)),
                    pick(ec, &k.ec),
                ),
                _mm512_mul_pd(_mm512_sub_pd(rr, pick(rc, &k.rc)), fcv),
            );
            // SAFETY: halfe holds m entries (asserted); the store writes the `lanes` of q..q + left.
            _mm512_mask_storeu_pd(
                halfe.as_mut_ptr().add(q),
                lanes,
                _mm512_maskz_mov_pd(inside, _mm512_mul_pd(half, e)),
            );
        }
        q += 8;
    }
}

/// `build_rows` compiled for the vector unit `isa` (one that `Isa::detect` found), for `rebuild_split`.
fn build_rows_isa(
    setup: &MdSetup,
    pos: &[[f64; 2]],
    rows: std::ops::Range<usize>,
    grid: (&Grid, &mut Vec<u64>),
    lists: ListsMut,
    isa: Isa,
) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,popcnt")]
        unsafe fn avx512(
            setup: &MdSetup,
            pos: &[[f64; 2]],
            rows: std::ops::Range<usize>,
            grid: (&Grid, &mut Vec<u64>),
            lists: ListsMut,
        ) {
            build_rows(setup, pos, rows, grid, lists, Isa::Avx512)
        }
        #[target_feature(enable = "avx2,popcnt")]
        unsafe fn avx2(
            setup: &MdSetup,
            pos: &[[f64; 2]],
            rows: std::ops::Range<usize>,
            grid: (&Grid, &mut Vec<u64>),
            lists: ListsMut,
        ) {
            build_rows(setup, pos, rows, grid, lists, Isa::Avx2)
        }
        match isa {
            // SAFETY: `isa` comes from `Isa::detect`, so the CPU has the unit.
            Isa::Avx512 => return unsafe { avx512(setup, pos, rows, grid, lists) },
            // SAFETY: as above.
            Isa::Avx2 => return unsafe { avx2(setup, pos, rows, grid, lists) },
            Isa::Scalar => {}
        }
    }
    build_rows(setup, pos, rows, grid, lists, Isa::Scalar)
}

/// `forces_body` with the pair terms of the best vector unit the CPU has (same operations, so the same bits on
/// each).
fn forces<const E: bool>(setup: &MdSetup, rep: &mut CpuReplica) {
    forces_isa::<E>(setup, rep, Isa::detect())
}

/// `forces` with the pair terms of a given vector unit (at most the CPU's best); every `isa` gives the same
/// bits, which tests compare.
fn forces_isa<const E: bool>(setup: &MdSetup, rep: &mut CpuReplica, isa: Isa) {
    let isa = isa.min(Isa::detect());
    WORK.with_borrow_mut(|w| forces_body::<E>(setup, rep, w, isa))
}

/// The worst failure among the forces (and, with energies, the per-particle energies).
#[inline]
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
    compute_forces_isa(setup, rep, Isa::detect(), true)
}

/// `compute_forces` with the pair terms of a given vector unit (at most the CPU's best), with or without the
/// energies (without: the step's path; `pe` is left alone and the energy returned is 0). Every `isa` gives the
/// same bits; tests compare them.
pub fn compute_forces_isa(
    setup: &MdSetup,
    rep: &mut CpuReplica,
    isa: Isa,
    energies: bool,
) -> (f64, Option<Failure>) {
    if !energies {
        forces_isa::<false>(setup, rep, isa);
        return (0.0, check_forces(setup, rep, false));
    }
    forces_isa::<true>(setup, rep, isa);
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
#[inline]
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
    // compiled for the vector unit too: its passes over the particles vectorise, and the same IEEE operations
    // give the same bits
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(setup: &MdSetup, rep: &mut CpuReplica, adv: &Advance) {
            step_loop(setup, rep, adv, &mut None)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(setup: &MdSetup, rep: &mut CpuReplica, adv: &Advance) {
            step_loop(setup, rep, adv, &mut None)
        }
        match Isa::detect() {
            // SAFETY: `Isa::detect` found the unit.
            Isa::Avx512 => return unsafe { avx512(setup, rep, adv) },
            // SAFETY: as above.
            Isa::Avx2 => return unsafe { avx2(setup, rep, adv) },
            Isa::Scalar => {}
        }
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

type Split<'a> = Option<(&'a mut SplitWork, usize)>;

#[inline(always)]
fn step_loop(setup: &MdSetup, rep: &mut CpuReplica, adv: &Advance, split: &mut Split) {
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
type Moving<'a> = (&'a mut [[f64; 2]], &'a mut [[f64; 2]], &'a mut [[i32; 2]]);

/// The first half kick (after the thermostat's scaling `sc`) and the drift of particles `pos`, `vel`, `img`
/// (with their forces, reference positions and species); returns the largest squared displacement from the
/// reference positions.
#[inline(always)]
fn kick_drift(
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

/// A drifted position folded back into the box [0, L)^2 (at most one box length away), the image counts updated.
#[inline(always)]
pub(crate) fn wrap(mut x: [f64; 2], w: &mut [i32; 2], l: f64) -> [f64; 2] {
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

/// The second half kick of particle i; returns its m v^2.
#[inline(always)]
fn kick_one(setup: &MdSetup, kick: &[f64], i: usize, v: &mut [f64; 2], f: [f64; 2]) -> f64 {
    let si = setup.species[i] as usize;
    let k = kick[si];
    v[0] += f[0] * k;
    v[1] += f[1] * k;
    setup.mass[si] * (v[0] * v[0] + v[1] * v[1])
}

/// The forces (and with `energies` the per-particle energies) on one thread or split.
fn forces_any(setup: &MdSetup, rep: &mut CpuReplica, split: &mut Split, energies: bool) {
    match (split, energies) {
        (None, true) => forces::<true>(setup, rep),
        (None, false) => forces::<false>(setup, rep),
        (Some((work, parts)), true) => forces_split::<true>(setup, rep, work, *parts),
        (Some((work, parts)), false) => forces_split::<false>(setup, rep, work, *parts),
    }
}

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
    ke: Vec<f64>,
}

/// One part's rows of the lists, as `CpuReplica` holds them (without the leading 0 of `start`).
#[derive(Debug, Default)]
struct PartLists {
    row: Vec<u64>,
    start: Vec<u32>,
    nbr: Vec<u32>,
    owner: Vec<u32>,
    ptype: Vec<u32>,
}

/// `rebuild` with the rows built in `parts` parallel ranges and joined in particle order: the same lists.
fn rebuild_split(setup: &MdSetup, rep: &mut CpuReplica, work: &mut SplitWork, parts: usize) {
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
    rep.start.clear();
    rep.nbr.clear();
    rep.owner.clear();
    rep.ptype.clear();
    rep.start.push(0);
    for p in &work.parts {
        let off = rep.nbr.len() as u32;
        rep.start.extend(p.start.iter().map(|s| s + off));
        rep.nbr.extend_from_slice(&p.nbr);
        rep.owner.extend_from_slice(&p.owner);
        rep.ptype.extend_from_slice(&p.ptype);
    }
    rep.xref.clone_from(&rep.pos);
    rep.rebuilds += 1;
}

/// The incoming pairs of each particle for the replica's current lists: a counting sort of the list entries by
/// neighbour, stable, so each particle's entries come in row order.
fn incoming(n: usize, rep: &CpuReplica, work: &mut SplitWork) {
    let w = work;
    w.in_start.clear();
    w.in_start.resize(n + 1, 0);
    for &j in &rep.nbr {
        w.in_start[j as usize + 1] += 1;
    }
    for j in 0..n {
        w.in_start[j + 1] += w.in_start[j];
    }
    w.in_fill.clone_from(&w.in_start);
    w.in_q.resize(rep.nbr.len(), 0);
    for (q, &j) in rep.nbr.iter().enumerate() {
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
fn forces_split<const E: bool>(
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
    let m = rep.nbr.len();
    work.table.fill(&setup.pairs);
    work.terms.resize(m, [0.0; 2]);
    work.halfe.resize(m, 0.0);
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
    /// Per replica, the work of splitting it over threads (used while there are fewer replicas than threads).
    split: Vec<SplitWork>,
    /// Replicas of fewer particles are never split (`SPLIT_MIN_PARTICLES`).
    split_min: usize,
    step: u64,
}

/// The smallest replica `CpuMd` splits over threads. Below it the joins cost more than the second core gives:
/// on an idle 2-core machine one KAM replica ran 2.3e7 particle-steps/s on one thread and 0.93e7 split over two
/// at N = 2000, 2.1e7 and 2.2e7 at N = 8000, 1.7e7 and 2.1e7 at N = 32000 (docs/md-cpu.md).
pub const SPLIT_MIN_PARTICLES: usize = 16_000;

impl CpuMd {
    pub fn new(setup: MdSetup) -> Result<CpuMd> {
        setup.check()?;
        Ok(CpuMd {
            setup,
            reps: Vec::new(),
            split: Vec::new(),
            split_min: SPLIT_MIN_PARTICLES,
            step: 0,
        })
    }

    /// Split replicas of at least `n` particles over threads when there are fewer replicas than threads
    /// (default `SPLIT_MIN_PARTICLES`); the bytes do not depend on it, which tests check with small systems.
    pub fn with_split_min(mut self, n: usize) -> CpuMd {
        self.split_min = n;
        self
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
        self.split.clear();
        let setup = &self.setup;
        let step = self.step;
        self.reps
            .par_iter_mut()
            .for_each(|rep| md_forces(setup, rep, step));
        Ok(())
    }

    fn advance(&mut self, adv: &Advance) -> Result<()> {
        let setup = &self.setup;
        // with fewer replicas than threads each replica (of `split_min` particles or more) is split so that every
        // thread has work; the bytes do not depend on it (`md_step_split`). Four parts per thread, so that a
        // thread the system deschedules holds up only a small part: the others take the rest (rayon's work
        // stealing) instead of waiting at the join.
        let share = rayon::current_num_threads().div_ceil(self.reps.len().max(1));
        let parts = if share > 1 && setup.n >= self.split_min {
            4 * share
        } else {
            1
        };
        if parts > 1 {
            self.split.resize_with(self.reps.len(), Default::default);
            self.reps
                .par_iter_mut()
                .zip(&mut self.split)
                .for_each(|(rep, work)| md_step_split(setup, rep, adv, work, parts));
        } else {
            self.reps
                .par_iter_mut()
                .for_each(|rep| md_step(setup, rep, adv));
        }
        self.step = adv.step0 + adv.steps;
        Ok(())
    }

    fn download(&mut self) -> Result<Replicas> {
        let mut out = Replicas {
            n: self.setup.n,
            ..Default::default()
        };
        // sized once: grown by doubling, a thousand replicas' tens of MB were copied over and over
        let total = self.setup.n * self.reps.len();
        out.pos.reserve_exact(total);
        out.vel.reserve_exact(total);
        out.img.reserve_exact(total);
        out.thermo.reserve_exact(self.reps.len());
        for rep in &self.reps {
            out.pos.extend_from_slice(&rep.pos);
            out.vel.extend_from_slice(&rep.vel);
            out.img.extend_from_slice(&rep.img);
            out.thermo.push(rep.thermo);
        }
        Ok(out)
    }

    fn thermo(&mut self) -> Result<Vec<Thermo>> {
        Ok(self.reps.iter().map(|r| r.thermo).collect())
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
