//! gnn_linear (every edge and node Linear of the MPNN, with its ReLU, bias and skip-add variants): GPU against the
//! f64 CPU twin (`gnn_linear`, `gnn_linear_acc` for ACC), seeded random inputs with 1, 255 and 257 rows and the
//! edge and node rows of a real batch.

use crate::common::{gnn_real, gnn_values, Rng, GNN_ROWS};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::{gnn_linear, gnn_linear_acc};
use glasscam_kernels::gnn::gpu::{GnnParams, ACC, BIAS, GNN_LINEAR, RELU};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_linear_should_match_cpu() {
    let Some(ctx) = test_context("gnn_linear_should_match_cpu") else {
        return;
    };
    let real = gnn_real();
    let mut cases = vec![
        (GNN_ROWS[0], 3, 16, 0),
        (GNN_ROWS[1], 16, 16, RELU),
        (GNN_ROWS[2], 16, 1, BIAS),
        (GNN_ROWS[2], 5, 7, ACC | RELU),
    ];
    cases.push((real.n_edges(), 16, 16, ACC | RELU));
    cases.push((real.n_nodes(), 18, 16, BIAS | RELU));
    let mut rng = Rng(11);
    for (rows, n_in, n_out, flags) in cases {
        // weights at offset 5 of the flat vector, the bias after them
        let w_off = 5;
        let b_off = w_off + n_in * n_out;
        let (p32, p64) = gnn_values(&mut rng, b_off + n_out + 3);
        let (x32, x64) = gnn_values(&mut rng, rows * n_in);
        let (y32, y64) = gnn_values(&mut rng, rows * n_out);
        let w = &p64[w_off..b_off];
        let relu = flags & RELU != 0;
        let mut want = y64.clone();
        if flags & ACC != 0 {
            gnn_linear_acc(n_in, n_out, w, relu, &x64, &mut want);
        } else {
            let b = (flags & BIAS != 0).then(|| &p64[b_off..b_off + n_out]);
            gnn_linear(n_in, n_out, w, b, relu, &x64, &mut want);
        }
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
            &GNN_LINEAR,
            p,
            &[Arg::F32(&p32), Arg::F32(&x32), Arg::F32(&y32)],
        )
        .unwrap();
        assert_close(
            &format!("gnn_linear rows {rows} {n_in} -> {n_out} flags {flags}"),
            &got[0],
            &want,
            Tolerance::F32_TIGHT,
        );
    }
}
