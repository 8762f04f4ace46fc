// dense_forward: out[b,o] = bias[o] + sum_i W[o,i] in[b,i] (W row-major [n_out, n_in] at w_off), then ReLU when
// act = 1. One workgroup per (b, o), reducing over the n_in inputs.

@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> input: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let j = flat_group(wg, nwg);
    if (j >= P.batch * P.n_out) {
        return;
    }
    let o = j % P.n_out;
    let b = j / P.n_out;
    var acc = 0.0;
    for (var i = lid; i < P.n_in; i += WG) {
        acc += params[P.w_off + o * P.n_in + i] * input[b * P.n_in + i];
    }
    let s = wg_sum(lid, acc);
    if (lid == 0u) {
        var v = s + params[P.b_off + o];
        if (P.act == 1u) {
            v = max(v, 0.0);
        }
        output[j] = v;
    }
}
