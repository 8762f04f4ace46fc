// gridize (operator M): each particle deposits a periodic Gaussian of width `width` onto its species' channel;
// the Gaussian is cut to a (2 radius + 1)^2 pixel window and normalised over that window, so that every particle
// adds exactly 1 to the image. One invocation per output pixel (batch, channel, y, x), gathering from the bins of
// gridize_bin: for each centre row of the window, the centre columns of the window are one or two contiguous key
// ranges, so only the particles whose window covers the pixel are visited, in a fixed order.

@group(0) @binding(1) var<storage, read> bin_end: array<u32>;
@group(0) @binding(2) var<storage, read> binned: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = flat_thread(wg, nwg, lid);
    let g = P.h;
    let gg = g * g;
    if (idx >= P.batch * P.n_species * gg) {
        return;
    }
    let px = i32(idx % g);
    let py = i32((idx / g) % g);
    let c = (idx / gg) % P.n_species;
    let s = idx / (gg * P.n_species);
    let kb = s * (P.n_species * gg + 1u);
    let pb = s * P.n_part;
    let hpix = P.box_l / f32(g);
    let inv2w2 = 1.0 / (2.0 * P.width * P.width);
    let r = i32(P.radius);
    let gi = i32(g);
    var acc = 0.0;
    // centre pixels (cx, cy) = (px - dx, py - dy) unwrapped, |dx|, |dy| <= radius; the pixel is then the
    // particle's pixel cx + dx, which lies one period away when the window wraps
    for (var cyu = py - r; cyu <= py + r; cyu++) {
        let cy = wrap(cyu, g);
        let yimg = (f32(py + i32(cy) - cyu) + 0.5) * hpix;
        let row = (c * g + cy) * g;
        var a = px - r;
        loop {
            if (a > px + r) {
                break;
            }
            // the run of centre columns from a to the next period boundary (or the window's end)
            var b = min(px + r, gi - 1);
            if (a < 0) {
                b = min(px + r, -1);
            } else if (a >= gi) {
                b = px + r;
            }
            let cx = wrap(a, g);
            let ximg = (f32(px + i32(cx) - a) + 0.5) * hpix;
            let k0 = row + cx;
            let k1 = row + cx + u32(b - a);
            var begin = 0u;
            if (k0 > 0u) {
                begin = bin_end[kb + k0 - 1u];
            }
            let end = bin_end[kb + k1];
            for (var j = begin; j < end; j++) {
                let e = binned[pb + j];
                let tx = ximg - e.x;
                let ty = yimg - e.y;
                acc += exp(-(tx * tx + ty * ty) * inv2w2) * e.z;
            }
            a = b + 1;
        }
    }
    out[idx] = acc;
}
