//! gnn_columns (a block of columns copied between row-major matrices, overwriting or adding): GPU against the
//! f64 CPU twin, 1, 255 and 257 rows and a real batch's edge count, with and without ACC.

use crate::common::{gnn_real, gnn_values, Rng, GNN_ROWS};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_columns;
use glasscam_kernels::gnn::gpu::{GnnParams, ACC, GNN_COLUMNS};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_columns_should_match_cpu() {
    let Some(ctx) = test_context("gnn_columns_should_match_cpu") else {
        return;
    };
    let mut rng = Rng(41);
    let rows: Vec<usize> = GNN_ROWS
        .iter()
        .copied()
        .chain([gnn_real().n_edges()])
        .collect();
    // (width, x stride, input column, out stride, output column)
    for (k, &r) in rows.iter().enumerate() {
        let (width, xs, ic, os, oc) = [
            (1, 1, 0, 3, 2),
            (3, 7, 2, 5, 1),
            (16, 32, 16, 96, 16),
            (16, 16, 0, 48, 32),
        ][k];
        for acc in [false, true] {
            let (x32, x64) = gnn_values(&mut rng, r * xs);
            let (o32, o64) = gnn_values(&mut rng, r * os);
            let mut want = o64.clone();
            gnn_columns(width, (xs, ic), (os, oc), acc, &x64, &mut want);
            let p = GnnParams {
                rows: r as u32,
                width: width as u32,
                n_in: xs as u32,
                n_out: os as u32,
                col: ic as u32,
                out_col: oc as u32,
                flags: if acc { ACC } else { 0 },
                ..Default::default()
            };
            let got = run(&ctx, &GNN_COLUMNS, p, &[Arg::F32(&x32), Arg::F32(&o32)]).unwrap();
            assert_close(
                &format!("gnn_columns rows {r} acc {acc}"),
                &got[0],
                &want,
                Tolerance::F32_TIGHT,
            );
        }
    }
}
