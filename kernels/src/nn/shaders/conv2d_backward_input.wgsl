// conv2d_backward_input: gin[b,ci,y,x] = sum_{co,ky,kx} W[co,ci,ky,kx] gout[b,co,y-ky+pad,x-kx+pad] (circular),
// the gradient of conv2d_forward's pre-activation output with respect to its input. One invocation per input
// element.

@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> gout: array<f32>;
@group(0) @binding(3) var<storage, read_write> gin: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = flat_thread(wg, nwg, lid);
    let hw = P.h * P.w;
    if (idx >= P.batch * P.c_in * hw) {
        return;
    }
    let x = idx % P.w;
    let y = (idx / P.w) % P.h;
    let ci = (idx / hw) % P.c_in;
    let b = idx / (hw * P.c_in);
    var acc = 0.0;
    for (var co = 0u; co < P.c_out; co++) {
        let g_base = (b * P.c_out + co) * hw;
        let w_base = P.w_off + (co * P.c_in + ci) * P.k * P.k;
        for (var ky = 0u; ky < P.k; ky++) {
            let yy = wrap_near(i32(y + P.pad) - i32(ky), P.h);
            for (var kx = 0u; kx < P.k; kx++) {
                let xx = wrap_near(i32(x + P.pad) - i32(kx), P.w);
                acc += params[w_base + ky * P.k + kx] * gout[g_base + yy * P.w + xx];
            }
        }
    }
    gin[idx] = acc;
}
