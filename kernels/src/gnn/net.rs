//! The whole network on the CPU twin: forward with every activation kept, the loss, backward to the gradient of
//! every parameter. Layer order (SPEC §10):
//! a = W_i f; h0 = ReLU(a); for t in 1..T: s = segment_sum(h), m = reverse_sub(s, h), u = ReLU(a + W_h m),
//! [attention: q = ReLU(W_a u), e = v_a q + c, alpha = segment_softmax(e), u = alpha u], h = dropout(u);
//! readout r = dropout(ReLU(W_o [onehot; segment_sum(h)] + b_o)), g = segment_mean(r),
//! logits = ffn2(dropout(ReLU(ffn1 g))).

use super::cpu::*;
use super::{Attention, GraphBatch, MpnnSpec};
use crate::nn::cpu::softmax_xent;
use crate::nn::NnParams;

/// Dropout seeds per layer: update t uses `layer_seed(seed, t)`, the readout T, the head T + 1.
pub fn layer_seed(seed: u32, layer: usize) -> u32 {
    crate::nn::hash_u32(seed ^ (layer as u32).wrapping_mul(0x9E37_79B9))
}

/// Activations of one message update.
#[derive(Clone, Debug, Default)]
pub struct Step {
    /// ReLU(a + W_h m) before attention.
    pub u: Vec<f64>,
    /// ReLU(W_a u) (attention only).
    pub q: Vec<f64>,
    /// Attention weight per edge (attention only).
    pub alpha: Vec<f64>,
    /// Dropout mask (training only).
    pub mask: Vec<f64>,
    /// The update's output h.
    pub h: Vec<f64>,
}

/// Everything a forward pass computed.
#[derive(Clone, Debug, Default)]
pub struct Forward {
    pub f: Vec<f64>,
    /// h0 = ReLU(W_i f).
    pub h0: Vec<f64>,
    /// a = W_i f (pre-activation, kept for the skip).
    pub a: Vec<f64>,
    pub steps: Vec<Step>,
    /// Readout input [onehot; s].
    pub xr: Vec<f64>,
    /// Readout ReLU(W_o xr + b) after dropout, and its mask.
    pub r: Vec<f64>,
    pub r_mask: Vec<f64>,
    pub g: Vec<f64>,
    /// ReLU(ffn1 g + b) after dropout, and its mask.
    pub y1: Vec<f64>,
    pub y1_mask: Vec<f64>,
    pub logits: Vec<f64>,
}

impl Forward {
    /// Attention of the last update, one value per edge (empty without attention).
    pub fn last_attention(&self) -> &[f64] {
        self.steps.last().map(|s| s.alpha.as_slice()).unwrap_or(&[])
    }
}

fn w<'a>(spec: &MpnnSpec, params: &'a [f64], name: &str) -> &'a [f64] {
    &params[spec.offset(name)..]
}

/// Segments of the attention softmax.
pub fn attention_ptr(spec: &MpnnSpec, b: &GraphBatch) -> Vec<u32> {
    match spec.attention {
        Attention::Batch => vec![0, b.n_edges() as u32],
        _ => b.edge_ptr.clone(),
    }
}

fn apply_mask(x: &mut [f64], mask: &[f64]) {
    for (v, m) in x.iter_mut().zip(mask) {
        *v *= m;
    }
}

/// Forward pass; `seed` = Some(s) turns dropout on (training).
pub fn forward(spec: &MpnnSpec, params: &[f64], b: &GraphBatch, seed: Option<u32>) -> Forward {
    let (h, ns, fe) = (spec.hidden, spec.n_species, spec.edge_features());
    let (ne, nv, ng) = (b.n_edges(), b.n_nodes(), b.n_graphs());
    let drop = |layer: usize, n: usize| match seed {
        Some(s) if spec.dropout > 0.0 => dropout_mask(layer_seed(s, layer), n, spec.dropout),
        _ => Vec::new(),
    };
    let mut fw = Forward {
        f: vec![0.0; ne * fe],
        a: vec![0.0; ne * h],
        ..Default::default()
    };
    gnn_edge_features(
        ns,
        (spec.dist_mean, spec.dist_std),
        &b.src,
        &b.species,
        &b.dist,
        &mut fw.f,
    );
    gnn_linear(
        fe,
        h,
        w(spec, params, "W_i.weight"),
        None,
        false,
        &fw.f,
        &mut fw.a,
    );
    fw.h0 = fw.a.iter().map(|&x| x.max(0.0)).collect();
    let aptr = attention_ptr(spec, b);
    let mut s = vec![0.0; nv * h];
    let mut m = vec![0.0; ne * h];
    for t in 1..spec.depth {
        let prev = if t == 1 { &fw.h0 } else { &fw.steps[t - 2].h };
        gnn_segment_sum(&b.in_ptr, h, prev, &mut s);
        gnn_reverse_sub(&b.src, &b.rev, h, &s, prev, &mut m);
        let mut st = Step {
            u: vec![0.0; ne * h],
            ..Default::default()
        };
        gnn_linear(
            h,
            h,
            w(spec, params, "W_h.weight"),
            None,
            false,
            &m,
            &mut st.u,
        );
        for (u, a) in st.u.iter_mut().zip(&fw.a) {
            *u = (*u + a).max(0.0);
        }
        st.h = if spec.attention != Attention::Off {
            st.q = vec![0.0; ne * h];
            gnn_linear(
                h,
                h,
                w(spec, params, "W_a.weight"),
                None,
                true,
                &st.u,
                &mut st.q,
            );
            let mut score = vec![0.0; ne];
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
            st.alpha = vec![0.0; ne];
            gnn_segment_softmax(&aptr, &score, &mut st.alpha);
            let mut out = vec![0.0; ne * h];
            gnn_scale_rows(h, &st.alpha, &st.u, &mut out);
            out
        } else {
            st.u.clone()
        };
        st.mask = drop(t, ne * h);
        apply_mask(&mut st.h, &st.mask);
        fw.steps.push(st);
    }
    let last = fw.steps.last().map(|s| &s.h).unwrap_or(&fw.h0);
    gnn_segment_sum(&b.in_ptr, h, last, &mut s);
    fw.xr = vec![0.0; nv * (ns + h)];
    gnn_readout_input(ns, h, &b.species, &s, &mut fw.xr);
    fw.r = vec![0.0; nv * h];
    let bo = &params[spec.offset("W_o.bias")..][..h];
    gnn_linear(
        ns + h,
        h,
        w(spec, params, "W_o.weight"),
        Some(bo),
        true,
        &fw.xr,
        &mut fw.r,
    );
    fw.r_mask = drop(spec.depth, nv * h);
    apply_mask(&mut fw.r, &fw.r_mask);
    fw.g = vec![0.0; ng * h];
    gnn_segment_mean(&b.node_ptr, h, &fw.r, &mut fw.g);
    fw.y1 = vec![0.0; ng * h];
    let b1 = &params[spec.offset("ffn1.bias")..][..h];
    gnn_linear(
        h,
        h,
        w(spec, params, "ffn1.weight"),
        Some(b1),
        true,
        &fw.g,
        &mut fw.y1,
    );
    fw.y1_mask = drop(spec.depth + 1, ng * h);
    apply_mask(&mut fw.y1, &fw.y1_mask);
    fw.logits = vec![0.0; ng * spec.classes];
    let b2 = &params[spec.offset("ffn2.bias")..][..spec.classes];
    gnn_linear(
        h,
        spec.classes,
        w(spec, params, "ffn2.weight"),
        Some(b2),
        false,
        &fw.y1,
        &mut fw.logits,
    );
    fw
}

/// Mean softmax cross-entropy of the logits and its gradient (the CNN's `softmax_xent`); returns (per-graph
/// losses, dlogits).
pub fn loss(spec: &MpnnSpec, logits: &[f64], labels: &[u32]) -> (Vec<f64>, Vec<f64>) {
    let p = NnParams {
        batch: labels.len() as u32,
        n_out: spec.classes as u32,
        ..Default::default()
    };
    let mut l = vec![0.0; labels.len()];
    let mut d = vec![0.0; logits.len()];
    softmax_xent(&p, logits, labels, &mut l, &mut d);
    (l, d)
}

/// Gradient of the loss whose gradient w.r.t. the logits is `dlogits`, for every parameter (flat layout).
pub fn backward(
    spec: &MpnnSpec,
    params: &[f64],
    b: &GraphBatch,
    fw: &Forward,
    dlogits: &[f64],
) -> Vec<f64> {
    let (h, ns, fe) = (spec.hidden, spec.n_species, spec.edge_features());
    let (ne, nv, ng) = (b.n_edges(), b.n_nodes(), b.n_graphs());
    let mut grads = vec![0.0; spec.n_params()];
    // weight (and bias) gradients of one Linear, accumulated into the flat gradient
    let lin_w = |grads: &mut Vec<f64>,
                 wname: &str,
                 bname: Option<&str>,
                 n_in: usize,
                 n_out: usize,
                 x: &[f64],
                 dy: &[f64]| {
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
    let mut dy1 = vec![0.0; ng * h];
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
        &mut dy1,
    );
    if !fw.y1_mask.is_empty() {
        apply_mask(&mut dy1, &fw.y1_mask);
    }
    gnn_relu_backward(&fw.y1, &mut dy1);
    let mut dg = vec![0.0; ng * h];
    lin_w(
        &mut grads,
        "ffn1.weight",
        Some("ffn1.bias"),
        h,
        h,
        &fw.g,
        &dy1,
    );
    gnn_linear_backward_input(h, h, w(spec, params, "ffn1.weight"), &dy1, &mut dg);
    // readout
    let mut dr = vec![0.0; nv * h];
    gnn_segment_mean_backward(&b.node_ptr, h, &dg, &mut dr);
    if !fw.r_mask.is_empty() {
        apply_mask(&mut dr, &fw.r_mask);
    }
    gnn_relu_backward(&fw.r, &mut dr);
    lin_w(
        &mut grads,
        "W_o.weight",
        Some("W_o.bias"),
        ns + h,
        h,
        &fw.xr,
        &dr,
    );
    let mut dxr = vec![0.0; nv * (ns + h)];
    gnn_linear_backward_input(ns + h, h, w(spec, params, "W_o.weight"), &dr, &mut dxr);
    // d(segment_sum(h_last)) into the edges: dh[e] = ds[dst e]
    let mut dh = vec![0.0; ne * h];
    dh.chunks_mut(h).enumerate().for_each(|(e, d)| {
        let v = b.dst[e] as usize;
        d.copy_from_slice(&dxr[v * (ns + h) + ns..(v + 1) * (ns + h)]);
    });
    let aptr = attention_ptr(spec, b);
    let mut da = vec![0.0; ne * h];
    let mut dm = vec![0.0; ne * h];
    let mut s = vec![0.0; nv * h];
    let mut m = vec![0.0; ne * h];
    for t in (1..spec.depth).rev() {
        let st = &fw.steps[t - 1];
        if !st.mask.is_empty() {
            apply_mask(&mut dh, &st.mask);
        }
        // du: gradient w.r.t. u (post-ReLU, pre-attention)
        let mut du = vec![0.0; ne * h];
        if spec.attention != Attention::Off {
            let mut dalpha = vec![0.0; ne];
            gnn_scale_rows_backward(h, &st.alpha, &st.u, &dh, &mut dalpha, &mut du);
            let mut dscore = vec![0.0; ne];
            gnn_segment_softmax_backward(&aptr, &st.alpha, &dalpha, &mut dscore);
            lin_w(
                &mut grads,
                "v_a.weight",
                Some("v_a.bias"),
                h,
                1,
                &st.q,
                &dscore,
            );
            let mut dq = vec![0.0; ne * h];
            gnn_linear_backward_input(h, 1, w(spec, params, "v_a.weight"), &dscore, &mut dq);
            gnn_relu_backward(&st.q, &mut dq);
            lin_w(&mut grads, "W_a.weight", None, h, h, &st.u, &dq);
            let mut du2 = vec![0.0; ne * h];
            gnn_linear_backward_input(h, h, w(spec, params, "W_a.weight"), &dq, &mut du2);
            for (x, y) in du.iter_mut().zip(&du2) {
                *x += y;
            }
        } else {
            du.copy_from_slice(&dh);
        }
        gnn_relu_backward(&st.u, &mut du);
        // z = a + W_h m
        for (x, y) in da.iter_mut().zip(&du) {
            *x += y;
        }
        let prev = if t == 1 { &fw.h0 } else { &fw.steps[t - 2].h };
        gnn_segment_sum(&b.in_ptr, h, prev, &mut s);
        gnn_reverse_sub(&b.src, &b.rev, h, &s, prev, &mut m);
        lin_w(&mut grads, "W_h.weight", None, h, h, &m, &du);
        gnn_linear_backward_input(h, h, w(spec, params, "W_h.weight"), &du, &mut dm);
        gnn_message_backward(&b.in_ptr, &b.dst, &b.rev, h, &dm, &mut dh);
    }
    // h0 = ReLU(a)
    gnn_relu_backward(&fw.h0, &mut dh);
    for (x, y) in da.iter_mut().zip(&dh) {
        *x += y;
    }
    lin_w(&mut grads, "W_i.weight", None, fe, h, &fw.f, &da);
    grads
}

/// Loss (mean over graphs) and gradient of every parameter.
pub fn loss_and_grads(
    spec: &MpnnSpec,
    params: &[f64],
    b: &GraphBatch,
    labels: &[u32],
    seed: Option<u32>,
) -> (f64, Vec<f64>, Forward) {
    let fw = forward(spec, params, b, seed);
    let (l, d) = loss(spec, &fw.logits, labels);
    let g = backward(spec, params, b, &fw, &d);
    (l.iter().sum::<f64>() / l.len().max(1) as f64, g, fw)
}
