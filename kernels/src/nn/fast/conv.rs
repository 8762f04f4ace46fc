//! Circular 2D convolutions of the f32 backend as implicit GEMMs on circularly padded planes (no im2col copy):
//! the forward and input-gradient convolutions accumulate a register tile of output channels x pixels over the
//! taps (plane, ky, kx), each tap one contiguous row of a padded plane; the weight gradient accumulates a tile of
//! output channels x kx taps over the pixels of each image.

use rayon::prelude::*;

use super::simd::{dispatch, Isa, Scalar, Simd};
use super::SyncPtr;

/// The planes of one convolution: h x w pixels, an odd kernel k, circular padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geom {
    pub h: usize,
    pub w: usize,
    pub k: usize,
}

impl Geom {
    pub fn hp(&self) -> usize {
        self.h + self.k - 1
    }
    pub fn wp(&self) -> usize {
        self.w + self.k - 1
    }
    /// Elements of one padded plane.
    pub fn padded(&self) -> usize {
        self.hp() * self.wp()
    }
    pub fn hw(&self) -> usize {
        self.h * self.w
    }
}

/// Circularly padded copies of `planes` (each h x w) into `dst` (each hp x wp): padded (r, c) holds plane
/// (wrap(r - off), wrap(c - off)), so that a tap (ky, kx) at pixel (y, x) reads padded (y + ky, x + kx).
pub fn pad(g: Geom, planes: &[f32], dst: &mut [f32], off: usize) {
    dst.par_chunks_mut(g.padded())
        .zip(planes.par_chunks(g.hw()))
        .for_each(|(d, s)| pad_plane(g, s, d, off));
}

fn pad_plane(g: Geom, src: &[f32], dst: &mut [f32], off: usize) {
    let (h, w, wp) = (g.h, g.w, g.wp());
    // off <= k / 2 < k <= w (NetSpec::check), so each padded row is a tail, the row and a head
    for (r, drow) in dst.chunks_exact_mut(wp).enumerate() {
        let srow = &src[((r + h - off) % h) * w..][..w];
        drow[..off].copy_from_slice(&srow[w - off..]);
        drow[off..off + w].copy_from_slice(srow);
        drow[off + w..].copy_from_slice(&srow[..wp - off - w]);
    }
}

/// Weights [c_out][c_in][k][k] packed for `conv`: per block of `mr` output channels, [tap][mr] with the taps
/// (plane, ky, kx) in order, channels past the last zero. With `transpose`, the packing of the input-gradient
/// convolution: its output channels are the layer's inputs ci, its planes the layer's outputs co, and tap
/// (co, ky, kx) holds the flipped kernel W[co][ci][k-1-ky][k-1-kx].
pub fn pack(
    w: &[f32],
    (c_in, c_out, k): (usize, usize, usize),
    mr: usize,
    transpose: bool,
    dst: &mut Vec<f32>,
) {
    let kk = k * k;
    let (n_out, n_src) = if transpose {
        (c_in, c_out)
    } else {
        (c_out, c_in)
    };
    let taps = n_src * kk;
    let blocks = n_out.div_ceil(mr);
    dst.clear();
    dst.resize(blocks * taps * mr, 0.0);
    for (j, block) in dst.chunks_exact_mut(taps * mr).enumerate() {
        for m in 0..mr.min(n_out - j * mr) {
            let o = j * mr + m;
            for t in 0..taps {
                let (s, tap) = (t / kk, t % kk);
                block[t * mr + m] = if transpose {
                    w[(s * c_in + o) * kk + kk - 1 - tap]
                } else {
                    w[(o * c_in + s) * kk + tap]
                };
            }
        }
    }
}

/// Offsets of the taps (plane, ky, kx) into one image's `n_src` padded planes.
pub fn tap_offsets(g: Geom, n_src: usize, dst: &mut Vec<usize>) {
    dst.clear();
    for s in 0..n_src {
        for ky in 0..g.k {
            for kx in 0..g.k {
                dst.push(s * g.padded() + ky * g.wp() + kx);
            }
        }
    }
}

/// Register tile (output channels, vectors of pixels) of the convolution on each unit: 16 accumulators of AVX-512's
/// 32 registers (8 of AVX2's 16). Four channels waste no lanes on the quick network's 4-channel layers and run the
/// paper's as fast as 8 x 3 did (measured on Zen 4); four vectors are a whole 64-pixel row.
pub fn tile(isa: Isa) -> (usize, usize) {
    match isa {
        Isa::Avx512 => (4, 4),
        Isa::Avx2 => (4, 2),
        Isa::Scalar => (4, 1),
    }
}

/// One convolution over a batch: out[b][o] = (ReLU of) bias[o] + sum over taps of the packed weights times the
/// padded planes of image b.
#[derive(Clone, Copy)]
pub struct Conv<'a> {
    pub g: Geom,
    /// Planes per image in `src`, and output planes per image.
    pub n_src: usize,
    pub n_out: usize,
    /// The register tile (`tile`); `wpk` is packed for its channel count.
    pub tile: (usize, usize),
    /// Padded planes [batch][n_src].
    pub src: &'a [f32],
    pub offs: &'a [usize],
    pub wpk: &'a [f32],
    pub bias: Option<&'a [f32]>,
    pub relu: bool,
}

/// Runs `c` on `batch` images into `out` [batch][n_out][h][w], in parallel over (image, channel block, band of
/// rows). Every output is the same sum in the same order whatever the split, so the result does not depend on
/// the thread count.
pub fn conv(isa: Isa, c: &Conv, batch: usize, out: &mut [f32]) {
    let (mr, _) = c.tile;
    let blocks = c.n_out.div_ceil(mr);
    assert!(c.src.len() >= batch * c.n_src * c.g.padded());
    assert!(c.offs.len() == c.n_src * c.g.k * c.g.k);
    assert!(c.wpk.len() >= blocks * c.offs.len() * mr);
    assert!(c.bias.is_none_or(|b| b.len() >= c.n_out));
    assert!(out.len() >= batch * c.n_out * c.g.hw());
    // enough tasks to balance the threads, bands of at least 4 rows
    let want = 4 * rayon::current_num_threads();
    let bands = want
        .div_ceil(batch * blocks)
        .clamp(1, c.g.h.div_ceil(4).max(1));
    let rows = c.g.h.div_ceil(bands);
    let bands = c.g.h.div_ceil(rows);
    let ptr = SyncPtr(out.as_mut_ptr());
    (0..batch * blocks * bands).into_par_iter().for_each(|j| {
        let (b, cb, band) = (j / (blocks * bands), (j / bands) % blocks, j % bands);
        let y0 = band * rows;
        let y1 = (y0 + rows).min(c.g.h);
        // SAFETY: the task writes rows y0..y1 of channels cb * mr .. of image b, which no other task writes
        unsafe { conv_task(isa, c, b, cb, (y0, y1), ptr) };
    });
}

dispatch! {
    /// One task of `conv`.
    ///
    /// # Safety
    /// `out` must address the batch's output planes (checked by `conv`), and no other thread may write rows
    /// `rows` of block `cb` of image `b`.
    unsafe fn conv_task(c: &Conv, b: usize, cb: usize, rows: (usize, usize), out: SyncPtr) => conv_task_body
}

/// # Safety
/// As `conv_task`.
#[inline(always)]
unsafe fn conv_task_body<S: Simd>(
    c: &Conv,
    b: usize,
    cb: usize,
    rows: (usize, usize),
    out: SyncPtr,
) {
    match c.tile {
        (8, 3) => conv_rows::<S, 8, 3>(c, b, cb, rows, out),
        (8, 2) => conv_rows::<S, 8, 2>(c, b, cb, rows, out),
        (4, 4) => conv_rows::<S, 4, 4>(c, b, cb, rows, out),
        (4, 2) => conv_rows::<S, 4, 2>(c, b, cb, rows, out),
        (16, 1) => conv_rows::<S, 16, 1>(c, b, cb, rows, out),
        (4, 1) => conv_rows::<S, 4, 1>(c, b, cb, rows, out),
        (mr, nv) => panic!("no convolution tile of {mr} channels x {nv} vectors"),
    }
}

/// # Safety
/// As `conv_task`.
#[inline(always)]
unsafe fn conv_rows<S: Simd, const MR: usize, const NV: usize>(
    c: &Conv,
    b: usize,
    cb: usize,
    (y0, y1): (usize, usize),
    out: SyncPtr,
) {
    let g = c.g;
    let (w, wp, hw) = (g.w, g.wp(), g.hw());
    let nm = MR.min(c.n_out - cb * MR);
    let taps = c.offs.len();
    let wpk = c.wpk[cb * taps * MR..][..taps * MR].as_ptr();
    let mut bias = [0.0f32; MR];
    if let Some(bs) = c.bias {
        bias[..nm].copy_from_slice(&bs[cb * MR..cb * MR + nm]);
    }
    let src = c.src[b * c.n_src * g.padded()..].as_ptr();
    let plane0 = (b * c.n_out + cb * MR) * hw;
    for y in y0..y1 {
        // SAFETY: `conv` checked the lengths: every tap of a pixel x < w reads inside the image's padded planes
        // (offset + y * wp + x < n_src * padded), and row y of the block's nm planes is inside `out`
        unsafe {
            let srow = src.add(y * wp);
            let orow: [*mut f32; MR] =
                std::array::from_fn(|m| out.at(plane0 + m.min(nm - 1) * hw + y * w));
            let mut x = 0;
            while x + NV * S::LANES <= w {
                tile_at::<S, MR, NV>(srow.add(x), c.offs, wpk, &bias, &orow, x, nm, c.relu);
                x += NV * S::LANES;
            }
            while x + S::LANES <= w {
                tile_at::<S, MR, 1>(srow.add(x), c.offs, wpk, &bias, &orow, x, nm, c.relu);
                x += S::LANES;
            }
            while x < w {
                tile_at::<Scalar, MR, 1>(srow.add(x), c.offs, wpk, &bias, &orow, x, nm, c.relu);
                x += 1;
            }
        }
    }
}

/// MR output channels x NV vectors of pixels from column x: bias, then every tap in order.
///
/// # Safety
/// `src + offs[t] .. + NV * LANES` must be readable for every tap, `wpk` must hold taps x MR weights, and
/// `orow[m] + x .. + NV * LANES` writable for m < nm.
#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
pub(crate) unsafe fn tile_at<S: Simd, const MR: usize, const NV: usize>(
    src: *const f32,
    offs: &[usize],
    wpk: *const f32,
    bias: &[f32; MR],
    orow: &[*mut f32; MR],
    x: usize,
    nm: usize,
    relu: bool,
) {
    unsafe {
        let mut acc = [[S::zero(); NV]; MR];
        for m in 0..MR {
            let bv = S::splat(bias[m]);
            for a in &mut acc[m] {
                *a = bv;
            }
        }
        for (t, &o) in offs.iter().enumerate() {
            let p = src.add(o);
            // loops, not array::from_fn: a closure might be compiled outside the unit's target feature
            let mut xs = [S::zero(); NV];
            for (v, x) in xs.iter_mut().enumerate() {
                *x = S::load(p.add(v * S::LANES));
            }
            let wt = wpk.add(t * MR);
            for m in 0..MR {
                let wv = S::splat(*wt.add(m));
                for v in 0..NV {
                    acc[m][v] = S::fma(wv, xs[v], acc[m][v]);
                }
            }
        }
        let zero = S::zero();
        for m in 0..nm {
            for v in 0..NV {
                let r = if relu {
                    S::max(acc[m][v], zero)
                } else {
                    acc[m][v]
                };
                S::store(orow[m].add(x + v * S::LANES), r);
            }
        }
    }
}

/// Output channels per task of the weight gradient on each unit (x the kernel's k taps of a row in registers).
pub fn wgrad_channels(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 => 4,
        Isa::Avx2 => 2,
        Isa::Scalar => 2,
    }
}

/// The weight gradient of one convolution over a batch, per image: part[b][block][ci][m][tap] = sum over the
/// pixels of image b of gout[b][block * mc + m] times the padded input plane ci shifted by the tap.
#[derive(Clone, Copy)]
pub struct WGrad<'a> {
    pub g: Geom,
    pub c_in: usize,
    pub c_out: usize,
    /// Output channels per task (`wgrad_channels`).
    pub mc: usize,
    /// Padded input planes [batch][c_in].
    pub src: &'a [f32],
    /// Output gradient [batch][c_out][h][w].
    pub gout: &'a [f32],
}

impl WGrad<'_> {
    /// Elements of one image's partial sums.
    pub fn part_len(&self) -> usize {
        self.c_out.div_ceil(self.mc) * self.c_in * self.mc * self.g.k * self.g.k
    }
}

/// The per-image partial sums of `wg` into `part` (`part_len` per image), in parallel over (image, channel
/// block, input plane); each sum runs in a fixed order.
pub fn wgrad(isa: Isa, wg: &WGrad, batch: usize, part: &mut [f32]) {
    let (g, mc) = (wg.g, wg.mc);
    let chunk = mc * g.k * g.k;
    assert!(wg.src.len() >= batch * wg.c_in * g.padded());
    assert!(wg.gout.len() >= batch * wg.c_out * g.hw());
    let blocks = wg.c_out.div_ceil(mc);
    part[..batch * wg.part_len()]
        .par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(j, out)| {
            let (b, cb, ci) = (j / (blocks * wg.c_in), (j / wg.c_in) % blocks, j % wg.c_in);
            wgrad_task(isa, wg, b, cb, ci, out);
        });
}

dispatch! {
    /// One task of `wgrad`: out[m][tap] for the block's channels and input plane ci of image b.
    pub fn wgrad_task(wg: &WGrad, b: usize, cb: usize, ci: usize, out: &mut [f32]) => wgrad_task_body
}

#[inline(always)]
fn wgrad_task_body<S: Simd>(wg: &WGrad, b: usize, cb: usize, ci: usize, out: &mut [f32]) {
    match (wg.mc, wg.g.k) {
        (4, 5) => wgrad_rows::<S, 4, 5, 5>(wg, b, cb, ci, out),
        (4, 3) => wgrad_rows::<S, 4, 3, 3>(wg, b, cb, ci, out),
        (4, _) => wgrad_rows::<S, 4, 1, 7>(wg, b, cb, ci, out),
        (2, 5) => wgrad_rows::<S, 2, 5, 5>(wg, b, cb, ci, out),
        (2, 3) => wgrad_rows::<S, 2, 3, 3>(wg, b, cb, ci, out),
        (2, _) => wgrad_rows::<S, 2, 1, 7>(wg, b, cb, ci, out),
        (mc, _) => panic!("no weight-gradient tile of {mc} channels"),
    }
}

/// Rows per band of the weight gradient: a band's gradient rows (MC of them) and padded input rows stay in L1 while
/// every (ky, kx) block sweeps them.
const WGRAD_BAND: usize = 8;

/// For every ky and every block of KW taps kx0..kx0 + KW (k x k / KW blocks, NB at a time): MC x KW sums over the
/// image's pixels, each a vector of partial sums over x (a scalar one for the columns past the last whole vector)
/// added up at the end. The rows go in bands, each swept by the group's NB blocks while it is in L1; every sum
/// adds its terms in row order whatever the band.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn wgrad_rows<S: Simd, const MC: usize, const KW: usize, const NB: usize>(
    wg: &WGrad,
    b: usize,
    cb: usize,
    ci: usize,
    out: &mut [f32],
) {
    let g = wg.g;
    let (h, w, wp, k, hw) = (g.h, g.w, g.wp(), g.k, g.hw());
    let kk = k * k;
    assert!(out.len() >= MC * kk && k.is_multiple_of(KW));
    let nm = MC.min(wg.c_out - cb * MC);
    // a short last block repeats its last channel and drops the sums
    let gp: [&[f32]; MC] =
        std::array::from_fn(|m| &wg.gout[(b * wg.c_out + cb * MC + m.min(nm - 1)) * hw..][..hw]);
    let src = &wg.src[(b * wg.c_in + ci) * g.padded()..][..g.padded()];
    let xv = w / S::LANES * S::LANES;
    let per_row = k / KW;
    let blocks = k * per_row;
    for j0 in (0..blocks).step_by(NB) {
        let group = j0..(j0 + NB).min(blocks);
        // SAFETY: no precondition beyond the unit, present inside the dispatch
        let mut acc = [[[unsafe { S::zero() }; KW]; MC]; NB];
        let mut tail = [[[0.0f32; KW]; MC]; NB];
        for y0 in (0..h).step_by(WGRAD_BAND) {
            let y1 = (y0 + WGRAD_BAND).min(h);
            for j in group.clone() {
                let (ky, kx0) = (j / per_row, (j % per_row) * KW);
                let (a, t) = (&mut acc[j - j0], &mut tail[j - j0]);
                // SAFETY: rows y + ky < hp of the padded plane hold wp >= x + kx + LANES elements for x < xv, and
                // the gradient rows hold w >= x + LANES
                unsafe {
                    let mut av = *a;
                    for y in y0..y1 {
                        let srow = src[(y + ky) * wp + kx0..].as_ptr();
                        let grow: [*const f32; MC] =
                            std::array::from_fn(|m| gp[m][y * w..].as_ptr());
                        let mut x = 0;
                        while x < xv {
                            let mut gv = [S::zero(); MC];
                            for (m, v) in gv.iter_mut().enumerate() {
                                *v = S::load(grow[m].add(x));
                            }
                            for kx in 0..KW {
                                let s = S::load(srow.add(x + kx));
                                for m in 0..MC {
                                    av[m][kx] = S::fma(gv[m], s, av[m][kx]);
                                }
                            }
                            x += S::LANES;
                        }
                        for x in xv..w {
                            for kx in 0..KW {
                                let s = *srow.add(x + kx);
                                for m in 0..MC {
                                    t[m][kx] += *grow[m].add(x) * s;
                                }
                            }
                        }
                    }
                    *a = av;
                }
            }
        }
        for j in group {
            let (ky, kx0) = (j / per_row, (j % per_row) * KW);
            for m in 0..MC {
                for kx in 0..KW {
                    // SAFETY: as above
                    let v = unsafe { S::sum(acc[j - j0][m][kx]) };
                    out[m * kk + ky * k + kx0 + kx] = v + tail[j - j0][m][kx];
                }
            }
        }
    }
}

/// grads[(co * c_in + ci) * kk + tap] = the sum over the batch of the per-image partial sums (in f64, images in
/// order), and the bias gradient from the per-image channel sums `bias_part` [batch][c_out].
pub fn wgrad_reduce(
    wg: &WGrad,
    batch: usize,
    part: &[f32],
    bias_part: &[f32],
    gw: &mut [f32],
    gb: &mut [f32],
) {
    let (c_in, mc, kk) = (wg.c_in, wg.mc, wg.g.k * wg.g.k);
    let blocks = wg.c_out.div_ceil(mc);
    let per = wg.part_len();
    gw[..wg.c_out * c_in * kk]
        .par_chunks_mut(c_in * kk)
        .enumerate()
        .for_each(|(co, row)| {
            let (cb, m) = (co / mc, co % mc);
            for (ci, taps) in row.chunks_exact_mut(kk).enumerate() {
                let at = ((cb * c_in + ci) * mc + m) * kk;
                for (t, v) in taps.iter_mut().enumerate() {
                    let s: f64 = (0..batch).map(|b| part[b * per + at + t] as f64).sum();
                    *v = s as f32;
                }
            }
        });
    debug_assert_eq!(per, blocks * c_in * mc * kk);
    for (co, v) in gb[..wg.c_out].iter_mut().enumerate() {
        let s: f64 = (0..batch)
            .map(|b| bias_part[b * wg.c_out + co] as f64)
            .sum();
        *v = s as f32;
    }
}
