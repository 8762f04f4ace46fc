// conv2d_backward_weight: dW[co,ci,ky,kx] = sum_{b,y,x} gout[b,co,y,x] in[b,ci,y+ky-pad,x+kx-pad] (circular) and
// db[co] = sum_{b,y,x} gout[b,co,y,x], written (not added) into the flat gradient vector at w_off / b_off.
// One workgroup per weight or bias, reducing over batch and pixels.

@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> gout: array<f32>;
@group(0) @binding(3) var<storage, read_write> grads: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let j = flat_group(wg, nwg);
    let kk = P.k * P.k;
    let n_w = P.c_out * P.c_in * kk;
    if (j >= n_w + P.c_out) {
        return;
    }
    let hw = P.h * P.w;
    var acc = 0.0;
    // pixel index math once per pixel, then the batch loop (the same pixel of every image)
    if (j < n_w) {
        let kx = j % P.k;
        let ky = (j / P.k) % P.k;
        let ci = (j / kk) % P.c_in;
        let co = j / (kk * P.c_in);
        for (var t = lid; t < hw; t += WG) {
            let y = t / P.w;
            let x = t - y * P.w;
            let yy = wrap_near(i32(y + ky) - i32(P.pad), P.h);
            let xx = wrap_near(i32(x + kx) - i32(P.pad), P.w);
            let src = yy * P.w + xx;
            for (var b = 0u; b < P.batch; b++) {
                acc += gout[(b * P.c_out + co) * hw + t] * input[(b * P.c_in + ci) * hw + src];
            }
        }
    } else {
        let co = j - n_w;
        for (var t = lid; t < hw; t += WG) {
            for (var b = 0u; b < P.batch; b++) {
                acc += gout[(b * P.c_out + co) * hw + t];
            }
        }
    }
    let s = wg_sum(lid, acc);
    if (lid == 0u) {
        if (j < n_w) {
            grads[P.w_off + j] = s;
        } else {
            grads[P.b_off + j - n_w] = s;
        }
    }
}
