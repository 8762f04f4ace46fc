//! One whole MPNN training step on the GPU (`GpuMpnn::loss_and_grads`: forward and backward with every
//! activation on the device; `GpuAdam`: the nn `adam` kernel) against the f64 CPU twin (`net::loss_and_grads`,
//! `nn::cpu::adam`): loss, every parameter's gradient, and the parameters after one Adam step, on four periodic
//! kNN graphs of 300 particles with the quick preset's shapes, per-graph, per-batch and no attention, and with
//! dropout.

use crate::common::gnn_quick_net as spec_and_params;
use crate::common::random_batch;
use glasscam_kernels::gnn::gpu_net::{read, GpuAdam, GpuMpnn};
use glasscam_kernels::gnn::net::loss_and_grads;
use glasscam_kernels::gnn::Attention;
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::nn::cpu::adam;
use glasscam_kernels::nn::AdamSpec;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

/// Gradients: f32 against f64 after the whole network's chain: relative 5e-4, or 4x the f32 CPU twin's own worst
/// relative error on that tensor where that is larger (both are f32, summing in different orders: the GPU's
/// strided partial sums against the twin's GEMM chunks), with a floor far below the largest gradients (~0.3, ~10
/// with dropout). The attention's gradients are ill-conditioned (the softmax backward subtracts each graph's mean,
/// W_a's terms cancel): the f32 twin is 3.7e-3 off on W_a. Measured on the GPU (lavapipe), no dropout: W_a 3.7e-3,
/// W_h 2.1e-4, W_i 1.3e-4, the rest below 1e-4; dropout 0.2: W_a 6.2e-4 (twin 2.7e-4), W_i 3.5e-4 (twin 1.1e-4).
const GRAD: Tolerance = Tolerance {
    abs: 2e-6,
    rel: 5e-4,
};
/// Parameters after one Adam step: the first step moves each by lr sign(g) (lr 1e-3), so a gradient of the wrong
/// sign would be off by 2e-3; f32 parameters of size ~1 round at 6e-8.
const STEP: Tolerance = Tolerance {
    abs: 1e-6,
    rel: 1e-6,
};

#[test]
fn gnn_train_step_should_match_cpu() {
    let Some(ctx) = test_context("gnn_train_step_should_match_cpu") else {
        return;
    };
    let b = random_batch(4, 300, 6, 9);
    let labels = [0, 1, 1, 0];
    // (attention, dropout): the last case draws the twin's dropout masks on the GPU (same seed, same hash)
    let cases = [
        (Attention::Graph, 0.0),
        (Attention::Batch, 0.0),
        (Attention::Off, 0.0),
        (Attention::Graph, 0.2),
    ];
    for (attention, dropout) in cases {
        let what = format!("gnn train step, attention {attention:?}, dropout {dropout}");
        let (mut spec, mut params) = spec_and_params(attention, 4);
        spec.dropout = dropout;
        let seed = (dropout > 0.0).then_some(7);
        let (loss, grads, _) = loss_and_grads(&spec, &params, &b, &labels, seed);
        let p32: Vec<f32> = params.iter().map(|&x| x as f32).collect();
        let gpu = GpuMpnn::new(ctx.clone(), spec, &p32).unwrap();
        let bb = gpu.batch(&b).unwrap();
        let (losses, _) = gpu.loss_and_grads(&bb, &labels, seed).unwrap();
        let got_loss = losses.iter().sum::<f64>() / losses.len() as f64;
        assert_close(&format!("{what}: loss"), &[got_loss], &[loss], GRAD);
        let got = read(&ctx, &bb.d.grads, spec.n_params()).unwrap();
        // the f32 CPU path's own error per tensor: the attention's gradients are ill-conditioned (the softmax
        // backward subtracts each segment's mean, W_a's terms cancel), so f32 cannot do better there
        let (_, g32, _) = loss_and_grads(&spec, &p32, &b, &labels, seed);
        for (name, shape, o) in spec.tensors() {
            let n: usize = shape.iter().product();
            if name == "v_a.bias" {
                // zero in exact arithmetic (a softmax does not change when every score shifts by c): both sides
                // hold rounding noise, the GPU's (f32 over ~7400 edges) ~1e-6
                assert!(grads[o].abs() < 1e-12, "{what}: dloss/dc = {}", grads[o]);
                assert!(got[o].abs() < 1e-5, "{what}: GPU dloss/dc = {}", got[o]);
                continue;
            }
            let e32 = (o..o + n)
                .filter(|&i| grads[i].abs() >= 1e-4)
                .map(|i| (g32[i] as f64 - grads[i]).abs() / grads[i].abs())
                .fold(0f64, f64::max);
            let tol = Tolerance {
                rel: GRAD.rel.max(4.0 * e32),
                ..GRAD
            };
            assert_close(
                &format!("{what}: gradient of {name} (f32 twin's error {e32:.1e})"),
                &got[o..o + n],
                &grads[o..o + n],
                tol,
            );
        }
        let opt = GpuAdam::new(&gpu).unwrap();
        opt.step(&gpu, &bb.d.grads, 1e-3, 1).unwrap();
        let a = AdamSpec {
            lr: 1e-3,
            ..Default::default()
        };
        let n = params.len();
        let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
        adam(&a.params(n, 1), &grads, &mut params, &mut m, &mut v);
        let mut stepped = read(&ctx, &gpu.params, n).unwrap();
        // c (v_a.bias) has no gradient (above): Adam's first step moves it by lr times the sign of each side's noise
        if attention != Attention::Off {
            let c = spec.offset("v_a.bias");
            stepped[c] = params[c];
        }
        assert_close(
            &format!("{what}: parameters after one Adam step"),
            &stepped,
            &params,
            STEP,
        );
    }
}
