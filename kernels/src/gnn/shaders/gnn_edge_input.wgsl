// gnn_edge_input: out[e, out_col + j] = xv[dst e, j] and out[e, out_col + width + j] = xv[src e, j] for j < width:
// the receiving and the sending node's rows beside the edge's own (rows of n_out values; the columns before
// out_col are left as they are).

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> dst: array<u32>;
@group(0) @binding(3) var<storage, read> xv: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    let w2 = 2u * P.width;
    if (i >= P.rows * w2) {
        return;
    }
    let e = i / w2;
    let j = i % w2;
    var node = src[e];
    if (j < P.width) {
        node = dst[e];
    }
    out[e * P.n_out + P.out_col + j] = xv[node * P.width + j % P.width];
}
