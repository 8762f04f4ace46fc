// standardize: images [batch, n_species, G, G] in place, x = (x - mean[c]) * inv_std[c] for channel c, with
// norm = (mean, inv_std) per channel, interleaved. P.n values, P.h x P.w pixels, P.n_species channels.
// One invocation per value.

@group(0) @binding(1) var<storage, read> norm: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = flat_thread(wg, nwg, lid);
    if (t >= P.n) {
        return;
    }
    let c = (t / (P.h * P.w)) % P.n_species;
    x[t] = (x[t] - norm[2u * c]) * norm[2u * c + 1u];
}
