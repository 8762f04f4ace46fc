//! The f32 backend's element-wise and per-plane steps: ReLU backward, dropout, softmax cross-entropy, Adam,
//! mean pooling, Grad-CAM, standardization, the epoch tally. Each is the twin's formula (`nn::cpu`) in f32,
//! in parallel over fixed chunks, with the plane sums in lanes of the vector unit.

use rayon::prelude::*;

use super::simd::{dispatch, Simd};
use crate::nn::common::{keep, NnParams};

/// Elements per task of the element-wise passes.
const CHUNK: usize = 1 << 14;

/// g = 0 where act is not positive (NaN counts as not positive, as in the shader).
pub fn relu_backward(act: &[f32], g: &mut [f32]) {
    g.par_chunks_mut(CHUNK)
        .zip(act.par_chunks(CHUNK))
        .for_each(|(g, a)| {
            for (g, &a) in g.iter_mut().zip(a) {
                // `a > 0` is false for NaN
                *g = if a > 0.0 { *g } else { 0.0 };
            }
        });
}

/// The twin's dropout mask (same hash): kept elements scaled by 1 / (1 - p), the others zeroed.
pub fn dropout(p: &NnParams, x: &mut [f32]) {
    let scale = (1.0 / (1.0 - p.p as f64)) as f32;
    for (i, v) in x[..p.n as usize].iter_mut().enumerate() {
        *v = if keep(p.seed, i as u32, p.p) {
            *v * scale
        } else {
            0.0
        };
    }
}

/// Cross-entropy of each sample (in f64, from the f32 scores) and its gradient w.r.t. the scores, over the batch
/// mean.
pub fn softmax_xent(p: &NnParams, logits: &[f32], labels: &[u32], loss: &mut [f64], d: &mut [f32]) {
    let k_n = p.n_out as usize;
    let inv_b = 1.0 / p.batch as f64;
    for b in 0..p.batch as usize {
        let l = &logits[b * k_n..(b + 1) * k_n];
        let m = l.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let s: f64 = l.iter().map(|&v| (v as f64 - m).exp()).sum();
        let label = labels[b] as usize;
        loss[b] = m + s.ln() - l[label] as f64;
        for k in 0..k_n {
            let pk = (l[k] as f64 - m).exp() / s;
            d[b * k_n + k] = ((pk - if k == label { 1.0 } else { 0.0 }) * inv_b) as f32;
        }
    }
}

dispatch! {
    /// One Adam step in f32, the shader's formula.
    pub fn adam(p: &NnParams, grads: &[f32], params: &mut [f32], m: &mut [f32], v: &mut [f32]) => adam_body
}

// S is unused: the body is plain loops, vectorised by being compiled inside each unit's dispatch
#[allow(clippy::extra_unused_type_parameters)]
#[inline(always)]
fn adam_body<S: Simd>(
    p: &NnParams,
    grads: &[f32],
    params: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    let n = p.n as usize;
    let (b1, b2, lr, eps, bc1, bc2) = (p.beta1, p.beta2, p.lr, p.eps, p.bc1, p.bc2);
    params[..n]
        .par_chunks_mut(CHUNK)
        .zip(m[..n].par_chunks_mut(CHUNK))
        .zip(v[..n].par_chunks_mut(CHUNK))
        .zip(grads[..n].par_chunks(CHUNK))
        .for_each(|(((pc, mc), vc), gc)| {
            // plain loops: compiled inside the unit's target feature they vectorise
            for (((pi, mi), vi), &g) in pc.iter_mut().zip(mc).zip(vc).zip(gc) {
                *mi = b1 * *mi + (1.0 - b1) * g;
                *vi = b2 * *vi + (1.0 - b2) * g * g;
                *pi -= lr * (*mi / bc1) / ((*vi / bc2).sqrt() + eps);
            }
        });
}

/// The sum of a slice in vector lanes (lane sums added at the end).
#[inline(always)]
fn lane_sum<S: Simd>(x: &[f32]) -> f32 {
    let xv = x.len() / S::LANES * S::LANES;
    // SAFETY: the loads stay below xv <= x.len()
    unsafe {
        let mut acc = [S::zero(); 4];
        let mut i = 0;
        while i + 4 * S::LANES <= xv {
            for (j, a) in acc.iter_mut().enumerate() {
                *a = S::add(*a, S::load(x.as_ptr().add(i + j * S::LANES)));
            }
            i += 4 * S::LANES;
        }
        while i < xv {
            acc[0] = S::add(acc[0], S::load(x.as_ptr().add(i)));
            i += S::LANES;
        }
        let v = S::add(S::add(acc[0], acc[1]), S::add(acc[2], acc[3]));
        S::sum(v) + x[xv..].iter().sum::<f32>()
    }
}

dispatch! {
    /// out[j] = scale times the sum of plane j of `planes` (planes of `hw` elements), for every plane in `out`.
    pub fn plane_sums(planes: &[f32], hw: usize, scale: f32, out: &mut [f32]) => plane_sums_body
}

#[inline(always)]
fn plane_sums_body<S: Simd>(planes: &[f32], hw: usize, scale: f32, out: &mut [f32]) {
    out.par_iter_mut()
        .zip(planes.par_chunks(hw.max(1)))
        .for_each(|(o, p)| *o = lane_sum::<S>(p) * scale);
}

/// Every element of plane j of `gin` (planes of `hw`) set to gout[j] / hw.
pub fn mean_pool_backward(gout: &[f32], hw: usize, gin: &mut [f32]) {
    gin.par_chunks_mut(hw.max(1))
        .zip(gout)
        .for_each(|(g, &go)| g.fill(go / hw as f32));
}

dispatch! {
    /// Grad-CAM of each image: alpha_m = mean of plane m of `gact`, map = ReLU(sum_m alpha_m act_m); `c` maps of
    /// `hw` pixels per image.
    pub fn gradcam(act: &[f32], gact: &[f32], c: usize, hw: usize, maps: &mut [f32]) => gradcam_body
}

#[inline(always)]
fn gradcam_body<S: Simd>(act: &[f32], gact: &[f32], c: usize, hw: usize, maps: &mut [f32]) {
    let n_maps = c.min(crate::nn::MAX_MAPS);
    maps.par_chunks_mut(hw.max(1))
        .enumerate()
        .for_each(|(b, map)| {
            let planes = &gact[b * c * hw..];
            let alpha: [f32; crate::nn::MAX_MAPS] = std::array::from_fn(|m| {
                if m < n_maps {
                    lane_sum::<S>(&planes[m * hw..(m + 1) * hw]) / hw as f32
                } else {
                    0.0
                }
            });
            let a = &act[b * c * hw..];
            map.fill(0.0);
            for (m, &al) in alpha[..n_maps].iter().enumerate() {
                for (o, &v) in map.iter_mut().zip(&a[m * hw..(m + 1) * hw]) {
                    *o += al * v;
                }
            }
            for o in map.iter_mut() {
                *o = o.max(0.0);
            }
        });
}

/// x = (x - mean[c]) * inv_std[c] per channel c of planes of `hw` (the twin's f32 formula); `norm` holds
/// (mean, 1 / std) per channel.
pub fn standardize(norm: &[f32], nc: usize, hw: usize, x: &mut [f32]) {
    x.par_chunks_mut(hw.max(1)).enumerate().for_each(|(j, p)| {
        let c = j % nc;
        let (m, s) = (norm[2 * c], norm[2 * c + 1]);
        for v in p {
            *v = (*v - m) * s;
        }
    });
}
