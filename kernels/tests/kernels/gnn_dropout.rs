//! gnn_dropout (inverted dropout in place, the twin's masks): GPU against the f64 CPU twin (`gnn_dropout`), seeded
//! random inputs with 1, 255 and 257 values and the edge values of a real batch, at two drop probabilities.

use crate::common::{gnn_real, gnn_values, Rng, GNN_ROWS};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_dropout;
use glasscam_kernels::gnn::gpu::{GnnParams, GNN_DROPOUT};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_dropout_should_match_cpu() {
    let Some(ctx) = test_context("gnn_dropout_should_match_cpu") else {
        return;
    };
    let mut rng = Rng(22);
    let rows = [GNN_ROWS[0], GNN_ROWS[1], GNN_ROWS[2], gnn_real().n_edges()];
    for (k, (rows, width)) in rows.into_iter().zip([1, 1, 1, 16]).enumerate() {
        for p in [0.1, 0.5] {
            let n = rows * width;
            let (x32, mut want) = gnn_values(&mut rng, n);
            let seed = 1000 + k as u32;
            gnn_dropout(seed, p, &mut want);
            let params = GnnParams {
                rows: rows as u32,
                width: width as u32,
                seed,
                p: p as f32,
                ..Default::default()
            };
            let got = run(&ctx, &GNN_DROPOUT, params, &[Arg::F32(&x32)]).unwrap();
            assert_close(
                &format!("gnn_dropout values {n} p {p}"),
                &got[0],
                &want,
                Tolerance::F32_TIGHT,
            );
            if n > 1000 {
                // about p of the values dropped
                let dropped = got[0].iter().filter(|&&x| x == 0.0).count() as f64 / n as f64;
                assert!((dropped - p).abs() < 0.05, "dropped {dropped}, p {p}");
            }
        }
    }
}
