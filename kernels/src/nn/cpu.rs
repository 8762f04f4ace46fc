//! CPU twins of the nn kernels in f64: one function per shader with the same name, bindings in the same order,
//! loops that mirror the shader's invocations (parallel over outputs with rayon). `CpuExec` runs a plan on them.

use std::collections::HashMap;

use rayon::prelude::*;

use super::{keep, Buf, NnParams, PlanOp};
use crate::error::{KernelError, Result};

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

/// Twin of gridize.wgsl. The shader gathers over particles per pixel; the twin scatters each particle over its
/// window, which adds the same terms (the window fits the grid once, `GridSpec::check`), in O(N) not O(G^2 N).
pub fn gridize(p: &NnParams, pos: &[f64], species: &[u32], out: &mut [f64]) {
    let g = p.h;
    let gg = (g * g) as usize;
    let nc = p.n_species as usize;
    let n = p.n_part as usize;
    let hpix = p.box_l as f64 / g as f64;
    let width = p.width as f64;
    let inv2w2 = 1.0 / (2.0 * width * width);
    let r = p.radius as i64;
    out[..p.batch as usize * nc * gg]
        .par_chunks_mut(nc * gg)
        .enumerate()
        .for_each(|(s, img)| {
            img.fill(0.0);
            for i in 0..n {
                let c = species[i] as usize;
                let x = pos[(s * n + i) * 2];
                let y = pos[(s * n + i) * 2 + 1];
                let cx = pixel_of(x, hpix, g);
                let cy = pixel_of(y, hpix, g);
                let z = axis_norm(x, cx, hpix, inv2w2, r) * axis_norm(y, cy, hpix, inv2w2, r);
                for dy in -r..=r {
                    let ty = ((cy + dy) as f64 + 0.5) * hpix - y;
                    let row = wrap(cy + dy, g);
                    for dx in -r..=r {
                        let tx = ((cx + dx) as f64 + 0.5) * hpix - x;
                        let col = wrap(cx + dx, g);
                        img[c * gg + row * g as usize + col] +=
                            (-(tx * tx + ty * ty) * inv2w2).exp() / z;
                    }
                }
            }
        });
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

/// Twin of conv2d_forward.wgsl.
pub fn conv2d_forward(p: &NnParams, params: &[f64], input: &[f64], output: &mut [f64]) {
    let (h, w, k, pad) = (p.h as usize, p.w as usize, p.k as usize, p.pad as i64);
    let (c_in, c_out) = (p.c_in as usize, p.c_out as usize);
    let hw = h * w;
    output[..p.batch as usize * c_out * hw]
        .par_chunks_mut(hw)
        .enumerate()
        .for_each(|(plane, out)| {
            let co = plane % c_out;
            let b = plane / c_out;
            for y in 0..h {
                for x in 0..w {
                    let mut acc = params[p.b_off as usize + co];
                    for ci in 0..c_in {
                        let in_base = (b * c_in + ci) * hw;
                        let w_base = p.w_off as usize + (co * c_in + ci) * k * k;
                        for ky in 0..k {
                            let yy = wrap((y + ky) as i64 - pad, p.h);
                            for kx in 0..k {
                                let xx = wrap((x + kx) as i64 - pad, p.w);
                                acc += params[w_base + ky * k + kx] * input[in_base + yy * w + xx];
                            }
                        }
                    }
                    if p.act == 1 {
                        acc = acc.max(0.0);
                    }
                    out[y * w + x] = acc;
                }
            }
        });
}

/// Twin of conv2d_backward_input.wgsl.
pub fn conv2d_backward_input(p: &NnParams, params: &[f64], gout: &[f64], gin: &mut [f64]) {
    let (h, w, k, pad) = (p.h as usize, p.w as usize, p.k as usize, p.pad as i64);
    let (c_in, c_out) = (p.c_in as usize, p.c_out as usize);
    let hw = h * w;
    gin[..p.batch as usize * c_in * hw]
        .par_chunks_mut(hw)
        .enumerate()
        .for_each(|(plane, g)| {
            let ci = plane % c_in;
            let b = plane / c_in;
            for y in 0..h {
                for x in 0..w {
                    let mut acc = 0.0;
                    for co in 0..c_out {
                        let g_base = (b * c_out + co) * hw;
                        let w_base = p.w_off as usize + (co * c_in + ci) * k * k;
                        for ky in 0..k {
                            let yy = wrap(y as i64 + pad - ky as i64, p.h);
                            for kx in 0..k {
                                let xx = wrap(x as i64 + pad - kx as i64, p.w);
                                acc += params[w_base + ky * k + kx] * gout[g_base + yy * w + xx];
                            }
                        }
                    }
                    g[y * w + x] = acc;
                }
            }
        });
}

/// Twin of conv2d_backward_weight.wgsl (one sum per weight and per bias, written into `grads`).
pub fn conv2d_backward_weight(p: &NnParams, input: &[f64], gout: &[f64], grads: &mut [f64]) {
    let (h, w, k, pad) = (p.h as usize, p.w as usize, p.k as usize, p.pad as i64);
    let (c_in, c_out, batch) = (p.c_in as usize, p.c_out as usize, p.batch as usize);
    let hw = h * w;
    let kk = k * k;
    let n_w = c_out * c_in * kk;
    let sums: Vec<f64> = (0..n_w + c_out)
        .into_par_iter()
        .map(|j| {
            let mut acc = 0.0;
            if j < n_w {
                let kx = j % k;
                let ky = (j / k) % k;
                let ci = (j / kk) % c_in;
                let co = j / (kk * c_in);
                // pixel outer, batch inner, as the shader
                for y in 0..h {
                    let yy = wrap((y + ky) as i64 - pad, p.h);
                    for x in 0..w {
                        let xx = wrap((x + kx) as i64 - pad, p.w);
                        for b in 0..batch {
                            acc += gout[(b * c_out + co) * hw + y * w + x]
                                * input[(b * c_in + ci) * hw + yy * w + xx];
                        }
                    }
                }
            } else {
                let co = j - n_w;
                for t in 0..hw {
                    for b in 0..batch {
                        acc += gout[(b * c_out + co) * hw + t];
                    }
                }
            }
            acc
        })
        .collect();
    grads[p.w_off as usize..p.w_off as usize + n_w].copy_from_slice(&sums[..n_w]);
    grads[p.b_off as usize..p.b_off as usize + c_out].copy_from_slice(&sums[n_w..]);
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

/// Twin of dense_forward.wgsl.
pub fn dense_forward(p: &NnParams, params: &[f64], input: &[f64], output: &mut [f64]) {
    let (n_in, n_out) = (p.n_in as usize, p.n_out as usize);
    output[..p.batch as usize * n_out]
        .par_iter_mut()
        .enumerate()
        .for_each(|(j, out)| {
            let o = j % n_out;
            let b = j / n_out;
            let wrow = &params[p.w_off as usize + o * n_in..p.w_off as usize + (o + 1) * n_in];
            let x = &input[b * n_in..(b + 1) * n_in];
            let s: f64 = wrow.iter().zip(x).map(|(a, b)| a * b).sum();
            let mut v = s + params[p.b_off as usize + o];
            if p.act == 1 {
                v = v.max(0.0);
            }
            *out = v;
        });
}

/// Twin of dense_backward_input.wgsl.
pub fn dense_backward_input(p: &NnParams, params: &[f64], gout: &[f64], gin: &mut [f64]) {
    let (n_in, n_out) = (p.n_in as usize, p.n_out as usize);
    gin[..p.batch as usize * n_in]
        .par_iter_mut()
        .enumerate()
        .for_each(|(idx, g)| {
            let i = idx % n_in;
            let b = idx / n_in;
            let mut acc = 0.0;
            for o in 0..n_out {
                acc += params[p.w_off as usize + o * n_in + i] * gout[b * n_out + o];
            }
            *g = acc;
        });
}

/// Twin of dense_backward_weight.wgsl.
pub fn dense_backward_weight(p: &NnParams, input: &[f64], gout: &[f64], grads: &mut [f64]) {
    let (n_in, n_out, batch) = (p.n_in as usize, p.n_out as usize, p.batch as usize);
    let n_w = n_out * n_in;
    let (w_off, b_off) = (p.w_off as usize, p.b_off as usize);
    grads[w_off..w_off + n_w]
        .par_iter_mut()
        .enumerate()
        .for_each(|(j, g)| {
            let o = j / n_in;
            let i = j % n_in;
            let mut acc = 0.0;
            for b in 0..batch {
                acc += gout[b * n_out + o] * input[b * n_in + i];
            }
            *g = acc;
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
    let n_maps = (p.c_in as usize).min(super::MAX_MAPS);
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

    /// Runs one op on its twin.
    pub fn run_op(&mut self, op: &PlanOp) -> Result<()> {
        let p = &op.p;
        let name = op.kernel.kernel.name;
        let b = &op.bufs;
        match name {
            "conv2d_forward"
            | "conv2d_backward_input"
            | "dense_forward"
            | "dense_backward_input" => {
                let mut out = self.take(b[2])?;
                let (x, y) = (self.get(b[0])?, self.get(b[1])?);
                match name {
                    "conv2d_forward" => conv2d_forward(p, x, y, &mut out),
                    "conv2d_backward_input" => conv2d_backward_input(p, x, y, &mut out),
                    "dense_forward" => dense_forward(p, x, y, &mut out),
                    _ => dense_backward_input(p, x, y, &mut out),
                }
                self.bufs.insert(b[2], out);
            }
            "conv2d_backward_weight" | "dense_backward_weight" | "gradcam" => {
                let mut out = self.take(b[2])?;
                let (x, y) = (self.get(b[0])?, self.get(b[1])?);
                match name {
                    "conv2d_backward_weight" => conv2d_backward_weight(p, x, y, &mut out),
                    "dense_backward_weight" => dense_backward_weight(p, x, y, &mut out),
                    _ => gradcam(p, x, y, &mut out),
                }
                self.bufs.insert(b[2], out);
            }
            "relu_backward" => {
                let mut g = self.take(b[1])?;
                relu_backward(p, self.get(b[0])?, &mut g);
                self.bufs.insert(b[1], g);
            }
            "dropout" => {
                let mut x = self.take(b[0])?;
                dropout(p, &mut x);
                self.bufs.insert(b[0], x);
            }
            "softmax_xent" => {
                let mut loss = self.take(b[2])?;
                let mut d = self.take(b[3])?;
                softmax_xent(p, self.get(b[0])?, &self.labels, &mut loss, &mut d);
                self.bufs.insert(b[2], loss);
                self.bufs.insert(b[3], d);
            }
            "adam" => {
                let mut params = self.take(b[1])?;
                let mut m = self.take(b[2])?;
                let mut v = self.take(b[3])?;
                adam(p, self.get(b[0])?, &mut params, &mut m, &mut v);
                self.bufs.insert(b[1], params);
                self.bufs.insert(b[2], m);
                self.bufs.insert(b[3], v);
            }
            other => {
                return Err(KernelError::Input {
                    kernel: other.into(),
                    message: "not a network kernel (run gridize / grid_sample directly)".into(),
                })
            }
        }
        Ok(())
    }
}
