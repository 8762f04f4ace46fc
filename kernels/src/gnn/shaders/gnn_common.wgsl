// gnn_common: the parameter block of every graph-network kernel (binding 0) and flat thread indexing.

// keep in sync with kernels/src/gnn/kernels.rs `GnnParams`; WG comes from the generated prelude
struct GnnParams {
    // rows of the output: nodes, edges or segments
    rows: u32,
    // values per row
    width: u32,
    // Linear layers: inputs and outputs per row (weights [n_out, n_in] row-major)
    n_in: u32,
    n_out: u32,
    // offsets of a Linear's weight and bias in the flat parameter (or gradient) vector
    w_off: u32,
    b_off: u32,
    // bits RELU, ACC (add to the output), BIAS (from the prelude)
    flags: u32,
    // the column where a row's values start in a wider row (readout input, segment-sum backward)
    col: u32,
    // dropout: the layer's seed and the drop probability (keep in hash.wgsl)
    seed: u32,
    p: f32,
    // column copies and the edge input: the column where a row's values start in the output's wider row
    out_col: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> P: GnnParams;

// More than 65535 workgroups go out as a 2D grid; x runs fastest.
fn flat_thread(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * WG + lid;
}

// Workgroup index of a one-group-per-row kernel (2D grid beyond 65535 groups).
fn flat_group(wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wg.y * nwg.x + wg.x;
}

fn has(flag: u32) -> bool {
    return (P.flags & flag) != 0u;
}
