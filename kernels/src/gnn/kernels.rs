//! The declarations of the gnn family's kernels (see `registry.rs`, "How to add a kernel"): the host mirror of
//! `GnnParams`, the bindings of each kernel, and the family's WGSL constants. Launched by `gnn::gpu`.

use bytemuck::{Pod, Zeroable};

use crate::kernel::bind as b;
use crate::kernel::Binding::{self, Read as R, ReadWrite as W};
use crate::kernel::{Dispatch, Family, Kernel, Twin};
use crate::shaders;

/// Workgroup size of every gnn kernel (`WG` in the generated WGSL prelude).
pub const WG: u32 = 256;

crate::wgsl_struct! {
    // keep in sync with shaders/gnn_common.wgsl `GnnParams`
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
    pub struct GnnParams {
        /// Output rows: nodes, edges or segments.
        pub rows: u32,
        /// Values per row.
        pub width: u32,
        pub pad0: u32,
        pub pad1: u32,
    }
}

/// The WGSL constants of every gnn kernel's prelude.
pub const CONSTS: &[(&str, u32)] = &[("WG", WG)];

macro_rules! gnn_kernel {
    ($id:ident, $name:literal, [$($bind:expr),*]) => {
        pub const $id: Kernel = Kernel {
            name: $name,
            family: Family::Gnn,
            parts: &[
                shaders::GNN_COMMON,
                include_str!(concat!("../../../shaders/", $name, ".wgsl")),
            ],
            bindings: &[b("P", Binding::Uniform), $($bind),*],
            structs: &[GnnParams::host_layout],
            dispatch: Dispatch::Launcher,
            twin: Twin::Host(concat!("gnn::cpu::", $name)),
            consts: CONSTS,
        };
    };
}

gnn_kernel!(
    GNN_SEGMENT_SUM,
    "gnn_segment_sum",
    [b("in_ptr", R), b("h", R), b("out", W)]
);
gnn_kernel!(
    GNN_REVERSE_SUB,
    "gnn_reverse_sub",
    [b("src", R), b("rev", R), b("s", R), b("h", R), b("m", W)]
);
gnn_kernel!(
    GNN_SEGMENT_SOFTMAX,
    "gnn_segment_softmax",
    [b("seg_ptr", R), b("score", R), b("alpha", W)]
);
gnn_kernel!(
    GNN_SEGMENT_MEAN,
    "gnn_segment_mean",
    [b("node_ptr", R), b("x", R), b("out", W)]
);
