//! gnn_reverse_sub (the directed-MPNN message m_vw = s_v - h_wv): GPU against the f64 CPU twin, seeded random inputs with 1, 255 and 257 rows (around the workgroup
//! size of 256) and a real batch (two periodic kNN graphs of 300 particles).

use crate::common::random_batch;
use crate::common::Rng;
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_reverse_sub;
use glasscam_kernels::gnn::gpu::{GnnParams, GNN_REVERSE_SUB};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

/// f32 inputs and the same values in f64 for the twin.
fn values(rng: &mut Rng, n: usize) -> (Vec<f32>, Vec<f64>) {
    let v = rng.vec_f32(n, -1.0, 1.0);
    let d = v.iter().map(|&x| x as f64).collect();
    (v, d)
}

#[test]
fn gnn_reverse_sub_should_match_cpu() {
    let Some(ctx) = test_context("gnn_reverse_sub_should_match_cpu") else {
        return;
    };
    let real = random_batch(2, 300, 6, 77);
    let mut rng = Rng(2);
    let mut cases: Vec<(Vec<u32>, Vec<u32>, usize, usize)> = [1usize, 255, 257]
        .iter()
        .map(|&e| {
            let nv = 1 + e / 3;
            let src = (0..e).map(|_| (rng.next() * nv as f64) as u32).collect();
            let rev = (0..e).map(|_| (rng.next() * e as f64) as u32).collect();
            (src, rev, nv, 3)
        })
        .collect();
    cases.push((real.src.clone(), real.rev.clone(), real.n_nodes(), 16));
    for (src, rev, nv, width) in cases {
        let ne = src.len();
        let (s32, s64) = values(&mut rng, nv * width);
        let (h32, h64) = values(&mut rng, ne * width);
        let mut want = vec![0.0; ne * width];
        gnn_reverse_sub(&src, &rev, width, &s64, &h64, &mut want);
        let p = GnnParams {
            rows: ne as u32,
            width: width as u32,
            ..Default::default()
        };
        let args = [
            Arg::U32(&src),
            Arg::U32(&rev),
            Arg::F32(&s32),
            Arg::F32(&h32),
            Arg::F32(&vec![7.0; ne * width]),
        ];
        let got = run(&ctx, &GNN_REVERSE_SUB, p, &args).unwrap();
        assert_close(
            &format!("gnn_reverse_sub edges {ne}"),
            &got[0],
            &want,
            Tolerance::F32_TIGHT,
        );
    }
}
