//! gnn_masked_mse (squared error and its gradient on the scored nodes): GPU against the f64 CPU twin, 1, 255 and
//! 257 nodes and a real batch's node count, about a third of the nodes unscored.

use crate::common::{gnn_real, gnn_values, Rng, GNN_ROWS};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_masked_mse;
use glasscam_kernels::gnn::gpu::{GnnParams, GNN_MASKED_MSE};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_masked_mse_should_match_cpu() {
    let Some(ctx) = test_context("gnn_masked_mse_should_match_cpu") else {
        return;
    };
    let mut rng = Rng(44);
    let rows: Vec<usize> = GNN_ROWS
        .iter()
        .copied()
        .chain([gnn_real().n_nodes()])
        .collect();
    for (&v, width) in rows.iter().zip([1, 3, 10, 10]) {
        let w: Vec<f32> = (0..v)
            .map(|_| if rng.next() < 0.66 { 1.0 } else { 0.0 })
            .collect();
        let w64: Vec<f64> = w.iter().map(|&x| x as f64).collect();
        let (y32, y64) = gnn_values(&mut rng, v * width);
        let (t32, t64) = gnn_values(&mut rng, v * width);
        let scored = w.iter().filter(|&&x| x > 0.0).count().max(1);
        // a norm exact in f32, so that both sides scale by the same number
        let norm = (1.0 / (scored * width) as f32) as f64;
        let mut want = [vec![0.0; v * width], vec![0.0; v * width]];
        let [sq, dy] = &mut want;
        gnn_masked_mse(width, norm, &w64, &y64, &t64, sq, dy);
        let p = GnnParams {
            rows: v as u32,
            width: width as u32,
            p: norm as f32,
            ..Default::default()
        };
        let zeros = vec![7.0f32; v * width];
        let args = [
            Arg::F32(&w),
            Arg::F32(&y32),
            Arg::F32(&t32),
            Arg::F32(&zeros),
            Arg::F32(&zeros),
        ];
        let got = run(&ctx, &GNN_MASKED_MSE, p, &args).unwrap();
        for (k, name) in ["sq", "dy"].iter().enumerate() {
            assert_close(
                &format!("gnn_masked_mse nodes {v} {name}"),
                &got[k],
                &want[k],
                Tolerance::F32_TIGHT,
            );
        }
    }
}
