// gnn_segment_mean_backward: dx[v, j] = dout[g, j] / (nodes of g) for the graph g of node v (backward of
// gnn_segment_mean). One thread per value.

@group(0) @binding(1) var<storage, read> node_ptr: array<u32>;
@group(0) @binding(2) var<storage, read> node_graph: array<u32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    if (i >= P.rows * P.width) {
        return;
    }
    let g = node_graph[i / P.width];
    let n = node_ptr[g + 1u] - node_ptr[g];
    dx[i] = dout[g * P.width + i % P.width] / f32(max(n, 1u));
}
