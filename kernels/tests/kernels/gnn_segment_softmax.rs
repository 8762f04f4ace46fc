//! gnn_segment_softmax (bond attention per graph or per batch): GPU against the f64 CPU twin, seeded random inputs with 1, 255 and 257 rows (around the workgroup
//! size of 256) and a real batch (two periodic kNN graphs of 300 particles).

use crate::common::random_batch;
use crate::common::Rng;
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_segment_softmax;
use glasscam_kernels::gnn::gpu::{GnnParams, GNN_SEGMENT_SOFTMAX};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

/// Random CSR segments: `rows` segments of 1..=`max_len` items each; returns the pointer array.
fn segments(rng: &mut Rng, rows: usize, max_len: usize) -> Vec<u32> {
    let mut ptr = vec![0u32];
    for _ in 0..rows {
        let len = 1 + (rng.next() * max_len as f64) as u32 % max_len as u32;
        ptr.push(ptr.last().copied().unwrap_or(0) + len);
    }
    ptr
}

#[test]
fn gnn_segment_softmax_should_match_cpu() {
    let Some(ctx) = test_context("gnn_segment_softmax_should_match_cpu") else {
        return;
    };
    let real = random_batch(2, 300, 6, 77);
    let ne = real.n_edges() as u32;
    let mut rng = Rng(3);
    // one segment of 1, 255 and 257 edges, several random segments, the real graphs and the whole batch
    let mut cases = vec![
        vec![0, 1],
        vec![0, 255],
        vec![0, 257],
        segments(&mut rng, 5, 600),
    ];
    cases.push(real.edge_ptr.clone());
    cases.push(vec![0, ne]);
    for ptr in cases {
        let n = *ptr.last().unwrap() as usize;
        let s32 = rng.vec_f32(n, -3.0, 3.0);
        let s64: Vec<f64> = s32.iter().map(|&x| x as f64).collect();
        let mut want = vec![0.0; n];
        gnn_segment_softmax(&ptr, &s64, &mut want);
        let p = GnnParams {
            rows: ptr.len() as u32 - 1,
            width: 1,
            ..Default::default()
        };
        let got = run(
            &ctx,
            &GNN_SEGMENT_SOFTMAX,
            p,
            &[Arg::U32(&ptr), Arg::F32(&s32), Arg::F32(&vec![7.0; n])],
        )
        .unwrap();
        assert_close(
            &format!("gnn_segment_softmax {ptr:?}"),
            &got[0],
            &want,
            Tolerance::F32_SUM,
        );
    }
}
