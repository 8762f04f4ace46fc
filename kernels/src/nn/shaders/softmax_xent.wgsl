// softmax_xent: per sample b, loss[b] = logsumexp(logits[b]) - logits[b, label[b]] and
// dlogits[b,k] = (softmax(logits[b])_k - [k == label[b]]) / batch (the gradient of the batch-mean loss).
// n_out classes. One invocation per sample.

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let b = flat_thread(wg, nwg, lid);
    if (b >= P.batch) {
        return;
    }
    let k_n = P.n_out;
    let base = b * k_n;
    var m = logits[base];
    for (var k = 1u; k < k_n; k++) {
        m = max(m, logits[base + k]);
    }
    var s = 0.0;
    for (var k = 0u; k < k_n; k++) {
        s += exp(logits[base + k] - m);
    }
    let label = labels[b];
    loss[b] = m + log(s) - logits[base + label];
    let inv_b = 1.0 / f32(P.batch);
    for (var k = 0u; k < k_n; k++) {
        let pk = exp(logits[base + k] - m) / s;
        dlogits[base + k] = (pk - select(0.0, 1.0, k == label)) * inv_b;
    }
}
