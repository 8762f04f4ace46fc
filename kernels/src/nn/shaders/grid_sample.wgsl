// grid_sample (operator M^-1): reads a G x G field at each particle by periodic bilinear interpolation between
// the four nearest pixel centres. One invocation per (snapshot, particle).

@group(0) @binding(1) var<storage, read> field: array<f32>;
@group(0) @binding(2) var<storage, read> pos: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = flat_thread(wg, nwg, lid);
    if (idx >= P.batch * P.n_part) {
        return;
    }
    let s = idx / P.n_part;
    let g = P.h;
    let hpix = P.box_l / f32(g);
    // pixel centres sit at (k + 1/2) h
    let u = pos[idx * 2u] / hpix - 0.5;
    let v = pos[idx * 2u + 1u] / hpix - 0.5;
    let fu = floor(u);
    let fv = floor(v);
    let ax = u - fu;
    let ay = v - fv;
    let x0 = wrap(i32(fu), g);
    let x1 = wrap(i32(fu) + 1, g);
    let y0 = wrap(i32(fv), g);
    let y1 = wrap(i32(fv) + 1, g);
    let base = s * g * g;
    let f00 = field[base + y0 * g + x0];
    let f01 = field[base + y0 * g + x1];
    let f10 = field[base + y1 * g + x0];
    let f11 = field[base + y1 * g + x1];
    out[idx] = (1.0 - ay) * ((1.0 - ax) * f00 + ax * f01) + ay * ((1.0 - ax) * f10 + ax * f11);
}
