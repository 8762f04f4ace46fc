// gnn_linear_backward_input: dx[r, i] = [dx[r, i] if ACC] + sum_o W[o, i] dy[r, o], the gradient of gnn_linear's
// pre-activation output with respect to its input. One thread per input value, outputs in order.

@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    if (i >= P.rows * P.n_in) {
        return;
    }
    let r = i / P.n_in;
    let k = i % P.n_in;
    var acc = 0.0;
    for (var o = 0u; o < P.n_out; o++) {
        acc += params[P.w_off + o * P.n_in + k] * dy[r * P.n_out + o];
    }
    if (has(ACC)) {
        acc += dx[i];
    }
    dx[i] = acc;
}
