// gnn_segment_mean: out[g, j] = mean of x[v, j] over the nodes of graph g (node_ptr[g] .. node_ptr[g + 1]).
// One thread per output value, nodes in order.

@group(0) @binding(1) var<storage, read> node_ptr: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    if (i >= P.rows * P.width) {
        return;
    }
    let g = i / P.width;
    let j = i % P.width;
    let a = node_ptr[g];
    let b = node_ptr[g + 1u];
    var acc = 0.0;
    for (var v = a; v < b; v += 1u) {
        acc += x[v * P.width + j];
    }
    out[i] = acc / f32(max(b - a, 1u));
}
