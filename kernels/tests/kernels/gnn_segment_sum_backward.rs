//! gnn_segment_sum_backward (dh[e] = ds[dst e], read from the readout input's wider gradient rows): GPU against
//! the f64 CPU twin (`gnn_segment_sum_backward`), 1, 255 and 257 edges and a real batch.

use crate::common::{gnn_real, gnn_values, Rng, GNN_ROWS};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_segment_sum_backward;
use glasscam_kernels::gnn::gpu::{GnnParams, GNN_SEGMENT_SUM_BACKWARD};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_segment_sum_backward_should_match_cpu() {
    let Some(ctx) = test_context("gnn_segment_sum_backward_should_match_cpu") else {
        return;
    };
    let real = gnn_real();
    let mut rng = Rng(21);
    let mut cases: Vec<(Vec<u32>, usize, usize, usize)> = GNN_ROWS
        .iter()
        .zip([(0, 1), (2, 3), (1, 16)])
        .map(|(&e, (col, width))| {
            let nv = 1 + e / 4;
            let dst = (0..e).map(|_| (rng.next() * nv as f64) as u32).collect();
            (dst, nv, col, width)
        })
        .collect();
    cases.push((real.dst.clone(), real.n_nodes(), 2, 16));
    for (dst, nv, col, width) in cases {
        let ne = dst.len();
        let (ds32, ds64) = gnn_values(&mut rng, nv * (col + width));
        let mut want = vec![0.0; ne * width];
        gnn_segment_sum_backward(&dst, col, width, &ds64, &mut want);
        let p = GnnParams {
            rows: ne as u32,
            width: width as u32,
            col: col as u32,
            ..Default::default()
        };
        let args = [
            Arg::U32(&dst),
            Arg::F32(&ds32),
            Arg::F32(&vec![7.0; ne * width]),
        ];
        let got = run(&ctx, &GNN_SEGMENT_SUM_BACKWARD, p, &args).unwrap();
        assert_close(
            &format!("gnn_segment_sum_backward edges {ne}"),
            &got[0],
            &want,
            Tolerance::F32_TIGHT,
        );
    }
}
