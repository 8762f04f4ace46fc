//! gnn_edge_input_backward (the node rows' gradient of the edge input: sums over the edges a node received and
//! sent): GPU against the f64 CPU twin, 1, 255 and 257 nodes on random symmetric graphs and a real batch, with
//! and without ACC.

use crate::common::{gnn_real, gnn_segments, gnn_values, Rng, GNN_ROWS};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_edge_input_backward;
use glasscam_kernels::gnn::gpu::{GnnParams, ACC, GNN_EDGE_INPUT_BACKWARD};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_edge_input_backward_should_match_cpu() {
    let Some(ctx) = test_context("gnn_edge_input_backward_should_match_cpu") else {
        return;
    };
    let real = gnn_real();
    let mut rng = Rng(43);
    // CSR segments with any permutation as `rev`: the kernel only gathers along it
    let mut cases: Vec<(Vec<u32>, Vec<u32>, usize, usize)> = GNN_ROWS
        .iter()
        .zip([(1, 0), (3, 2), (16, 32)])
        .map(|(&v, (wv, col))| {
            let ptr = gnn_segments(&mut rng, v, 6);
            let ne = *ptr.last().unwrap() as usize;
            let rev: Vec<u32> = (0..ne as u32).rev().collect();
            (ptr, rev, wv, col)
        })
        .collect();
    cases.push((real.in_ptr.clone(), real.rev.clone(), 32, 32));
    for (ptr, rev, wv, col) in cases {
        let (nv, ne, stride) = (ptr.len() - 1, rev.len(), col + 2 * wv);
        for acc in [false, true] {
            let (d32, d64) = gnn_values(&mut rng, ne * stride);
            let (x32, x64) = gnn_values(&mut rng, nv * wv);
            let mut want = x64.clone();
            gnn_edge_input_backward(wv, (stride, col), &ptr, &rev, acc, &d64, &mut want);
            let p = GnnParams {
                rows: nv as u32,
                width: wv as u32,
                n_out: stride as u32,
                out_col: col as u32,
                flags: if acc { ACC } else { 0 },
                ..Default::default()
            };
            let args = [
                Arg::U32(&ptr),
                Arg::U32(&rev),
                Arg::F32(&d32),
                Arg::F32(&x32),
            ];
            let got = run(&ctx, &GNN_EDGE_INPUT_BACKWARD, p, &args).unwrap();
            assert_close(
                &format!("gnn_edge_input_backward nodes {nv} acc {acc}"),
                &got[0],
                &want,
                Tolerance::F32_SUM,
            );
        }
    }
}
