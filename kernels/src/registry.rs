//! Every compute kernel of the project, gathered from the families that declare them (`md/kernels.rs`,
//! `nn/kernels.rs`, `gnn/kernels.rs`, each with the types of `kernel.rs`: name, WGSL parts, bindings with their
//! access modes, the host mirrors of its structs, its dispatch rule, its CPU twin and its family's WGSL constants).
//! Everything else is derived from `ALL`: the naga checks (tests/shaders_validate.rs), the nn pipelines
//! (nn/gpu.rs) and the CPU plan executor (nn/cpu.rs `CpuExec`, which runs the `Twin::Plan` twins). The families
//! never import this module; it imports them.
//!
//! # How to add a kernel
//! 1. Write `shaders/<name>.wgsl` with its `main`; shared files (md_common.wgsl, nn_common.wgsl, gnn_common.wgsl,
//!    hash.wgsl) come first in `parts`. Use the prelude's constants (`WG`, `MAX_CELLS`, `MAX_CHAIN`, `MAX_MAPS`,
//!    ...), never their values; a new constant goes into its family's `CONSTS` (`<family>/kernels.rs`).
//! 2. Write its CPU twin, the function `<name>` (nn/cpu.rs, md/cpu.rs or gnn/cpu.rs), mirroring the shader.
//! 3. Declare `pub const <NAME>: Kernel = Kernel { .. }` in `<family>/kernels.rs` (the nn and gnn families have a
//!    macro for it) and list it in [`ALL`] below: bindings in binding order with the WGSL variable names,
//!    `structs` the host mirrors (declared with [`wgsl_struct!`](crate::wgsl_struct)) of the structs it reads,
//!    binding 0's first, `consts` the family's `CONSTS`. A kernel of the nn family is then launched by
//!    `nn::gpu::NnGpu` and, with `Twin::Plan`, run by `nn::cpu::CpuExec`; nothing else needs an edit.
//! 4. Add `tests/<name>_should_match_cpu.rs` (GPU against the twin). `tests/shaders_validate.rs` checks the
//!    declaration against naga with no GPU: bindings, access modes, struct member names, offsets and prelude.

pub use crate::gnn::kernels::{
    GNN_DROPOUT, GNN_LINEAR, GNN_LINEAR_BACKWARD_INPUT, GNN_LINEAR_BACKWARD_WEIGHT,
    GNN_READOUT_INPUT, GNN_RELU_BACKWARD, GNN_REVERSE_SUB, GNN_REVERSE_SUB_BACKWARD,
    GNN_SCALE_ROWS, GNN_SCALE_ROWS_BACKWARD, GNN_SEGMENT_MEAN, GNN_SEGMENT_MEAN_BACKWARD,
    GNN_SEGMENT_SOFTMAX, GNN_SEGMENT_SOFTMAX_BACKWARD, GNN_SEGMENT_SUM, GNN_SEGMENT_SUM_BACKWARD,
};
pub use crate::kernel::{Bind, Dispatch, Family, HostStruct, Kernel, Reads, Twin};
pub use crate::md::kernels::{MD_BINDINGS, MD_CRSD, MD_FIRE, MD_FIRE_BINDINGS, MD_FORCES, MD_STEP};
pub use crate::nn::kernels::{
    ADAM, CONV2D_BACKWARD_INPUT, CONV2D_BACKWARD_WEIGHT, CONV2D_FORWARD, DENSE_BACKWARD_INPUT,
    DENSE_BACKWARD_WEIGHT, DENSE_FORWARD, DROPOUT, EPOCH_TALLY, GATHER_AUGMENT, GRADCAM, GRIDIZE,
    GRIDIZE_BIN, GRID_SAMPLE, MEAN_POOL, MEAN_POOL_BACKWARD, RELU_BACKWARD, SOFTMAX_XENT,
    STANDARDIZE,
};

/// Every kernel of the project; tests check that every file in `shaders/` belongs to one of these.
pub const ALL: &[&Kernel] = &[
    &MD_FORCES,
    &MD_STEP,
    &MD_FIRE,
    &MD_CRSD,
    &GRIDIZE_BIN,
    &GRIDIZE,
    &GRID_SAMPLE,
    &CONV2D_FORWARD,
    &CONV2D_BACKWARD_INPUT,
    &CONV2D_BACKWARD_WEIGHT,
    &RELU_BACKWARD,
    &DENSE_FORWARD,
    &DENSE_BACKWARD_INPUT,
    &DENSE_BACKWARD_WEIGHT,
    &DROPOUT,
    &SOFTMAX_XENT,
    &ADAM,
    &GRADCAM,
    &MEAN_POOL,
    &MEAN_POOL_BACKWARD,
    &GATHER_AUGMENT,
    &STANDARDIZE,
    &EPOCH_TALLY,
    &GNN_SEGMENT_SUM,
    &GNN_REVERSE_SUB,
    &GNN_SEGMENT_SOFTMAX,
    &GNN_SEGMENT_MEAN,
    &GNN_LINEAR,
    &GNN_LINEAR_BACKWARD_INPUT,
    &GNN_LINEAR_BACKWARD_WEIGHT,
    &GNN_RELU_BACKWARD,
    &GNN_SCALE_ROWS,
    &GNN_SCALE_ROWS_BACKWARD,
    &GNN_READOUT_INPUT,
    &GNN_SEGMENT_SOFTMAX_BACKWARD,
    &GNN_SEGMENT_MEAN_BACKWARD,
    &GNN_REVERSE_SUB_BACKWARD,
    &GNN_SEGMENT_SUM_BACKWARD,
    &GNN_DROPOUT,
    &crate::probe::LOOP_PROBE,
];

/// The kernel called `name`.
pub fn find(name: &str) -> Option<&'static Kernel> {
    ALL.iter().copied().find(|k| k.name == name)
}
