//! gnn_linear_backward_input (dx = W^T dy, written or added): GPU against the f64 CPU twin
//! (`gnn_linear_backward_input`), seeded random inputs with 1, 255 and 257 rows and the edges of a real batch.

use crate::common::{gnn_real, gnn_values, Rng, GNN_ROWS};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_linear_backward_input;
use glasscam_kernels::gnn::gpu::{GnnParams, ACC, GNN_LINEAR_BACKWARD_INPUT};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_linear_backward_input_should_match_cpu() {
    let Some(ctx) = test_context("gnn_linear_backward_input_should_match_cpu") else {
        return;
    };
    let real = gnn_real();
    let cases = [
        (GNN_ROWS[0], 16, 2, 0),
        (GNN_ROWS[1], 16, 1, ACC),
        (GNN_ROWS[2], 18, 16, 0),
        (real.n_edges(), 16, 16, ACC),
    ];
    let mut rng = Rng(12);
    for (rows, n_in, n_out, flags) in cases {
        let w_off = 3;
        let (p32, p64) = gnn_values(&mut rng, w_off + n_in * n_out);
        let (dy32, dy64) = gnn_values(&mut rng, rows * n_out);
        let (dx32, dx64) = gnn_values(&mut rng, rows * n_in);
        let mut want = vec![0.0; rows * n_in];
        gnn_linear_backward_input(n_in, n_out, &p64[w_off..], &dy64, &mut want);
        if flags & ACC != 0 {
            for (a, b) in want.iter_mut().zip(&dx64) {
                *a += b;
            }
        }
        let p = GnnParams {
            rows: rows as u32,
            n_in: n_in as u32,
            n_out: n_out as u32,
            w_off: w_off as u32,
            flags,
            ..Default::default()
        };
        let got = run(
            &ctx,
            &GNN_LINEAR_BACKWARD_INPUT,
            p,
            &[Arg::F32(&p32), Arg::F32(&dy32), Arg::F32(&dx32)],
        )
        .unwrap();
        assert_close(
            &format!("gnn_linear_backward_input rows {rows} {n_in} <- {n_out} flags {flags}"),
            &got[0],
            &want,
            Tolerance::F32_TIGHT,
        );
    }
}
