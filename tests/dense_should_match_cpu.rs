//! dense_forward, dense_backward_input, dense_backward_weight, relu_backward and dropout: GPU against the CPU twin
//! on seeded random inputs, at sizes of 1, workgroup - 1, workgroup + 1 and a real layer.

mod common;

use common::{gpu_matches_cpu, Rng, Slot};
use glasscam::kernels::nn::{
    NnParams, DENSE_BACKWARD_INPUT, DENSE_BACKWARD_WEIGHT, DENSE_FORWARD, DROPOUT, RELU_BACKWARD,
};
use glasscam::kernels::tolerance::Tolerance;

/// (batch, n_in, n_out): inputs or outputs at 1, 255, 257, and a flattened 16-channel 16x16 map into 64.
const SIZES: [(u32, u32, u32); 5] = [
    (1, 1, 1),
    (1, 255, 1),
    (3, 257, 2),
    (1, 3, 255),
    (4, 4096, 64),
];

fn params((batch, n_in, n_out): (u32, u32, u32), act: u32) -> (NnParams, usize) {
    let n_w = (n_in * n_out) as usize;
    let p = NnParams {
        batch,
        n_in,
        n_out,
        act,
        w_off: 5,
        b_off: 5 + n_w as u32,
        ..Default::default()
    };
    (p, 5 + n_w + n_out as usize + 1)
}

#[test]
fn dense_forward_should_match_cpu() {
    for (i, &s) in SIZES.iter().enumerate() {
        for act in [0, 1] {
            let mut rng = Rng(400 + i as u64);
            let (p, np) = params(s, act);
            let slots = [
                Slot::F(rng.vec_f32(np, -0.5, 0.5)),
                Slot::F(rng.vec_f32((p.batch * p.n_in) as usize, -1.0, 1.0)),
                Slot::F(vec![7.0; (p.batch * p.n_out) as usize]),
            ];
            if !gpu_matches_cpu(
                "dense_forward_should_match_cpu",
                &DENSE_FORWARD,
                p,
                &slots,
                Tolerance::F32_SUM,
            ) {
                return;
            }
        }
    }
}

#[test]
fn dense_backward_input_should_match_cpu() {
    for (i, &s) in SIZES.iter().enumerate() {
        let mut rng = Rng(500 + i as u64);
        let (p, np) = params(s, 1);
        let slots = [
            Slot::F(rng.vec_f32(np, -0.5, 0.5)),
            Slot::F(rng.vec_f32((p.batch * p.n_out) as usize, -1.0, 1.0)),
            Slot::F(vec![7.0; (p.batch * p.n_in) as usize]),
        ];
        if !gpu_matches_cpu(
            "dense_backward_input_should_match_cpu",
            &DENSE_BACKWARD_INPUT,
            p,
            &slots,
            Tolerance::F32_SUM,
        ) {
            return;
        }
    }
}

#[test]
fn dense_backward_weight_should_match_cpu() {
    for (i, &s) in SIZES.iter().enumerate() {
        let mut rng = Rng(600 + i as u64);
        let (p, np) = params(s, 1);
        let slots = [
            Slot::F(rng.vec_f32((p.batch * p.n_in) as usize, -1.0, 1.0)),
            Slot::F(rng.vec_f32((p.batch * p.n_out) as usize, -1.0, 1.0)),
            Slot::F(rng.vec_f32(np, -1.0, 1.0)),
        ];
        if !gpu_matches_cpu(
            "dense_backward_weight_should_match_cpu",
            &DENSE_BACKWARD_WEIGHT,
            p,
            &slots,
            Tolerance::F32_SUM,
        ) {
            return;
        }
    }
}

#[test]
fn relu_backward_should_match_cpu() {
    for (i, n) in [1u32, 255, 257, 20000].into_iter().enumerate() {
        let mut rng = Rng(700 + i as u64);
        let p = NnParams {
            n,
            ..Default::default()
        };
        let slots = [
            Slot::F(rng.vec_f32(n as usize + 3, -1.0, 1.0)),
            Slot::F(rng.vec_f32(n as usize + 3, -1.0, 1.0)),
        ];
        if !gpu_matches_cpu(
            "relu_backward_should_match_cpu",
            &RELU_BACKWARD,
            p,
            &slots,
            Tolerance::F32_TIGHT,
        ) {
            return;
        }
    }
}

#[test]
fn dropout_should_match_cpu() {
    for (i, n) in [1u32, 255, 257, 20000].into_iter().enumerate() {
        for prob in [0.0f32, 0.5, 0.9] {
            let mut rng = Rng(800 + i as u64);
            let p = NnParams {
                n,
                seed: 12345 + i as u32,
                p: prob,
                ..Default::default()
            };
            let slots = [Slot::F(rng.vec_f32(n as usize + 3, -1.0, 1.0))];
            if !gpu_matches_cpu(
                "dropout_should_match_cpu",
                &DROPOUT,
                p,
                &slots,
                Tolerance::F32_TIGHT,
            ) {
                return;
            }
        }
    }
}

#[test]
fn dropout_drops_about_p_and_keeps_the_mean() {
    use glasscam::kernels::nn::keep;
    let n = 100_000u32;
    for p in [0.1f32, 0.5, 0.9] {
        let kept = (0..n).filter(|&i| keep(7, i, p)).count() as f64 / n as f64;
        assert!(
            (kept - (1.0 - p as f64)).abs() < 0.01,
            "p = {p}: kept fraction {kept}"
        );
    }
    // another seed gives another mask
    let same = (0..1000u32)
        .filter(|&i| keep(1, i, 0.5) == keep(2, i, 0.5))
        .count();
    assert!(same < 600, "masks of seeds 1 and 2 agree on {same} of 1000");
}
