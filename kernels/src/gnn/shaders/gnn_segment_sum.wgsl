// gnn_segment_sum: out[v, j] = sum of h[e, j] over the edges e into v (in_ptr[v] .. in_ptr[v + 1]), in CSR order:
// one thread per output value, no atomics, so the sum is deterministic.

@group(0) @binding(1) var<storage, read> in_ptr: array<u32>;
@group(0) @binding(2) var<storage, read> h: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

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
        acc += h[e * P.width + j];
    }
    out[i] = acc;
}
