//! The declarations of the nn family's kernels (see `registry.rs`, "How to add a kernel"): bindings, dispatch
//! rule and CPU twin of each, and the family's WGSL constants.

use super::common::{NnParams, DENSE_BATCH, MAX_MAPS, WG};
use super::cpu;
use crate::kernel::bind as b;
use crate::kernel::Binding::{Read as R, ReadWrite as W, UniformDynamic as U};
use crate::kernel::{Family, Kernel};
use crate::shaders;

/// The WGSL constants of every nn kernel's prelude, from the Rust constants they must equal.
pub const CONSTS: &[(&str, u32)] = &[
    ("WG", WG),
    ("MAX_MAPS", MAX_MAPS as u32),
    ("DENSE_BATCH", DENSE_BATCH),
];

/// How many workgroups a launch takes, from its parameters.
#[derive(Clone, Copy)]
pub enum Dispatch {
    /// One invocation per item, `WG` to a workgroup.
    Threads(fn(&NnParams) -> u64),
    /// One workgroup per item.
    Groups(fn(&NnParams) -> u64),
}

/// Read-only bindings after binding 0, in order (labels arrive as an empty slice: they are `labels`).
pub type Reads<'a> = [&'a [f64]];

/// How a kernel's CPU twin runs.
#[derive(Clone, Copy)]
pub enum Twin {
    /// Run by `nn::cpu::CpuExec` on an op's buffers: read-only bindings in `r`, read-write ones in `w` (each in
    /// binding order), the class labels in the last argument.
    Plan(fn(&NnParams, &Reads, &mut [Vec<f64>], &[u32])),
    /// Called by the kernel's own host code (`Kernel::twin` names it).
    Host,
}

/// An nn kernel: its declaration (its twin is the function `nn::cpu::<name>`), its dispatch rule and how its twin
/// runs.
pub struct NnKernel {
    pub kernel: Kernel,
    pub dispatch: Dispatch,
    pub run_twin: Twin,
}

impl std::ops::Deref for NnKernel {
    type Target = Kernel;
    fn deref(&self) -> &Kernel {
        &self.kernel
    }
}

impl std::fmt::Debug for NnKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kernel.name)
    }
}

impl NnKernel {
    /// Workgroups for parameters `p`, before any spill into a second dimension.
    pub fn workgroups(&self, p: &NnParams) -> u64 {
        match self.dispatch {
            Dispatch::Threads(items) => items(p).div_ceil(WG as u64),
            Dispatch::Groups(items) => items(p),
        }
    }
}

macro_rules! nn_kernel {
    ($id:ident, $name:literal, [$($bind:expr),*], $dispatch:expr, $twin:expr) => {
        pub const $id: NnKernel = NnKernel {
            kernel: Kernel {
                name: $name,
                family: Family::Nn,
                parts: &[
                    shaders::NN_COMMON,
                    shaders::HASH,
                    include_str!(concat!("shaders/", $name, ".wgsl")),
                ],
                bindings: &[b("P", U), $($bind),*],
                structs: &[NnParams::host_layout],
                twin: concat!("nn::cpu::", $name),
                consts: CONSTS,
            },
            dispatch: $dispatch,
            run_twin: $twin,
        };
    };
}

use Dispatch::{Groups, Threads};

nn_kernel!(
    GRIDIZE_BIN,
    "gridize_bin",
    [
        b("pos", R),
        b("species", R),
        b("bin_end", W),
        b("binned", W)
    ],
    Groups(|p| p.batch as u64),
    Twin::Host
);
nn_kernel!(
    GRIDIZE,
    "gridize",
    [b("bin_end", R), b("binned", R), b("out", W)],
    Threads(|p| p.batch as u64 * p.n_species as u64 * p.h as u64 * p.h as u64),
    Twin::Host
);
nn_kernel!(
    GRID_SAMPLE,
    "grid_sample",
    [b("field", R), b("pos", R), b("out", W)],
    Threads(|p| p.batch as u64 * p.n_part as u64),
    Twin::Host
);
nn_kernel!(
    CONV2D_FORWARD,
    "conv2d_forward",
    [b("params", R), b("input", R), b("output", W)],
    Threads(|p| p.batch as u64 * p.c_out as u64 * p.h as u64 * p.w as u64),
    Twin::Plan(|p, r, w, _| cpu::conv2d_forward(p, r[0], r[1], &mut w[0]))
);
nn_kernel!(
    CONV2D_BACKWARD_INPUT,
    "conv2d_backward_input",
    [b("params", R), b("gout", R), b("gin", W)],
    Threads(|p| p.batch as u64 * p.c_in as u64 * p.h as u64 * p.w as u64),
    Twin::Plan(|p, r, w, _| cpu::conv2d_backward_input(p, r[0], r[1], &mut w[0]))
);
nn_kernel!(
    CONV2D_BACKWARD_WEIGHT,
    "conv2d_backward_weight",
    [b("input", R), b("gout", R), b("grads", W)],
    Groups(|p| p.c_out as u64 * p.c_in as u64 * p.k as u64 * p.k as u64 + p.c_out as u64),
    Twin::Plan(|p, r, w, _| cpu::conv2d_backward_weight(p, r[0], r[1], &mut w[0]))
);
nn_kernel!(
    RELU_BACKWARD,
    "relu_backward",
    [b("act", R), b("g", W)],
    Threads(|p| p.n as u64),
    Twin::Plan(|p, r, w, _| cpu::relu_backward(p, r[0], &mut w[0]))
);
nn_kernel!(
    DENSE_FORWARD,
    "dense_forward",
    [b("params", R), b("input", R), b("output", W)],
    Groups(|p| p.n_out as u64 * (p.batch as u64).div_ceil(DENSE_BATCH as u64)),
    Twin::Plan(|p, r, w, _| cpu::dense_forward(p, r[0], r[1], &mut w[0]))
);
nn_kernel!(
    DENSE_BACKWARD_INPUT,
    "dense_backward_input",
    [b("params", R), b("gout", R), b("gin", W)],
    Threads(|p| p.batch as u64 * p.n_in as u64),
    Twin::Plan(|p, r, w, _| cpu::dense_backward_input(p, r[0], r[1], &mut w[0]))
);
nn_kernel!(
    DENSE_BACKWARD_WEIGHT,
    "dense_backward_weight",
    [b("input", R), b("gout", R), b("grads", W)],
    Threads(|p| p.n_out as u64 * p.n_in as u64 + p.n_out as u64),
    Twin::Plan(|p, r, w, _| cpu::dense_backward_weight(p, r[0], r[1], &mut w[0]))
);
nn_kernel!(
    DROPOUT,
    "dropout",
    [b("x", W)],
    Threads(|p| p.n as u64),
    Twin::Plan(|p, _, w, _| cpu::dropout(p, &mut w[0]))
);
nn_kernel!(
    SOFTMAX_XENT,
    "softmax_xent",
    [
        b("logits", R),
        b("labels", R),
        b("loss", W),
        b("dlogits", W)
    ],
    Threads(|p| p.batch as u64),
    Twin::Plan(|p, r, w, labels| {
        let [loss, d] = w else { return };
        cpu::softmax_xent(p, r[0], labels, loss, d)
    })
);
nn_kernel!(
    ADAM,
    "adam",
    [b("grads", R), b("params", W), b("m", W), b("v", W)],
    Threads(|p| p.n as u64),
    Twin::Plan(|p, r, w, _| {
        let [params, m, v] = w else { return };
        cpu::adam(p, r[0], params, m, v)
    })
);
nn_kernel!(
    GRADCAM,
    "gradcam",
    [b("act", R), b("gact", R), b("maps", W)],
    Groups(|p| p.batch as u64),
    Twin::Plan(|p, r, w, _| cpu::gradcam(p, r[0], r[1], &mut w[0]))
);
nn_kernel!(
    MEAN_POOL,
    "mean_pool",
    [b("input", R), b("output", W)],
    Groups(|p| p.batch as u64 * p.c_in as u64),
    Twin::Plan(|p, r, w, _| cpu::mean_pool(p, r[0], &mut w[0]))
);
nn_kernel!(
    MEAN_POOL_BACKWARD,
    "mean_pool_backward",
    [b("gout", R), b("gin", W)],
    Threads(|p| p.batch as u64 * p.c_in as u64 * p.h as u64 * p.w as u64),
    Twin::Plan(|p, r, w, _| cpu::mean_pool_backward(p, r[0], &mut w[0]))
);
nn_kernel!(
    GATHER_AUGMENT,
    "gather_augment",
    [
        b("set_pos", R),
        b("set_labels", R),
        b("order", R),
        b("tf", R),
        b("out_pos", W),
        b("labels", W)
    ],
    Threads(|p| p.batch as u64 * p.n_part as u64),
    Twin::Host
);
nn_kernel!(
    STANDARDIZE,
    "standardize",
    [b("norm", R), b("x", W)],
    Threads(|p| p.n as u64),
    Twin::Plan(|p, r, w, _| cpu::standardize(p, r[0], &mut w[0]))
);
nn_kernel!(
    EPOCH_TALLY,
    "epoch_tally",
    [b("loss", R), b("logits", R), b("labels", R), b("tally", W)],
    Threads(|_| 1),
    Twin::Plan(|p, r, w, labels| cpu::epoch_tally(p, r[0], r[1], labels, &mut w[0]))
);
