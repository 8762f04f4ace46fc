//! The declarations of the gnn family's kernels (see `registry.rs`, "How to add a kernel"): the host mirror of
//! `GnnParams`, the bindings and workgroup count of each kernel, and the family's WGSL constants. Launched by
//! `gnn::gpu`.

use bytemuck::{Pod, Zeroable};

use crate::kernel::bind as b;
use crate::kernel::Binding::{Read as R, ReadWrite as W, UniformDynamic as U};
use crate::kernel::{Family, Kernel};
use crate::shaders;

/// Workgroup size of every gnn kernel (`WG` in the generated WGSL prelude).
pub const WG: u32 = 256;

crate::wgsl_struct! {
    // keep in sync with gnn/shaders/gnn_common.wgsl `GnnParams`
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
    pub struct GnnParams {
        /// Output rows: nodes, edges or segments.
        pub rows: u32,
        /// Values per row.
        pub width: u32,
        /// Linear layers: inputs and outputs per row (weights [n_out, n_in] row-major).
        pub n_in: u32,
        pub n_out: u32,
        /// Offsets of a Linear's weight and bias in the flat parameter (or gradient) vector.
        pub w_off: u32,
        pub b_off: u32,
        /// Bits: `RELU`, `ACC` (add to the output instead of overwriting it), `BIAS`.
        pub flags: u32,
        /// Readout and segment-sum backward: the column where a row's values start in a wider row.
        pub col: u32,
        /// Dropout: the layer's seed and the drop probability (`nn::keep`).
        pub seed: u32,
        pub p: f32,
        /// Column copies and the edge input: the column where a row's values start in the output's wider row.
        pub out_col: u32,
        pub pad1: u32,
    }
}

/// `GnnParams::flags`: apply ReLU to the output.
pub const RELU: u32 = 1;
/// `GnnParams::flags`: add to the output (a skip connection, or a gradient summed over a shared weight's uses).
pub const ACC: u32 = 2;
/// `GnnParams::flags`: the Linear has a bias at `b_off`.
pub const BIAS: u32 = 4;

/// The WGSL constants of every gnn kernel's prelude.
pub const CONSTS: &[(&str, u32)] = &[("WG", WG), ("RELU", RELU), ("ACC", ACC), ("BIAS", BIAS)];

/// A gnn kernel (its twin is the function `gnn::cpu::<name>`) and its workgroup count for given parameters.
pub struct GnnKernel {
    pub kernel: Kernel,
    pub groups: fn(&GnnParams) -> u64,
}

impl std::ops::Deref for GnnKernel {
    type Target = Kernel;
    fn deref(&self) -> &Kernel {
        &self.kernel
    }
}

/// One thread per value of `n` values.
fn threads(n: u64) -> u64 {
    n.div_ceil(WG as u64)
}

macro_rules! gnn_kernel {
    ($id:ident, $name:literal, [$($bind:expr),*], |$p:ident| $groups:expr) => {
        pub const $id: GnnKernel = GnnKernel {
            kernel: Kernel {
                name: $name,
                family: Family::Gnn,
                parts: &[
                    shaders::GNN_COMMON,
                    shaders::HASH,
                    include_str!(concat!("shaders/", $name, ".wgsl")),
                ],
                bindings: &[b("P", U), $($bind),*],
                structs: &[GnnParams::host_layout],
                twin: concat!("gnn::cpu::", $name),
                consts: CONSTS,
            },
            groups: |$p| $groups,
        };
    };
}

gnn_kernel!(
    GNN_SEGMENT_SUM,
    "gnn_segment_sum",
    [b("in_ptr", R), b("h", R), b("out", W)],
    |p| threads(p.rows as u64 * p.width as u64)
);
gnn_kernel!(
    GNN_REVERSE_SUB,
    "gnn_reverse_sub",
    [b("src", R), b("rev", R), b("s", R), b("h", R), b("m", W)],
    |p| threads(p.rows as u64 * p.width as u64)
);
// one workgroup per segment
gnn_kernel!(
    GNN_SEGMENT_SOFTMAX,
    "gnn_segment_softmax",
    [b("seg_ptr", R), b("score", R), b("alpha", W)],
    |p| p.rows as u64
);
gnn_kernel!(
    GNN_SEGMENT_MEAN,
    "gnn_segment_mean",
    [b("node_ptr", R), b("x", R), b("out", W)],
    |p| threads(p.rows as u64 * p.width as u64)
);
gnn_kernel!(
    GNN_LINEAR,
    "gnn_linear",
    [b("params", R), b("x", R), b("y", W)],
    |p| threads(p.rows as u64 * p.n_out as u64)
);
gnn_kernel!(
    GNN_LINEAR_BACKWARD_INPUT,
    "gnn_linear_backward_input",
    [b("params", R), b("dy", R), b("dx", W)],
    |p| threads(p.rows as u64 * p.n_in as u64)
);
// one workgroup per weight and bias
gnn_kernel!(
    GNN_LINEAR_BACKWARD_WEIGHT,
    "gnn_linear_backward_weight",
    [b("x", R), b("dy", R), b("grads", W)],
    |p| {
        let bias = if p.flags & BIAS != 0 {
            p.n_out as u64
        } else {
            0
        };
        p.n_out as u64 * p.n_in as u64 + bias
    }
);
gnn_kernel!(
    GNN_RELU_BACKWARD,
    "gnn_relu_backward",
    [b("act", R), b("g", W)],
    |p| threads(p.rows as u64 * p.width as u64)
);
gnn_kernel!(
    GNN_SCALE_ROWS,
    "gnn_scale_rows",
    [b("alpha", R), b("u", R), b("out", W)],
    |p| threads(p.rows as u64 * p.width as u64)
);
// one thread per row
gnn_kernel!(
    GNN_SCALE_ROWS_BACKWARD,
    "gnn_scale_rows_backward",
    [
        b("alpha", R),
        b("u", R),
        b("dout", R),
        b("dalpha", W),
        b("du", W)
    ],
    |p| threads(p.rows as u64)
);
gnn_kernel!(
    GNN_READOUT_INPUT,
    "gnn_readout_input",
    [b("species", R), b("s", R), b("out", W)],
    |p| threads(p.rows as u64 * (p.col as u64 + p.width as u64))
);
gnn_kernel!(
    GNN_SEGMENT_SOFTMAX_BACKWARD,
    "gnn_segment_softmax_backward",
    [
        b("seg_ptr", R),
        b("alpha", R),
        b("dalpha", R),
        b("dscore", W)
    ],
    |p| p.rows as u64
);
gnn_kernel!(
    GNN_SEGMENT_MEAN_BACKWARD,
    "gnn_segment_mean_backward",
    [
        b("node_ptr", R),
        b("node_graph", R),
        b("dout", R),
        b("dx", W)
    ],
    |p| threads(p.rows as u64 * p.width as u64)
);
gnn_kernel!(
    GNN_REVERSE_SUB_BACKWARD,
    "gnn_reverse_sub_backward",
    [b("in_ptr", R), b("rev", R), b("dm", R), b("ds", W)],
    |p| threads(p.rows as u64 * p.width as u64)
);
gnn_kernel!(
    GNN_SEGMENT_SUM_BACKWARD,
    "gnn_segment_sum_backward",
    [b("dst", R), b("ds", R), b("dh", W)],
    |p| threads(p.rows as u64 * p.width as u64)
);
gnn_kernel!(GNN_DROPOUT, "gnn_dropout", [b("x", W)], |p| threads(
    p.rows as u64 * p.width as u64
));
gnn_kernel!(GNN_COLUMNS, "gnn_columns", [b("x", R), b("out", W)], |p| {
    threads(p.rows as u64 * p.width as u64)
});
// one thread per value of the receiver's and the sender's blocks
gnn_kernel!(
    GNN_EDGE_INPUT,
    "gnn_edge_input",
    [b("src", R), b("dst", R), b("xv", R), b("out", W)],
    |p| threads(p.rows as u64 * 2 * p.width as u64)
);
gnn_kernel!(
    GNN_EDGE_INPUT_BACKWARD,
    "gnn_edge_input_backward",
    [b("in_ptr", R), b("rev", R), b("dout", R), b("dxv", W)],
    |p| threads(p.rows as u64 * p.width as u64)
);
gnn_kernel!(
    GNN_MASKED_MSE,
    "gnn_masked_mse",
    [b("w", R), b("y", R), b("truth", R), b("sq", W), b("dy", W)],
    |p| threads(p.rows as u64 * p.width as u64)
);
