// dense_backward_input: gin[b,i] = sum_o W[o,i] gout[b,o], the gradient of dense_forward's pre-activation
// output with respect to its input. One invocation per input element.

@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> gout: array<f32>;
@group(0) @binding(3) var<storage, read_write> gin: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = flat_thread(wg, nwg, lid);
    if (idx >= P.batch * P.n_in) {
        return;
    }
    let i = idx % P.n_in;
    let b = idx / P.n_in;
    var acc = 0.0;
    for (var o = 0u; o < P.n_out; o++) {
        acc += params[P.w_off + o * P.n_in + i] * gout[b * P.n_out + o];
    }
    gin[idx] = acc;
}
