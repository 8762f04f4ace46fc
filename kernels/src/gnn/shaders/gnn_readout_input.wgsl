// gnn_readout_input: out[v] = [onehot(species[v]) (col values); s[v] (width values)], the readout's input per
// node. One thread per output value.

@group(0) @binding(1) var<storage, read> species: array<u32>;
@group(0) @binding(2) var<storage, read> s: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    let w = P.col + P.width;
    if (i >= P.rows * w) {
        return;
    }
    let v = i / w;
    let c = i % w;
    if (c < P.col) {
        out[i] = select(0.0, 1.0, species[v] == c);
    } else {
        out[i] = s[v * P.width + c - P.col];
    }
}
