// gridize (operator M): each particle deposits a periodic Gaussian of width `width` onto its species' channel;
// the Gaussian is cut to a (2 radius + 1)^2 pixel window and normalised over that window, so that every particle
// adds exactly 1 to the image. One invocation per output pixel (batch, channel, y, x), gathering over particles.

@group(0) @binding(1) var<storage, read> pos: array<f32>;
@group(0) @binding(2) var<storage, read> species: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// Pixel of coordinate x (pixel k covers [k h, (k + 1) h)); clamped for x rounding up to L.
fn pixel_of(x: f32, hpix: f32, g: u32) -> i32 {
    return clamp(i32(floor(x / hpix)), 0, i32(g) - 1);
}

// Sum over the window of the 1D Gaussian weights around pixel c: the normalisation along one axis.
fn axis_norm(x: f32, c: i32, hpix: f32, inv2w2: f32) -> f32 {
    var z = 0.0;
    let r = i32(P.radius);
    for (var d = -r; d <= r; d++) {
        let t = (f32(c + d) + 0.5) * hpix - x;
        z += exp(-t * t * inv2w2);
    }
    return z;
}

// Offset of pixel p from pixel c on the periodic grid if it lies in the window, else a value > radius.
fn window_offset(p: u32, c: i32, g: u32) -> i32 {
    let off = i32((p + g - u32(c)) % g);
    let r = i32(P.radius);
    if (off <= r) {
        return off;
    }
    if (off >= i32(g) - r) {
        return off - i32(g);
    }
    return r + 1;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = flat_thread(wg, nwg, lid);
    let g = P.h;
    let gg = g * g;
    if (idx >= P.batch * P.n_species * gg) {
        return;
    }
    let px = idx % g;
    let py = (idx / g) % g;
    let c = (idx / gg) % P.n_species;
    let s = idx / (gg * P.n_species);
    let hpix = P.box_l / f32(g);
    let inv2w2 = 1.0 / (2.0 * P.width * P.width);
    let r = i32(P.radius);
    var acc = 0.0;
    for (var i = 0u; i < P.n_part; i++) {
        if (species[i] != c) {
            continue;
        }
        let x = pos[(s * P.n_part + i) * 2u];
        let y = pos[(s * P.n_part + i) * 2u + 1u];
        let cx = pixel_of(x, hpix, g);
        let cy = pixel_of(y, hpix, g);
        let dx = window_offset(px, cx, g);
        let dy = window_offset(py, cy, g);
        if (dx > r || dy > r) {
            continue;
        }
        let tx = (f32(cx + dx) + 0.5) * hpix - x;
        let ty = (f32(cy + dy) + 0.5) * hpix - y;
        let wxy = exp(-(tx * tx + ty * ty) * inv2w2);
        acc += wxy / (axis_norm(x, cx, hpix, inv2w2) * axis_norm(y, cy, hpix, inv2w2));
    }
    out[idx] = acc;
}
