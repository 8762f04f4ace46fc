// gnn_reverse_sub: m[e, j] = s[src[e], j] - h[rev[e], j], the directed-MPNN message (everything into the source
// except what came back along the edge). One thread per value.

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> rev: array<u32>;
@group(0) @binding(3) var<storage, read> s: array<f32>;
@group(0) @binding(4) var<storage, read> h: array<f32>;
@group(0) @binding(5) var<storage, read_write> m: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_thread(wg, nwg, lid);
    if (i >= P.rows * P.width) {
        return;
    }
    let e = i / P.width;
    let j = i % P.width;
    m[i] = s[src[e] * P.width + j] - h[rev[e] * P.width + j];
}
