//! Dense layers of the f32 backend over the whole batch, so that each weight is read once per batch, not once
//! per image. The input and weight gradients are sums over a short axis (the outputs, the batch): column GEMMs
//! on the convolutions' register tile (`conv::tile_at`, that axis as its taps) over fixed chunks of columns. The
//! forward pass sums over the long input axis: tiles of batch rows x output rows with the inputs in vector lanes,
//! over fixed chunks whose partial sums are added in order. Chunks have fixed sizes, so results do not depend on
//! the thread count.

use rayon::prelude::*;

use super::conv::{self, tile_at};
use super::simd::{dispatch, Isa, Scalar, Simd};
use super::SyncPtr;

/// Columns per task of the column GEMMs.
const KC: usize = 1024;
/// Inputs per task of the forward pass.
const FC: usize = 4096;
/// Batch rows x output rows of the forward pass's register tile.
const FB: usize = 4;
const FO: usize = 4;

/// Register tile (rows, vectors of columns) of the column GEMMs on each unit: 24 of AVX-512's accumulators (12 %
/// faster than 4 x 4 on fc1's input gradient, Zen 4).
fn tile(isa: Isa) -> (usize, usize) {
    match isa {
        Isa::Avx512 => (8, 3),
        other => conv::tile(other),
    }
}

/// Packed operands of a column GEMM (reused between calls).
#[derive(Default)]
pub struct Packed {
    wpk: Vec<f32>,
    offs: Vec<usize>,
}

/// C[r][j] = sum over t of A(r, t) B[t][j] for r < rows, j < n: A small (rows x taps, element (r, t) at
/// a[r * sa.0 + t * sa.1]), B taps x n with row stride ldb, C rows x n with row stride ldc. In parallel over (chunk
/// of KC columns, block of tile rows), chunk-major so that a chunk of B is reused from cache by its blocks.
#[allow(clippy::too_many_arguments)]
pub fn column_gemm(
    isa: Isa,
    (rows, taps, n): (usize, usize, usize),
    (a, sa): (&[f32], (usize, usize)),
    (b, ldb): (&[f32], usize),
    (c, ldc): (&mut [f32], usize),
    pk: &mut Packed,
) {
    if rows == 0 || n == 0 {
        return;
    }
    let tile = tile(isa);
    let mr = tile.0;
    let blocks = rows.div_ceil(mr);
    assert!(taps > 0 && a.len() > (rows - 1) * sa.0 + (taps - 1) * sa.1);
    assert!(ldb >= n && b.len() >= (taps - 1) * ldb + n);
    assert!(ldc >= n && c.len() >= (rows - 1) * ldc + n);
    pk.wpk.clear();
    pk.wpk.resize(blocks * taps * mr, 0.0);
    for (blk, block) in pk.wpk.chunks_exact_mut(taps * mr).enumerate() {
        for m in 0..mr.min(rows - blk * mr) {
            for t in 0..taps {
                block[t * mr + m] = a[(blk * mr + m) * sa.0 + t * sa.1];
            }
        }
    }
    pk.offs.clear();
    pk.offs.extend((0..taps).map(|t| t * ldb));
    let (wpk, offs) = (&pk.wpk[..], &pk.offs[..]);
    let out = SyncPtr(c.as_mut_ptr());
    let chunks = n.div_ceil(KC);
    (0..chunks * blocks).into_par_iter().for_each(|j| {
        let (ch, blk) = (j / blocks, j % blocks);
        let cols = (ch * KC, ((ch + 1) * KC).min(n));
        let job = Columns {
            tile,
            b,
            offs,
            wpk: &wpk[blk * taps * mr..][..taps * mr],
            rows: (blk * mr, mr.min(rows - blk * mr)),
            ldc,
        };
        // SAFETY: the asserts above keep every read inside `b` and every write inside `c`; the task writes
        // columns `cols` of its block's rows, which no other task writes
        unsafe { column_task(isa, &job, cols, out) };
    });
}

/// One block of rows of a column GEMM.
struct Columns<'a> {
    tile: (usize, usize),
    b: &'a [f32],
    offs: &'a [usize],
    /// The block's packed A: [tap][mr].
    wpk: &'a [f32],
    /// First row and rows in the block.
    rows: (usize, usize),
    ldc: usize,
}

dispatch! {
    /// Columns `cols` of one block of rows.
    ///
    /// # Safety
    /// As `column_gemm` checks: `out` is C, and no other thread writes these columns of these rows.
    unsafe fn column_task(job: &Columns, cols: (usize, usize), out: SyncPtr) => column_task_body
}

/// # Safety
/// As `column_task`.
#[inline(always)]
unsafe fn column_task_body<S: Simd>(job: &Columns, cols: (usize, usize), out: SyncPtr) {
    // SAFETY: forwarded
    unsafe {
        match job.tile {
            (8, 3) => columns::<S, 8, 3>(job, cols, out),
            (4, 2) => columns::<S, 4, 2>(job, cols, out),
            (4, 1) => columns::<S, 4, 1>(job, cols, out),
            (mr, nv) => panic!("no column tile of {mr} rows x {nv} vectors"),
        }
    }
}

/// # Safety
/// As `column_task`.
#[inline(always)]
unsafe fn columns<S: Simd, const MR: usize, const NV: usize>(
    job: &Columns,
    (x0, x1): (usize, usize),
    out: SyncPtr,
) {
    let (r0, nm) = job.rows;
    let orow: [*mut f32; MR] = std::array::from_fn(|m| out.at((r0 + m.min(nm - 1)) * job.ldc));
    let zero = [0.0f32; MR];
    let src = job.b.as_ptr();
    let wpk = job.wpk.as_ptr();
    let mut x = x0;
    // SAFETY: tap t's row holds columns up to x1 <= n; the block's rows of C likewise
    unsafe {
        while x + NV * S::LANES <= x1 {
            tile_at::<S, MR, NV>(src.add(x), job.offs, wpk, &zero, &orow, x, nm, false);
            x += NV * S::LANES;
        }
        while x + S::LANES <= x1 {
            tile_at::<S, MR, 1>(src.add(x), job.offs, wpk, &zero, &orow, x, nm, false);
            x += S::LANES;
        }
        while x < x1 {
            tile_at::<Scalar, MR, 1>(src.add(x), job.offs, wpk, &zero, &orow, x, nm, false);
            x += 1;
        }
    }
}

/// gin[b][i] = sum_o gout[b][o] w[o][i].
pub fn backward_input(
    isa: Isa,
    (batch, n_in, n_out): (usize, usize, usize),
    w: &[f32],
    gout: &[f32],
    gin: &mut [f32],
    pk: &mut Packed,
) {
    column_gemm(
        isa,
        (batch, n_out, n_in),
        (gout, (n_out, 1)),
        (w, n_in),
        (gin, n_in),
        pk,
    );
}

/// gw[o][i] = sum_b gout[b][o] x[b][i], and gb[o] = sum_b gout[b][o] (batch in order).
#[allow(clippy::too_many_arguments)]
pub fn backward_weight(
    isa: Isa,
    (batch, n_in, n_out): (usize, usize, usize),
    x: &[f32],
    gout: &[f32],
    gw: &mut [f32],
    gb: &mut [f32],
    pk: &mut Packed,
) {
    column_gemm(
        isa,
        (n_out, batch, n_in),
        (gout, (1, n_out)),
        (x, n_in),
        (gw, n_in),
        pk,
    );
    for (o, g) in gb[..n_out].iter_mut().enumerate() {
        *g = (0..batch).map(|b| gout[b * n_out + o]).sum();
    }
}

/// Scratch elements `forward` needs.
pub fn forward_scratch(batch: usize, n_in: usize, n_out: usize) -> usize {
    n_in.div_ceil(FC) * batch * n_out
}

/// out[b][o] = (ReLU of) bias[o] + sum_i w[o][i] x[b][i]: per chunk of FC inputs the partial sums into `part`,
/// then the bias and the chunks added in order.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    isa: Isa,
    (batch, n_in, n_out): (usize, usize, usize),
    w: &[f32],
    bias: &[f32],
    relu: bool,
    x: &[f32],
    part: &mut [f32],
    out: &mut [f32],
) {
    assert!(w.len() >= n_out * n_in && bias.len() >= n_out && x.len() >= batch * n_in);
    assert!(out.len() >= batch * n_out);
    let chunks = n_in.div_ceil(FC);
    let bo = batch * n_out;
    part[..chunks * bo]
        .par_chunks_mut(bo.max(1))
        .enumerate()
        .for_each(|(c, p)| {
            let cols = (c * FC, ((c + 1) * FC).min(n_in));
            dot_chunk(isa, (batch, n_in, n_out), x, w, cols, p);
        });
    for (j, o) in out[..bo].iter_mut().enumerate() {
        let mut s = bias[j % n_out];
        for c in 0..chunks {
            s += part[c * bo + j];
        }
        *o = if relu { s.max(0.0) } else { s };
    }
}

dispatch! {
    /// p[b][o] = sum over inputs i0..i1 of x[b][i] w[o][i].
    fn dot_chunk(
        dims: (usize, usize, usize),
        x: &[f32],
        w: &[f32],
        cols: (usize, usize),
        p: &mut [f32],
    ) => dot_chunk_body
}

#[inline(always)]
fn dot_chunk_body<S: Simd>(
    (batch, n_in, n_out): (usize, usize, usize),
    x: &[f32],
    w: &[f32],
    (i0, i1): (usize, usize),
    p: &mut [f32],
) {
    let iv = i0 + (i1 - i0) / S::LANES * S::LANES;
    for o0 in (0..n_out).step_by(FO) {
        // a short block repeats its last row and drops its sums
        let wr: [&[f32]; FO] =
            std::array::from_fn(|r| &w[(o0 + r).min(n_out - 1) * n_in..][..n_in]);
        for b0 in (0..batch).step_by(FB) {
            let xr: [&[f32]; FB] =
                std::array::from_fn(|r| &x[(b0 + r).min(batch - 1) * n_in..][..n_in]);
            // SAFETY: loads at i < iv <= i1 <= n_in, LANES wide, inside the rows
            let sums = unsafe {
                let mut acc = [[S::zero(); FO]; FB];
                let mut i = i0;
                while i < iv {
                    let mut wv = [S::zero(); FO];
                    for (r, v) in wv.iter_mut().enumerate() {
                        *v = S::load(wr[r].as_ptr().add(i));
                    }
                    for (bb, row) in acc.iter_mut().enumerate() {
                        let xv = S::load(xr[bb].as_ptr().add(i));
                        for (a, &wvr) in row.iter_mut().zip(&wv) {
                            *a = S::fma(xv, wvr, *a);
                        }
                    }
                    i += S::LANES;
                }
                let mut sums = [[0.0f32; FO]; FB];
                for bb in 0..FB {
                    for r in 0..FO {
                        let tail: f32 = (iv..i1).map(|i| xr[bb][i] * wr[r][i]).sum();
                        sums[bb][r] = S::sum(acc[bb][r]) + tail;
                    }
                }
                sums
            };
            for (bb, row) in sums.iter().enumerate().take(batch - b0) {
                for (r, &v) in row.iter().enumerate().take(n_out - o0) {
                    p[(b0 + bb) * n_out + o0 + r] = v;
                }
            }
        }
    }
}
