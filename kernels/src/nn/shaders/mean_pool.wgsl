// mean_pool: out[b, c] = (1 / (h w)) sum over the pixels of in[b, c, :, :], the global average of each feature map
// (the `mean` head). One workgroup per (b, c), reducing over the h w pixels.

@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let j = flat_group(wg, nwg);
    if (j >= P.batch * P.c_in) {
        return;
    }
    let hw = P.h * P.w;
    var acc = 0.0;
    for (var t = lid; t < hw; t += WG) {
        acc += input[j * hw + t];
    }
    let s = wg_sum(lid, acc);
    if (lid == 0u) {
        output[j] = s / f32(hw);
    }
}
