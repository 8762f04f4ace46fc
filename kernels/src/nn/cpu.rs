//! CPU twins of the nn kernels in f64: one function per shader with the same name, bindings in the same order, the
//! same terms as the shader (parallel with rayon). The convolution and dense twins arrange their loops for speed
//! (circularly padded planes, contiguous x, register tiles, cache tiles; see each function for its summation order),
//! since they are also the path of `train` and `gradcam` without a GPU. `CpuExec` runs a plan on them.

use std::collections::HashMap;

use rayon::prelude::*;

use super::common::NnParams;
use super::common::{keep, Buf, PlanOp, MAX_MAPS};
use super::kernels::Twin;
use crate::error::{KernelError, Result};
use crate::kernel::Binding;

#[inline]
fn wrap(i: i64, n: u32) -> usize {
    i.rem_euclid(n as i64) as usize
}

/// Pixel of coordinate x, clamped (twin of `pixel_of`).
#[inline]
fn pixel_of(x: f64, hpix: f64, g: u32) -> i64 {
    ((x / hpix).floor() as i64).clamp(0, g as i64 - 1)
}

#[inline]
fn axis_norm(x: f64, c: i64, hpix: f64, inv2w2: f64, r: i64) -> f64 {
    (-r..=r)
        .map(|d| {
            let t = ((c + d) as f64 + 0.5) * hpix - x;
            (-t * t * inv2w2).exp()
        })
        .sum()
}

/// Twin of gridize_bin.wgsl: each snapshot's particles binned by key (species, centre row, centre column) in index
/// order, `bin_end` (ends of the key ranges, K + 1 per snapshot) and `binned` ([x, y, 1 / window norm, index]) as
/// the shader leaves them. Scattering in index order gives the order the shader sorts its bins into.
pub fn gridize_bin(
    p: &NnParams,
    pos: &[f64],
    species: &[u32],
    bin_end: &mut [u32],
    binned: &mut [[f64; 4]],
) {
    let g = p.h;
    let n = p.n_part as usize;
    let nk = (p.n_species * g * g) as usize + 1;
    let batch = p.batch as usize;
    let hpix = p.box_l as f64 / g as f64;
    let width = p.width as f64;
    let inv2w2 = 1.0 / (2.0 * width * width);
    let r = p.radius as i64;
    bin_end[..batch * nk]
        .par_chunks_mut(nk)
        .zip(binned[..batch * n].par_chunks_mut(n.max(1)))
        .enumerate()
        .for_each(|(s, (ends, bins))| {
            let xy = |i: usize| (pos[(s * n + i) * 2], pos[(s * n + i) * 2 + 1]);
            let key = |i: usize| {
                let (x, y) = xy(i);
                (species[i] as usize * g as usize + pixel_of(y, hpix, g) as usize) * g as usize
                    + pixel_of(x, hpix, g) as usize
            };
            ends.fill(0);
            for i in 0..n {
                ends[key(i)] += 1;
            }
            let mut run = 0;
            for e in ends.iter_mut() {
                let c = *e;
                *e = run;
                run += c;
            }
            for i in 0..n {
                let (x, y) = xy(i);
                let z = axis_norm(x, pixel_of(x, hpix, g), hpix, inv2w2, r)
                    * axis_norm(y, pixel_of(y, hpix, g), hpix, inv2w2, r);
                let k = key(i);
                bins[ends[k] as usize] = [x, y, 1.0 / z, i as f64];
                ends[k] += 1;
            }
        });
}

/// Twin of gridize.wgsl: each output pixel gathers from the bins of `gridize_bin`, centre rows of the window in
/// order, each row's centre columns as one or two contiguous key ranges, in the shader's order.
pub fn gridize(p: &NnParams, bin_end: &[u32], binned: &[[f64; 4]], out: &mut [f64]) {
    let g = p.h as i64;
    let gu = p.h as usize;
    let nc = p.n_species as usize;
    let n = p.n_part as usize;
    let nk = nc * gu * gu + 1;
    let hpix = p.box_l as f64 / g as f64;
    let width = p.width as f64;
    let inv2w2 = 1.0 / (2.0 * width * width);
    let r = p.radius as i64;
    out[..p.batch as usize * nc * gu * gu]
        .par_chunks_mut(gu)
        .enumerate()
        .for_each(|(row_idx, out_row)| {
            let py = (row_idx % gu) as i64;
            let c = (row_idx / gu) % nc;
            let s = row_idx / (gu * nc);
            let ends = &bin_end[s * nk..(s + 1) * nk];
            let bins = &binned[s * n..(s + 1) * n];
            for (px, o) in out_row.iter_mut().enumerate() {
                let px = px as i64;
                let mut acc = 0.0;
                for cyu in py - r..=py + r {
                    let cy = wrap(cyu, p.h);
                    let yimg = ((py + cy as i64 - cyu) as f64 + 0.5) * hpix;
                    let row = (c * gu + cy) * gu;
                    let mut a = px - r;
                    while a <= px + r {
                        let b = if a < 0 {
                            (px + r).min(-1)
                        } else if a < g {
                            (px + r).min(g - 1)
                        } else {
                            px + r
                        };
                        let cx = wrap(a, p.h);
                        let ximg = ((px + cx as i64 - a) as f64 + 0.5) * hpix;
                        let k0 = row + cx;
                        let k1 = k0 + (b - a) as usize;
                        let begin = if k0 > 0 { ends[k0 - 1] } else { 0 };
                        for e in &bins[begin as usize..ends[k1] as usize] {
                            let tx = ximg - e[0];
                            let ty = yimg - e[1];
                            acc += (-(tx * tx + ty * ty) * inv2w2).exp() * e[2];
                        }
                        a = b + 1;
                    }
                }
                *o = acc;
            }
        });
}

/// One point moved by a symmetry of the periodic square box, `tf` = (tx, ty, g, L) as in gather_augment.wgsl
/// (the shader's `wrap_box` is Rust's `rem_euclid` with a guard against rounding up to L).
pub fn augment_point(x: f64, y: f64, tf: &[f64; 4]) -> (f64, f64) {
    let [tx, ty, g, box_l] = *tf;
    let g = g as u32;
    let wrap = |v: f64| {
        let w = v.rem_euclid(box_l);
        // rem_euclid may round up to box_l itself for tiny negative values
        if w >= box_l {
            0.0
        } else {
            w
        }
    };
    let (x, y) = if g & 4 != 0 { (y, x) } else { (x, y) };
    let x = if g & 1 != 0 { -x } else { x };
    let y = if g & 2 != 0 { -y } else { y };
    (wrap(x + tx), wrap(y + ty))
}

/// Twin of gather_augment.wgsl: sample s of the batch is set snapshot `order[p.step + s]`, moved by its `tf` row
/// when `p.act` is 1; its positions go to `out_pos` [batch, n, 2] and its label to `labels`.
pub fn gather_augment(
    p: &NnParams,
    set_pos: &[f64],
    set_labels: &[u32],
    order: &[u32],
    tf: &[[f64; 4]],
    out_pos: &mut [f64],
    labels: &mut [u32],
) {
    let n = p.n_part as usize;
    for s in 0..p.batch as usize {
        let k = order[p.step as usize + s] as usize;
        for i in 0..n {
            let (x, y) = (set_pos[(k * n + i) * 2], set_pos[(k * n + i) * 2 + 1]);
            let (x, y) = if p.act == 1 {
                augment_point(x, y, &tf[k])
            } else {
                (x, y)
            };
            out_pos[(s * n + i) * 2] = x;
            out_pos[(s * n + i) * 2 + 1] = y;
        }
        labels[s] = set_labels[k];
    }
}

/// Twin of standardize.wgsl, in f32 as the images are f32 on both paths: x = (x - mean[c]) * inv_std[c].
pub fn standardize(p: &NnParams, norm: &[f64], x: &mut [f64]) {
    let gg = (p.h * p.w) as usize;
    let nc = p.n_species as usize;
    for (t, v) in x[..p.n as usize].iter_mut().enumerate() {
        let c = (t / gg) % nc;
        let (m, s) = (norm[2 * c] as f32, norm[2 * c + 1] as f32);
        *v = ((*v as f32 - m) * s) as f64;
    }
}

/// Twin of epoch_tally.wgsl: adds the batch's loss sum (in sample order) and its correct count to `tally` (the
/// scores in f64 here, in f32 on the f32 backend).
pub fn epoch_tally<T: PartialOrd>(
    p: &NnParams,
    loss: &[f64],
    logits: &[T],
    labels: &[u32],
    tally: &mut [f64],
) {
    let k_n = p.n_out as usize;
    let b = p.batch as usize;
    let sum: f64 = loss[..b].iter().sum();
    let correct = (0..b)
        .filter(|&s| {
            let l = &logits[s * k_n..(s + 1) * k_n];
            let best = (1..k_n).fold(0, |best, k| if l[k] > l[best] { k } else { best });
            best == labels[s] as usize
        })
        .count();
    tally[0] += sum;
    tally[1] += correct as f64;
}

/// Twin of grid_sample.wgsl: periodic bilinear read of field [S, G, G] at positions [S, N, 2] into out [S, N].
pub fn grid_sample(p: &NnParams, field: &[f64], pos: &[f64], out: &mut [f64]) {
    let g = p.h;
    let gu = g as usize;
    let n = p.n_part as usize;
    let hpix = p.box_l as f64 / g as f64;
    out[..p.batch as usize * n]
        .par_iter_mut()
        .enumerate()
        .for_each(|(idx, o)| {
            let s = idx / n;
            let u = pos[idx * 2] / hpix - 0.5;
            let v = pos[idx * 2 + 1] / hpix - 0.5;
            let fu = u.floor();
            let fv = v.floor();
            let ax = u - fu;
            let ay = v - fv;
            let x0 = wrap(fu as i64, g);
            let x1 = wrap(fu as i64 + 1, g);
            let y0 = wrap(fv as i64, g);
            let y1 = wrap(fv as i64 + 1, g);
            let base = s * gu * gu;
            let f00 = field[base + y0 * gu + x0];
            let f01 = field[base + y0 * gu + x1];
            let f10 = field[base + y1 * gu + x0];
            let f11 = field[base + y1 * gu + x1];
            *o = (1.0 - ay) * ((1.0 - ax) * f00 + ax * f01) + ay * ((1.0 - ax) * f10 + ax * f11);
        });
}

/// Circularly padded copy of `planes` (planes of h x w) into `dst`: planes of (h + k - 1) x (w + k - 1), where
/// padded (r, c) holds plane (wrap(r - off), wrap(c - off)). The convolutions below read shifted windows of it, so
/// their inner loops run over contiguous x with no wrap and no per-tap bounds check.
fn pad_planes(dst: &mut [f64], planes: &[f64], h: usize, w: usize, k: usize, off: i64) {
    let wp = w + k - 1;
    let cols: Vec<usize> = (0..wp).map(|c| wrap(c as i64 - off, w as u32)).collect();
    for (dplane, src) in dst
        .chunks_exact_mut((h + k - 1) * wp)
        .zip(planes.chunks_exact(h * w))
    {
        for (r, drow) in dplane.chunks_exact_mut(wp).enumerate() {
            let srow = &src[wrap(r as i64 - off, h as u32) * w..][..w];
            for (d, &c) in drow.iter_mut().zip(&cols) {
                *d = srow[c];
            }
        }
    }
}

/// Lanes of the partial sums (dense layers).
const LANES: usize = 8;
/// Lanes of the register tile of `conv_rows`.
const CONV_LANES: usize = 16;

/// out[y * w + x] = init + sum over t of taps[t] * src[y * wp + offs[t] + x], for every pixel of an h x w plane,
/// taps in order (the shader's order, so the sum is the shader's). An x tile of CONV_LANES accumulators stays in
/// registers over all taps.
fn conv_rows(
    out: &mut [f64],
    init: f64,
    src: &[f64],
    taps: &[f64],
    offs: &[usize],
    w: usize,
    wp: usize,
) {
    for (y, orow) in out.chunks_exact_mut(w).enumerate() {
        let row = &src[y * wp..];
        let mut x0 = 0;
        for tile in orow.chunks_exact_mut(CONV_LANES) {
            let mut acc = [init; CONV_LANES];
            for (&wv, &o) in taps.iter().zip(offs) {
                let s = &row[o + x0..o + x0 + CONV_LANES];
                for l in 0..CONV_LANES {
                    acc[l] += wv * s[l];
                }
            }
            tile.copy_from_slice(&acc);
            x0 += CONV_LANES;
        }
        for x in x0..w {
            let mut acc = init;
            for (&wv, &o) in taps.iter().zip(offs) {
                acc += wv * row[o + x];
            }
            orow[x] = acc;
        }
    }
}

/// Offsets into `n` consecutive padded planes of tap (i, ky, kx), t = (i * k + ky) * k + kx, reading padded row
/// y + ky and column x + kx, or with `flip` row y + k - 1 - ky and column x + k - 1 - kx.
fn tap_offsets(n: usize, k: usize, hp: usize, wp: usize, flip: bool) -> Vec<usize> {
    let mut offs = Vec::with_capacity(n * k * k);
    for i in 0..n {
        for ky in 0..k {
            for kx in 0..k {
                let (dy, dx) = if flip {
                    (k - 1 - ky, k - 1 - kx)
                } else {
                    (ky, kx)
                };
                offs.push(i * hp * wp + dy * wp + dx);
            }
        }
    }
    offs
}

/// Twin of conv2d_forward.wgsl. The loops are arranged for speed (circularly padded input, contiguous x, an x
/// tile in registers) and add the same terms in the same order as the shader: bias, then (ci, ky, kx).
pub fn conv2d_forward(p: &NnParams, params: &[f64], input: &[f64], output: &mut [f64]) {
    let (h, w, k, pad) = (p.h as usize, p.w as usize, p.k as usize, p.pad as i64);
    let (c_in, c_out, batch) = (p.c_in as usize, p.c_out as usize, p.batch as usize);
    let (hw, kk) = (h * w, k * k);
    let (hp, wp) = (h + k - 1, w + k - 1);
    let offs = tap_offsets(c_in, k, hp, wp, false);
    // one task per sample pads its input planes, then one per output plane
    output[..batch * c_out * hw]
        .par_chunks_mut((c_out * hw).max(1))
        .enumerate()
        .for_each(|(b, outs)| {
            let mut src = vec![0.0; c_in * hp * wp];
            pad_planes(&mut src, &input[b * c_in * hw..][..c_in * hw], h, w, k, pad);
            outs.par_chunks_mut(hw).enumerate().for_each(|(co, out)| {
                let taps = &params[p.w_off as usize + co * c_in * kk..][..c_in * kk];
                conv_rows(out, params[p.b_off as usize + co], &src, taps, &offs, w, wp);
                if p.act == 1 {
                    for v in out.iter_mut() {
                        *v = v.max(0.0);
                    }
                }
            });
        });
}

/// Twin of conv2d_backward_input.wgsl. Arranged for speed as `conv2d_forward` (padded output gradient, flipped
/// taps); adds the same terms in the same order as the shader: (co, ky, kx).
pub fn conv2d_backward_input(p: &NnParams, params: &[f64], gout: &[f64], gin: &mut [f64]) {
    let (h, w, k, pad) = (p.h as usize, p.w as usize, p.k as usize, p.pad as i64);
    let (c_in, c_out, batch) = (p.c_in as usize, p.c_out as usize, p.batch as usize);
    let (hw, kk) = (h * w, k * k);
    let (hp, wp) = (h + k - 1, w + k - 1);
    let offs = tap_offsets(c_out, k, hp, wp, true);
    // taps of input channel ci in (co, ky, kx) order
    let taps: Vec<Vec<f64>> = (0..c_in)
        .map(|ci| {
            (0..c_out)
                .flat_map(|co| {
                    let base = p.w_off as usize + (co * c_in + ci) * kk;
                    params[base..base + kk].iter().copied()
                })
                .collect()
        })
        .collect();
    // one task per sample pads its output-gradient planes, then one per input plane; padded row r holds gout
    // row wrap(r - (k - 1 - pad)), so row y + k - 1 - ky is gout row y + pad - ky
    gin[..batch * c_in * hw]
        .par_chunks_mut((c_in * hw).max(1))
        .enumerate()
        .for_each(|(b, gins)| {
            let mut src = vec![0.0; c_out * hp * wp];
            let gb = &gout[b * c_out * hw..][..c_out * hw];
            pad_planes(&mut src, gb, h, w, k, (k - 1) as i64 - pad);
            gins.par_chunks_mut(hw).enumerate().for_each(|(ci, g)| {
                conv_rows(g, 0.0, &src, &taps[ci], &offs, w, wp);
            });
        });
}

/// Output channels per task of `conv2d_backward_weight` (each input load serves that many weights).
const CO_TILE: usize = 4;
/// Lanes of its partial sums.
const BW_LANES: usize = 4;

/// Twin of conv2d_backward_weight.wgsl (one sum per weight and per bias, written into `grads`). Arranged for speed:
/// one task per input channel and CO_TILE output channels, padded input, contiguous x with BW_LANES partial sums
/// per weight; the shader's terms, summed in another order (results differ from it at rounding level).
pub fn conv2d_backward_weight(p: &NnParams, input: &[f64], gout: &[f64], grads: &mut [f64]) {
    let (h, w, k, pad) = (p.h as usize, p.w as usize, p.k as usize, p.pad as i64);
    let (c_in, c_out, batch) = (p.c_in as usize, p.c_out as usize, p.batch as usize);
    let (hw, kk) = (h * w, k * k);
    let (hp, wp) = (h + k - 1, w + k - 1);
    let groups = c_out.div_ceil(CO_TILE);
    let xt = w / BW_LANES * BW_LANES;
    // per task: sums[(tap, c)] of output channel group * CO_TILE + c (a short last group repeats its last channel)
    let sums: Vec<Vec<[f64; CO_TILE]>> = (0..c_in * groups)
        .into_par_iter()
        .map(|j| {
            let (ci, cg) = (j / groups, j % groups);
            let cos: [usize; CO_TILE] = std::array::from_fn(|c| (cg * CO_TILE + c).min(c_out - 1));
            let mut acc = vec![[[0.0; BW_LANES]; CO_TILE]; kk];
            let mut tail = vec![[0.0; CO_TILE]; kk];
            let mut src = vec![0.0; hp * wp];
            for b in 0..batch {
                pad_planes(&mut src, &input[(b * c_in + ci) * hw..][..hw], h, w, k, pad);
                for y in 0..h {
                    let g: [&[f64]; CO_TILE] =
                        std::array::from_fn(|c| &gout[(b * c_out + cos[c]) * hw + y * w..][..w]);
                    for ky in 0..k {
                        let row = &src[(y + ky) * wp..][..wp];
                        for kx in 0..k {
                            let s = &row[kx..kx + w];
                            // a local copy keeps the partial sums in registers
                            let mut a = acc[ky * k + kx];
                            for (i, sv) in s[..xt].chunks_exact(BW_LANES).enumerate() {
                                for c in 0..CO_TILE {
                                    let gv = &g[c][i * BW_LANES..][..BW_LANES];
                                    for l in 0..BW_LANES {
                                        a[c][l] += gv[l] * sv[l];
                                    }
                                }
                            }
                            acc[ky * k + kx] = a;
                            let t = &mut tail[ky * k + kx];
                            for x in xt..w {
                                for c in 0..CO_TILE {
                                    t[c] += g[c][x] * s[x];
                                }
                            }
                        }
                    }
                }
            }
            acc.iter()
                .zip(&tail)
                .map(|(a, t)| std::array::from_fn(|c| a[c].iter().sum::<f64>() + t[c]))
                .collect()
        })
        .collect();
    let w_off = p.w_off as usize;
    for (j, s) in sums.iter().enumerate() {
        let (ci, cg) = (j / groups, j % groups);
        for c in 0..CO_TILE.min(c_out - cg * CO_TILE) {
            let co = cg * CO_TILE + c;
            for (t, v) in s.iter().enumerate() {
                grads[w_off + (co * c_in + ci) * kk + t] = v[c];
            }
        }
    }
    let bias: Vec<f64> = (0..c_out)
        .into_par_iter()
        .map(|co| {
            (0..batch)
                .map(|b| gout[(b * c_out + co) * hw..][..hw].iter().sum::<f64>())
                .sum()
        })
        .collect();
    grads[p.b_off as usize..p.b_off as usize + c_out].copy_from_slice(&bias);
}

/// Twin of relu_backward.wgsl.
pub fn relu_backward(p: &NnParams, act: &[f64], g: &mut [f64]) {
    let n = p.n as usize;
    g[..n].par_iter_mut().zip(&act[..n]).for_each(|(g, &a)| {
        // NaN counts as not positive, as in the shader
        if a.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            *g = 0.0;
        }
    });
}

/// Twin of mean_pool.wgsl.
pub fn mean_pool(p: &NnParams, input: &[f64], output: &mut [f64]) {
    let hw = (p.h * p.w) as usize;
    let n = (p.batch * p.c_in) as usize;
    output[..n]
        .par_iter_mut()
        .enumerate()
        .for_each(|(j, o)| *o = input[j * hw..(j + 1) * hw].iter().sum::<f64>() / hw as f64);
}

/// Twin of mean_pool_backward.wgsl.
pub fn mean_pool_backward(p: &NnParams, gout: &[f64], gin: &mut [f64]) {
    let hw = (p.h * p.w) as usize;
    let n = (p.batch * p.c_in) as usize;
    gin[..n * hw]
        .par_chunks_mut(hw)
        .zip(&gout[..n])
        .for_each(|(g, &go)| g.fill(go / hw as f64));
}

/// Rows of weights per task and inputs per tile in the dense twins: a task streams its rows once and each tile of
/// the inputs is reused from cache by all the rows of the task.
const DENSE_ROWS: usize = 8;
const DENSE_TILE: usize = 512;

/// Twin of dense_forward.wgsl. Arranged for speed (tasks of DENSE_ROWS outputs, inputs in tiles of DENSE_TILE,
/// LANES partial sums); the shader's terms, summed in another order (rounding level).
pub fn dense_forward(p: &NnParams, params: &[f64], input: &[f64], output: &mut [f64]) {
    let (n_in, n_out, batch) = (p.n_in as usize, p.n_out as usize, p.batch as usize);
    let w_off = p.w_off as usize;
    let groups: Vec<Vec<f64>> = (0..n_out.div_ceil(DENSE_ROWS))
        .into_par_iter()
        .map(|gi| {
            let rows = gi * DENSE_ROWS..((gi + 1) * DENSE_ROWS).min(n_out);
            let nr = rows.len();
            // acc[(r, b)]: LANES partial sums of row r, sample b
            let mut acc = vec![[0.0; LANES]; nr * batch];
            let mut tail = vec![0.0; nr * batch];
            for t0 in (0..n_in).step_by(DENSE_TILE) {
                let t1 = (t0 + DENSE_TILE).min(n_in);
                for b in 0..batch {
                    let x = &input[b * n_in + t0..b * n_in + t1];
                    for (r, o) in rows.clone().enumerate() {
                        let wr = &params[w_off + o * n_in + t0..w_off + o * n_in + t1];
                        let t = &mut tail[r * batch + b];
                        let xc = x.chunks_exact(LANES);
                        let wc = wr.chunks_exact(LANES);
                        for (xv, wv) in xc.remainder().iter().zip(wc.remainder()) {
                            *t += xv * wv;
                        }
                        // a local copy keeps the partial sums in registers
                        let mut a = acc[r * batch + b];
                        for (xs, ws) in xc.zip(wc) {
                            for l in 0..LANES {
                                a[l] += ws[l] * xs[l];
                            }
                        }
                        acc[r * batch + b] = a;
                    }
                }
            }
            acc.iter()
                .zip(&tail)
                .map(|(a, t)| a.iter().sum::<f64>() + t)
                .collect()
        })
        .collect();
    for b in 0..batch {
        for o in 0..n_out {
            let (gi, r) = (o / DENSE_ROWS, o % DENSE_ROWS);
            let mut v = groups[gi][r * batch + b] + params[p.b_off as usize + o];
            if p.act == 1 {
                v = v.max(0.0);
            }
            output[b * n_out + o] = v;
        }
    }
}

/// Twin of dense_backward_input.wgsl. Arranged for speed (tasks of DENSE_TILE inputs, contiguous rows of the
/// weights); adds the same terms in the same order as the shader (o ascending).
pub fn dense_backward_input(p: &NnParams, params: &[f64], gout: &[f64], gin: &mut [f64]) {
    let (n_in, n_out, batch) = (p.n_in as usize, p.n_out as usize, p.batch as usize);
    let w_off = p.w_off as usize;
    let mut tiles: Vec<(usize, &mut [f64])> = Vec::new();
    for (b, row) in gin[..batch * n_in].chunks_mut(n_in.max(1)).enumerate() {
        for (i, tile) in row.chunks_mut(DENSE_TILE).enumerate() {
            tiles.push((b * n_in.div_ceil(DENSE_TILE) + i, tile));
        }
    }
    let n_tiles = n_in.div_ceil(DENSE_TILE);
    tiles.into_par_iter().for_each(|(j, g)| {
        let (b, t0) = (j / n_tiles, (j % n_tiles) * DENSE_TILE);
        g.fill(0.0);
        for o in 0..n_out {
            let go = gout[b * n_out + o];
            let wr = &params[w_off + o * n_in + t0..][..g.len()];
            for (gv, wv) in g.iter_mut().zip(wr) {
                *gv += wv * go;
            }
        }
    });
}

/// Twin of dense_backward_weight.wgsl. Arranged for speed (tasks of DENSE_ROWS rows, inputs in tiles of
/// DENSE_TILE, contiguous x); adds the same terms in the same order as the shader (b ascending).
pub fn dense_backward_weight(p: &NnParams, input: &[f64], gout: &[f64], grads: &mut [f64]) {
    let (n_in, n_out, batch) = (p.n_in as usize, p.n_out as usize, p.batch as usize);
    let n_w = n_out * n_in;
    let (w_off, b_off) = (p.w_off as usize, p.b_off as usize);
    grads[w_off..w_off + n_w]
        .par_chunks_mut((DENSE_ROWS * n_in).max(1))
        .enumerate()
        .for_each(|(gi, rows)| {
            for t0 in (0..n_in).step_by(DENSE_TILE) {
                let t1 = (t0 + DENSE_TILE).min(n_in);
                for (r, row) in rows.chunks_exact_mut(n_in).enumerate() {
                    let o = gi * DENSE_ROWS + r;
                    let g = &mut row[t0..t1];
                    g.fill(0.0);
                    for b in 0..batch {
                        let go = gout[b * n_out + o];
                        for (gv, xv) in g.iter_mut().zip(&input[b * n_in + t0..b * n_in + t1]) {
                            *gv += go * xv;
                        }
                    }
                }
            }
        });
    for o in 0..n_out {
        let mut acc = 0.0;
        for b in 0..batch {
            acc += gout[b * n_out + o];
        }
        grads[b_off + o] = acc;
    }
}

/// Twin of dropout.wgsl (same hash, same mask).
pub fn dropout(p: &NnParams, x: &mut [f64]) {
    let scale = 1.0 / (1.0 - p.p as f64);
    x[..p.n as usize]
        .par_iter_mut()
        .enumerate()
        .for_each(|(i, v)| {
            if keep(p.seed, i as u32, p.p) {
                *v *= scale;
            } else {
                *v = 0.0;
            }
        });
}

/// Twin of softmax_xent.wgsl.
pub fn softmax_xent(
    p: &NnParams,
    logits: &[f64],
    labels: &[u32],
    loss: &mut [f64],
    dlogits: &mut [f64],
) {
    let k_n = p.n_out as usize;
    let inv_b = 1.0 / p.batch as f64;
    for b in 0..p.batch as usize {
        let l = &logits[b * k_n..(b + 1) * k_n];
        let m = l.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = l.iter().map(|v| (v - m).exp()).sum();
        let label = labels[b] as usize;
        loss[b] = m + s.ln() - l[label];
        for k in 0..k_n {
            let pk = (l[k] - m).exp() / s;
            dlogits[b * k_n + k] = (pk - if k == label { 1.0 } else { 0.0 }) * inv_b;
        }
    }
}

/// Twin of adam.wgsl.
pub fn adam(p: &NnParams, grads: &[f64], params: &mut [f64], m: &mut [f64], v: &mut [f64]) {
    let (b1, b2) = (p.beta1 as f64, p.beta2 as f64);
    let (lr, eps, bc1, bc2) = (p.lr as f64, p.eps as f64, p.bc1 as f64, p.bc2 as f64);
    let n = p.n as usize;
    params[..n]
        .par_iter_mut()
        .zip(m[..n].par_iter_mut())
        .zip(v[..n].par_iter_mut())
        .zip(&grads[..n])
        .for_each(|(((pi, mi), vi), &g)| {
            *mi = b1 * *mi + (1.0 - b1) * g;
            *vi = b2 * *vi + (1.0 - b2) * g * g;
            *pi -= lr * (*mi / bc1) / ((*vi / bc2).sqrt() + eps);
        });
}

/// Twin of gradcam.wgsl.
pub fn gradcam(p: &NnParams, act: &[f64], gact: &[f64], maps: &mut [f64]) {
    let hw = (p.h * p.w) as usize;
    let n_maps = (p.c_in as usize).min(MAX_MAPS);
    let c = p.c_in as usize;
    maps[..p.batch as usize * hw]
        .par_chunks_mut(hw)
        .enumerate()
        .for_each(|(b, map)| {
            let alpha: Vec<f64> = (0..n_maps)
                .map(|m| {
                    gact[(b * c + m) * hw..(b * c + m + 1) * hw]
                        .iter()
                        .sum::<f64>()
                        / hw as f64
                })
                .collect();
            for (t, out) in map.iter_mut().enumerate() {
                let mut l = 0.0;
                for (m, a) in alpha.iter().enumerate() {
                    l += a * act[(b * c + m) * hw + t];
                }
                *out = l.max(0.0);
            }
        });
}

/// The CPU twin's storage for a plan: one f64 vector per logical buffer, the labels as u32.
#[derive(Default)]
pub struct CpuExec {
    pub bufs: HashMap<Buf, Vec<f64>>,
    pub labels: Vec<u32>,
}

impl CpuExec {
    fn take(&mut self, b: Buf) -> Result<Vec<f64>> {
        self.bufs.remove(&b).ok_or_else(|| KernelError::Input {
            kernel: "nn".into(),
            message: format!("buffer {b:?} was never allocated"),
        })
    }

    fn get(&self, b: Buf) -> Result<&Vec<f64>> {
        self.bufs.get(&b).ok_or_else(|| KernelError::Input {
            kernel: "nn".into(),
            message: format!("buffer {b:?} was never allocated"),
        })
    }

    /// Runs one op on its twin (the kernel's `Twin::Plan`): read-write bindings are taken out, the twin runs on
    /// them and the read-only ones, and they are put back.
    pub fn run_op(&mut self, op: &PlanOp) -> Result<()> {
        let k = op.kernel;
        let Twin::Plan(twin) = k.run_twin else {
            return Err(KernelError::Input {
                kernel: k.name.into(),
                message: "not a network kernel (its host code runs its twin directly)".into(),
            });
        };
        if op.bufs.len() + 1 != k.bindings.len() {
            return Err(KernelError::Input {
                kernel: k.name.into(),
                message: format!(
                    "{} buffers bound, the kernel has {}",
                    op.bufs.len(),
                    k.bindings.len() - 1
                ),
            });
        }
        let bound = || k.bindings[1..].iter().zip(&op.bufs);
        let written: Vec<Buf> = bound()
            .filter(|(bind, _)| bind.access == Binding::ReadWrite)
            .map(|(_, &b)| b)
            .collect();
        let mut w = written
            .iter()
            .map(|&b| self.take(b))
            .collect::<Result<Vec<_>>>()?;
        let mut run = || -> Result<()> {
            let r = bound()
                .filter(|(bind, _)| bind.access != Binding::ReadWrite)
                .map(|(_, &b)| match b {
                    Buf::Labels => Ok(&[][..]),
                    b => self.get(b).map(|v| &v[..]),
                })
                .collect::<Result<Vec<_>>>()?;
            twin(&op.p, &r, &mut w, &self.labels);
            Ok(())
        };
        let out = run();
        for (b, v) in written.into_iter().zip(w) {
            self.bufs.insert(b, v);
        }
        out
    }
}
