// gnn_segment_softmax_backward: dscore[e] = alpha[e] (dalpha[e] - sum_f alpha[f] dalpha[f] / n) over the segment
// ptr[k] .. ptr[k + 1] of e (n its edge count; backward of gnn_segment_softmax, whose alpha carries the factor n).
// One workgroup per segment: the dot product reduced in workgroup memory, in a fixed order.

@group(0) @binding(1) var<storage, read> seg_ptr: array<u32>;
@group(0) @binding(2) var<storage, read> alpha: array<f32>;
@group(0) @binding(3) var<storage, read> dalpha: array<f32>;
@group(0) @binding(4) var<storage, read_write> dscore: array<f32>;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let k = flat_group(wg, nwg);
    // uniform control flow: every thread of the group sees the same k
    var a = 0u;
    var b = 0u;
    if (k < P.rows) {
        a = seg_ptr[k];
        b = seg_ptr[k + 1u];
    }
    var dot = 0.0;
    for (var e = a + lid; e < b; e += WG) {
        dot += alpha[e] * dalpha[e];
    }
    red[lid] = dot;
    workgroupBarrier();
    for (var st = WG / 2u; st > 0u; st /= 2u) {
        if (lid < st) {
            red[lid] = red[lid] + red[lid + st];
        }
        workgroupBarrier();
    }
    let mean = red[0] / f32(max(b - a, 1u));
    for (var e = a + lid; e < b; e += WG) {
        dscore[e] = alpha[e] * (dalpha[e] - mean);
    }
}
