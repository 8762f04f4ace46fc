//! Every compute kernel of the project, gathered from the families that declare them (`md/kernels.rs`,
//! `nn/kernels.rs`, `gnn/kernels.rs`, `probe/mod.rs`), each with the types of `kernel.rs`: name, WGSL parts,
//! bindings with their access modes, the host mirrors of its structs, its family's WGSL constants and its CPU
//! twin. Everything else is derived from `ALL`: the naga checks and the check that every kernel has its test (the
//! kernel tests, `kernels/tests/kernels/`). The families never import this module; it imports them.
//!
//! # How to add a kernel: four edits
//! 1. **The shader**, `<family>/shaders/<name>.wgsl` with its `main`, binding 0 the family's parameter block
//!    (`var<uniform> P`). The family's shared parts (`md_common.wgsl`, `nn_common.wgsl`, `gnn_common.wgsl`, and
//!    `shaders/hash.wgsl` across families) come first in `parts`. Use the prelude's constants (`WG`,
//!    `MAX_CELLS`, `MAX_CHAIN`, `MAX_MAPS`, ...), never their values; a new constant goes into its family's
//!    `CONSTS` (`<family>/kernels.rs`).
//! 2. **The declaration with its twin**: the CPU twin, the function `<name>` in the family's twin module
//!    (`nn/cpu.rs`, `gnn/cpu.rs`, `md/reference.rs`), mirroring the shader, and the declaration in
//!    `<family>/kernels.rs`: one `nn_kernel!` line (bindings in binding order with the WGSL variable names, the
//!    dispatch rule, and `Twin::Plan` to let `nn::cpu::CpuExec` run the twin in network plans) or one
//!    `gnn_kernel!` line (bindings and workgroup count); an md kernel is a `Kernel` with `structs` (host mirrors
//!    declared with [`wgsl_struct!`](crate::wgsl_struct), binding 0's first) and its launch in md/gpu.rs.
//!    Launching needs nothing else: every family goes through `GpuContext::bind` and `Encoder::launch`
//!    (`launch.rs`), whose pipeline cache compiles the kernel on first use.
//! 3. **The registry line**: the kernel in [`ALL`] below.
//! 4. **The test module**: `kernels/tests/kernels/<name>.rs` (GPU against the twin, seeded, at awkward sizes, with
//!    named tolerances), declared in that binary's `main.rs`. Its `shaders` module then checks the declaration
//!    against naga with no GPU (bindings, access modes, struct member names, offsets, the prelude) and that the
//!    test module exists.

use crate::kernel::Kernel;
use crate::{gnn, md, nn, probe};

pub use crate::kernel::{Bind, Family, HostStruct};

/// Every kernel of the project; the kernel tests check that every `.wgsl` file of this crate belongs to one.
pub const ALL: &[&Kernel] = &[
    &md::kernels::MD_FORCES,
    &md::kernels::MD_STEP,
    &md::kernels::MD_FIRE,
    &md::kernels::MD_CRSD,
    &nn::kernels::GRIDIZE_BIN.kernel,
    &nn::kernels::GRIDIZE.kernel,
    &nn::kernels::GRID_SAMPLE.kernel,
    &nn::kernels::CONV2D_FORWARD.kernel,
    &nn::kernels::CONV2D_BACKWARD_INPUT.kernel,
    &nn::kernels::CONV2D_BACKWARD_WEIGHT.kernel,
    &nn::kernels::RELU_BACKWARD.kernel,
    &nn::kernels::DENSE_FORWARD.kernel,
    &nn::kernels::DENSE_BACKWARD_INPUT.kernel,
    &nn::kernels::DENSE_BACKWARD_WEIGHT.kernel,
    &nn::kernels::DROPOUT.kernel,
    &nn::kernels::SOFTMAX_XENT.kernel,
    &nn::kernels::ADAM.kernel,
    &nn::kernels::GRADCAM.kernel,
    &nn::kernels::MEAN_POOL.kernel,
    &nn::kernels::MEAN_POOL_BACKWARD.kernel,
    &nn::kernels::GATHER_AUGMENT.kernel,
    &nn::kernels::STANDARDIZE.kernel,
    &nn::kernels::EPOCH_TALLY.kernel,
    &gnn::kernels::GNN_SEGMENT_SUM.kernel,
    &gnn::kernels::GNN_REVERSE_SUB.kernel,
    &gnn::kernels::GNN_SEGMENT_SOFTMAX.kernel,
    &gnn::kernels::GNN_SEGMENT_MEAN.kernel,
    &gnn::kernels::GNN_LINEAR.kernel,
    &gnn::kernels::GNN_LINEAR_BACKWARD_INPUT.kernel,
    &gnn::kernels::GNN_LINEAR_BACKWARD_WEIGHT.kernel,
    &gnn::kernels::GNN_RELU_BACKWARD.kernel,
    &gnn::kernels::GNN_SCALE_ROWS.kernel,
    &gnn::kernels::GNN_SCALE_ROWS_BACKWARD.kernel,
    &gnn::kernels::GNN_READOUT_INPUT.kernel,
    &gnn::kernels::GNN_SEGMENT_SOFTMAX_BACKWARD.kernel,
    &gnn::kernels::GNN_SEGMENT_MEAN_BACKWARD.kernel,
    &gnn::kernels::GNN_REVERSE_SUB_BACKWARD.kernel,
    &gnn::kernels::GNN_SEGMENT_SUM_BACKWARD.kernel,
    &gnn::kernels::GNN_DROPOUT.kernel,
    &gnn::kernels::GNN_COLUMNS.kernel,
    &gnn::kernels::GNN_EDGE_INPUT.kernel,
    &gnn::kernels::GNN_EDGE_INPUT_BACKWARD.kernel,
    &gnn::kernels::GNN_MASKED_MSE.kernel,
    &probe::LOOP_PROBE,
];

/// The kernel called `name`.
pub fn find(name: &str) -> Option<&'static Kernel> {
    ALL.iter().copied().find(|k| k.name == name)
}
