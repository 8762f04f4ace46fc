// gnn_scale_rows_backward: dalpha[e] = dout[e] . u[e] and du[e, j] = alpha[e] dout[e, j] (backward of
// gnn_scale_rows). One thread per row, values in order.

@group(0) @binding(1) var<storage, read> alpha: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read_write> dalpha: array<f32>;
@group(0) @binding(5) var<storage, read_write> du: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let e = flat_thread(wg, nwg, lid);
    if (e >= P.rows) {
        return;
    }
    let a = alpha[e];
    var dot = 0.0;
    for (var j = 0u; j < P.width; j++) {
        let i = e * P.width + j;
        dot += dout[i] * u[i];
        du[i] = a * dout[i];
    }
    dalpha[e] = dot;
}
