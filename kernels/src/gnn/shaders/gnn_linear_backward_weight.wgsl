// gnn_linear_backward_weight: dW[o, i] = sum_r dy[r, o] x[r, i] at w_off of the flat gradient and, with BIAS,
// db[o] = sum_r dy[r, o] at b_off; added to what is there with ACC (a shared weight sums over its uses), written
// otherwise. One workgroup per weight or bias: the rows (tens of thousands of edges) are summed in strided partial
// sums, then a tree in workgroup memory, in a fixed order, so the result is deterministic.

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> grads: array<f32>;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let j = flat_group(wg, nwg);
    let n_w = P.n_out * P.n_in;
    var n_b = 0u;
    if (has(BIAS)) {
        n_b = P.n_out;
    }
    // uniform control flow: every thread of the group sees the same j
    let is_w = j < n_w;
    let o = select(j - n_w, j / max(P.n_in, 1u), is_w);
    let k = j % max(P.n_in, 1u);
    var acc = 0.0;
    if (j < n_w + n_b) {
        for (var r = lid; r < P.rows; r += WG) {
            if (is_w) {
                acc += dy[r * P.n_out + o] * x[r * P.n_in + k];
            } else {
                acc += dy[r * P.n_out + o];
            }
        }
    }
    red[lid] = acc;
    workgroupBarrier();
    for (var st = WG / 2u; st > 0u; st /= 2u) {
        if (lid < st) {
            red[lid] = red[lid] + red[lid + st];
        }
        workgroupBarrier();
    }
    if (lid == 0u && j < n_w + n_b) {
        var at = P.w_off + j;
        if (!is_w) {
            at = P.b_off + o;
        }
        var v = red[0];
        if (has(ACC)) {
            v += grads[at];
        }
        grads[at] = v;
    }
}
