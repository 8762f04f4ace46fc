// md_crsd: every particle's cage-relative squared displacement since t = 0, for every replica, on the device
// state: d_i = pos_i + img_i L - pos0_i (unwrapped), and out[r, i] = |d_i - mean_{j in {i} + cage_i} d_j|^2.
// The cage of i (its t = 0 Voronoi neighbours, without i) is cage[cage_end[i - 1] .. cage_end[i]].
// One invocation per (replica, particle). Twin: md::reference::md_crsd.

// mirrored by kernels/src/md/mod.rs `CrsdParams` (checked member by member against naga)
struct CrsdParams {
    n: u32,
    n_replicas: u32,
    box_l: f32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> C: CrsdParams;
@group(0) @binding(1) var<storage, read> pos: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> img: array<vec2<i32>>;
@group(0) @binding(3) var<storage, read> pos0: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> cage_end: array<u32>;
@group(0) @binding(5) var<storage, read> cage: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

fn displacement(r: u32, j: u32) -> vec2<f32> {
    let k = r * C.n + j;
    return pos[k] + vec2<f32>(img[k]) * C.box_l - pos0[j];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = (wg.y * nwg.x + wg.x) * WG + lid;
    if (t >= C.n * C.n_replicas) {
        return;
    }
    let r = t / C.n;
    let i = t % C.n;
    let di = displacement(r, i);
    var m = di;
    var start = 0u;
    if (i > 0u) {
        start = cage_end[i - 1u];
    }
    for (var q = start; q < cage_end[i]; q++) {
        m += displacement(r, cage[q]);
    }
    let d = di - m / f32(cage_end[i] - start + 1u);
    out[t] = dot(d, d);
}
