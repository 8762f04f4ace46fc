//! gnn_readout_input ([onehot(species); incoming message sum] per node): GPU against the f64 CPU twin
//! (`gnn_readout_input`), seeded random inputs with 1, 255 and 257 nodes and the nodes of a real batch.

use crate::common::{gnn_real, gnn_values, Rng, GNN_ROWS};
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_readout_input;
use glasscam_kernels::gnn::gpu::{GnnParams, GNN_READOUT_INPUT};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

#[test]
fn gnn_readout_input_should_match_cpu() {
    let Some(ctx) = test_context("gnn_readout_input_should_match_cpu") else {
        return;
    };
    let real = gnn_real();
    let mut rng = Rng(17);
    let mut cases: Vec<(Vec<u32>, usize, usize)> = GNN_ROWS
        .iter()
        .zip([(1, 4), (3, 1), (2, 16)])
        .map(|(&n, (ns, width))| {
            let sp = (0..n).map(|_| (rng.next() * ns as f64) as u32).collect();
            (sp, ns, width)
        })
        .collect();
    cases.push((real.species.clone(), 2, 16));
    for (species, ns, width) in cases {
        let nv = species.len();
        let (s32, s64) = gnn_values(&mut rng, nv * width);
        let mut want = vec![0.0; nv * (ns + width)];
        gnn_readout_input(ns, width, &species, &s64, &mut want);
        let p = GnnParams {
            rows: nv as u32,
            width: width as u32,
            col: ns as u32,
            ..Default::default()
        };
        let args = [
            Arg::U32(&species),
            Arg::F32(&s32),
            Arg::F32(&vec![7.0; nv * (ns + width)]),
        ];
        let got = run(&ctx, &GNN_READOUT_INPUT, p, &args).unwrap();
        assert_close(
            &format!("gnn_readout_input nodes {nv} species {ns}"),
            &got[0],
            &want,
            Tolerance::F32_TIGHT,
        );
    }
}
