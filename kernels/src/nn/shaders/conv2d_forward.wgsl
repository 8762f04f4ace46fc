// conv2d_forward: out[b,co,y,x] = bias[co] + sum_{ci,ky,kx} W[co,ci,ky,kx] in[b,ci,y+ky-pad,x+kx-pad] with circular
// padding (indices wrap), then ReLU when act = 1. Weights OIHW at w_off, bias at b_off of the flat parameter
// vector. One invocation per output element.

@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> input: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = flat_thread(wg, nwg, lid);
    let hw = P.h * P.w;
    if (idx >= P.batch * P.c_out * hw) {
        return;
    }
    let x = idx % P.w;
    let y = (idx / P.w) % P.h;
    let co = (idx / hw) % P.c_out;
    let b = idx / (hw * P.c_out);
    var acc = params[P.b_off + co];
    for (var ci = 0u; ci < P.c_in; ci++) {
        let in_base = (b * P.c_in + ci) * hw;
        let w_base = P.w_off + (co * P.c_in + ci) * P.k * P.k;
        for (var ky = 0u; ky < P.k; ky++) {
            let yy = wrap_near(i32(y + ky) - i32(P.pad), P.h);
            for (var kx = 0u; kx < P.k; kx++) {
                let xx = wrap_near(i32(x + kx) - i32(P.pad), P.w);
                acc += params[w_base + ky * P.k + kx] * input[in_base + yy * P.w + xx];
            }
        }
    }
    if (P.act == 1u) {
        acc = max(acc, 0.0);
    }
    output[idx] = acc;
}
