// gnn_common: the parameter block of every graph-network kernel (binding 0) and flat thread indexing.

// keep in sync with kernels/src/gnn/gpu.rs `GnnParams`
struct GnnParams {
    // rows of the output: nodes, edges or segments
    rows: u32,
    // values per row
    width: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> P: GnnParams;

const WG: u32 = 256u;

// More than 65535 workgroups go out as a 2D grid; x runs fastest.
fn flat_thread(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * WG + lid;
}
