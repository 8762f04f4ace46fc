//! The MPNN's whole evaluation forward on the GPU (`GpuMpnn::forward`, every activation on the device, one
//! submission) against the f64 CPU twin (`net::forward`): the logits and the last update's per-edge attention
//! (the "one attention pass"), on a batch of four periodic kNN graphs of 300 particles with the quick
//! preset's shapes (hidden 16, depth 3, k 6), per-graph and per-batch attention and none.

use crate::common::gnn_quick_net as spec_and_params;
use crate::common::random_batch;
use glasscam_kernels::gnn::gpu_net::GpuMpnn;
use glasscam_kernels::gnn::net::forward;
use glasscam_kernels::gnn::Attention;
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_forward_should_match_cpu() {
    let Some(ctx) = test_context("gnn_forward_should_match_cpu") else {
        return;
    };
    let b = random_batch(4, 300, 6, 5);
    for attention in [Attention::Graph, Attention::Batch, Attention::Off] {
        let (spec, params) = spec_and_params(attention, 3);
        let want = forward(&spec, &params, &b, None);
        let p32: Vec<f32> = params.iter().map(|&x| x as f32).collect();
        let gpu = GpuMpnn::new(ctx.clone(), spec, &p32).unwrap();
        let got = gpu.forward(&b).unwrap();
        let what = format!("gnn forward, attention {attention:?}");
        assert_close(
            &format!("{what}: logits"),
            &got.logits,
            &want.logits,
            Tolerance::F32_SUM,
        );
        assert_close(
            &format!("{what}: last attention"),
            &got.attention,
            want.last_attention(),
            Tolerance::F32_SUM,
        );
        if attention != Attention::Off {
            // the attention is not uniform, so the comparison above compares something
            let spread = want
                .last_attention()
                .iter()
                .fold(0f64, |m, &a| m.max((a - 1.0).abs()));
            assert!(spread > 0.05, "{what}: attention nearly uniform ({spread})");
        }
    }
}
