// nn_common: the parameter block every nn kernel reads (binding 0), flat workgroup indexing, periodic wrap,
// and a workgroup sum (the dropout hash is hash.wgsl). Shared by gridize, grid_sample, the CNN layers, adam and gradcam.

// mirrored by kernels/src/nn/common.rs `NnParams` (checked member by member against naga)
struct NnParams {
    batch: u32,
    c_in: u32,
    c_out: u32,
    h: u32,
    w: u32,
    k: u32,
    pad: u32,
    act: u32,
    n_in: u32,
    n_out: u32,
    w_off: u32,
    b_off: u32,
    n: u32,
    seed: u32,
    step: u32,
    n_part: u32,
    p: f32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    bc1: f32,
    bc2: f32,
    box_l: f32,
    width: f32,
    radius: u32,
    n_species: u32,
    cls: u32,
}

@group(0) @binding(0) var<uniform> P: NnParams;

// WG comes from the prelude generated from the Rust constants (kernels/src/nn/kernels.rs).

// More than 65535 workgroups go out as a 2D grid; x runs fastest.
fn flat_group(wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wg.y * nwg.x + wg.x;
}

fn flat_thread(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return flat_group(wg, nwg) * WG + lid;
}

// i modulo n for a possibly negative i (circular padding).
fn wrap(i: i32, n: u32) -> u32 {
    let m = i32(n);
    return u32(((i % m) + m) % m);
}

// i modulo n for -n <= i < 2n, without an integer division (the convolutions' inner loops; pad <= h, w).
fn wrap_near(i: i32, n: u32) -> u32 {
    let m = i32(n);
    var j = i;
    if (j < 0) {
        j += m;
    } else if (j >= m) {
        j -= m;
    }
    return u32(j);
}

var<workgroup> red: array<f32, WG>;

// Sum of x over the workgroup; every invocation gets the result. Call in uniform control flow.
fn wg_sum(lid: u32, x: f32) -> f32 {
    red[lid] = x;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] += red[lid + s];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}
