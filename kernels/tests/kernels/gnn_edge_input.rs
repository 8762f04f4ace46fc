//! gnn_edge_input (the receiving and the sending node's rows beside an edge's own): GPU against the f64 CPU twin,
//! 1, 255 and 257 edges on random endpoints and a real batch.

use crate::common::{gnn_real, gnn_values, Rng, GNN_ROWS};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_edge_input;
use glasscam_kernels::gnn::gpu::{GnnParams, GNN_EDGE_INPUT};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

/// Sources, targets, node count, node row width and the column the node rows start at.
type Case = (Vec<u32>, Vec<u32>, usize, usize, usize);

#[test]
fn gnn_edge_input_should_match_cpu() {
    let Some(ctx) = test_context("gnn_edge_input_should_match_cpu") else {
        return;
    };
    let real = gnn_real();
    let mut rng = Rng(42);
    let mut cases: Vec<Case> = GNN_ROWS
        .iter()
        .zip([(1, 0), (3, 2), (16, 32)])
        .map(|(&e, (wv, col))| {
            let nv = 1 + e / 4;
            let mut ends = || (0..e).map(|_| (rng.next() * nv as f64) as u32).collect();
            (ends(), ends(), nv, wv, col)
        })
        .collect();
    cases.push((real.src.clone(), real.dst.clone(), real.n_nodes(), 32, 32));
    for (src, dst, nv, wv, col) in cases {
        let (ne, stride) = (src.len(), col + 2 * wv);
        let (x32, x64) = gnn_values(&mut rng, nv * wv);
        let (o32, o64) = gnn_values(&mut rng, ne * stride);
        let mut want = o64.clone();
        gnn_edge_input(wv, (stride, col), &src, &dst, &x64, &mut want);
        let p = GnnParams {
            rows: ne as u32,
            width: wv as u32,
            n_out: stride as u32,
            out_col: col as u32,
            ..Default::default()
        };
        let args = [
            Arg::U32(&src),
            Arg::U32(&dst),
            Arg::F32(&x32),
            Arg::F32(&o32),
        ];
        let got = run(&ctx, &GNN_EDGE_INPUT, p, &args).unwrap();
        assert_close(
            &format!("gnn_edge_input edges {ne}"),
            &got[0],
            &want,
            Tolerance::F32_TIGHT,
        );
    }
}
