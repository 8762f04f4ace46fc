// gnn_columns: out[r, out_col + j] = x[r, col + j] for j < width (+= with ACC), x rows of n_in values and out rows
// of n_out: a block of columns copied between row-major matrices (a concatenation, or its split in the backward).

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    if (i >= P.rows * P.width) {
        return;
    }
    let r = i / P.width;
    let j = i % P.width;
    let v = x[r * P.n_in + P.col + j];
    let o = r * P.n_out + P.out_col + j;
    if (has(ACC)) {
        out[o] += v;
    } else {
        out[o] = v;
    }
}
