//! gnn_segment_mean_backward (the pooled gradient spread over a graph's nodes): GPU against the f64 CPU twin
//! (`gnn_segment_mean_backward`), 1, 255 and 257 nodes and the graphs of a real batch.

use crate::common::{gnn_real, gnn_segments, gnn_values, Rng};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_segment_mean_backward;
use glasscam_kernels::gnn::gpu::{GnnParams, GNN_SEGMENT_MEAN_BACKWARD};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_segment_mean_backward_should_match_cpu() {
    let Some(ctx) = test_context("gnn_segment_mean_backward_should_match_cpu") else {
        return;
    };
    let mut rng = Rng(19);
    let cases = vec![
        (vec![0, 1], 3),
        (vec![0, 255], 1),
        (vec![0, 100, 257], 16),
        (gnn_segments(&mut rng, 4, 90), 5),
        (gnn_real().node_ptr, 16),
    ];
    for (ptr, width) in cases {
        let (ng, nv) = (ptr.len() - 1, *ptr.last().unwrap() as usize);
        let graph: Vec<u32> = (0..ng)
            .flat_map(|g| (ptr[g]..ptr[g + 1]).map(move |_| g as u32))
            .collect();
        let (d32, d64) = gnn_values(&mut rng, ng * width);
        let mut want = vec![0.0; nv * width];
        gnn_segment_mean_backward(&ptr, width, &d64, &mut want);
        let p = GnnParams {
            rows: nv as u32,
            width: width as u32,
            ..Default::default()
        };
        let args = [
            Arg::U32(&ptr),
            Arg::U32(&graph),
            Arg::F32(&d32),
            Arg::F32(&vec![7.0; nv * width]),
        ];
        let got = run(&ctx, &GNN_SEGMENT_MEAN_BACKWARD, p, &args).unwrap();
        assert_close(
            &format!("gnn_segment_mean_backward nodes {nv}"),
            &got[0],
            &want,
            Tolerance::F32_TIGHT,
        );
    }
}
