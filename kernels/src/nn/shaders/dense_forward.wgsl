// dense_forward: out[b,o] = bias[o] + sum_i W[o,i] in[b,i] (W row-major [n_out, n_in] at w_off), then ReLU when
// act = 1. One workgroup per (output o, tile of DENSE_BATCH samples): each weight is read once per tile rather than
// once per sample. Per sample, the terms and their order (strided partial sums, then a tree) are those of one
// workgroup per (b, o).

@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> input: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

var<workgroup> tile_red: array<array<f32, DENSE_BATCH>, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let j = flat_group(wg, nwg);
    let tiles = (P.batch + DENSE_BATCH - 1u) / DENSE_BATCH;
    if (j >= P.n_out * tiles) {
        return;
    }
    let o = j % P.n_out;
    let b0 = (j / P.n_out) * DENSE_BATCH;
    let nb = min(DENSE_BATCH, P.batch - b0);
    var acc: array<f32, DENSE_BATCH>;
    for (var i = lid; i < P.n_in; i += WG) {
        let w = params[P.w_off + o * P.n_in + i];
        for (var t = 0u; t < nb; t++) {
            acc[t] += w * input[(b0 + t) * P.n_in + i];
        }
    }
    for (var t = 0u; t < DENSE_BATCH; t++) {
        tile_red[lid][t] = acc[t];
    }
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            for (var t = 0u; t < nb; t++) {
                tile_red[lid][t] += tile_red[lid + s][t];
            }
        }
        workgroupBarrier();
    }
    if (lid < nb) {
        var v = tile_red[0][lid] + params[P.b_off + o];
        if (P.act == 1u) {
            v = max(v, 0.0);
        }
        output[(b0 + lid) * P.n_out + o] = v;
    }
}
