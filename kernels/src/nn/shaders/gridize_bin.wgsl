// gridize_bin: sorts each snapshot's particles into bins by key (species, centre row, centre column), for the
// gather in gridize. One workgroup per snapshot: count per key, exclusive scan, scatter, then each bin sorted by
// particle index, so the bins (and gridize's sums) have one order whatever order the atomics ran in.
// After it, bin_end[s * (K + 1) + k] is where key k's range ends in binned (key k begins where key k - 1 ends,
// key 0 at 0), K = n_species * G * G; binned[s * n_part + j] = (x, y, 1 / window norm, particle index, exact in f32).

@group(0) @binding(1) var<storage, read> pos: array<f32>;
@group(0) @binding(2) var<storage, read> species: array<u32>;
@group(0) @binding(3) var<storage, read_write> bin_end: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> binned: array<vec4<f32>>;

var<workgroup> part: array<u32, WG>;

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

fn key_of(s: u32, i: u32, hpix: f32) -> u32 {
    let g = P.h;
    let x = pos[(s * P.n_part + i) * 2u];
    let y = pos[(s * P.n_part + i) * 2u + 1u];
    return (species[i] * g + u32(pixel_of(y, hpix, g))) * g + u32(pixel_of(x, hpix, g));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let s = flat_group(wg, nwg);
    if (s >= P.batch) {
        return;
    }
    let g = P.h;
    let nk = P.n_species * g * g + 1u;
    let kb = s * nk;
    let hpix = P.box_l / f32(g);
    for (var k = lid; k < nk; k += WG) {
        atomicStore(&bin_end[kb + k], 0u);
    }
    storageBarrier();
    workgroupBarrier();
    for (var i = lid; i < P.n_part; i += WG) {
        atomicAdd(&bin_end[kb + key_of(s, i, hpix)], 1u);
    }
    storageBarrier();
    workgroupBarrier();
    // exclusive scan of the counts: each invocation a contiguous block, then a scan of the block sums
    let per = (nk + WG - 1u) / WG;
    let lo = min(lid * per, nk);
    let hi = min(lo + per, nk);
    var sum = 0u;
    for (var k = lo; k < hi; k++) {
        sum += atomicLoad(&bin_end[kb + k]);
    }
    part[lid] = sum;
    workgroupBarrier();
    for (var d = 1u; d < WG; d = d << 1u) {
        var v = part[lid];
        if (lid >= d) {
            v += part[lid - d];
        }
        workgroupBarrier();
        part[lid] = v;
        workgroupBarrier();
    }
    var run = part[lid] - sum;
    for (var k = lo; k < hi; k++) {
        let c = atomicLoad(&bin_end[kb + k]);
        atomicStore(&bin_end[kb + k], run);
        run += c;
    }
    storageBarrier();
    workgroupBarrier();
    // scatter: each key's cursor starts at its begin and ends at its end
    let inv2w2 = 1.0 / (2.0 * P.width * P.width);
    for (var i = lid; i < P.n_part; i += WG) {
        let x = pos[(s * P.n_part + i) * 2u];
        let y = pos[(s * P.n_part + i) * 2u + 1u];
        let z = axis_norm(x, pixel_of(x, hpix, g), hpix, inv2w2) * axis_norm(y, pixel_of(y, hpix, g), hpix, inv2w2);
        let slot = atomicAdd(&bin_end[kb + key_of(s, i, hpix)], 1u);
        binned[s * P.n_part + slot] = vec4<f32>(x, y, 1.0 / z, f32(i));
    }
    storageBarrier();
    workgroupBarrier();
    // insertion sort of each bin by particle index (bins hold a few particles)
    let base = s * P.n_part;
    for (var k = lid; k + 1u < nk; k += WG) {
        var begin = 0u;
        if (k > 0u) {
            begin = atomicLoad(&bin_end[kb + k - 1u]);
        }
        let end = atomicLoad(&bin_end[kb + k]);
        for (var a = begin + 1u; a < end; a++) {
            let e = binned[base + a];
            var b = a;
            loop {
                if (b == begin) {
                    break;
                }
                let prev = binned[base + b - 1u];
                if (prev.w < e.w) {
                    break;
                }
                binned[base + b] = prev;
                b -= 1u;
            }
            binned[base + b] = e;
        }
    }
}
