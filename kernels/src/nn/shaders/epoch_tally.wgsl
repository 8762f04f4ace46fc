// epoch_tally: adds a training batch's summed loss and its number of correct predictions (the first largest of
// the P.n_out scores against the label) to tally = (loss sum, correct), so the host reads them once per epoch.
// P.batch samples, summed in sample order by one invocation (the order the CPU twin sums in).

@group(0) @binding(1) var<storage, read> loss: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read_write> tally: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    if (flat_thread(wg, nwg, lid) != 0u) {
        return;
    }
    let k_n = P.n_out;
    var sum = 0.0;
    var correct = 0u;
    for (var b = 0u; b < P.batch; b++) {
        sum += loss[b];
        var best = 0u;
        for (var k = 1u; k < k_n; k++) {
            if (logits[b * k_n + k] > logits[b * k_n + best]) {
                best = k;
            }
        }
        if (best == labels[b]) {
            correct += 1u;
        }
    }
    tally[0] += sum;
    tally[1] += f32(correct);
}
