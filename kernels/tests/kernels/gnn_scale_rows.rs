//! gnn_scale_rows (each message scaled by its edge's attention): GPU against the f64 CPU twin (`gnn_scale_rows`),
//! seeded random inputs with 1, 255 and 257 rows and the edges of a real batch.

use crate::common::{gnn_real, gnn_values, Rng, GNN_ROWS};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_scale_rows;
use glasscam_kernels::gnn::gpu::{GnnParams, GNN_SCALE_ROWS};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_scale_rows_should_match_cpu() {
    let Some(ctx) = test_context("gnn_scale_rows_should_match_cpu") else {
        return;
    };
    let mut rng = Rng(15);
    let rows = [GNN_ROWS[0], GNN_ROWS[1], GNN_ROWS[2], gnn_real().n_edges()];
    for (rows, width) in rows.into_iter().zip([1, 3, 16, 16]) {
        let (a32, a64) = gnn_values(&mut rng, rows);
        let (u32_, u64_) = gnn_values(&mut rng, rows * width);
        let mut want = vec![0.0; rows * width];
        gnn_scale_rows(width, &a64, &u64_, &mut want);
        let p = GnnParams {
            rows: rows as u32,
            width: width as u32,
            ..Default::default()
        };
        let args = [
            Arg::F32(&a32),
            Arg::F32(&u32_),
            Arg::F32(&vec![7.0; rows * width]),
        ];
        let got = run(&ctx, &GNN_SCALE_ROWS, p, &args).unwrap();
        assert_close(
            &format!("gnn_scale_rows rows {rows}"),
            &got[0],
            &want,
            Tolerance::F32_TIGHT,
        );
    }
}
