//! gnn_scale_rows_backward (dalpha = dout . u, du = alpha dout): GPU against the f64 CPU twin
//! (`gnn_scale_rows_backward`), seeded random inputs with 1, 255 and 257 rows and the edges of a real batch.

use crate::common::{gnn_real, gnn_values, Rng, GNN_ROWS};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_scale_rows_backward;
use glasscam_kernels::gnn::gpu::{GnnParams, GNN_SCALE_ROWS_BACKWARD};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_scale_rows_backward_should_match_cpu() {
    let Some(ctx) = test_context("gnn_scale_rows_backward_should_match_cpu") else {
        return;
    };
    let mut rng = Rng(16);
    let rows = [GNN_ROWS[0], GNN_ROWS[1], GNN_ROWS[2], gnn_real().n_edges()];
    for (rows, width) in rows.into_iter().zip([1, 3, 16, 16]) {
        let (a32, a64) = gnn_values(&mut rng, rows);
        let (u32_, u64_) = gnn_values(&mut rng, rows * width);
        let (d32, d64) = gnn_values(&mut rng, rows * width);
        let mut want_da = vec![0.0; rows];
        let mut want_du = vec![0.0; rows * width];
        gnn_scale_rows_backward(width, &a64, &u64_, &d64, &mut want_da, &mut want_du);
        let p = GnnParams {
            rows: rows as u32,
            width: width as u32,
            ..Default::default()
        };
        let args = [
            Arg::F32(&a32),
            Arg::F32(&u32_),
            Arg::F32(&d32),
            Arg::F32(&vec![7.0; rows]),
            Arg::F32(&vec![7.0; rows * width]),
        ];
        let got = run(&ctx, &GNN_SCALE_ROWS_BACKWARD, p, &args).unwrap();
        let what = format!("gnn_scale_rows_backward rows {rows}");
        assert_close(&what, &got[0], &want_da, Tolerance::F32_SUM);
        assert_close(&what, &got[1], &want_du, Tolerance::F32_TIGHT);
    }
}
