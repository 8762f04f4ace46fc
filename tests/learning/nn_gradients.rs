//! Finite-difference checks (f64, CPU twin) of every layer's backward kernel and of the whole network's loss.

use crate::common;

use common::Rng;
use glasscam::kernels::nn::cpu::{
    conv2d_backward_input, conv2d_backward_weight, conv2d_forward, dense_backward_input,
    dense_backward_weight, dense_forward, dropout, mean_pool, mean_pool_backward, relu_backward,
    softmax_xent,
};
use glasscam::kernels::nn::net::Net;
use glasscam::kernels::nn::{Head, NetSpec, NnParams};
use glasscam::kernels::tolerance::{assert_close, Tolerance};
use glasscam::kernels::Compute;

const EPS: f64 = 1e-6;
/// Central differences in f64 with eps 1e-6: truncation ~1e-12 relative, rounding ~1e-10 absolute.
const FD: Tolerance = Tolerance {
    abs: 1e-7,
    rel: 1e-6,
};

/// d/dv_i f(v) by central differences, for every i.
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

#[test]
fn conv2d_gradients_match_finite_differences() {
    let mut rng = Rng(2000);
    let p = NnParams {
        batch: 2,
        c_in: 2,
        c_out: 3,
        h: 5,
        w: 4,
        k: 3,
        pad: 1,
        act: 0,
        w_off: 1,
        b_off: 55,
        ..Default::default()
    };
    let np = 1 + 54 + 3;
    let params = rng.vec_f64(np, -0.5, 0.5);
    let x = rng.vec_f64(2 * 2 * 20, -1.0, 1.0);
    let r = rng.vec_f64(2 * 3 * 20, -1.0, 1.0);
    let loss = |params: &[f64], x: &[f64]| {
        let mut out = vec![0.0; r.len()];
        conv2d_forward(&p, params, x, &mut out);
        dot(&out, &r)
    };
    let mut gin = vec![0.0; x.len()];
    conv2d_backward_input(&p, &params, &r, &mut gin);
    assert_close(
        "conv2d d/dinput",
        &gin,
        &numeric(&x, &|x| loss(&params, x)),
        FD,
    );
    let mut gw = vec![0.0; np];
    conv2d_backward_weight(&p, &x, &r, &mut gw);
    let mut want = numeric(&params, &|pp| loss(pp, &x));
    want[0] = 0.0; // the slot before w_off is not this layer's
    assert_close("conv2d d/dweights, d/dbias", &gw, &want, FD);
}

#[test]
fn mean_pool_gradient_matches_finite_differences() {
    let mut rng = Rng(2150);
    let p = NnParams {
        batch: 2,
        c_in: 3,
        h: 4,
        w: 5,
        ..Default::default()
    };
    let x = rng.vec_f64(2 * 3 * 20, -1.0, 1.0);
    let r = rng.vec_f64(6, -1.0, 1.0);
    let loss = |x: &[f64]| {
        let mut out = vec![0.0; 6];
        mean_pool(&p, x, &mut out);
        dot(&out, &r)
    };
    let mut gin = vec![0.0; x.len()];
    mean_pool_backward(&p, &r, &mut gin);
    assert_close("mean_pool d/dinput", &gin, &numeric(&x, &loss), FD);
}

#[test]
fn dense_gradients_match_finite_differences() {
    let mut rng = Rng(2100);
    let p = NnParams {
        batch: 3,
        n_in: 7,
        n_out: 4,
        act: 0,
        w_off: 0,
        b_off: 28,
        ..Default::default()
    };
    let params = rng.vec_f64(32, -0.5, 0.5);
    let x = rng.vec_f64(21, -1.0, 1.0);
    let r = rng.vec_f64(12, -1.0, 1.0);
    let loss = |params: &[f64], x: &[f64]| {
        let mut out = vec![0.0; 12];
        dense_forward(&p, params, x, &mut out);
        dot(&out, &r)
    };
    let mut gin = vec![0.0; 21];
    dense_backward_input(&p, &params, &r, &mut gin);
    assert_close(
        "dense d/dinput",
        &gin,
        &numeric(&x, &|x| loss(&params, x)),
        FD,
    );
    let mut gw = vec![0.0; 32];
    dense_backward_weight(&p, &x, &r, &mut gw);
    assert_close(
        "dense d/dweights, d/dbias",
        &gw,
        &numeric(&params, &|pp| loss(pp, &x)),
        FD,
    );
}

#[test]
fn relu_gradient_matches_finite_differences() {
    let mut rng = Rng(2200);
    // conv with act = 1 is conv then ReLU; relu_backward turns d/dout into d/dpre-activation
    let p = NnParams {
        batch: 1,
        c_in: 1,
        c_out: 2,
        h: 4,
        w: 4,
        k: 3,
        pad: 1,
        act: 1,
        w_off: 0,
        b_off: 18,
        ..Default::default()
    };
    let params = rng.vec_f64(20, -0.5, 0.5);
    let x = rng.vec_f64(16, -1.0, 1.0);
    let r = rng.vec_f64(32, -1.0, 1.0);
    let loss = |x: &[f64]| {
        let mut out = vec![0.0; 32];
        conv2d_forward(&p, &params, x, &mut out);
        dot(&out, &r)
    };
    let mut act = vec![0.0; 32];
    conv2d_forward(&p, &params, &x, &mut act);
    let mut g = r.clone();
    relu_backward(
        &NnParams {
            n: 32,
            ..Default::default()
        },
        &act,
        &mut g,
    );
    let mut gin = vec![0.0; 16];
    conv2d_backward_input(&p, &params, &g, &mut gin);
    assert_close("relu then conv d/dinput", &gin, &numeric(&x, &loss), FD);
}

#[test]
fn dropout_gradient_matches_finite_differences() {
    let mut rng = Rng(2300);
    let p = NnParams {
        n: 40,
        seed: 99,
        p: 0.5,
        ..Default::default()
    };
    let x = rng.vec_f64(40, -1.0, 1.0);
    let r = rng.vec_f64(40, -1.0, 1.0);
    let loss = |x: &[f64]| {
        let mut y = x.to_vec();
        dropout(&p, &mut y);
        dot(&y, &r)
    };
    let mut g = r.clone();
    dropout(&p, &mut g);
    assert_close("dropout d/dinput", &g, &numeric(&x, &loss), FD);
}

#[test]
fn softmax_xent_gradient_matches_finite_differences() {
    let mut rng = Rng(2400);
    let p = NnParams {
        batch: 4,
        n_out: 3,
        ..Default::default()
    };
    let logits = rng.vec_f64(12, -3.0, 3.0);
    let labels = [0u32, 2, 1, 1];
    let loss = |l: &[f64]| {
        let mut loss = vec![0.0; 4];
        let mut d = vec![0.0; 12];
        softmax_xent(&p, l, &labels, &mut loss, &mut d);
        loss.iter().sum::<f64>() / 4.0
    };
    let mut lo = vec![0.0; 4];
    let mut d = vec![0.0; 12];
    softmax_xent(&p, &logits, &labels, &mut lo, &mut d);
    assert_close("softmax_xent d/dlogits", &d, &numeric(&logits, &loss), FD);
}

#[test]
fn whole_network_loss_gradient_matches_finite_differences() {
    whole_network_check(Head::Flatten);
}

#[test]
fn whole_network_with_mean_head_loss_gradient_matches_finite_differences() {
    whole_network_check(Head::Mean);
}

fn whole_network_check(head: Head) {
    let spec = NetSpec {
        in_channels: 2,
        grid: 6,
        conv: vec![3, 4],
        kernel: 3,
        hidden: 5,
        classes: 2,
        head,
        dropout: 0.5,
    };
    let mut rng = Rng(2500);
    let params: Vec<f64> = spec.init(3).iter().map(|&x| x as f64).collect();
    let images = rng.vec_f32(3 * spec.act_len(0), 0.0, 1.0);
    let labels = [0u32, 1, 1];
    let mut net = Net::new(&Compute::Cpu, spec.clone(), &spec.init(3), 3).expect("net");
    net.set_params_f64(&params).expect("params");
    let seed = 17;
    net.loss_and_grads(&images, &labels, seed).expect("step");
    let grads = net.grads().expect("grads");
    let net = std::cell::RefCell::new(net);
    let loss = |pp: &[f64]| {
        let mut n = net.borrow_mut();
        n.set_params_f64(pp).expect("params");
        let r = n.loss_and_grads(&images, &labels, seed).expect("step");
        r.loss.iter().sum::<f64>() / r.loss.len() as f64
    };
    let want = numeric(&params, &loss);
    assert!(
        grads.iter().filter(|g| g.abs() > 1e-6).count() > spec.n_params() / 4,
        "most gradients are zero"
    );
    assert_close(
        &format!("network ({head:?} head) d(mean loss)/dparams"),
        &grads,
        &want,
        FD,
    );
}
