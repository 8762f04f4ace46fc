// gnn_linear: y[r, o] = [y[r, o] if ACC] + [b[o] if BIAS] + sum_i W[o, i] x[r, i], then ReLU if RELU; W is
// [n_out, n_in] row-major at w_off of the flat parameters, b at b_off. Every edge and node Linear of the MPNN
// (n_in and n_out are 1 to a few dozen, rows tens of thousands): one thread per output value, inputs in order.

@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    if (i >= P.rows * P.n_out) {
        return;
    }
    let r = i / P.n_out;
    let o = i % P.n_out;
    var acc = 0.0;
    for (var k = 0u; k < P.n_in; k++) {
        acc += params[P.w_off + o * P.n_in + k] * x[r * P.n_in + k];
    }
    if (has(BIAS)) {
        acc += params[P.b_off + o];
    }
    if (has(ACC)) {
        acc += y[i];
    }
    if (has(RELU)) {
        acc = max(acc, 0.0);
    }
    y[i] = acc;
}
