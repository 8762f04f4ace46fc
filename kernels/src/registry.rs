//! The one declaration of every compute kernel: its name, WGSL parts, bindings with their access modes, the host
//! mirrors of its structs, its dispatch rule and its CPU twin. Everything else is derived from `ALL`: the naga
//! checks (tests/shaders_validate.rs), the nn pipelines (nn/gpu.rs), the CPU plan executor (nn/cpu.rs `CpuExec`)
//! and the WGSL constants (the prelude prepended to every kernel's source).
//!
//! # How to add a kernel
//! 1. Write `shaders/<name>.wgsl` with its `main`; shared files (md_common.wgsl, nn_common.wgsl) come first in
//!    `parts`. Use the prelude's constants (`WG`, `MAX_CELLS`, `MAX_CHAIN`, `MAX_MAPS`, ...), never their values;
//!    a new constant goes into its family's list in [`Family::consts`].
//! 2. Write its CPU twin, the function `<name>` (nn/cpu.rs or md/cpu.rs), mirroring the shader.
//! 3. Declare `pub const <NAME>: Kernel = Kernel { .. }` below and list it in [`ALL`]: bindings in binding order
//!    with the WGSL variable names, `structs` the host mirrors (declared with [`wgsl_struct!`]) of the structs it
//!    reads, binding 0's first. A kernel of the nn family is then launched by `nn::gpu::NnGpu` and, with
//!    `Twin::Plan`, run by `nn::cpu::CpuExec`; nothing else needs an edit.
//! 4. Add `tests/<name>_should_match_cpu.rs` (GPU against the twin). `tests/shaders_validate.rs` checks the
//!    declaration against naga with no GPU: bindings, access modes, struct member names and offsets.

use crate::gpu::Binding;
use crate::md::{self, MdParams, PairParams, ReplicaState, SpeciesParams};
use crate::nn::{self, cpu, NnParams};
use crate::shaders;

/// A host struct as Rust lays it out: compared member by member with naga's layout of its WGSL twin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostStruct {
    pub name: &'static str,
    pub size: usize,
    /// (member name, byte offset) in declaration order.
    pub fields: Vec<(&'static str, usize)>,
}

/// Declares a `#[repr(C)]` host mirror of a WGSL struct (same name, same member names in the same order) and
/// gives it `host_layout()`, which the naga test compares with the WGSL layout.
#[macro_export]
macro_rules! wgsl_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        pub struct $name { $($(#[$fm])* pub $f: $t),* }
        impl $name {
            /// Name, size and member offsets as the host lays them out (checked against naga).
            pub fn host_layout() -> $crate::registry::HostStruct {
                $crate::registry::HostStruct {
                    name: stringify!($name),
                    size: ::std::mem::size_of::<$name>(),
                    fields: vec![$((stringify!($f), ::std::mem::offset_of!($name, $f))),*],
                }
            }
        }
    };
}

/// One binding of group 0: the WGSL variable's name and how the kernel may access it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bind {
    pub name: &'static str,
    pub access: Binding,
}

const fn b(name: &'static str, access: Binding) -> Bind {
    Bind { name, access }
}

/// Kernels of one family share a parameter block, a launcher and the prelude's constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// One workgroup per replica, launched by md/gpu.rs.
    Md,
    /// `NnParams` at binding 0, launched by `nn::gpu::NnGpu`.
    Nn,
    /// `GnnParams` at binding 0, launched by `gnn::gpu::run`.
    Gnn,
}

impl Family {
    /// The WGSL constants of this family, from the Rust constants they must equal.
    pub fn consts(self) -> &'static [(&'static str, u32)] {
        const MD: &[(&str, u32)] = &[
            ("WG", md::WG),
            ("MAX_CELLS", md::MAX_CELLS),
            ("MAX_CHAIN", md::MAX_CHAIN as u32),
            ("FAIL_NONFINITE", md::Failure::NonFinite.status()),
            ("FAIL_FORCE", md::Failure::AbsurdForce.status()),
            ("FIRE_RUNNING", md::fire::RUNNING),
            ("FIRE_CONVERGED", md::fire::CONVERGED),
            ("FIRE_FAILED", md::fire::FAILED),
        ];
        const NN: &[(&str, u32)] = &[
            ("WG", nn::WG),
            ("MAX_MAPS", nn::MAX_MAPS as u32),
            ("DENSE_BATCH", nn::DENSE_BATCH),
        ];
        const GNN: &[(&str, u32)] = &[("WG", crate::gnn::gpu::WG)];
        match self {
            Family::Md => MD,
            Family::Nn => NN,
            Family::Gnn => GNN,
        }
    }

    /// The WGSL prelude: one `const` per Rust constant, prepended to every kernel of the family.
    pub fn prelude(self) -> String {
        let mut s =
            String::from("// generated from the Rust constants (kernels/src/registry.rs)\n");
        for (name, v) in self.consts() {
            s.push_str(&format!("const {name}: u32 = {v}u;\n"));
        }
        s
    }
}

/// How many workgroups a launch takes.
#[derive(Clone, Copy)]
pub enum Dispatch {
    /// One invocation per item, `WG` to a workgroup.
    Threads(fn(&NnParams) -> u64),
    /// One workgroup per item.
    Groups(fn(&NnParams) -> u64),
    /// One workgroup per replica (`MdParams::n_replicas`).
    Replicas,
    /// Sized by the family's launcher from its own parameter block (`gnn::gpu::GnnKernel`).
    Launcher,
}

/// Read-only bindings after binding 0, in order (labels arrive as an empty slice: they are `labels`).
pub type Reads<'a> = [&'a [f64]];

/// The CPU twin of a kernel.
#[derive(Clone, Copy)]
pub enum Twin {
    /// Run by `nn::cpu::CpuExec` on an op's buffers: read-only bindings in `r`, read-write ones in `w` (each in
    /// binding order), the class labels in the last argument.
    Plan(fn(&NnParams, &Reads, &mut [Vec<f64>], &[u32])),
    /// Called by the kernel's own host code: the twin's path in this crate.
    Host(&'static str),
}

/// A compute kernel: the file `shaders/<name>.wgsl`, the pipeline label `name`, and its twin.
pub struct Kernel {
    pub name: &'static str,
    pub family: Family,
    /// Shared parts first, the kernel's own file (with `main`) last; the family's prelude goes before them.
    pub parts: &'static [&'static str],
    /// Group 0, binding 0 first.
    pub bindings: &'static [Bind],
    /// Host mirrors of the WGSL structs the kernel uses, binding 0's first.
    pub structs: &'static [fn() -> HostStruct],
    pub dispatch: Dispatch,
    pub twin: Twin,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Kernel {
    /// The access modes of the bindings, in order (for explicit bind-group layouts).
    pub fn access(&self) -> Vec<Binding> {
        self.bindings.iter().map(|b| b.access).collect()
    }

    /// Workgroups for parameters `p` (nn family), before any spill into a second dimension.
    pub fn workgroups(&self, p: &NnParams) -> u64 {
        match self.dispatch {
            Dispatch::Threads(items) => items(p).div_ceil(nn::WG as u64),
            Dispatch::Groups(items) => items(p),
            Dispatch::Replicas | Dispatch::Launcher => 0,
        }
    }
}

use Binding::{Read as R, ReadWrite as W, UniformDynamic as U};

/// The bindings of md_common.wgsl, shared by every MD kernel.
pub const MD_BINDINGS: &[Bind] = &[
    b("P", U),
    b("pairs", R),
    b("sp", R),
    b("species", R),
    b("pos", W),
    b("vel", W),
    b("force", W),
    b("pe", W),
    b("img", W),
    b("xref", W),
    b("cells", W),
    b("nbr", W),
    b("nn", W),
    b("state", W),
    b("overflow", W),
];

const MD_STRUCTS: &[fn() -> HostStruct] = &[
    MdParams::host_layout,
    PairParams::host_layout,
    SpeciesParams::host_layout,
    ReplicaState::host_layout,
];
const NN_STRUCTS: &[fn() -> HostStruct] = &[NnParams::host_layout];

pub const MD_FORCES: Kernel = Kernel {
    name: "md_forces",
    family: Family::Md,
    parts: &[
        shaders::MD_COMMON,
        include_str!("../../shaders/md_forces.wgsl"),
    ],
    bindings: MD_BINDINGS,
    structs: MD_STRUCTS,
    dispatch: Dispatch::Replicas,
    twin: Twin::Host("md::cpu::md_forces"),
};

pub const MD_STEP: Kernel = Kernel {
    name: "md_step",
    family: Family::Md,
    parts: &[
        shaders::MD_COMMON,
        include_str!("../../shaders/md_step.wgsl"),
    ],
    bindings: MD_BINDINGS,
    structs: MD_STRUCTS,
    dispatch: Dispatch::Replicas,
    twin: Twin::Host("md::cpu::md_step"),
};

/// md_common's bindings, then md_fire's FIRE parameters and per-replica state.
pub const MD_FIRE_BINDINGS: &[Bind] = &[
    b("P", U),
    b("pairs", R),
    b("sp", R),
    b("species", R),
    b("pos", W),
    b("vel", W),
    b("force", W),
    b("pe", W),
    b("img", W),
    b("xref", W),
    b("cells", W),
    b("nbr", W),
    b("nn", W),
    b("state", W),
    b("overflow", W),
    b("FP", Binding::Uniform),
    b("fire", W),
];

pub const MD_FIRE: Kernel = Kernel {
    name: "md_fire",
    family: Family::Md,
    parts: &[
        shaders::MD_COMMON,
        include_str!("../../shaders/md_fire.wgsl"),
    ],
    bindings: MD_FIRE_BINDINGS,
    structs: &[
        MdParams::host_layout,
        PairParams::host_layout,
        SpeciesParams::host_layout,
        ReplicaState::host_layout,
        md::fire::FireParams::host_layout,
        md::fire::FireState::host_layout,
    ],
    dispatch: Dispatch::Replicas,
    twin: Twin::Host("md::fire::cpu::md_fire"),
};

macro_rules! nn_kernel {
    ($id:ident, $name:literal, [$($bind:expr),*], $dispatch:expr, $twin:expr) => {
        pub const $id: Kernel = Kernel {
            name: $name,
            family: Family::Nn,
            parts: &[
                shaders::NN_COMMON,
                include_str!(concat!("../../shaders/", $name, ".wgsl")),
            ],
            bindings: &[b("P", U), $($bind),*],
            structs: NN_STRUCTS,
            dispatch: $dispatch,
            twin: $twin,
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
    Twin::Host("nn::cpu::gridize_bin")
);
nn_kernel!(
    GRIDIZE,
    "gridize",
    [b("bin_end", R), b("binned", R), b("out", W)],
    Threads(|p| p.batch as u64 * p.n_species as u64 * p.h as u64 * p.h as u64),
    Twin::Host("nn::cpu::gridize")
);
nn_kernel!(
    GRID_SAMPLE,
    "grid_sample",
    [b("field", R), b("pos", R), b("out", W)],
    Threads(|p| p.batch as u64 * p.n_part as u64),
    Twin::Host("nn::cpu::grid_sample")
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
    Groups(|p| p.n_out as u64 * (p.batch as u64).div_ceil(nn::DENSE_BATCH as u64)),
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

macro_rules! gnn_kernel {
    ($id:ident, $name:literal, [$($bind:expr),*]) => {
        pub const $id: Kernel = Kernel {
            name: $name,
            family: Family::Gnn,
            parts: &[
                shaders::GNN_COMMON,
                include_str!(concat!("../../shaders/", $name, ".wgsl")),
            ],
            bindings: &[b("P", Binding::Uniform), $($bind),*],
            structs: &[crate::gnn::gpu::GnnParams::host_layout],
            dispatch: Dispatch::Launcher,
            twin: Twin::Host(concat!("gnn::cpu::", $name)),
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

/// Every kernel of the project; tests check that every file in `shaders/` belongs to one of these.
pub const ALL: &[&Kernel] = &[
    &MD_FORCES,
    &MD_STEP,
    &MD_FIRE,
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
    &GNN_SEGMENT_SUM,
    &GNN_REVERSE_SUB,
    &GNN_SEGMENT_SOFTMAX,
    &GNN_SEGMENT_MEAN,
];

/// The kernel called `name`.
pub fn find(name: &str) -> Option<&'static Kernel> {
    ALL.iter().copied().find(|k| k.name == name)
}
