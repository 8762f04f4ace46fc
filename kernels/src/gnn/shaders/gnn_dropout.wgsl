// gnn_dropout (inverted, in place): x[i] = 0 where the seeded hash drops element i, else x[i] / (1 - p), over
// rows * width values. The same seed gives the same mask (the nn `dropout` kernel's hash), so the same launch on the
// gradient is the backward pass.

@group(0) @binding(1) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    if (i >= P.rows * P.width) {
        return;
    }
    if (keep(P.seed, i)) {
        x[i] = x[i] / (1.0 - P.p);
    } else {
        x[i] = 0.0;
    }
}
