//! gnn_relu_backward (the gradient zeroed where the ReLU output is 0): GPU against the f64 CPU twin
//! (`gnn_relu_backward`), seeded random inputs with 1, 255 and 257 rows and the edges of a real batch.

use crate::common::{gnn_real, gnn_values, Rng, GNN_ROWS};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_relu_backward;
use glasscam_kernels::gnn::gpu::{GnnParams, GNN_RELU_BACKWARD};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_relu_backward_should_match_cpu() {
    let Some(ctx) = test_context("gnn_relu_backward_should_match_cpu") else {
        return;
    };
    let mut rng = Rng(14);
    let rows = [GNN_ROWS[0], GNN_ROWS[1], GNN_ROWS[2], gnn_real().n_edges()];
    for (rows, width) in rows.into_iter().zip([1, 3, 16, 16]) {
        let n = rows * width;
        // ReLU outputs: zero about half the time
        let act: Vec<f32> = rng
            .vec_f32(n, -1.0, 1.0)
            .into_iter()
            .map(|x| x.max(0.0))
            .collect();
        let act64: Vec<f64> = act.iter().map(|&x| x as f64).collect();
        let (g32, mut want) = gnn_values(&mut rng, n);
        gnn_relu_backward(&act64, &mut want);
        let p = GnnParams {
            rows: rows as u32,
            width: width as u32,
            ..Default::default()
        };
        let got = run(
            &ctx,
            &GNN_RELU_BACKWARD,
            p,
            &[Arg::F32(&act), Arg::F32(&g32)],
        )
        .unwrap();
        assert_close(
            &format!("gnn_relu_backward rows {rows}"),
            &got[0],
            &want,
            Tolerance::F32_TIGHT,
        );
    }
}
