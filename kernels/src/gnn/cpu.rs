//! CPU twins of the graph-network layers, forward and backward, generic over the float type (`Real`: f64 is the
//! reference the GPU kernels and finite differences are checked against; f32 is the training path). Rows run in
//! parallel with rayon; every sum runs in one fixed order (CSR order for segments, fixed row chunks for GEMMs and
//! weight gradients), so results do not depend on the thread count. Matrices are row-major: edge or node rows of
//! `width` values; Linear weights [n_out, n_in]. Linear layers are strided GEMMs (`matrixmultiply`).

use num_traits::{Float, NumAssign};
use rayon::prelude::*;

/// Rows per task of the weight-gradient reduction: fixed, so the partial sums are the same on any machine.
const GRAD_CHUNK: usize = 2048;
/// Rows per task of the row-parallel GEMMs (each row's result does not depend on the chunking).
const ROW_CHUNK: usize = 512;
/// Layers with a side narrower than this (v_a: 1 output, W_i: 3 inputs, ffn2: 2 outputs) run as plain loops: a
/// GEMM would spend most of its time packing a matrix that each element of is used once or twice.
const SMALL: usize = 8;

/// The float types the twin runs in.
pub trait Real:
    Float + NumAssign + std::iter::Sum + Send + Sync + Default + std::fmt::Debug + 'static
{
    /// C = alpha A B + beta C for an m x k A and a k x n B, each with a row and a column stride.
    ///
    /// # Safety
    /// The strides and sizes must address elements inside the slices' allocations (`gemm` checks this).
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        sa: (isize, isize),
        b: *const Self,
        sb: (isize, isize),
        beta: Self,
        c: *mut Self,
        sc: (isize, isize),
    );
    fn of(x: f64) -> Self;
    fn f64(self) -> f64;
}

impl Real for f64 {
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        a: *const f64,
        (rsa, csa): (isize, isize),
        b: *const f64,
        (rsb, csb): (isize, isize),
        beta: f64,
        c: *mut f64,
        (rsc, csc): (isize, isize),
    ) {
        // SAFETY: forwarded from the caller's contract
        unsafe { matrixmultiply::dgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }
    fn of(x: f64) -> f64 {
        x
    }
    fn f64(self) -> f64 {
        self
    }
}

impl Real for f32 {
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        a: *const f32,
        (rsa, csa): (isize, isize),
        b: *const f32,
        (rsb, csb): (isize, isize),
        beta: f32,
        c: *mut f32,
        (rsc, csc): (isize, isize),
    ) {
        // SAFETY: forwarded from the caller's contract
        unsafe { matrixmultiply::sgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }
    fn of(x: f64) -> f32 {
        x as f32
    }
    fn f64(self) -> f64 {
        self as f64
    }
}

/// Last element addressed by an m x n matrix with strides (rs, cs), plus one (0 for an empty matrix).
fn extent(m: usize, n: usize, (rs, cs): (usize, usize)) -> usize {
    if m == 0 || n == 0 {
        0
    } else {
        (m - 1) * rs + (n - 1) * cs + 1
    }
}

/// C = A B + beta C with bounds checked: A is m x k with strides `sa`, B k x n with `sb`, C m x n with `sc`.
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Real>(
    (m, k, n): (usize, usize, usize),
    a: &[T],
    sa: (usize, usize),
    b: &[T],
    sb: (usize, usize),
    beta: T,
    c: &mut [T],
    sc: (usize, usize),
) {
    assert!(a.len() >= extent(m, k, sa), "gemm: A too short");
    assert!(b.len() >= extent(k, n, sb), "gemm: B too short");
    assert!(c.len() >= extent(m, n, sc), "gemm: C too short");
    // C's strides must not alias: row-major or column-major with the full extent
    assert!(
        m <= 1 || n <= 1 || (sc.0 >= n * sc.1 && sc.1 >= 1) || (sc.1 >= m * sc.0 && sc.0 >= 1),
        "gemm: C strides alias"
    );
    if m == 0 || n == 0 {
        return;
    }
    let s = |x: (usize, usize)| (x.0 as isize, x.1 as isize);
    // SAFETY: the asserts above keep every addressed element inside the slices, and C's elements are distinct
    unsafe {
        T::gemm_raw(
            m,
            k,
            n,
            a.as_ptr(),
            s(sa),
            b.as_ptr(),
            s(sb),
            beta,
            c.as_mut_ptr(),
            s(sc),
        )
    }
}

/// Runs `f(row, out_row)` over the `width`-wide rows of `out`, in parallel by fixed chunks of rows (one task per
/// chunk, not per row: the per-row closures are a few dozen flops).
pub fn for_rows<T: Real>(out: &mut [T], width: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    let w = width.max(1);
    out.par_chunks_mut(ROW_CHUNK * w)
        .enumerate()
        .for_each(|(c, chunk)| {
            for (i, row) in chunk.chunks_mut(w).enumerate() {
                f(c * ROW_CHUNK + i, row);
            }
        });
}

/// y[r] = W x[r] (+ b), then ReLU when `relu`. x: [rows, n_in], y: [rows, n_out].
pub fn gnn_linear<T: Real>(
    n_in: usize,
    n_out: usize,
    w: &[T],
    b: Option<&[T]>,
    relu: bool,
    x: &[T],
    y: &mut [T],
) {
    let (ni, no) = (n_in.max(1), n_out.max(1));
    if n_in.min(n_out) < SMALL {
        return for_rows(y, n_out, |r, yr| {
            let xr = &x[r * n_in..(r + 1) * n_in];
            for (o, yo) in yr.iter_mut().enumerate() {
                let dot: T = xr
                    .iter()
                    .zip(&w[o * n_in..(o + 1) * n_in])
                    .map(|(&a, &b)| a * b)
                    .sum();
                let v = dot + b.map_or(T::zero(), |b| b[o]);
                *yo = if relu { v.max(T::zero()) } else { v };
            }
        });
    }
    y.par_chunks_mut(ROW_CHUNK * no)
        .zip(x.par_chunks(ROW_CHUNK * ni))
        .for_each(|(yc, xc)| {
            let rows = yc.len() / no;
            let beta = match b {
                Some(b) => {
                    for yr in yc.chunks_mut(no) {
                        yr.copy_from_slice(&b[..n_out]);
                    }
                    T::one()
                }
                None => T::zero(),
            };
            // y = x W^T: W^T[i][o] = w[o * n_in + i]
            gemm(
                (rows, n_in, n_out),
                xc,
                (n_in, 1),
                w,
                (1, n_in),
                beta,
                yc,
                (n_out, 1),
            );
            if relu {
                for v in yc.iter_mut() {
                    *v = v.max(T::zero());
                }
            }
        });
}

/// y[r] += W x[r], then ReLU when `relu` (a skip connection added in the GEMM).
pub fn gnn_linear_acc<T: Real>(
    n_in: usize,
    n_out: usize,
    w: &[T],
    relu: bool,
    x: &[T],
    y: &mut [T],
) {
    let (ni, no) = (n_in.max(1), n_out.max(1));
    y.par_chunks_mut(ROW_CHUNK * no)
        .zip(x.par_chunks(ROW_CHUNK * ni))
        .for_each(|(yc, xc)| {
            let rows = yc.len() / no;
            gemm(
                (rows, n_in, n_out),
                xc,
                (n_in, 1),
                w,
                (1, n_in),
                T::one(),
                yc,
                (n_out, 1),
            );
            if relu {
                for v in yc.iter_mut() {
                    *v = v.max(T::zero());
                }
            }
        });
}

/// dx[r] = W^T dy[r] (overwrites dx).
pub fn gnn_linear_backward_input<T: Real>(
    n_in: usize,
    n_out: usize,
    w: &[T],
    dy: &[T],
    dx: &mut [T],
) {
    let (ni, no) = (n_in.max(1), n_out.max(1));
    if n_in.min(n_out) < SMALL {
        return for_rows(dx, n_in, |r, d| {
            d.fill(T::zero());
            for (o, &g) in dy[r * n_out..(r + 1) * n_out].iter().enumerate() {
                for (a, &wv) in d.iter_mut().zip(&w[o * n_in..(o + 1) * n_in]) {
                    *a += g * wv;
                }
            }
        });
    }
    dx.par_chunks_mut(ROW_CHUNK * ni)
        .zip(dy.par_chunks(ROW_CHUNK * no))
        .for_each(|(dxc, dyc)| {
            let rows = dxc.len() / ni;
            gemm(
                (rows, n_out, n_in),
                dyc,
                (n_out, 1),
                w,
                (n_in, 1),
                T::zero(),
                dxc,
                (n_in, 1),
            );
        });
}

/// gw += sum_r dy[r] x[r]^T and gb += sum_r dy[r] (accumulates, so shared weights sum over their uses).
pub fn gnn_linear_backward_weight<T: Real>(
    n_in: usize,
    n_out: usize,
    x: &[T],
    dy: &[T],
    gw: &mut [T],
    gb: Option<&mut [T]>,
) {
    let rows = dy.len() / n_out.max(1);
    let want_b = gb.is_some();
    let parts: Vec<Vec<T>> = (0..rows.div_ceil(GRAD_CHUNK))
        .into_par_iter()
        .map(|c| {
            let (r0, r1) = (c * GRAD_CHUNK, ((c + 1) * GRAD_CHUNK).min(rows));
            let mut acc = vec![T::zero(); n_out * n_in + n_out];
            if n_in.min(n_out) < SMALL {
                // a thin layer (v_a, W_i, ffn2): plain loops, the inner one over the wider side
                for r in r0..r1 {
                    let (xr, dr) = (
                        &x[r * n_in..(r + 1) * n_in],
                        &dy[r * n_out..(r + 1) * n_out],
                    );
                    for (o, &g) in dr.iter().enumerate() {
                        for (a, &xi) in acc[o * n_in..(o + 1) * n_in].iter_mut().zip(xr) {
                            *a += g * xi;
                        }
                    }
                }
            } else {
                // dW = dy^T x over this chunk: dy^T[o][r] = dy[r * n_out + o]
                gemm(
                    (n_out, r1 - r0, n_in),
                    &dy[r0 * n_out..r1 * n_out],
                    (1, n_out),
                    &x[r0 * n_in..r1 * n_in],
                    (n_in, 1),
                    T::zero(),
                    &mut acc[..n_out * n_in],
                    (n_in, 1),
                );
            }
            if want_b {
                let (_, gbc) = acc.split_at_mut(n_out * n_in);
                for r in r0..r1 {
                    for (a, &g) in gbc.iter_mut().zip(&dy[r * n_out..(r + 1) * n_out]) {
                        *a += g;
                    }
                }
            }
            acc
        })
        .collect();
    for p in &parts {
        for (a, &v) in gw[..n_out * n_in].iter_mut().zip(p) {
            *a += v;
        }
    }
    if let Some(gb) = gb {
        for p in &parts {
            for (a, &v) in gb[..n_out].iter_mut().zip(&p[n_out * n_in..]) {
                *a += v;
            }
        }
    }
}

/// dy[i] = 0 where the ReLU output y[i] is 0 (the gradient w.r.t. the pre-activation).
pub fn gnn_relu_backward<T: Real>(y: &[T], dy: &mut [T]) {
    dy.par_chunks_mut(ROW_CHUNK * 64)
        .zip(y.par_chunks(ROW_CHUNK * 64))
        .for_each(|(d, y)| {
            for (d, &v) in d.iter_mut().zip(y) {
                if v <= T::zero() {
                    *d = T::zero();
                }
            }
        });
}

/// out[v] = sum of h[e] over the edges e into v, in CSR order.
pub fn gnn_segment_sum<T: Real>(in_ptr: &[u32], width: usize, h: &[T], out: &mut [T]) {
    for_rows(out, width, |v, o| {
        o.fill(T::zero());
        for e in in_ptr[v] as usize..in_ptr[v + 1] as usize {
            for (a, &x) in o.iter_mut().zip(&h[e * width..(e + 1) * width]) {
                *a += x;
            }
        }
    });
}

/// m[e] = s[src e] - h[rev e]: the messages into e's source except the one coming back along e (directed MPNN).
pub fn gnn_reverse_sub<T: Real>(
    src: &[u32],
    rev: &[u32],
    width: usize,
    s: &[T],
    h: &[T],
    m: &mut [T],
) {
    for_rows(m, width, |e, o| {
        let sv = &s[src[e] as usize * width..][..width];
        let hr = &h[rev[e] as usize * width..][..width];
        for ((a, &x), &y) in o.iter_mut().zip(sv).zip(hr) {
            *a = x - y;
        }
    });
}

/// Backward of m = reverse_sub(segment_sum(h), h): ds = `gnn_reverse_sub_backward(dm)`, then dh[e] = ds[dst e] -
/// dm[rev e] (`gnn_reverse_sub` with dst for src). Overwrites dh; all gathers, no scatter.
pub fn gnn_message_backward<T: Real>(
    in_ptr: &[u32],
    dst: &[u32],
    rev: &[u32],
    width: usize,
    dm: &[T],
    dh: &mut [T],
) {
    let nv = in_ptr.len() - 1;
    let mut ds = vec![T::zero(); nv * width];
    gnn_reverse_sub_backward(in_ptr, rev, width, dm, &mut ds);
    gnn_reverse_sub(dst, rev, width, &ds, dm, dh);
}

/// ds[v] = sum of dm[rev e] over the edges e into v, i.e. over the edges out of v (the gradient of m = s[src] -
/// h[rev] with respect to s), in CSR order.
pub fn gnn_reverse_sub_backward<T: Real>(
    in_ptr: &[u32],
    rev: &[u32],
    width: usize,
    dm: &[T],
    ds: &mut [T],
) {
    for_rows(ds, width, |v, o| {
        o.fill(T::zero());
        for &r in &rev[in_ptr[v] as usize..in_ptr[v + 1] as usize] {
            let r = r as usize;
            for (a, &x) in o.iter_mut().zip(&dm[r * width..(r + 1) * width]) {
                *a += x;
            }
        }
    });
}

/// dh[e] = ds[dst e][col..col + width]: the gradient of s = segment_sum(h) with respect to h, read from rows of
/// `col + width` values (the readout input's gradient [d onehot; ds]).
pub fn gnn_segment_sum_backward<T: Real>(
    dst: &[u32],
    col: usize,
    width: usize,
    ds: &[T],
    dh: &mut [T],
) {
    let stride = col + width;
    for_rows(dh, width, |e, d| {
        let v = dst[e] as usize;
        d.copy_from_slice(&ds[v * stride + col..(v + 1) * stride]);
    });
}

/// alpha[e] = n_seg * softmax over the segment of score[e]; segments are `ptr[j]..ptr[j + 1]`. The factor n_seg
/// (the segment's edge count) keeps the mean scale of a message at 1 whatever the graph's size.
pub fn gnn_segment_softmax<T: Real>(ptr: &[u32], score: &[T], alpha: &mut [T]) {
    let mut rest = alpha;
    let mut segs = Vec::new();
    for w in ptr.windows(2) {
        let (a, b) = (w[0] as usize, w[1] as usize);
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(b - a);
        segs.push((a, head));
        rest = tail;
    }
    segs.into_par_iter().for_each(|(a, out)| {
        let sc = &score[a..a + out.len()];
        let m = sc.iter().cloned().fold(T::neg_infinity(), T::max);
        let mut z = T::zero();
        for (o, &s) in out.iter_mut().zip(sc) {
            *o = (s - m).exp();
            z += *o;
        }
        let k = T::of(out.len() as f64) / z;
        for o in out.iter_mut() {
            *o *= k;
        }
    });
}

/// Backward of `gnn_segment_softmax`: dscore[e] = alpha[e] (dalpha[e] - sum_f alpha[f] dalpha[f] / n_seg).
pub fn gnn_segment_softmax_backward<T: Real>(
    ptr: &[u32],
    alpha: &[T],
    dalpha: &[T],
    dscore: &mut [T],
) {
    for w in ptr.windows(2) {
        let (a, b) = (w[0] as usize, w[1] as usize);
        let dot: T = alpha[a..b]
            .iter()
            .zip(&dalpha[a..b])
            .map(|(&x, &y)| x * y)
            .sum();
        let mean = dot / T::of((b - a).max(1) as f64);
        for e in a..b {
            dscore[e] = alpha[e] * (dalpha[e] - mean);
        }
    }
}

/// out[e] = alpha[e] u[e] (one weight per row).
pub fn gnn_scale_rows<T: Real>(width: usize, alpha: &[T], u: &[T], out: &mut [T]) {
    for_rows(out, width, |e, o| {
        for (a, &v) in o.iter_mut().zip(&u[e * width..(e + 1) * width]) {
            *a = alpha[e] * v;
        }
    });
}

/// Backward of `gnn_scale_rows`: dalpha[e] = dout[e] . u[e], du[e] = alpha[e] dout[e].
pub fn gnn_scale_rows_backward<T: Real>(
    width: usize,
    alpha: &[T],
    u: &[T],
    dout: &[T],
    dalpha: &mut [T],
    du: &mut [T],
) {
    for_rows(dalpha, 1, |e, da| {
        da[0] = dout[e * width..(e + 1) * width]
            .iter()
            .zip(&u[e * width..(e + 1) * width])
            .map(|(&a, &b)| a * b)
            .sum();
    });
    for_rows(du, width, |e, d| {
        for (x, &y) in d.iter_mut().zip(&dout[e * width..(e + 1) * width]) {
            *x = alpha[e] * y;
        }
    });
}

/// out[g] = mean of x over the nodes of graph g (`node_ptr`).
pub fn gnn_segment_mean<T: Real>(node_ptr: &[u32], width: usize, x: &[T], out: &mut [T]) {
    out.par_chunks_mut(width.max(1))
        .enumerate()
        .for_each(|(g, o)| {
            let (a, b) = (node_ptr[g] as usize, node_ptr[g + 1] as usize);
            o.fill(T::zero());
            for v in a..b {
                for (s, &y) in o.iter_mut().zip(&x[v * width..(v + 1) * width]) {
                    *s += y;
                }
            }
            let inv = T::one() / T::of((b - a).max(1) as f64);
            for s in o.iter_mut() {
                *s *= inv;
            }
        });
}

/// Backward of `gnn_segment_mean`: dx[v] = dout[graph of v] / nodes of that graph.
pub fn gnn_segment_mean_backward<T: Real>(
    node_ptr: &[u32],
    width: usize,
    dout: &[T],
    dx: &mut [T],
) {
    for g in 0..node_ptr.len() - 1 {
        let (a, b) = (node_ptr[g] as usize, node_ptr[g + 1] as usize);
        let inv = T::one() / T::of((b - a).max(1) as f64);
        for v in a..b {
            for (d, &y) in dx[v * width..(v + 1) * width]
                .iter_mut()
                .zip(&dout[g * width..(g + 1) * width])
            {
                *d = y * inv;
            }
        }
    }
}

/// Edge input features [E, n_species + 1]: the source's species one-hot, then the standardized distance
/// (d - mean) / std.
pub fn gnn_edge_features<T: Real>(
    n_species: usize,
    (mean, std): (f64, f64),
    src: &[u32],
    species: &[u32],
    dist: &[f64],
    out: &mut [T],
) {
    for_rows(out, n_species + 1, |e, o| {
        o.fill(T::zero());
        o[species[src[e] as usize] as usize] = T::one();
        o[n_species] = T::of((dist[e] - mean) / std);
    });
}

/// Readout input [V, n_species + width]: the node's species one-hot, then its incoming message sum s[v].
pub fn gnn_readout_input<T: Real>(
    n_species: usize,
    width: usize,
    species: &[u32],
    s: &[T],
    out: &mut [T],
) {
    for_rows(out, n_species + width, |v, o| {
        o[..n_species].fill(T::zero());
        o[species[v] as usize] = T::one();
        o[n_species..].copy_from_slice(&s[v * width..(v + 1) * width]);
    });
}

/// Dropout mask of `n` elements: 0 or 1 / (1 - p) from the shared hash (`nn::keep`), seeded per layer.
pub fn dropout_mask<T: Real>(seed: u32, n: usize, p: f64) -> Vec<T> {
    let mut out = vec![T::zero(); n];
    dropout_mask_into(seed, p, &mut out);
    out
}

/// `dropout_mask` into `out` (its length is the element count).
pub fn dropout_mask_into<T: Real>(seed: u32, p: f64, out: &mut [T]) {
    let scale = T::of(1.0 / (1.0 - p));
    for_rows(out, 64, |c, o| {
        for (j, x) in o.iter_mut().enumerate() {
            *x = if crate::nn::keep(seed, (c * 64 + j) as u32, p as f32) {
                scale
            } else {
                T::zero()
            };
        }
    });
}

/// x[i] = x[i] / (1 - p) where `nn::keep` keeps element i, else 0: inverted dropout in place, the mask of
/// `dropout_mask` (the same call on the gradient is the backward).
pub fn gnn_dropout<T: Real>(seed: u32, p: f64, x: &mut [T]) {
    let scale = T::of(1.0 / (1.0 - p));
    for_rows(x, 64, |c, o| {
        for (j, v) in o.iter_mut().enumerate() {
            *v = if crate::nn::keep(seed, (c * 64 + j) as u32, p as f32) {
                *v * scale
            } else {
                T::zero()
            };
        }
    });
}

/// out[r][oc + j] = x[r][ic + j] for j < `width` (`+=` with `acc`): a block of columns copied between row-major
/// matrices with rows of `x_stride` and `out_stride` values. A concatenation is two calls; its backward, the split,
/// is the same calls the other way round (with `acc` where a block's gradient sums over several uses).
pub fn gnn_columns<T: Real>(
    width: usize,
    (x_stride, ic): (usize, usize),
    (out_stride, oc): (usize, usize),
    acc: bool,
    x: &[T],
    out: &mut [T],
) {
    for_rows(out, out_stride, |r, o| {
        let xr = &x[r * x_stride + ic..][..width];
        for (a, &v) in o[oc..oc + width].iter_mut().zip(xr) {
            *a = if acc { *a + v } else { v };
        }
    });
}

/// out[e][col + j] = xv[dst e][j] and out[e][col + wv + j] = xv[src e][j] for j < `wv`: the receiving and the
/// sending node's rows beside the edge's own (the edge update's input [edge; receiver; sender]); rows of `stride`
/// values, the columns before `col` left as they are.
pub fn gnn_edge_input<T: Real>(
    wv: usize,
    (stride, col): (usize, usize),
    src: &[u32],
    dst: &[u32],
    xv: &[T],
    out: &mut [T],
) {
    for_rows(out, stride, |e, o| {
        let (d, s) = (dst[e] as usize, src[e] as usize);
        o[col..col + wv].copy_from_slice(&xv[d * wv..(d + 1) * wv]);
        o[col + wv..col + 2 * wv].copy_from_slice(&xv[s * wv..(s + 1) * wv]);
    });
}

/// Backward of `gnn_edge_input` for the node rows: dxv[v][j] (`+=` with `acc`) = the sum over the edges e into v
/// of dout[e][col + j] (v received) plus the sum over them of dout[rev e][col + wv + j] (v sent rev e), in CSR
/// order; all gathers, no scatter.
pub fn gnn_edge_input_backward<T: Real>(
    wv: usize,
    (stride, col): (usize, usize),
    in_ptr: &[u32],
    rev: &[u32],
    acc: bool,
    dout: &[T],
    dxv: &mut [T],
) {
    for_rows(dxv, wv, |v, d| {
        for (j, x) in d.iter_mut().enumerate() {
            let mut s = T::zero();
            for e in in_ptr[v] as usize..in_ptr[v + 1] as usize {
                s += dout[e * stride + col + j];
            }
            for e in in_ptr[v] as usize..in_ptr[v + 1] as usize {
                s += dout[rev[e] as usize * stride + col + wv + j];
            }
            *x = if acc { *x + s } else { s };
        }
    });
}

/// The squared error of `width` predictions per node against their targets, on the nodes of weight w[v] (1 on
/// the scored species, 0 elsewhere): sq[i] = w (y - t)^2 and dy[i] = 2 `norm` w (y - t), where `norm` is 1 over
/// the scored values, so that sum(sq) * norm is the mean squared error and dy its gradient.
pub fn gnn_masked_mse<T: Real>(
    width: usize,
    norm: f64,
    w: &[T],
    y: &[T],
    target: &[T],
    sq: &mut [T],
    dy: &mut [T],
) {
    for_rows(sq, width, |v, o| {
        for (j, x) in o.iter_mut().enumerate() {
            let d = y[v * width + j] - target[v * width + j];
            *x = w[v] * d * d;
        }
    });
    let n = T::of(2.0 * norm);
    for_rows(dy, width, |v, o| {
        for (j, x) in o.iter_mut().enumerate() {
            *x = n * w[v] * (y[v * width + j] - target[v * width + j]);
        }
    });
}
