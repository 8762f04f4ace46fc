//! conv2d_forward, conv2d_backward_input and conv2d_backward_weight: GPU against the CPU twin on seeded random
//! inputs, at sizes of 1, workgroup - 1, workgroup + 1 outputs and a real layer.

mod common;

use common::{gpu_matches_cpu, Rng, Slot};
use glasscam::kernels::nn::{
    NnParams, CONV2D_BACKWARD_INPUT, CONV2D_BACKWARD_WEIGHT, CONV2D_FORWARD,
};
use glasscam::kernels::tolerance::Tolerance;

/// (batch, c_in, c_out, h, w, k): output counts 1, 255 (3*5*17), 257, a real layer (4*8*16*16), and larger
/// kernels (7, and 15 on a 15-row grid, where the circular padding reaches the far edge).
const SIZES: [(u32, u32, u32, u32, u32, u32); 6] = [
    (1, 1, 1, 1, 1, 1),
    (1, 2, 3, 5, 17, 3),
    (1, 1, 1, 1, 257, 3),
    (4, 2, 8, 16, 16, 5),
    (2, 2, 3, 9, 11, 7),
    (1, 1, 2, 15, 16, 15),
];

fn params(s: (u32, u32, u32, u32, u32, u32), act: u32) -> (NnParams, usize) {
    let (batch, c_in, c_out, h, w, k) = s;
    let n_w = (c_out * c_in * k * k) as usize;
    let p = NnParams {
        batch,
        c_in,
        c_out,
        h,
        w,
        k,
        pad: k / 2,
        act,
        w_off: 3,
        b_off: 3 + n_w as u32,
        ..Default::default()
    };
    (p, 3 + n_w + c_out as usize + 2)
}

#[test]
fn conv2d_forward_should_match_cpu() {
    for (i, &s) in SIZES.iter().enumerate() {
        for act in [0, 1] {
            let mut rng = Rng(100 + i as u64);
            let (p, np) = params(s, act);
            let n_in = (p.batch * p.c_in * p.h * p.w) as usize;
            let n_out = (p.batch * p.c_out * p.h * p.w) as usize;
            let slots = [
                Slot::F(rng.vec_f32(np, -0.5, 0.5)),
                Slot::F(rng.vec_f32(n_in, -1.0, 1.0)),
                Slot::F(vec![7.0; n_out]),
            ];
            if !gpu_matches_cpu(
                "conv2d_forward_should_match_cpu",
                &CONV2D_FORWARD,
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
fn conv2d_backward_input_should_match_cpu() {
    for (i, &s) in SIZES.iter().enumerate() {
        let mut rng = Rng(200 + i as u64);
        let (p, np) = params(s, 1);
        let n_in = (p.batch * p.c_in * p.h * p.w) as usize;
        let n_out = (p.batch * p.c_out * p.h * p.w) as usize;
        let slots = [
            Slot::F(rng.vec_f32(np, -0.5, 0.5)),
            Slot::F(rng.vec_f32(n_out, -1.0, 1.0)),
            Slot::F(vec![7.0; n_in]),
        ];
        if !gpu_matches_cpu(
            "conv2d_backward_input_should_match_cpu",
            &CONV2D_BACKWARD_INPUT,
            p,
            &slots,
            Tolerance::F32_SUM,
        ) {
            return;
        }
    }
}

#[test]
fn conv2d_backward_weight_should_match_cpu() {
    for (i, &s) in SIZES.iter().enumerate() {
        let mut rng = Rng(300 + i as u64);
        let (p, np) = params(s, 1);
        let n_in = (p.batch * p.c_in * p.h * p.w) as usize;
        let n_out = (p.batch * p.c_out * p.h * p.w) as usize;
        // untouched entries of the gradient vector must stay as they were
        let slots = [
            Slot::F(rng.vec_f32(n_in, -1.0, 1.0)),
            Slot::F(rng.vec_f32(n_out, -1.0, 1.0)),
            Slot::F(rng.vec_f32(np, -1.0, 1.0)),
        ];
        if !gpu_matches_cpu(
            "conv2d_backward_weight_should_match_cpu",
            &CONV2D_BACKWARD_WEIGHT,
            p,
            &slots,
            Tolerance::F32_SUM,
        ) {
            return;
        }
    }
}
