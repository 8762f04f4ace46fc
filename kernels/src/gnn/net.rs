//! The whole network on the CPU twin: forward with every activation kept, the loss, backward to the gradient of
//! every parameter. Layer order (docs/methods.md, "Graph network"):
//! a = W_i f; h0 = ReLU(a); for t in 1..T: s = segment_sum(h), m = reverse_sub(s, h), u = ReLU(a + W_h m),
//! [attention: q = ReLU(W_a u), e = v_a q + c, alpha = segment_softmax(e), u = alpha u], h = dropout(u);
//! readout r = dropout(ReLU(W_o [onehot; segment_sum(h)] + b_o)), g = segment_mean(r),
//! logits = ffn2(dropout(ReLU(ffn1 g))).

use super::cpu::*;
use super::{Attention, GraphBatch, MpnnSpec};
use crate::nn::cpu::softmax_xent;
use crate::nn::NnParams;
use rayon::prelude::*;

/// Dropout seeds per layer: update t uses `layer_seed(seed, t)`, the readout T, the head T + 1.
pub fn layer_seed(seed: u32, layer: usize) -> u32 {
    crate::nn::hash_u32(seed ^ (layer as u32).wrapping_mul(0x9E37_79B9))
}

/// Activations of one message update.
#[derive(Clone, Debug, Default)]
pub struct Step<T = f64> {
    /// The directed messages m = reverse_sub(segment_sum(h_prev), h_prev) (kept for W_h's gradient).
    pub m: Vec<T>,
    /// ReLU(a + W_h m) before attention.
    pub u: Vec<T>,
    /// ReLU(W_a u) (attention only).
    pub q: Vec<T>,
    /// Attention weight per edge (attention only).
    pub alpha: Vec<T>,
    /// Dropout mask (training only).
    pub mask: Vec<T>,
    /// The update's output h.
    pub h: Vec<T>,
}

/// Everything a forward pass computed.
#[derive(Clone, Debug, Default)]
pub struct Forward<T = f64> {
    pub f: Vec<T>,
    /// h0 = ReLU(W_i f).
    pub h0: Vec<T>,
    /// a = W_i f (pre-activation, kept for the skip).
    pub a: Vec<T>,
    pub steps: Vec<Step<T>>,
    /// Readout input [onehot; s].
    pub xr: Vec<T>,
    /// Readout ReLU(W_o xr + b) after dropout, and its mask.
    pub r: Vec<T>,
    pub r_mask: Vec<T>,
    pub g: Vec<T>,
    /// ReLU(ffn1 g + b) after dropout, and its mask.
    pub y1: Vec<T>,
    pub y1_mask: Vec<T>,
    pub logits: Vec<T>,
}

impl<T: Real> Forward<T> {
    /// Attention of the last update, one value per edge (empty without attention).
    pub fn last_attention(&self) -> &[T] {
        self.steps.last().map(|s| s.alpha.as_slice()).unwrap_or(&[])
    }
}

fn w<'a, T>(spec: &MpnnSpec, params: &'a [T], name: &str) -> &'a [T] {
    &params[spec.offset(name)..]
}

/// Segments of the attention softmax.
pub fn attention_ptr(spec: &MpnnSpec, b: &GraphBatch) -> Vec<u32> {
    match spec.attention {
        Attention::Batch => vec![0, b.n_edges() as u32],
        _ => b.edge_ptr.clone(),
    }
}

/// x *= mask elementwise; an empty mask (no dropout) leaves x as it is.
fn apply_mask<T: Real>(x: &mut [T], mask: &[T]) {
    if mask.is_empty() {
        return;
    }
    x.par_chunks_mut(4096)
        .zip(mask.par_chunks(4096))
        .for_each(|(x, m)| {
            for (v, &m) in x.iter_mut().zip(m) {
                *v *= m;
            }
        });
}

/// `v` with `n` elements, its allocation kept between calls (every layer overwrites all of its output, so the
/// old values need not be cleared).
fn sized<T: Real>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    v.resize(n, T::zero());
    v
}

/// Forward pass; `seed` = Some(s) turns dropout on (training).
pub fn forward<T: Real>(
    spec: &MpnnSpec,
    params: &[T],
    b: &GraphBatch,
    seed: Option<u32>,
) -> Forward<T> {
    let mut fw = Forward::default();
    forward_into(spec, params, b, seed, &mut fw);
    fw
}

/// `forward` into the buffers of `fw` (a training loop reuses them: no allocation, no page faults per step).
pub fn forward_into<T: Real>(
    spec: &MpnnSpec,
    params: &[T],
    b: &GraphBatch,
    seed: Option<u32>,
    fw: &mut Forward<T>,
) {
    let (h, ns, fe) = (spec.hidden, spec.n_species, spec.edge_features());
    let (ne, nv, ng) = (b.n_edges(), b.n_nodes(), b.n_graphs());
    let drop = |layer: usize, mask: &mut Vec<T>, n: usize| match seed {
        Some(s) if spec.dropout > 0.0 => {
            dropout_mask_into(layer_seed(s, layer), spec.dropout, sized(mask, n))
        }
        _ => mask.clear(),
    };
    gnn_edge_features(
        ns,
        (spec.dist_mean, spec.dist_std),
        &b.src,
        &b.species,
        &b.dist,
        sized(&mut fw.f, ne * fe),
    );
    gnn_linear(
        fe,
        h,
        w(spec, params, "W_i.weight"),
        None,
        false,
        &fw.f,
        sized(&mut fw.a, ne * h),
    );
    sized(&mut fw.h0, ne * h);
    fw.h0
        .par_chunks_mut(4096)
        .zip(fw.a.par_chunks(4096))
        .for_each(|(o, a)| {
            for (o, &x) in o.iter_mut().zip(a) {
                *o = x.max(T::zero());
            }
        });
    let aptr = attention_ptr(spec, b);
    let mut s = vec![T::zero(); nv * h];
    fw.steps.resize_with(spec.depth - 1, Default::default);
    for t in 1..spec.depth {
        let (done, rest) = fw.steps.split_at_mut(t - 1);
        let prev = if t == 1 { &fw.h0 } else { &done[t - 2].h };
        let st = &mut rest[0];
        gnn_segment_sum(&b.in_ptr, h, prev, &mut s);
        gnn_reverse_sub(&b.src, &b.rev, h, &s, prev, sized(&mut st.m, ne * h));
        // u = ReLU(a + W_h m): a copied in, the GEMM accumulates onto it
        sized(&mut st.u, ne * h).copy_from_slice(&fw.a);
        gnn_linear_acc(h, h, w(spec, params, "W_h.weight"), true, &st.m, &mut st.u);
        drop(t, &mut st.mask, ne * h);
        sized(&mut st.h, ne * h);
        if spec.attention != Attention::Off {
            gnn_linear(
                h,
                h,
                w(spec, params, "W_a.weight"),
                None,
                true,
                &st.u,
                sized(&mut st.q, ne * h),
            );
            let mut score = vec![T::zero(); ne];
            let vb = &params[spec.offset("v_a.bias")..][..1];
            gnn_linear(
                h,
                1,
                w(spec, params, "v_a.weight"),
                Some(vb),
                false,
                &st.q,
                &mut score,
            );
            gnn_segment_softmax(&aptr, &score, sized(&mut st.alpha, ne));
            gnn_scale_rows(h, &st.alpha, &st.u, &mut st.h);
        } else {
            st.q.clear();
            st.alpha.clear();
            st.h.copy_from_slice(&st.u);
        }
        apply_mask(&mut st.h, &st.mask);
    }
    let last = fw.steps.last().map(|s| &s.h).unwrap_or(&fw.h0);
    gnn_segment_sum(&b.in_ptr, h, last, &mut s);
    gnn_readout_input(ns, h, &b.species, &s, sized(&mut fw.xr, nv * (ns + h)));
    let bo = &params[spec.offset("W_o.bias")..][..h];
    gnn_linear(
        ns + h,
        h,
        w(spec, params, "W_o.weight"),
        Some(bo),
        true,
        &fw.xr,
        sized(&mut fw.r, nv * h),
    );
    drop(spec.depth, &mut fw.r_mask, nv * h);
    apply_mask(&mut fw.r, &fw.r_mask);
    gnn_segment_mean(&b.node_ptr, h, &fw.r, sized(&mut fw.g, ng * h));
    let b1 = &params[spec.offset("ffn1.bias")..][..h];
    gnn_linear(
        h,
        h,
        w(spec, params, "ffn1.weight"),
        Some(b1),
        true,
        &fw.g,
        sized(&mut fw.y1, ng * h),
    );
    drop(spec.depth + 1, &mut fw.y1_mask, ng * h);
    apply_mask(&mut fw.y1, &fw.y1_mask);
    let b2 = &params[spec.offset("ffn2.bias")..][..spec.classes];
    gnn_linear(
        h,
        spec.classes,
        w(spec, params, "ffn2.weight"),
        Some(b2),
        false,
        &fw.y1,
        sized(&mut fw.logits, ng * spec.classes),
    );
}

/// Mean softmax cross-entropy of the logits and its gradient (the CNN's `softmax_xent`); returns (per-graph
/// losses, dlogits).
pub fn loss<T: Real>(spec: &MpnnSpec, logits: &[T], labels: &[u32]) -> (Vec<f64>, Vec<T>) {
    let logits: Vec<f64> = logits.iter().map(|x| x.f64()).collect();
    let p = NnParams {
        batch: labels.len() as u32,
        n_out: spec.classes as u32,
        ..Default::default()
    };
    let mut l = vec![0.0; labels.len()];
    let mut d = vec![0.0; logits.len()];
    softmax_xent(&p, &logits, labels, &mut l, &mut d);
    (l, d.into_iter().map(T::of).collect())
}

/// Gradient buffers of `backward`, kept between training steps.
#[derive(Clone, Debug, Default)]
pub struct Scratch<T = f64> {
    dy1: Vec<T>,
    dg: Vec<T>,
    dr: Vec<T>,
    dxr: Vec<T>,
    dh: Vec<T>,
    da: Vec<T>,
    dm: Vec<T>,
    du: Vec<T>,
    dalpha: Vec<T>,
    dscore: Vec<T>,
    dq: Vec<T>,
}

/// Gradient of the loss whose gradient w.r.t. the logits is `dlogits`, for every parameter (flat layout).
pub fn backward<T: Real>(
    spec: &MpnnSpec,
    params: &[T],
    b: &GraphBatch,
    fw: &Forward<T>,
    dlogits: &[T],
) -> Vec<T> {
    backward_with(spec, params, b, fw, dlogits, &mut Scratch::default())
}

/// `backward` with its buffers in `sc`.
pub fn backward_with<T: Real>(
    spec: &MpnnSpec,
    params: &[T],
    b: &GraphBatch,
    fw: &Forward<T>,
    dlogits: &[T],
    sc: &mut Scratch<T>,
) -> Vec<T> {
    let (h, ns, fe) = (spec.hidden, spec.n_species, spec.edge_features());
    let (ne, nv, ng) = (b.n_edges(), b.n_nodes(), b.n_graphs());
    let mut grads = vec![T::zero(); spec.n_params()];
    // weight (and bias) gradients of one Linear, accumulated into the flat gradient
    let lin_w = |grads: &mut Vec<T>,
                 wname: &str,
                 bname: Option<&str>,
                 n_in: usize,
                 n_out: usize,
                 x: &[T],
                 dy: &[T]| {
        let o = spec.offset(wname);
        let (gw, rest) = grads.split_at_mut(o + n_in * n_out);
        let gw = &mut gw[o..];
        match bname {
            // biases follow their weights in the flat layout
            Some(bn) => {
                let bo = spec.offset(bn) - (o + n_in * n_out);
                gnn_linear_backward_weight(n_in, n_out, x, dy, gw, Some(&mut rest[bo..bo + n_out]));
            }
            None => gnn_linear_backward_weight(n_in, n_out, x, dy, gw, None),
        }
    };
    // head
    let dy1 = sized(&mut sc.dy1, ng * h);
    lin_w(
        &mut grads,
        "ffn2.weight",
        Some("ffn2.bias"),
        h,
        spec.classes,
        &fw.y1,
        dlogits,
    );
    gnn_linear_backward_input(
        h,
        spec.classes,
        w(spec, params, "ffn2.weight"),
        dlogits,
        dy1,
    );
    apply_mask(dy1, &fw.y1_mask);
    gnn_relu_backward(&fw.y1, dy1);
    lin_w(
        &mut grads,
        "ffn1.weight",
        Some("ffn1.bias"),
        h,
        h,
        &fw.g,
        dy1,
    );
    let dg = sized(&mut sc.dg, ng * h);
    gnn_linear_backward_input(h, h, w(spec, params, "ffn1.weight"), dy1, dg);
    // readout
    let dr = sized(&mut sc.dr, nv * h);
    gnn_segment_mean_backward(&b.node_ptr, h, dg, dr);
    apply_mask(dr, &fw.r_mask);
    gnn_relu_backward(&fw.r, dr);
    lin_w(
        &mut grads,
        "W_o.weight",
        Some("W_o.bias"),
        ns + h,
        h,
        &fw.xr,
        dr,
    );
    let dxr = sized(&mut sc.dxr, nv * (ns + h));
    gnn_linear_backward_input(ns + h, h, w(spec, params, "W_o.weight"), dr, dxr);
    // d(segment_sum(h_last)) into the edges: dh[e] = ds[dst e]
    let dh = sized(&mut sc.dh, ne * h);
    gnn_segment_sum_backward(&b.dst, ns, h, dxr, dh);
    let aptr = attention_ptr(spec, b);
    let da = sized(&mut sc.da, ne * h);
    da.fill(T::zero());
    let dm = sized(&mut sc.dm, ne * h);
    let du = sized(&mut sc.du, ne * h);
    let dalpha = sized(&mut sc.dalpha, ne);
    let dscore = sized(&mut sc.dscore, ne);
    let dq = sized(&mut sc.dq, ne * h);
    for t in (1..spec.depth).rev() {
        let st = &fw.steps[t - 1];
        apply_mask(dh, &st.mask);
        // du: gradient w.r.t. u (post-ReLU, pre-attention)
        if spec.attention != Attention::Off {
            gnn_scale_rows_backward(h, &st.alpha, &st.u, dh, dalpha, du);
            gnn_segment_softmax_backward(&aptr, &st.alpha, dalpha, dscore);
            lin_w(
                &mut grads,
                "v_a.weight",
                Some("v_a.bias"),
                h,
                1,
                &st.q,
                dscore,
            );
            gnn_linear_backward_input(h, 1, w(spec, params, "v_a.weight"), dscore, dq);
            gnn_relu_backward(&st.q, dq);
            lin_w(&mut grads, "W_a.weight", None, h, h, &st.u, dq);
            // du += W_a^T dq (dm is free until W_h's backward below)
            gnn_linear_backward_input(h, h, w(spec, params, "W_a.weight"), dq, dm);
            for (x, &y) in du.iter_mut().zip(dm.iter()) {
                *x += y;
            }
        } else {
            du.copy_from_slice(dh);
        }
        gnn_relu_backward(&st.u, du);
        // z = a + W_h m
        for (x, &y) in da.iter_mut().zip(du.iter()) {
            *x += y;
        }
        lin_w(&mut grads, "W_h.weight", None, h, h, &st.m, du);
        gnn_linear_backward_input(h, h, w(spec, params, "W_h.weight"), du, dm);
        gnn_message_backward(&b.in_ptr, &b.dst, &b.rev, h, dm, dh);
    }
    // h0 = ReLU(a)
    gnn_relu_backward(&fw.h0, dh);
    for (x, &y) in da.iter_mut().zip(dh.iter()) {
        *x += y;
    }
    lin_w(&mut grads, "W_i.weight", None, fe, h, &fw.f, da);
    grads
}

/// Loss (mean over graphs) and gradient of every parameter.
pub fn loss_and_grads<T: Real>(
    spec: &MpnnSpec,
    params: &[T],
    b: &GraphBatch,
    labels: &[u32],
    seed: Option<u32>,
) -> (f64, Vec<T>, Forward<T>) {
    let mut fw = Forward::default();
    let (l, g) = loss_and_grads_with(
        spec,
        params,
        b,
        labels,
        seed,
        &mut fw,
        &mut Scratch::default(),
    );
    (l, g, fw)
}

/// `loss_and_grads` with the activations in `fw` and the gradient buffers in `sc`, both reused across steps.
pub fn loss_and_grads_with<T: Real>(
    spec: &MpnnSpec,
    params: &[T],
    b: &GraphBatch,
    labels: &[u32],
    seed: Option<u32>,
    fw: &mut Forward<T>,
    sc: &mut Scratch<T>,
) -> (f64, Vec<T>) {
    forward_into(spec, params, b, seed, fw);
    let (l, d) = loss(spec, &fw.logits, labels);
    let g = backward_with(spec, params, b, fw, &d, sc);
    (l.iter().sum::<f64>() / l.len().max(1) as f64, g)
}
