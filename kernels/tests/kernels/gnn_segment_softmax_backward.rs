//! gnn_segment_softmax_backward (the bond attention's softmax, backward): GPU against the f64 CPU twin
//! (`gnn_segment_softmax_backward`), segments of 1, 255 and 257 edges, random segments, the graphs of a real batch
//! and the whole batch as one segment.

use crate::common::{gnn_real, gnn_segments, gnn_values, Rng};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::{gnn_segment_softmax, gnn_segment_softmax_backward};
use glasscam_kernels::gnn::gpu::{GnnParams, GNN_SEGMENT_SOFTMAX_BACKWARD};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_segment_softmax_backward_should_match_cpu() {
    let Some(ctx) = test_context("gnn_segment_softmax_backward_should_match_cpu") else {
        return;
    };
    let real = gnn_real();
    let ne = real.n_edges() as u32;
    let mut rng = Rng(18);
    let mut cases = vec![
        vec![0, 1],
        vec![0, 255],
        vec![0, 257],
        gnn_segments(&mut rng, 5, 600),
    ];
    cases.push(real.edge_ptr.clone());
    cases.push(vec![0, ne]);
    for ptr in cases {
        let n = *ptr.last().unwrap() as usize;
        // alpha as the forward makes it (mean 1 per segment), rounded to f32 for both sides
        let (_, score) = gnn_values(&mut rng, n);
        let mut alpha64 = vec![0.0; n];
        gnn_segment_softmax(&ptr, &score, &mut alpha64);
        let a32: Vec<f32> = alpha64.iter().map(|&x| x as f32).collect();
        let alpha64: Vec<f64> = a32.iter().map(|&x| x as f64).collect();
        let (d32, d64) = gnn_values(&mut rng, n);
        let mut want = vec![0.0; n];
        gnn_segment_softmax_backward(&ptr, &alpha64, &d64, &mut want);
        let p = GnnParams {
            rows: ptr.len() as u32 - 1,
            width: 1,
            ..Default::default()
        };
        let args = [
            Arg::U32(&ptr),
            Arg::F32(&a32),
            Arg::F32(&d32),
            Arg::F32(&vec![7.0; n]),
        ];
        let got = run(&ctx, &GNN_SEGMENT_SOFTMAX_BACKWARD, p, &args).unwrap();
        assert_close(
            &format!("gnn_segment_softmax_backward segments {}", ptr.len() - 1),
            &got[0],
            &want,
            Tolerance::F32_SUM,
        );
    }
}
