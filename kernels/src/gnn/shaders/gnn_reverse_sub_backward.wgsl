// gnn_reverse_sub_backward: ds[v, j] = sum of dm[rev e, j] over the edges e into v, i.e. over the edges out of v
// (the gradient of m = s[src] - h[rev] with respect to s). The rest of the message gradient, dh[e] = ds[dst e] -
// dm[rev e], is gnn_reverse_sub with dst for src. CSR order, one thread per value, no atomics.

@group(0) @binding(1) var<storage, read> in_ptr: array<u32>;
@group(0) @binding(2) var<storage, read> rev: array<u32>;
@group(0) @binding(3) var<storage, read> dm: array<f32>;
@group(0) @binding(4) var<storage, read_write> ds: array<f32>;

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
        acc += dm[rev[e] * P.width + j];
    }
    ds[i] = acc;
}
