//! CPU twins of the graph-network layers in f64, forward and backward, rows in parallel with rayon. Every sum runs
//! in one fixed order (CSR order for segments, fixed row chunks for weight gradients), so results do not depend on
//! the thread count. Matrices are row-major: edge or node rows of `width` values; Linear weights [n_out, n_in].

use rayon::prelude::*;

/// Rows per task of the weight-gradient reduction: fixed, so the partial sums are the same on any machine.
const GRAD_CHUNK: usize = 512;

/// y[r] = W x[r] (+ b), then ReLU when `relu`. x: [rows, n_in], y: [rows, n_out].
pub fn gnn_linear(
    n_in: usize,
    n_out: usize,
    w: &[f64],
    b: Option<&[f64]>,
    relu: bool,
    x: &[f64],
    y: &mut [f64],
) {
    // W transposed so the inner loop runs over contiguous outputs
    let mut wt = vec![0.0; n_in * n_out];
    for o in 0..n_out {
        for i in 0..n_in {
            wt[i * n_out + o] = w[o * n_in + i];
        }
    }
    y.par_chunks_mut(n_out.max(1))
        .zip(x.par_chunks(n_in.max(1)))
        .for_each(|(yr, xr)| {
            match b {
                Some(b) => yr.copy_from_slice(&b[..n_out]),
                None => yr.fill(0.0),
            }
            for (i, &xi) in xr.iter().enumerate() {
                if xi == 0.0 {
                    continue;
                }
                let wr = &wt[i * n_out..(i + 1) * n_out];
                for (yo, &wo) in yr.iter_mut().zip(wr) {
                    *yo += xi * wo;
                }
            }
            if relu {
                for v in yr.iter_mut() {
                    *v = v.max(0.0);
                }
            }
        });
}

/// dx[r] = W^T dy[r] (overwrites dx).
pub fn gnn_linear_backward_input(n_in: usize, n_out: usize, w: &[f64], dy: &[f64], dx: &mut [f64]) {
    dx.par_chunks_mut(n_in.max(1))
        .zip(dy.par_chunks(n_out.max(1)))
        .for_each(|(dxr, dyr)| {
            dxr.fill(0.0);
            for (o, &g) in dyr.iter().enumerate() {
                if g == 0.0 {
                    continue;
                }
                for (d, &wv) in dxr.iter_mut().zip(&w[o * n_in..(o + 1) * n_in]) {
                    *d += g * wv;
                }
            }
        });
}

/// gw += sum_r dy[r] x[r]^T and gb += sum_r dy[r] (accumulates, so shared weights sum over their uses).
pub fn gnn_linear_backward_weight(
    n_in: usize,
    n_out: usize,
    x: &[f64],
    dy: &[f64],
    gw: &mut [f64],
    gb: Option<&mut [f64]>,
) {
    let rows = dy.len() / n_out.max(1);
    let parts: Vec<Vec<f64>> = (0..rows.div_ceil(GRAD_CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut acc = vec![0.0; n_out * n_in + n_out];
            for r in c * GRAD_CHUNK..((c + 1) * GRAD_CHUNK).min(rows) {
                let xr = &x[r * n_in..(r + 1) * n_in];
                for o in 0..n_out {
                    let g = dy[r * n_out + o];
                    if g == 0.0 {
                        continue;
                    }
                    for (a, &xi) in acc[o * n_in..(o + 1) * n_in].iter_mut().zip(xr) {
                        *a += g * xi;
                    }
                    acc[n_out * n_in + o] += g;
                }
            }
            acc
        })
        .collect();
    for p in &parts {
        for (a, v) in gw[..n_out * n_in].iter_mut().zip(p) {
            *a += v;
        }
    }
    if let Some(gb) = gb {
        for p in &parts {
            for (a, v) in gb[..n_out].iter_mut().zip(&p[n_out * n_in..]) {
                *a += v;
            }
        }
    }
}

/// dy[i] = 0 where the ReLU output y[i] is 0 (the gradient w.r.t. the pre-activation).
pub fn gnn_relu_backward(y: &[f64], dy: &mut [f64]) {
    dy.par_iter_mut().zip(y.par_iter()).for_each(|(d, &v)| {
        if v <= 0.0 {
            *d = 0.0;
        }
    });
}

/// out[v] = sum of h[e] over the edges e into v, in CSR order.
pub fn gnn_segment_sum(in_ptr: &[u32], width: usize, h: &[f64], out: &mut [f64]) {
    out.par_chunks_mut(width.max(1))
        .enumerate()
        .for_each(|(v, o)| {
            o.fill(0.0);
            for e in in_ptr[v] as usize..in_ptr[v + 1] as usize {
                for (a, &x) in o.iter_mut().zip(&h[e * width..(e + 1) * width]) {
                    *a += x;
                }
            }
        });
}

/// m[e] = s[src e] - h[rev e]: the messages into e's source except the one coming back along e (directed MPNN).
pub fn gnn_reverse_sub(
    src: &[u32],
    rev: &[u32],
    width: usize,
    s: &[f64],
    h: &[f64],
    m: &mut [f64],
) {
    m.par_chunks_mut(width.max(1))
        .enumerate()
        .for_each(|(e, o)| {
            let sv = &s[src[e] as usize * width..][..width];
            let hr = &h[rev[e] as usize * width..][..width];
            for ((a, &x), &y) in o.iter_mut().zip(sv).zip(hr) {
                *a = x - y;
            }
        });
}

/// Backward of m = reverse_sub(segment_sum(h), h): ds[v] = sum of dm over the edges out of v (the reverses of the
/// edges into v, in CSR order), then dh[e] = ds[dst e] - dm[rev e]. Overwrites dh; all gathers, no scatter.
pub fn gnn_message_backward(
    in_ptr: &[u32],
    dst: &[u32],
    rev: &[u32],
    width: usize,
    dm: &[f64],
    dh: &mut [f64],
) {
    let nv = in_ptr.len() - 1;
    let mut ds = vec![0.0; nv * width];
    ds.par_chunks_mut(width.max(1))
        .enumerate()
        .for_each(|(v, o)| {
            for &r in &rev[in_ptr[v] as usize..in_ptr[v + 1] as usize] {
                let r = r as usize;
                for (a, &x) in o.iter_mut().zip(&dm[r * width..(r + 1) * width]) {
                    *a += x;
                }
            }
        });
    dh.par_chunks_mut(width.max(1))
        .enumerate()
        .for_each(|(e, o)| {
            let sv = &ds[dst[e] as usize * width..][..width];
            let r = rev[e] as usize;
            for ((a, &x), &y) in o.iter_mut().zip(sv).zip(&dm[r * width..(r + 1) * width]) {
                *a = x - y;
            }
        });
}

/// alpha[e] = n_seg * softmax over the segment of score[e]; segments are `ptr[j]..ptr[j + 1]`. The factor n_seg
/// (the segment's edge count) keeps the mean scale of a message at 1 whatever the graph's size.
pub fn gnn_segment_softmax(ptr: &[u32], score: &[f64], alpha: &mut [f64]) {
    let segs: Vec<(usize, usize)> = ptr
        .windows(2)
        .map(|w| (w[0] as usize, w[1] as usize))
        .collect();
    let outs: Vec<Vec<f64>> = segs
        .par_iter()
        .map(|&(a, b)| {
            let m = score[a..b]
                .iter()
                .cloned()
                .fold(f64::NEG_INFINITY, f64::max);
            let ex: Vec<f64> = score[a..b].iter().map(|&s| (s - m).exp()).collect();
            let z: f64 = ex.iter().sum();
            let n = (b - a) as f64;
            ex.into_iter().map(|x| n * x / z).collect()
        })
        .collect();
    for (&(a, b), o) in segs.iter().zip(outs) {
        alpha[a..b].copy_from_slice(&o);
    }
}

/// Backward of `gnn_segment_softmax`: dscore[e] = alpha[e] (dalpha[e] - sum_f alpha[f] dalpha[f] / n_seg).
pub fn gnn_segment_softmax_backward(
    ptr: &[u32],
    alpha: &[f64],
    dalpha: &[f64],
    dscore: &mut [f64],
) {
    for w in ptr.windows(2) {
        let (a, b) = (w[0] as usize, w[1] as usize);
        let dot: f64 = alpha[a..b]
            .iter()
            .zip(&dalpha[a..b])
            .map(|(x, y)| x * y)
            .sum();
        let mean = dot / (b - a).max(1) as f64;
        for e in a..b {
            dscore[e] = alpha[e] * (dalpha[e] - mean);
        }
    }
}

/// out[e] = alpha[e] u[e] (one weight per row).
pub fn gnn_scale_rows(width: usize, alpha: &[f64], u: &[f64], out: &mut [f64]) {
    out.par_chunks_mut(width.max(1))
        .zip(u.par_chunks(width.max(1)))
        .enumerate()
        .for_each(|(e, (o, x))| {
            for (a, &v) in o.iter_mut().zip(x) {
                *a = alpha[e] * v;
            }
        });
}

/// Backward of `gnn_scale_rows`: dalpha[e] = dout[e] . u[e], du[e] = alpha[e] dout[e].
pub fn gnn_scale_rows_backward(
    width: usize,
    alpha: &[f64],
    u: &[f64],
    dout: &[f64],
    dalpha: &mut [f64],
    du: &mut [f64],
) {
    dalpha
        .par_iter_mut()
        .zip(du.par_chunks_mut(width.max(1)))
        .enumerate()
        .for_each(|(e, (da, d))| {
            let g = &dout[e * width..(e + 1) * width];
            *da = g
                .iter()
                .zip(&u[e * width..(e + 1) * width])
                .map(|(a, b)| a * b)
                .sum();
            for (x, &y) in d.iter_mut().zip(g) {
                *x = alpha[e] * y;
            }
        });
}

/// out[g] = mean of x over the nodes of graph g (`node_ptr`).
pub fn gnn_segment_mean(node_ptr: &[u32], width: usize, x: &[f64], out: &mut [f64]) {
    out.par_chunks_mut(width.max(1))
        .enumerate()
        .for_each(|(g, o)| {
            let (a, b) = (node_ptr[g] as usize, node_ptr[g + 1] as usize);
            o.fill(0.0);
            for v in a..b {
                for (s, &y) in o.iter_mut().zip(&x[v * width..(v + 1) * width]) {
                    *s += y;
                }
            }
            let inv = 1.0 / (b - a).max(1) as f64;
            for s in o.iter_mut() {
                *s *= inv;
            }
        });
}

/// Backward of `gnn_segment_mean`: dx[v] = dout[graph of v] / nodes of that graph.
pub fn gnn_segment_mean_backward(node_ptr: &[u32], width: usize, dout: &[f64], dx: &mut [f64]) {
    for g in 0..node_ptr.len() - 1 {
        let (a, b) = (node_ptr[g] as usize, node_ptr[g + 1] as usize);
        let inv = 1.0 / (b - a).max(1) as f64;
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
pub fn gnn_edge_features(
    n_species: usize,
    (mean, std): (f64, f64),
    src: &[u32],
    species: &[u32],
    dist: &[f64],
    out: &mut [f64],
) {
    let w = n_species + 1;
    out.par_chunks_mut(w).enumerate().for_each(|(e, o)| {
        o.fill(0.0);
        o[species[src[e] as usize] as usize] = 1.0;
        o[n_species] = (dist[e] - mean) / std;
    });
}

/// Readout input [V, n_species + width]: the node's species one-hot, then its incoming message sum s[v].
pub fn gnn_readout_input(
    n_species: usize,
    width: usize,
    species: &[u32],
    s: &[f64],
    out: &mut [f64],
) {
    let w = n_species + width;
    out.par_chunks_mut(w).enumerate().for_each(|(v, o)| {
        o[..n_species].fill(0.0);
        o[species[v] as usize] = 1.0;
        o[n_species..].copy_from_slice(&s[v * width..(v + 1) * width]);
    });
}

/// Dropout mask of `n` elements: 0 or 1 / (1 - p) from the shared hash (`nn::keep`), seeded per layer.
pub fn dropout_mask(seed: u32, n: usize, p: f64) -> Vec<f64> {
    let scale = 1.0 / (1.0 - p);
    (0..n)
        .into_par_iter()
        .map(|i| {
            if crate::nn::keep(seed, i as u32, p as f32) {
                scale
            } else {
                0.0
            }
        })
        .collect()
}
