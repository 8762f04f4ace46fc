//! gnn_linear_backward_weight (dW = sum_r dy x^T and db = sum_r dy, written or added into the flat gradient):
//! GPU against the f64 CPU twin (`gnn_linear_backward_weight`), seeded random inputs with 1, 255 and 257 rows and
//! the edges of a real batch.

use crate::common::{gnn_real, gnn_values, Rng, GNN_ROWS};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_linear_backward_weight;
use glasscam_kernels::gnn::gpu::{GnnParams, ACC, BIAS, GNN_LINEAR_BACKWARD_WEIGHT};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_linear_backward_weight_should_match_cpu() {
    let Some(ctx) = test_context("gnn_linear_backward_weight_should_match_cpu") else {
        return;
    };
    let real = gnn_real();
    let cases = [
        (GNN_ROWS[0], 3, 16, 0),
        (GNN_ROWS[1], 16, 1, BIAS),
        (GNN_ROWS[2], 16, 16, ACC),
        (real.n_edges(), 16, 16, ACC | BIAS),
        (real.n_edges(), 3, 16, 0),
    ];
    let mut rng = Rng(13);
    for (rows, n_in, n_out, flags) in cases {
        let w_off = 4;
        let b_off = w_off + n_in * n_out;
        let (x32, x64) = gnn_values(&mut rng, rows * n_in);
        let (dy32, dy64) = gnn_values(&mut rng, rows * n_out);
        let (g32, g64) = gnn_values(&mut rng, b_off + n_out + 2);
        let mut want = g64.clone();
        // the twin adds; without ACC the kernel writes, so the twin starts from zero there
        if flags & ACC == 0 {
            want[w_off..b_off].fill(0.0);
            if flags & BIAS != 0 {
                want[b_off..b_off + n_out].fill(0.0);
            }
        }
        let (gw, gb) = want.split_at_mut(b_off);
        let gb = (flags & BIAS != 0).then_some(&mut gb[..n_out]);
        gnn_linear_backward_weight(n_in, n_out, &x64, &dy64, &mut gw[w_off..], gb);
        let p = GnnParams {
            rows: rows as u32,
            n_in: n_in as u32,
            n_out: n_out as u32,
            w_off: w_off as u32,
            b_off: b_off as u32,
            flags,
            ..Default::default()
        };
        let got = run(
            &ctx,
            &GNN_LINEAR_BACKWARD_WEIGHT,
            p,
            &[Arg::F32(&x32), Arg::F32(&dy32), Arg::F32(&g32)],
        )
        .unwrap();
        assert_close(
            &format!("gnn_linear_backward_weight rows {rows} {n_in} -> {n_out} flags {flags}"),
            &got[0],
            &want,
            Tolerance::F32_SUM,
        );
    }
}
