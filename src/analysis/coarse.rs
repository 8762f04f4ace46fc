//! Coarse-graining of per-particle fields (Xbar_i = sum_j X_j e^{-r_ij/xi} / sum_j e^{-r_ij/xi} over r_ij < cut-off,
//! i included, minimum image) through a cell list, and min-max normalisation to [0, 1].

/// Coarse-graining settings (defaults of docs/methods.md, "Coarse-graining").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CoarseGrain {
    /// Length xi of the exponential weight.
    pub xi: f64,
    /// Cut-off in units of xi.
    pub cutoff_factor: f64,
}

impl CoarseGrain {
    /// Both lengths finite and > 0 (every stage that coarse-grains calls this first).
    pub fn validate(&self) -> crate::error::Result<()> {
        for (what, x) in [("`xi`", self.xi), ("`cutoff`", self.cutoff_factor)] {
            if !(x > 0.0 && x.is_finite()) {
                return Err(crate::error::Error::Input(format!(
                    "coarse-graining: {what} {x}: give a finite length > 0 (the paper's xi is 3, the cut-off 3 xi)"
                )));
            }
        }
        // a cut-off longer than any box would weigh every particle alike: a mistyped exponent, not a choice
        if self.xi * self.cutoff_factor > MAX_RANGE {
            return Err(crate::error::Error::Input(format!(
                "coarse-graining: `xi` {:?} with `cutoff` {:?} reaches {:e}, beyond any box (at most {MAX_RANGE:e}); \
                 give xi in particle diameters (the paper's is 3)",
                self.xi,
                self.cutoff_factor,
                self.xi * self.cutoff_factor
            )));
        }
        Ok(())
    }
}

/// Longest coarse-graining range, xi times the cut-off factor, in particle diameters.
pub const MAX_RANGE: f64 = 1e6;

impl Default for CoarseGrain {
    fn default() -> Self {
        CoarseGrain {
            xi: 3.0,
            cutoff_factor: 3.0,
        }
    }
}

/// e^x for x <= 0, branch-free: x = k ln 2 + r with |r| <= ln2/2 (Cody-Waite split of ln 2), e^r by its
/// Taylor series to degree 13 (truncation < 1e-17) evaluated by Estrin's scheme (a short dependency chain, so
/// consecutive pairs overlap in the pipeline), times 2^k built from the exponent bits. Within a few ulp of
/// `f64::exp`; arguments below -700 are clamped (e^-700 ~ 1e-304: a weight of zero).
#[inline(always)]
pub fn exp_neg(x: f64) -> f64 {
    const INV_LN2: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    // Adding 1.5 * 2^52 rounds to an integer and leaves it in the low mantissa bits.
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    const C: [f64; 14] = [
        1.0,
        1.0,
        0.5,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let x = x.clamp(-700.0, 0.0);
    let t = x * INV_LN2 + MAGIC;
    let k = t - MAGIC;
    let ki = (t.to_bits() as i64).wrapping_sub(MAGIC.to_bits() as i64);
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let p01 = C[0] + C[1] * r;
    let p23 = C[2] + C[3] * r;
    let p45 = C[4] + C[5] * r;
    let p67 = C[6] + C[7] * r;
    let p89 = C[8] + C[9] * r;
    let p1011 = C[10] + C[11] * r;
    let p1213 = C[12] + C[13] * r;
    let lo = (p01 + r2 * p23) + r4 * (p45 + r2 * p67);
    let hi = (p89 + r2 * p1011) + r4 * p1213;
    (lo + r8 * hi) * f64::from_bits(((ki + 1023) as u64) << 52)
}

/// Most cells per particle in the coarse-graining cell list: its memory follows N, not the box area (a sparse
/// box of side 1e5 would otherwise ask for 5e8 cells, 4 GB).
pub const MAX_CELLS_PER_PARTICLE: usize = 4;

/// Cells along x and y for `n` particles in `box_l` with cut-off `rc`: at least rc/2 wide (the 5x5 stencil
/// reaches rc), widened when there would be more than `MAX_CELLS_PER_PARTICLE` per particle (wider cells stay
/// correct, only slower per pair). `None`: fewer than 5 cells along an axis, where the stencil would wrap onto
/// itself, so all pairs are taken.
pub fn cell_grid(n: usize, box_l: [f64; 2], rc: f64) -> Option<(usize, usize)> {
    // in f64 first: a tiny cut-off or a huge box must not overflow the cell count
    let fx = (box_l[0] / (0.5 * rc)).floor().min(1e150);
    let fy = (box_l[1] / (0.5 * rc)).floor().min(1e150);
    let limit = (MAX_CELLS_PER_PARTICLE * n).max(25) as f64;
    let scale = (fx * fy / limit).sqrt().max(1.0);
    let (ncx, ncy) = ((fx / scale).floor(), (fy / scale).floor());
    if !(ncx >= 5.0 && ncy >= 5.0 && ncx * ncy <= limit) {
        return None;
    }
    Some((ncx as usize, ncy as usize))
}

/// Coarse-grains several fields of one configuration at once (the weights are computed once per pair and
/// shared). `positions` is [x0, y0, ...]; `fields[f]` has one value per particle. Each pair is visited once
/// (half stencil of a cell list, particles sorted by cell so the inner loop runs over contiguous memory and
/// vectorises). A cut-off above half the box is cut to the minimum image (only the nearest image of j counts).
pub fn coarse_grain(
    positions: &[f64],
    box_l: [f64; 2],
    cg: CoarseGrain,
    fields: &[&[f64]],
) -> Vec<Vec<f64>> {
    coarse_grain_with_weights(positions, box_l, cg, fields).0
}

/// `coarse_grain` and, per particle, the sum of the weights sum_j e^{-r_ij/xi} over r_ij < cut-off (i included,
/// weight 1): a local density at length xi.
pub fn coarse_grain_with_weights(
    positions: &[f64],
    box_l: [f64; 2],
    cg: CoarseGrain,
    fields: &[&[f64]],
) -> (Vec<Vec<f64>>, Vec<f64>) {
    let n = positions.len() / 2;
    let nf = fields.len();
    let rc = cg.xi * cg.cutoff_factor;
    let [lx, ly] = box_l;
    let Some((ncx, ncy)) = cell_grid(n, box_l, rc) else {
        return coarse_grain_all_pairs(positions, box_l, cg, fields);
    };
    let wrap = |x: f64, l: f64| {
        let w = x.rem_euclid(l);
        if w >= l {
            0.0
        } else {
            w
        }
    };
    let cell_of = |i: usize| {
        let x = wrap(positions[2 * i], lx);
        let y = wrap(positions[2 * i + 1], ly);
        let cx = ((x / lx * ncx as f64) as usize).min(ncx - 1);
        let cy = ((y / ly * ncy as f64) as usize).min(ncy - 1);
        cy * ncx + cx
    };
    // Counting sort of particles by cell.
    let nc = ncx * ncy;
    let mut start = vec![0usize; nc + 1];
    let cells: Vec<usize> = (0..n).map(cell_of).collect();
    for &c in &cells {
        start[c + 1] += 1;
    }
    for c in 0..nc {
        start[c + 1] += start[c];
    }
    let mut fill = start.clone();
    let mut order = vec![0usize; n];
    for (i, &c) in cells.iter().enumerate() {
        order[fill[c]] = i;
        fill[c] += 1;
    }
    // Within a cell by x, so that each row of cells is sorted by x (the sweep cuts rows to the cut-off chord).
    for c in 0..nc {
        order[start[c]..start[c + 1]].sort_by(|&a, &b| {
            positions[2 * a]
                .rem_euclid(lx)
                .total_cmp(&positions[2 * b].rem_euclid(lx))
        });
    }
    // Sorted copies: wrapped positions, field values, and accumulators (self term: weight 1).
    let xs: Vec<f64> = order.iter().map(|&i| wrap(positions[2 * i], lx)).collect();
    let ys: Vec<f64> = order
        .iter()
        .map(|&i| wrap(positions[2 * i + 1], ly))
        .collect();
    let grid = Grid {
        ncx,
        ncy,
        lx,
        ly,
        start: &start,
        xs: &xs,
        ys: &ys,
        rc,
        rc2: rc * rc,
        inv_xi: 1.0 / cg.xi,
    };
    let mut out = vec![vec![0.0; n]; nf];
    let mut weights = vec![0.0; n];
    // The pair loop is compiled for a fixed number of fields so that it vectorises; more fields go in groups
    // (at least one, so that the weights are summed even for no field).
    let zeros = vec![0.0; n];
    let fields: Vec<&[f64]> = if fields.is_empty() {
        vec![&zeros]
    } else {
        fields.to_vec()
    };
    let mut f0 = 0;
    while f0 < fields.len() {
        let m = (fields.len() - f0).min(3);
        let vals: Vec<Vec<f64>> = fields[f0..f0 + m]
            .iter()
            .map(|f| order.iter().map(|&i| f[i]).collect())
            .collect();
        let (num, den): (Vec<Vec<f64>>, Vec<f64>) = match m {
            1 => {
                let (n, d) = grid.sweep::<1>([&vals[0]]);
                (n.into(), d)
            }
            2 => {
                let (n, d) = grid.sweep::<2>([&vals[0], &vals[1]]);
                (n.into(), d)
            }
            _ => {
                let (n, d) = grid.sweep::<3>([&vals[0], &vals[1], &vals[2]]);
                (n.into(), d)
            }
        };
        for (k, &i) in order.iter().enumerate() {
            weights[i] = den[k];
            for (f, field) in out.iter_mut().skip(f0).take(m).enumerate() {
                field[i] = num[f][k] / den[k];
            }
        }
        f0 += m;
    }
    (out, weights)
}

/// Particles sorted by cell, and what the pair sweep needs.
struct Grid<'a> {
    ncx: usize,
    ncy: usize,
    lx: f64,
    ly: f64,
    /// Particles of cell c are sorted entries start[c]..start[c + 1].
    start: &'a [usize],
    xs: &'a [f64],
    ys: &'a [f64],
    rc: f64,
    rc2: f64,
    inv_xi: f64,
}

impl Grid<'_> {
    /// Sums w_ab X_b and w_ab over all pairs within the cut-off (self term included). Where the CPU has AVX2
    /// the same code is compiled for it too: 4-wide instead of the x86-64 baseline's 2-wide SSE2 (~2x here).
    fn sweep<const NF: usize>(&self, vals: [&[f64]; NF]) -> ([Vec<f64>; NF], Vec<f64>) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: `sweep_avx2` only requires AVX2, which the CPU has (checked just above).
                return unsafe { self.sweep_avx2::<NF>(vals) };
            }
        }
        self.sweep_body::<NF>(vals)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn sweep_avx2<const NF: usize>(&self, vals: [&[f64]; NF]) -> ([Vec<f64>; NF], Vec<f64>) {
        self.sweep_body::<NF>(vals)
    }

    #[inline(always)]
    fn sweep_body<const NF: usize>(&self, vals: [&[f64]; NF]) -> ([Vec<f64>; NF], Vec<f64>) {
        let n = self.xs.len();
        let mut num: [Vec<f64>; NF] = vals.map(|v| v.to_vec());
        let mut den = vec![1.0; n];
        let (ncx, ncy) = (self.ncx, self.ncy);
        let nxi = ncx as i64;
        // Half stencil as row segments: the cell row itself from the cell on (dx 0..=2, own cell only after a),
        // and the next two rows at dx -2..=2. Cells of a row are contiguous in sorted order, so each
        // segment is one slice, split in two where it wraps around the box (with the image shift).
        let mut segs: Vec<(usize, usize, f64, f64, bool)> = Vec::with_capacity(6);
        let mut row_y0: Vec<f64> = Vec::with_capacity(6);
        let cell_h = self.ly / ncy as f64;
        for cy in 0..ncy {
            for cx in 0..ncx {
                let c = cy * ncx + cx;
                segs.clear();
                row_y0.clear();
                for oy in 0..=2usize {
                    let (row, shy) = if cy + oy >= ncy {
                        (cy + oy - ncy, self.ly)
                    } else {
                        (cy + oy, 0.0)
                    };
                    // Lower edge of the row (unshifted), recorded for each of its segments.
                    let y0 = row as f64 * cell_h;
                    let (lo, hi) = if oy == 0 {
                        (cx as i64, cx as i64 + 2)
                    } else {
                        (cx as i64 - 2, cx as i64 + 2)
                    };
                    let first = row * ncx;
                    let cell = |x: i64| first + x as usize;
                    if lo < 0 {
                        segs.push((cell(lo + nxi), cell(nxi - 1) + 1, -self.lx, shy, false));
                        segs.push((cell(0), cell(hi) + 1, 0.0, shy, false));
                    } else if hi >= nxi {
                        segs.push((cell(lo), cell(nxi - 1) + 1, 0.0, shy, oy == 0));
                        segs.push((cell(0), cell(hi - nxi) + 1, self.lx, shy, false));
                    } else {
                        segs.push((cell(lo), cell(hi) + 1, 0.0, shy, oy == 0));
                    }
                    while row_y0.len() < segs.len() {
                        row_y0.push(y0);
                    }
                }
                for a in self.start[c]..self.start[c + 1] {
                    for (k, &(c0, c1, shx, shy, own)) in segs.iter().enumerate() {
                        // The segment that starts at this particle's own cell pairs it only with later ones.
                        let mut b0 = if own { a + 1 } else { self.start[c0] };
                        let mut b1 = self.start[c1];
                        if b0 >= b1 {
                            continue;
                        }
                        // Segments are sorted by x: keep the chord of the cut-off circle at this row's nearest y.
                        let dy = if own {
                            0.0
                        } else {
                            (row_y0[k] + shy - self.ys[a]).max(0.0)
                        };
                        if dy >= self.rc {
                            continue;
                        }
                        let half = (self.rc2 - dy * dy).sqrt();
                        let xa = self.xs[a] - shx;
                        let seg = &self.xs[b0..b1];
                        let lo = if own {
                            0
                        } else {
                            seg.partition_point(|&x| x < xa - half)
                        };
                        let hi = seg.partition_point(|&x| x <= xa + half);
                        (b0, b1) = (b0 + lo, b0 + hi);
                        if b0 >= b1 {
                            continue;
                        }
                        let (sa, sden) =
                            self.row::<NF>(a, b0, b1, shx, shy, vals, &mut num, &mut den);
                        den[a] += sden;
                        for f in 0..NF {
                            num[f][a] += sa[f];
                        }
                    }
                }
            }
        }
        (num, den)
    }

    /// Particle a against sorted particles b0..b1 (all after a): adds to b's sums, returns a's.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn row<const NF: usize>(
        &self,
        a: usize,
        b0: usize,
        b1: usize,
        shx: f64,
        shy: f64,
        vals: [&[f64]; NF],
        num: &mut [Vec<f64>; NF],
        den: &mut [f64],
    ) -> ([f64; NF], f64) {
        let (xa, ya) = (self.xs[a] - shx, self.ys[a] - shy);
        let va: [f64; NF] = std::array::from_fn(|f| vals[f][a]);
        let xb = &self.xs[b0..b1];
        let yb = &self.ys[b0..b1];
        let db = &mut den[b0..b1];
        let vb: [&[f64]; NF] = std::array::from_fn(|f| &vals[f][b0..b1]);
        let nb: [&mut [f64]; NF] = num.each_mut().map(|v| &mut v[b0..b1]);
        let len = xb.len();
        let (rc2, inv_xi) = (self.rc2, self.inv_xi);
        // In blocks: weights first (a plain map, which the loop vectoriser turns into SIMD), then the scatter to
        // b's sums (also SIMD), then a's sums as 4-lane dot products.
        const BLOCK: usize = 128;
        let mut wbuf = [0.0f64; BLOCK];
        let mut sden = 0.0;
        let mut sa = [0.0; NF];
        let mut s0 = 0;
        while s0 < len {
            let s1 = (s0 + BLOCK).min(len);
            let w = &mut wbuf[..s1 - s0];
            let (xk, yk) = (&xb[s0..s1], &yb[s0..s1]);
            for k in 0..w.len() {
                w[k] = pair_weight(xk[k] - xa, yk[k] - ya, inv_xi, rc2);
            }
            let w = &wbuf[..s1 - s0];
            for (d, &wk) in db[s0..s1].iter_mut().zip(w) {
                *d += wk;
            }
            sden += lane_dot(w, None);
            for f in 0..NF {
                for (n, &wk) in nb[f][s0..s1].iter_mut().zip(w) {
                    *n += wk * va[f];
                }
                sa[f] += lane_dot(w, Some(&vb[f][s0..s1]));
            }
            s0 = s1;
        }
        (sa, sden)
    }
}

/// The weight e^{-r/xi} of a pair at separation (dx, dy), zero beyond the cut-off. Branch-free (about a third
/// of the candidates are beyond the cut-off, in no predictable order) and a function, not a closure, so that
/// it is inlined into, and compiled for, the AVX2 variant of the sweep.
#[inline(always)]
fn pair_weight(dx: f64, dy: f64, inv_xi: f64, rc2: f64) -> f64 {
    let r2 = dx * dx + dy * dy;
    let w = exp_neg(-r2.sqrt() * inv_xi);
    if r2 < rc2 {
        w
    } else {
        0.0
    }
}

/// Sum of w (or of w * v) in four independent lanes: no serial floating-point chain, so it maps onto SIMD.
#[inline(always)]
fn lane_dot(w: &[f64], v: Option<&[f64]>) -> f64 {
    let mut acc = [0.0; 4];
    let full = w.len() / 4 * 4;
    for base in (0..full).step_by(4) {
        for l in 0..4 {
            acc[l] += match v {
                Some(v) => w[base + l] * v[base + l],
                None => w[base + l],
            };
        }
    }
    let mut tail = 0.0;
    for k in full..w.len() {
        tail += match v {
            Some(v) => w[k] * v[k],
            None => w[k],
        };
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// The same sum over all pairs with minimum image: for boxes too small for the 5x5 cell stencil.
fn coarse_grain_all_pairs(
    positions: &[f64],
    box_l: [f64; 2],
    cg: CoarseGrain,
    fields: &[&[f64]],
) -> (Vec<Vec<f64>>, Vec<f64>) {
    let n = positions.len() / 2;
    let nf = fields.len();
    let rc = cg.xi * cg.cutoff_factor;
    let [lx, ly] = box_l;
    let mut num: Vec<Vec<f64>> = fields.iter().map(|f| f.to_vec()).collect();
    let mut den = vec![1.0; n];
    for i in 0..n {
        for j in i + 1..n {
            let mut dx = positions[2 * j] - positions[2 * i];
            let mut dy = positions[2 * j + 1] - positions[2 * i + 1];
            dx -= lx * (dx / lx).round();
            dy -= ly * (dy / ly).round();
            let r2 = dx * dx + dy * dy;
            if r2 < rc * rc {
                let w = (-r2.sqrt() / cg.xi).exp();
                den[i] += w;
                den[j] += w;
                for f in 0..nf {
                    num[f][i] += w * fields[f][j];
                    num[f][j] += w * fields[f][i];
                }
            }
        }
    }
    for field in num.iter_mut() {
        for (v, d) in field.iter_mut().zip(&den) {
            *v /= d;
        }
    }
    (num, den)
}

/// Min-max normalisation to [0, 1]: the minimum maps to exactly 0 and the maximum to exactly 1.
/// A constant field (max == min) has no scale; it maps to all zeros.
pub fn normalise(x: &[f64]) -> Vec<f64> {
    let (lo, hi) = x
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = hi - lo;
    if span > 0.0 {
        x.iter().map(|&v| (v - lo) / span).collect()
    } else {
        vec![0.0; x.len()]
    }
}
