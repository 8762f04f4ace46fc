// dense_backward_weight: dW[o,i] = sum_b gout[b,o] in[b,i] and db[o] = sum_b gout[b,o], written (not added) into
// the flat gradient vector at w_off / b_off. One invocation per weight or bias.

@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> gout: array<f32>;
@group(0) @binding(3) var<storage, read_write> grads: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let j = flat_thread(wg, nwg, lid);
    let n_w = P.n_out * P.n_in;
    if (j >= n_w + P.n_out) {
        return;
    }
    var acc = 0.0;
    if (j < n_w) {
        let o = j / P.n_in;
        let i = j % P.n_in;
        for (var b = 0u; b < P.batch; b++) {
            acc += gout[b * P.n_out + o] * input[b * P.n_in + i];
        }
        grads[P.w_off + j] = acc;
    } else {
        let o = j - n_w;
        for (var b = 0u; b < P.batch; b++) {
            acc += gout[b * P.n_out + o];
        }
        grads[P.b_off + o] = acc;
    }
}
