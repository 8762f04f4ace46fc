//! What the nn kernels, their CPU twins and the plans share: the parameter block `NnParams`, the constants of
//! the WGSL prelude, the twins of nn_common.wgsl's helpers, and the plan vocabulary (`Buf`, `PlanOp`).

use bytemuck::{Pod, Zeroable};

use super::kernels::NnKernel;

// mirrors nn/shaders/nn_common.wgsl `NnParams` (checked member by member against naga: the kernel tests'
// `shaders` module)
crate::wgsl_struct! {
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct NnParams {
    pub batch: u32,
    pub c_in: u32,
    pub c_out: u32,
    pub h: u32,
    pub w: u32,
    pub k: u32,
    pub pad: u32,
    pub act: u32,
    pub n_in: u32,
    pub n_out: u32,
    pub w_off: u32,
    pub b_off: u32,
    pub n: u32,
    pub seed: u32,
    pub step: u32,
    pub n_part: u32,
    pub p: f32,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub bc1: f32,
    pub bc2: f32,
    pub box_l: f32,
    pub width: f32,
    pub radius: u32,
    pub n_species: u32,
    pub cls: u32,
}
}

/// Workgroup size of every nn kernel.
pub const WG: u32 = 256;
/// gradcam keeps one alpha per feature map in workgroup memory.
pub const MAX_MAPS: usize = 256;
/// dense_forward computes this many samples per workgroup, reading each weight once for all of them.
pub const DENSE_BATCH: u32 = 8;

/// Twin of `hash_u32` in nn_common.wgsl.
pub fn hash_u32(x: u32) -> u32 {
    let s = x.wrapping_mul(747796405).wrapping_add(2891336453);
    let w = ((s >> ((s >> 28) + 4)) ^ s).wrapping_mul(277803737);
    (w >> 22) ^ w
}

/// Twin of `keep` in nn_common.wgsl (the comparison in f32, as on the GPU).
pub fn keep(seed: u32, i: u32, p: f32) -> bool {
    let h = hash_u32(i ^ hash_u32(seed));
    (h >> 8) as f32 * (1.0 / 16777216.0) >= p
}

/// A logical buffer of a network run; the GPU path and the CPU twin each map these to their storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Buf {
    Params,
    Grads,
    AdamM,
    AdamV,
    /// Activation i (see `NetSpec::act_len`).
    Act(usize),
    /// Gradient of the loss (or of the class score) with respect to activation i.
    Grad(usize),
    Labels,
    Loss,
    Maps,
    /// The training set kept on the device (`Net::load_set`): positions [set, n, 2], labels, species of the n
    /// particles, the epoch's order (set indices) and symmetries ([set, 4], see gather_augment.wgsl).
    SetPos,
    SetLabels,
    Species,
    Order,
    Transforms,
    /// A batch's positions, gridize_bin's bins, the standardization (mean, 1 / std per channel) and the epoch's
    /// (loss sum, correct count).
    BatchPos,
    BinEnd,
    Binned,
    Norm,
    Tally,
}

/// One kernel launch of a plan.
#[derive(Clone, Debug)]
pub struct PlanOp {
    pub kernel: &'static NnKernel,
    pub p: NnParams,
    /// Buffers bound at 1, 2, ... (binding 0 is `p`).
    pub bufs: Vec<Buf>,
}
