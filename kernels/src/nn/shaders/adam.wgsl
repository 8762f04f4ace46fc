// adam: one Adam step on the flat parameter vector: m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2,
// p -= lr (m / bc1) / (sqrt(v / bc2) + eps), with the bias corrections bc1 = 1 - b1^t, bc2 = 1 - b2^t from the host.

@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    if (i >= P.n) {
        return;
    }
    let g = grads[i];
    let mi = P.beta1 * m[i] + (1.0 - P.beta1) * g;
    let vi = P.beta2 * v[i] + (1.0 - P.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = params[i] - P.lr * (mi / P.bc1) / (sqrt(vi / P.bc2) + P.eps);
}
