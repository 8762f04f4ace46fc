//! The f32 backend's element-wise and per-plane steps: ReLU backward, dropout, softmax cross-entropy, Adam,
//! mean pooling, Grad-CAM, standardization, the epoch tally. Each is the twin's formula (`nn::cpu`) in f32,
//! in parallel over fixed chunks, with the plane sums in lanes of the vector unit.

use rayon::prelude::*;

use super::simd::{dispatch, Isa, Simd};
use crate::nn::common::{keep, NnParams};

/// Elements per task of the element-wise passes.
const CHUNK: usize = 1 << 14;

/// g = 0 where act is not positive (NaN counts as not positive, as in the shader).
pub fn relu_backward(isa: Isa, act: &[f32], g: &mut [f32]) {
    g.par_chunks_mut(CHUNK)
        .zip(act.par_chunks(CHUNK))
        .for_each(|(g, a)| relu_chunk(isa, a, g));
}

// Each parallel task calls a dispatched function: a closure inside a dispatched body would be compiled without the
// unit's target feature.
dispatch! {
    fn relu_chunk(act: &[f32], g: &mut [f32]) => relu_chunk_body
}

#[allow(clippy::extra_unused_type_parameters)]
#[inline(always)]
fn relu_chunk_body<S: Simd>(act: &[f32], g: &mut [f32]) {
    for (g, &a) in g.iter_mut().zip(act) {
        // `a > 0` is false for NaN
        *g = if a > 0.0 { *g } else { 0.0 };
    }
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

/// One Adam step in f32, the shader's formula.
pub fn adam(
    isa: Isa,
    p: &NnParams,
    grads: &[f32],
    params: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    let n = p.n as usize;
    params[..n]
        .par_chunks_mut(CHUNK)
        .zip(m[..n].par_chunks_mut(CHUNK))
        .zip(v[..n].par_chunks_mut(CHUNK))
        .zip(grads[..n].par_chunks(CHUNK))
        .for_each(|(((pc, mc), vc), gc)| adam_chunk(isa, p, gc, pc, mc, vc));
}

dispatch! {
    fn adam_chunk(p: &NnParams, grads: &[f32], params: &mut [f32], m: &mut [f32], v: &mut [f32]) => adam_body
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
    let (b1, b2, lr, eps, bc1, bc2) = (p.beta1, p.beta2, p.lr, p.eps, p.bc1, p.bc2);
    for (((pi, mi), vi), &g) in params.iter_mut().zip(m).zip(v).zip(grads) {
        *mi = b1 * *mi + (1.0 - b1) * g;
        *vi = b2 * *vi + (1.0 - b2) * g * g;
        *pi -= lr * (*mi / bc1) / ((*vi / bc2).sqrt() + eps);
    }
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

/// out[j] = scale times the sum of plane j of `planes` (planes of `hw` elements), for every plane in `out`.
pub fn plane_sums(isa: Isa, planes: &[f32], hw: usize, scale: f32, out: &mut [f32]) {
    out.par_iter_mut()
        .zip(planes.par_chunks(hw.max(1)))
        .with_min_len(CHUNK.div_ceil(hw.max(1)))
        .for_each(|(o, p)| *o = plane_sum(isa, p) * scale);
}

dispatch! {
    fn plane_sum(p: &[f32]) -> f32 => lane_sum
}

/// Every element of plane j of `gin` (planes of `hw`) set to gout[j] / hw.
pub fn mean_pool_backward(gout: &[f32], hw: usize, gin: &mut [f32]) {
    gin.par_chunks_mut(hw.max(1))
        .zip(gout)
        .for_each(|(g, &go)| g.fill(go / hw as f32));
}

/// Grad-CAM of each image: alpha_m = mean of plane m of `gact`, map = ReLU(sum_m alpha_m act_m); `c` maps of
/// `hw` pixels per image.
pub fn gradcam(isa: Isa, act: &[f32], gact: &[f32], c: usize, hw: usize, maps: &mut [f32]) {
    maps.par_chunks_mut(hw.max(1))
        .enumerate()
        .for_each(|(b, map)| {
            let planes = b * c * hw..(b + 1) * c * hw;
            gradcam_image(isa, &act[planes.clone()], &gact[planes], hw, map)
        });
}

dispatch! {
    fn gradcam_image(act: &[f32], gact: &[f32], hw: usize, map: &mut [f32]) => gradcam_body
}

#[inline(always)]
fn gradcam_body<S: Simd>(act: &[f32], gact: &[f32], hw: usize, map: &mut [f32]) {
    let n_maps = (act.len() / hw.max(1)).min(crate::nn::MAX_MAPS);
    map.fill(0.0);
    for m in 0..n_maps {
        let plane = m * hw..(m + 1) * hw;
        let alpha = lane_sum::<S>(&gact[plane.clone()]) / hw as f32;
        for (o, &v) in map.iter_mut().zip(&act[plane]) {
            *o += alpha * v;
        }
    }
    for o in map.iter_mut() {
        *o = o.max(0.0);
    }
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
