// gnn_common: the parameter block of every graph-network kernel (binding 0) and flat thread indexing.

// keep in sync with kernels/src/gnn/gpu.rs `GnnParams`; WG comes from the generated prelude
struct GnnParams {
    // rows of the output: nodes, edges or segments
    rows: u32,
    // values per row
    width: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> P: GnnParams;

// More than 65535 workgroups go out as a 2D grid; x runs fastest.
fn flat_thread(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * WG + lid;
}
