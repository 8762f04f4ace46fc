// gnn_edge_input_backward: dxv[v, j] = sum over the edges e into v of dout[e, out_col + j] (v received e) plus the
// sum over them of dout[rev e, out_col + width + j] (v sent rev e), in CSR order (+= with ACC); dout rows of n_out
// values. All gathers: one thread per output value, no atomics.

@group(0) @binding(1) var<storage, read> in_ptr: array<u32>;
@group(0) @binding(2) var<storage, read> rev: array<u32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read_write> dxv: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    if (i >= P.rows * P.width) {
        return;
    }
    let v = i / P.width;
    let j = i % P.width;
    var acc = 0.0;
    for (var e = in_ptr[v]; e < in_ptr[v + 1u]; e += 1u) {
        acc += dout[e * P.n_out + P.out_col + j];
    }
    for (var e = in_ptr[v]; e < in_ptr[v + 1u]; e += 1u) {
        acc += dout[rev[e] * P.n_out + P.out_col + P.width + j];
    }
    if (has(ACC)) {
        dxv[i] += acc;
    } else {
        dxv[i] = acc;
    }
}
