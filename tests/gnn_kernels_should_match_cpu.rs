//! Graph-network kernels on the GPU against their f64 CPU twins: seeded random inputs with 1, 255 and 257 rows
//! (around the workgroup size of 256) and a real batch (two periodic kNN graphs of 300 particles).

mod common;

use common::Rng;
use glasscam::gnn::graph::{build, Region};
use glasscam::kernels::gnn::cpu::{
    gnn_reverse_sub, gnn_segment_mean, gnn_segment_softmax, gnn_segment_sum,
};
use glasscam::kernels::gnn::gpu::{
    run, Arg, GnnParams, GNN_REVERSE_SUB, GNN_SEGMENT_MEAN, GNN_SEGMENT_SOFTMAX, GNN_SEGMENT_SUM,
};
use glasscam::kernels::gnn::GraphBatch;
use glasscam::kernels::gpu::test_context;
use glasscam::kernels::tolerance::{assert_close, Tolerance};

/// Random CSR segments: `rows` segments of 1..=`max_len` items each; returns the pointer array.
fn segments(rng: &mut Rng, rows: usize, max_len: usize) -> Vec<u32> {
    let mut ptr = vec![0u32];
    for _ in 0..rows {
        let len = 1 + (rng.next() * max_len as f64) as u32 % max_len as u32;
        ptr.push(ptr.last().copied().unwrap_or(0) + len);
    }
    ptr
}

fn real_batch() -> GraphBatch {
    let mut rng = Rng(77);
    let n = 300;
    let box_l = (n as f64 / 1.1).sqrt();
    let species: Vec<u32> = (0..n).map(|i| u32::from(i % 3 == 0)).collect();
    let parts: Vec<GraphBatch> = (0..2)
        .map(|_| {
            build(
                &rng.vec_f64(2 * n, 0.0, box_l),
                &species,
                box_l,
                6,
                Region::Periodic,
            )
            .unwrap()
            .0
        })
        .collect();
    GraphBatch::concat(&parts.iter().collect::<Vec<_>>())
}

/// f32 inputs and the same values in f64 for the twin.
fn values(rng: &mut Rng, n: usize) -> (Vec<f32>, Vec<f64>) {
    let v = rng.vec_f32(n, -1.0, 1.0);
    let d = v.iter().map(|&x| x as f64).collect();
    (v, d)
}

#[test]
fn gnn_segment_sum_should_match_cpu() {
    let Some(ctx) = test_context("gnn_segment_sum_should_match_cpu") else {
        return;
    };
    let real = real_batch();
    let mut rng = Rng(1);
    let mut cases: Vec<(Vec<u32>, usize)> = [1usize, 255, 257]
        .iter()
        .map(|&r| (segments(&mut rng, r, 9), 3))
        .collect();
    cases.push((real.in_ptr.clone(), 16));
    for (ptr, width) in cases {
        let rows = ptr.len() - 1;
        let (h32, h64) = values(&mut rng, *ptr.last().unwrap() as usize * width);
        let mut want = vec![0.0; rows * width];
        gnn_segment_sum(&ptr, width, &h64, &mut want);
        let p = GnnParams {
            rows: rows as u32,
            width: width as u32,
            ..Default::default()
        };
        let got = run(
            &ctx,
            &GNN_SEGMENT_SUM,
            p,
            &[
                Arg::U32(&ptr),
                Arg::F32(&h32),
                Arg::F32(&vec![7.0; rows * width]),
            ],
        )
        .unwrap();
        assert_close(
            &format!("gnn_segment_sum rows {rows}"),
            &got[0],
            &want,
            Tolerance::F32_SUM,
        );
    }
}

#[test]
fn gnn_reverse_sub_should_match_cpu() {
    let Some(ctx) = test_context("gnn_reverse_sub_should_match_cpu") else {
        return;
    };
    let real = real_batch();
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

#[test]
fn gnn_segment_softmax_should_match_cpu() {
    let Some(ctx) = test_context("gnn_segment_softmax_should_match_cpu") else {
        return;
    };
    let real = real_batch();
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

#[test]
fn gnn_segment_mean_should_match_cpu() {
    let Some(ctx) = test_context("gnn_segment_mean_should_match_cpu") else {
        return;
    };
    let real = real_batch();
    let mut rng = Rng(4);
    let mut cases: Vec<(Vec<u32>, usize)> = vec![
        (vec![0, 1], 1),
        (segments(&mut rng, 3, 300), 85),
        (segments(&mut rng, 2, 20), 257),
    ];
    cases.push((real.node_ptr.clone(), 16));
    for (ptr, width) in cases {
        let rows = ptr.len() - 1;
        let (x32, x64) = values(&mut rng, *ptr.last().unwrap() as usize * width);
        let mut want = vec![0.0; rows * width];
        gnn_segment_mean(&ptr, width, &x64, &mut want);
        let p = GnnParams {
            rows: rows as u32,
            width: width as u32,
            ..Default::default()
        };
        let got = run(
            &ctx,
            &GNN_SEGMENT_MEAN,
            p,
            &[
                Arg::U32(&ptr),
                Arg::F32(&x32),
                Arg::F32(&vec![7.0; rows * width]),
            ],
        )
        .unwrap();
        assert_close(
            &format!("gnn_segment_mean rows {rows} width {width}"),
            &got[0],
            &want,
            Tolerance::F32_SUM,
        );
    }
}

#[test]
fn gnn_params_match_wgsl_layout_and_shaders_validate() {
    for k in [
        &GNN_SEGMENT_SUM,
        &GNN_REVERSE_SUB,
        &GNN_SEGMENT_SOFTMAX,
        &GNN_SEGMENT_MEAN,
    ] {
        let m = k.kernel.validate().expect("gnn kernel validates");
        assert_eq!(
            glasscam::kernels::shaders::struct_size(&m, "GnnParams"),
            Some(std::mem::size_of::<GnnParams>() as u32),
            "{}: GnnParams host and WGSL sizes differ",
            k.kernel.name
        );
    }
}
