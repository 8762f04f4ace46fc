// mean_pool_backward: gin[b, c, y, x] = gout[b, c] / (h w), the gradient of mean_pool spread evenly over the
// pixels of each map. One invocation per input element.

@group(0) @binding(1) var<storage, read> gout: array<f32>;
@group(0) @binding(2) var<storage, read_write> gin: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    let hw = P.h * P.w;
    if (i >= P.batch * P.c_in * hw) {
        return;
    }
    gin[i] = gout[i / hw] / f32(hw);
}
