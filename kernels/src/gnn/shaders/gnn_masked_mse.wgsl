// gnn_masked_mse: the squared error of width predictions per node on the nodes of weight w[v] (1 on the scored
// species, 0 elsewhere): sq[i] = w (y - t)^2 and dy[i] = 2 p w (y - t), with p one over the scored values.

@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> truth: array<f32>;
@group(0) @binding(4) var<storage, read_write> sq: array<f32>;
@group(0) @binding(5) var<storage, read_write> dy: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    if (i >= P.rows * P.width) {
        return;
    }
    let wv = w[i / P.width];
    let d = y[i] - truth[i];
    sq[i] = wv * d * d;
    dy[i] = 2.0 * P.p * wv * d;
}
