// gradcam: for each image b, alpha_m = mean over pixels of dy/dA^m, then L[b,y,x] = ReLU(sum_m alpha_m A^m[y,x]),
// A the last convolution's post-ReLU maps (c_in of them, h x w) and dA their gradients. One workgroup per image.

@group(0) @binding(1) var<storage, read> act: array<f32>;
@group(0) @binding(2) var<storage, read> gact: array<f32>;
@group(0) @binding(3) var<storage, read_write> maps: array<f32>;

// MAX_MAPS comes from the prelude (nn::MAX_MAPS).
var<workgroup> alpha: array<f32, MAX_MAPS>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let b = flat_group(wg, nwg);
    if (b >= P.batch) {
        return;
    }
    let hw = P.h * P.w;
    let n_maps = min(P.c_in, MAX_MAPS);
    for (var m = 0u; m < n_maps; m++) {
        var acc = 0.0;
        let base = (b * P.c_in + m) * hw;
        for (var t = lid; t < hw; t += WG) {
            acc += gact[base + t];
        }
        let s = wg_sum(lid, acc);
        if (lid == 0u) {
            alpha[m] = s / f32(hw);
        }
    }
    workgroupBarrier();
    for (var t = lid; t < hw; t += WG) {
        var l = 0.0;
        for (var m = 0u; m < n_maps; m++) {
            l += alpha[m] * act[(b * P.c_in + m) * hw + t];
        }
        maps[b * hw + t] = max(l, 0.0);
    }
}
