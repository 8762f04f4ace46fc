// relu_backward: g[i] = g[i] where the layer's post-ReLU output act[i] > 0, else 0 (in place). n elements.

@group(0) @binding(1) var<storage, read> act: array<f32>;
@group(0) @binding(2) var<storage, read_write> g: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    if (i >= P.n) {
        return;
    }
    if (!(act[i] > 0.0)) {
        g[i] = 0.0;
    }
}
