//! Kernel `loop_probe`: measures whether the driver ends shader loops early. Mesa 22.3's lavapipe counts every loop
//! trip of an invocation against one total of 65535 and, once that is spent, leaves every loop after its current
//! pass without a word; launchers whose kernels loop longer (the MD family) size their dispatches by the total
//! this probe finds (`GpuContext::loop_budget`).

use bytemuck::{Pod, Zeroable};

use crate::kernel::bind as b;
use crate::kernel::Binding::{ReadWrite as W, UniformDynamic as U};
use crate::kernel::{Family, Kernel};

/// Trips the probe asks for: more than any MD dispatch loops at the sizes it is sized for, so a driver that
/// completes them has no limit that matters here.
pub const PROBE_TRIPS: u32 = 1 << 20;

// mirrors probe/shaders/loop_probe.wgsl `ProbeParams` (checked member by member against naga: the kernel tests'
// `shaders` module)
crate::wgsl_struct! {
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct ProbeParams {
    pub trips: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}
}

pub const LOOP_PROBE: Kernel = Kernel {
    name: "loop_probe",
    family: Family::Driver,
    parts: &[include_str!("shaders/loop_probe.wgsl")],
    bindings: &[b("P", U), b("out", W)],
    structs: &[ProbeParams::host_layout],
    consts: &[],
    twin: "probe::loop_probe",
};

/// CPU twin of `loop_probe`: a conforming loop runs every trip.
pub fn loop_probe(trips: u32) -> u32 {
    trips
}
