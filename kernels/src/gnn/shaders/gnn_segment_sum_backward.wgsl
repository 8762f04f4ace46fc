// gnn_segment_sum_backward: dh[e, j] = ds[dst e, col + j], the gradient of s = segment_sum(h) with respect to h,
// read from a wider row (the readout input's gradient [d onehot (col values); ds], rows of col + width values).
// One thread per value.

@group(0) @binding(1) var<storage, read> dst: array<u32>;
@group(0) @binding(2) var<storage, read> ds: array<f32>;
@group(0) @binding(3) var<storage, read_write> dh: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    if (i >= P.rows * P.width) {
        return;
    }
    let e = i / P.width;
    dh[i] = ds[dst[e] * (P.col + P.width) + P.col + i % P.width];
}
