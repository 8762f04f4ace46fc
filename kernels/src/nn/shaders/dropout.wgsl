// dropout (inverted, in place): x[i] = 0 where the seeded hash drops element i, else x[i] / (1 - p). The same seed
// gives the same mask, so the same kernel is the backward pass on the gradient. n elements.

@group(0) @binding(1) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    if (i >= P.n) {
        return;
    }
    if (keep(P.seed, i)) {
        x[i] = x[i] / (1.0 - P.p);
    } else {
        x[i] = 0.0;
    }
}
