//! The types every kernel declaration is made of, whatever its family: name, WGSL parts, bindings with their
//! access modes, host struct layouts, the family's WGSL constants and where the CPU twin lives. A leaf: it imports
//! nothing from the kernel families, which declare their kernels with these types (`md/kernels.rs`,
//! `nn/kernels.rs`, `gnn/kernels.rs`, `probe/mod.rs`) and add what only they need (the nn family's dispatch
//! rules and plan twins, the gnn family's workgroup counts); `registry.rs` gathers them.

/// What a kernel binding is, for explicit layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Binding {
    Uniform,
    /// A uniform bound at a per-dispatch offset: binding 0 of every kernel, the launch's parameter block in its
    /// slot of the device's parameter ring (`launch.rs`).
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

/// Kernels of one family share a parameter block, the prelude's constants and a folder (`family.dir()`, which
/// holds their declarations and, in `shaders/`, their WGSL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `MdParams` at binding 0 (md_crsd: `CrsdParams`), one workgroup per replica (md/gpu.rs, md/fire/gpu.rs).
    Md,
    /// `NnParams` at binding 0 (`nn::gpu`).
    Nn,
    /// `GnnParams` at binding 0 (`gnn::gpu`).
    Gnn,
    /// Measures the driver rather than computing (`probe`).
    Driver,
}

impl Family {
    /// The family's folder under `kernels/src`.
    pub fn dir(self) -> &'static str {
        match self {
            Family::Md => "md",
            Family::Nn => "nn",
            Family::Gnn => "gnn",
            Family::Driver => "probe",
        }
    }
}

/// A compute kernel: the file `<family>/shaders/<name>.wgsl`, the pipeline label and cache key `name`, and its
/// CPU twin.
pub struct Kernel {
    pub name: &'static str,
    pub family: Family,
    /// Shared parts first, the kernel's own file (with `main`) last; the family's prelude goes before them.
    pub parts: &'static [&'static str],
    /// Group 0, binding 0 (the parameter block, `Binding::UniformDynamic`) first.
    pub bindings: &'static [Bind],
    /// Host mirrors of the WGSL structs the kernel uses, binding 0's first.
    pub structs: &'static [fn() -> HostStruct],
    /// The CPU twin's path in this crate (the function that mirrors the shader).
    pub twin: &'static str,
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
