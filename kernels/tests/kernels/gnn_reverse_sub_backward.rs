//! gnn_reverse_sub_backward (ds[v] = sum of dm over the edges out of v): GPU against the f64 CPU twin
//! (`gnn_reverse_sub_backward`), 1, 255 and 257 edges with random CSR and reverse indices, and a real batch.

use crate::common::{gnn_real, gnn_segments, gnn_values, Rng, GNN_ROWS};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_reverse_sub_backward;
use glasscam_kernels::gnn::gpu::{GnnParams, GNN_REVERSE_SUB_BACKWARD};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_reverse_sub_backward_should_match_cpu() {
    let Some(ctx) = test_context("gnn_reverse_sub_backward_should_match_cpu") else {
        return;
    };
    let real = gnn_real();
    let mut rng = Rng(20);
    let mut cases: Vec<(Vec<u32>, Vec<u32>, usize)> = Vec::new();
    for (&e, width) in GNN_ROWS.iter().zip([1, 3, 16]) {
        // random segments, cut to e edges in all
        let mut ptr = gnn_segments(&mut rng, e, 4);
        let keep = ptr
            .iter()
            .position(|&p| p as usize >= e)
            .unwrap_or(ptr.len() - 1);
        ptr.truncate(keep + 1);
        *ptr.last_mut().unwrap() = e as u32;
        let rev = (0..e).map(|_| (rng.next() * e as f64) as u32).collect();
        cases.push((ptr, rev, width));
    }
    cases.push((real.in_ptr.clone(), real.rev.clone(), 16));
    for (in_ptr, rev, width) in cases {
        let (nv, ne) = (in_ptr.len() - 1, rev.len());
        let (dm32, dm64) = gnn_values(&mut rng, ne * width);
        let mut want = vec![0.0; nv * width];
        gnn_reverse_sub_backward(&in_ptr, &rev, width, &dm64, &mut want);
        let p = GnnParams {
            rows: nv as u32,
            width: width as u32,
            ..Default::default()
        };
        let args = [
            Arg::U32(&in_ptr),
            Arg::U32(&rev),
            Arg::F32(&dm32),
            Arg::F32(&vec![7.0; nv * width]),
        ];
        let got = run(&ctx, &GNN_REVERSE_SUB_BACKWARD, p, &args).unwrap();
        assert_close(
            &format!("gnn_reverse_sub_backward edges {ne}"),
            &got[0],
            &want,
            Tolerance::F32_TIGHT,
        );
    }
}
