//! gnn_segment_sum (incoming-message sums per node, CSR order): GPU against the f64 CPU twin, seeded random inputs with 1, 255 and 257 rows (around the workgroup
//! size of 256) and a real batch (two periodic kNN graphs of 300 particles).

use crate::common::random_batch;
use crate::common::Rng;
use crate::common::{run, Arg};
use glasscam_kernels::gnn::cpu::gnn_segment_sum;
use glasscam_kernels::gnn::gpu::{GnnParams, GNN_SEGMENT_SUM};
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
    let real = random_batch(2, 300, 6, 77);
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
fn gnn_params_match_wgsl_layout() {
    let m = GNN_SEGMENT_SUM.kernel.validate().expect("validates");
    assert_eq!(
        glasscam_kernels::shaders::struct_size(&m, "GnnParams"),
        Some(std::mem::size_of::<GnnParams>() as u32)
    );
}
