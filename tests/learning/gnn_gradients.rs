//! Finite-difference checks (f64, CPU twin) of every graph-network layer's backward and of the whole network's
//! loss (attention off, per graph and per batch, dropout on); invariances under relabelling and periodic shifts.

use crate::common;

use common::Rng;
use glasscam::kernels::gnn::cpu::*;
use glasscam::kernels::gnn::net::{forward, loss_and_grads};
use glasscam::kernels::gnn::{Attention, GraphBatch, MpnnSpec};
use glasscam::kernels::tolerance::{assert_close, Tolerance};
use glasscam::learn::gnn::graph::{build, Region};

const EPS: f64 = 1e-6;
const FD: Tolerance = Tolerance {
    abs: 1e-7,
    rel: 1e-6,
};

fn numeric(v: &[f64], f: &dyn Fn(&[f64]) -> f64) -> Vec<f64> {
    (0..v.len())
        .map(|i| {
            let mut a = v.to_vec();
            a[i] += EPS;
            let fp = f(&a);
            a[i] -= 2.0 * EPS;
            let fm = f(&a);
            (fp - fm) / (2.0 * EPS)
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Two small periodic graphs in one batch.
fn batch(n: usize, k: usize, seed: u64) -> (GraphBatch, Vec<Vec<f64>>, Vec<u32>) {
    let mut rng = Rng(seed);
    let box_l = (n as f64 / 1.1).sqrt();
    let species: Vec<u32> = (0..n).map(|i| u32::from(i % 3 == 0)).collect();
    let mut parts = Vec::new();
    let mut confs = Vec::new();
    for _ in 0..2 {
        let pos = rng.vec_f64(2 * n, 0.0, box_l);
        parts.push(build(&pos, &species, box_l, k, Region::Periodic).unwrap().0);
        confs.push(pos);
    }
    let refs: Vec<&GraphBatch> = parts.iter().collect();
    (GraphBatch::concat(&refs), confs, species)
}

#[test]
fn linear_gradients_match_finite_differences() {
    let mut rng = Rng(1);
    let (rows, n_in, n_out) = (7, 5, 4);
    let x = rng.vec_f64(rows * n_in, -1.0, 1.0);
    let wb = rng.vec_f64(n_out * n_in + n_out, -1.0, 1.0);
    let c = rng.vec_f64(rows * n_out, -1.0, 1.0);
    let f = |x: &[f64], wb: &[f64]| {
        let mut y = vec![0.0; rows * n_out];
        gnn_linear(
            n_in,
            n_out,
            &wb[..n_out * n_in],
            Some(&wb[n_out * n_in..]),
            true,
            x,
            &mut y,
        );
        (dot(&c, &y), y)
    };
    let (_, y) = f(&x, &wb);
    let mut dy = c.clone();
    gnn_relu_backward(&y, &mut dy);
    let mut dx = vec![0.0; rows * n_in];
    gnn_linear_backward_input(n_in, n_out, &wb, &dy, &mut dx);
    let mut gw = vec![0.0; n_out * n_in];
    let mut gb = vec![0.0; n_out];
    gnn_linear_backward_weight(n_in, n_out, &x, &dy, &mut gw, Some(&mut gb));
    assert_close("dx", &dx, &numeric(&x, &|v| f(v, &wb).0), FD);
    let num = numeric(&wb, &|v| f(&x, v).0);
    assert_close("dW", &gw, &num[..n_out * n_in], FD);
    assert_close("db", &gb, &num[n_out * n_in..], FD);
}

#[test]
fn message_gradients_match_finite_differences() {
    let (b, _, _) = batch(12, 2, 2);
    let wd = 3;
    let mut rng = Rng(3);
    let h = rng.vec_f64(b.n_edges() * wd, -1.0, 1.0);
    let c = rng.vec_f64(b.n_edges() * wd, -1.0, 1.0);
    let f = |h: &[f64]| {
        let mut s = vec![0.0; b.n_nodes() * wd];
        gnn_segment_sum(&b.in_ptr, wd, h, &mut s);
        let mut m = vec![0.0; b.n_edges() * wd];
        gnn_reverse_sub(&b.src, &b.rev, wd, &s, h, &mut m);
        dot(&c, &m)
    };
    let mut dh = vec![0.0; b.n_edges() * wd];
    gnn_message_backward(&b.in_ptr, &b.dst, &b.rev, wd, &c, &mut dh);
    assert_close("dh", &dh, &numeric(&h, &f), FD);
}

#[test]
fn attention_softmax_and_scaling_gradients_match_finite_differences() {
    let (b, _, _) = batch(10, 2, 4);
    let ne = b.n_edges();
    let wd = 2;
    let mut rng = Rng(5);
    let score = rng.vec_f64(ne, -2.0, 2.0);
    let u = rng.vec_f64(ne * wd, -1.0, 1.0);
    let c = rng.vec_f64(ne * wd, -1.0, 1.0);
    for ptr in [b.edge_ptr.clone(), vec![0, ne as u32]] {
        let f = |score: &[f64], u: &[f64]| {
            let mut alpha = vec![0.0; ne];
            gnn_segment_softmax(&ptr, score, &mut alpha);
            let mut out = vec![0.0; ne * wd];
            gnn_scale_rows(wd, &alpha, u, &mut out);
            (dot(&c, &out), alpha)
        };
        let (_, alpha) = f(&score, &u);
        // the weights average 1 over each segment
        for w in ptr.windows(2) {
            let s: f64 = alpha[w[0] as usize..w[1] as usize].iter().sum();
            assert!((s - (w[1] - w[0]) as f64).abs() < 1e-9);
        }
        let mut dalpha = vec![0.0; ne];
        let mut du = vec![0.0; ne * wd];
        gnn_scale_rows_backward(wd, &alpha, &u, &c, &mut dalpha, &mut du);
        let mut dscore = vec![0.0; ne];
        gnn_segment_softmax_backward(&ptr, &alpha, &dalpha, &mut dscore);
        assert_close("dscore", &dscore, &numeric(&score, &|v| f(v, &u).0), FD);
        assert_close("du", &du, &numeric(&u, &|v| f(&score, v).0), FD);
    }
}

#[test]
fn segment_mean_gradient_matches_finite_differences() {
    let (b, _, _) = batch(9, 2, 6);
    let wd = 3;
    let mut rng = Rng(7);
    let x = rng.vec_f64(b.n_nodes() * wd, -1.0, 1.0);
    let c = rng.vec_f64(b.n_graphs() * wd, -1.0, 1.0);
    let f = |x: &[f64]| {
        let mut g = vec![0.0; b.n_graphs() * wd];
        gnn_segment_mean(&b.node_ptr, wd, x, &mut g);
        dot(&c, &g)
    };
    let mut dx = vec![0.0; x.len()];
    gnn_segment_mean_backward(&b.node_ptr, wd, &c, &mut dx);
    assert_close("dx", &dx, &numeric(&x, &f), FD);
}

fn spec(attention: Attention, dropout: f64) -> MpnnSpec {
    MpnnSpec {
        n_species: 2,
        hidden: 5,
        depth: 3,
        attention,
        dropout,
        classes: 2,
        dist_mean: 0.9,
        dist_std: 0.3,
    }
}

#[test]
fn whole_loss_gradient_matches_finite_differences() {
    let (b, _, _) = batch(14, 3, 8);
    let labels = [0u32, 1];
    for (att, drop) in [
        (Attention::Off, 0.0),
        (Attention::Graph, 0.0),
        (Attention::Batch, 0.0),
        (Attention::Graph, 0.2),
    ] {
        let s = spec(att, drop);
        // random parameters everywhere (init leaves v_a at zero, which would hide the attention's gradient)
        let mut rng = Rng(12);
        let params: Vec<f64> = rng.vec_f64(s.n_params(), -0.5, 0.5);
        let seed = (drop > 0.0).then_some(42);
        let (_, g, _) = loss_and_grads(&s, &params, &b, &labels, seed);
        let num = numeric(&params, &|p| loss_and_grads(&s, p, &b, &labels, seed).0);
        assert_close(
            &format!("dloss/dparams ({att:?}, dropout {drop})"),
            &g,
            &num,
            FD,
        );
        assert!(g.iter().any(|&x| x.abs() > 1e-6));
    }
}

#[test]
fn relabelling_particles_permutes_attention_and_keeps_the_output() {
    let n = 60;
    let mut rng = Rng(9);
    let box_l = (n as f64 / 1.1).sqrt();
    let pos = rng.vec_f64(2 * n, 0.0, box_l);
    let species: Vec<u32> = (0..n).map(|i| u32::from(i % 3 == 0)).collect();
    // permutation: new index j holds old particle perm[j]
    let mut perm: Vec<usize> = (0..n).collect();
    glasscam::learn::split::shuffle(&mut perm, 4);
    let pos2: Vec<f64> = perm
        .iter()
        .flat_map(|&i| [pos[2 * i], pos[2 * i + 1]])
        .collect();
    let sp2: Vec<u32> = perm.iter().map(|&i| species[i]).collect();
    let (g1, _) = build(&pos, &species, box_l, 4, Region::Periodic).unwrap();
    let (g2, _) = build(&pos2, &sp2, box_l, 4, Region::Periodic).unwrap();
    let s = spec(Attention::Graph, 0.0);
    let params = Rng(13).vec_f64(s.n_params(), -0.5, 0.5);
    let f1 = forward(&s, &params, &g1, None);
    let f2 = forward(&s, &params, &g2, None);
    let tol = Tolerance {
        abs: 1e-12,
        rel: 1e-10,
    };
    assert_close("logits", &f2.logits, &f1.logits, tol);
    // per-particle attention: the sum over incident edges, in old labels
    let field = |g: &GraphBatch, a: &[f64]| {
        let mut out = vec![0.0; n];
        for e in 0..g.n_edges() {
            out[g.src[e] as usize] += a[e];
            out[g.dst[e] as usize] += a[e];
        }
        out
    };
    let a1 = field(&g1, f1.last_attention());
    let a2 = field(&g2, f2.last_attention());
    let a2_old: Vec<f64> = {
        let mut v = vec![0.0; n];
        for (j, &i) in perm.iter().enumerate() {
            v[i] = a2[j];
        }
        v
    };
    assert_close("per-particle attention", &a2_old, &a1, tol);
}

#[test]
fn periodic_translation_keeps_the_output() {
    let n = 60;
    let mut rng = Rng(10);
    let box_l = (n as f64 / 1.1).sqrt();
    let pos = rng.vec_f64(2 * n, 0.0, box_l);
    let species: Vec<u32> = (0..n).map(|i| u32::from(i % 2 == 0)).collect();
    let shifted: Vec<f64> = pos
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            (x + if i % 2 == 0 {
                0.37 * box_l
            } else {
                0.81 * box_l
            })
            .rem_euclid(box_l)
        })
        .collect();
    let s = spec(Attention::Graph, 0.0);
    let params = Rng(14).vec_f64(s.n_params(), -0.5, 0.5);
    let (g1, _) = build(&pos, &species, box_l, 5, Region::Periodic).unwrap();
    let (g2, _) = build(&shifted, &species, box_l, 5, Region::Periodic).unwrap();
    assert_eq!((&g1.src, &g1.dst), (&g2.src, &g2.dst));
    let f1 = forward(&s, &params, &g1, None);
    let f2 = forward(&s, &params, &g2, None);
    let tol = Tolerance {
        abs: 1e-11,
        rel: 1e-10,
    };
    assert_close("logits", &f2.logits, &f1.logits, tol);
    assert_close("attention", f2.last_attention(), f1.last_attention(), tol);
}

#[test]
fn per_graph_attention_does_not_depend_on_the_batch_but_batch_attention_does() {
    let (b, _, _) = batch(20, 3, 11);
    let n0 = b.node_ptr[1] as usize;
    let e0 = b.edge_ptr[1] as usize;
    let first = GraphBatch {
        node_ptr: vec![0, n0 as u32],
        edge_ptr: vec![0, e0 as u32],
        in_ptr: b.in_ptr[..=n0].to_vec(),
        src: b.src[..e0].to_vec(),
        dst: b.dst[..e0].to_vec(),
        rev: b.rev[..e0].to_vec(),
        species: b.species[..n0].to_vec(),
        dist: b.dist[..e0].to_vec(),
    };
    first.check(2).unwrap();
    for (att, same) in [(Attention::Graph, true), (Attention::Batch, false)] {
        let s = spec(att, 0.0);
        let params = Rng(15).vec_f64(s.n_params(), -0.5, 0.5);
        let alone = forward(&s, &params, &first, None).logits;
        let batched = forward(&s, &params, &b, None).logits;
        let d = (alone[0] - batched[0]).abs() + (alone[1] - batched[1]).abs();
        assert_eq!(d < 1e-12, same, "{att:?}: difference {d}");
    }
}

#[test]
fn f32_forward_and_gradients_match_the_f64_twin() {
    // the training path runs in f32 (gnn::train::to_f32); it must compute the f64 twin's network
    let (b, _, _) = batch(40, 4, 16);
    let labels = [1u32, 0];
    let s = spec(Attention::Graph, 0.1);
    let params = Rng(17).vec_f64(s.n_params(), -0.5, 0.5);
    let p32: Vec<f32> = params.iter().map(|&x| x as f32).collect();
    let (l64, g64, f64w) = loss_and_grads(&s, &params, &b, &labels, Some(3));
    let (l32, g32, f32w) = loss_and_grads(&s, &p32, &b, &labels, Some(3));
    let tol = Tolerance {
        abs: 1e-4,
        rel: 1e-4,
    };
    let up = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    assert_close("logits", &up(&f32w.logits), &f64w.logits, tol);
    assert_close(
        "attention",
        &up(f32w.last_attention()),
        f64w.last_attention(),
        tol,
    );
    assert!((l32 - l64).abs() < 1e-5, "loss f32 {l32} f64 {l64}");
    assert_close("gradients", &up(&g32), &g64, tol);
}
