//! The types every kernel declaration is made of: bindings, host struct layouts, family, dispatch rule and CPU
//! twin, and `NnParams`, the parameter block that nn dispatch rules and twins take. A leaf: it imports nothing
//! from the kernel families, which declare their kernels with these types (`md/kernels.rs`, `nn/kernels.rs`,
//! `gnn/kernels.rs`); `registry.rs` gathers them.

use bytemuck::{Pod, Zeroable};

/// What a kernel binding is, for explicit layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    Uniform,
    /// A uniform bound at a per-dispatch offset (one slot of an array of parameter blocks).
    UniformDynamic,
    Read,
    ReadWrite,
}

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
            pub fn host_layout() -> $crate::kernel::HostStruct {
                $crate::kernel::HostStruct {
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

/// A binding named `name` (the WGSL variable) with access `access`.
pub const fn bind(name: &'static str, access: Binding) -> Bind {
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
    /// Measures the driver rather than computing (`probe.rs`).
    Driver,
}

// mirrors shaders/nn_common.wgsl `NnParams` (checked member by member against naga: tests/shaders_validate.rs)
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
    /// The family's WGSL constants (name, value), from the Rust constants they must equal: the prelude.
    pub consts: &'static [(&'static str, u32)],
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

    /// The WGSL prelude: one `const` per entry of `consts`, prepended to the kernel's parts.
    pub fn prelude(&self) -> String {
        let mut s = String::from(
            "// generated from the Rust constants (kernels/src/<family>/kernels.rs)\n",
        );
        for (name, v) in self.consts {
            s.push_str(&format!("const {name}: u32 = {v}u;\n"));
        }
        s
    }
}
