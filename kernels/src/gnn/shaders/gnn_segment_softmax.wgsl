// gnn_segment_softmax: alpha[e] = n * exp(score[e] - max) / sum over the segment of exp(score - max), for the
// segments ptr[k] .. ptr[k + 1] (a graph's edges, or the whole batch), n the segment's edge count so the mean
// weight is 1. One workgroup per segment: a max and a sum reduced in workgroup memory, in a fixed order.

@group(0) @binding(1) var<storage, read> seg_ptr: array<u32>;
@group(0) @binding(2) var<storage, read> score: array<f32>;
@group(0) @binding(3) var<storage, read_write> alpha: array<f32>;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let k = wg.y * nwg.x + wg.x;
    // uniform control flow: every thread of the group sees the same k
    let in_range = k < P.rows;
    var a = 0u;
    var b = 0u;
    if (in_range) {
        a = seg_ptr[k];
        b = seg_ptr[k + 1u];
    }
    var m = -3.4e38;
    for (var e = a + lid; e < b; e += WG) {
        m = max(m, score[e]);
    }
    red[lid] = m;
    workgroupBarrier();
    for (var st = WG / 2u; st > 0u; st /= 2u) {
        if (lid < st) {
            red[lid] = max(red[lid], red[lid + st]);
        }
        workgroupBarrier();
    }
    let mx = red[0];
    workgroupBarrier();
    var z = 0.0;
    for (var e = a + lid; e < b; e += WG) {
        z += exp(score[e] - mx);
    }
    red[lid] = z;
    workgroupBarrier();
    for (var st = WG / 2u; st > 0u; st /= 2u) {
        if (lid < st) {
            red[lid] = red[lid] + red[lid + st];
        }
        workgroupBarrier();
    }
    let scale = f32(b - a) / red[0];
    for (var e = a + lid; e < b; e += WG) {
        alpha[e] = exp(score[e] - mx) * scale;
    }
}
