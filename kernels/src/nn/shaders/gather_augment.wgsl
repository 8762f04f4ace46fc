// gather_augment: a batch's snapshots from the training set kept on the device, each moved by its epoch's symmetry
// of the periodic square box when P.act is 1 (twin of `augment` in src/nn/data.rs), and their labels.
// Sample s is set snapshot k = order[P.step + s]; tf[k] = (tx, ty, g, L): g's bit 4 swaps x and y, bit 1 negates
// x, bit 2 negates y, then (tx, ty) is added and the result wrapped into [0, L). P.batch samples of P.n_part
// particles; one invocation per (sample, particle).

@group(0) @binding(1) var<storage, read> set_pos: array<f32>;
@group(0) @binding(2) var<storage, read> set_labels: array<u32>;
@group(0) @binding(3) var<storage, read> order: array<u32>;
@group(0) @binding(4) var<storage, read> tf: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out_pos: array<f32>;
@group(0) @binding(6) var<storage, read_write> labels: array<u32>;

// v modulo l in [0, l), as Rust's rem_euclid followed by `augment`'s guard against rounding up to l.
fn wrap_box(v: f32, l: f32) -> f32 {
    var w = v % l;
    if (w < 0.0) {
        w += l;
    }
    if (w >= l) {
        w = 0.0;
    }
    return w;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = flat_thread(wg, nwg, lid);
    let n = P.n_part;
    if (t >= P.batch * n) {
        return;
    }
    let s = t / n;
    let i = t % n;
    let k = order[P.step + s];
    var x = set_pos[(k * n + i) * 2u];
    var y = set_pos[(k * n + i) * 2u + 1u];
    if (P.act == 1u) {
        let f = tf[k];
        let g = u32(f.z);
        if ((g & 4u) != 0u) {
            let sw = x;
            x = y;
            y = sw;
        }
        if ((g & 1u) != 0u) {
            x = -x;
        }
        if ((g & 2u) != 0u) {
            y = -y;
        }
        x = wrap_box(x + f.x, f.w);
        y = wrap_box(y + f.y, f.w);
    }
    out_pos[t * 2u] = x;
    out_pos[t * 2u + 1u] = y;
    if (i == 0u) {
        labels[s] = set_labels[k];
    }
}
