//! The declarations of the md family's kernels (see `registry.rs`, "How to add a kernel"): bindings, host
//! structs and twin of each (the plain f64 reference, `md::reference`, and FIRE's iteration on it), and the
//! family's WGSL constants. Launched by md/gpu.rs and md/fire/gpu.rs, one workgroup per replica.

use super::fire;
use super::{
    CrsdParams, Failure, MdParams, PairForm, PairParams, ReplicaState, SpeciesParams, MAX_CELLS,
    MAX_CHAIN, WG,
};
use crate::kernel::bind as b;
use crate::kernel::Binding::{self, Read as R, ReadWrite as W, UniformDynamic as U};
use crate::kernel::{Bind, Family, HostStruct, Kernel};
use crate::shaders;

/// The WGSL constants of every md kernel's prelude, from the Rust constants they must equal.
pub const CONSTS: &[(&str, u32)] = &[
    ("WG", WG),
    ("MAX_CELLS", MAX_CELLS),
    ("MAX_CHAIN", MAX_CHAIN as u32),
    ("FAIL_NONFINITE", Failure::NonFinite.status()),
    ("FAIL_FORCE", Failure::AbsurdForce.status()),
    ("PAIR_LJ_SMOOTH_LINEAR", PairForm::CODE_LJ_SMOOTH_LINEAR),
    ("PAIR_LJ_POLY", PairForm::CODE_LJ_POLY),
    ("FIRE_RUNNING", fire::RUNNING),
    ("FIRE_CONVERGED", fire::CONVERGED),
    ("FIRE_FAILED", fire::FAILED),
];

/// The bindings of md_common.wgsl, shared by every MD kernel, followed by a kernel's own (`$extra`).
macro_rules! md_bindings {
    ($($extra:expr),* $(,)?) => {
        &[
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
            $($extra),*
        ]
    };
}

/// The host structs of md_common.wgsl, followed by a kernel's own (`$extra`).
macro_rules! md_structs {
    ($($extra:expr),* $(,)?) => {
        &[
            MdParams::host_layout,
            PairParams::host_layout,
            SpeciesParams::host_layout,
            ReplicaState::host_layout,
            $($extra),*
        ]
    };
}

/// The bindings of md_common.wgsl, shared by every MD kernel.
pub const MD_BINDINGS: &[Bind] = md_bindings!();

const MD_STRUCTS: &[fn() -> HostStruct] = md_structs!();

pub const MD_FORCES: Kernel = Kernel {
    name: "md_forces",
    family: Family::Md,
    parts: &[shaders::MD_COMMON, include_str!("shaders/md_forces.wgsl")],
    bindings: MD_BINDINGS,
    structs: MD_STRUCTS,
    consts: CONSTS,
    twin: "md::reference::md_forces",
};

pub const MD_STEP: Kernel = Kernel {
    name: "md_step",
    family: Family::Md,
    parts: &[shaders::MD_COMMON, include_str!("shaders/md_step.wgsl")],
    bindings: MD_BINDINGS,
    structs: MD_STRUCTS,
    consts: CONSTS,
    twin: "md::reference::md_step",
};

/// md_common's bindings, then md_fire's FIRE parameters and per-replica state.
pub const MD_FIRE_BINDINGS: &[Bind] = md_bindings!(b("FP", Binding::Uniform), b("fire", W));

pub const MD_FIRE: Kernel = Kernel {
    name: "md_fire",
    family: Family::Md,
    parts: &[shaders::MD_COMMON, include_str!("shaders/md_fire.wgsl")],
    bindings: MD_FIRE_BINDINGS,
    structs: md_structs!(fire::FireParams::host_layout, fire::FireState::host_layout),
    consts: CONSTS,
    twin: "md::fire::cpu::md_fire",
};

pub const MD_CRSD: Kernel = Kernel {
    name: "md_crsd",
    family: Family::Md,
    parts: &[include_str!("shaders/md_crsd.wgsl")],
    bindings: &[
        b("C", U),
        b("pos", R),
        b("img", R),
        b("pos0", R),
        b("cage_end", R),
        b("cage", R),
        b("out", W),
    ],
    structs: &[CrsdParams::host_layout],
    consts: CONSTS,
    twin: "md::reference::md_crsd",
};
